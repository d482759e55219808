"""Schemas and paths of the lake's curated datasets (one source for writers, readers, Glue).

Partitioning: both curated datasets are partitioned by calendar ``year`` (Hive style,
``year=2024/``) and each partition is one Parquet file sorted by ``(ticker, date)`` with
row groups of ``ROW_GROUP_ROWS`` rows. Why (figures in docs/INGEST.md): the two common
queries are "one ticker over ten years" (reads ≤ 11 small files, row groups pruned by
ticker statistics) and "all tickers on one day" (reads one file); per-ticker partitions
would make the second read thousands of objects, per-day partitions the first.

Glue: template.yaml declares one table per dataset of :data:`CURATED_DATASETS` (columns equal
to the Arrow schema, ``year`` projected), so no writer registers a table or a partition
(tests/unit/platform/test_glue_tables.py checks the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from core.lake import (
    PRICES_PREFIX,
    QUARANTINE_PREFIX,
    RAW_PRICES_PREFIX,
    RETURNS_PREFIX,
    athena_type_name,
    partition_key,
)

__all__ = [
    "CURATED_DATASETS",
    "PRICES_PREFIX",
    "PRICES_TABLE",
    "PRICE_SCHEMA",
    "QUARANTINE_PREFIX",
    "RAW_PRICES_PREFIX",
    "RETURNS_PREFIX",
    "RETURNS_SCHEMA",
    "RETURNS_TABLE",
    "ROW_GROUP_ROWS",
    "CuratedDataset",
    "partition_key",
]

PRICES_TABLE: Final = "prices"
RETURNS_TABLE: Final = "returns"

ROW_GROUP_ROWS: Final = 16_384

# Curated prices: one row per (ticker, date); `year` is the partition column (not stored).
PRICE_SCHEMA: Final = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("open", pa.float64()),
        pa.field("high", pa.float64()),
        pa.field("low", pa.float64()),
        pa.field("volume", pa.int64()),
        # Lineage: the raw object (key, version, last-modified time) the row came from, and
        # when it was ingested. `source_time` orders deliveries: an older file processed
        # after a newer one never overwrites the newer one's values.
        pa.field("source_key", pa.string(), nullable=False),
        pa.field("source_version", pa.string()),
        pa.field("source_time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("ingested_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    ]
)

# Daily returns from consecutive closes of one ticker (close_t / close_{t-1} − 1 and its log).
RETURNS_SCHEMA: Final = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("simple_return", pa.float64(), nullable=False),
        pa.field("log_return", pa.float64(), nullable=False),
        pa.field("prev_date", pa.date32(), nullable=False),
        pa.field("computed_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    ]
)


@dataclass(frozen=True)
class CuratedDataset:
    """One curated dataset: its Glue table, S3 prefix, Arrow schema and description.

    ``year`` (the partition) is not a column of the files: it is the folder name.
    """

    table: str
    prefix: str
    schema: pa.Schema
    description: str

    def glue_columns(self) -> list[tuple[str, str]]:
        """``(name, Athena type)`` of each column, as the Glue table declares them."""
        return [(field.name, athena_type_name(str(field.type))) for field in self.schema]


CURATED_DATASETS: Final = (
    CuratedDataset(
        PRICES_TABLE,
        PRICES_PREFIX,
        PRICE_SCHEMA,
        "Validated daily prices, one row per (ticker, date); corrections replace rows.",
    ),
    CuratedDataset(
        RETURNS_TABLE,
        RETURNS_PREFIX,
        RETURNS_SCHEMA,
        "Daily simple and log returns between consecutive closes of each ticker.",
    ),
)
