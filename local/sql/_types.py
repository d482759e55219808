"""The Glue catalog's tables as the local engine reads them: Athena/Hive DDL types → Arrow.

This is the reading direction only, and it covers any Glue table (``decimal(p,s)``,
``varchar(n)``, ``float`` …), not just the lake's own. The lake's writers map Arrow → Athena
with the one map in :func:`core.lake.athena_type_name`; tests/unit/platform/test_glue_tables.py
checks that every table the template declares reads back as its writer wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

__all__ = ["LakeColumn", "LakeTable", "arrow_type"]

_PARQUET_INPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
_DECIMAL_TYPE = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_SIZED_STRING_TYPE = re.compile(r"(?:var)?char\(\d+\)")
# Hive/Athena DDL type → Arrow. Timestamps are read as naive UTC (Athena's `timestamp`) in
# microseconds, which holds the lake's millisecond values and any microsecond writer's.
_SIMPLE_TYPES: Final[dict[str, pa.DataType]] = {
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "double": pa.float64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "binary": pa.binary(),
}


@dataclass(frozen=True)
class LakeColumn:
    """A column as the Glue catalog declares it (``type`` is the Athena/Hive DDL type)."""

    name: str
    type: str
    comment: str = ""


@dataclass(frozen=True)
class LakeTable:
    """A Glue table: where its Parquet lives, its columns and its partition keys."""

    name: str
    location: str
    columns: tuple[LakeColumn, ...]
    partition_keys: tuple[LakeColumn, ...]
    description: str = ""
    is_parquet: bool = True

    def arrow_schema(self) -> pa.Schema:
        """Columns then partition keys, as Arrow types (TypeError for an unsupported type)."""
        return pa.schema(
            [pa.field(c.name, arrow_type(c.type)) for c in (*self.columns, *self.partition_keys)]
        )


def arrow_type(hive_type: str) -> pa.DataType:
    """The Arrow type of an Athena/Hive column type (``string``, ``double``, ``decimal(p,s)`` …).

    Raises
    ------
    TypeError
        For a type with no mapping here (``array<…>``, ``map<…>``, ``struct<…>``).
    """
    name = hive_type.strip().lower()
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if _SIZED_STRING_TYPE.fullmatch(name):
        return pa.string()
    decimal = _DECIMAL_TYPE.fullmatch(name)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    raise TypeError(f"no Arrow type for the Glue column type {hive_type!r}")


def _lake_table(entry: Mapping[str, Any]) -> LakeTable | None:
    """A ``GetTables`` entry as a LakeTable; None for one without storage (a view)."""
    storage = entry.get("StorageDescriptor") or {}
    location = storage.get("Location")
    if not location:
        return None

    def columns(items: Sequence[Mapping[str, Any]]) -> tuple[LakeColumn, ...]:
        return tuple(
            LakeColumn(item["Name"], item["Type"], item.get("Comment", "")) for item in items
        )

    serde = (storage.get("SerdeInfo") or {}).get("SerializationLibrary", "")
    classification = (entry.get("Parameters") or {}).get("classification", "")
    return LakeTable(
        name=entry["Name"],
        location=location,
        columns=columns(storage.get("Columns", [])),
        partition_keys=columns(entry.get("PartitionKeys", [])),
        description=entry.get("Description", ""),
        is_parquet=(
            storage.get("InputFormat") == _PARQUET_INPUT_FORMAT
            or "parquet" in serde.lower()
            or classification.lower() == "parquet"
        ),
    )
