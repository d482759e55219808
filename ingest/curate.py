"""Landing: a raw vendor file → validated rows in curated/prices, bad rows in quarantine/.

The raw object is never modified. Each year partition the file touches is merged with
optimistic concurrency (:class:`ingest.lake.PartitionStore`). A correction (same ticker
and date again) replaces the row; an *older* file processed after a newer one does not
(rows carry the raw object's last-modified time, ``source_time``, and within one second
its key then version decide, so every delivery order ends in the same lake); a redelivery
changes nothing. What changed is written as a manifest under ``tmp/changes/`` (the claim
check the ``PricesCurated`` event points at, too big for an event in general).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.aws import client as aws_client
from core.bus import DetailType, EventBus, Source
from core.content_types import CSV_CONTENT_TYPE, JSON_CONTENT_TYPE
from core.settings import max_ingest_file_bytes
from core.text_safety import TERMINAL_UNSAFE
from ingest.corrections import (
    is_corrections_key,
    parse_corrections,
    read_split_ratios,
    store_corrections,
)
from ingest.exceptions import FileRejectCode, FileRejectedError
from ingest.lake import PartitionStore, PartitionWrite, table_to_parquet, years_of
from ingest.plausibility import implausible_moves
from ingest.price_history import read_price_neighbourhood
from ingest.schemas import PRICE_SCHEMA, PRICES_PREFIX, QUARANTINE_PREFIX, RAW_PRICES_PREFIX
from ingest.validation import (
    REPORT_VERSION,
    ValidatedPrices,
    quarantine_csv,
    quarantine_report,
    quarantine_rows,
    validate_prices,
)

__all__ = [
    "CHANGES_PREFIX",
    "LandingResult",
    "SourceObject",
    "land_price_file",
    "merge_prices",
    "read_manifest",
]

CHANGES_PREFIX = "tmp/changes/"
MAX_CORRECTIONS_FILE_BYTES = 1 << 20  # 10,000 corrections fit in well under 1 MiB
_VALUE_COLUMNS = ("close", "open", "high", "low", "volume")


@dataclass(frozen=True)
class SourceObject:
    """The raw object an ingest event names."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None

    @property
    def identity(self) -> str:
        """Stable id of this exact object version (idempotency and quarantine paths)."""
        return self.version_id or (self.etag or "unversioned").strip('"')


@dataclass
class LandingResult:
    """What landing one file did (returned by the handler, logged, and tested)."""

    source_key: str
    status: str  # curated | unchanged | rejected
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rejected_counts: dict[str, int] = field(default_factory=dict)
    partitions_written: list[str] = field(default_factory=list)
    rows_changed: int = 0
    tickers: list[str] = field(default_factory=list)
    first_date: str | None = None
    last_date: str | None = None
    quarantine_key: str | None = None
    manifest_key: str | None = None
    event_id: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _float_values(table: pa.Table, column: str) -> np.ndarray:
    """A nullable float column as float64 with NaN for null (NaN never occurs in the lake)."""
    return np.asarray(
        pc.fill_null(table[column], np.nan).to_numpy(zero_copy_only=False), dtype=np.float64
    )


def _int_values(table: pa.Table, column: str, null: int) -> np.ndarray:
    values = pc.fill_null(pc.cast(table[column], pa.int64()), null)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)


def _row_keys(table: pa.Table, vocabulary: pa.Array) -> np.ndarray:
    """One int64 per (ticker, date): ticker's index in ``vocabulary`` × 2²⁰ + days since 1970."""
    codes = pc.index_in(table["ticker"], value_set=vocabulary).to_numpy(zero_copy_only=False)
    days = pc.cast(pc.cast(table["date"], pa.int32()), pa.int64()).to_numpy(zero_copy_only=False)
    keys: np.ndarray = np.asarray(codes, dtype=np.int64) * (1 << 20) + np.asarray(days, np.int64)
    return keys


def _matches_source(table: pa.Table, rows: np.ndarray, key: str, version: str | None) -> np.ndarray:
    """Whether each of ``rows`` came from the raw object (key, version).

    Compared through dictionary codes: each distinct source is compared once, not per row.
    """
    result = np.ones(len(rows), dtype=bool)
    for column, wanted in (("source_key", key), ("source_version", version)):
        encoded = pc.dictionary_encode(table[column].combine_chunks())
        hit = np.array([value == wanted for value in encoded.dictionary.to_pylist()] + [False])
        indices = pc.fill_null(encoded.indices, len(hit) - 1).to_numpy(zero_copy_only=False)
        if wanted is None:  # a null version matches a null version
            hit[-1] = True
        result &= hit[np.asarray(indices, dtype=np.int64)[rows]]
    return result


def _compare_source(table: pa.Table, rows: np.ndarray, key: str, version: str | None) -> np.ndarray:
    """Sign of (key, version) − each of ``rows``' (source_key, source_version); null < "".

    Through dictionary codes, like :func:`_matches_source`: one comparison per distinct value.
    """

    def signs(column: str, wanted: str | None) -> np.ndarray:
        encoded = pc.dictionary_encode(table[column].combine_chunks())
        mine = (0, "") if wanted is None else (1, wanted)
        values = [(0, "") if v is None else (1, v) for v in encoded.dictionary.to_pylist()]
        values.append((0, ""))  # the code null indices are filled with
        by_code = np.array([(mine > v) - (mine < v) for v in values])
        indices = pc.fill_null(encoded.indices, len(by_code) - 1).to_numpy(zero_copy_only=False)
        return np.asarray(by_code[np.asarray(indices, dtype=np.int64)[rows]], dtype=np.int64)

    by_key = signs("source_key", key)
    return np.where(by_key != 0, by_key, signs("source_version", version))


def merge_prices(current: pa.Table | None, incoming: pa.Table) -> tuple[pa.Table | None, pa.Table]:
    """Merge incoming rows (all from one raw object) into a partition.

    Rows are matched on an int64 key per (ticker, date) with a sorted search, and values
    compared as numpy arrays, so a million-row partition merges in bounded time and memory.

    Returns
    -------
    merged : pyarrow.Table or None
        The partition to write, or None when nothing in it changes.
    affected : pyarrow.Table
        ``(ticker, date)`` of rows whose value is new or changed, plus rows whose current
        value came from this very object (a redelivery after a crash must still announce
        what that object changed).
    """
    incoming = incoming.cast(PRICE_SCHEMA)
    if current is None or current.num_rows == 0:
        return incoming, incoming.select(["ticker", "date"])
    current = current.cast(PRICE_SCHEMA)
    vocabulary = pc.unique(
        pa.concat_arrays([pc.unique(current["ticker"]), pc.unique(incoming["ticker"])])
    )
    cur_keys = _row_keys(current, vocabulary)
    inc_keys = _row_keys(incoming, vocabulary)
    order = np.argsort(cur_keys, kind="stable")
    position = np.searchsorted(cur_keys[order], inc_keys)
    position = np.minimum(position, len(order) - 1)
    matched = cur_keys[order][position] == inc_keys
    cur_idx = order[position]  # meaningful where matched

    same_values = matched.copy()
    for column in ("close", "open", "high", "low"):
        mine, theirs = _float_values(incoming, column), _float_values(current, column)[cur_idx]
        same_values &= (mine == theirs) | (np.isnan(mine) & np.isnan(theirs))
    same_values &= (
        _int_values(incoming, "volume", -1) == _int_values(current, "volume", -1)[cur_idx]
    )
    source_key = incoming["source_key"][0].as_py() if incoming.num_rows else ""
    source_version = incoming["source_version"][0].as_py() if incoming.num_rows else None
    in_time = _int_values(incoming, "source_time", 0)
    cur_time = _int_values(current, "source_time", 0)[cur_idx]
    # Newest wins whatever the delivery order: later Last-Modified, and within the same
    # second (S3's resolution) the greater (key, version), a fixed if arbitrary choice.
    tie = _compare_source(current, cur_idx, str(source_key), source_version)
    newer = (in_time > cur_time) | ((in_time == cur_time) & (tie >= 0))
    same_source = _matches_source(current, cur_idx, str(source_key), source_version)

    is_new = ~matched
    replace = matched & newer & ~same_values
    reannounce = matched & same_values & same_source
    affected = incoming.filter(pa.array(is_new | replace | reannounce)).select(["ticker", "date"])
    if not (is_new.any() or replace.any()):
        return None, affected
    keep = np.ones(current.num_rows, dtype=bool)
    keep[cur_idx[replace]] = False
    merged = pa.concat_tables(
        [current.filter(pa.array(keep)), incoming.filter(pa.array(is_new | replace))]
    )
    return merged, affected


def _with_lineage(good: pa.Table, source: SourceObject, source_time: datetime) -> pa.Table:
    n = good.num_rows
    stamp = pa.timestamp("ms", tz="UTC")
    lineage = {
        "source_key": pa.repeat(pa.scalar(source.key, pa.string()), n),
        "source_version": pa.repeat(pa.scalar(source.version_id, pa.string()), n),
        "source_time": pa.repeat(pa.scalar(source_time, stamp), n),
        "ingested_at": pa.repeat(pa.scalar(datetime.now(UTC), stamp), n),
    }
    return pa.table({**{name: good[name] for name in good.column_names}, **lineage}).cast(
        PRICE_SCHEMA
    )


def _unsafe_key(key: str) -> str | None:
    """Why ``key`` must not be copied into other keys or lineage (None: it is safe).

    S3 keys are literal, but ``.``/``..`` segments escape a folder once a key becomes a
    path (``aws s3 sync``, a local copy of the lake), and control characters reach
    terminals and logs.
    """
    if any(part in (".", "..") for part in key.split("/")):
        return "it has a '.' or '..' path segment"
    bad = TERMINAL_UNSAFE.search(key)  # control characters (tab, LF) and bidi overrides
    if bad is not None:
        return f"it contains the control character U+{ord(bad.group()):04X}"
    return None


def _quarantine_prefix(source: SourceObject) -> str:
    if _unsafe_key(source.key) is not None:
        digest = hashlib.sha256(source.key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{QUARANTINE_PREFIX}prices/_unsafe-keys/{digest}/{source.identity}/"
    relative = source.key.removeprefix(RAW_PRICES_PREFIX)
    return f"{QUARANTINE_PREFIX}prices/{relative}/{source.identity}/"


def _write_quarantine(
    s3: Any,
    source: SourceObject,
    result: ValidatedPrices | None,
    rejection: FileRejectedError | None,
) -> str:
    prefix = _quarantine_prefix(source)
    if rejection is not None:
        report: dict[str, Any] = {
            "report_version": REPORT_VERSION,
            "source": {"key": source.key, "version": source.version_id},
            "file_rejected": True,
            "reason": rejection.code,
            "message": rejection.message,
        }
    else:
        assert result is not None
        report = quarantine_report(result, source_key=source.key, source_version=source.version_id)
        report["file_rejected"] = False
        s3.put_object(
            Bucket=source.bucket,
            Key=prefix + "rows.csv",
            Body=quarantine_csv(result.rejected, result.columns),
            ContentType=CSV_CONTENT_TYPE,
        )
    report["quarantined_at"] = datetime.now(UTC).isoformat()
    s3.put_object(
        Bucket=source.bucket,
        Key=prefix + "report.json",
        Body=json.dumps(report, indent=2, default=str).encode(),
        ContentType=JSON_CONTENT_TYPE,
    )
    return prefix + "report.json"


def read_manifest(s3: Any, bucket: str, key: str) -> pa.Table:
    """The ``(ticker, date)`` rows a PricesCurated event's manifest names."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def _rejected(
    s3: Any, source: SourceObject, result: LandingResult, rejection: FileRejectedError
) -> LandingResult:
    """The whole file refused: a report in quarantine, nothing curated."""
    result.status = "rejected"
    result.reason = f"{rejection.code}: {rejection.message}"
    result.quarantine_key = _write_quarantine(s3, source, None, rejection)
    return result


def _check_day_moves(s3: Any, bucket: str, validated: ValidatedPrices) -> ValidatedPrices:
    """Quarantine the good rows whose day move is implausible (:mod:`ingest.plausibility`).

    Judged against the lake as read now: a landing of the same ticker's neighbouring dates
    racing this one is not seen (the returns stay right either way: they are derived from
    whatever prices the lake ends with).
    """
    if validated.table.num_rows == 0:
        return validated
    store = PartitionStore(bucket, PRICES_PREFIX, PRICE_SCHEMA, s3=s3)
    neighbourhood = read_price_neighbourhood(store, validated.table.select(["ticker", "date"]))
    rejections = implausible_moves(
        validated.table, neighbourhood.closes, lambda: read_split_ratios(s3, bucket)
    )
    return quarantine_rows(validated, rejections)


def _land_corrections(
    s3: Any, source: SourceObject, result: LandingResult, body: bytes, source_time: datetime
) -> LandingResult:
    """A corrections file: checked all or nothing, merged into the corrections object.

    Nothing is curated and nothing announced: a correction only changes how later
    landings judge a day's move (:mod:`ingest.corrections`).
    """
    try:
        corrections = parse_corrections(
            body,
            source_key=source.key,
            source_version=source.version_id,
            source_time=source_time,
        )
    except FileRejectedError as rejection:
        return _rejected(s3, source, result, rejection)
    write = store_corrections(s3, source.bucket, corrections)
    result.rows_read = result.rows_accepted = corrections.num_rows
    result.rejected_counts = {}
    result.partitions_written = [write.key] if write.written else []
    result.tickers = sorted(set(corrections["ticker"].to_pylist()))
    result.first_date = pc.min(corrections["date"]).as_py().isoformat()
    result.last_date = pc.max(corrections["date"]).as_py().isoformat()
    result.reason = f"corrections file: {corrections.num_rows} correction(s) stored"
    return result


def land_price_file(
    source: SourceObject,
    *,
    bus: EventBus,
    s3: Any | None = None,
    today: date | None = None,
) -> LandingResult:
    """Validate one raw price file and merge its good rows into ``curated/prices``.

    Rows pass the field checks (:func:`ingest.validation.validate_prices`), then the
    day-move rule against the lake (:mod:`ingest.plausibility`). A key under
    ``raw/prices/_corrections/`` is a corrections file instead (:mod:`ingest.corrections`).
    """
    s3 = s3 or aws_client("s3")
    get_args: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        get_args["VersionId"] = source.version_id
    result = LandingResult(source_key=source.key, status="curated")
    unsafe = _unsafe_key(source.key)
    if unsafe is not None:
        refusal = FileRejectedError(
            FileRejectCode.UNSAFE_KEY, f"the object key is refused unread: {unsafe}"
        )
        return _rejected(s3, source, result, refusal)
    # Spool to local disk: validation streams from there in bounded memory.
    with tempfile.TemporaryFile() as spool:
        answer = s3.get_object(**get_args)
        source_time = answer["LastModified"].astimezone(UTC)
        size, limit = int(answer.get("ContentLength") or 0), max_ingest_file_bytes()
        if size > limit:
            answer["Body"].close()  # the headers tell the size: not one byte of it is read
            refusal = FileRejectedError(
                FileRejectCode.FILE_TOO_LARGE,
                f"the file has {size:,} bytes; the ingest limit is {limit:,}",
            )
            return _rejected(s3, source, result, refusal)
        if is_corrections_key(source.key):
            if size > MAX_CORRECTIONS_FILE_BYTES:
                answer["Body"].close()
                refusal = FileRejectedError(
                    FileRejectCode.FILE_TOO_LARGE,
                    f"the corrections file has {size:,} bytes; the limit is "
                    f"{MAX_CORRECTIONS_FILE_BYTES:,}",
                )
                return _rejected(s3, source, result, refusal)
            return _land_corrections(s3, source, result, answer["Body"].read(), source_time)
        for chunk in answer["Body"].iter_chunks(1 << 20):
            spool.write(chunk)
        spool.seek(0)
        try:
            validated = validate_prices(spool, filename=source.key, today=today)
        except FileRejectedError as rejection:
            return _rejected(s3, source, result, rejection)

    validated = _check_day_moves(s3, source.bucket, validated)
    result.rows_read = validated.rows_read
    result.rows_accepted = validated.table.num_rows
    result.rows_rejected = validated.rows_rejected
    result.rejected_counts = dict(validated.rejected_counts)
    if validated.rows_rejected:
        result.quarantine_key = _write_quarantine(s3, source, validated, None)
    if validated.table.num_rows == 0:
        result.status = "unchanged"
        return result

    rows = _with_lineage(validated.table, source, source_time)
    del validated
    # Hand the validation's scratch memory back before partitions are read and merged:
    # peak memory is then one partition plus the file's rows, not the sum of every phase.
    pa.default_memory_pool().release_unused()
    store = PartitionStore(source.bucket, PRICES_PREFIX, PRICE_SCHEMA, s3=s3)
    years = years_of(rows["date"])
    year_column = pc.year(rows["date"]) if len(years) > 1 else None
    affected_parts: list[pa.Table] = []
    writes: list[PartitionWrite] = []
    for year in years:
        incoming = rows if year_column is None else rows.filter(pc.equal(year_column, int(year)))
        outcome: dict[str, pa.Table] = {}

        def merge(
            current: pa.Table | None,
            incoming: pa.Table = incoming,
            outcome: dict[str, pa.Table] = outcome,
        ) -> pa.Table | None:
            merged, affected = merge_prices(current, incoming)
            outcome["affected"] = affected
            return merged

        writes.append(store.upsert(int(year), merge))
        affected_parts.append(outcome["affected"])
    result.partitions_written = [w.key for w in writes if w.written]
    affected = pa.concat_tables(affected_parts)
    result.rows_changed = affected.num_rows
    if affected.num_rows == 0:
        result.status = "unchanged"
        return result

    tickers = sorted(set(affected["ticker"].to_pylist()))
    first, last = pc.min(affected["date"]).as_py(), pc.max(affected["date"]).as_py()
    body = table_to_parquet(affected)
    manifest_key = f"{CHANGES_PREFIX}prices/{hashlib.sha256(body).hexdigest()}.parquet"
    s3.put_object(Bucket=source.bucket, Key=manifest_key, Body=body)
    result.tickers = tickers
    result.first_date, result.last_date = first.isoformat(), last.isoformat()
    result.manifest_key = manifest_key
    result.event_id = bus.put(
        Source.INGEST,
        DetailType.PRICES_CURATED,
        {
            "bucket": source.bucket,
            "sourceKey": source.key,
            "sourceVersion": source.version_id,
            "manifestKey": manifest_key,
            "rows": affected.num_rows,
            "tickers": tickers,
            "firstDate": result.first_date,
            "lastDate": result.last_date,
        },
    )
    return result
