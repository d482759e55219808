"""Deterministic generator of synthetic daily equity prices.

The model (details and calibration in ``docs/SAMPLE_DATA.md``): daily log returns of
stock *i* are

.. math::

    r_{it} = \\mu_i + \\beta_i f^{mkt}_t + \\gamma_i f^{sec(i)}_t + k_{it}\\, e_{it}

where the market factor, the eleven sector factors and every idiosyncratic term
follow a GJR-GARCH(1,1) with standardised Student-t innovations (volatility
clustering, leverage effect and fat tails), and :math:`k_{it}` scales idiosyncratic
shocks up on quarterly "earnings days".

Every random stream is keyed by ``(seed, purpose, series name)`` and runs on a fixed
trading calendar starting at :data:`EPOCH`, and every price path is anchored at a
fixed date.  Hence the value for a given ``(seed, ticker, day)`` does not depend on
the requested window, on which other tickers are requested, or on
``extra_columns``: generating 2014-2024 at once or month by month gives the same
numbers.

All prices are synthetic.  They are not, and do not approximate, market data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sample_data._calendar import CALENDARS, Calendar, trading_days
from sample_data._universe import (
    SECTOR_PROFILES,
    SECTORS,
    UNIVERSE,
    TickerInfo,
    lookup,
    universe,
)

__all__ = [
    "ANCHOR_DATE",
    "DEFAULT_END",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "EPOCH",
    "EXTRA_COLUMNS",
    "PRICE_COLUMNS",
    "PRICE_DECIMALS",
    "PRICE_SCHEMA",
    "PRICE_SCHEMA_EXTRA",
    "SECTORS",
    "UNIVERSE",
    "ModelParams",
    "TickerInfo",
    "generate_prices",
    "to_wide",
    "universe",
]

FloatArray = npt.NDArray[np.float64]

#: First day of the generator's calendar; every random stream starts here.
EPOCH: Final[date] = date(2000, 1, 3)
#: Stocks listed before this date have their :attr:`start price <ModelParams>` as the
#: close of the trading day before it; later listings are anchored at their IPO price.
ANCHOR_DATE: Final[date] = date(2014, 1, 2)
DEFAULT_START: Final[date] = date(2014, 1, 2)
DEFAULT_END: Final[date] = date(2024, 12, 31)
DEFAULT_SEED: Final[int] = 7
#: Prices are rounded to this many decimals (as a vendor would deliver them).
PRICE_DECIMALS: Final[int] = 4

PRICE_COLUMNS: Final[tuple[str, ...]] = ("date", "ticker", "close")
EXTRA_COLUMNS: Final[tuple[str, ...]] = ("open", "high", "low", "volume")

#: Schema of :func:`generate_prices` output (long form).
PRICE_SCHEMA: Final[pa.Schema] = pa.schema(
    [("date", pa.date32()), ("ticker", pa.string()), ("close", pa.float64())]
)
#: Schema of :func:`generate_prices` output with ``extra_columns=True``.
PRICE_SCHEMA_EXTRA: Final[pa.Schema] = pa.schema(
    [
        ("date", pa.date32()),
        ("ticker", pa.string()),
        ("close", pa.float64()),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("volume", pa.int64()),
    ]
)

# Purposes of the random streams (part of every stream's seed).
_PARAMS: Final = 0
_SHOCKS: Final = 1
_MISSING: Final = 2
_EXTRA: Final = 3
_MIN_PRICE: Final = 10.0**-PRICE_DECIMALS


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Parameters of the price model (annualised figures use ``trading_days``).

    Volatilities and returns are annualised; GARCH tuples are ``(alpha, gamma,
    beta)`` of the GJR-GARCH(1,1) recursion
    ``h[t+1] = omega + (alpha + gamma * 1[z[t] < 0]) * h[t] * z[t]**2 + beta * h[t]``
    with ``omega`` set so that the unconditional variance matches the target.
    Per-sector ranges of betas, total volatilities and sector-factor volatilities are
    in :data:`sample_data.SECTOR_PROFILES`.

    Attributes
    ----------
    trading_days : int
        Trading days per year used to de-annualise.
    risk_free : float
        Annual risk-free rate (arithmetic).
    market_premium : float
        Annual expected market excess return (arithmetic).
    market_vol : float
        Unconditional annual volatility of the market factor.
    market_garch : tuple of float
        ``(alpha, gamma, beta)`` of the market factor.
    market_df : float
        Student-t degrees of freedom of the market innovations.
    sector_garch : tuple of float
        ``(alpha, gamma, beta)`` of the sector factors.
    sector_df : float
        Student-t degrees of freedom of the sector innovations.
    idio_garch : tuple of float
        ``(alpha, gamma, beta)`` of the idiosyncratic terms.
    idio_df : tuple of float
        ``(low, high)`` uniform range of the per-stock Student-t degrees of freedom.
    sector_loading : tuple of float
        ``(low, high)`` uniform range of the per-stock sector-factor loading.
    alpha_sd : float
        Standard deviation of the per-stock annual alpha (Jensen's alpha).
    min_idio_vol : float
        Floor of the annual idiosyncratic volatility.
    feedback_clip : float
        Standardised shocks feed the variance recursion through
        ``min(z**2, feedback_clip**2)``, so one extreme draw cannot explode it.
    variance_cap : float
        Conditional variances are capped at ``variance_cap`` times the
        unconditional one (volatility at most ``sqrt(variance_cap)`` times normal).
    earnings_period : int
        Trading days between two earnings days of a stock.
    earnings_multiplier : float
        Scale of the idiosyncratic shock on earnings days.
    ipo_pop : tuple of float
        ``(mean, sd)`` of the extra log return on a listing's first day.
    start_price : tuple of float
        ``(median, log-sd)`` of the lognormal anchor price of established stocks.
    ipo_price : tuple of float
        ``(median, log-sd)`` of the lognormal IPO price of new listings.
    missing_rate : float
        Probability that a (ticker, trading day) observation is dropped.
    overnight_share : float
        Share of the daily return realised overnight (drives ``open``).
    overnight_noise : float
        Extra overnight noise, in units of the day's conditional volatility.
    range_scale : float
        Scale of the intraday excursions beyond open/close (drives high/low), in
        units of the day's conditional volatility.
    volume_median : float
        Median of the lognormal per-stock average daily volume (shares).
    volume_log_sd : float
        Log-sd of the per-stock average daily volume.
    volume_noise : float
        Log-sd of the day-to-day volume noise.
    """

    trading_days: int = 252
    risk_free: float = 0.02
    market_premium: float = 0.055
    market_vol: float = 0.16
    market_garch: tuple[float, float, float] = (0.05, 0.12, 0.87)
    market_df: float = 5.0
    sector_garch: tuple[float, float, float] = (0.10, 0.02, 0.87)
    sector_df: float = 6.0
    idio_garch: tuple[float, float, float] = (0.10, 0.02, 0.87)
    idio_df: tuple[float, float] = (4.5, 6.0)
    sector_loading: tuple[float, float] = (0.7, 1.3)
    alpha_sd: float = 0.02
    min_idio_vol: float = 0.08
    feedback_clip: float = 6.0
    variance_cap: float = 16.0
    earnings_period: int = 63
    earnings_multiplier: float = 3.0
    ipo_pop: tuple[float, float] = (0.10, 0.15)
    start_price: tuple[float, float] = (60.0, 0.8)
    ipo_price: tuple[float, float] = (30.0, 0.4)
    missing_rate: float = 0.003
    overnight_share: float = 0.3
    overnight_noise: float = 0.3
    range_scale: float = 0.5
    volume_median: float = 5.0e6
    volume_log_sd: float = 0.9
    volume_noise: float = 0.3

    def __post_init__(self) -> None:
        """Validate the parameters."""
        for name in ("market_garch", "sector_garch", "idio_garch"):
            alpha, gamma, beta = getattr(self, name)
            if min(alpha, gamma, beta) < 0 or alpha + gamma / 2 + beta >= 1:
                raise ValueError(f"{name} must be non-negative with alpha+gamma/2+beta < 1")
        if min(self.market_df, self.sector_df, *self.idio_df) <= 2:
            raise ValueError("Student-t degrees of freedom must exceed 2")
        if not 0.0 <= self.missing_rate < 0.5:
            raise ValueError("missing_rate must be in [0, 0.5)")
        if self.earnings_period < 1 or self.earnings_multiplier <= 0:
            raise ValueError("earnings_period must be >= 1 and earnings_multiplier > 0")
        if self.feedback_clip <= 0 or self.variance_cap <= 1:
            raise ValueError("feedback_clip must be > 0 and variance_cap > 1")
        if self.trading_days < 1 or self.market_vol <= 0:
            raise ValueError("trading_days and market_vol must be positive")


@dataclass(frozen=True, slots=True)
class _Stock:
    info: TickerInfo
    sector_index: int
    beta: float
    loading: float
    mu: float  # daily log drift
    idio_var: float  # unconditional daily variance of the GARCH part
    df: float
    earnings_phase: int
    ipo_pop: float
    start_price: float
    volume: float


def _words(name: str) -> list[int]:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return [int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")]


def _rng(seed: int, purpose: int, name: str) -> np.random.Generator:
    """Independent, reproducible stream for one (seed, purpose, series)."""
    return np.random.default_rng([seed, purpose, *_words(name)])


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return low + (high - low) * float(rng.random())


def _stock(info: TickerInfo, seed: int, p: ModelParams) -> _Stock:
    """Draw the static parameters of one stock (fixed draw order)."""
    rng = _rng(seed, _PARAMS, "stock:" + info.ticker)
    profile = SECTOR_PROFILES[info.sector]
    beta = _uniform(rng, profile.beta)
    vol = _uniform(rng, profile.vol)
    loading = _uniform(rng, p.sector_loading)
    df = _uniform(rng, p.idio_df)
    alpha = p.alpha_sd * float(rng.standard_normal())
    phase = int(rng.integers(p.earnings_period))
    pop = p.ipo_pop[0] + p.ipo_pop[1] * float(rng.standard_normal())
    median, log_sd = p.ipo_price if info.listed is not None else p.start_price
    start_price = median * float(np.exp(log_sd * rng.standard_normal()))
    volume = p.volume_median * float(np.exp(p.volume_log_sd * rng.standard_normal()))

    n = p.trading_days
    systematic = beta**2 * p.market_vol**2 + loading**2 * profile.factor_vol**2
    idio_annual = max(vol**2 - systematic, p.min_idio_vol**2)
    total = systematic + idio_annual
    # Earnings days inflate the idiosyncratic variance by this factor on average.
    inflation = 1.0 + (p.earnings_multiplier**2 - 1.0) / p.earnings_period
    expected = p.risk_free + beta * p.market_premium + alpha
    return _Stock(
        info=info,
        sector_index=SECTORS.index(info.sector),
        beta=beta,
        loading=loading,
        mu=(expected - 0.5 * total) / n,
        idio_var=idio_annual / inflation / n,
        df=df,
        earnings_phase=phase,
        ipo_pop=pop,
        start_price=float(np.clip(start_price, 5.0, 1500.0)),
        volume=float(np.clip(volume, 1.0e5, 8.0e7)),
    )


def _garch(
    *,
    names: list[str],
    variances: FloatArray,
    specs: list[tuple[float, float, float]],
    dfs: list[float],
    n_days: int,
    seed: int,
    clip: float,
    cap: float,
) -> tuple[FloatArray, FloatArray]:
    """Simulate independent GJR-GARCH(1,1) series with Student-t innovations.

    The feedback of a shock into the next variance uses ``min(z**2, clip**2)`` and
    variances are capped at ``cap`` times their unconditional level.

    Returns
    -------
    tuple of numpy.ndarray
        ``(eps, h)``, both ``(n_days, len(names))``: shocks and conditional variances.
    """
    z = np.empty((n_days, len(names)))
    for j, (name, df) in enumerate(zip(names, dfs, strict=True)):
        draws = _rng(seed, _SHOCKS, name).standard_t(df, size=n_days)
        z[:, j] = draws * np.sqrt((df - 2.0) / df)
    alpha = np.array([s[0] for s in specs])
    gamma = np.array([s[1] for s in specs])
    beta = np.array([s[2] for s in specs])
    omega = variances * (1.0 - alpha - gamma / 2.0 - beta)
    # h[t] = min(omega + c[t-1] * h[t-1], ceiling), c = (alpha + gamma 1[z<0]) z^2 + beta.
    c = (alpha + gamma * (z < 0.0)) * np.minimum(z * z, clip * clip) + beta
    ceiling = cap * variances
    h = np.empty_like(z)
    h[0] = variances
    for t in range(1, n_days):
        h[t] = np.minimum(omega + c[t - 1] * h[t - 1], ceiling)
    return np.sqrt(h) * z, h


def _to_date(value: str | date, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be an ISO date (YYYY-MM-DD), got {value!r}") from exc


def _resolve(tickers: int | Sequence[str] | None) -> tuple[TickerInfo, ...]:
    if tickers is None:
        return UNIVERSE
    if isinstance(tickers, bool):
        raise TypeError("tickers must be an int, a sequence of symbols or None")
    if isinstance(tickers, int):
        return universe(tickers)
    if isinstance(tickers, str):
        return lookup([tickers])
    return lookup(list(tickers))


def _empty_table(extra_columns: bool) -> pa.Table:
    schema = PRICE_SCHEMA_EXTRA if extra_columns else PRICE_SCHEMA
    return schema.empty_table()


def generate_prices(
    tickers: int | Sequence[str] | None = None,
    start: str | date = DEFAULT_START,
    end: str | date = DEFAULT_END,
    seed: int = DEFAULT_SEED,
    extra_columns: bool = False,
    *,
    calendar: Calendar = "nyse",
    params: ModelParams | None = None,
) -> pa.Table:
    """Generate synthetic daily prices in long form.

    Parameters
    ----------
    tickers : int or sequence of str, optional
        ``None`` (default) for the whole built-in universe (137 securities), an
        ``int`` for the first ``n`` of :func:`universe` (synthetic ``Q***`` symbols
        beyond the built-in universe), or explicit symbols.  Securities not listed
        at any time in the window are silently absent from the output.
    start, end : str or datetime.date
        Inclusive window (ISO strings accepted); ``start`` must not precede
        :data:`EPOCH`.
    seed : int
        Non-negative seed; the same seed and arguments give identical output.
    extra_columns : bool
        Add ``open``, ``high``, ``low`` (float64) and ``volume`` (int64).  The
        ``close`` values and missing days do not depend on this flag.
    calendar : {"nyse", "weekdays"}
        Trading calendar: NYSE holidays removed (default) or every weekday.
    params : ModelParams, optional
        Model parameters; defaults to ``ModelParams()``.

    Returns
    -------
    pyarrow.Table
        Columns ``date`` (date32), ``ticker`` (string), ``close`` (float64)
        [, ``open``, ``high``, ``low`` (float64), ``volume`` (int64)], sorted by
        ``date`` then ``ticker``, one row per (ticker, trading day) observation;
        prices rounded to :data:`PRICE_DECIMALS` decimals and strictly positive.

    Raises
    ------
    ValueError
        On a malformed date, ``start < EPOCH``, a negative seed or a bad calendar.
    KeyError
        On an unknown ticker symbol.

    Examples
    --------
    >>> table = generate_prices(["AAPL", "MSFT"], "2024-01-02", "2024-01-31")
    >>> table.column_names
    ['date', 'ticker', 'close']
    """
    p = params if params is not None else ModelParams()
    first = _to_date(start, "start")
    last = _to_date(end, "end")
    if first < EPOCH:
        raise ValueError(f"start must be on or after {EPOCH.isoformat()}, got {first}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if calendar not in CALENDARS:
        raise ValueError(f"unknown calendar {calendar!r}; expected one of {CALENDARS}")

    infos = [
        info
        for info in _resolve(tickers)
        if (info.listed is None or info.listed <= last)
        and (info.delisted is None or info.delisted > first)
    ]
    days = trading_days(EPOCH, max(last, ANCHOR_DATE), calendar)
    lo = int(np.searchsorted(days, np.datetime64(first, "D"), side="left"))
    hi = int(np.searchsorted(days, np.datetime64(last, "D"), side="right"))
    if not infos or hi <= lo:
        return _empty_table(extra_columns)
    infos.sort(key=lambda info: info.ticker)
    stocks = [_stock(info, seed, p) for info in infos]
    n_days, n_stocks = len(days), len(stocks)
    anchors = np.array(
        [np.searchsorted(days, np.datetime64(s.info.listed or ANCHOR_DATE, "D")) for s in stocks],
        dtype=np.int64,
    )
    # Streams are prefix-stable, so nothing after the window is simulated -- except
    # up to the anchor days, which fix the price levels.
    horizon = min(max(hi, int(anchors.max()) + 1), n_days)
    days = days[:horizon]

    # --- factors: market + the sectors in use -------------------------------------
    sectors = sorted({s.sector_index for s in stocks})
    factor_names = ["factor:market"] + [f"factor:{SECTORS[k]}" for k in sectors]
    factor_vars = np.array(
        [p.market_vol**2] + [SECTOR_PROFILES[SECTORS[k]].factor_vol ** 2 for k in sectors]
    ) / float(p.trading_days)
    f_eps, f_h = _garch(
        names=factor_names,
        variances=factor_vars,
        specs=[p.market_garch] + [p.sector_garch] * len(sectors),
        dfs=[p.market_df] + [p.sector_df] * len(sectors),
        n_days=horizon,
        seed=seed,
        clip=p.feedback_clip,
        cap=p.variance_cap,
    )
    column_of = {k: 1 + j for j, k in enumerate(sectors)}
    sec_cols = np.array([column_of[s.sector_index] for s in stocks])

    # --- idiosyncratic terms ------------------------------------------------------
    e_eps, e_h = _garch(
        names=["stock:" + s.info.ticker for s in stocks],
        variances=np.array([s.idio_var for s in stocks]),
        specs=[p.idio_garch] * n_stocks,
        dfs=[s.df for s in stocks],
        n_days=horizon,
        seed=seed,
        clip=p.feedback_clip,
        cap=p.variance_cap,
    )
    t_index = np.arange(horizon)[:, None]
    phases = np.array([s.earnings_phase for s in stocks])
    earnings = (t_index - phases[None, :]) % p.earnings_period == 0
    e_eps = np.where(earnings, p.earnings_multiplier * e_eps, e_eps)

    beta = np.array([s.beta for s in stocks])
    loading = np.array([s.loading for s in stocks])
    mu = np.array([s.mu for s in stocks])
    returns = mu + beta * f_eps[:, :1] + loading * f_eps[:, sec_cols] + e_eps
    listed = np.array([s.info.listed is not None for s in stocks])
    cols = np.flatnonzero(listed & (anchors < horizon))
    returns[anchors[cols], cols] += np.array([stocks[j].ipo_pop for j in cols])

    # --- prices anchored at the day before the anchor day ---------------------------
    cum = np.cumsum(returns, axis=0)
    before = np.where(anchors > 0, cum[np.maximum(anchors - 1, 0), np.arange(n_stocks)], 0.0)
    start_price = np.array([s.start_price for s in stocks])
    log_close = np.log(start_price) + (cum - before)

    window = slice(lo, hi)
    w_days = days[window]
    close = np.exp(log_close[window])

    # --- which observations exist -------------------------------------------------
    listed_from = np.array(
        [np.datetime64(s.info.listed or EPOCH, "D") for s in stocks], dtype="datetime64[D]"
    )
    far = np.datetime64("9999-12-31", "D")
    listed_until = np.array(
        [np.datetime64(s.info.delisted, "D") if s.info.delisted else far for s in stocks],
        dtype="datetime64[D]",
    )
    present = (w_days[:, None] >= listed_from) & (w_days[:, None] < listed_until)
    if p.missing_rate > 0:
        for j, s in enumerate(stocks):
            u = _rng(seed, _MISSING, "stock:" + s.info.ticker).random(hi)[lo:hi]
            present[:, j] &= u >= p.missing_rate

    columns: dict[str, FloatArray | npt.NDArray[np.int64]] = {"close": _round(close)}
    if extra_columns:
        columns.update(
            _extra_columns(
                stocks=stocks,
                p=p,
                seed=seed,
                returns=returns,
                log_close=log_close,
                f_h=f_h,
                e_h=e_h,
                sec_cols=sec_cols,
                anchors=anchors,
                lo=lo,
                hi=hi,
            )
        )

    mask = present.ravel()
    date_col = pa.array(np.repeat(w_days, n_stocks)[mask], type=pa.date32())
    ticker_idx = np.tile(np.arange(n_stocks, dtype=np.int32), len(w_days))[mask]
    tickers_dict = pa.array([s.info.ticker for s in stocks], type=pa.string())
    ticker_col = pa.DictionaryArray.from_arrays(ticker_idx, tickers_dict).cast(pa.string())
    arrays = [date_col, ticker_col] + [
        pa.array(columns[name].ravel()[mask])
        for name in ("close", *EXTRA_COLUMNS)
        if name in columns
    ]
    schema = PRICE_SCHEMA_EXTRA if extra_columns else PRICE_SCHEMA
    return pa.Table.from_arrays(arrays, schema=schema)


def _round(x: FloatArray) -> FloatArray:
    return np.maximum(np.round(x, PRICE_DECIMALS), _MIN_PRICE)


def _extra_columns(
    *,
    stocks: list[_Stock],
    p: ModelParams,
    seed: int,
    returns: FloatArray,
    log_close: FloatArray,
    f_h: FloatArray,
    e_h: FloatArray,
    sec_cols: npt.NDArray[np.int64],
    anchors: npt.NDArray[np.int64],
    lo: int,
    hi: int,
) -> dict[str, FloatArray | npt.NDArray[np.int64]]:
    """Open, high, low and volume consistent with the closes (window rows only)."""
    n_stocks = len(stocks)
    noise = np.empty((4, hi - lo, n_stocks))
    for j, s in enumerate(stocks):
        draws = _rng(seed, _EXTRA, "stock:" + s.info.ticker).standard_normal((hi, 4))
        noise[:, :, j] = draws[lo:hi].T
    beta = np.array([s.beta for s in stocks])
    loading = np.array([s.loading for s in stocks])
    var = beta**2 * f_h[lo:hi, :1] + loading**2 * f_h[lo:hi, sec_cols] + e_h[lo:hi]
    sigma = np.sqrt(var)  # conditional daily volatility of the stock
    r = returns[lo:hi]
    # Listing days: the IPO pop happens at the open (the first trade vs the offer price).
    pop = np.zeros_like(r)
    rows = anchors - lo
    listed = np.array([s.info.listed is not None for s in stocks])
    cols = np.flatnonzero(listed & (rows >= 0) & (rows < hi - lo))
    pop[rows[cols], cols] = [stocks[j].ipo_pop for j in cols]
    first_day = pop != 0.0
    overnight = p.overnight_share * (r - pop) + pop + p.overnight_noise * sigma * noise[0]
    log_open = log_close[lo:hi] - r + overnight
    top = np.maximum(log_open, log_close[lo:hi])
    bottom = np.minimum(log_open, log_close[lo:hi])
    close = _round(np.exp(log_close[lo:hi]))
    open_ = _round(np.exp(log_open))
    high = np.maximum(_round(np.exp(top + p.range_scale * sigma * np.abs(noise[1]))), close)
    high = np.maximum(high, open_)
    low = np.minimum(_round(np.exp(bottom - p.range_scale * sigma * np.abs(noise[2]))), close)
    low = np.minimum(low, open_)

    mean_sigma = np.sqrt(
        beta**2 * p.market_vol**2
        + loading**2 * np.array([SECTOR_PROFILES[s.info.sector].factor_vol ** 2 for s in stocks])
        + np.array([s.idio_var for s in stocks]) * p.trading_days
    ) / np.sqrt(p.trading_days)
    mu = np.array([s.mu for s in stocks])
    # Standardised size of the day's move (E|z| ~ 0.8 for a normal), capped so that
    # a crash day multiplies volume by at most e^2; listing days trade 5x.
    surprise = np.minimum(np.abs(r - pop - mu) / sigma - 0.8, 5.0)
    log_volume = (
        np.log(np.array([s.volume for s in stocks]))
        + 0.4 * surprise
        + 0.8 * np.log(sigma / mean_sigma)
        + p.volume_noise * noise[3]
    )
    log_volume = np.where(first_day, log_volume + np.log(5.0), log_volume)
    volume = np.maximum(np.rint(np.exp(log_volume)), 1.0).astype(np.int64)
    return {"open": open_, "high": high, "low": low, "volume": volume}


def to_wide(
    table: pa.Table, column: str = "close"
) -> tuple[npt.NDArray[np.datetime64], list[str], FloatArray]:
    """Pivot a long price table to a dense ``(dates x tickers)`` matrix.

    Parameters
    ----------
    table : pyarrow.Table
        Long-form table with ``date``, ``ticker`` and ``column``.
    column : str
        Value column to pivot (default ``"close"``).

    Returns
    -------
    dates : numpy.ndarray
        Sorted unique dates (``datetime64[D]``).
    tickers : list of str
        Sorted unique tickers.
    values : numpy.ndarray
        ``float64`` matrix of shape ``(len(dates), len(tickers))``, NaN where a
        (date, ticker) observation is absent.

    Raises
    ------
    ValueError
        If a (date, ticker) pair occurs more than once.
    """
    dates_raw = table.column("date").to_numpy().astype("datetime64[D]")
    tickers_raw = np.asarray(table.column("ticker").to_pylist(), dtype=object)
    values_raw = table.column(column).to_numpy().astype(np.float64)
    dates, d_idx = np.unique(dates_raw, return_inverse=True)
    tickers, t_idx = np.unique(tickers_raw, return_inverse=True)
    values = np.full((len(dates), len(tickers)), np.nan)
    flat = d_idx * len(tickers) + t_idx
    if len(np.unique(flat)) != len(flat):
        raise ValueError("duplicate (date, ticker) observations")
    values.ravel()[flat] = values_raw
    return dates, [str(t) for t in tickers], values
