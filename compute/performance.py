r"""Performance statistics of one return series: the numbers and series of a tearsheet.

Every metric is the number QuantStats 0.0.86 returns from its function of the same name for the
same daily series, called directly as ``qs.stats.<name>(returns, rf=rf, periods=P)`` where the
function takes those parameters (``tests/unit/compute/test_compute_performance.py`` checks
this against stored QuantStats output). With :math:`r_t` the simple returns,
:math:`t = 1..T`, :math:`P` the periods per year, :math:`\bar x` a mean and :math:`s(x)` the
sample standard deviation (ddof = 1):

* risk-free rate per period :math:`r_f = (1 + R_f)^{1/P} - 1` for the annual rate :math:`R_f`,
  excess returns :math:`x_t = r_t - r_f` (QuantStats' ``to_excess_returns(rf, nperiods=P)``);
* equity :math:`E_t = \prod_{u \le t} (1 + r_u)` from a starting equity :math:`E_0 = 1`,
  drawdown :math:`D_t = E_t / \max(1, E_1, \dots, E_t) - 1 \le 0`;
* ``cagr`` :math:`= E_T^{P/T} - 1` (years = T / P observations, not calendar time; no
  :math:`R_f`), ``volatility`` :math:`= s(r)\sqrt P`,
  ``sharpe`` :math:`= \bar x / s(x) \cdot \sqrt P`,
  ``sortino`` :math:`= \bar x / \sqrt{\sum_{x_t < 0} x_t^2 / T} \cdot \sqrt P`,
  ``max_drawdown`` :math:`= \min_t D_t`, ``calmar`` = cagr / \|max_drawdown\|;
* ``value_at_risk`` :math:`= \bar r + z_{0.05}\, s(r)` and ``conditional_value_at_risk``
  :math:`= \bar r - s(r)\,\varphi(z_{0.05}) / 0.05` (normal, 95 %, one period; both are returns,
  negative for a loss, as QuantStats returns them);
* ``skew`` and ``kurtosis``: the bias-corrected sample skewness :math:`G_1` and excess kurtosis
  :math:`G_2` (pandas' ``Series.skew`` / ``Series.kurt``);
* ``best`` / ``worst``: the largest / smallest single-period return; ``win_rate``: the share of
  positive returns among the non-zero ones;
* with a benchmark :math:`b`: ``beta`` :math:`= \mathrm{cov}(r, b) / \mathrm{var}(b)`,
  ``alpha`` :math:`= (\bar r - \beta \bar b) P` (QuantStats' ``greeks``, no :math:`R_f`),
  ``tracking_error`` :math:`= s(r - b)\sqrt P`, ``information_ratio`` :math:`= \overline{r - b}
  / s(r - b)` (per period, *not* annualised, as QuantStats computes it), ``correlation``: the
  Pearson correlation of :math:`r` and :math:`b`. QuantStats 0.0.86 has no function named
  ``tracking_error`` or ``correlation``: those two are the standard definitions (the second is
  the "Correlation" of ``qs.reports.metrics``, pandas' ``Series.corr``).

Differences from QuantStats 0.0.86, all outside ordinary data:

* where QuantStats returns NaN or ±inf (a ratio whose denominator is zero) this module returns
  0.0 — the value QuantStats itself gives for the undefined ``information_ratio``, ``beta``,
  ``alpha`` and ``win_rate`` — so every metric is a finite float that JSON and Parquet can
  hold (see :func:`metrics`); compounding beyond the floating-point range is an error;
* a negative risk-free rate is applied (QuantStats only subtracts ``rf > 0``);
* the input is always returns (QuantStats reads a series with min >= 0 and max > 1 as prices);
* a drawdown spell starting on the first row is always reported by :func:`drawdown_periods`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from compute._validation import as_float_array, positive_int, positive_number, require_finite
from compute.choices import PERIODS, Period
from compute.exceptions import InvalidInputError

__all__ = [
    "BENCHMARK_METRICS",
    "METRICS",
    "VAR_CONFIDENCE",
    "DrawdownPeriod",
    "Period",
    "drawdown",
    "drawdown_periods",
    "metrics",
    "period_returns",
    "rolling_sharpe",
    "rolling_volatility",
]

FloatArray = NDArray[np.float64]

# The keys of metrics(), in order; the second group only with a benchmark.
METRICS: tuple[str, ...] = (
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "value_at_risk",
    "conditional_value_at_risk",
    "skew",
    "kurtosis",
    "best",
    "worst",
    "win_rate",
)
BENCHMARK_METRICS: tuple[str, ...] = (
    "beta",
    "alpha",
    "tracking_error",
    "information_ratio",
    "correlation",
)

# QuantStats' value_at_risk / conditional_value_at_risk defaults: 95 %, sigma multiplier 1.
VAR_CONFIDENCE = 0.95
_TAIL = 1.0 - VAR_CONFIDENCE


@functools.cache
def _normal_tail() -> tuple[float, float]:
    """z_{0.05} = norm.ppf(0.05) (scipy.stats.norm.ppf is scipy.special.ndtri) and the normal
    density there, written as scipy.stats.norm.pdf computes it. scipy is imported here, not
    with the module: the tearsheet's series (drawdowns, rolling ratios) are drawn by the
    render function, whose layers have numpy but not scipy."""
    import scipy.special

    z = float(scipy.special.ndtri(_TAIL))
    return z, math.exp(-(z**2) / 2.0) / math.sqrt(2.0 * math.pi)


# A standard deviation at most this fraction of the data's scale (the largest |value|) is
# rounding of a constant series, not risk: the ratio dividing by it is undefined. A constant
# series' computed standard deviation is ~1e-16 of its level, not exactly 0.
_FLAT = 1e-10


@dataclass(frozen=True)
class DrawdownPeriod:
    """One spell under water of :func:`drawdown_periods`, in rows of the returns.

    Attributes
    ----------
    start
        First row under water (drawdown < 0): the row of the first loss after the peak, as
        QuantStats' ``drawdown_details`` "start". The peak itself is the row before (or the
        starting equity 1 when ``start`` is 0).
    trough
        Row of the deepest drawdown of the spell (the first such row on a tie).
    recovery
        First row back at the peak (drawdown 0 again), or ``None`` if the series ends under
        water. QuantStats' "end" is the row before it (the last row under water).
    depth
        The deepest drawdown, equity / peak - 1, a negative fraction (-0.2 = 20 % below peak).
    length
        Rows under water: ``recovery - start``, or ``T - start`` when not recovered.
    """

    start: int
    trough: int
    recovery: int | None
    depth: float
    length: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (ints, a float and possibly ``None``)."""
        return {
            "start": self.start,
            "trough": self.trough,
            "recovery": self.recovery,
            "depth": self.depth,
            "length": self.length,
        }


def metrics(
    returns: Any,
    *,
    benchmark: Any = None,
    risk_free_rate: float = 0.0,
    periods_per_year: float = 252,
) -> dict[str, float]:
    r"""Performance metrics of a return series, each equal to QuantStats 0.0.86's.

    Parameters
    ----------
    returns
        1-D simple returns per period, at least 2 (every entry finite and >= -1).
    benchmark
        Optional 1-D benchmark returns of the same length (finite); adds the keys of
        :data:`BENCHMARK_METRICS`.
    risk_free_rate
        Annual rate :math:`R_f` (> -1), converted per period as
        :math:`(1 + R_f)^{1/P} - 1`; used by ``sharpe`` and ``sortino`` only, as in QuantStats
        (its ``cagr``, ``greeks`` and ``information_ratio`` ignore rf).
    periods_per_year
        :math:`P`, e.g. 252 for daily returns.

    Returns
    -------
    dict[str, float]
        The keys of :data:`METRICS` in order (then those of :data:`BENCHMARK_METRICS`), every
        value a finite float. Formulas (see the module docstring):
        ``cagr`` :math:`= \prod(1 + r)^{P/T} - 1`, ``volatility`` :math:`= s(r)\sqrt P`,
        ``sharpe`` :math:`= \bar x / s(x)\sqrt P`, ``sortino`` :math:`= \bar x /
        \sqrt{\sum_{x<0} x^2 / T}\,\sqrt P`, ``max_drawdown`` :math:`= \min_t D_t` (from a
        starting equity of 1, so a first-day loss counts), ``calmar`` = cagr / \|max
        drawdown\|, ``value_at_risk`` :math:`= \bar r + z_{0.05} s(r)`,
        ``conditional_value_at_risk`` :math:`= \bar r - s(r)\varphi(z_{0.05})/0.05`, ``skew``
        :math:`G_1`, ``kurtosis`` :math:`G_2` (excess), ``best`` / ``worst`` the extreme
        returns, ``win_rate`` = #(r > 0) / #(r != 0); ``beta`` = cov(r, b) / var(b),
        ``alpha`` :math:`= (\bar r - \beta\bar b)P`, ``tracking_error`` :math:`= s(r - b)\sqrt
        P`, ``information_ratio`` :math:`= \overline{r-b} / s(r-b)` (per period),
        ``correlation`` Pearson's.

    Undefined values are 0.0, never NaN or inf (QuantStats: NaN or ±inf unless noted):
    ``sharpe`` when the returns are constant; ``sortino`` when no excess return is negative;
    ``calmar`` when the maximum drawdown is 0; ``skew`` with fewer than 3 returns or constant
    returns, ``kurtosis`` with fewer than 4 or constant returns (pandas: NaN); ``win_rate``
    when every return is 0 (QuantStats: 0.0 too); ``beta`` and ``alpha`` when the benchmark
    is constant (QuantStats: 0.0 too); ``information_ratio`` (QuantStats: 0 too) and
    ``tracking_error`` when r - b is constant; ``correlation`` when either series is constant.
    "Constant" means a standard deviation at most 1e-10 of the largest absolute value (the
    rounding of a constant series, not risk).

    Raises
    ------
    InvalidInputError
        Fewer than 2 returns, a non-finite value, a return below -1, a benchmark of another
        length, ``risk_free_rate <= -1``, ``periods_per_year <= 0``, or returns so large that
        the equity or a metric overflows the floating-point range.
    """
    r = _returns_vector(returns, minimum=2)
    periods = positive_number(periods_per_year, "periods_per_year")
    rf_period = _per_period_rate(risk_free_rate, periods)
    n = r.shape[0]
    root_periods = math.sqrt(periods)

    sample = _Sample.of(r)
    # QuantStats takes sharpe's and sortino's moments on r - rf; without rf they are r's.
    excess = sample if rf_period == 0.0 else _Sample.of(r - rf_period)
    excess_scale = sample.peak + abs(rf_period)
    losses = np.minimum(excess.scaled, 0.0)
    downside = math.sqrt(float(np.dot(losses, losses)) / n) * excess.scale

    equity = _equity(r)
    deepest = float(np.min(_drawdown_from_equity(equity)))
    try:
        cagr = float(equity[-1]) ** (periods / n) - 1.0
    except OverflowError:
        cagr = math.inf  # reported below

    nonzero = int(np.count_nonzero(r))
    z_tail, pdf_z_tail = _normal_tail()
    result: dict[str, float] = {
        "cagr": cagr,
        "volatility": sample.std * root_periods,
        "sharpe": 0.0
        if excess.std <= _FLAT * excess_scale
        else excess.mean / excess.std * root_periods,
        "sortino": 0.0
        if downside <= _FLAT * excess_scale
        else excess.mean / downside * root_periods,
        "max_drawdown": deepest,
        "calmar": 0.0 if deepest == 0.0 else cagr / abs(deepest),
        "value_at_risk": sample.mean + z_tail * sample.std,
        "conditional_value_at_risk": sample.mean - sample.std * pdf_z_tail / _TAIL,
        "skew": sample.skew(),
        "kurtosis": sample.kurtosis(),
        "best": float(np.max(r)),
        "worst": float(np.min(r)),
        "win_rate": 0.0 if nonzero == 0 else int(np.count_nonzero(r > 0.0)) / nonzero,
    }
    if benchmark is not None:
        b = _benchmark_vector(benchmark, n)
        result.update(_benchmark_metrics(sample, _Sample.of(b), _Sample.of(r - b), periods))
    overflowed = [key for key, value in result.items() if not math.isfinite(value)]
    if overflowed:
        raise InvalidInputError(
            f"returns too large for floating point: {', '.join(overflowed)} overflow"
        )
    return result


def drawdown(returns: Any) -> FloatArray:
    r"""Drawdown after each row: :math:`D_t = E_t / \max(1, E_1, \dots, E_t) - 1`.

    :math:`E_t = \prod_{u \le t}(1 + r_u)` is the equity from a starting equity of 1, which is
    part of the running peak, so a loss on the first row is a drawdown (QuantStats'
    ``to_drawdown_series`` prepends the same base). Every entry is <= 0; 0 at a new high.

    Parameters
    ----------
    returns
        1-D simple returns, at least 1 (finite, >= -1).

    Returns
    -------
    NDArray[float64]
        One drawdown per row of ``returns``.
    """
    r = _returns_vector(returns, minimum=1)
    return _drawdown_from_equity(_equity(r))


def rolling_sharpe(
    returns: Any,
    window: int = 126,
    *,
    risk_free_rate: float = 0.0,
    periods_per_year: float = 252,
) -> FloatArray:
    r"""Annualised Sharpe ratio of each full trailing window (QuantStats' ``rolling_sharpe``).

    For the window ending at row :math:`t`: :math:`\bar x / s(x) \cdot \sqrt P` over
    :math:`x_u = r_u - r_f`, :math:`u = t - w + 1..t`, with :math:`r_f = (1 + R_f)^{1/P} - 1`
    and ddof = 1. Each window is computed on its own (two-pass mean and deviation), not by a
    running update.

    Only full windows are returned: entry ``k`` is the window of rows ``k .. k + window - 1``,
    i.e. it belongs to row ``k + window - 1`` of ``returns`` (QuantStats' series has NaN on the
    first ``window - 1`` rows instead). A series shorter than ``window`` gives an empty array;
    a window whose returns are constant gives 0.0 (see :func:`metrics`).

    Parameters
    ----------
    returns
        1-D simple returns, at least 1 (finite, >= -1).
    window
        Rows per window, >= 2 (126 and 252 are the tearsheet's half-year and year).
    risk_free_rate
        Annual rate (> -1), converted per period as in :func:`metrics`.
    periods_per_year
        :math:`P`, > 0.

    Returns
    -------
    NDArray[float64]
        ``max(T - window + 1, 0)`` finite values.
    """
    r = _returns_vector(returns, minimum=1)
    w = positive_int(window, "window", minimum=2)
    periods = positive_number(periods_per_year, "periods_per_year")
    rf_period = _per_period_rate(risk_free_rate, periods)
    if r.shape[0] < w:
        return np.empty(0)
    excess = _Sample.of(r - rf_period)  # scaled by a power of two: no underflow, same ratios
    windows = sliding_window_view(excess.scaled, w)
    means = windows.mean(axis=1)
    stds = windows.std(axis=1, ddof=1)
    peaks = np.max(sliding_window_view(np.abs(r), w), axis=1) + abs(rf_period)
    defined = stds * excess.scale > _FLAT * peaks
    ratios = np.divide(means, stds, out=np.zeros_like(means), where=defined)
    result: FloatArray = ratios * math.sqrt(periods)
    return result


def rolling_volatility(
    returns: Any, window: int = 126, *, periods_per_year: float = 252
) -> FloatArray:
    r"""Annualised volatility :math:`s(r)\sqrt P` (ddof = 1) of each full trailing window.

    QuantStats' ``rolling_volatility`` (no risk-free rate). Entry ``k`` is the window of rows
    ``k .. k + window - 1``; a series shorter than ``window`` gives an empty array (see
    :func:`rolling_sharpe`).

    Parameters
    ----------
    returns
        1-D simple returns, at least 1 (finite, >= -1).
    window
        Rows per window, >= 2.
    periods_per_year
        :math:`P`, > 0.

    Returns
    -------
    NDArray[float64]
        ``max(T - window + 1, 0)`` values, each >= 0.
    """
    r = _returns_vector(returns, minimum=1)
    w = positive_int(window, "window", minimum=2)
    periods = positive_number(periods_per_year, "periods_per_year")
    if r.shape[0] < w:
        return np.empty(0)
    sample = _Sample.of(r)
    stds = sliding_window_view(sample.scaled, w).std(axis=1, ddof=1)
    result: FloatArray = stds * (sample.scale * math.sqrt(periods))
    return result


def period_returns(
    returns: Any, dates: Any, period: Period
) -> tuple[NDArray[np.datetime64], FloatArray]:
    r"""Compounded return of each calendar month or year: :math:`\prod(1 + r) - 1` over its rows.

    The numbers of QuantStats' ``monthly_returns`` table (its month cells and its "EOY"
    column); only periods with at least one row appear (QuantStats fills the missing months of
    its table with 0).

    Parameters
    ----------
    returns
        1-D simple returns, at least 1 (finite, >= -1).
    dates
        The date of each row, strictly increasing: a ``datetime64`` array (any unit; truncated
        to days) or anything ``numpy.asarray(dates, dtype="datetime64[D]")`` accepts, such as
        ISO date strings.
    period
        ``"monthly"`` or ``"yearly"``.

    Returns
    -------
    tuple[NDArray[datetime64], NDArray[float64]]
        The period labels, ``datetime64[M]`` (months) or ``datetime64[Y]`` (years), in order,
        and the compounded return of each.

    Raises
    ------
    InvalidInputError
        Bad returns, an unknown period, dates that are not dates, NaT, of another length or
        not strictly increasing.
    """
    if period not in PERIODS:
        raise InvalidInputError(f"period must be one of {PERIODS}, got {period!r}")
    r = _returns_vector(returns, minimum=1)
    days = _dates_vector(dates, r.shape[0])
    labels = days.astype("datetime64[M]" if period == "monthly" else "datetime64[Y]")
    starts = np.flatnonzero(np.concatenate(([True], labels[1:] != labels[:-1])))
    with np.errstate(over="ignore"):  # an overflow is reported just below
        compounded: FloatArray = np.multiply.reduceat(1.0 + r, starts) - 1.0
    if not np.all(np.isfinite(compounded)):
        raise InvalidInputError("returns compound beyond the floating-point range")
    return labels[starts], compounded


def drawdown_periods(returns: Any) -> list[DrawdownPeriod]:
    """Every spell under water of :func:`drawdown`, deepest first.

    A spell starts on the first row with drawdown < 0 after a row at the peak (or on row 0 when
    the first return is a loss: the starting equity 1 is the first peak) and ends at the first
    row back at the peak, its ``recovery``. This is QuantStats' ``drawdown_details`` with rows
    for dates; its "end" is ``recovery - 1`` (or the last row), its "valley" our ``trough`` and
    its "max drawdown" (in percent) ``100 * depth``. Unlike QuantStats 0.0.86 a spell starting
    on row 0 is always reported (QuantStats drops it when it is the only one and never
    recovers).

    Parameters
    ----------
    returns
        1-D simple returns, at least 1 (finite, >= -1).

    Returns
    -------
    list[DrawdownPeriod]
        Sorted by ``depth`` ascending (deepest first), ties by ``start``; empty if the equity
        never falls below its running peak.
    """
    r = _returns_vector(returns, minimum=1)
    dd = _drawdown_from_equity(_equity(r))
    n = dd.shape[0]
    under = dd < 0.0
    # Edges of the runs of rows under water: +1 where one starts, -1 where one ends.
    edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    spells: list[DrawdownPeriod] = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        trough = start + int(np.argmin(dd[start:stop]))
        spells.append(
            DrawdownPeriod(
                start=start,
                trough=trough,
                recovery=stop if stop < n else None,
                depth=float(dd[trough]),
                length=stop - start,
            )
        )
    spells.sort(key=lambda spell: (spell.depth, spell.start))
    return spells


# ---------------------------------------------------------------------------------------------


def _returns_vector(value: Any, minimum: int) -> FloatArray:
    """A finite 1-D float vector of at least ``minimum`` simple returns, each >= -1."""
    r = as_float_array(value, "returns", 1)
    if r.shape[0] < minimum:
        raise InvalidInputError(
            f"returns needs at least {minimum} observation{'s' if minimum > 1 else ''}, "
            f"got {r.shape[0]}"
        )
    require_finite(r, "returns")
    if np.any(r < -1.0):
        raise InvalidInputError(
            "returns has a value below -1 (a loss of more than 100 %), which would make the "
            "equity negative"
        )
    return r


def _benchmark_vector(value: Any, length: int) -> FloatArray:
    b = as_float_array(value, "benchmark", 1)
    if b.shape[0] != length:
        raise InvalidInputError(
            f"benchmark must have the length of returns ({length}), got {b.shape[0]}"
        )
    require_finite(b, "benchmark")
    return b


def _per_period_rate(risk_free_rate: float, periods: float) -> float:
    """:math:`(1 + R_f)^{1/P} - 1` (QuantStats' ``to_excess_returns(rf, nperiods=P)``)."""
    rate = float(risk_free_rate)
    if not math.isfinite(rate) or rate <= -1.0:
        raise InvalidInputError(
            f"risk_free_rate must be a finite annual rate > -1, got {risk_free_rate!r}"
        )
    if rate == 0.0:
        return 0.0
    return float((1.0 + rate) ** (1.0 / periods) - 1.0)


def _dates_vector(value: Any, length: int) -> NDArray[np.datetime64]:
    try:
        days = np.asarray(value, dtype="datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"dates must be dates (datetime64 or ISO strings): {exc}") from exc
    if days.ndim != 1 or days.shape[0] != length:
        raise InvalidInputError(
            f"dates must be 1-dimensional with the length of returns ({length}), "
            f"got shape {days.shape}"
        )
    if np.any(np.isnat(days)):
        raise InvalidInputError("dates contains NaT")
    if np.any(days[1:] <= days[:-1]):
        raise InvalidInputError("dates must be strictly increasing (one row per date)")
    return days


def _equity(r: FloatArray) -> FloatArray:
    """:math:`E_t = \\prod_{u \\le t}(1 + r_u)`, the equity after each row from 1."""
    with np.errstate(over="ignore"):  # an overflow is reported just below
        equity: FloatArray = np.cumprod(1.0 + r, dtype=np.float64)
    if not np.all(np.isfinite(equity)):
        raise InvalidInputError("returns compound beyond the floating-point range")
    return equity


def _drawdown_from_equity(equity: FloatArray) -> FloatArray:
    """:math:`E_t / \\max(1, E_1..E_t) - 1` for the equity after each row."""
    peaks = np.maximum(np.maximum.accumulate(equity), 1.0)
    result: FloatArray = equity / peaks - 1.0
    return result


@dataclass(frozen=True)
class _Sample:
    """A series divided by a power of two near its largest |value|, and its first two moments.

    Dividing by a power of two is exact, so every statistic equals the one computed on the raw
    values, but squares and fourth powers of tiny returns cannot underflow to 0.
    """

    n: int
    peak: float  # max |x|
    scale: float  # the power of two
    scaled: FloatArray  # x / scale
    centred: FloatArray  # x / scale - mean(x / scale)
    m2: float  # sum of centred**2 (scaled units)
    mean: float  # mean(x)
    std: float  # sample standard deviation of x (ddof = 1)
    flat: bool  # std <= _FLAT * peak: a constant series

    @classmethod
    def of(cls, x: FloatArray) -> _Sample:
        peak = float(np.max(np.abs(x)))
        # 2**(e - 1) with peak = m 2**e, 0.5 <= m < 1: the scaled peak is in [1, 2).
        scale = (
            1.0
            if peak == 0.0 or not math.isfinite(peak)
            else math.ldexp(1.0, math.frexp(peak)[1] - 1)
        )
        scaled = x / scale
        mean = float(np.mean(scaled))
        centred = scaled - mean
        m2 = float(np.sum(centred * centred))
        std = math.sqrt(m2 / (x.shape[0] - 1))
        return cls(
            n=x.shape[0],
            peak=peak,
            scale=scale,
            scaled=scaled,
            centred=centred,
            m2=m2,
            mean=mean * scale,
            std=std * scale,
            flat=std <= _FLAT * (peak / scale),
        )

    def skew(self) -> float:
        r""":math:`G_1 = \frac{n\sqrt{n-1}}{n-2}\,\frac{m_3}{m_2^{3/2}}` on central sums (pandas).

        0.0 with fewer than 3 observations or a constant series (pandas: NaN).
        """
        n = self.n
        if n < 3 or self.flat:
            return 0.0
        m3 = float(np.dot(self.centred * self.centred, self.centred))
        return n * math.sqrt(n - 1.0) / (n - 2.0) * (m3 / (self.m2 * math.sqrt(self.m2)))

    def kurtosis(self) -> float:
        r""":math:`G_2 = \frac{n-1}{(n-2)(n-3)}\left(\frac{n(n+1) m_4}{m_2^2} - 3(n-1)\right)`.

        Excess kurtosis; 0.0 with fewer than 4 observations or a constant series (pandas: NaN).
        """
        n = self.n
        if n < 4 or self.flat:
            return 0.0
        squares = self.centred * self.centred
        m4 = float(np.dot(squares, squares))
        correction = (n - 1.0) / ((n - 2.0) * (n - 3.0))
        return correction * (n * (n + 1.0) * (m4 / (self.m2 * self.m2)) - 3.0 * (n - 1.0))


def _benchmark_metrics(r: _Sample, b: _Sample, active: _Sample, periods: float) -> dict[str, float]:
    """beta, alpha (QuantStats' greeks), tracking error, information ratio, correlation."""
    # Sums of scaled products; the scales are powers of two, so rescaling is exact.
    cross = float(np.dot(r.centred, b.centred))
    beta = 0.0 if b.flat else cross / b.m2 * (r.scale / b.scale)
    correlation = (
        0.0
        if r.flat or b.flat
        else min(1.0, max(-1.0, cross / (math.sqrt(r.m2) * math.sqrt(b.m2))))
    )
    active_flat = active.std <= _FLAT * (r.peak + b.peak)
    return {
        "beta": beta,
        "alpha": 0.0 if b.flat else (r.mean - beta * b.mean) * periods,
        "tracking_error": 0.0 if active_flat else active.std * math.sqrt(periods),
        "information_ratio": 0.0 if active_flat else active.mean / active.std,
        "correlation": correlation,
    }
