"""Where things live in the data bucket (shared by every room; no I/O here)."""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "PRICES_PREFIX",
    "QUARANTINE_PREFIX",
    "RAW_PRICES_PREFIX",
    "REPORTS_PREFIX",
    "REPORT_MANIFEST",
    "RESULTS_PREFIX",
    "RETURNS_PREFIX",
    "RUN_REQUESTS_PREFIX",
    "athena_type_name",
    "partition_key",
    "partition_year",
    "report_prefix",
    "run_result_key",
]

RAW_PRICES_PREFIX: Final = "raw/prices/"
PRICES_PREFIX: Final = "curated/prices/"
RETURNS_PREFIX: Final = "curated/returns/"
QUARANTINE_PREFIX: Final = "quarantine/"
RESULTS_PREFIX: Final = "results/"
REPORTS_PREFIX: Final = "reports/"
# Claim checks for requests too large for an EventBridge event (lifecycle-expired tmp/).
RUN_REQUESTS_PREFIX: Final = "tmp/run-requests/"


def partition_key(prefix: str, year: int) -> str:
    """The one object holding a partition: ``curated/prices/year=2024/data.parquet``."""
    return f"{prefix}year={year:04d}/data.parquet"


_PARTITION = re.compile(r"year=(\d{4})/data\.parquet")


def partition_year(prefix: str, key: str) -> int | None:
    """The year of a partition's object (the inverse of :func:`partition_key`).

    Parameters
    ----------
    prefix
        The dataset's prefix, e.g. ``RETURNS_PREFIX``.
    key
        An object key, e.g. one of a listing under ``prefix``.

    Returns
    -------
    int or None
        ``2024`` for ``curated/returns/year=2024/data.parquet``; ``None`` for any other key.
    """
    if not key.startswith(prefix):
        return None
    match = _PARTITION.fullmatch(key[len(prefix) :])
    return int(match.group(1)) if match else None


def run_result_key(tenant: str, run_id: str) -> str:
    """A run's full result when it is too large for its DynamoDB item."""
    return f"{RESULTS_PREFIX}runs/tenant={tenant}/{run_id}.json"


REPORT_MANIFEST: Final = "manifest.json"  # written last: a report without it is not there
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def report_prefix(tenant: str, kind: str, identifier: str) -> str:
    """``reports/{tenant}/{runs|portfolios}/{id}/``; refuses anything that could escape it."""
    if kind not in ("runs", "portfolios") or not (
        _SAFE_SEGMENT.match(tenant) and _SAFE_SEGMENT.match(identifier)
    ):
        raise ValueError(f"unsafe report path: {tenant!r}/{kind}/{identifier!r}")
    return f"{REPORTS_PREFIX}{tenant}/{kind}/{identifier}/"


# Arrow type names (``str(pa_type)``) used by the lake's datasets → Athena (Hive DDL) types.
# Keyed by name so that both writers (ingest, compute) share it without core importing pyarrow.
_ATHENA_TYPES: Final = {
    "date32[day]": "date",
    "string": "string",
    "large_string": "string",
    "double": "double",
    "int64": "bigint",
    "int32": "int",
    "bool": "boolean",
}


def athena_type_name(arrow_type: str) -> str:
    """The Athena type of an Arrow type, given as ``str(pa_type)`` (timestamps of any unit)."""
    if arrow_type.startswith("timestamp["):
        return "timestamp"
    if arrow_type not in _ATHENA_TYPES:
        raise TypeError(f"no Athena type for {arrow_type}")
    return _ATHENA_TYPES[arrow_type]
