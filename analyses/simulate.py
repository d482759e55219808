"""Monte Carlo simulation of a portfolio's value, and the statistics of value paths.

:func:`compute.monte_carlo.simulate` draws correlated daily returns (geometric Brownian
motion with the run's drift and covariance, or a stationary block bootstrap of the run's
own days), compounds the weighted portfolio with the chosen rebalancing and contributions,
and summarises the paths: terminal-value percentiles, VaR/CVaR of the horizon return,
probability of loss, maximum drawdown, and percentile bands per day (the fan chart).
The statistics model and tables here are shared with ``analyze`` (given paths).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import Field

from analyses._common import OPTIMIZATION_WEIGHTS, Weights, by_ticker, estimates, weights_rows
from compute.choices import RebalanceFrequency, SimulationMethod
from core.analysis import (
    AS_OF,
    CREATED_AT,
    PORTFOLIO_ID,
    RUN_ID,
    RUN_TYPE,
    TENANT,
    Analysis,
    Column,
    DemoRun,
    Endpoint,
    ReportSection,
    ResultTable,
    Rows,
)
from core.exceptions import UnprocessableError
from core.models import FiniteFloat, ResultModel, ReturnsRequest, Ticker, Weight

__all__ = [
    "ANALYSIS",
    "MAX_KEPT_PATH_CELLS",
    "MAX_SIMULATION_CELLS",
    "SIMULATION_BANDS",
    "SIMULATION_PATHS",
    "SIMULATION_STATS",
    "SimulateRequest",
    "SimulationRunResult",
    "SimulationStatistics",
    "simulation_report",
    "simulation_rows",
    "statistics_of",
]

# paths × days × assets of one simulation: 100,000 paths × 252 days × 50 assets (the
# bench's case, ~13 s here) fits; more is refused with 422.
MAX_SIMULATION_CELLS: Final = 1_500_000_000
MAX_KEPT_PATH_CELLS: Final = 1_000_000  # paths × days a simulation may return as trajectories
# Percentiles of the statistics kept as columns (terminal value; maximum drawdown).
_TERMINAL_PERCENTILES: Final = (1, 5, 25, 50, 75, 95, 99)
_DRAWDOWN_PERCENTILES: Final = (50, 95)


class SimulateRequest(ReturnsRequest):
    weights: dict[Ticker, Weight] | None = Field(
        default=None, description="Weights to simulate; the portfolio's (or equal) if omitted."
    )
    horizon_days: int = Field(default=252, ge=1, le=2520)
    n_paths: int = Field(default=10_000, ge=100, le=200_000)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    method: SimulationMethod = "gbm"
    block_size: int = Field(default=20, ge=1, le=252)
    rebalance: RebalanceFrequency = "none"
    initial_value: FiniteFloat = Field(default=1.0, gt=0, le=1e12)
    contribution: FiniteFloat = Field(default=0.0, ge=-1e12, le=1e12)
    keep_paths: bool = False


class SimulationStatistics(ResultModel):
    """Statistics of simulated (or given) value paths (``compute.monte_carlo.SimulationResult``
    less the paths, whose field names these are)."""

    n_paths: int
    horizon_days: int
    method: str = Field(description="gbm, bootstrap, or given (analyze).")
    rebalance: str
    initial_value: float
    terminal_mean: float
    terminal_median: float
    terminal_percentiles: dict[str, float] = Field(description="Percentile → terminal value.")
    horizon_return_mean: float
    var_95: float = Field(description="95 % value at risk of the horizon return (a loss, > 0).")
    cvar_95: float
    var_99: float
    cvar_99: float
    prob_loss: float
    max_drawdown_mean: float
    max_drawdown_percentiles: dict[str, float]
    band_levels: list[float] = Field(description="Percentile levels of the fan chart's bands.")
    bands: list[list[float]] = Field(description="Level × day values of the bands.")
    bands_exact: bool
    seed_entropy: str | None = Field(description="Replays the simulation when given as seed.")


class SimulationRunResult(ResultModel):
    """``simulate`` (plan 5.3): the simulated weights, the statistics, and the value paths
    as ``trajectories`` when ``keepPaths`` asked for them."""

    weights: Weights
    statistics: SimulationStatistics
    trajectories: list[list[float]] | None = Field(
        default=None,
        description="One list of T+1 portfolio values per path (only with keepPaths).",
        exclude_if=lambda value: value is None,
    )
    trajectories_url: str | None = Field(
        default=None,
        description="When the kept paths are too large to inline (over 5 MB): a presigned "
        "link, valid 15 minutes, to the whole result as JSON (its `trajectories`).",
        exclude_if=lambda value: value is None,
    )


SIMULATION_STATS = ResultTable(
    "simulation_stats",
    "Run results: Monte Carlo statistics (terminal value, VaR/CVaR, drawdown), "
    "one row per simulate or analyze run.",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        RUN_TYPE,
        AS_OF,
        CREATED_AT,
        Column("n_paths", "bigint"),
        Column("horizon_days", "bigint"),
        Column("method", "string"),
        Column("initial_value", "double"),
        Column("terminal_mean", "double"),
        Column("terminal_median", "double"),
        *(Column(f"terminal_p{p}", "double", nullable=True) for p in _TERMINAL_PERCENTILES),
        Column("var_95", "double"),
        Column("cvar_95", "double"),
        Column("var_99", "double"),
        Column("cvar_99", "double"),
        Column("prob_loss", "double"),
        Column("max_drawdown_mean", "double"),
        *(Column(f"max_drawdown_p{p}", "double", nullable=True) for p in _DRAWDOWN_PERCENTILES),
    ),
)
SIMULATION_BANDS = ResultTable(
    "simulation_bands",
    "Run results: percentile bands (fan chart) of simulated values per day.",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        Column("day", "bigint"),
        Column("level", "double"),
        Column("value", "double"),
        AS_OF,
        CREATED_AT,
    ),
)
SIMULATION_PATHS = ResultTable(
    "simulation_paths",
    "Run results: simulated value paths, only for runs that asked to keep them.",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        Column("path", "bigint"),
        Column("day", "bigint"),
        Column("value", "double"),
    ),
)


def statistics_of(summary: Any) -> SimulationStatistics:
    """The API's statistics of a ``compute.monte_carlo.SimulationResult`` (paths left out)."""
    fields = summary.to_dict(include_paths=False)
    fields.pop("paths", None)
    return SimulationStatistics.model_validate(fields)


def _limits(request: SimulateRequest, assets: int) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    cells = request.n_paths * request.horizon_days * max(assets, 1)
    if cells > MAX_SIMULATION_CELLS:
        found.append(
            (
                f"Simulation too large: paths × days × assets = {cells:,} > "
                f"{MAX_SIMULATION_CELLS:,}.",
                "limit: paths x days x assets",
            )
        )
    if request.keep_paths and request.n_paths * request.horizon_days > MAX_KEPT_PATH_CELLS:
        found.append(
            (
                f"keepPaths is limited to paths × days ≤ {MAX_KEPT_PATH_CELLS:,}.",
                "limit: kept path cells",
            )
        )
    return found


def compute(request: SimulateRequest, inputs: Any, weights: Weights | None) -> SimulationRunResult:
    """Simulate the request's weights (else the portfolio's, else equal) over the horizon."""
    import numpy as np

    from compute.monte_carlo import simulate

    mu, cov = estimates(request, inputs.returns)
    tickers = inputs.tickers
    if request.weights:
        unknown = sorted(set(request.weights) - set(tickers))
        if unknown:
            raise UnprocessableError("weights name tickers not in the run.", unknown[:20])
        raw = np.array([request.weights.get(t, 0.0) for t in tickers])
    elif weights:
        raw = np.array([weights.get(t, 0.0) for t in tickers])
    else:
        raw = np.ones(len(tickers))
    if raw.sum() <= 0:
        raise UnprocessableError("Weights must not all be zero.")
    held = raw / raw.sum()
    sim = simulate(
        held,
        mu,
        cov,
        horizon_days=request.horizon_days,
        n_paths=request.n_paths,
        seed=request.seed,
        method=request.method,
        historical_returns=inputs.returns if request.method == "bootstrap" else None,
        block_size=request.block_size,
        rebalance=request.rebalance,
        initial_value=request.initial_value,
        contribution=request.contribution,
        keep_paths=request.keep_paths,
        periods_per_year=request.periods_per_year,
    )
    return SimulationRunResult(
        weights=by_ticker(tickers, held),
        statistics=statistics_of(sim),
        # Plan 5.3: the value paths are the result's ``trajectories``, one per path.
        trajectories=sim.paths.tolist() if request.keep_paths and sim.paths is not None else None,
    )


def simulation_rows(
    statistics: SimulationStatistics, trajectories: list[list[float]] | None
) -> Rows:
    """``simulation_stats`` (one row), ``simulation_bands`` and, when kept, the paths."""
    import numpy as np

    def percentile(values: dict[str, float], level: int) -> float | None:
        value = values.get(str(level))
        return None if value is None else float(value)

    s = statistics
    tables: Rows = {
        SIMULATION_STATS.name: {
            "n_paths": [s.n_paths],
            "horizon_days": [s.horizon_days],
            "method": [s.method],
            "initial_value": [s.initial_value],
            "terminal_mean": [s.terminal_mean],
            "terminal_median": [s.terminal_median],
            **{
                f"terminal_p{p}": [percentile(s.terminal_percentiles, p)]
                for p in _TERMINAL_PERCENTILES
            },
            "var_95": [s.var_95],
            "cvar_95": [s.cvar_95],
            "var_99": [s.var_99],
            "cvar_99": [s.cvar_99],
            "prob_loss": [s.prob_loss],
            "max_drawdown_mean": [s.max_drawdown_mean],
            **{
                f"max_drawdown_p{p}": [percentile(s.max_drawdown_percentiles, p)]
                for p in _DRAWDOWN_PERCENTILES
            },
        }
    }
    levels = np.asarray(s.band_levels, dtype=np.float64)
    bands = np.asarray(s.bands, dtype=np.float64)
    if levels.size and bands.size:
        bands = bands.reshape(levels.size, -1)  # level × day
        days = bands.shape[1]
        tables[SIMULATION_BANDS.name] = {
            "day": np.tile(np.arange(days, dtype=np.int64), levels.size),
            "level": np.repeat(levels, days),
            "value": bands.ravel(),
        }
    if trajectories:  # only when the run asked to keep them
        values = np.asarray(trajectories, dtype=np.float64)  # path × day
        n_paths, days = values.shape
        tables[SIMULATION_PATHS.name] = {
            "path": np.repeat(np.arange(n_paths, dtype=np.int64), days),
            "day": np.tile(np.arange(days, dtype=np.int64), n_paths),
            "value": values.ravel(),
        }
    return tables


def rows(result: SimulationRunResult) -> Rows:
    return {
        **weights_rows(result.weights, None),
        **simulation_rows(result.statistics, result.trajectories),
    }


def simulation_report(
    view: Any, result: Mapping[str, Any], own: Weights | None, tickers: list[str]
) -> None:
    """Fan chart, terminal-value distribution, drawdowns, statistics, weights."""
    from reports import charts
    from reports.page import Chart, Table, num, number, pct, weights_table

    stats = result["statistics"]
    initial = float(stats.get("initialValue") or 1.0)
    horizon = stats.get("horizonDays")
    levels, bands = stats.get("bandLevels") or [], stats.get("bands") or []
    paths = result.get("trajectories")
    if levels and bands:
        exact = stats.get("bandsExact", True)
        view.charts.append(
            Chart(
                "fan.png",
                "Fan chart",
                "Percentile bands of the portfolio value per day across "
                f"{num(stats.get('nPaths'))} paths"
                + (
                    f" ({min(len(paths), charts.MAX_SAMPLE_PATHS)} of the kept paths in grey)"
                    if paths
                    else ""
                )
                + ("." if exact else "; the daily bands are approximated from histograms."),
                lambda: charts.fan_chart(
                    levels, bands, initial, "Portfolio value over the horizon", paths
                ),
            )
        )
    percentiles = stats.get("terminalPercentiles") or {}
    var95, cvar95 = number(stats.get("var95")), number(stats.get("cvar95"))
    if var95 is not None and cvar95 is not None and (paths or percentiles):
        # VaR/CVaR are losses as fractions of the initial value, net of contributions. The
        # contributions' offset is read off the 5th terminal percentile (the VaR's own value).
        offset = 0.0
        if "5" in percentiles:
            offset = float(percentiles["5"]) - initial * (1 - var95)
        var_value, cvar_value = initial * (1 - var95) + offset, initial * (1 - cvar95) + offset
        terminal = [float(p[-1]) for p in paths] if paths else None
        caption = (
            f"Histogram of the {len(terminal):,} simulated terminal values"
            if terminal
            else "The simulation's paths were not kept, so this is not a histogram: the bars are "
            "the terminal-value percentiles the simulation reported"
        )
        view.charts.append(
            Chart(
                "terminal.png",
                "Terminal value",
                caption + f"; VaR 95% ({pct(var95)} loss, value {num(var_value)}) and CVaR 95% "
                f"({pct(cvar95)} loss, value {num(cvar_value)}) marked.",
                lambda: charts.terminal_chart(
                    initial,
                    var_value,
                    cvar_value,
                    "Terminal value distribution" if terminal else "Terminal value percentiles",
                    terminal_values=terminal,
                    percentiles=None if terminal else percentiles,
                ),
            )
        )
    drawdowns = stats.get("maxDrawdownPercentiles") or {}
    if drawdowns:
        view.charts.append(
            Chart(
                "drawdown.png",
                "Maximum drawdown",
                "Percentiles of each path's largest peak-to-trough fall over the horizon, with "
                "the mean.",
                lambda: charts.drawdown_chart(
                    drawdowns,
                    number(stats.get("maxDrawdownMean")),
                    "Maximum drawdown distribution",
                ),
            )
        )
    rows = [
        ("Paths", num(stats.get("nPaths"))),
        ("Horizon", f"{num(horizon)} trading days"),
        ("Method", str(stats.get("method", "–"))),
        ("Rebalancing", str(stats.get("rebalance", "–"))),
        ("Initial value", num(initial)),
        ("Mean terminal value", num(stats.get("terminalMean"))),
        ("Median terminal value", num(stats.get("terminalMedian"))),
        ("Mean horizon return", pct(stats.get("horizonReturnMean"))),
        ("VaR 95%", pct(stats.get("var95"))),
        ("CVaR 95%", pct(stats.get("cvar95"))),
        ("VaR 99%", pct(stats.get("var99"))),
        ("CVaR 99%", pct(stats.get("cvar99"))),
        ("Probability of loss", pct(stats.get("probLoss"))),
        ("Mean maximum drawdown", pct(stats.get("maxDrawdownMean"))),
    ]
    if stats.get("seedEntropy"):
        rows.append(("Seed", str(stats["seedEntropy"])))
    view.tables.append(
        Table(
            "Statistics",
            ["Statistic", "Value"],
            [list(r) for r in rows],
            "VaR and CVaR are losses as a share of the initial value.",
        )
    )
    if percentiles or drawdowns:
        keys = sorted(set(percentiles) | set(drawdowns), key=float)
        view.tables.append(
            Table(
                "Percentiles",
                ["Percentile", "Terminal value", "Maximum drawdown"],
                [[f"{float(k):g}th", num(percentiles.get(k)), pct(drawdowns.get(k))] for k in keys],
            )
        )
    if result.get("weights"):
        view.tables.append(
            weights_table(
                [("Simulated", result["weights"])] + ([("Portfolio", own)] if own else [])
            )
        )
    view.summary = {
        "VaR 95%": pct(stats.get("var95")),
        "CVaR 95%": pct(stats.get("cvar95")),
        "Probability of loss": pct(stats.get("probLoss")),
    }


def _demo_summary(result: Mapping[str, Any]) -> str:
    stats = result.get("statistics") or {}
    return (
        f"median terminal value {stats.get('terminalMedian', float('nan')):.3f}, "
        f"VaR95 {stats.get('var95', 0):.1%}, CVaR95 {stats.get('cvar95', 0):.1%}, "
        f"P(loss) {stats.get('probLoss', 0):.1%} (20,000 paths, 1 year, run async)"
    )


ANALYSIS = Analysis(
    name="simulate",
    label="Monte Carlo simulation",
    request=SimulateRequest,
    result=SimulationRunResult,
    endpoint=Endpoint(
        path="/monte-carlo/simulate",
        operation="Simulate",
        function="SimulationFunction",
        summary="Monte Carlo simulation of a portfolio",
        example={"nPaths": 1000, "horizonDays": 21, "seed": 7},
    ),
    compute=compute,
    tables=(OPTIMIZATION_WEIGHTS, SIMULATION_STATS, SIMULATION_BANDS, SIMULATION_PATHS),
    rows=rows,
    report=ReportSection(simulation_report, key_chart="fan.png"),
    default_parameters={"nPaths": 5000, "seed": 7},
    work=lambda request, assets: request.n_paths * request.horizon_days * max(assets, 1),
    limits=_limits,
    bulky=("trajectories",),
    linked="trajectories_url",
    demo=DemoRun(
        {"nPaths": 20_000, "horizonDays": 252, "seed": 42},
        respond_async=True,
        summary=_demo_summary,
    ),
)
