"""local.sql without a stack: output formats, Glue type mapping, Athena's arguments, the CLI."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import awswrangler as wr
import boto3
import pandas as pd
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

from local import sql as lake_sql
from local.sql import (
    EngineUnavailableError,
    SqlError,
    arrow_type,
    configure_sql_parser,
    format_result,
    run_athena,
    sql_command,
)


@pytest.fixture
def prices() -> pa.Table:
    return pa.table(
        {
            "ticker": ["SQLA", "SQLB", "SQLC"],
            "date": pa.array([dt.date(2024, 12, 2)] * 3, pa.date32()),
            "close": [101.5, 99.25, float("nan")],
            "volume": pa.array([1200, None, 7], pa.int64()),
        }
    )


# ------------------------------------------------------------------ table
def test_table_aligns_columns_and_counts_rows(prices: pa.Table) -> None:
    lines = format_result(prices, "table").splitlines()
    assert lines == [
        "ticker  date         close  volume",
        "------  ----------  ------  ------",
        "SQLA    2024-12-02  101.50    1200",
        "SQLB    2024-12-02   99.25    NULL",
        "SQLC    2024-12-02     NaN       7",
        "(3 rows)",
    ]


def test_table_formats_numbers_sensibly() -> None:
    table = pa.table(
        {
            "x": [0.1 + 0.2, 1.0, 1e-9, 12345678.123456789, float("inf"), None],
            "d": pa.array([Decimal("1.50")] * 6, pa.decimal128(10, 2)),
        }
    )
    cells = [line.split() for line in format_result(table).splitlines()[2:-1]]
    assert [row[0] for row in cells] == [
        "0.300000",
        "1.000000",
        "1e-09",
        "12345678.123457",
        "inf",
        "NULL",
    ]
    assert {row[1] for row in cells} == {"1.50"}


def test_table_keeps_one_row_per_line_and_says_one_row() -> None:
    table = pa.table({"note": ["two\nlines\tand a tab"], "ok": [True]})
    lines = format_result(table, "table").splitlines()
    assert lines[2] == "two\\nlines\\tand a tab  true"
    assert lines[-1] == "(1 row)"


def test_table_of_no_rows_has_the_header() -> None:
    empty = pa.schema([("ticker", pa.string()), ("close", pa.float64())]).empty_table()
    assert format_result(empty, "table").splitlines() == [
        "ticker  close",
        "------  -----",
        "(0 rows)",
    ]


# ------------------------------------------------------------------ csv
def test_csv_is_rfc4180(prices: pa.Table) -> None:
    text = format_result(prices, "csv")
    assert text.split("\r\n") == [
        "ticker,date,close,volume",
        "SQLA,2024-12-02,101.5,1200",
        "SQLB,2024-12-02,99.25,",
        "SQLC,2024-12-02,NaN,7",
        "",
    ]


def test_csv_quotes_separators_quotes_and_newlines() -> None:
    values = ["a,b", 'say "hi"', "two\nlines", "plain"]
    text = format_result(pa.table({"v": values}), "csv")
    assert text == 'v\r\n"a,b"\r\n"say ""hi"""\r\n"two\nlines"\r\nplain\r\n'
    assert [row[0] for row in csv.reader(io.StringIO(text, newline=""))] == ["v", *values]


def test_csv_escapes_formula_cells_but_not_negative_numbers() -> None:
    table = pa.table(
        {
            "=name": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "safe-=+"],
            "ret": [-0.5, -1.0, 0.0, 1.0, 2.0, 3.0],
            "n": pa.array([-3, -2, -1, 0, 1, 2], pa.int64()),
        }
    )
    rows = list(csv.reader(io.StringIO(format_result(table, "csv"), newline="")))
    assert rows[0] == ["'=name", "ret", "n"]
    assert [row[0] for row in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "safe-=+",
    ]
    assert [row[1] for row in rows[1:]] == ["-0.5", "-1.0", "0.0", "1.0", "2.0", "3.0"]
    assert [row[2] for row in rows[1:]] == ["-3", "-2", "-1", "0", "1", "2"]


def test_csv_writes_timestamps_and_booleans_plainly() -> None:
    table = pa.table(
        {
            "at": pa.array([dt.datetime(2024, 12, 2, 9, 30)], pa.timestamp("ms")),
            "flag": [False],
        }
    )
    assert format_result(table, "csv") == "at,flag\r\n2024-12-02 09:30:00,false\r\n"


# ------------------------------------------------------------------ json
def test_json_is_a_list_of_records_with_iso_dates_and_no_nan(prices: pa.Table) -> None:
    records = json.loads(format_result(prices, "json"))
    assert records == [
        {"ticker": "SQLA", "date": "2024-12-02", "close": 101.5, "volume": 1200},
        {"ticker": "SQLB", "date": "2024-12-02", "close": 99.25, "volume": None},
        {"ticker": "SQLC", "date": "2024-12-02", "close": None, "volume": 7},
    ]


def test_json_values_of_every_kind() -> None:
    table = pa.table(
        {
            "at": pa.array([dt.datetime(2024, 12, 2, 9, 30, 1)], pa.timestamp("us", tz="UTC")),
            "inf": [float("-inf")],
            "sum": pa.array([Decimal(42)], pa.decimal128(38, 0)),
            "ratio": pa.array([Decimal("0.25")], pa.decimal128(10, 2)),
            "tags": [["a", "b"]],
            "raw": [b"\x00\x01"],
        }
    )
    [record] = json.loads(format_result(table, "json"))
    assert record == {
        "at": "2024-12-02T09:30:01+00:00",
        "inf": None,
        "sum": 42,
        "ratio": 0.25,
        "tags": ["a", "b"],
        "raw": "AAE=",
    }


def test_json_keeps_duplicate_column_names_apart() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    assert json.loads(format_result(table, "json")) == [{"x": 1, "x_1": 2}]


def test_json_of_no_rows_is_an_empty_list() -> None:
    assert json.loads(format_result(pa.table({"x": pa.array([], pa.int64())}), "json")) == []


def test_an_unknown_format_is_refused(prices: pa.Table) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        format_result(prices, "xml")  # type: ignore[arg-type]


# ------------------------------------------------------------------ Glue types
@pytest.mark.parametrize(
    ("glue", "arrow"),
    [
        ("string", pa.string()),
        ("double", pa.float64()),
        ("bigint", pa.int64()),
        ("int", pa.int32()),
        ("date", pa.date32()),
        ("timestamp", pa.timestamp("us")),
        ("boolean", pa.bool_()),
        ("float", pa.float32()),
        ("smallint", pa.int16()),
        ("tinyint", pa.int8()),
        ("varchar(12)", pa.string()),
        ("DECIMAL(18, 4)", pa.decimal128(18, 4)),
    ],
)
def test_glue_types_map_to_arrow(glue: str, arrow: pa.DataType) -> None:
    assert arrow_type(glue) == arrow


def test_an_unmapped_glue_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="array<string>"):
        arrow_type("array<string>")


def test_get_tables_entries_become_lake_tables() -> None:
    entry = {
        "Name": "prices",
        "Description": "daily prices",
        "StorageDescriptor": {
            "Columns": [{"Name": "date", "Type": "date"}, {"Name": "close", "Type": "double"}],
            "Location": "s3://bucket/curated/prices/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        },
        "PartitionKeys": [{"Name": "year", "Type": "int"}],
    }
    table = lake_sql._lake_table(entry)
    assert table is not None
    assert table.arrow_schema() == pa.schema(
        [("date", pa.date32()), ("close", pa.float64()), ("year", pa.int32())]
    )
    assert table.is_parquet
    view = {"Name": "v", "StorageDescriptor": {"Columns": []}, "TableType": "VIRTUAL_VIEW"}
    assert lake_sql._lake_table(view) is None
    text = {"Name": "t", "StorageDescriptor": {"Location": "s3://b/t/", "InputFormat": "text"}}
    csv_table = lake_sql._lake_table(text)
    assert csv_table is not None
    assert not csv_table.is_parquet


# ------------------------------------------------------------------ Athena
class _FakeReadSqlQuery:
    """Stands in for awswrangler.athena.read_sql_query: records its call, answers or fails."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_run_athena_sends_the_sql_to_the_workgroup(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"ticker": ["SQLA"], "close": [101.5]})
    fake = _FakeReadSqlQuery(frame)
    monkeypatch.setattr(wr.athena, "read_sql_query", fake)
    session = boto3.session.Session(region_name="eu-west-1")
    result = run_athena(
        "SELECT ticker, close FROM prices",
        database="stratigos_prod",
        workgroup="stratigos-prod-workgroup",
        session=session,
    )
    assert result.to_pylist() == [{"ticker": "SQLA", "close": 101.5}]
    [(args, kwargs)] = fake.calls
    sent = dict(kwargs)
    sql = args[0] if args else sent.pop("sql")
    assert len(args) <= 1
    assert sql == "SELECT ticker, close FROM prices"
    assert sent == {
        "database": "stratigos_prod",
        "ctas_approach": False,
        "workgroup": "stratigos-prod-workgroup",
        "boto3_session": session,
    }


def test_run_athena_answers_a_failed_query_with_athenas_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reason = "Query error: SYNTAX_ERROR: line 1:1: mismatched input 'SELEC'"
    monkeypatch.setattr(
        wr.athena, "read_sql_query", _FakeReadSqlQuery(wr.exceptions.QueryFailed(reason))
    )
    with pytest.raises(SqlError, match="SYNTAX_ERROR"):
        run_athena("SELEC 1", database="d", workgroup="w")


@pytest.mark.parametrize(
    ("code", "raised"),
    [("InvalidRequestException", SqlError), ("AccessDeniedException", EngineUnavailableError)],
)
def test_run_athena_sorts_client_errors(
    monkeypatch: pytest.MonkeyPatch, code: str, raised: type[Exception]
) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "nope"}}, "StartQueryExecution")
    monkeypatch.setattr(wr.athena, "read_sql_query", _FakeReadSqlQuery(error))
    with pytest.raises(raised, match="nope"):
        run_athena("SELECT 1", database="d", workgroup="w")


# ------------------------------------------------------------------ the command
def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stratigos sql")
    configure_sql_parser(parser)
    return parser.parse_args(argv)


def test_the_parser_has_the_commands_options() -> None:
    args = _args("SELECT 1")
    assert (args.query, args.format, args.engine, args.database, args.workgroup) == (
        "SELECT 1",
        "table",
        "local",
        None,
        None,
    )
    assert args.func is sql_command
    args = _args("SELECT 1", "--format", "json", "--engine", "athena", "--database", "d")
    assert (args.format, args.engine, args.database) == ("json", "athena", "d")
    with pytest.raises(SystemExit):
        _args("SELECT 1", "--format", "xml")


def test_athena_engine_takes_database_and_workgroup_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = _FakeReadSqlQuery(pd.DataFrame({"n": [3]}))
    monkeypatch.setattr(wr.athena, "read_sql_query", fake)
    monkeypatch.setenv("STRATIGOS_GLUE_DATABASE", "env_db")
    monkeypatch.setenv("STRATIGOS_ATHENA_WORKGROUP", "env-wg")
    assert sql_command(_args("SELECT 3 AS n", "--engine", "athena", "--format", "json")) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 3}]
    assert fake.calls[-1][1]["database"] == "env_db"
    assert fake.calls[-1][1]["workgroup"] == "env-wg"
    assert sql_command(_args("SELECT 1", "--engine", "athena", "--workgroup", "cli-wg")) == 0
    assert fake.calls[-1][1]["workgroup"] == "cli-wg"


def test_athena_engine_without_a_database_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("STRATIGOS_GLUE_DATABASE", raising=False)
    monkeypatch.delenv("STRATIGOS_ATHENA_WORKGROUP", raising=False)
    assert sql_command(_args("SELECT 1", "--engine", "athena")) == 2
    assert "--database" in capsys.readouterr().err


def test_an_athena_sql_error_exits_1_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = wr.exceptions.QueryFailed("Query error: SYNTAX_ERROR: bad")
    monkeypatch.setattr(wr.athena, "read_sql_query", _FakeReadSqlQuery(failed))
    status = sql_command(
        _args("SELEC 1", "--engine", "athena", "--database", "d", "--workgroup", "w")
    )
    captured = capsys.readouterr()
    assert status == 1
    assert "SYNTAX_ERROR: bad" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_local_engine_without_a_stack_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert sql_command(_args("SELECT 1")) == 2
    assert "stratigos local up" in capsys.readouterr().err


def test_local_engine_with_a_stale_state_file_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from stack import DEFAULT_TEMPLATE

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = {
        "endpoint_url": f"http://127.0.0.1:{port}",
        "api_url": "http://127.0.0.1:1",
        "region": "us-east-1",
        "stack_name": "stratigos-local",
        "keys": {},
        "template_path": str(DEFAULT_TEMPLATE),
        "pid": 1,
    }
    (tmp_path / ".stratigos").mkdir()
    (tmp_path / ".stratigos" / "local.json").write_text(json.dumps(state))
    monkeypatch.chdir(tmp_path)
    assert sql_command(_args("SELECT 1")) == 2
    error = capsys.readouterr().err
    assert "still running" in error
    assert "Traceback" not in error
