"""What landing one raw price file came to, read from where the ingest function records it.

``IngestFunction`` (:func:`ingest.handlers.land`) is idempotent through Powertools: the
first delivery of a raw object's ``Object Created`` event stores the handler's result, the
landing's :class:`ingest.curate.LandingResult` (status, rows read/accepted/rejected,
rejections by reason, the quarantine report's key), in the idempotency table, under
``<function>#<md5 of the identity>`` where the identity is ``{bucket, key, version, etag}``
of the object version. That record is the one place that tells every outcome of one
object version apart (curated, unchanged, rows quarantined, file refused), so
``stratigos ingest`` waits for it rather than guessing from the lake.

The identity's shape and Powertools' key scheme are ingest's and Powertools' conventions,
read here: ``tests/functional/test_ingest_outcome.py`` lands files through the local stack
and fails if they drift.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LandingOutcome",
    "LandingRecords",
    "RawObject",
    "describe_outcome",
    "wait_for_landings",
]

_COMPLETED = "COMPLETED"
# DynamoDB allows a few kB of filter expression: ask about this many objects per scan.
_OBJECTS_PER_SCAN = 20


@dataclass(frozen=True)
class RawObject:
    """One uploaded object version under the landing prefix."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None

    @classmethod
    def head(cls, s3: Any, bucket: str, key: str) -> RawObject:
        """The object's current version as S3 describes it (right after uploading it).

        The ETag without quotes and the version id, as S3's ``Object Created`` event
        spells them (no version id on an unversioned bucket).
        """
        answer = s3.head_object(Bucket=bucket, Key=key)
        version = answer.get("VersionId")
        return cls(
            bucket=bucket,
            key=key,
            version_id=None if version in (None, "null") else str(version),
            etag=str(answer["ETag"]).strip('"') if answer.get("ETag") else None,
        )

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def idempotency_hash(self) -> str:
        """The hash part of the ingest function's idempotency key for this object version.

        ``ingest.handlers.land`` keys its idempotent landing on this identity, and
        Powertools hashes it as md5 of its JSON with sorted keys (an id, not security).
        """
        identity = {
            "bucket": self.bucket,
            "key": self.key,
            "version": self.version_id,
            "etag": self.etag,
        }
        text = json.dumps(identity, sort_keys=True)
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class LandingOutcome:
    """What the ingest function did with one raw object (its LandingResult, as stored)."""

    status: str  # curated | unchanged | rejected
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_changed: int = 0
    rejected_counts: dict[str, int] = field(default_factory=dict)
    quarantine_key: str | None = None
    reason: str | None = None

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> LandingOutcome:
        counts = result.get("rejected_counts") or {}
        return cls(
            status=str(result.get("status") or "unknown"),
            rows_read=int(result.get("rows_read") or 0),
            rows_accepted=int(result.get("rows_accepted") or 0),
            rows_rejected=int(result.get("rows_rejected") or 0),
            rows_changed=int(result.get("rows_changed") or 0),
            rejected_counts={str(k): int(v) for k, v in counts.items() if int(v)},
            quarantine_key=result.get("quarantine_key"),
            reason=result.get("reason"),
        )

    @property
    def file_rejected(self) -> bool:
        return self.status == "rejected"


class LandingRecords:
    """Reads landing outcomes from the idempotency table (one Scan for many objects)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def find(self, objects: Sequence[RawObject]) -> dict[RawObject, LandingOutcome]:
        """The outcomes recorded so far, for those of ``objects`` that have one."""
        found: dict[RawObject, LandingOutcome] = {}
        for start in range(0, len(objects), _OBJECTS_PER_SCAN):
            chunk = list(objects[start : start + _OBJECTS_PER_SCAN])
            by_suffix = {f"#{obj.idempotency_hash()}": obj for obj in chunk}
            values = {f":h{i}": {"S": suffix} for i, suffix in enumerate(by_suffix)}
            condition = " OR ".join(f"contains(#id, {name})" for name in values)
            scan_args: dict[str, Any] = {
                "TableName": self._table,
                "FilterExpression": f"#status = :completed AND ({condition})",
                "ExpressionAttributeNames": {"#id": "id", "#status": "status", "#data": "data"},
                "ExpressionAttributeValues": {**values, ":completed": {"S": _COMPLETED}},
                "ProjectionExpression": "#id, #data",
            }
            for page in self._dynamodb.get_paginator("scan").paginate(**scan_args):
                for item in page.get("Items", []):
                    record_id = item["id"]["S"]
                    obj = by_suffix.get(record_id[record_id.rfind("#") :])
                    data = item.get("data", {}).get("S")
                    if obj is not None and data:
                        found[obj] = LandingOutcome.from_result(json.loads(data))
        return found


def wait_for_landings(
    objects: Sequence[RawObject],
    records: LandingRecords,
    *,
    timeout_s: float,
    on_outcome: Callable[[RawObject, LandingOutcome], None],
    on_poll: Callable[[Sequence[RawObject]], None] = lambda pending: None,
    interval_s: float = 0.5,
) -> list[RawObject]:
    """Poll until every object's outcome is recorded or ``timeout_s`` passes.

    ``on_outcome`` is called once per object as its outcome appears, ``on_poll`` with the
    objects still pending before each look. Returns the objects that never got one.
    """
    pending = list(objects)
    deadline = time.monotonic() + timeout_s
    while pending:
        on_poll(pending)
        found = records.find(pending)
        for obj in pending:
            if obj in found:
                on_outcome(obj, found[obj])
        pending = [obj for obj in pending if obj not in found]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))
    return pending


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _printable(text: str) -> str:
    """``text`` safe for a terminal: a refusal's message may quote the file's own bytes."""
    return "".join(c if c.isprintable() else "?" for c in text)


def describe_outcome(obj: RawObject, outcome: LandingOutcome) -> list[str]:
    """The lines ``stratigos ingest`` prints for one file's outcome."""
    reason = _printable(outcome.reason) if outcome.reason else None
    if outcome.file_rejected:
        head = f"{obj.name}: file rejected, nothing curated ({reason or 'no reason given'})"
    else:
        reasons = ", ".join(
            f"{count:,} {reason}" for reason, count in sorted(outcome.rejected_counts.items())
        )
        quarantined = f"{outcome.rows_rejected:,} quarantined" + (
            f" ({reasons})" if reasons else ""
        )
        head = f"{obj.name}: {_rows(outcome.rows_accepted)} accepted, {quarantined}"
        if outcome.status == "unchanged" and outcome.rows_accepted:
            head += "; the lake already held them (nothing changed)"
        if reason:  # e.g. what a corrections file did
            head += f"; {reason}"
    lines = [_printable(head)]
    if outcome.quarantine_key:
        lines.append(_printable(f"  quarantine report: s3://{obj.bucket}/{outcome.quarantine_key}"))
    return lines
