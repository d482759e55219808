"""Where things live in the data bucket (shared by every room; no I/O here)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "PRICES_PREFIX",
    "QUARANTINE_PREFIX",
    "RAW_PRICES_PREFIX",
    "RESULTS_PREFIX",
    "RETURNS_PREFIX",
    "RUN_REQUESTS_PREFIX",
    "partition_key",
    "run_result_key",
]

RAW_PRICES_PREFIX: Final = "raw/prices/"
PRICES_PREFIX: Final = "curated/prices/"
RETURNS_PREFIX: Final = "curated/returns/"
QUARANTINE_PREFIX: Final = "quarantine/"
RESULTS_PREFIX: Final = "results/"
# Claim checks for requests too large for an EventBridge event (lifecycle-expired tmp/).
RUN_REQUESTS_PREFIX: Final = "tmp/run-requests/"


def partition_key(prefix: str, year: int) -> str:
    """The one object holding a partition: ``curated/prices/year=2024/data.parquet``."""
    return f"{prefix}year={year:04d}/data.parquet"


def run_result_key(tenant: str, run_id: str) -> str:
    """A run's full result when it is too large for its DynamoDB item."""
    return f"{RESULTS_PREFIX}runs/tenant={tenant}/{run_id}.json"
