"""A run's full results as Parquet datasets in the lake (Glue tables for Athena and DuckDB).

The run item in DynamoDB keeps the status and a summary; the full results are written here,
one object per run per dataset::

    results/<dataset>/run_date=YYYY-MM-DD/<tenant>-<run_id>.parquet

``run_date`` is the run's creation day (UTC), a Hive partition the Glue tables project
(template.yaml declares one table per dataset). The key is deterministic, so a retried run
overwrites its own objects and nothing is ever written twice; each object is one ``PutObject``,
so a reader sees all of a run's rows in a dataset or none. ``run_index`` is written last: it is
the commit marker, and a query that must not see a run half-written joins on it.

The tables are the registered analyses' (``core.analysis.ResultTable``, declared in Athena's
types) plus ``run_index``; each analysis's ``rows(result)`` fills its tables' data columns and
this module the per-run columns. template.yaml declares the same tables (a test checks them
equal). The run side of the analyses room: it may import core and pyarrow.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from core.analysis import (
    AS_OF,
    CREATED_AT,
    PORTFOLIO_ID,
    RUN_ID,
    RUN_TYPE,
    TENANT,
    Column,
    ResultTable,
    analyses,
    analysis,
)
from core.aws import client as aws_client
from core.lake import athena_type_name
from core.models import Run, RunStatus

__all__ = [
    "RUN_INDEX",
    "ResultDataset",
    "arrow_schema",
    "athena_type",
    "glue_table_yaml",
    "logical_id",
    "main",
    "render_template",
    "result_datasets",
    "result_key",
    "result_tables",
    "run_date",
    "write_results",
]

_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "string": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
}

RUN_INDEX: Final = ResultTable(
    "run_index",
    "Run results: one row per run, written after its other results (commit marker).",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        RUN_TYPE,
        Column("status", "string"),
        AS_OF,
        CREATED_AT,
        Column("finished_at", "timestamp", nullable=True),
        Column("data_start", "date", nullable=True),
        Column("data_end", "date", nullable=True),
        Column("observations", "bigint", nullable=True),
        Column("tickers", "bigint", nullable=True),
        Column("data_version", "string", nullable=True),
    ),
)


@dataclass(frozen=True)
class ResultDataset:
    """A result table with its Arrow schema (from its declared Athena types)."""

    table: ResultTable

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def description(self) -> str:
        return self.table.description

    @property
    def prefix(self) -> str:
        return self.table.prefix

    @property
    def schema(self) -> pa.Schema:
        return arrow_schema(self.table)

    def glue_columns(self) -> list[tuple[str, str]]:
        return self.table.glue_columns()


def arrow_schema(table: ResultTable) -> pa.Schema:
    """The Arrow schema of a declared result table (nullability as declared)."""
    return pa.schema(
        [pa.field(c.name, _ARROW_TYPES[c.type], nullable=c.nullable) for c in table.columns]
    )


def result_datasets() -> dict[str, ResultDataset]:
    """Every results dataset of the registered analyses, in write order (``run_index``, the
    commit marker, last)."""
    tables: dict[str, ResultTable] = {}
    for entry in analyses():
        for table in entry.tables:
            tables.setdefault(table.name, table)
    tables[RUN_INDEX.name] = RUN_INDEX
    return {name: ResultDataset(table) for name, table in tables.items()}


def athena_type(data_type: pa.DataType) -> str:
    """The Athena (Hive DDL) type of an Arrow type used by the results datasets."""
    return athena_type_name(str(data_type))


def result_key(dataset: str, run_date: date, tenant: str, run_id: str) -> str:
    """``results/<dataset>/run_date=YYYY-MM-DD/<tenant>-<run_id>.parquet`` (one per run).

    Raises
    ------
    ValueError
        An unknown dataset, or a tenant or run id that is not a plain key segment.
    """
    datasets = result_datasets()
    if dataset not in datasets:
        raise ValueError(f"unknown results dataset {dataset!r}")
    for label, value in (("tenant", tenant), ("run id", run_id)):
        if not value or "/" in value or value in (".", ".."):
            raise ValueError(f"{label} {value!r} cannot name an S3 object")
    folder = f"{datasets[dataset].prefix}run_date={run_date.isoformat()}/"
    return f"{folder}{tenant}-{run_id}.parquet"


def _utc_ms(moment: datetime) -> datetime:
    """UTC and truncated to the millisecond (the datasets' timestamp unit)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class _RunColumns:
    """The per-run values repeated on every row of a run's tables."""

    run_id: str
    tenant: str
    portfolio_id: str | None
    run_type: str
    as_of: date
    created_at: datetime

    def repeated(self, schema: pa.Schema, rows: int) -> dict[str, pa.Array]:
        """Those of ``schema``'s columns that are per-run values, ``rows`` times each."""
        values = {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "portfolio_id": self.portfolio_id,
            "run_type": self.run_type,
            "as_of": self.as_of,
            "created_at": self.created_at,
        }
        return {
            name: pa.repeat(pa.scalar(value, schema.field(name).type), rows)
            for name, value in values.items()
            if name in schema.names
        }


def _table(table: ResultTable, run: _RunColumns, columns: Mapping[str, Any]) -> pa.Table:
    schema = arrow_schema(table)
    missing = [c.name for c in table.data_columns if c.name not in columns]
    unknown = sorted(set(columns) - {c.name for c in table.data_columns})
    if missing or unknown:
        raise KeyError(f"{table.name}: rows lack {missing} / name unknown columns {unknown}")
    rows = len(next(iter(columns.values()))) if columns else 1
    data = {**run.repeated(schema, rows), **columns}
    return pa.Table.from_pydict({name: data[name] for name in schema.names}, schema=schema)


def _index_table(run: Run, columns: _RunColumns, data_version: str | None) -> pa.Table:
    window = run.data_window
    return _table(
        RUN_INDEX,
        columns,
        {
            "status": [str(run.status)],
            "finished_at": [None if run.finished_at is None else _utc_ms(run.finished_at)],
            "data_start": [window.start if window else None],
            "data_end": [window.end if window else None],
            "observations": [window.observations if window else None],
            "tickers": [len(window.tickers) if window else None],
            "data_version": [data_version],
        },
    )


def run_date(run: Run) -> date:
    """The run's partition: the UTC day it was created."""
    return _utc_ms(run.created_at).date()


def result_tables(
    run: Run,
    tenant: str,
    result: BaseModel | Mapping[str, Any] | None,
    as_of: date | None = None,
    *,
    data_version: str | None = None,
) -> dict[str, pa.Table]:
    """A finished run's rows per results dataset (pure: no I/O).

    Parameters
    ----------
    run
        The run as it will be saved: ``succeeded`` (or ``failed``) with ``finished_at``.
    tenant
        Its tenant (a column: the operating team queries across tenants).
    result
        Its analysis's result (``analysis.result``, or its camelCase dict); ignored for a
        failed run.
    as_of
        The day the results describe; default the data window's end, else (inline
        returns, analyze) the run's creation day (UTC).
    data_version
        Version of the market data the run read, when known (``run_index.data_version``).

    Returns
    -------
    dict
        ``{dataset: table}`` in write order, ``run_index`` last, holding only the datasets
        the run has rows for (a failed run: ``run_index`` only).

    Raises
    ------
    ValueError
        The run is not finished (``queued`` or ``running``).
    pydantic.ValidationError
        ``result`` (a dict) is not its analysis's result model.
    KeyError
        The analysis's rows do not fill its declared tables' columns exactly.
    """
    if run.status not in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        raise ValueError(f"run {run.id} is {run.status}: results are written for finished runs")
    window = run.data_window
    columns = _RunColumns(
        run_id=run.id,
        tenant=tenant,
        portfolio_id=run.portfolio_id,
        run_type=str(run.type),
        as_of=as_of or (window.end if window and window.end else run_date(run)),
        created_at=_utc_ms(run.created_at),
    )
    tables: dict[str, pa.Table] = {}
    if run.status is RunStatus.SUCCEEDED and result is not None:
        entry = analysis(run.type)
        typed = result if isinstance(result, BaseModel) else entry.result.model_validate(result)
        declared = {t.name: t for t in entry.tables}
        for name, rows in (entry.rows(typed) if entry.rows else {}).items():
            if name not in declared:
                raise KeyError(f"{entry.name} wrote rows of {name}, a table it does not declare")
            tables[name] = _table(declared[name], columns, rows)
    # Keep write order (result_datasets) whatever order the tables were built in.
    ordered = {name: tables[name] for name in result_datasets() if name in tables}
    ordered["run_index"] = _index_table(run, columns, data_version)
    return ordered


def write_results(
    run: Run,
    tenant: str,
    result: BaseModel | Mapping[str, Any] | None,
    *,
    bucket: str,
    s3: Any | None = None,
    as_of: date | None = None,
    data_version: str | None = None,
) -> list[str]:
    """Write a finished run's results datasets (zstd Parquet), ``run_index`` last.

    Each dataset is one object at :func:`result_key`, so a retried run overwrites what an
    earlier attempt wrote. Call it before the run item is saved as succeeded: a failure
    here leaves no ``run_index`` row, and readers joining on it never see the partial run.

    Parameters
    ----------
    run, tenant, result, as_of, data_version
        As for :func:`result_tables`.
    bucket
        The data bucket.
    s3
        A boto3 S3 client (default: a new one from the ambient session).

    Returns
    -------
    list of str
        The keys written, in write order (the ``run_index`` key last).
    """
    tables = result_tables(run, tenant, result, as_of, data_version=data_version)
    client = s3 or aws_client("s3")
    day = run_date(run)
    keys: list[str] = []
    for dataset, table in tables.items():
        key = result_key(dataset, day, tenant, run.id)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=buffer.getvalue(),
            ContentType="application/vnd.apache.parquet",
        )
        keys.append(key)
    return keys


# ------------------------------------------------------------------ template.yaml's tables
_TABLES_HEADER = "  # Run results (analyses.results.result_datasets):"
_TABLES_END = "  AthenaWorkGroup:"


def logical_id(table: ResultTable) -> str:
    """The template's logical id of a result table: ``Results<CamelName>Table``."""
    return "Results" + "".join(part.title() for part in table.name.split("_")) + "Table"


def glue_table_yaml(table: ResultTable) -> list[str]:
    """The ``AWS::Glue::Table`` resource of ``table`` (Parquet, ``run_date`` projected)."""
    location = f"s3://${{DataBucket}}/{table.prefix}"
    return [
        f"  {logical_id(table)}:",
        "    Type: AWS::Glue::Table",
        "    Properties:",
        "      CatalogId: !Ref AWS::AccountId",
        "      DatabaseName: !Ref LakeDatabase",
        "      TableInput:",
        f"        Name: {table.name}",
        f"        Description: {json.dumps(table.description, ensure_ascii=False)}",
        "        TableType: EXTERNAL_TABLE",
        "        Parameters:",
        "          classification: parquet",
        '          projection.enabled: "true"',
        "          projection.run_date.type: date",
        "          projection.run_date.format: yyyy-MM-dd",
        '          projection.run_date.range: "2020-01-01,NOW"',
        '          projection.run_date.interval: "1"',
        "          projection.run_date.interval.unit: DAYS",
        f'          storage.location.template: !Sub "{location}run_date=${{!run_date}}/"',
        "        PartitionKeys:",
        "          - Name: run_date",
        "            Type: string",
        "        StorageDescriptor:",
        f'          Location: !Sub "{location}"',
        "          InputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "          OutputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "          SerdeInfo:",
        "            SerializationLibrary: "
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "          Columns:",
        *(f"            - {{Name: {name}, Type: {kind}}}" for name, kind in table.glue_columns()),
        "",
    ]


def render_template(text: str) -> str:
    """template.yaml with its run-results Glue tables written from the registered analyses'
    tables (and ``run_index``), between the results comment and ``AthenaWorkGroup``.

    Raises
    ------
    ValueError
        The template lacks the results comment or ``AthenaWorkGroup``.
    """
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(_TABLES_HEADER))
        end = lines.index(_TABLES_END, start)
    except (StopIteration, ValueError):
        raise ValueError("template.yaml has no run-results tables section") from None
    while start < end and lines[start].startswith("  #"):
        start += 1  # the section's comment stays
    generated = [row for d in result_datasets().values() for row in glue_table_yaml(d.table)]
    return "\n".join([*lines[:start], *generated, *lines[end:]]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m analyses.results [--check]``: write (or check) template.yaml's tables."""
    import argparse
    from pathlib import Path

    import analyses  # noqa: F401  (the built-in analyses, registered)

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="fail when template.yaml is stale")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    args = parser.parse_args(argv)
    text = args.template.read_text()
    rendered = render_template(text)
    if rendered == text:
        return 0
    if args.check:
        print(f"stale: {args.template} (run python -m analyses.results)")
        return 1
    args.template.write_text(rendered)
    print(f"wrote {args.template}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
