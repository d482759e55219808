r"""Monte Carlo simulation of a portfolio's value, and statistics of value paths.

Models
------
``"gbm"``
    Every asset price is a geometric Brownian motion with annual drift :math:`\mu_i` and annual
    covariance :math:`\Sigma`: with :math:`\Delta = 1/p` (``periods_per_year`` = 252) the daily
    log-returns are :math:`x_t = (\mu - \tfrac12 \mathrm{diag}\,\Sigma)\Delta + A z_t
    \sqrt\Delta` with :math:`z_t \sim N(0, I)` and :math:`A A^\top = \Sigma` (from the
    eigendecomposition, so singular :math:`\Sigma` is allowed), hence
    :math:`E[S_{i,T}] = S_{i,0} e^{\mu_i T}`.
``"bootstrap"``
    Politis & Romano's stationary bootstrap of the rows (days) of ``historical_returns``:
    each day starts a new block at a uniformly drawn row with probability ``1/block_size``,
    otherwise takes the row after the previous one (wrapping around), so blocks have
    geometric lengths with mean ``block_size`` and cross-asset and short-range serial
    dependence are kept. ``block_size=1`` is the i.i.d. bootstrap. ``mu`` and ``cov`` are not
    used. Rows with a NaN are dropped.

Portfolio
---------
The portfolio starts at ``initial_value`` split by ``weights``. Each day every holding grows by
its asset's gross return. At the end of every month (21 trading days) ``contribution`` is added
and invested at ``weights``; a negative contribution is a withdrawal, taken pro rata from the
holdings and capped at the portfolio's value. Then, on rebalancing days (every 1, 21, 63 or
252 days for daily, monthly, quarterly, annually; never for ``"none"``) the holdings are reset
to ``weights``. A path whose value reaches zero or below is ruined: its value stays 0.

Statistics
----------
``horizon return`` :math:`R = (V_T - V_0 - F)/V_0` with :math:`F` the net contributions
actually made, i.e. profit over the money put in, relative to the initial value (the plain
:math:`V_T/V_0 - 1` without contributions). VaR at confidence :math:`c` is
:math:`-q_{1-c}(R)`, CVaR (expected shortfall) is :math:`-E[R \mid R \le q_{1-c}(R)]`, both as
fractions of the initial value (positive numbers are losses). ``prob_loss`` is
:math:`P(R < 0)`. The maximum drawdown is measured on the time-weighted return index (the
value with contributions taken out), so deposits do not hide falls. Terminal values, returns
and drawdowns are kept per path, so their statistics are exact.

Chunks, memory and reproducibility
----------------------------------
Paths are simulated in chunks whose size depends only on N and the horizon. Chunk ``k`` draws
from its own generator ``numpy.random.Generator(PCG64(SeedSequence(seed).spawn(...)[k]))``, so
the same ``seed`` gives identical numbers however many threads run the chunks (up to
``max_workers``, which default to the CPU count, at most 4). Per-day fan-chart bands are exact
(percentiles of every path's value on every day) while ``n_paths × (horizon_days + 1)``
values fit ``max_band_memory_bytes`` (256 MiB: 100,000 paths × 252 days fits); beyond that they
are approximated by per-day fixed-bin histograms (4096 bins spanning three times the first
chunk's range that day, error at most one bin width; ``bands_exact`` is then False). The
working memory otherwise is O(chunk × (N + horizon)) plus three floats per path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compute import _path_statistics
from compute._validation import (
    as_float_array,
    check_covariance,
    clean_returns,
    positive_int,
    positive_number,
    psd_factor,
    require_finite,
    vector_of_length,
)
from compute.choices import RebalanceFrequency, SimulationMethod
from compute.exceptions import InvalidInputError

__all__ = [
    "RebalanceFrequency",
    "SimulationMethod",
    "SimulationResult",
    "analyze",
    "simulate",
]

FloatArray = NDArray[np.float64]

TRADING_DAYS_PER_MONTH = 21
_REBALANCE_PERIOD_DAYS: dict[str, int | None] = {
    "none": None,
    "daily": 1,
    "monthly": TRADING_DAYS_PER_MONTH,
    "quarterly": 3 * TRADING_DAYS_PER_MONTH,
    "annually": 12 * TRADING_DAYS_PER_MONTH,
}
DEFAULT_BAND_LEVELS: tuple[int, ...] = (5, 25, 50, 75, 95)
DEFAULT_MAX_BAND_MEMORY_BYTES = 256 * 2**20
# Kept paths need all values in memory whatever the budget; refuse beyond this.
_MAX_KEPT_PATH_BYTES = 2 * 2**30
# Chunk sizing: each per-day array holds about this many floats, the chunk's value matrix
# about 4x as many.
_CHUNK_ELEMENTS = 2**19
_MAX_CHUNK_PATHS = 8192
_MIN_CHUNK_PATHS = 64
_WEIGHT_SUM_TOLERANCE = 1e-6
# OpenBLAS runs a product on one thread when M·N·K <= 4 · 65536. The correlating product is
# done in row blocks under that size: multi-threaded OpenBLAS on these tall, thin products was
# 3-4x slower than one thread on the 2-core benchmark machine, and the chunk threads already
# keep every core busy.
_BLAS_SINGLE_THREAD_FLOPS = 4 * 65536


@dataclass(frozen=True)
class SimulationResult:
    """Statistics of simulated (or given) portfolio value paths.

    Attributes
    ----------
    n_paths, horizon_days
        Paths and days per path (each path has ``horizon_days + 1`` values, day 0 first).
    method, rebalance
        How the paths were produced (``"given"`` / ``"n/a"`` from :func:`analyze`).
    initial_value
        Starting value (the mean starting value for :func:`analyze`).
    terminal_mean, terminal_median
        Mean and median of the terminal value.
    terminal_percentiles
        Percentile (1, 5, 25, 50, 75, 95, 99) -> terminal value.
    horizon_return_mean
        Mean horizon return (see the module docstring).
    var_95, cvar_95, var_99, cvar_99
        Value at risk and conditional VaR of the horizon return at 95 % and 99 %, as positive
        fractions of the initial value for losses.
    prob_loss
        Probability that the horizon return is negative.
    max_drawdown_mean, max_drawdown_percentiles
        Mean and percentiles (5, 25, 50, 75, 95) of each path's maximum drawdown (a fraction).
    band_levels
        Percentile levels of :attr:`bands`.
    bands
        len(band_levels) × (horizon_days + 1): the value percentiles across paths on each day
        (the fan chart).
    bands_exact
        False when the bands came from the streaming histogram approximation.
    paths
        n_paths × (horizon_days + 1) values when ``keep_paths`` (or from :func:`analyze`);
        otherwise None.
    seed_entropy
        The root seed's entropy: passing it as ``seed`` reproduces the run (None for
        :func:`analyze`).
    """

    n_paths: int
    horizon_days: int
    method: str
    rebalance: str
    initial_value: float
    terminal_mean: float
    terminal_median: float
    terminal_percentiles: dict[int, float]
    horizon_return_mean: float
    var_95: float
    cvar_95: float
    var_99: float
    cvar_99: float
    prob_loss: float
    max_drawdown_mean: float
    max_drawdown_percentiles: dict[int, float]
    band_levels: tuple[float, ...]
    bands: FloatArray
    bands_exact: bool
    paths: FloatArray | None
    seed_entropy: int | None

    def to_dict(self, include_paths: bool = True) -> dict[str, Any]:
        """JSON-safe representation, field by field: floats, ints, strings, lists; percentile
        keys and the seed's entropy (beyond JSON's safe integers) as strings."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "paths":
                value = value if include_paths else None
            out[item.name] = _json_safe(value)
        if self.seed_entropy is not None:
            out["seed_entropy"] = str(self.seed_entropy)
        return out


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.floating | np.integer | np.bool_):
        return value.item()
    return value


@dataclass(frozen=True)
class _Model:
    """Everything a chunk worker needs; read-only and shared between threads."""

    weights: FloatArray
    horizon: int
    method: str
    drift: FloatArray  # gbm: daily log drift
    factor_t: FloatArray  # gbm: (A sqrt(dt))', so z @ factor_t has covariance Σ dt
    gross_history: FloatArray  # bootstrap: 1 + historical returns
    restart_probability: float
    rebalance_period: int | None
    initial_value: float
    contribution: float


# The positional order is the public signature other packages call (issue 3).
def simulate(  # noqa: PLR0917
    weights: Any,
    mu: Any,
    cov: Any,
    horizon_days: int = 252,
    n_paths: int = 10_000,
    seed: int | None = None,
    method: SimulationMethod = "gbm",
    historical_returns: Any = None,
    block_size: int = 20,
    rebalance: RebalanceFrequency = "none",
    initial_value: float = 1.0,
    contribution: float = 0.0,
    keep_paths: bool = False,
    *,
    periods_per_year: float = 252,
    band_levels: Sequence[float] = DEFAULT_BAND_LEVELS,
    max_band_memory_bytes: int = DEFAULT_MAX_BAND_MEMORY_BYTES,
    max_workers: int | None = None,
) -> SimulationResult:
    """Simulate ``n_paths`` daily value paths of a portfolio; see the module docstring.

    Parameters
    ----------
    weights
        N portfolio weights summing to one (negative weights are short positions).
    mu, cov
        Annual drifts (N) and annual covariance (N×N, positive semi-definite) for ``"gbm"``;
        ignored (may be None) for ``"bootstrap"``.
    horizon_days
        Trading days to simulate.
    n_paths
        Number of paths.
    seed
        Seed of the root ``SeedSequence``; the same seed gives identical results.
    method
        ``"gbm"`` or ``"bootstrap"``.
    historical_returns
        T×N simple daily returns for ``"bootstrap"``.
    block_size
        Mean block length of the stationary bootstrap.
    rebalance
        ``"none"`` (buy and hold), ``"daily"``, ``"monthly"``, ``"quarterly"``, ``"annually"``.
    initial_value
        Starting portfolio value (> 0).
    contribution
        Added every 21 trading days (negative: withdrawn).
    keep_paths
        Return every path in :attr:`SimulationResult.paths` (memory: 8 bytes × n_paths ×
        (horizon_days + 1)).
    periods_per_year
        Trading days per year, the unit of ``mu`` and ``cov``.
    band_levels
        Percentile levels of the fan-chart bands, each in [0, 100].
    max_band_memory_bytes
        Memory allowed for storing every daily value for exact bands.
    max_workers
        Threads running chunks (default: CPU count, at most 4); does not change the results.

    Raises
    ------
    InvalidInputError
        Mismatched shapes, non-finite values, weights not summing to one, bad options.
    NotPositiveDefiniteError
        ``cov`` is not positive semi-definite.
    """
    horizon = positive_int(horizon_days, "horizon_days")
    count = positive_int(n_paths, "n_paths")
    start_value = positive_number(initial_value, "initial_value")
    flow = float(contribution)
    if not math.isfinite(flow):
        raise InvalidInputError(f"contribution must be finite, got {contribution!r}")
    if rebalance not in _REBALANCE_PERIOD_DAYS:
        raise InvalidInputError(
            f"rebalance must be one of {tuple(_REBALANCE_PERIOD_DAYS)}, got {rebalance!r}"
        )
    levels = _band_levels(band_levels)
    day_fraction = 1.0 / positive_number(periods_per_year, "periods_per_year")
    weight_vector = as_float_array(weights, "weights", 1)
    n_assets = weight_vector.shape[0]
    if n_assets < 2:
        raise InvalidInputError(f"weights needs at least 2 assets, got {n_assets}")
    require_finite(weight_vector, "weights")
    if abs(float(weight_vector.sum()) - 1.0) > _WEIGHT_SUM_TOLERANCE:
        raise InvalidInputError(f"weights must sum to 1, got {float(weight_vector.sum()):.8g}")

    drift = np.zeros(n_assets)
    factor_t = np.zeros((n_assets, n_assets))
    gross_history = np.ones((1, n_assets))
    restart_probability = 1.0
    if method == "gbm":
        covariance = check_covariance(cov)
        if covariance.shape[0] != n_assets:
            raise InvalidInputError(
                f"cov is {covariance.shape[0]}×{covariance.shape[0]} but weights has "
                f"{n_assets} assets"
            )
        drift_rate = vector_of_length(mu, "mu", n_assets)
        drift = (drift_rate - 0.5 * np.diag(covariance)) * day_fraction
        factor_t = np.ascontiguousarray((psd_factor(covariance) * math.sqrt(day_fraction)).T)
    elif method == "bootstrap":
        if historical_returns is None:
            raise InvalidInputError("method='bootstrap' needs historical_returns")
        history = clean_returns(historical_returns, "historical_returns")
        if history.shape[1] != n_assets:
            raise InvalidInputError(
                f"historical_returns has {history.shape[1]} assets but weights has {n_assets}"
            )
        if np.any(history < -1.0):
            raise InvalidInputError("historical_returns has returns below -1 (losses over 100%)")
        gross_history = 1.0 + history
        restart_probability = 1.0 / positive_int(block_size, "block_size")
    else:
        raise InvalidInputError(f"method must be 'gbm' or 'bootstrap', got {method!r}")

    stored_bytes = 8 * count * (horizon + 1)
    if keep_paths and stored_bytes > _MAX_KEPT_PATH_BYTES:
        raise InvalidInputError(
            f"keep_paths would need {stored_bytes / 2**30:.1f} GiB; reduce n_paths or "
            "horizon_days, or leave keep_paths off (statistics and bands need no stored paths)"
        )
    budget = positive_int(max_band_memory_bytes, "max_band_memory_bytes", minimum=0)
    statistics = _path_statistics.PathStatistics(
        count, horizon, levels, exact_bands=keep_paths or stored_bytes <= budget
    )
    model = _Model(
        weights=weight_vector.copy(),
        horizon=horizon,
        method=method,
        drift=drift,
        factor_t=factor_t,
        gross_history=gross_history,
        restart_probability=restart_probability,
        rebalance_period=_REBALANCE_PERIOD_DAYS[rebalance],
        initial_value=start_value,
        contribution=flow,
    )
    root = np.random.SeedSequence(seed)
    chunk = _chunk_paths(n_assets, horizon)
    starts = list(range(0, count, chunk))
    chunk_seeds = root.spawn(len(starts))
    workers = _worker_count(max_workers, len(starts))

    def run(index: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        size = min(chunk, count - starts[index])
        generator = np.random.Generator(np.random.PCG64(chunk_seeds[index]))
        return _simulate_chunk(model, size, generator)

    if workers == 1:
        for index, start in enumerate(starts):
            statistics.add(start, *run(index))
    else:
        # Results are added in chunk order (the histogram range comes from chunk 0) with at
        # most 2 × workers chunks in flight, which bounds memory.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: list[tuple[int, Future[tuple[FloatArray, FloatArray, FloatArray]]]] = []
            for index, start in enumerate(starts):
                pending.append((start, pool.submit(run, index)))
                if len(pending) >= 2 * workers:
                    first_start, future = pending.pop(0)
                    statistics.add(first_start, *future.result())
            for first_start, future in pending:
                statistics.add(first_start, *future.result())

    summary = _path_statistics.summarise(statistics)
    return SimulationResult(
        n_paths=count,
        horizon_days=horizon,
        method=method,
        rebalance=rebalance,
        initial_value=start_value,
        bands=statistics.bands(),
        band_levels=tuple(levels),
        bands_exact=statistics.exact_bands,
        paths=statistics.paths if keep_paths else None,
        seed_entropy=int(root.entropy) if isinstance(root.entropy, int) else None,
        **summary,
    )


def analyze(paths: Any, band_levels: Sequence[float] = DEFAULT_BAND_LEVELS) -> SimulationResult:
    """The statistics of :func:`simulate` for given value paths.

    Parameters
    ----------
    paths
        n_paths × (T + 1) positive-start values, day 0 first, T >= 1. The horizon return of a
        path is ``V_T / V_0 - 1`` and its drawdown is measured on the values themselves.
    band_levels
        Percentile levels of the bands.

    Raises
    ------
    InvalidInputError
        Not 2-D, fewer than 2 values per path, non-finite values, or a start value <= 0.
    """
    values = as_float_array(paths, "paths", 2)
    if values.shape[0] < 1 or values.shape[1] < 2:
        raise InvalidInputError(
            f"paths must be n_paths × (T + 1) with T >= 1 and n_paths >= 1, got {values.shape}"
        )
    require_finite(values, "paths")
    if np.any(values[:, 0] <= 0.0):
        raise InvalidInputError("every path must start at a positive value")
    levels = _band_levels(band_levels)
    statistics = _path_statistics.PathStatistics(
        values.shape[0], values.shape[1] - 1, levels, exact_bands=True
    )
    statistics.add(
        0,
        values.T,
        values[:, -1] / values[:, 0] - 1.0,
        _path_statistics.max_drawdown(values),
    )
    summary = _path_statistics.summarise(statistics)
    return SimulationResult(
        n_paths=values.shape[0],
        horizon_days=values.shape[1] - 1,
        method="given",
        rebalance="n/a",
        initial_value=float(np.mean(values[:, 0])),
        bands=statistics.bands(),
        band_levels=tuple(levels),
        bands_exact=True,
        paths=values,
        seed_entropy=None,
        **summary,
    )


def _simulate_chunk(
    model: _Model, size: int, generator: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Simulate ``size`` paths; return day-major values ((horizon+1) × size), horizon returns
    and maximum drawdowns."""
    n_assets = model.weights.size
    weights = model.weights
    values = np.empty((model.horizon + 1, size))
    values[0] = model.initial_value
    holdings = np.outer(np.full(size, model.initial_value), weights)
    value = values[0].copy()
    net_flows = np.zeros(size)
    # Time-weighted index (value with contributions removed) for the drawdown.
    index = np.ones(size)
    peak = np.ones(size)
    drawdown = np.zeros(size)
    normals = np.empty((size, n_assets))
    gross = np.empty((size, n_assets))
    rows = np.empty(size, dtype=np.int64)
    if model.method == "bootstrap":
        rows[:] = generator.integers(0, model.gross_history.shape[0], size)
    blas_rows = max(1, _BLAS_SINGLE_THREAD_FLOPS // (n_assets * n_assets))
    period = model.rebalance_period
    history_length = model.gross_history.shape[0]
    for day in range(1, model.horizon + 1):
        if model.method == "gbm":
            generator.standard_normal(out=normals)
            for first in range(0, size, blas_rows):
                last = first + blas_rows
                np.matmul(normals[first:last], model.factor_t, out=gross[first:last])
            gross += model.drift
            np.exp(gross, out=gross)
        else:
            if day > 1:
                restart = generator.random(size) < model.restart_probability
                rows += 1
                rows[rows == history_length] = 0
                n_restart = int(np.count_nonzero(restart))
                if n_restart:
                    rows[restart] = generator.integers(0, history_length, n_restart)
            np.take(model.gross_history, rows, axis=0, out=gross)
        previous = value
        holdings *= gross
        value = holdings.sum(axis=1)
        ruined = value <= 0.0
        if np.any(ruined):
            value[ruined] = 0.0
            holdings[ruined] = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            index *= np.where(previous > 0.0, value / previous, 1.0)
        np.maximum(peak, index, out=peak)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.maximum(drawdown, np.where(peak > 0.0, 1.0 - index / peak, 0.0), out=drawdown)
        if model.contribution != 0.0 and day % TRADING_DAYS_PER_MONTH == 0:
            value, holdings = _apply_contribution(model, value, holdings, net_flows)
        if period is not None and day % period == 0:
            holdings = np.multiply.outer(value, weights)
        values[day] = value
    horizon_return = (value - model.initial_value - net_flows) / model.initial_value
    return values, horizon_return, drawdown


def _apply_contribution(
    model: _Model, value: FloatArray, holdings: FloatArray, net_flows: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Add the monthly contribution at target weights, or withdraw pro rata (capped)."""
    if model.contribution > 0.0:
        alive = value > 0.0
        holdings[alive] += model.contribution * model.weights
        net_flows[alive] += model.contribution
        return value + np.where(alive, model.contribution, 0.0), holdings
    withdrawal = np.minimum(-model.contribution, value)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(value > 0.0, (value - withdrawal) / value, 0.0)
    holdings *= keep[:, None]
    net_flows -= withdrawal
    return value - withdrawal, holdings


def _band_levels(levels: Sequence[float]) -> list[float]:
    result = [float(level) for level in levels]
    if not result or any(not 0.0 <= level <= 100.0 for level in result):
        raise InvalidInputError(f"band_levels must be percentiles in [0, 100], got {levels!r}")
    return result


def _chunk_paths(n_assets: int, horizon: int) -> int:
    """Paths per chunk: a function of N and the horizon only, so results never depend on the
    machine."""
    by_assets = _CHUNK_ELEMENTS // max(n_assets, 1)
    by_horizon = 4 * _CHUNK_ELEMENTS // (horizon + 1)
    return max(_MIN_CHUNK_PATHS, min(_MAX_CHUNK_PATHS, by_assets, by_horizon))


def _worker_count(max_workers: int | None, n_chunks: int) -> int:
    if max_workers is None:
        return max(1, min(os.cpu_count() or 1, 4, n_chunks))
    return max(1, min(positive_int(max_workers, "max_workers"), n_chunks))
