"""Prices and returns for tickers × a date range, daily, weekly or monthly.

Reads only what the query needs: the year partitions the range covers (keys are computed,
nothing is listed), and inside each file only the row groups whose ticker and date
statistics can match, and only the needed columns, through ranged reads
(pyarrow's S3 filesystem). :class:`ReadStats` counts what was read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.exceptions import NotFoundError, UnprocessableError
from ingest.schemas import PRICES_PREFIX, RETURNS_PREFIX, partition_key

__all__ = [
    "Frequency",
    "MarketDataQuery",
    "ReadStats",
    "query_prices",
    "query_returns",
    "read_rows",
    "s3_filesystem",
]

Frequency = Literal["daily", "weekly", "monthly"]
MAX_TICKERS = 200
MAX_POINTS = 1_000_000
_TICKER_PATTERN = r"^[A-Z][A-Z0-9]{0,9}(?:[.\-][A-Z0-9]{1,4})?$"


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
        bad = [t for t in value if not re.fullmatch(_TICKER_PATTERN, t)]
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


@dataclass
class ReadStats:
    """What a query read from the lake."""

    objects: int = 0
    row_groups: int = 0
    row_groups_total: int = 0
    bytes: int = 0
    keys: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def s3_filesystem() -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem, pointed wherever ``AWS_ENDPOINT_URL`` points (local stack)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        return pafs.S3FileSystem(region=region, endpoint_override=host, scheme=scheme)
    return pafs.S3FileSystem(region=region)


def _stat_range(group: pq.RowGroupMetaData, column: int) -> tuple[Any, Any] | None:
    stats = group.column(column).statistics
    if stats is None or not stats.has_min_max:
        return None
    return stats.min, stats.max


def read_rows(
    bucket: str,
    prefix: str,
    *,
    tickers: list[str],
    start: date,
    end: date,
    columns: list[str],
    filesystem: pafs.FileSystem | None = None,
    stats: ReadStats | None = None,
) -> pa.Table:
    """Rows of ``tickers`` within [start, end] from a year-partitioned dataset."""
    fs = filesystem or s3_filesystem()
    stats = stats if stats is not None else ReadStats()
    wanted = pa.array(tickers, pa.string())
    low_ticker, high_ticker = min(tickers), max(tickers)
    parts: list[pa.Table] = []
    for year in range(start.year, end.year + 1):
        key = partition_key(prefix, year)
        try:
            handle = fs.open_input_file(f"{bucket}/{key}")
        except (FileNotFoundError, OSError):
            continue
        with handle:
            parquet = pq.ParquetFile(handle)
            meta = parquet.metadata
            names = parquet.schema_arrow.names
            ticker_col, date_col = names.index("ticker"), names.index("date")
            keep: list[int] = []
            for index in range(meta.num_row_groups):
                group = meta.row_group(index)
                tick = _stat_range(group, ticker_col)
                day = _stat_range(group, date_col)
                if tick and (tick[1] < low_ticker or tick[0] > high_ticker):
                    continue
                if day and (day[1] < start or day[0] > end):
                    continue
                keep.append(index)
            stats.objects += 1
            stats.keys.append(key)
            stats.row_groups_total += meta.num_row_groups
            stats.row_groups += len(keep)
            stats.bytes += meta.serialized_size
            for index in keep:
                group = meta.row_group(index)
                for c in range(group.num_columns):
                    if group.column(c).path_in_schema in columns:
                        stats.bytes += group.column(c).total_compressed_size
            if not keep:
                continue
            table = parquet.read_row_groups(keep, columns=columns)
        mask = pc.and_(
            pc.is_in(table["ticker"], wanted),
            pc.and_(
                pc.greater_equal(table["date"], pa.scalar(start, pa.date32())),
                pc.less_equal(table["date"], pa.scalar(end, pa.date32())),
            ),
        )
        parts.append(table.filter(mask))
    if not parts:
        return pa.table({c: pa.array([], pa.string()) for c in columns}).slice(0, 0)
    table = pa.concat_tables(parts)
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
    query: MarketDataQuery,
    bucket: str,
    prefix: str,
    columns: list[str],
    filesystem: pafs.FileSystem | None,
) -> tuple[pa.Table, ReadStats]:
    """The query's daily rows (size-checked), sorted by ticker and date."""
    _check_size(query)
    stats = ReadStats()
    table = read_rows(
        bucket,
        prefix,
        tickers=query.tickers,
        start=query.start,
        end=query.end,
        columns=["date", "ticker", *columns],
        filesystem=filesystem,
        stats=stats,
    )
    return table, stats


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
    query: MarketDataQuery, bucket: str, filesystem: pafs.FileSystem | None = None
) -> tuple[dict[str, Any], ReadStats]:
    """Closes per ticker; weekly/monthly = the last close of each week/month."""
    table, stats = _read(query, bucket, PRICES_PREFIX, ["close"], filesystem)
    if query.frequency != "daily" and table.num_rows:
        ends, _ = _periods(table, query.frequency)
        table = table.take(pa.array(ends))
    series = _series(table, query.tickers, {"close": _column(table, "close")})
    return _answer(query, table, series, stats), stats


def query_returns(
    query: MarketDataQuery, bucket: str, filesystem: pafs.FileSystem | None = None
) -> tuple[dict[str, Any], ReadStats]:
    """Simple and log returns; weekly/monthly compound the daily ones within each period.

    Compounding: :math:`R = \\prod_t (1 + r_t) - 1` and :math:`\\ell = \\sum_t \\ell_t`.
    """
    columns = ["simple_return", "log_return"]
    table, stats = _read(query, bucket, RETURNS_PREFIX, columns, filesystem)
    log_r, simple = _column(table, "log_return"), _column(table, "simple_return")
    if query.frequency != "daily" and table.num_rows:
        ends, starts = _periods(table, query.frequency)
        log_r = np.add.reduceat(log_r, starts)
        simple = np.expm1(log_r)
        table = table.take(pa.array(ends))
    series = _series(table, query.tickers, {"simpleReturn": simple, "logReturn": log_r})
    return _answer(query, table, series, stats), stats
