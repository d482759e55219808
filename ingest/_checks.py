"""Vectorised field checks behind :func:`ingest.validation.validate_prices`.

Each ``check_*`` function parses one column of one batch with pyarrow.compute and
numpy (no per-row Python) and returns the parsed values plus a per-row *status*: 0
when the field is fine, else the 1-based position of its :class:`RejectReason` in
priority order. Date and ticker columns repeat few distinct values per batch, so they
are dictionary-encoded and only the distinct values are parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from core.models import TICKER_PATTERN

__all__ = [
    "MAX_PRICE",
    "MIN_DATE",
    "MIN_PRICE",
    "REASONS",
    "DateColumn",
    "NumberColumn",
    "RejectReason",
    "TickerColumn",
    "check_dates",
    "check_ohlc",
    "check_price",
    "check_tickers",
    "check_volume",
    "code_of",
    "first_problem",
    "local_time_zone_error",
]

IntArray: TypeAlias = npt.NDArray[np.int64]
FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
CodeArray: TypeAlias = npt.NDArray[np.int8]


class RejectReason(StrEnum):
    """Why a row was quarantined; stable codes of the quarantine report.

    Members are in priority order: a row with several problems is reported with the
    first one that applies (fields in file-schema order within one reason).
    """

    MALFORMED_ROW = "MALFORMED_ROW"
    """CSV record with a different number of fields than the header."""
    MISSING_VALUE = "MISSING_VALUE"
    """``date``, ``ticker`` or ``close`` empty (or null in Parquet)."""
    BAD_DATE = "BAD_DATE"
    """Not an ISO ``YYYY-MM-DD`` calendar date, or before 1900-01-01."""
    DATE_HAS_TIME = "DATE_HAS_TIME"
    """A date-time (Parquet timestamp or ISO text) whose time of day is not midnight in its
    own zone: which calendar day it means is not ours to guess."""
    FUTURE_DATE = "FUTURE_DATE"
    """After the validation day (UTC)."""
    BAD_TICKER = "BAD_TICKER"
    """Not an upper-case exchange symbol such as ``AAPL``, ``BRK.B``, ``BF-B``."""
    BAD_NUMBER = "BAD_NUMBER"
    """A price that is not a number."""
    NON_FINITE_PRICE = "NON_FINITE_PRICE"
    """NaN or ±infinity (including overflow such as ``1e999``)."""
    NON_POSITIVE_PRICE = "NON_POSITIVE_PRICE"
    """A price ≤ 0."""
    PRICE_OUT_OF_RANGE = "PRICE_OUT_OF_RANGE"
    """A price outside [``MIN_PRICE``, ``MAX_PRICE``] = [1e-6, 1e9]."""
    BAD_VOLUME = "BAD_VOLUME"
    """Volume not an integer ≥ 0 (``1200.0`` is fine)."""
    INCONSISTENT_OHLC = "INCONSISTENT_OHLC"
    """``low > min(open, close)`` or ``high < max(open, close)``."""
    DUPLICATE_KEY = "DUPLICATE_KEY"
    """The same ``(ticker, date)`` appears on several rows of the file."""
    IMPLAUSIBLE_MOVE = "IMPLAUSIBLE_MOVE"
    """The day's move against the ticker's previous available close (or the move of the
    next close against this one) is outside [``MIN_DAY_MOVE``, ``MAX_DAY_MOVE``], and no
    correction accepts it (decided at landing, against the lake: :mod:`ingest.plausibility`)."""


REASONS: Final[tuple[RejectReason, ...]] = tuple(RejectReason)


def code_of(reason: RejectReason) -> int:
    """Status code of ``reason`` (1-based priority; 0 means no problem)."""
    return REASONS.index(reason) + 1


OK: Final = 0
_MISSING: Final = code_of(RejectReason.MISSING_VALUE)
_BAD_DATE: Final = code_of(RejectReason.BAD_DATE)
_HAS_TIME: Final = code_of(RejectReason.DATE_HAS_TIME)
_FUTURE: Final = code_of(RejectReason.FUTURE_DATE)
_BAD_TICKER: Final = code_of(RejectReason.BAD_TICKER)
_BAD_NUMBER: Final = code_of(RejectReason.BAD_NUMBER)
_NON_FINITE: Final = code_of(RejectReason.NON_FINITE_PRICE)
_NON_POSITIVE: Final = code_of(RejectReason.NON_POSITIVE_PRICE)
_OUT_OF_RANGE: Final = code_of(RejectReason.PRICE_OUT_OF_RANGE)
_BAD_VOLUME: Final = code_of(RejectReason.BAD_VOLUME)

MIN_DATE: Final = date(1900, 1, 1)
_EPOCH: Final = date(1970, 1, 1)
MIN_DAY: Final = (MIN_DATE - _EPOCH).days
MIN_PRICE: Final = 1e-6
MAX_PRICE: Final = 1e9
OHLC_REL_TOL: Final = 1e-9

_ISO_DATE: Final = r"^\d{4}-\d{2}-\d{2}$"
# ISO 8601 / RFC 3339 date-times: a time of day and an optional zone (Z or a UTC offset).
_TIME_OF_DAY: Final = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?"
_ZONE: Final = r"(?:[Zz]|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?"
_ISO_DATE_TIME: Final = rf"^\d{{4}}-\d{{2}}-\d{{2}}[Tt ]{_TIME_OF_DAY}{_ZONE}$"
_ISO_MIDNIGHT: Final = rf"^\d{{4}}-\d{{2}}-\d{{2}}[Tt ]00:00(?::00(?:\.0{{1,9}})?)?{_ZONE}$"
_ISO_DATE_CHARS: Final = 10
# Exactly the finite and non-finite spellings pyarrow's string→float64 cast accepts,
# so that the cast of the matching strings cannot fail.
_NUMBER: Final = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_NON_FINITE_WORD: Final = r"(?i)^[+-]?(?:nan(?:\([0-9a-z_]*\))?|inf|infinity)$"
_INTEGER: Final = r"^[+-]?\d{1,18}$"  # fits int64 whatever the digits
_DAY_UNITS: Final[dict[str, int]] = {
    "s": 86_400,
    "ms": 86_400_000,
    "us": 86_400_000_000,
    "ns": 86_400_000_000_000,
}
_INT64_LIMIT: Final = 2.0**63
_EXACT_FLOAT_INTS: Final = 2**53


def _np_bool(array: pa.Array | pa.ChunkedArray) -> BoolArray:
    """A boolean array as numpy, nulls as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


def _is_string(array: pa.Array) -> bool:
    return bool(pa.types.is_string(array.type) or pa.types.is_large_string(array.type))


def _encode(array: pa.Array) -> tuple[pa.Array, IntArray]:
    """Dictionary-encode: distinct values and per-row indices (null → ``len(values)``)."""
    encoded = pc.dictionary_encode(array)
    values = encoded.dictionary
    indices = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False)
    return values, np.asarray(indices, dtype=np.int64)


def _to_float(strings: pa.Array) -> FloatArray:
    """Cast pre-validated numeric strings (nulls elsewhere) to float64, nulls → NaN."""
    try:
        floats = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid:  # pragma: no cover - the regexes mirror the cast's grammar
        floats = pa.array(
            [None if s is None else float(s) for s in strings.to_pylist()], pa.float64()
        )
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)


def _parse_floats(strings: pa.Array) -> tuple[FloatArray, BoolArray, BoolArray]:
    """Parse numeric text: (values with NaN where not a number, present, numeric)."""
    try:
        # Fast path: a clean batch casts as a whole. The cast refuses empty strings and
        # surrounding spaces and otherwise accepts exactly the regexes' grammar, so
        # both paths give the same answer.
        floats = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid:
        trimmed, empty = _trimmed(strings)
        numeric = ~empty & _matches(trimmed, _NUMBER, _NON_FINITE_WORD)
        null = pa.scalar(None, pa.string())
        return _to_float(pc.if_else(pa.array(numeric), trimmed, null)), ~empty, numeric
    present = _np_bool(pc.is_valid(floats))
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64), present, present


def _trimmed(array: pa.Array) -> tuple[pa.Array, BoolArray]:
    """Strip surrounding whitespace; also say which values are empty or null."""
    trimmed = pc.utf8_trim_whitespace(array)
    # Null lengths are null → False → empty. (Lengths are far cheaper than == "".)
    lengths = pc.fill_null(pc.binary_length(trimmed), 0).to_numpy(zero_copy_only=False)
    return trimmed, np.asarray(lengths, dtype=np.int64) == 0


def _matches(array: pa.Array, *patterns: str) -> BoolArray:
    out = np.zeros(len(array), dtype=np.bool_)
    for pattern in patterns:
        out |= _np_bool(pc.match_substring_regex(array, pattern))
    return out


# --------------------------------------------------------------------------- dates


@dataclass(frozen=True)
class DateColumn:
    """Parsed ``date`` column.

    Attributes
    ----------
    days : numpy.ndarray
        Days since 1970-01-01 where ``parsed`` (0 elsewhere): the calendar day in the
        value's own zone (see :func:`check_dates`).
    parsed : numpy.ndarray
        A calendar date was read (it may still be out of range or carry a time of day).
    status : numpy.ndarray
        Per-row status code.
    """

    days: IntArray
    parsed: BoolArray
    status: CodeArray


def _iso_dates(values: pa.Array) -> tuple[IntArray, BoolArray, BoolArray, BoolArray]:
    """Parse distinct ISO date or date-time strings: (days, parsed, empty, has_time).

    A date-time's day is the ``YYYY-MM-DD`` it is written with: that is the calendar day
    in its own zone (``2025-01-06T00:00:00+09:00`` is 2025-01-06, never UTC's 01-05).
    ``has_time``: a well-formed date-time whose time of day is not midnight.
    """
    trimmed, empty = _trimmed(values)
    is_date = pc.match_substring_regex(trimmed, _ISO_DATE)
    is_date_time = pc.match_substring_regex(trimmed, _ISO_DATE_TIME)
    null = pa.scalar(None, pa.string())
    day_text = pc.if_else(
        is_date,
        trimmed,
        pc.if_else(is_date_time, pc.utf8_slice_codeunits(trimmed, 0, _ISO_DATE_CHARS), null),
    )
    stamps = pc.strptime(day_text, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2024-02-30 over to 2024-03-01: a round trip catches that.
    parsed = _np_bool(pc.equal(pc.strftime(stamps, format="%Y-%m-%d"), day_text))
    seconds = pc.fill_null(pc.cast(stamps, pa.int64()), 0).to_numpy(zero_copy_only=False)
    days = np.where(parsed, np.asarray(seconds, dtype=np.int64) // 86_400, 0)
    has_time = _np_bool(is_date_time) & ~_matches(trimmed, _ISO_MIDNIGHT)
    return days, parsed, empty, has_time


def local_time_zone_error(data_type: pa.DataType) -> str | None:
    """Why a zone-aware timestamp type cannot be read as local dates (None: it can).

    Parameters
    ----------
    data_type : pyarrow.DataType
        A column's type; only timestamps with a zone are checked.

    Returns
    -------
    str or None
        The time-zone database's complaint about the zone (unknown name, bad offset).
    """
    if not pa.types.is_timestamp(data_type) or not data_type.tz:
        return None
    try:
        pc.local_timestamp(pa.array([0], data_type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        return str(error)
    return None


def _typed_days(array: pa.Array) -> tuple[IntArray, BoolArray]:
    """Calendar days of a date32/date64/timestamp array, and which carry a time of day.

    A naive timestamp's day is its own (wall-clock) day; a zone-aware one is first
    converted to the wall clock of *its own* zone (its storage is UTC), so a Tokyo
    midnight stays on its Tokyo day. Either is flagged when it is not at midnight.
    """
    t = array.type
    if pa.types.is_date32(t):
        raw = pc.cast(array, pa.int32())
        unit = 1
    elif pa.types.is_date64(t):
        raw = pc.cast(array, pa.int64())
        unit = 86_400_000
    else:
        # The storage of a zone-aware timestamp is UTC: its wall clock in its own zone
        # first (a zone the database lacks refuses the file up front, see _readers).
        wall_clock = pc.local_timestamp(array) if t.tz else array
        raw = wall_clock.view(pa.int64())
        unit = _DAY_UNITS[t.unit]
    ints = np.asarray(pc.fill_null(raw, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    has_time = np.zeros(len(ints), dtype=np.bool_)
    if pa.types.is_timestamp(t):
        has_time = ints % unit != 0
    return ints // unit, has_time


def check_dates(array: pa.Array, today_day: int) -> DateColumn:
    """Parse and check the ``date`` column.

    A price's date is a calendar day in the file's own terms: ``YYYY-MM-DD`` text or a
    date column as it is; a date-time (a Parquet timestamp, or ISO text such as
    ``2025-01-06T00:00:00+09:00``) is the day of its wall clock in its own zone (a naive
    one: as written), never converted to UTC, and must be at midnight.

    Parameters
    ----------
    array : pyarrow.Array
        Strings (CSV, or Parquet strings), date32/date64 or timestamps, or nulls.
    today_day : int
        The validation day as days since 1970-01-01; later dates are FUTURE_DATE.

    Returns
    -------
    DateColumn
        MISSING_VALUE when empty or null, BAD_DATE when not an ISO calendar date (or
        date-time) or before 1900-01-01, DATE_HAS_TIME when a date-time is not at
        midnight in its own zone, FUTURE_DATE when after ``today_day``.
    """
    n = len(array)
    has_time = np.zeros(n, np.bool_)
    if pa.types.is_null(array.type):
        days, parsed, missing = np.zeros(n, np.int64), np.zeros(n, np.bool_), np.ones(n, np.bool_)
    elif _is_string(array):
        values, indices = _encode(array)
        d_days, d_parsed, d_empty, d_has_time = _iso_dates(values)
        # One extra slot at the end stands for null.
        days = np.append(d_days, 0)[indices]
        parsed = np.append(d_parsed, False)[indices]
        missing = np.append(d_empty, True)[indices]
        has_time = np.append(d_has_time, False)[indices]
    else:
        missing = ~_np_bool(pc.is_valid(array))
        parsed = ~missing
        typed_days, typed_has_time = _typed_days(array)
        days = np.where(parsed, typed_days, 0)
        has_time = parsed & typed_has_time
    status = np.select(
        [missing, ~parsed | (days < MIN_DAY), has_time, days > today_day],
        [_MISSING, _BAD_DATE, _HAS_TIME, _FUTURE],
        OK,
    ).astype(np.int8)
    return DateColumn(days=days, parsed=parsed, status=status)


# --------------------------------------------------------------------------- tickers


@dataclass(frozen=True)
class TickerColumn:
    """Parsed ``ticker`` column in dictionary form.

    Attributes
    ----------
    values : pyarrow.Array
        Stripped tickers (string); may repeat once stripped.
    indices : numpy.ndarray
        Per-row index into ``values``; ``len(values)`` for a null.
    status : numpy.ndarray
        Per-row status code.
    """

    values: pa.Array
    indices: IntArray
    status: CodeArray


def check_tickers(array: pa.Array) -> TickerColumn:
    """Strip and check tickers: MISSING_VALUE when empty/null, BAD_TICKER off pattern."""
    if pa.types.is_null(array.type):
        array = array.cast(pa.string())
    values, indices = _encode(array)
    trimmed, empty = _trimmed(values)
    good = _matches(trimmed, TICKER_PATTERN)
    d_status = np.select([empty, ~good], [_MISSING, _BAD_TICKER], OK).astype(np.int8)
    status = np.append(d_status, np.int8(_MISSING))[indices]
    return TickerColumn(values=trimmed, indices=indices, status=status)


# --------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class NumberColumn:
    """Parsed price or volume column.

    Attributes
    ----------
    values : numpy.ndarray
        float64 prices (NaN where absent) or int64 volumes (0 where absent or bad).
    present : numpy.ndarray
        The field is non-empty and non-null.
    status : numpy.ndarray
        Per-row status code.
    """

    values: FloatArray | IntArray
    present: BoolArray
    status: CodeArray


def check_price(array: pa.Array | None, n: int, *, required: bool) -> NumberColumn:
    """Parse and check a price column (``close`` required, ``open/high/low`` optional).

    Parameters
    ----------
    array : pyarrow.Array or None
        Strings or any numeric type; ``None`` when the file lacks the column.
    n : int
        Rows in the batch (for an absent column).
    required : bool
        Empty/null is MISSING_VALUE when required, else a null price.

    Returns
    -------
    NumberColumn
        Status in priority order: MISSING_VALUE, BAD_NUMBER, NON_FINITE_PRICE,
        NON_POSITIVE_PRICE, PRICE_OUT_OF_RANGE (outside [1e-6, 1e9]).
    """
    if array is None or pa.types.is_null(array.type):
        present = np.zeros(n, dtype=np.bool_)
        values = np.full(n, np.nan)
        numeric = present
    elif _is_string(array):
        values, present, numeric = _parse_floats(array)
    else:
        present = _np_bool(pc.is_valid(array))
        numeric = present
        floats = pc.cast(array, pa.float64(), safe=False)
        values = np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        status = np.select(
            [
                ~present & required,
                present & ~numeric,
                numeric & ~finite,
                finite & (values <= 0),
                finite & ((values < MIN_PRICE) | (values > MAX_PRICE)),
            ],
            [_MISSING, _BAD_NUMBER, _NON_FINITE, _NON_POSITIVE, _OUT_OF_RANGE],
            OK,
        ).astype(np.int8)
    return NumberColumn(values=values, present=present, status=status)


def _whole_floats(values: FloatArray) -> tuple[IntArray, BoolArray]:
    """Floats that are whole numbers in [0, 2**63) as int64, and which are."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (values >= 0) & (values < _INT64_LIMIT)
        ok &= np.floor(values) == values
    return np.where(ok, values, 0).astype(np.int64), ok


def _parse_volumes(strings: pa.Array) -> tuple[IntArray, BoolArray, BoolArray]:
    """Parse volume text: (int64 values, present, valid)."""
    try:
        # Fast path as for prices; floats are exact integers below 2**53.
        floats = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid:
        pass
    else:
        present = _np_bool(pc.is_valid(floats))
        values, ok = _whole_floats(np.asarray(floats.to_numpy(zero_copy_only=False), np.float64))
        if not (ok & (values >= _EXACT_FLOAT_INTS)).any():
            return values, present, ok
    # Integer spellings are cast exactly (pyarrow's int cast also takes hex: not used
    # unfiltered); other numeric spellings must be whole floats.
    trimmed, empty = _trimmed(strings)
    null = pa.scalar(None, pa.string())
    is_int = _matches(trimmed, _INTEGER)
    ints_raw = pc.cast(
        pc.utf8_ltrim(pc.if_else(pa.array(is_int), trimmed, null), characters="+"), pa.int64()
    )
    ints = np.asarray(pc.fill_null(ints_raw, 0).to_numpy(zero_copy_only=False), np.int64)
    is_float = ~empty & ~is_int & _matches(trimmed, _NUMBER, _NON_FINITE_WORD)
    whole, whole_ok = _whole_floats(_to_float(pc.if_else(pa.array(is_float), trimmed, null)))
    values = np.where(is_int, ints, whole)
    return values, ~empty, (is_int & (ints >= 0)) | (is_float & whole_ok)


def check_volume(array: pa.Array | None, n: int) -> NumberColumn:
    """Parse and check ``volume``: optional, an integer ≥ 0 (``1200.0`` accepted).

    Integer spellings of up to 18 digits are read exactly, other numeric spellings
    must be whole floats; anything else, negative or ≥ 2**63 is BAD_VOLUME. Parquet
    integer columns are taken as they are, float/decimal ones must be whole.
    """
    zeros = np.zeros(n, dtype=np.int64)
    if array is None or pa.types.is_null(array.type):
        return NumberColumn(zeros, np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.int8))
    t = array.type
    if _is_string(array):
        values, present, ok = _parse_volumes(array)
    elif pa.types.is_integer(t):
        present = _np_bool(pc.is_valid(array))
        ok = present.copy()
        if pa.types.is_uint64(t):
            ok &= ~_np_bool(pc.greater(array, pa.scalar(2**63 - 1, pa.uint64())))
        ints_raw = pc.cast(array, pa.int64(), safe=False)
        values = np.asarray(pc.fill_null(ints_raw, 0).to_numpy(zero_copy_only=False), np.int64)
        ok &= values >= 0
    else:
        present = _np_bool(pc.is_valid(array))
        floats = pc.cast(array, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        values, ok = _whole_floats(np.asarray(floats, dtype=np.float64))
    status = np.where(present & ~ok, _BAD_VOLUME, OK).astype(np.int8)
    values = np.where(present & ok, values, 0)
    return NumberColumn(values=values, present=present & ok, status=status)


def _le(a: FloatArray, b: FloatArray) -> BoolArray:
    """``a ≤ b`` up to a relative tolerance (vendors round each price separately)."""
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.asarray(a <= b + OHLC_REL_TOL * scale, dtype=np.bool_)


def check_ohlc(
    close: NumberColumn, open_: NumberColumn, high: NumberColumn, low: NumberColumn
) -> BoolArray:
    """Rows with four valid prices where ``low ≤ min(open, close)`` or
    ``max(open, close) ≤ high`` fails (relative tolerance 1e-9)."""
    usable = np.ones(len(close.status), dtype=np.bool_)
    for col in (close, open_, high, low):
        usable &= col.present & (col.status == OK)
    o, h, lo, c = (np.asarray(col.values, np.float64) for col in (open_, high, low, close))
    with np.errstate(invalid="ignore"):
        bottom, top = np.fmin(o, c), np.fmax(o, c)
        consistent = _le(lo, bottom) & _le(top, h)
    return usable & ~consistent


def first_problem(statuses: list[CodeArray]) -> tuple[CodeArray, CodeArray]:
    """Per row, the highest-priority problem across columns.

    Parameters
    ----------
    statuses : list of numpy.ndarray
        One status array per column, in column order (ties on a reason go to the
        earlier column).

    Returns
    -------
    (codes, columns) : tuple of numpy.ndarray
        The status code (0 for a good row) and the index in ``statuses`` of the
        column it was found in (meaningless for a good row).
    """
    width = len(statuses)
    none = np.iinfo(np.int16).max
    key = np.full(len(statuses[0]), none, dtype=np.int16)
    for index, status in enumerate(statuses):
        np.minimum(
            key, np.where(status > 0, status.astype(np.int16) * width + index, none), out=key
        )
    good = key == none
    codes = np.where(good, 0, key // width).astype(np.int8)
    columns = np.where(good, 0, key % width).astype(np.int8)
    return codes, columns
