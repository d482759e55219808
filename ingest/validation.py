"""Validation of vendor daily-price files (the ingest room's gate).

A vendor file (CSV or Parquet, long form ``date,ticker,close[,open,high,low,volume]``)
is either refused as a whole (:class:`~ingest.exceptions.FileRejectedError`) or split
row by row into good rows, a table with the first seven fields of
:data:`ingest.schemas.PRICE_SCHEMA` sorted by ``(ticker, date)``, and rejected rows,
each with one :class:`RejectReason`, for the ``quarantine/`` report.

The file is streamed in batches of ``batch_rows`` and every check is vectorised;
memory is the good-row table plus 17 bytes per row for the duplicate check.

Examples
--------
>>> from datetime import date
>>> data = b"date,ticker,close\\n2024-01-02,AAPL,185.6\\n2024-01-02,msft,370.9\\n"
>>> result = validate_prices(data, filename="prices.csv", today=date(2024, 12, 31))
>>> result.table.num_rows, [(r.row, str(r.reason)) for r in result.rejected]
(1, [(2, 'BAD_TICKER')])
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from core.text_safety import spreadsheet_safe
from ingest._checks import (
    MAX_PRICE,
    MIN_DATE,
    MIN_PRICE,
    REASONS,
    DateColumn,
    NumberColumn,
    RejectReason,
    TickerColumn,
    check_dates,
    check_ohlc,
    check_price,
    check_tickers,
    check_volume,
    code_of,
    first_problem,
)
from ingest._readers import (
    KNOWN_COLUMNS,
    FileFormat,
    Malformed,
    RawBatch,
    SourceHandle,
    SourceLike,
    detect_format,
    open_reader,
    open_source,
)
from ingest.exceptions import FileRejectCode, FileRejectedError
from ingest.schemas import PRICE_SCHEMA

__all__ = [
    "REPORT_VERSION",
    "VALIDATED_SCHEMA",
    "RejectReason",
    "RejectedRow",
    "ValidatedPrices",
    "detect_format",
    "quarantine_csv",
    "quarantine_report",
    "quarantine_rows",
    "validate_prices",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Schema of :attr:`ValidatedPrices.table`: PRICE_SCHEMA without the lineage fields.
VALIDATED_SCHEMA: Final = pa.schema(list(PRICE_SCHEMA)[:7])

REPORT_VERSION: Final = 1
_EPOCH: Final = date(1970, 1, 1)
_MIN_DAY: Final = (MIN_DATE - _EPOCH).days
# Column index of each status array given to first_problem (7 = the row-level OHLC check).
_CHECKED: Final[tuple[str, ...]] = (*KNOWN_COLUMNS, "ohlc")
_OHLC_CODE: Final = code_of(RejectReason.INCONSISTENT_OHLC)
_FUTURE_CODE: Final = code_of(RejectReason.FUTURE_DATE)
_OTHER_ROWS_SHOWN: Final = 10
_DAY_MASK: Final = 0xFFFFFFFF


@dataclass(frozen=True)
class RejectedRow:
    """One quarantined row.

    Attributes
    ----------
    row : int
        1-based data record number in the file (header not counted; a CSV record
        with a newline inside quotes is one record).
    reason : RejectReason
        The first problem found (see :class:`RejectReason` for the priority).
    message : str
        Human-readable; names the column and the value.
    values : dict[str, str | None]
        The row's fields by normalised column name, as text: the raw CSV text, or
        Parquet values rendered by Arrow's cast to string (None for null). See
        :func:`validate_prices` for the one case where they are re-rendered.
    """

    row: int
    reason: RejectReason
    message: str
    values: dict[str, str | None]


@dataclass(frozen=True)
class ValidatedPrices:
    """Outcome of :func:`validate_prices`.

    Attributes
    ----------
    table : pyarrow.Table
        Good rows with :data:`VALIDATED_SCHEMA`, sorted by ``(ticker, date)``;
        ``(ticker, date)`` is unique.
    rejected : tuple[RejectedRow, ...]
        The rejected rows with the lowest row numbers, at most
        ``max_rejected_details`` of them, in row order.
    rejected_counts : dict[str, int]
        Rejected rows per reason code, every reason present (0 included) and never
        truncated.
    rows_read : int
        Data records in the file (``= table.num_rows + rows_rejected``).
    columns : tuple[str, ...]
        The normalised header, in file order.
    ignored_columns : tuple[str, ...]
        Header columns that are not price fields (not validated, not curated).
    file_format : {"csv", "parquet"}
        Format the file was read as.
    record_numbers : numpy.ndarray
        The 1-based record number of each row of :attr:`table` (int64, aligned).
    max_rejected_details : int
        The cap :attr:`rejected` was kept under (and :func:`quarantine_rows` keeps).
    """

    table: pa.Table
    rejected: tuple[RejectedRow, ...]
    rejected_counts: dict[str, int]
    rows_read: int
    columns: tuple[str, ...]
    ignored_columns: tuple[str, ...]
    file_format: FileFormat
    record_numbers: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    max_rejected_details: int = 10_000

    @property
    def rows_rejected(self) -> int:
        """All rejected rows (whether or not their details were kept)."""
        return sum(self.rejected_counts.values())

    @property
    def rows_accepted(self) -> int:
        """Rows in :attr:`table`."""
        return int(self.table.num_rows)

    @property
    def truncated(self) -> bool:
        """Whether :attr:`rejected` holds fewer rows than were rejected."""
        return len(self.rejected) < self.rows_rejected


def validate_prices(
    source: SourceLike,
    *,
    filename: str = "",
    file_format: FileFormat | None = None,
    today: date | None = None,
    batch_rows: int = 65_536,
    max_rejected_details: int = 10_000,
    on_progress: Callable[[int], None] | None = None,
) -> ValidatedPrices:
    """Validate a vendor daily-price file.

    Parameters
    ----------
    source : bytes, binary stream, str or pathlib.Path
        The file's content, a binary stream (read from its current position; a
        non-seekable one such as an S3 ``StreamingBody`` is streamed once for CSV
        and read into memory for Parquet), or a local path (a ``str`` is always a
        path, never CSV text).
    filename : str
        Name or object key used for format detection; defaults to the path's name.
    file_format : {"csv", "parquet"}, optional
        Skip detection (see :func:`detect_format`).
    today : datetime.date, optional
        Rows dated after it are FUTURE_DATE; defaults to today in UTC.
    batch_rows : int
        Rows validated at a time (memory per batch, granularity of ``on_progress``).
    max_rejected_details : int
        At most this many :class:`RejectedRow` are kept (those with the lowest row
        numbers); :attr:`ValidatedPrices.rejected_counts` stays complete.
    on_progress : callable, optional
        Called with the number of records read so far after each batch.

    Returns
    -------
    ValidatedPrices
        Good rows, rejected rows and counts. Header names match case-insensitively
        after stripping whitespace and a BOM; other columns are ignored. Every field
        is stripped of surrounding whitespace before it is checked. For a row
        rejected as DUPLICATE_KEY the values are re-read from the source; a
        non-seekable stream cannot be re-read, so those values are rendered from
        the parsed fields instead (ignored columns then absent).

    Raises
    ------
    FileRejectedError
        The whole file is refused; ``code`` is a :class:`~ingest.exceptions.FileRejectCode`.
    ValueError
        On a bad argument.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be >= 1, got {batch_rows}")
    if max_rejected_details < 0:
        raise ValueError(f"max_rejected_details must be >= 0, got {max_rejected_details}")
    handle = open_source(source, filename)
    if not handle.head:
        raise FileRejectedError(
            FileRejectCode.EMPTY_FILE, f"{handle.name or 'the file'} is empty (0 bytes)"
        )
    fmt: FileFormat = file_format or detect_format(handle.name, handle.head)
    reader = open_reader(handle, fmt, batch_rows=batch_rows, detail_cap=max_rejected_details)
    day = today if today is not None else datetime.now(UTC).date()
    state = _Validation(reader.columns, fmt, day, max_rejected_details)
    for batch in reader.batches:
        state.add(batch)
        if on_progress is not None:
            on_progress(state.rows_read)
    return state.finish(
        reader.ignored_columns, _rereader(handle, fmt, batch_rows) if handle.reopenable else None
    )


def _rereader(
    handle: SourceHandle, fmt: FileFormat, batch_rows: int
) -> Callable[[], Iterator[RawBatch]]:
    def batches() -> Iterator[RawBatch]:
        return open_reader(handle, fmt, batch_rows=batch_rows, detail_cap=0).batches

    return batches


# --------------------------------------------------------------------------- the state


class _Validation:
    """Accumulates one file's batches: good rows, compact keys, counts, details."""

    def __init__(self, columns: tuple[str, ...], fmt: FileFormat, today: date, cap: int) -> None:
        self.columns = columns
        self.fmt = fmt
        self.today = today
        self.today_day = (today - _EPOCH).days
        self.cap = cap
        self.rows_read = 0
        self.counts = np.zeros(len(REASONS) + 1, dtype=np.int64)  # by status code
        self.details: list[RejectedRow] = []
        self.good: list[list[pa.Array]] = [[] for _ in VALIDATED_SCHEMA]  # per column
        # Every row whose (ticker, date) parsed: its ticker's index into the
        # concatenated per-batch ticker dictionaries << 32 | days since 1900, its
        # record number and whether it passed every field check. Tickers get global
        # ids once, at the end (one hash pass instead of one per batch).
        self.keys: list[IntArray] = []
        self.key_rows: list[IntArray] = []
        self.key_good: list[BoolArray] = []
        self.ticker_chunks: list[pa.Array] = []
        self.ticker_offset = 0
        self.tickers: pa.Array = pa.array([], pa.string())  # by rank, set by finish()

    # ---- per batch

    def add(self, raw: RawBatch) -> None:
        self.rows_read += raw.num_rows + raw.malformed_count
        if raw.malformed_count:
            self.counts[code_of(RejectReason.MALFORMED_ROW)] += raw.malformed_count
            self._keep_details([self._malformed(m) for m in raw.malformed])
        n = raw.num_rows
        if n == 0:
            return
        cols = raw.columns
        dates = check_dates(cols["date"], self.today_day)
        tickers = check_tickers(cols["ticker"])
        prices = {
            name: check_price(cols.get(name), n, required=name == "close")
            for name in ("close", "open", "high", "low")
        }
        volume = check_volume(cols.get("volume"), n)
        ohlc = check_ohlc(prices["close"], prices["open"], prices["high"], prices["low"])
        codes, where = first_problem(
            [
                dates.status,
                tickers.status,
                *(prices[name].status for name in ("close", "open", "high", "low")),
                volume.status,
                np.where(ohlc, _OHLC_CODE, 0).astype(np.int8),
            ]
        )
        good = codes == 0

        keyed = ((dates.status == 0) | (dates.status == _FUTURE_CODE)) & (tickers.status == 0)
        ticker_index = self.ticker_offset + tickers.indices[keyed]
        self.keys.append((ticker_index << 32) | (dates.days[keyed] - _MIN_DAY))
        self.key_rows.append(raw.rows[keyed])
        self.key_good.append(good[keyed])
        self.ticker_chunks.append(tickers.values)
        self.ticker_offset += len(tickers.values)

        if good.any():
            arrays = self._good_arrays(np.flatnonzero(good), dates, tickers, prices, volume)
            for chunks, array in zip(self.good, arrays, strict=True):
                chunks.append(array)
        bad = np.flatnonzero(~good)
        if bad.size:
            self.counts += np.bincount(codes[bad], minlength=len(self.counts))
            self._detail_bad(raw, bad, codes, where, dates)

    def _good_arrays(
        self,
        rows: IntArray,
        dates: DateColumn,
        tickers: TickerColumn,
        prices: dict[str, NumberColumn],
        volume: NumberColumn,
    ) -> list[pa.Array]:
        def optional(col: NumberColumn, type_: pa.DataType) -> pa.Array:
            return pa.array(col.values[rows], type=type_, mask=~col.present[rows])

        return [
            pa.array(dates.days[rows].astype(np.int32), type=pa.date32()),
            tickers.values.take(pa.array(tickers.indices[rows])),
            pa.array(prices["close"].values[rows], type=pa.float64()),
            optional(prices["open"], pa.float64()),
            optional(prices["high"], pa.float64()),
            optional(prices["low"], pa.float64()),
            optional(volume, pa.int64()),
        ]

    # ---- rejected-row details (bounded: only the lowest row numbers are kept)

    def _room_below(self) -> int | None:
        """Row number under which a new detail could still be kept (None: any)."""
        if len(self.details) < self.cap:
            return None
        return self.details[-1].row if self.details else 0

    def _keep_details(self, new: list[RejectedRow]) -> None:
        if not new:
            return
        self.details.extend(new)
        self.details.sort(key=lambda r: r.row)
        del self.details[self.cap :]

    def _detail_bad(
        self,
        raw: RawBatch,
        bad: IntArray,
        codes: npt.NDArray[np.int8],
        where: npt.NDArray[np.int8],
        dates: DateColumn,
    ) -> None:
        if self.cap == 0:
            return
        limit = self._room_below()
        if limit is not None:
            bad = bad[raw.rows[bad] < limit]
        bad = bad[: self.cap]
        if not bad.size:
            return
        values = _values_at(raw, bad, self.columns)
        details = []
        for row, code, column, parsed, v in zip(
            raw.rows[bad].tolist(),
            codes[bad].tolist(),
            where[bad].tolist(),
            dates.parsed[bad].tolist(),
            values,
            strict=True,
        ):
            reason = REASONS[code - 1]
            message = self._message(reason, _CHECKED[column], v, parsed)
            details.append(RejectedRow(row, reason, message, v))
        self._keep_details(details)

    def _message(
        self, reason: RejectReason, column: str, values: dict[str, str | None], date_parsed: bool
    ) -> str:
        value = values.get(column)
        match reason:
            case RejectReason.MISSING_VALUE:
                return f"{column} is {'null' if value is None else 'empty'} (it is required)"
            case RejectReason.BAD_DATE if date_parsed:
                return f"date {value!r} is before {MIN_DATE.isoformat()}"
            case RejectReason.BAD_DATE:
                return (
                    f"date {value!r} is not a calendar date in ISO form YYYY-MM-DD "
                    "(or a date-time YYYY-MM-DDThh:mm[:ss] with an optional zone)"
                )
            case RejectReason.DATE_HAS_TIME:
                return (
                    f"date {value!r} has a time of day: a price's date is a calendar day, "
                    "so a date-time must be at midnight in its own time zone"
                )
            case RejectReason.FUTURE_DATE:
                return f"date {value!r} is after today ({self.today.isoformat()}, UTC)"
            case RejectReason.BAD_TICKER:
                return (
                    f"ticker {value!r} is not valid: tickers are upper-case exchange symbols "
                    "such as AAPL, BRK.B or BF-B (1-10 letters/digits starting with a letter, "
                    "optionally '.' or '-' and 1-4 more; case is not corrected)"
                )
            case RejectReason.BAD_NUMBER:
                return f"{column} {value!r} is not a number"
            case RejectReason.NON_FINITE_PRICE:
                return f"{column} {value!r} is not a finite number"
            case RejectReason.NON_POSITIVE_PRICE:
                return f"{column} {value!r} is not positive"
            case RejectReason.PRICE_OUT_OF_RANGE:
                return (
                    f"{column} {value!r} is outside the plausible price range "
                    f"[{MIN_PRICE:g}, {MAX_PRICE:,.0f}]"
                )
            case RejectReason.BAD_VOLUME:
                return f"volume {value!r} is not a whole number >= 0"
            case RejectReason.INCONSISTENT_OHLC:
                o, h, lo, c = (values.get(k) for k in ("open", "high", "low", "close"))
                return (
                    f"inconsistent OHLC (open={o}, high={h}, low={lo}, close={c}): "
                    "need low <= min(open, close) and high >= max(open, close)"
                )
            case _:  # pragma: no cover - the remaining reasons are built elsewhere
                return str(reason)

    def _malformed(self, m: Malformed) -> RejectedRow:
        fields = next(csv.reader(io.StringIO(m.text)), [])
        text = m.text if len(m.text) <= 200 else m.text[:200] + "…"
        return RejectedRow(
            row=m.row,
            reason=RejectReason.MALFORMED_ROW,
            message=f"record has {m.fields} fields but the header has {m.expected}: {text!r}",
            values=dict(zip(self.columns, fields, strict=False)),
        )

    # ---- end of file

    def finish(
        self,
        ignored_columns: tuple[str, ...],
        reread: Callable[[], Iterator[RawBatch]] | None,
    ) -> ValidatedPrices:
        keys = _concat(self.keys)
        key_good = np.concatenate(self.key_good) if self.key_good else np.zeros(0, np.bool_)
        self.keys, self.key_good = [], []
        # Tickers become their rank in string order, so one sort of the keys gives
        # the output's (ticker, date) order and puts duplicates side by side.
        encoded = pc.dictionary_encode(
            pa.concat_arrays(self.ticker_chunks) if self.ticker_chunks else self.tickers
        )
        self.ticker_chunks = []
        by_name = np.asarray(pc.sort_indices(encoded.dictionary).to_numpy(), dtype=np.int64)
        rank = np.empty(len(by_name), dtype=np.int64)
        rank[by_name] = np.arange(len(by_name))
        self.tickers = encoded.dictionary.take(pa.array(by_name))
        ticker_rank = rank[np.asarray(encoded.indices.to_numpy(), dtype=np.int64)]
        del encoded, rank, by_name
        keys = (ticker_rank[keys >> 32] << 32) | (keys & _DAY_MASK)
        del ticker_rank
        order = np.argsort(keys)
        sorted_keys = keys[order]
        same = sorted_keys[1:] == sorted_keys[:-1]
        dup_sorted = np.zeros(len(keys), dtype=np.bool_)
        dup_sorted[1:] |= same
        dup_sorted[:-1] |= same
        good_sorted = key_good[order]
        # Position in the good rows (file order) of each keyed row that is good.
        good_pos = np.cumsum(key_good, dtype=np.int64) - 1
        dup_good_sorted = good_sorted & dup_sorted
        n_dup = int(dup_good_sorted.sum())
        self.counts[code_of(RejectReason.DUPLICATE_KEY)] += n_dup
        if n_dup and self.cap:
            self._detail_duplicates(
                np.sort(order[dup_good_sorted]),
                keys=keys,
                sorted_keys=sorted_keys,
                order=order,
                good_pos=good_pos,
                reread=reread,
            )
        kept = order[good_sorted & ~dup_sorted]
        record_numbers = _concat(self.key_rows)[kept]
        self.key_rows = []
        take = pa.array(good_pos[kept])
        del keys, key_good, order, sorted_keys, same, dup_sorted, good_sorted, good_pos
        # One column at a time, dropping its chunks once gathered: the peak is the
        # output table plus about two columns.
        columns = []
        for i, column_field in enumerate(VALIDATED_SCHEMA):
            chunks, self.good[i] = self.good[i], []
            column = pa.concat_arrays(chunks) if chunks else pa.array([], column_field.type)
            del chunks
            columns.append(column.take(take))
            del column
        table = pa.Table.from_arrays(columns, schema=VALIDATED_SCHEMA)

        counts = {str(r): int(self.counts[code_of(r)]) for r in REASONS}
        return ValidatedPrices(
            table=table,
            rejected=tuple(self.details),
            rejected_counts=counts,
            rows_read=self.rows_read,
            columns=self.columns,
            ignored_columns=ignored_columns,
            file_format=self.fmt,
            record_numbers=record_numbers,
            max_rejected_details=self.cap,
        )

    def _detail_duplicates(
        self,
        keyed: IntArray,
        *,
        keys: IntArray,
        sorted_keys: IntArray,
        order: IntArray,
        good_pos: IntArray,
        reread: Callable[[], Iterator[RawBatch]] | None,
    ) -> None:
        """Details of good rows rejected as duplicates (``keyed``: ascending keyed-row indices).

        ``keys`` are the ranked keys of every keyed row, ``order`` their argsort.
        """
        rows = _concat(self.key_rows)
        limit = self._room_below()
        if limit is not None:
            keyed = keyed[rows[keyed] < limit]
        keyed = keyed[: self.cap]
        if not keyed.size:
            return
        wanted = rows[keyed]
        if reread is not None:
            values = _values_of_rows(reread(), wanted, self.columns)
        else:
            values = self._rendered(good_pos[keyed])

        details = []
        for row, key, v in zip(wanted.tolist(), keys[keyed].tolist(), values, strict=True):
            lo, hi = np.searchsorted(sorted_keys, [key, key + 1])
            others = sorted(set(rows[order[lo:hi]].tolist()) - {row})
            shown = ", ".join(map(str, others[:_OTHER_ROWS_SHOWN]))
            if len(others) > _OTHER_ROWS_SHOWN:
                shown += f" and {len(others) - _OTHER_ROWS_SHOWN} more"
            ticker = self.tickers[key >> 32].as_py()
            day = (MIN_DATE + timedelta(days=key & _DAY_MASK)).isoformat()
            message = (
                f"(ticker, date) = ({ticker}, {day}) also appears on row(s) {shown}; "
                "the file is ambiguous, so every occurrence is rejected"
            )
            details.append(RejectedRow(row, RejectReason.DUPLICATE_KEY, message, v))
        self._keep_details(details)

    def _rendered(self, positions: IntArray) -> list[dict[str, str | None]]:
        """Values of good rows rebuilt from their parsed fields (source not re-readable)."""
        take = pa.array(positions)
        texts = {
            spec.name: _as_text(pa.chunked_array(chunks, spec.type).take(take).combine_chunks())
            for spec, chunks in zip(VALIDATED_SCHEMA, self.good, strict=True)
            if spec.name in self.columns
        }
        return [{c: texts[c][k] for c in self.columns if c in texts} for k in range(len(positions))]


def _concat(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _as_text(array: pa.Array) -> list[str | None]:
    """Field values as text: strings as they are, other types through Arrow's cast."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    values: list[str | None] = array.to_pylist()
    return values


def _values_at(
    raw: RawBatch, indices: IntArray, columns: tuple[str, ...]
) -> list[dict[str, str | None]]:
    """The fields of rows ``indices`` of a batch, by column in header order."""
    take = pa.array(indices)
    by_column = {**raw.columns, **raw.extra}
    texts = {c: _as_text(by_column[c].take(take)) for c in columns if c in by_column}
    return [{c: t[k] for c, t in texts.items()} for k in range(len(indices))]


def _values_of_rows(
    batches: Iterator[RawBatch], wanted: IntArray, columns: tuple[str, ...]
) -> list[dict[str, str | None]]:
    """Re-read the fields of the (ascending) record numbers ``wanted``."""
    found: dict[int, dict[str, str | None]] = {}
    last = int(wanted[-1])
    for batch in batches:
        hit = np.flatnonzero(np.isin(batch.rows, wanted))
        for row, values in zip(
            batch.rows[hit].tolist(), _values_at(batch, hit, columns), strict=True
        ):
            found[row] = values
        if batch.num_rows and batch.rows[-1] >= last:
            break
    return [found.get(int(r), {}) for r in wanted]


# --------------------------------------------------------------------------- later checks


def quarantine_rows(
    result: ValidatedPrices, rejections: Mapping[int, tuple[RejectReason, str]]
) -> ValidatedPrices:
    """Move good rows to the rejected ones (checks made after validation, at landing).

    Parameters
    ----------
    result : ValidatedPrices
        Outcome of :func:`validate_prices`.
    rejections : mapping of int to (RejectReason, str)
        Position in :attr:`ValidatedPrices.table` → reason and message.

    Returns
    -------
    ValidatedPrices
        The same file's outcome with those rows rejected: counts updated, details kept
        under the same cap (lowest record numbers first). Their values are rendered from
        the parsed fields (ignored columns absent), as for a non-seekable source.
    """
    if not rejections:
        return result
    positions = np.array(sorted(rejections), dtype=np.int64)
    keep = np.ones(result.table.num_rows, dtype=np.bool_)
    keep[positions] = False
    rows = result.table.take(pa.array(positions))
    texts = {
        name: _as_text(rows[name].combine_chunks())
        for name in VALIDATED_SCHEMA.names
        if name in result.columns
    }
    details = [
        RejectedRow(
            int(result.record_numbers[position]),
            rejections[int(position)][0],
            rejections[int(position)][1],
            {name: texts[name][k] for name in result.columns if name in texts},
        )
        for k, position in enumerate(positions.tolist())
    ]
    counts = dict(result.rejected_counts)
    for reason, _ in rejections.values():
        counts[str(reason)] += 1
    kept_details = sorted([*result.rejected, *details], key=lambda r: r.row)
    return replace(
        result,
        table=result.table.filter(pa.array(keep)),
        record_numbers=result.record_numbers[keep],
        rejected=tuple(kept_details[: result.max_rejected_details]),
        rejected_counts=counts,
    )


# --------------------------------------------------------------------------- reports


def quarantine_report(
    result: ValidatedPrices, *, source_key: str, source_version: str | None
) -> dict[str, Any]:
    """The JSON report written next to the quarantined rows.

    Parameters
    ----------
    result : ValidatedPrices
        Outcome of :func:`validate_prices`.
    source_key : str
        Object key of the raw file.
    source_version : str or None
        Its S3 version id, when versioning is on.

    Returns
    -------
    dict
        JSON-safe: ``report_version``, ``source`` (key, version, format, columns,
        ignored_columns), ``counts`` (read, accepted, rejected, by_reason with every
        reason), ``truncated`` (details fewer than rejected rows), ``rejected_rows_kept``
        and ``rejected_rows``: ``{row, reason, message, values}`` in row order.
    """
    return {
        "report_version": REPORT_VERSION,
        "source": {
            "key": source_key,
            "version": source_version,
            "format": result.file_format,
            "columns": list(result.columns),
            "ignored_columns": list(result.ignored_columns),
        },
        "counts": {
            "read": result.rows_read,
            "accepted": result.rows_accepted,
            "rejected": result.rows_rejected,
            "by_reason": dict(result.rejected_counts),
        },
        "truncated": result.truncated,
        "rejected_rows_kept": len(result.rejected),
        "rejected_rows": [
            {"row": r.row, "reason": str(r.reason), "message": r.message, "values": dict(r.values)}
            for r in result.rejected
        ],
    }


def _cell(value: object) -> str:
    """A CSV cell safe to open in a spreadsheet (:func:`core.text_safety.spreadsheet_safe`)."""
    return spreadsheet_safe("" if value is None else str(value))


def quarantine_csv(rejected: Sequence[RejectedRow], columns: Sequence[str]) -> bytes:
    """The rejected rows as a UTF-8 CSV: ``row,reason,<columns…>``.

    Parameters
    ----------
    rejected : sequence of RejectedRow
        Usually :attr:`ValidatedPrices.rejected`.
    columns : sequence of str
        Value columns, usually :attr:`ValidatedPrices.columns`; a value a row lacks
        is written empty.

    Returns
    -------
    bytes
        RFC 4180 CSV (CRLF, fields with commas/quotes/newlines quoted). A cell that
        starts with TAB, CR or LF, or whose first visible character (NFKC-normalised,
        so full-width forms count) is ``= + - @``, gets a leading single quote so that a
        spreadsheet shows it as text instead of evaluating it (``-1`` and ``" =1"`` too).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_cell(c) for c in ("row", "reason", *columns)])
    for r in rejected:
        writer.writerow([_cell(r.row), _cell(r.reason), *(_cell(r.values.get(c)) for c in columns)])
    return out.getvalue().encode("utf-8")
