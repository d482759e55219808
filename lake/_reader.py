"""Reads of the lake's year-partitioned datasets: pyarrow filters, boto3 requests."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from core.aws import client as aws_client
from core.lake import partition_key, partition_year
from lake._errors import LakeError, from_boto
from lake._objects import ObjectVersion, RangedObject, fetch

if TYPE_CHECKING:
    # pyarrow.dataset is imported at the first read, not with the room: its import pulls in
    # pandas where installed (~0.2 s of a cold start).
    import pyarrow.dataset as pads

__all__ = ["LakeReader", "ReadStats"]


@dataclass
class ReadStats:
    """What a reader read from the lake.

    Attributes
    ----------
    objects : int
        Distinct objects opened.
    row_groups : int
        Row groups scanned: those whose statistics can match the filter (pyarrow's pruning).
    row_groups_total : int
        Row groups in the objects scanned.
    bytes : int
        Bytes fetched from S3 (footers and column chunks: ranged reads).
    keys : list of str
        The objects opened, in the order they were.
    """

    objects: int = 0
    row_groups: int = 0
    row_groups_total: int = 0
    bytes: int = 0
    keys: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe copy (for logs)."""
        return {**self.__dict__, "keys": list(self.keys)}


@dataclass
class _Opened:
    version: ObjectVersion
    handle: RangedObject
    fragment: pads.ParquetFileFragment


def row_filter(
    tickers: Iterable[str] | None = None, start: date | None = None, end: date | None = None
) -> pads.Expression | None:
    """``ticker IN tickers AND date >= start AND date <= end`` (each part optional)."""
    import pyarrow.dataset as pads

    parts: list[pads.Expression] = []
    if tickers is not None:
        parts.append(pads.field("ticker").isin(pa.array(sorted(set(tickers)), pa.string())))
    if start is not None:
        parts.append(pads.field("date") >= pa.scalar(start, pa.date32()))
    if end is not None:
        parts.append(pads.field("date") <= pa.scalar(end, pa.date32()))
    if not parts:
        return None
    expression = parts[0]
    for part in parts[1:]:
        expression = expression & part
    return expression


class LakeReader:
    """Reads the year partitions of the lake's datasets (``core.lake.partition_key``).

    Each object is opened once per reader and every later read of it is pinned to the
    version first seen: a reader is a snapshot of the objects it touches, and
    :attr:`objects` says which versions those were (what a run records). Use one reader per
    query or run, not per process. A missing partition is skipped (no rows); a refused or
    failing read raises (never "no data").

    Parameters
    ----------
    bucket : str
        The data bucket.
    s3 : botocore S3 client, optional
        Where to read (tests point it at the local stack).
    session : boto3.session.Session, optional
        Used to make the client when ``s3`` is not given (default: ``core.aws.client``'s).

    Raises
    ------
    LakeAccessDenied
        From any read: the lake refused it.
    LakeUnavailable
        From any read: a transient failure outlived botocore's retries.
    LakeError
        From any read: anything else (e.g. an object that is not Parquet).
    """

    def __init__(
        self,
        bucket: str,
        *,
        s3: Any | None = None,
        session: boto3.session.Session | None = None,
    ) -> None:
        self.bucket = bucket
        self.stats = ReadStats()
        self._s3 = s3 if s3 is not None else aws_client("s3", session)
        self._opened: dict[str, _Opened | None] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ what was read
    @property
    def objects(self) -> list[ObjectVersion]:
        """Every object read, by key (so a dataset's years oldest first)."""
        with self._lock:
            found = [o.version for o in self._opened.values() if o is not None]
        return sorted(found, key=lambda version: version.key)

    def refs(self) -> list[str]:
        """:attr:`objects` as ``key@versionId`` (or ``key@etag``), for a run's record."""
        return [version.ref for version in self.objects]

    # ------------------------------------------------------------------ listing
    def years(self, prefix: str) -> list[int]:
        """The years that have a partition under ``prefix``, ascending (one listing).

        Objects that are not partitions (``_corrections/``, say) are ignored, as Hive,
        Athena and pyarrow ignore ``_``-prefixed paths.
        """
        found: set[int] = set()
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                for entry in page.get("Contents", []):
                    year = partition_year(prefix, str(entry["Key"]))
                    if year is not None:
                        found.add(year)
        except (ClientError, BotoCoreError) as error:
            raise from_boto(error, f"{self.bucket}/{prefix}") from error
        return sorted(found)

    # ------------------------------------------------------------------ rows
    def read(
        self,
        prefix: str,
        years: Iterable[int],
        *,
        tickers: Iterable[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        columns: list[str] | None = None,
        schema: pa.Schema | None = None,
    ) -> pa.Table:
        """Rows of ``tickers`` dated within ``[start, end]`` from some year partitions.

        Parameters
        ----------
        prefix
            The dataset, e.g. ``core.lake.RETURNS_PREFIX``.
        years
            The partitions to read (those outside ``[start.year, end.year]`` are not); a
            year without an object is skipped, so keys may be computed, not listed.
        tickers, start, end
            The row filter (each optional, bounds inclusive). pyarrow skips the row groups
            whose statistics cannot match, and fetches only the others' column chunks.
        columns
            The columns to read (default: all).
        schema
            The dataset's schema: every part is cast to it (its ``columns``), and an empty
            result still has it. Without it an empty result has only null-typed columns.

        Returns
        -------
        pyarrow.Table
            Oldest year first, each partition's rows in its stored order.
        """
        wanted = sorted(
            {
                y
                for y in years
                if (start is None or y >= start.year) and (end is None or y <= end.year)
            }
        )
        expression = row_filter(tickers, start, end)
        target = pa.schema([schema.field(c) for c in columns]) if schema and columns else schema
        parts = []
        for year in wanted:
            table = self._scan(partition_key(prefix, year), expression, columns)
            if table is not None:
                parts.append(table.cast(target) if target is not None else table)
        if parts:
            return pa.concat_tables(parts)
        if target is not None:
            return target.empty_table()
        return pa.table({name: pa.nulls(0) for name in columns or []})

    def last_date(
        self,
        prefix: str,
        tickers: Iterable[str],
        years: Iterable[int],
        *,
        until: date | None = None,
    ) -> date | None:
        """The last date any of ``tickers`` has on or before ``until``.

        Searches ``years`` (those after ``until``'s skipped) newest first, and stops at the
        first one holding any of the tickers; ``None`` when none does.
        """
        tickers = list(tickers)
        for year in sorted({y for y in years if until is None or y <= until.year}, reverse=True):
            table = self.read(prefix, [year], tickers=tickers, end=until, columns=["date"])
            if table.num_rows:
                last: date = pc.max(table["date"]).as_py()
                return last
        return None

    def read_object(
        self, key: str, *, columns: list[str] | None = None
    ) -> tuple[pa.Table, ObjectVersion] | None:
        """One whole object as it is now (one GET; not pinned, not kept by the reader).

        For writers that replace an object conditionally (``If-Match`` the ETag read).

        Returns
        -------
        tuple or None
            The table and the version read; ``None`` when there is no such object.
        """
        opened = self._open(key, whole=True)
        if opened is None:
            return None
        return self._to_table(opened, None, columns), opened.version

    # ------------------------------------------------------------------ internals
    def _scan(
        self, key: str, expression: pads.Expression | None, columns: list[str] | None
    ) -> pa.Table | None:
        with self._lock:
            known = key in self._opened
            opened = self._opened.get(key)
        if not known:
            opened = self._open(key, whole=False)
            with self._lock:
                opened = self._opened.setdefault(key, opened)
        if opened is None:
            return None
        return self._to_table(opened, expression, columns)

    def _open(self, key: str, *, whole: bool) -> _Opened | None:
        found = fetch(self._s3, self.bucket, key, whole=whole)
        if found is None:
            return None
        version, offset, data = found
        import pyarrow.dataset as pads

        handle = RangedObject(
            self._s3, self.bucket, version, offset=offset, tail=data, counted=self._count
        )
        with self._lock:
            self.stats.objects += 1
            self.stats.keys.append(key)
            self.stats.bytes += len(data)
        try:
            fragment = pads.ParquetFileFormat().make_fragment(pa.PythonFile(handle, mode="r"))
            fragment.ensure_complete_metadata()
        except (OSError, pa.ArrowException) as error:
            raise _failure(handle, error) from error
        return _Opened(version, handle, fragment)

    def _to_table(
        self, opened: _Opened, expression: pads.Expression | None, columns: list[str] | None
    ) -> pa.Table:
        fragment = opened.fragment
        try:
            kept = fragment.subset(expression) if expression is not None else fragment
            with self._lock:
                self.stats.row_groups_total += fragment.num_row_groups
                self.stats.row_groups += kept.num_row_groups
            table: pa.Table = kept.to_table(filter=expression, columns=columns)
        except (OSError, pa.ArrowException) as error:
            raise _failure(opened.handle, error) from error
        return table

    def _count(self, size: int) -> None:
        with self._lock:
            self.stats.bytes += size


def _failure(handle: RangedObject, error: Exception) -> LakeError:
    """The lake error behind a pyarrow failure: the request that failed, if one did."""
    if handle.failure is not None:
        return handle.failure
    target = f"{handle.bucket}/{handle.version.key}"
    return LakeError(f"s3://{target} is not readable Parquet: {error}", target)
