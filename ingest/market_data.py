"""Prices and returns for tickers × a date range, daily, weekly or monthly.

Reads only what the query needs (:class:`lake.LakeReader`): the year partitions the range
covers (keys are computed, nothing is listed), and inside each object only the row groups
whose ticker and date statistics can match (pyarrow's filter pushdown), only the needed
columns, through ranged reads. :class:`ReadStats` counts what was read.

A partition that does not exist is no data (404 when nothing matched); a refused read is
a deployment fault (500) and a transient one is 503: neither is ever taken for "no data".
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.exceptions import (
    ConfigurationError,
    NotFoundError,
    ServiceUnavailableError,
    UnprocessableError,
)
from core.models import TICKER_PATTERN, Frequency
from ingest.schemas import PRICE_SCHEMA, PRICES_PREFIX, RETURNS_PREFIX, RETURNS_SCHEMA
from lake import LakeAccessDenied, LakeError, LakeReader, LakeUnavailable, ReadStats

__all__ = [
    "Frequency",
    "MarketDataQuery",
    "ReadStats",
    "query_prices",
    "query_returns",
    "read_rows",
]

MAX_TICKERS = 200
MAX_POINTS = 1_000_000
_TICKER = re.compile(TICKER_PATTERN)


class MarketDataQuery(BaseModel):
    """``?tickers=AAPL,MSFT&start=2024-01-01&end=2024-12-31&frequency=weekly``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tickers: list[str] = Field(min_length=1, max_length=MAX_TICKERS)
    start: date
    end: date
    frequency: Frequency = "daily"

    @field_validator("tickers", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value

    @field_validator("tickers")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not _TICKER.fullmatch(t)]
        if bad:
            raise ValueError(
                f"not exchange symbols (upper case, e.g. BRK.B): {', '.join(bad[:10])}"
            )
        return sorted(set(value))

    @model_validator(mode="after")
    def _range(self) -> MarketDataQuery:
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


_SCHEMAS = {PRICES_PREFIX: PRICE_SCHEMA, RETURNS_PREFIX: RETURNS_SCHEMA}


def read_rows(
    reader: LakeReader,
    prefix: str,
    *,
    tickers: list[str],
    start: date,
    end: date,
    columns: list[str],
) -> pa.Table:
    """Rows of ``tickers`` within [start, end] from a year-partitioned dataset, sorted by
    ticker and date (``reader.stats`` counts what was read).

    Raises
    ------
    ConfigurationError
        The lake refused the read (500: IAM or policy, never "no data").
    ServiceUnavailableError
        A transient failure outlived the retries (503: ask again).
    """
    try:
        table = reader.read(
            prefix,
            range(start.year, end.year + 1),
            tickers=tickers,
            start=start,
            end=end,
            columns=columns,
            schema=_SCHEMAS.get(prefix),
        )
    except LakeAccessDenied as error:
        raise ConfigurationError(f"The lake refused to read market data: {error}") from error
    except LakeUnavailable as error:
        raise ServiceUnavailableError(
            "Market data is temporarily unavailable; try again shortly."
        ) from error
    except LakeError as error:
        raise ConfigurationError(f"Market data could not be read: {error}") from error
    return table.take(pc.sort_indices(table, [("ticker", "ascending"), ("date", "ascending")]))


def _period_ids(dates: np.ndarray, frequency: Frequency) -> np.ndarray:
    days = dates.astype("datetime64[D]").astype(np.int64)
    if frequency == "weekly":
        # 1970-01-01 was a Thursday: shift so weeks run Monday..Sunday.
        return (days + 3) // 7
    months = dates.astype("datetime64[M]").astype(np.int64)
    return months


def _group_ends(tickers: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Index of the last row of each (ticker, period) run (rows sorted by ticker, date)."""
    if len(tickers) == 0:
        return np.zeros(0, dtype=np.int64)
    change = (tickers[1:] != tickers[:-1]) | (periods[1:] != periods[:-1])
    return np.append(np.flatnonzero(change), len(tickers) - 1)


def _series(
    table: pa.Table, tickers: list[str], fields: dict[str, np.ndarray]
) -> dict[str, dict[str, list[Any]]]:
    out: dict[str, dict[str, list[Any]]] = {}
    names = table["ticker"].to_numpy(zero_copy_only=False)
    dates = table["date"].to_numpy(zero_copy_only=False)
    for ticker in tickers:
        rows = np.flatnonzero(names == ticker)
        if len(rows) == 0:
            continue
        out[ticker] = {"dates": [str(d) for d in dates[rows].astype("datetime64[D]")]}
        for name, values in fields.items():
            out[ticker][name] = [float(v) for v in values[rows]]
    return out


def _answer(
    query: MarketDataQuery, table: pa.Table, series: dict[str, Any], stats: ReadStats
) -> dict[str, Any]:
    missing = [t for t in query.tickers if t not in series]
    if not series:
        raise NotFoundError(
            f"No data for {', '.join(query.tickers)} between {query.start} and {query.end}.",
            [f"unknown or empty: {t}" for t in missing],
        )
    return {
        "frequency": query.frequency,
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "tickers": sorted(series),
        "missingTickers": missing,
        "points": sum(len(s["dates"]) for s in series.values()),
        "series": series,
    }


def _check_size(query: MarketDataQuery) -> None:
    points = len(query.tickers) * ((query.end - query.start).days + 1)
    if points > MAX_POINTS * 2:  # calendar days overcount trading days ~1.45×
        raise UnprocessableError(
            f"Query too large: {len(query.tickers)} tickers × {(query.end - query.start).days + 1}"
            f" days exceeds the limit of {MAX_POINTS:,} points; narrow the range or tickers."
        )


def _read(
    query: MarketDataQuery, bucket: str, prefix: str, columns: list[str], s3: Any | None
) -> tuple[pa.Table, ReadStats]:
    """The query's daily rows (size-checked), sorted by ticker and date."""
    _check_size(query)
    reader = LakeReader(bucket, s3=s3)
    table = read_rows(
        reader,
        prefix,
        tickers=query.tickers,
        start=query.start,
        end=query.end,
        columns=["date", "ticker", *columns],
    )
    return table, reader.stats


def _periods(table: pa.Table, frequency: Frequency) -> tuple[np.ndarray, np.ndarray]:
    """Index of the last and of the first row of each (ticker, week|month) run."""
    tickers = table["ticker"].to_numpy(zero_copy_only=False)
    ends = _group_ends(
        tickers, _period_ids(table["date"].to_numpy(zero_copy_only=False), frequency)
    )
    return ends, np.append(0, ends[:-1] + 1)


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table[name].to_numpy(zero_copy_only=False) if table.num_rows else np.zeros(0)


def query_prices(
    query: MarketDataQuery, bucket: str, s3: Any | None = None
) -> tuple[dict[str, Any], ReadStats]:
    """Closes per ticker; weekly/monthly = the last close of each week/month.

    ``s3``: the boto3 S3 client to read with (default: ``core.aws.client``'s).
    """
    table, stats = _read(query, bucket, PRICES_PREFIX, ["close"], s3)
    if query.frequency != "daily" and table.num_rows:
        ends, _ = _periods(table, query.frequency)
        table = table.take(pa.array(ends))
    series = _series(table, query.tickers, {"close": _column(table, "close")})
    return _answer(query, table, series, stats), stats


def query_returns(
    query: MarketDataQuery, bucket: str, s3: Any | None = None
) -> tuple[dict[str, Any], ReadStats]:
    """Simple and log returns; weekly/monthly compound the daily ones within each period.

    Compounding: :math:`R = \\prod_t (1 + r_t) - 1` and :math:`\\ell = \\sum_t \\ell_t`.
    """
    columns = ["simple_return", "log_return"]
    table, stats = _read(query, bucket, RETURNS_PREFIX, columns, s3)
    log_r, simple = _column(table, "log_return"), _column(table, "simple_return")
    if query.frequency != "daily" and table.num_rows:
        ends, starts = _periods(table, query.frequency)
        log_r = np.add.reduceat(log_r, starts)
        simple = np.expm1(log_r)
        table = table.take(pa.array(ends))
    series = _series(table, query.tickers, {"simpleReturn": simple, "logReturn": log_r})
    return _answer(query, table, series, stats), stats
