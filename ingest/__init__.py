"""ingest: landing, validation, curated Parquet, returns, market-data queries.

May import core, pyarrow and pandas, and awswrangler where it is the best tool (no module
needs it today: the Glue tables are declared in template.yaml, not registered at run time).
Lambda entries are in ``ingest.handlers``; the lake layout and the curated datasets' Glue
tables are in ``ingest.schemas``.
"""

from __future__ import annotations

from ingest.curate import LandingResult, SourceObject, land_price_file, merge_prices
from ingest.exceptions import FileRejectCode, FileRejectedError, IngestError
from ingest.lake import PartitionConflictError, PartitionStore
from ingest.market_data import MarketDataQuery, ReadStats, query_prices, query_returns
from ingest.returns import ReturnsUpdate, affected_returns, daily_returns, update_returns
from ingest.validation import (
    RejectedRow,
    RejectReason,
    ValidatedPrices,
    quarantine_csv,
    quarantine_report,
    validate_prices,
)

__all__ = [
    "FileRejectCode",
    "FileRejectedError",
    "IngestError",
    "LandingResult",
    "MarketDataQuery",
    "PartitionConflictError",
    "PartitionStore",
    "ReadStats",
    "RejectReason",
    "RejectedRow",
    "ReturnsUpdate",
    "SourceObject",
    "ValidatedPrices",
    "affected_returns",
    "daily_returns",
    "land_price_file",
    "merge_prices",
    "quarantine_csv",
    "quarantine_report",
    "query_prices",
    "query_returns",
    "update_returns",
    "validate_prices",
]
