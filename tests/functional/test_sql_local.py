"""SQL over the local lake: docs/SQL.md's examples on DuckDB over the stack's Parquet.

Data: curated partitions for the tickers SQLA and SQLB written straight into the local
bucket (merged into whatever other tests wrote there); the Glue tables are the template's,
created when the stack is provisioned. Other tickers may be in the same partitions, so every
assertion looks at SQLA and SQLB only.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awswrangler as wr
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analyses.results import result_datasets
from core.lake import athena_type_name
from core.settings import settings
from ingest.schemas import (
    CURATED_DATASETS,
    PRICE_SCHEMA,
    PRICES_PREFIX,
    RETURNS_PREFIX,
    RETURNS_SCHEMA,
    ROW_GROUP_ROWS,
    partition_key,
)
from local.sql import LakeSql, SqlError, format_result
from sample_data import trading_days

pytestmark = pytest.mark.functional

DOC = Path(__file__).resolve().parents[2] / "docs" / "SQL.md"
TICKERS = ("SQLA", "SQLB")
HISTORY_YEARS = range(2015, 2024)  # SQLA only: one close a year before 2024
GAP_DAY = dt.date(2024, 12, 10)  # SQLB has no close that day
DAY = dt.date(2024, 12, 2)
NOW = dt.datetime(2025, 1, 2, 6, 0, tzinfo=dt.UTC)


def _sql_examples() -> dict[str, str]:
    """docs/SQL.md's ```sql blocks by title (each block's first line, ``-- title``)."""
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    examples: dict[str, str] = {}
    for block in blocks:
        title = block.splitlines()[0]
        assert title.startswith("-- "), f"example without a `-- title` line: {block[:60]!r}"
        examples[title.removeprefix("-- ")] = block
    assert len(examples) == len(blocks), "two examples share a title"
    return examples


EXAMPLES = _sql_examples()


def _example(prefix: str) -> str:
    matches = [sql for title, sql in EXAMPLES.items() if title.startswith(prefix)]
    assert len(matches) == 1, f"one example titled {prefix!r}… expected, found {len(matches)}"
    return matches[0]


# ------------------------------------------------------------------ the test data
@dataclass(frozen=True)
class LakeData:
    prices: pa.Table
    returns: pa.Table

    def closes(self, ticker: str) -> list[tuple[dt.date, float]]:
        rows = self.prices.filter(pc.equal(self.prices["ticker"], ticker)).to_pylist()
        return [(row["date"], row["close"]) for row in rows]

    def returns_of(self, ticker: str, year: int) -> dict[dt.date, dict[str, Any]]:
        rows = self.returns.filter(pc.equal(self.returns["ticker"], ticker)).to_pylist()
        return {row["date"]: row for row in rows if row["date"].year == year}


def _build_data() -> LakeData:
    days = [d.item() for d in trading_days(dt.date(2024, 11, 1), dt.date(2024, 12, 31))]
    rng = np.random.default_rng(20241202)
    prices: list[dict[str, Any]] = []
    for index, ticker in enumerate(TICKERS):
        dates = [dt.date(year, 7, 1) for year in HISTORY_YEARS] if ticker == "SQLA" else []
        dates += [d for d in days if not (ticker == "SQLB" and d == GAP_DAY)]
        steps = 1 + rng.normal(0.0005, 0.015 * (index + 1), len(dates))
        closes = np.round(50.0 * (index + 1) * np.cumprod(steps), 4)
        for position, (date, close) in enumerate(zip(dates, closes, strict=True)):
            prices.append(
                {
                    "date": date,
                    "ticker": ticker,
                    "close": float(close),
                    "open": None,
                    "high": None,
                    "low": None,
                    "volume": 1000 * (index + 1) + position,
                    "source_key": "raw/prices/sql-test.csv",
                    "source_version": None,
                    "source_time": NOW,
                    "ingested_at": NOW,
                }
            )
    returns: list[dict[str, Any]] = []
    for ticker in TICKERS:
        series = [row for row in prices if row["ticker"] == ticker]
        for previous, current in itertools.pairwise(series):
            ratio = current["close"] / previous["close"]
            returns.append(
                {
                    "date": current["date"],
                    "ticker": ticker,
                    "simple_return": ratio - 1,
                    "log_return": math.log(ratio),
                    "prev_date": previous["date"],
                    "computed_at": NOW,
                }
            )
    return LakeData(
        pa.Table.from_pylist(prices, schema=PRICE_SCHEMA),
        pa.Table.from_pylist(returns, schema=RETURNS_SCHEMA),
    )


def _years(rows: pa.Table) -> list[int]:
    return sorted(set(pc.year(rows["date"]).to_pylist()))


def _replace_our_rows(s3: Any, bucket: str, prefix: str, years: list[int], rows: pa.Table) -> None:
    """Make our tickers' rows in those years' partitions exactly ``rows``, keeping the rows
    other tests wrote there (empty ``rows`` take ours out again)."""
    for year in years:
        key = partition_key(prefix, year)
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            others = rows.schema.empty_table()
        else:
            others = pq.read_table(io.BytesIO(body)).select(rows.schema.names).cast(rows.schema)
            others = others.filter(pc.invert(pc.is_in(others["ticker"], pa.array(TICKERS))))
        merged = pa.concat_tables([others, rows.filter(pc.equal(pc.year(rows["date"]), year))])
        if merged.num_rows == 0:
            s3.delete_object(Bucket=bucket, Key=key)
            continue
        merged = merged.sort_by([("ticker", "ascending"), ("date", "ascending")])
        buffer = io.BytesIO()
        pq.write_table(merged, buffer, row_group_size=ROW_GROUP_ROWS, compression="zstd")
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


@pytest.fixture(scope="module")
def data(local_stack: Any) -> Iterator[LakeData]:
    """Our rows in the lake for this module; taken out again afterwards."""
    local_stack.wait_idle()  # no handler of an earlier test is rewriting a partition
    lake_data = _build_data()
    s3, bucket = local_stack.client("s3"), local_stack.bucket
    datasets = ((PRICES_PREFIX, lake_data.prices), (RETURNS_PREFIX, lake_data.returns))
    for prefix, rows in datasets:
        _replace_our_rows(s3, bucket, prefix, _years(rows), rows)
    yield lake_data
    local_stack.wait_idle()
    for prefix, rows in datasets:
        _replace_our_rows(s3, bucket, prefix, _years(rows), rows.schema.empty_table())


@pytest.fixture(scope="module")
def lake(local_stack: Any, data: LakeData) -> Iterator[LakeSql]:
    engine = LakeSql(local_stack.session, settings().glue_database, local_stack.endpoint_url)
    yield engine
    engine.close()


def _ours(table: pa.Table) -> list[dict[str, Any]]:
    return [row for row in table.to_pylist() if row["ticker"] in TICKERS]


# ------------------------------------------------------------------ the doc's examples
def test_the_doc_has_the_examples_the_issue_asks_for() -> None:
    for prefix in (
        "Latest close per ticker",
        "One ticker's closes over ten years",
        "All tickers on one day",
        "Monthly last close per ticker",
        "Annualised volatility per ticker",
        "Pairwise correlation of two tickers",
        "Tickers with missing days",
    ):
        _example(prefix)
    for sql in EXAMPLES.values():
        assert ";" not in sql, "Athena runs one statement: no `;` in an example"


def _with_our_tickers(sql: str) -> str:
    """An example with its placeholder tickers replaced by ours."""
    return sql.replace("'AAPL'", "'SQLA'").replace("'MSFT'", "'SQLB'")


@pytest.mark.parametrize("title", list(EXAMPLES))
def test_every_doc_example_runs_locally(lake: LakeSql, title: str) -> None:
    as_written = lake.query(EXAMPLES[title])
    assert as_written.num_columns > 0
    on_our_tickers = lake.query(_with_our_tickers(EXAMPLES[title]))
    assert on_our_tickers.column_names == as_written.column_names
    # The run-results examples get data and checks of their own in test_results_sql.py.
    if not any(re.search(rf"\b{name}\b", EXAMPLES[title]) for name in result_datasets()):
        assert on_our_tickers.num_rows > 0, "our data gives every example rows"


def test_latest_close_per_ticker(lake: LakeSql, data: LakeData) -> None:
    rows = _ours(lake.query(_example("Latest close per ticker")))
    expected = [
        {"ticker": t, "last_date": data.closes(t)[-1][0], "last_close": data.closes(t)[-1][1]}
        for t in TICKERS
    ]
    assert rows == expected


def test_one_ticker_over_ten_years(lake: LakeSql, data: LakeData) -> None:
    sql = _with_our_tickers(_example("One ticker's closes over ten years"))
    result = lake.query(sql)
    expected = [(d, c) for d, c in data.closes("SQLA") if 2015 <= d.year <= 2024]
    assert list(zip(result["date"].to_pylist(), result["close"].to_pylist(), strict=True)) == (
        expected
    )
    assert {d.year for d, _ in expected} == set(range(2015, 2025))


def test_all_tickers_on_one_day(lake: LakeSql, data: LakeData) -> None:
    rows = _ours(lake.query(_example("All tickers on one day")))
    prices = data.prices.to_pylist()
    assert rows == [
        {"ticker": p["ticker"], "close": p["close"], "volume": p["volume"]}
        for p in prices
        if p["date"] == DAY
    ]


def test_monthly_last_close(lake: LakeSql, data: LakeData) -> None:
    rows = _ours(lake.query(_example("Monthly last close per ticker")))
    expected = []
    for ticker in TICKERS:
        for month in (11, 12):
            in_month = [
                (d, c) for d, c in data.closes(ticker) if (d.year, d.month) == (2024, month)
            ]
            expected.append(
                {
                    "ticker": ticker,
                    "month_start": dt.date(2024, month, 1),
                    "last_date": in_month[-1][0],
                    "last_close": in_month[-1][1],
                }
            )
    assert rows == expected


def test_annualised_volatility(lake: LakeSql, data: LakeData) -> None:
    rows = {row["ticker"]: row for row in _ours(lake.query(_example("Annualised volatility")))}
    assert set(rows) == set(TICKERS)
    for ticker in TICKERS:
        log_returns = [r["log_return"] for r in data.returns_of(ticker, 2024).values()]
        assert rows[ticker]["days"] == len(log_returns)
        expected = float(np.std(log_returns, ddof=1) * math.sqrt(252))
        assert rows[ticker]["annualised_volatility"] == pytest.approx(expected, rel=1e-12)


def test_pairwise_correlation(lake: LakeSql, data: LakeData) -> None:
    sql = _with_our_tickers(_example("Pairwise correlation of two tickers"))
    [row] = lake.query(sql).to_pylist()
    a, b = data.returns_of("SQLA", 2024), data.returns_of("SQLB", 2024)
    common = sorted(set(a) & set(b))
    assert GAP_DAY not in common
    assert row["days"] == len(common)
    expected = np.corrcoef(
        [a[d]["simple_return"] for d in common], [b[d]["simple_return"] for d in common]
    )[0, 1]
    assert row["correlation"] == pytest.approx(float(expected), rel=1e-9)


def test_missing_days(lake: LakeSql, data: LakeData) -> None:
    rows = _ours(lake.query(_example("Tickers with missing days")))
    missing = {(row["ticker"], row["missing_date"]) for row in rows}
    assert ("SQLB", GAP_DAY) in missing
    # SQLA has a close on every one of our days (other tickers may add days of their own).
    our_days = {d for d, _ in data.closes("SQLA")}
    assert not {d for t, d in missing if t == "SQLA"} & our_days


def test_closes_with_returns_join_on_the_partition(lake: LakeSql, data: LakeData) -> None:
    sql = _with_our_tickers(_example("Closes with their daily return"))
    result = lake.query(sql).to_pylist()
    returns = data.returns_of("SQLA", 2024)
    assert [row["date"] for row in result] == [d for d, _ in data.closes("SQLA") if d.year == 2024]
    assert all(row["simple_return"] == returns[row["date"]]["simple_return"] for row in result)


# ------------------------------------------------------------------ names, errors, empty tables
def test_the_catalog_tables_are_read_from_glue(lake: LakeSql) -> None:
    tables = {table.name: table for table in lake.tables()}
    for dataset in CURATED_DATASETS:
        table = tables[dataset.table]
        assert table.location.endswith(f"/{dataset.prefix}")
        assert table.arrow_schema().names == [*dataset.schema.names, "year"]
        assert [(k.name, k.type) for k in table.partition_keys] == [("year", "int")]
    prices = dict(
        zip(
            tables["prices"].arrow_schema().names,
            tables["prices"].arrow_schema().types,
            strict=True,
        )
    )
    assert prices["date"] == pa.date32()
    assert prices["volume"] == pa.int64()
    assert prices["year"] == pa.int32()


def test_plain_qualified_and_catalog_qualified_names(lake: LakeSql, data: LakeData) -> None:
    database = settings().glue_database
    expected = data.prices.num_rows
    for name in (
        "prices",
        f"{database}.prices",
        f'"{database}"."prices"',
        f"awsdatacatalog.{database}.prices",
    ):
        result = lake.query(f"SELECT count(*) AS n FROM {name} WHERE ticker IN ('SQLA', 'SQLB')")
        assert result.to_pylist() == [{"n": expected}], name


def test_a_syntax_error_is_duckdbs_message(lake: LakeSql) -> None:
    with pytest.raises(SqlError) as raised:
        lake.query("SELEC ticker FROM prices")
    message = str(raised.value)
    assert message.startswith("Parser Error: syntax error at or near")
    assert "SELEC" in message
    assert raised.value.__cause__ is None


def test_an_unknown_table_is_a_catalog_error(lake: LakeSql) -> None:
    with pytest.raises(SqlError, match=r"Catalog Error: Table with name no_such_table"):
        lake.query("SELECT * FROM no_such_table")


def test_athena_semantics_integer_division_and_no_file_access(lake: LakeSql) -> None:
    assert lake.query("SELECT 7 / 2 AS q, CAST(7 AS DOUBLE) / 2 AS f").to_pylist() == [
        {"q": 3, "f": 3.5}
    ]
    with pytest.raises(SqlError, match="Permission Error"):
        lake.query("SELECT * FROM read_parquet('/etc/hostname')")


def test_a_year_range_is_a_partition_filter(lake: LakeSql) -> None:
    result = lake.query(
        "SELECT year, count(*) AS n FROM prices WHERE ticker = 'SQLA' "
        "AND year BETWEEN 2015 AND 2016 GROUP BY year ORDER BY year"
    )
    assert result.to_pylist() == [{"year": 2015, "n": 1}, {"year": 2016, "n": 1}]


def test_results_format_as_json_and_table(lake: LakeSql) -> None:
    result = lake.query(
        "SELECT ticker, date, close FROM prices WHERE year = 2024 AND date = DATE '2024-12-02' "
        "AND ticker IN ('SQLA', 'SQLB') ORDER BY ticker"
    )
    text = format_result(result, "table")
    assert text.splitlines()[0].split() == ["ticker", "date", "close"]
    assert "SQLA" in text
    assert text.endswith("(2 rows)")
    assert '"date": "2024-12-02"' in format_result(result, "json")


OWN_DATABASE = "stratigos_sql_test"
EMPTY_PREFIX = "curated/sql-test-nothing-yet/"
PRUNED_PREFIX = "curated/sql-test-pruned/"


@pytest.fixture
def own_database(local_stack: Any, data: LakeData) -> Iterator[str]:
    """A Glue database of its own: ``nothing_yet`` (no objects under its prefix) and
    ``pruned`` (a good 2024 partition and an unreadable 2023 one)."""
    session, bucket = local_stack.session, local_stack.bucket
    s3 = local_stack.client("s3")
    wr.catalog.create_database(OWN_DATABASE, exist_ok=True, boto3_session=session)
    for table, prefix in (("nothing_yet", EMPTY_PREFIX), ("pruned", PRUNED_PREFIX)):
        # A table registered at run time (as a user's own tool would), partitioned by year.
        wr.catalog.create_parquet_table(
            database=OWN_DATABASE,
            table=table,
            path=f"s3://{bucket}/{prefix}",
            columns_types={
                field.name: athena_type_name(str(field.type)) for field in RETURNS_SCHEMA
            },
            partitions_types={"year": "int"},
            description="sql test table",
            mode="overwrite",
            boto3_session=session,
        )
    buffer = io.BytesIO()
    pq.write_table(data.returns.filter(pc.equal(pc.year(data.returns["date"]), 2024)), buffer)
    s3.put_object(Bucket=bucket, Key=partition_key(PRUNED_PREFIX, 2024), Body=buffer.getvalue())
    s3.put_object(Bucket=bucket, Key=partition_key(PRUNED_PREFIX, 2023), Body=b"not parquet")
    yield OWN_DATABASE
    for year in (2023, 2024):
        s3.delete_object(Bucket=bucket, Key=partition_key(PRUNED_PREFIX, year))
    wr.catalog.delete_database(OWN_DATABASE, boto3_session=session)


def test_a_table_without_objects_has_columns_and_no_rows(
    local_stack: Any, own_database: str
) -> None:
    engine = LakeSql(local_stack.session, own_database, local_stack.endpoint_url)
    try:
        assert [table.name for table in engine.tables()] == ["nothing_yet", "pruned"]
        for name in ("nothing_yet", f"{own_database}.nothing_yet"):
            result = engine.query(f"SELECT * FROM {name}")
            assert result.num_rows == 0
            assert result.column_names == [*RETURNS_SCHEMA.names, "year"]
            assert result.schema.field("simple_return").type == pa.float64()
            assert result.schema.field("date").type == pa.date32()
        query = "SELECT count(*) AS n FROM nothing_yet WHERE year = 2024"
        assert engine.query(query).to_pylist() == [{"n": 0}]
        # Tables come from this database's catalog only.
        with pytest.raises(SqlError, match="Catalog Error"):
            engine.query("SELECT * FROM prices")
    finally:
        engine.close()


def test_a_year_filter_reads_only_its_partitions(
    local_stack: Any, own_database: str, data: LakeData
) -> None:
    engine = LakeSql(local_stack.session, own_database, local_stack.endpoint_url)
    try:
        expected = data.returns.filter(pc.equal(pc.year(data.returns["date"]), 2024)).num_rows
        for where in ("year = 2024", "year BETWEEN 2024 AND 2030", "year > 2023"):
            result = engine.query(f"SELECT count(*) AS n FROM pruned WHERE {where}")
            assert result.to_pylist() == [{"n": expected}], where
        # Without the filter the unreadable 2023 file is read: the engine says so.
        with pytest.raises(SqlError):
            engine.query("SELECT count(*) FROM pruned")
    finally:
        engine.close()
