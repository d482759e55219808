"""``stratigos sql "SELECT …" [--format table|csv|json] [--engine local|athena]``.

``configure_sql_parser`` + ``sql_command``; exit status 0 (ok), 1 (the engine rejected or
failed the query: its message on stderr) or 2 (no engine to run it on: no local stack, no
credentials, no such database).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Final, Literal, get_args

import pyarrow as pa

from core.settings import env_name
from local.sql._athena import run_athena
from local.sql._duckdb import LakeSql
from local.sql._errors import EngineUnavailableError, SqlError
from local.sql._format import OutputFormat, format_result

__all__ = ["configure_sql_parser", "main", "sql_command"]

Engine = Literal["local", "athena"]

# Exit statuses of `stratigos sql`.
EXIT_SQL_ERROR: Final = 1
EXIT_UNAVAILABLE: Final = 2


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
