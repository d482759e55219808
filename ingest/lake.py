"""Year partitions of a curated dataset, replaced whole with optimistic concurrency.

Each partition is one object (``partition_key``). An update reads it with its ETag, merges,
and writes it back with S3's conditional write (``If-Match`` the ETag read, or
``If-None-Match: *`` when it did not exist). When another writer got there first S3
answers 412/409 and we read again and re-merge, so two files landing in the same partition
at the same time both get in completely: no lost update. Readers always see a whole object,
never a half-written dataset (an S3 PUT is atomic).
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from core.aws import client as aws_client
from ingest.exceptions import IngestError
from ingest.schemas import ROW_GROUP_ROWS, partition_key
from lake import LakeReader

__all__ = [
    "PartitionConflictError",
    "PartitionStore",
    "PartitionWrite",
    "sort_by_key",
    "table_to_parquet",
]

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


class PartitionConflictError(IngestError):
    """Gave up after too many concurrent writers kept replacing the same partition."""

    code = "PARTITION_CONFLICT"


@dataclass(frozen=True)
class PartitionWrite:
    """The outcome of one partition update."""

    year: int
    key: str
    etag: str | None
    version_id: str | None
    written: bool
    attempts: int


def is_sorted_by_key(table: pa.Table) -> bool:
    """True when rows are already in (ticker, date) order (checked without sorting)."""
    if table.num_rows < 2:
        return True
    tickers = table["ticker"].to_numpy(zero_copy_only=False)
    days = table["date"].to_numpy(zero_copy_only=False)
    before, after = tickers[:-1], tickers[1:]
    in_order = (before < after) | ((before == after) & (days[:-1] < days[1:]))
    return bool(in_order.all())


def sort_by_key(table: pa.Table) -> pa.Table:
    """Sort rows by (ticker, date): row groups then carry tight ticker statistics."""
    if is_sorted_by_key(table):
        return table
    return table.take(pc.sort_indices(table, [("ticker", "ascending"), ("date", "ascending")]))


def table_to_parquet(table: pa.Table) -> bytes:
    """Parquet bytes as the lake stores them (zstd, statistics, bounded row groups)."""
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
    )
    return sink.getvalue()


def _is_conflict(error: ClientError) -> bool:
    info = error.response.get("Error", {})
    status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return info.get("Code") in _CONFLICT_CODES or status in {"409", "412"}


class PartitionStore:
    """Reads and conditionally replaces the year partitions of one dataset.

    Parameters
    ----------
    bucket : str
        The data bucket.
    prefix : str
        The dataset prefix, e.g. ``curated/prices/``.
    schema : pyarrow.Schema
        The dataset's schema; every write is cast to it.
    s3 : botocore S3 client, optional
        Where to read and write (tests point it at the local stack).
    max_attempts : int
        Read-merge-write attempts before :class:`PartitionConflictError`.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        schema: pa.Schema,
        s3: Any | None = None,
        max_attempts: int = 8,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.schema = schema
        self.max_attempts = max_attempts
        self._s3 = s3 or aws_client("s3")
        # Backoff jitter, not security.
        self._rng = random.Random()  # nosec B311

    def key(self, year: int) -> str:
        return partition_key(self.prefix, year)

    def read(
        self, year: int, columns: list[str] | None = None
    ) -> tuple[pa.Table | None, str | None]:
        """The partition's rows and ETag, or (None, None) when it does not exist yet.

        Raises
        ------
        lake.LakeAccessDenied, lake.LakeUnavailable
            Never taken for a missing partition: a merge on "nothing there" would replace it.
        """
        found = self._reader().read_object(self.key(year), columns=columns)
        if found is None:
            return None, None
        table, version = found
        return table, version.etag

    def years(self) -> list[int]:
        """The years that have a partition, ascending (one listing of the dataset's prefix).

        Objects under the prefix that are not partitions (``_corrections/``, say) are
        ignored, as Hive, Athena and pyarrow ignore ``_``-prefixed paths.
        """
        return self._reader().years(self.prefix)

    def read_years(self, years: Iterable[int], filter_tickers: list[str] | None = None) -> pa.Table:
        """Rows of several partitions (optionally only some tickers), as one table."""
        return self._reader().read(self.prefix, years, tickers=filter_tickers, schema=self.schema)

    def _reader(self) -> LakeReader:
        # A reader per call: each read sees the partition as it is now (upsert re-reads).
        return LakeReader(self.bucket, s3=self._s3)

    def upsert(
        self,
        year: int,
        merge: Callable[[pa.Table | None], pa.Table | None],
    ) -> PartitionWrite:
        """Read, ``merge`` (None = nothing to write), write conditionally; retry on conflict.

        ``merge`` may run several times (once per attempt) and must be a pure function of
        the partition it is given.
        """
        key = self.key(year)
        for attempt in range(1, self.max_attempts + 1):
            current, etag = self.read(year)
            merged = merge(current)
            if merged is None:
                return PartitionWrite(year, key, etag, None, written=False, attempts=attempt)
            body = table_to_parquet(sort_by_key(merged.cast(self.schema)))
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                answer = self._s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType="application/vnd.apache.parquet",
                    **condition,
                )
            except ClientError as error:
                if not _is_conflict(error):
                    raise
                # Someone replaced the partition since we read it: back off, re-read, re-merge.
                time.sleep(0.02 * 2 ** min(attempt, 6) * self._rng.random())
                continue
            return PartitionWrite(
                year,
                key,
                str(answer.get("ETag")),
                answer.get("VersionId"),
                written=True,
                attempts=attempt,
            )
        raise PartitionConflictError(f"{key}: still conflicting after {self.max_attempts} attempts")


def years_of(dates: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Calendar years of a date32 column."""
    return np.unique(pc.year(dates).to_numpy(zero_copy_only=False)).astype(int)
