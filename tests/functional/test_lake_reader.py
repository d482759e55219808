"""The lake reader (``lake``) against the local stack's S3: filters, versions, and absent vs
forbidden vs transient, with faults injected into the real S3 calls (tests.support.faults).
"""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from botocore.config import Config
from stack_client import http_json, unique_tickers

from core.lake import PRICES_PREFIX, partition_key
from ingest.schemas import PRICE_SCHEMA
from lake import LakeAccessDenied, LakeReader, LakeUnavailable, open_dataset, s3_filesystem
from tests.support.faults import FaultRule, inject, key_prefix

pytestmark = pytest.mark.functional

SCHEMA = pa.schema([("date", pa.date32()), ("ticker", pa.string()), ("value", pa.float64())])


def _days(year: int, n: int) -> list[date]:
    return [date(year, 1, 2) + timedelta(days=i) for i in range(n)]


def _write(s3: Any, bucket: str, key: str, table: pa.Table, row_group_size: int = 50) -> str:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_size, write_statistics=True)
    answer = s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue())
    return str(answer.get("VersionId") or answer["ETag"].strip('"'))


def _rows(tickers: list[str], days: list[date]) -> pa.Table:
    rows = [(d, t, float(i)) for t in sorted(tickers) for i, d in enumerate(days)]
    return pa.table(
        {
            "date": pa.array([r[0] for r in rows], pa.date32()),
            "ticker": pa.array([r[1] for r in rows], pa.string()),
            "value": pa.array([r[2] for r in rows], pa.float64()),
        }
    )


@pytest.fixture
def dataset(local_stack: Any) -> dict[str, Any]:
    """A private year-partitioned dataset: 2021 and 2023 (no 2022), four tickers each."""
    s3 = local_stack.client("s3")
    prefix = f"tmp/tests/lake-{uuid.uuid4().hex[:8]}/"
    tickers = ["AAA", "BBB", "CCC", "DDD"]
    versions = {
        year: _write(
            s3, local_stack.bucket, partition_key(prefix, year), _rows(tickers, _days(year, 100))
        )
        for year in (2021, 2023)
    }
    # Not a partition: ignored by the listing of years.
    s3.put_object(Bucket=local_stack.bucket, Key=f"{prefix}_corrections/data.parquet", Body=b"x")
    return {"s3": s3, "bucket": local_stack.bucket, "prefix": prefix, "versions": versions}


def test_reads_filtered_rows_prunes_row_groups_and_records_versions(
    dataset: dict[str, Any],
) -> None:
    reader = LakeReader(dataset["bucket"], s3=dataset["s3"])
    prefix = dataset["prefix"]
    assert reader.years(prefix) == [2021, 2023]
    table = reader.read(
        prefix,
        range(2020, 2025),  # computed keys: 2020, 2022 and 2024 are absent, so skipped
        tickers=["BBB"],
        start=date(2021, 2, 1),
        end=date(2023, 1, 10),
        columns=["date", "ticker", "value"],
        schema=SCHEMA,
    )
    assert set(table["ticker"].to_pylist()) == {"BBB"}
    days = table["date"].to_pylist()
    assert min(days) == date(2021, 2, 1)
    assert max(days) == date(2023, 1, 10)
    assert reader.stats.objects == 2
    # 400 rows in groups of 50, sorted by ticker: one ticker's rows span two groups.
    assert reader.stats.row_groups < reader.stats.row_groups_total
    assert reader.refs() == [
        f"{partition_key(prefix, year)}@{dataset['versions'][year]}" for year in (2021, 2023)
    ]


def test_absent_partitions_are_an_empty_result_with_the_schema(dataset: dict[str, Any]) -> None:
    reader = LakeReader(dataset["bucket"], s3=dataset["s3"])
    table = reader.read(dataset["prefix"], [2022, 2024], columns=["date", "ticker"], schema=SCHEMA)
    assert table.num_rows == 0
    assert table.schema.names == ["date", "ticker"]
    assert reader.objects == []
    assert reader.years(f"tmp/tests/none-{uuid.uuid4().hex}/") == []


def test_last_date_searches_newest_first_and_stops_at_the_first_year_holding_any(
    dataset: dict[str, Any],
) -> None:
    reader = LakeReader(dataset["bucket"], s3=dataset["s3"])
    prefix, years = dataset["prefix"], [2021, 2022, 2023]
    assert reader.last_date(prefix, ["AAA", "ZZZ"], years) == _days(2023, 100)[-1]
    assert [o.key for o in reader.objects] == [partition_key(prefix, 2023)]  # 2021 untouched
    until = date(2022, 6, 30)
    assert reader.last_date(prefix, ["CCC"], years, until=until) == _days(2021, 100)[-1]
    assert reader.last_date(prefix, ["ZZZ"], years) is None


def test_a_reader_is_a_snapshot_of_the_versions_it_opened(dataset: dict[str, Any]) -> None:
    reader = LakeReader(dataset["bucket"], s3=dataset["s3"])
    prefix = dataset["prefix"]
    first = reader.read(prefix, [2021], tickers=["AAA"], columns=["value"])
    # A writer replaces the partition meanwhile: this reader keeps reading what it opened.
    _write(
        dataset["s3"],
        dataset["bucket"],
        partition_key(prefix, 2021),
        _rows(["AAA"], _days(2021, 3)),
    )
    again = reader.read(prefix, [2021], tickers=["AAA"], columns=["value"])
    assert again.equals(first)
    assert reader.refs()[0].endswith(dataset["versions"][2021])
    assert LakeReader(dataset["bucket"], s3=dataset["s3"]).read(prefix, [2021]).num_rows == 3


def test_a_refused_read_is_never_taken_for_absence(dataset: dict[str, Any]) -> None:
    key = partition_key(dataset["prefix"], 2021)
    reader = LakeReader(dataset["bucket"], s3=dataset["s3"])
    with (
        inject_rule("GetObject", "forbidden", key) as faults,
        pytest.raises(LakeAccessDenied) as denied,
    ):
        reader.read(dataset["prefix"], [2021])
    assert faults.count("forbidden") == 1  # a 403 is not retried
    assert denied.value.target == f"{dataset['bucket']}/{key}"
    # A 403 for an object that really is not there (a role without s3:ListBucket) is absence.
    absent = partition_key(dataset["prefix"], 2022)
    with inject_rule("GetObject", "forbidden", absent):
        assert reader.read(dataset["prefix"], [2022]).num_rows == 0


@pytest.mark.parametrize("kind", ["throttle", "server_error"])
def test_a_persistent_transient_failure_is_unavailable_not_absent(
    dataset: dict[str, Any], kind: Any
) -> None:
    key = partition_key(dataset["prefix"], 2023)
    # Two attempts, not core.aws's five: what is checked is how the reader names a failure
    # that outlived the retries, not botocore's backoff (its sleeps took ~35 s here).
    impatient = dataset["s3"].meta.config.merge(
        Config(retries={"mode": "standard", "max_attempts": 2})
    )
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=dataset["s3"].meta.endpoint_url,
        region_name=dataset["s3"].meta.region_name,
        config=impatient,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # nosec B106 - the local stack's fixed credentials
    )
    reader = LakeReader(dataset["bucket"], s3=s3)
    with inject_rule("GetObject", kind, key, times=None), pytest.raises(LakeUnavailable):
        reader.read(dataset["prefix"], [2023])
    listing = FaultRule(
        "s3",
        "ListObjectsV2",
        kind,
        times=None,
        match=lambda p: p.get("Prefix") == dataset["prefix"],
    )
    with inject(listing), pytest.raises(LakeUnavailable):
        reader.years(dataset["prefix"])


def test_a_ranged_read_failing_after_the_footer_is_unavailable(dataset: dict[str, Any]) -> None:
    """The first GET (the object's tail) succeeds, the column chunks' GETs keep failing."""
    s3, bucket = dataset["s3"], dataset["bucket"]
    key = f"{dataset['prefix']}big/year=2030/data.parquet"
    days = [date(2030, 1, 1) + timedelta(days=i) for i in range(365)]
    # Larger than the first GET's tail (256 KiB) and than a head read whole (1 MiB).
    big = _rows([f"T{i:04d}" for i in range(1000)], days)
    _write(s3, bucket, key, big, row_group_size=10_000)
    # Unfaulted, a read whose ranges span the first GET's tail returns every byte.
    whole = LakeReader(bucket, s3=s3).read(f"{dataset['prefix']}big/", [2030], tickers=["T0999"])
    assert whole.equals(big.filter(pc.equal(big["ticker"], "T0999")))
    reader = LakeReader(bucket, s3=s3)
    rule = inject_rule("GetObject", "server_error", key, times=None, skip=1)
    with rule as faults, pytest.raises(LakeUnavailable):
        reader.read(f"{dataset['prefix']}big/", [2030], tickers=["T0001"])
    assert faults.count() >= 2


@pytest.mark.parametrize(("tickers", "gets"), [(50, 1), (270, 2), (1100, None)])
def test_a_small_object_is_read_in_one_or_two_gets(
    dataset: dict[str, Any], tickers: int, gets: int | None
) -> None:
    """Within the first GET's tail: one request; a head under 1 MiB: one more; beyond that,
    ranged reads of what the filter keeps (row groups pruned by their statistics)."""
    s3, bucket = dataset["s3"], dataset["bucket"]
    prefix = f"{dataset['prefix']}gets{tickers}/"
    # Random values (8 incompressible bytes a row): 50 tickers ~150 KB, 270 ~800 KB, 1,100 ~3 MB.
    days = np.arange(np.datetime64("2031-01-01"), np.datetime64("2032-01-01"))
    names = np.array([f"T{i:04d}" for i in range(tickers)])
    table = pa.table(
        {
            "date": pa.array(np.tile(days, tickers)),
            "ticker": pa.array(np.repeat(names, len(days))),
            "value": pa.array(np.random.default_rng(tickers).random(tickers * len(days))),
        }
    )
    _write(s3, bucket, partition_key(prefix, 2031), table, row_group_size=20_000)
    size = s3.head_object(Bucket=bucket, Key=partition_key(prefix, 2031))["ContentLength"]
    calls: list[Any] = []

    def count(**kwargs: Any) -> None:
        calls.append(kwargs["params"])

    s3.meta.events.register("before-call.s3.GetObject", count)
    reader = LakeReader(bucket, s3=s3)
    try:
        read = reader.read(prefix, [2031], tickers=["T0000", "T0049"])
    finally:
        s3.meta.events.unregister("before-call.s3.GetObject", count)
    assert read.num_rows == 2 * 365
    if gets is not None:
        assert len(calls) == gets, (size, len(calls))
    else:  # large: the tail, then ranged reads of the row groups the filter keeps only
        assert size > 256 * 1024 + 1024 * 1024
        assert len(calls) >= 2
        assert reader.stats.bytes < size / 4, (size, reader.stats.bytes)


def test_open_dataset_tells_an_empty_location_from_a_dataset(
    local_stack: Any, dataset: dict[str, Any]
) -> None:
    filesystem = s3_filesystem(local_stack.session, local_stack.endpoint_url)
    where = f"s3://{dataset['bucket']}/{dataset['prefix']}"
    found = open_dataset(where, filesystem, schema=SCHEMA, s3=dataset["s3"])
    assert found is not None
    assert found.to_table(filter=None).num_rows == 800
    assert open_dataset(f"{where}nothing-here/", filesystem, s3=dataset["s3"]) is None


# ------------------------------------------------------------------ market data, over HTTP
def _market_prices(stack: Any, year: int) -> list[str]:
    """Two tickers' closes written straight into the year's prices partition."""
    tickers = unique_tickers("L", 2)
    rows = [(d, t) for t in sorted(tickers) for d in _days(year, 5)]
    stamp = pa.scalar(0, pa.timestamp("ms", tz="UTC"))
    table = pa.table(
        {
            "date": pa.array([d for d, _ in rows], pa.date32()),
            "ticker": pa.array([t for _, t in rows], pa.string()),
            "close": pa.array([100.0] * len(rows)),
            "open": pa.nulls(len(rows), pa.float64()),
            "high": pa.nulls(len(rows), pa.float64()),
            "low": pa.nulls(len(rows), pa.float64()),
            "volume": pa.nulls(len(rows), pa.int64()),
            "source_key": pa.array(["tests"] * len(rows)),
            "source_version": pa.nulls(len(rows), pa.string()),
            "source_time": pa.array([stamp.as_py()] * len(rows), stamp.type),
            "ingested_at": pa.array([stamp.as_py()] * len(rows), stamp.type),
        },
        schema=PRICE_SCHEMA,
    )
    _write(stack.client("s3"), stack.bucket, partition_key(PRICES_PREFIX, year), table)
    return tickers


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("forbidden", 500, "INTERNAL_ERROR"),
        ("throttle", 503, "SERVICE_UNAVAILABLE"),
        ("server_error", 503, "SERVICE_UNAVAILABLE"),
    ],
)
def test_market_data_answers_5xx_not_404_when_the_lake_fails(
    inline_stack: Any, kind: Any, status: int, code: str
) -> None:
    year = 1987  # a year no other test writes: its partition is this test's alone
    tickers = _market_prices(inline_stack, year)
    url = (
        f"{inline_stack.api_url}/market-data/prices?tickers={','.join(tickers)}"
        f"&start={year}-01-01&end={year}-12-31"
    )
    answered, body = http_json(url)
    assert answered == 200, body
    key = partition_key(PRICES_PREFIX, year)
    with inject_rule("GetObject", kind, key, times=None) as faults:
        answered, body = http_json(url)
    assert faults.count(kind) >= 1
    assert (answered, body["error"]["code"]) == (status, code), body
    # Real absence (a year with no partition) is still a 404.
    answered, body = http_json(url.replace(str(year), "1886"))
    assert (answered, body["error"]["code"]) == (404, "NOT_FOUND"), body


def inject_rule(
    operation: str, kind: Any, key: str, *, times: int | None = 1, skip: int = 0
) -> Any:
    """Faults on the S3 calls of objects under ``key``."""
    rule = FaultRule("s3", operation, kind, times=times, skip=skip, match=key_prefix(key))
    return inject(rule)
