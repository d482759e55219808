"""SQL over the lake: DuckDB over the local stack's Parquet, Athena in the cloud, same SQL text.

Locally, ``LakeSql`` reads the Glue catalog (whatever tables it holds, not a fixed list),
opens each table's S3 location as a ``pyarrow.dataset`` and exposes it to an in-memory
DuckDB connection under its plain, database-qualified and catalog-qualified names. In the
cloud, ``run_athena`` sends the same text to the template's Athena workgroup through
awswrangler. docs/SQL.md lists the tables and the SQL subset that runs identically on both
engines.

One module per job, this package's surface re-exported here:

- ``_types``: the Glue catalog's tables and column types as Arrow (the reading direction;
  the writers' Arrow → Athena map is the one in :func:`core.lake.athena_type_name`);
- ``_duckdb``: the local engine (:class:`LakeSql`);
- ``_athena``: the cloud engine (:func:`run_athena`);
- ``_format``: results as an aligned table, CSV or JSON (:func:`format_result`);
- ``_cli``: ``stratigos sql "SELECT …" [--format table|csv|json] [--engine local|athena]``
  (:func:`configure_sql_parser` + :func:`sql_command`; also ``python -m local.sql``), exit
  status 0 (ok), 1 (the engine rejected or failed the query: its message on stderr) or 2
  (no engine to run it on: no local stack, no credentials, no such database);
- ``_errors``: what both engines raise (:class:`SqlError`, :class:`EngineUnavailableError`).
"""

from __future__ import annotations

from local.sql._athena import run_athena
from local.sql._cli import configure_sql_parser, main, sql_command
from local.sql._duckdb import LakeSql
from local.sql._errors import EngineUnavailableError, SqlError
from local.sql._format import OutputFormat, format_result
from local.sql._types import LakeColumn, LakeTable, arrow_type

# Two private helpers the unit tests call through this package (not part of its surface).
from local.sql._format import _text_cell as _text_cell  # isort: skip
from local.sql._types import _lake_table as _lake_table  # isort: skip

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
