"""SQL over the lake: DuckDB over the local stack's Parquet, Athena in the cloud, same SQL text.

Locally, ``LakeSql`` reads the Glue catalog (whatever tables it holds, not a fixed list),
opens each table's S3 location as a ``pyarrow.dataset`` over pyarrow's own S3 filesystem
(DuckDB's httpfs extension is not needed, nor available offline), and exposes it to an
in-memory DuckDB connection under its plain name (``prices``), qualified by the Glue
database (``stratigos_local.prices``) and fully qualified by Athena's default catalog
(``awsdatacatalog.stratigos_local.prices``). In the cloud, ``run_athena`` sends the same
text to the template's Athena workgroup through awswrangler. docs/SQL.md lists the tables
and the SQL subset that runs identically on both engines.

``stratigos sql "SELECT …" [--format table|csv|json] [--engine local|athena]`` is
``configure_sql_parser`` + ``sql_command``; exit status 0 (ok), 1 (the engine rejected or
failed the query: its message on stderr) or 2 (no engine to run it on: no local stack, no
credentials, no such database).
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import io
import json
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, get_args
from urllib.parse import urlsplit

import boto3
import pyarrow as pa
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.aws import client_config
from core.settings import env_name
from core.text_safety import TERMINAL_UNSAFE, spreadsheet_safe

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

__all__ = [
    "EngineUnavailableError",
    "LakeColumn",
    "LakeSql",
    "LakeTable",
    "OutputFormat",
    "SqlError",
    "arrow_type",
    "configure_sql_parser",
    "format_result",
    "main",
    "run_athena",
    "sql_command",
]

OutputFormat = Literal["table", "csv", "json"]
Engine = Literal["local", "athena"]

# Athena's default data catalog: console-generated SQL may qualify tables with it.
ATHENA_CATALOG: Final = "awsdatacatalog"
# Exit statuses of `stratigos sql`.
EXIT_SQL_ERROR: Final = 1
EXIT_UNAVAILABLE: Final = 2

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
_NAMED_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TABLE_MAX_DECIMALS: Final = 6


class SqlError(Exception):
    """The engine rejected or failed a query; ``str(error)`` is the engine's own message."""


class EngineUnavailableError(Exception):
    """There is nothing to run the query on (no local stack, no credentials, no database)."""


# ---------------------------------------------------------------------------- catalog
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


# ---------------------------------------------------------------------------- local engine
class LakeSql:
    """DuckDB over the lake's Parquet, with the Glue catalog's tables as views.

    Parameters
    ----------
    session
        boto3 session whose region and credentials reach the lake.
    database
        Glue database whose tables are exposed (``stratigos_local`` locally).
    endpoint_url
        S3/Glue endpoint of the local stack (``http://127.0.0.1:PORT``), or None for AWS.

    Nothing is read until the first ``tables()`` or ``query()``; the tables' file listings
    are taken once, at the first query (build a new LakeSql to see later writes).
    """

    def __init__(
        self,
        session: boto3.session.Session,
        database: str,
        endpoint_url: str | None = None,
    ) -> None:
        self.session = session
        self.database = database
        self.endpoint_url = endpoint_url
        self._tables: tuple[LakeTable, ...] | None = None
        self._connection: duckdb.DuckDBPyConnection | None = None

    # ------------------------------------------------------------------ catalog
    def tables(self) -> tuple[LakeTable, ...]:
        """The Glue database's tables (read once).

        Raises
        ------
        EngineUnavailableError
            The catalog cannot be reached or the database does not exist.
        """
        if self._tables is None:
            config = client_config("glue")
            if self.endpoint_url:  # a local stack answers at once or not at all
                config = config.merge(Config(retries={"mode": "standard", "max_attempts": 2}))
            glue = self.session.client("glue", endpoint_url=self.endpoint_url, config=config)
            found: list[LakeTable] = []
            try:
                for page in glue.get_paginator("get_tables").paginate(DatabaseName=self.database):
                    found.extend(t for t in map(_lake_table, page["TableList"]) if t)
            except ClientError as error:
                raise EngineUnavailableError(
                    f"cannot read the Glue database {self.database!r}: "
                    f"{error.response.get('Error', {}).get('Message', error)}"
                ) from None
            except BotoCoreError as error:
                hint = " (is `stratigos local up` still running?)" if self.endpoint_url else ""
                raise EngineUnavailableError(
                    f"cannot reach the Glue catalog{hint}: {error}"
                ) from None
            self._tables = tuple(sorted(found, key=lambda t: t.name))
        return self._tables

    # ------------------------------------------------------------------ queries
    def query(self, sql: str) -> pa.Table:
        """Run ``sql`` on DuckDB; the last statement's result as an Arrow table.

        Raises
        ------
        SqlError
            DuckDB rejected or failed the query (its message, e.g. ``Parser Error: …``).
        EngineUnavailableError
            The catalog or a table's location cannot be read (first query only).
        """
        import duckdb

        connection = self._connect()
        try:
            relation = connection.sql(sql)
            if relation is None:  # a statement without a result set
                return pa.table({})
            # DuckDB 1.4+ spells it to_arrow_table; 2.x deprecates fetch_arrow_table.
            to_arrow = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
            result: pa.Table = to_arrow()
            return result
        except duckdb.Error as error:
            raise SqlError(str(error)) from None

    def close(self) -> None:
        """Close the DuckDB connection (a later query opens a fresh one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._connection is not None:
            return self._connection
        import duckdb

        # No extension downloads (offline, and Athena has none): a query that needs one
        # fails at once instead of hanging on the network.
        connection = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        # Athena's semantics where DuckDB's defaults differ: `/` on integers is integer
        # division (Trino), and the session time zone is UTC.
        try:
            self._expose_tables(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _expose_tables(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute("SET integer_division = true")
        connection.execute("SET TimeZone = 'UTC'")
        qualifier = _quote(self.database)
        connection.execute(f"CREATE SCHEMA {qualifier}")
        connection.execute(f"ATTACH ':memory:' AS {ATHENA_CATALOG}")
        connection.execute(f"CREATE SCHEMA {ATHENA_CATALOG}.{qualifier}")
        filesystem = self._filesystem()
        for table in self.tables():
            if not table.is_parquet:
                continue
            try:
                dataset = _open_dataset(table, filesystem)
            except OSError as error:
                raise EngineUnavailableError(
                    f"cannot list {table.location} (table {table.name}): {error}"
                ) from None
            # The dataset itself is the plain name (a temporary view); the qualified names
            # are views over it, so all of them read the same files.
            connection.register(table.name, dataset)
            name = _quote(table.name)
            for schema in (qualifier, f"{ATHENA_CATALOG}.{qualifier}"):
                # Identifiers only, each quoted by _quote (names from the Glue catalog).
                sql = f"CREATE VIEW {schema}.{name} AS SELECT * FROM temp.main.{name}"  # nosec B608
                connection.execute(sql)
        # The lake is reached only through the datasets above; SQL that reads files or URLs
        # directly (read_parquet('s3://…')) would not run on Athena either.
        connection.execute("SET enable_external_access = false")

    def _filesystem(self) -> pafs.S3FileSystem:
        import pyarrow.fs as pafs

        options: dict[str, Any] = {"region": self.session.region_name or "us-east-1"}
        credentials = self.session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            options.update(
                access_key=frozen.access_key,
                secret_key=frozen.secret_key,
                session_token=frozen.token,
            )
        if self.endpoint_url:
            endpoint = urlsplit(self.endpoint_url)
            options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
        return pafs.S3FileSystem(**options)


def _open_dataset(table: LakeTable, filesystem: pafs.FileSystem) -> pads.Dataset:
    """The table's Parquet under its location, Hive-partitioned by its partition keys.

    The schema comes from Glue, so files are read as Athena reads them and a table whose
    prefix holds no objects yet is still there, with its columns and no rows.
    """
    import pyarrow.dataset as pads

    try:
        schema: pa.Schema | None = table.arrow_schema()
    except TypeError:
        schema = None  # a type without a mapping: let the files say
    partition_fields = [pa.field(k.name, arrow_type(k.type)) for k in table.partition_keys]
    partitioning = pads.partitioning(pa.schema(partition_fields), flavor="hive")
    path = re.sub(r"^s3a?://", "", table.location).rstrip("/")
    try:
        return pads.dataset(
            path,
            format="parquet",
            filesystem=filesystem,
            partitioning=partitioning,
            schema=schema,
        )
    except FileNotFoundError:
        if schema is None:
            schema = pa.schema(list(_mappable_fields(table)))
        return pads.dataset(schema.empty_table())


def _mappable_fields(table: LakeTable) -> Iterator[pa.Field]:
    for column in (*table.columns, *table.partition_keys):
        try:
            yield pa.field(column.name, arrow_type(column.type))
        except TypeError:
            continue


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# ---------------------------------------------------------------------------- Athena
def run_athena(
    sql: str,
    *,
    database: str,
    workgroup: str,
    session: boto3.session.Session | None = None,
) -> pa.Table:
    """Run ``sql`` on Athena (the template's workgroup) through awswrangler.

    The plain ``StartQueryExecution`` path (``ctas_approach=False``): no temporary table is
    created, results come from the workgroup's output location. moto's Athena accepts
    queries but runs no SQL, so this path is exercised only against AWS.

    Raises
    ------
    SqlError
        Athena failed or refused the query (its message).
    EngineUnavailableError
        AWS cannot be reached with the ambient credentials.
    """
    import awswrangler as wr
    import pandas as pd

    try:
        frame = wr.athena.read_sql_query(
            sql,
            database=database,
            ctas_approach=False,
            workgroup=workgroup,
            boto3_session=session,
        )
    except (wr.exceptions.QueryFailed, wr.exceptions.QueryCancelled) as error:
        raise SqlError(str(error)) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") == "InvalidRequestException":
            raise SqlError(str(details.get("Message", error))) from None
        raise EngineUnavailableError(f"Athena: {details.get('Message', error)}") from None
    except BotoCoreError as error:
        raise EngineUnavailableError(f"Athena: {error}") from None
    if not isinstance(frame, pd.DataFrame):  # only chunked reads return an iterator
        raise TypeError("expected one DataFrame from awswrangler")
    return pa.Table.from_pandas(frame, preserve_index=False)


# ---------------------------------------------------------------------------- output
def format_result(table: pa.Table, fmt: OutputFormat = "table") -> str:
    """Render a result as aligned text, RFC 4180 CSV or a JSON list of records.

    ``table``: a header, a dashed rule, right-aligned numbers (floats to a shared number of
    decimals per column, at most six), ``NULL`` for nulls, and a row count.
    ``csv``: CRLF rows with a header; nulls are empty; text cells a spreadsheet could run
    (``core.text_safety.spreadsheet_safe``: ``= + - @`` after leading whitespace, full-width
    forms included, or a leading tab/CR/LF) get a leading ``'``.
    ``json``: ``[{column: value}, …]`` with ISO dates and timestamps, NaN/±inf as null.
    """
    names = _unique_names(table.column_names)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    if fmt == "table":
        return _format_table(names, columns, table.schema, table.num_rows)
    if fmt == "csv":
        return _format_csv(names, columns, table.num_rows)
    if fmt == "json":
        records = [
            {name: _json_value(column[row]) for name, column in zip(names, columns, strict=True)}
            for row in range(table.num_rows)
        ]
        return json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False)
    raise ValueError(f"unknown format {fmt!r}; expected one of {get_args(OutputFormat)}")


def _unique_names(names: Sequence[str]) -> list[str]:
    """Column names made unique (``x``, ``x_1``) so no JSON key is lost."""
    seen: set[str] = set()
    unique: list[str] = []
    for name in names:
        candidate, suffix = name, 0
        while candidate in seen:
            suffix += 1
            candidate = f"{name}_{suffix}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _is_numeric(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
    )


def _format_table(
    names: list[str], columns: list[list[Any]], schema: pa.Schema, num_rows: int
) -> str:
    cells: list[list[str]] = []
    for column, field in zip(columns, schema, strict=True):
        if pa.types.is_floating(field.type):
            cells.append(_float_cells(column))
        else:
            cells.append([_text_cell(value) for value in column])
    widths = [
        max([len(name), *(len(cell) for cell in column)])
        for name, column in zip(names, cells, strict=True)
    ]
    right = [_is_numeric(field.type) for field in schema]

    def line(values: Sequence[str]) -> str:
        padded = (
            value.rjust(width) if align_right else value.ljust(width)
            for value, width, align_right in zip(values, widths, right, strict=True)
        )
        return "  ".join(padded).rstrip()

    lines = [line(names), "  ".join("-" * width for width in widths)]
    lines.extend(line([column[row] for column in cells]) for row in range(num_rows))
    lines.append(f"({num_rows} row{'' if num_rows == 1 else 's'})")
    return "\n".join(lines)


def _float_cells(values: list[Any]) -> list[str]:
    """A float column with one number of decimals (≤ 6), so decimal points line up."""

    def fixed(value: float) -> bool:
        return value == 0 or 1e-6 <= abs(value) < 1e15

    decimals = 1
    for value in values:
        if value is not None and math.isfinite(value) and fixed(value):
            digits = f"{value:.{_TABLE_MAX_DECIMALS}f}".rstrip("0").partition(".")[2]
            decimals = max(decimals, len(digits))
    cells: list[str] = []
    for value in values:
        if value is None:
            cells.append("NULL")
        elif math.isnan(value):
            cells.append("NaN")
        elif math.isinf(value):
            cells.append("inf" if value > 0 else "-inf")
        elif fixed(value):
            cells.append(f"{value:.{decimals}f}")
        else:
            cells.append(f"{value:.6g}")
    return cells


def _text_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    text = str(value).replace("\\", "\\\\")
    # One row per line, and nothing a terminal would run: control characters are escaped.
    # (core.text_safety.TERMINAL_UNSAFE: ESC sequences, bidi overrides, line breaks.)
    return TERMINAL_UNSAFE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED_ESCAPES.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def _format_csv(names: list[str], columns: list[list[Any]], num_rows: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_csv_text(name) for name in names])
    for row in range(num_rows):
        writer.writerow([_csv_cell(column[row]) for column in columns])
    return buffer.getvalue()


def _csv_text(text: str) -> str:
    return spreadsheet_safe(text)  # the one formula-injection rule (core.text_safety)


def _csv_cell(value: Any) -> str:
    # Numbers are written by us from numeric columns (a negative number is not a formula);
    # only text can carry an injected formula.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return _csv_text(base64.b64encode(value).decode("ascii"))
    if isinstance(value, list | dict):
        return _csv_text(json.dumps(_json_value(value), ensure_ascii=False))
    return _csv_text(str(value))


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return str(value)


# ---------------------------------------------------------------------------- CLI
def configure_sql_parser(parser: argparse.ArgumentParser) -> None:
    """Add ``stratigos sql``'s arguments to ``parser`` (and set ``func`` to sql_command)."""
    parser.add_argument(
        "query", help='the SQL text, e.g. "SELECT * FROM prices LIMIT 5"; - reads stdin'
    )
    parser.add_argument(
        "--format",
        choices=get_args(OutputFormat),
        default="table",
        help="output format (default: table)",
    )
    parser.add_argument(
        "--engine",
        choices=get_args(Engine),
        default="local",
        help="local: DuckDB over the running `stratigos local up`; athena: the AWS workgroup",
    )
    parser.add_argument(
        "--database",
        help=f"Glue database (default: ${env_name('glue_database')}, or the local stack's)",
    )
    parser.add_argument(
        "--workgroup",
        help=f"Athena workgroup for --engine athena (default: ${env_name('athena_workgroup')})",
    )
    parser.set_defaults(func=sql_command)


def sql_command(args: argparse.Namespace) -> int:
    """Run ``stratigos sql``: print the result; errors go to stderr with exit 1 or 2."""
    sql = sys.stdin.read() if args.query == "-" else args.query
    try:
        if args.engine == "athena":
            result = _run_on_athena(sql, args.database, args.workgroup)
        else:
            result = _run_locally(sql, args.database)
        output = format_result(result, args.format)
    except SqlError as error:
        return _fail(str(error), EXIT_SQL_ERROR)
    except EngineUnavailableError as error:
        return _fail(str(error), EXIT_UNAVAILABLE)
    try:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `stratigos sql … | head`: the reader has gone, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _fail(message: str, status: int) -> int:
    print(f"stratigos sql: {message}", file=sys.stderr)
    return status


def _run_locally(sql: str, database: str | None) -> pa.Table:
    from local.stack import StackState  # imports moto's server: only on the local path

    try:
        state = StackState.read()
    except FileNotFoundError as error:
        raise EngineUnavailableError(str(error)) from None
    database = database or state.environment()[env_name("glue_database")]
    with state.activated() as session:
        lake = LakeSql(session, database, endpoint_url=state.endpoint_url)
        try:
            return lake.query(sql)
        finally:
            lake.close()


def _run_on_athena(sql: str, database: str | None, workgroup: str | None) -> pa.Table:
    database = database or os.environ.get(env_name("glue_database"))
    workgroup = workgroup or os.environ.get(env_name("athena_workgroup"))
    if not database or not workgroup:
        raise EngineUnavailableError(
            "--engine athena needs --database and --workgroup (or "
            f"${env_name('glue_database')} and ${env_name('athena_workgroup')})"
        )
    return run_athena(sql, database=database, workgroup=workgroup)


def main(argv: Sequence[str] | None = None) -> int:
    """``stratigos sql`` on its own (until it is wired into ``local.cli``)."""
    parser = argparse.ArgumentParser(
        prog="stratigos sql", description="SQL over the lake (DuckDB locally, Athena in AWS)."
    )
    configure_sql_parser(parser)
    args = parser.parse_args(argv)
    try:
        return sql_command(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
