"""The lake's datasets in the Glue catalog (through awswrangler), with partition projection.

Partition projection means Athena derives the partitions from the table's properties, so
writers never register partitions and a new year is queryable the moment it is written.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

import awswrangler as wr
import boto3
import pyarrow as pa

from core.lake import athena_type_name
from ingest.schemas import (
    PRICE_SCHEMA,
    PRICES_PREFIX,
    PRICES_TABLE,
    RETURNS_PREFIX,
    RETURNS_SCHEMA,
    RETURNS_TABLE,
)

__all__ = ["DATASETS", "DatasetSpec", "athena_type", "ensure_registered", "register_dataset"]

# Years Athena projects for the `year` partition.
_PROJECTED_YEARS: Final = "1970,2100"


@dataclass(frozen=True)
class DatasetSpec:
    """One curated dataset: its Glue table, S3 prefix and Arrow schema (partition: year)."""

    table: str
    prefix: str
    schema: pa.Schema
    description: str


DATASETS: Final = (
    DatasetSpec(
        PRICES_TABLE,
        PRICES_PREFIX,
        PRICE_SCHEMA,
        "Validated daily prices, one row per (ticker, date); corrections replace rows.",
    ),
    DatasetSpec(
        RETURNS_TABLE,
        RETURNS_PREFIX,
        RETURNS_SCHEMA,
        "Daily simple and log returns between consecutive closes of each ticker.",
    ),
)


def athena_type(data_type: pa.DataType) -> str:
    """The Athena (Hive DDL) type of an Arrow type used in the lake."""
    return athena_type_name(str(data_type))


def register_dataset(
    spec: DatasetSpec,
    bucket: str,
    database: str,
    session: boto3.session.Session | None = None,
) -> None:
    """Create (or replace) the dataset's Glue table, partitioned by projected ``year``."""
    wr.catalog.create_parquet_table(
        database=database,
        table=spec.table,
        path=f"s3://{bucket}/{spec.prefix}",
        columns_types={field.name: athena_type(field.type) for field in spec.schema},
        partitions_types={"year": "int"},
        compression="zstd",
        description=spec.description,
        mode="overwrite",
        athena_partition_projection_settings={
            "projection_types": {"year": "integer"},
            "projection_ranges": {"year": _PROJECTED_YEARS},
        },
        boto3_session=session,
    )


_registered: set[tuple[str, str, str]] = set()
_lock = threading.Lock()


def ensure_registered(
    spec: DatasetSpec,
    bucket: str,
    database: str,
    session: boto3.session.Session | None = None,
) -> None:
    """Register the table once per warm container (and whenever it is missing)."""
    key = (spec.table, bucket, database)
    with _lock:
        if key in _registered:
            return
    if not wr.catalog.does_table_exist(database=database, table=spec.table, boto3_session=session):
        register_dataset(spec, bucket, database, session)
    with _lock:
        _registered.add(key)
