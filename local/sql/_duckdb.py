"""The local engine: DuckDB over the lake's Parquet, with the Glue catalog's tables as views.

Each table's S3 location is opened as a ``pyarrow.dataset`` over pyarrow's own S3
filesystem (DuckDB's httpfs extension is not needed, nor available offline) and exposed
under its plain name (``prices``), qualified by the Glue database (``stratigos_local.prices``)
and fully qualified by Athena's default catalog (``awsdatacatalog.stratigos_local.prices``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import boto3
import pyarrow as pa
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.aws import client_config
from lake import LakeError, open_dataset, s3_filesystem
from local.sql._errors import EngineUnavailableError, SqlError
from local.sql._types import LakeTable, _lake_table, arrow_type

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

__all__ = ["ATHENA_CATALOG", "LakeSql"]

# Athena's default data catalog: console-generated SQL may qualify tables with it.
ATHENA_CATALOG: Final = "awsdatacatalog"


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
            glue = self.session.client(
                "glue", endpoint_url=self.endpoint_url, config=self._config("glue")
            )
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

    def _config(self, service: str) -> Config:
        config = client_config(service)
        if self.endpoint_url:  # a local stack answers at once or not at all
            config = config.merge(Config(retries={"mode": "standard", "max_attempts": 2}))
        return config

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
        filesystem = s3_filesystem(self.session, self.endpoint_url)
        s3 = self.session.client("s3", endpoint_url=self.endpoint_url, config=self._config("s3"))
        for table in self.tables():
            if not table.is_parquet:
                continue
            try:
                dataset = _open_dataset(table, filesystem, s3)
            except LakeError as error:
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


def _open_dataset(table: LakeTable, filesystem: pafs.FileSystem, s3: Any) -> pads.Dataset:
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
    dataset = open_dataset(
        table.location, filesystem, schema=schema, partitioning=partitioning, s3=s3
    )
    if dataset is None:
        if schema is None:
            schema = pa.schema(list(_mappable_fields(table)))
        return pads.dataset(schema.empty_table())
    return dataset


def _mappable_fields(table: LakeTable) -> Iterator[pa.Field]:
    for column in (*table.columns, *table.partition_keys):
        try:
            yield pa.field(column.name, arrow_type(column.type))
        except TypeError:
            continue


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
