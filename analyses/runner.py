"""Executing runs: inputs from the request or the lake, then the analysis's computation.

The run side of the analyses room (with ``analyses.results`` and ``analyses.handlers``): it
may import core, numpy and pyarrow; each analysis's ``compute`` calls into ``compute``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from analyses._common import MIN_OBSERVATIONS
from core.analysis import Analysis, analysis_of_request
from core.aws import client as aws_client
from core.exceptions import NotFoundError, UnprocessableError
from core.lake import RETURNS_PREFIX
from core.models import (
    DEFAULT_LOOKBACK_DAYS,
    MAX_WINDOW_DAYS,
    DataWindow,
    PortfolioConstraints,
    PortfolioViews,
    run_limit_violations,
)
from lake import LakeReader

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "MIN_OBSERVATIONS",
    "SYNC_CELL_BUDGET",
    "Inputs",
    "execute",
    "is_quick",
    "load_inputs",
    "probe_years",
    "window_bounds",
    "window_years",
]

# Work answered synchronously (201) when below this: simulated cells (paths × days × assets)
# run at ~10⁸/s here, so 2·10⁷ is ~0.2 s, far inside API Gateway's 29 s.
SYNC_CELL_BUDGET = 20_000_000


@dataclass(frozen=True)
class Inputs:
    """A run's data: T × N simple returns and the window they came from.

    ``dates`` are the rows' days (lake runs; ``None`` for inline returns). ``extra`` holds the
    series of the tickers the analysis reads besides the run's assets
    (``Analysis.extra_tickers``: a backtest's benchmark), on the same rows. ``constraints``
    and ``views`` are the portfolio's (runs of a stored portfolio; ``analyses.mandates`` turns
    them into compute's arguments).
    """

    returns: NDArray[np.float64]
    tickers: list[str]
    window: DataWindow
    dates: list[date] | None = None
    extra: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    constraints: PortfolioConstraints | None = None
    views: PortfolioViews | None = None


# ------------------------------------------------------------------ the window (pure)
def probe_years(years: Iterable[int], as_of: date | None = None) -> list[int]:
    """The year partitions to search for the tickers' last date, newest first.

    Parameters
    ----------
    years
        The years whose returns partition exists (one listing of the dataset).
    as_of
        Years after ``as_of``'s are never searched.

    Returns
    -------
    list of int
        Existing years, newest first; reading stops at the first holding any of the tickers.
    """
    return sorted({y for y in years if as_of is None or y <= as_of.year}, reverse=True)


def window_bounds(
    end: date, *, start: date | None = None, lookback_days: int | None = None
) -> tuple[date, date]:
    """The window asked of the lake, given its last day.

    Parameters
    ----------
    end
        The window's last day: the request's ``end``, or the last date the lake holds for
        the tickers (on or before ``asOf``).
    start
        The request's ``start``; wins over ``lookback_days``.
    lookback_days
        Calendar days back from ``end``; default :data:`DEFAULT_LOOKBACK_DAYS`.

    Returns
    -------
    tuple of date
        ``(start, end)``, both inclusive.
    """
    days = DEFAULT_LOOKBACK_DAYS if lookback_days is None else lookback_days
    return (start if start is not None else end - timedelta(days=days)), end


def window_years(years: Iterable[int], start: date, end: date) -> list[int]:
    """The existing year partitions a window ``[start, end]`` reads, oldest first."""
    return sorted({y for y in years if start.year <= y <= end.year})


# ------------------------------------------------------------------ the lake (I/O)
def _named(tickers: list[str]) -> str:
    shown = ", ".join(tickers[:20])
    return shown + (f" and {len(tickers) - 20} more" if len(tickers) > 20 else "")


def _lake_returns(
    reader: LakeReader,
    tickers: list[str],
    start: date,
    end: date,
    years: Iterable[int] | None = None,
) -> tuple[NDArray[np.float64], list[date]]:
    """Wide T × N matrix of the tickers' daily simple returns; days missing any ticker dropped.

    Parameters
    ----------
    reader
        The run's lake reader (the objects it read are the run's record).
    years
        The years whose partition exists (a listing); only those in ``[start, end]`` are
        read. ``None``: try every year of the window (a missing one is skipped).
    """
    import pyarrow.compute as pc

    wanted = (
        window_years(years, start, end) if years is not None else range(start.year, end.year + 1)
    )
    table = reader.read(
        RETURNS_PREFIX,
        wanted,
        tickers=tickers,
        start=start,
        end=end,
        columns=["date", "ticker", "simple_return"],
    )
    if not table.num_rows:
        raise NotFoundError(
            f"No returns in the lake for {_named(tickers)} between {start} and {end}."
        )
    days = sorted(set(table["date"].to_pylist()))
    row = {d: i for i, d in enumerate(days)}
    col = {t: j for j, t in enumerate(tickers)}
    matrix = np.full((len(days), len(tickers)), np.nan)
    rows = np.array([row[d] for d in table["date"].to_pylist()], dtype=np.int64)
    cols = np.array([col[t] for t in table["ticker"].to_pylist()], dtype=np.int64)
    matrix[rows, cols] = pc.fill_null(table["simple_return"], np.nan).to_numpy()
    missing = [t for t in tickers if np.isnan(matrix[:, col[t]]).all()]
    if missing:
        raise UnprocessableError(
            # Named in the message too: a failed run keeps its message, not the details.
            f"Some tickers have no returns in the requested window: {_named(missing)}.",
            [f"no data: {', '.join(missing[:20])}"],
        )
    complete = ~np.isnan(matrix).any(axis=1)  # a common calendar: days every ticker traded
    return matrix[complete], [d for d, keep in zip(days, complete, strict=True) if keep]


def _lake_inputs(
    request: Any, tickers: list[str], bucket: str, s3: Any, extra: list[str]
) -> tuple[NDArray[np.float64], DataWindow, list[date]]:
    """The window rule: the window ends at the request's ``end``, or else at the last date
    the lake holds for the tickers (on or before ``asOf``), whatever triggered the run; it
    starts at the request's ``start``, or else ``lookbackDays`` (default 1095) before (or,
    for requests whose ``WHOLE_HISTORY`` is true, at the lake's first year, at most
    ``MAX_WINDOW_DAYS`` back). ``extra`` tickers are read too, as the matrix's last columns
    (they do not move the window's end)."""
    as_of: date | None = getattr(request, "as_of", None)
    lookback: int | None = getattr(request, "lookback_days", None)
    reader = LakeReader(bucket, s3=s3)
    years = reader.years(RETURNS_PREFIX)
    end = request.end
    if end is None:
        end = reader.last_date(RETURNS_PREFIX, tickers, probe_years(years, as_of), until=as_of)
        if end is None:
            raise NotFoundError(
                f"No returns in the lake for {_named(tickers)}"
                + (f" on or before asOf {as_of}." if as_of else "."),
                [f"tickers: {_named(tickers)}"],
            )
    start, end = window_bounds(end, start=request.start, lookback_days=lookback)
    if request.start is None and lookback is None and getattr(request, "WHOLE_HISTORY", False):
        first = date(min(years), 1, 1) if years else start
        start = max(first, end - timedelta(days=MAX_WINDOW_DAYS - 1))
    # Bounded before anything is read (only years the lake holds are, in any case).
    check_limits(len(tickers), 0, request, window_days=(end - start).days + 1)
    matrix, days = _lake_returns(reader, tickers + extra, start, end, years)
    window = DataWindow(
        source="lake",
        tickers=tickers,
        observations=matrix.shape[0],
        start=days[0] if days else start,
        end=days[-1] if days else end,
        as_of=as_of,
        lookback_days=None
        if request.start or (lookback is None and getattr(request, "WHOLE_HISTORY", False))
        else (lookback or DEFAULT_LOOKBACK_DAYS),
        requested_start=start,
        requested_end=end,
        objects=reader.refs(),
    )
    return matrix, window, days


def load_inputs(
    request: Any,
    tickers_of_portfolio: list[str] | None,
    bucket: str,
    s3: Any | None = None,
    *,
    extra_tickers: Iterable[str] | None = None,
) -> Inputs:
    """The returns a run works on: inline, or the portfolio's tickers from the lake.

    Parameters
    ----------
    request
        A run request (``_ReturnsInput``): inline ``returns``, or lake runs' optional
        ``start``/``end``/``asOf``/``lookbackDays``.
    tickers_of_portfolio
        The portfolio's tickers (lake runs).
    bucket, s3
        The data bucket and an S3 client (default: core.aws's).
    extra_tickers
        Series read besides the assets, on the same days (``Inputs.extra``): from the inline
        returns (which must hold them) or the lake. Default: those the request's analysis
        declares (``Analysis.extra_tickers``).

    Returns
    -------
    Inputs
        The matrix, its tickers (sorted for lake runs) and the window, recorded on the run.
        A lake run's window ends at the last date the lake holds for its tickers (or on or
        before ``asOf``, or at an explicit ``end``), not at today: every trigger of
        unchanged data reads the same days.
    """
    if extra_tickers is None:
        entry = analysis_of_request(request)
        wanted = entry.extra_tickers if entry is not None else None
        extra_tickers = wanted(request) if wanted is not None else ()
    extra = list(dict.fromkeys(extra_tickers))
    dates: list[date] | None = None
    if request.returns is not None:
        tickers = list(request.returns)
        absent = [t for t in extra if t not in request.returns]
        if absent:
            raise UnprocessableError(
                f"The inline returns hold no series for {_named(absent)}.",
                [f"add {', '.join(absent[:20])} to returns, or leave it out of the request"],
            )
        matrix = np.column_stack([np.asarray(request.returns[t], float) for t in tickers])
        extras = {t: np.asarray(request.returns[t], float) for t in extra}
        window = DataWindow(source="inline", tickers=tickers, observations=matrix.shape[0])
    else:
        assert tickers_of_portfolio is not None
        tickers = sorted(tickers_of_portfolio)
        others = [t for t in extra if t not in tickers]
        both, window, dates = _lake_inputs(request, tickers, bucket, s3 or aws_client("s3"), others)
        matrix = both[:, : len(tickers)]
        columns = {t: both[:, j] for j, t in enumerate(tickers + others)}
        extras = {t: columns[t] for t in extra}
    check_limits(len(tickers), matrix.shape[0], request)
    if matrix.shape[0] < 2:
        raise UnprocessableError(
            "Too few observations.", [f"{matrix.shape[0]} common days; at least 2 are needed"]
        )
    return Inputs(matrix, tickers, window, dates, extras)


def check_limits(
    assets: int, observations: int, request: Any = None, *, window_days: int = 0
) -> None:
    """422 naming the first limit a run would break (``core.models.run_limit_violations``)."""
    violations = run_limit_violations(assets, observations, request, window_days=window_days)
    if violations:
        message, limit = violations[0]
        raise UnprocessableError(message, [limit])


def is_quick(analysis: Analysis, request: Any, assets: int) -> bool:
    """Whether a run fits the synchronous budget (:data:`SYNC_CELL_BUDGET` cells of work;
    analyses declaring no ``work`` always do)."""
    return analysis.work is None or analysis.work(request, assets) <= SYNC_CELL_BUDGET


def execute(
    analysis: Analysis,
    request: Any,
    inputs: Inputs | None,
    portfolio_weights: dict[str, float] | None = None,
) -> BaseModel:
    """Run the analysis's computation: its typed result (``analysis.result``)."""
    return analysis.compute(request, inputs, portfolio_weights)
