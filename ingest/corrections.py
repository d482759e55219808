"""Corrections: the operator's explicit word that a large move is real (a split).

A day's move outside the plausible range is quarantined (:mod:`ingest.plausibility`); the
only way to let one in is a corrections file, a small CSV an operator lands under
``raw/prices/_corrections/`` (same bucket, same EventBridge rule as price files)::

    ticker,date,ratio,note
    ACME,2025-03-03,100,100-for-1 split effective 2025-03-03
    BIGCO,2025-03-04,0.05,1-for-20 reverse split

``ratio`` is shares after per share before (2 for a 2-for-1 split, 0.05 for a 1-for-20
reverse split): the close on ``date`` is judged by its split-adjusted move
``close × ratio / previous close − 1`` as well as by its raw move, and accepted when either
is plausible. A correction only ever lets a row in; it never keeps one out, and the
stored return stays the raw move (returns are always derived from the prices).

A corrections file is all or nothing: any bad header or row refuses the whole file
(``BAD_CORRECTIONS``, with a report in ``quarantine/``). Good files are merged into one
object, :data:`CORRECTIONS_KEY` (``_``-prefixed, so Athena, Glue and pyarrow datasets
never take it for a partition of ``prices``); the same ``(ticker, date)`` again replaces
its ratio. The quarantined rows of earlier landings are not replayed: land their file
again (a new version of the raw object) once the correction is in.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from core.aws import is_missing_object
from core.models import TICKER_PATTERN
from ingest._checks import MIN_DATE
from ingest.exceptions import FileRejectCode, FileRejectedError
from ingest.lake import PartitionStore, PartitionWrite
from ingest.schemas import PRICES_PREFIX, RAW_PRICES_PREFIX

__all__ = [
    "CORRECTIONS_KEY",
    "CORRECTIONS_RAW_PREFIX",
    "CORRECTIONS_SCHEMA",
    "MAX_CORRECTION_ROWS",
    "MAX_SPLIT_RATIO",
    "MIN_SPLIT_RATIO",
    "is_corrections_key",
    "parse_corrections",
    "read_split_ratios",
    "store_corrections",
]

#: Where an operator lands a corrections file.
CORRECTIONS_RAW_PREFIX: Final = f"{RAW_PRICES_PREFIX}_corrections/"
#: The merged corrections (the ingest role may write only under ``curated/prices/``).
CORRECTIONS_KEY: Final = f"{PRICES_PREFIX}_corrections/data.parquet"
MIN_SPLIT_RATIO: Final = 1e-4
MAX_SPLIT_RATIO: Final = 1e4
MAX_CORRECTION_ROWS: Final = 10_000
_MAX_NOTE_CHARS: Final = 500
_PROBLEMS_SHOWN: Final = 20
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_TICKER: Final = re.compile(TICKER_PATTERN)
_REQUIRED: Final = ("ticker", "date", "ratio")

CORRECTIONS_SCHEMA: Final = pa.schema(
    [
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("ratio", pa.float64(), nullable=False),
        pa.field("note", pa.string()),
        pa.field("source_key", pa.string(), nullable=False),
        pa.field("source_version", pa.string()),
        pa.field("source_time", pa.timestamp("ms", tz="UTC"), nullable=False),
    ]
)


def is_corrections_key(key: str) -> bool:
    """Whether a raw object is a corrections file rather than a price file."""
    return key.startswith(CORRECTIONS_RAW_PREFIX)


def _refuse(problems: list[str]) -> FileRejectedError:
    shown = "; ".join(problems[:_PROBLEMS_SHOWN])
    hidden = len(problems) - _PROBLEMS_SHOWN
    more = f" (and {hidden} more)" if hidden > 0 else ""
    return FileRejectedError(
        FileRejectCode.BAD_CORRECTIONS,
        f"corrections file refused, nothing of it stored: {shown}{more} "
        "(expected CSV columns ticker,date,ratio[,note]; docs/INGEST.md)",
    )


def _ratio(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not MIN_SPLIT_RATIO <= value <= MAX_SPLIT_RATIO:
        return None
    return value


def _day(text: str) -> date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day >= MIN_DATE else None


def parse_corrections(
    data: bytes, *, source_key: str, source_version: str | None, source_time: datetime
) -> pa.Table:
    """Read and check a corrections CSV, all or nothing.

    Parameters
    ----------
    data : bytes
        The file (UTF-8 CSV, header ``ticker,date,ratio[,note]`` in any order and case).
    source_key, source_version, source_time
        Lineage of the raw object, stored with each correction.

    Returns
    -------
    pyarrow.Table
        :data:`CORRECTIONS_SCHEMA` rows, one per ``(ticker, date)``.

    Raises
    ------
    FileRejectedError
        ``BAD_CORRECTIONS`` naming every problem (first 20): not UTF-8, a missing
        column, more than 10,000 rows, a ticker off the exchange-symbol pattern, a date
        that is not ISO ``YYYY-MM-DD`` from 1900, a ratio that is not a number in
        [1e-4, 1e4], a ``(ticker, date)`` twice.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _refuse([f"not UTF-8 ({error.reason} at byte {error.start})"]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise _refuse([f"missing column(s) {missing} in header {header}"])
    where = {name: header.index(name) for name in (*_REQUIRED, "note") if name in header}
    problems: list[str] = []
    rows: dict[tuple[str, date], dict[str, Any]] = {}
    for number, fields in enumerate(reader, start=1):
        if not any(field.strip() for field in fields):
            continue  # a blank line
        if number > MAX_CORRECTION_ROWS:
            raise _refuse([f"more than {MAX_CORRECTION_ROWS:,} rows"])
        if len(fields) != len(header):
            problems.append(f"row {number}: {len(fields)} fields, the header has {len(header)}")
            continue
        ticker, day_text, ratio_text = (fields[where[name]].strip() for name in _REQUIRED)
        day, ratio = _day(day_text), _ratio(ratio_text)
        if not _TICKER.match(ticker):
            problems.append(f"row {number}: ticker {ticker!r} is not an exchange symbol")
        if day is None:
            problems.append(f"row {number}: date {day_text!r} is not a YYYY-MM-DD date from 1900")
        if ratio is None:
            problems.append(
                f"row {number}: ratio {ratio_text!r} is not a number in "
                f"[{MIN_SPLIT_RATIO:g}, {MAX_SPLIT_RATIO:g}]"
            )
        if day is None or ratio is None or not _TICKER.match(ticker):
            continue
        if (ticker, day) in rows:
            problems.append(f"row {number}: ({ticker}, {day}) appears twice")
            continue
        note = fields[where["note"]].strip()[:_MAX_NOTE_CHARS] if "note" in where else None
        rows[(ticker, day)] = {"ticker": ticker, "date": day, "ratio": ratio, "note": note}
    if problems:
        raise _refuse(problems)
    if not rows:
        raise _refuse(["no corrections in it"])
    lineage = {"source_key": source_key, "source_version": source_version}
    return pa.Table.from_pylist(
        [{**row, **lineage, "source_time": source_time} for row in rows.values()],
        schema=CORRECTIONS_SCHEMA,
    )


class _CorrectionsStore(PartitionStore):
    """The one corrections object, replaced with the partition store's conditional write."""

    def key(self, year: int) -> str:
        del year  # one object, not partitioned
        return CORRECTIONS_KEY


def store_corrections(s3: Any, bucket: str, incoming: pa.Table) -> PartitionWrite:
    """Merge corrections into :data:`CORRECTIONS_KEY`: a ``(ticker, date)`` again replaces."""
    store = _CorrectionsStore(bucket, PRICES_PREFIX, CORRECTIONS_SCHEMA, s3=s3)

    def merge(current: pa.Table | None) -> pa.Table | None:
        if current is None or current.num_rows == 0:
            return incoming
        current = current.cast(CORRECTIONS_SCHEMA)
        keys = incoming.select(["ticker", "date"])
        kept = current.join(keys, keys=["ticker", "date"], join_type="left anti")
        return pa.concat_tables([kept.select(CORRECTIONS_SCHEMA.names), incoming])

    return store.upsert(0, merge)


def read_split_ratios(s3: Any, bucket: str) -> Mapping[tuple[str, int], float]:
    """The stored corrections: ``(ticker, days since 1970-01-01) → ratio`` (empty if none)."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=CORRECTIONS_KEY)
    except ClientError as error:
        if is_missing_object(error, s3, bucket, CORRECTIONS_KEY):
            return {}
        raise
    table = pq.read_table(io.BytesIO(answer["Body"].read()), columns=["ticker", "date", "ratio"])
    days = pc.cast(table["date"], pa.int32()).to_pylist()
    return dict(
        zip(
            zip(table["ticker"].to_pylist(), days, strict=True),
            table["ratio"].to_pylist(),
            strict=True,
        )
    )
