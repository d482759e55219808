"""Landing → curated prices → returns → MarketDataUpdated, through the local stack."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from stack_client import http_json, ingest_call, rows_csv, unique_tickers

from core.bus import EventBus
from core.settings import settings
from ingest.curate import SourceObject, land_price_file
from ingest.lake import PartitionStore
from ingest.market_data import MarketDataQuery, query_prices
from ingest.schemas import PRICE_SCHEMA, PRICES_PREFIX, RETURNS_PREFIX, partition_key

pytestmark = pytest.mark.functional

DAYS = [
    date(2023, 12, 28),
    date(2023, 12, 29),
    date(2024, 1, 2),
    date(2024, 1, 3),
    date(2024, 1, 4),
]


def _land(stack: Any, body: bytes, name: str = "prices.csv") -> tuple[str, Any]:
    # Time-ordered keys, as vendors name files: a later landing is newer even within the
    # same second of S3's Last-Modified (docs/RELIABILITY.md, "Order and repetition").
    key = f"raw/prices/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}/{name}"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    stack.wait_idle()
    return key, ingest_call(stack, key)


def _partition(stack: Any, prefix: str, year: int) -> pa.Table:
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key=partition_key(prefix, year))
    return pq.read_table(io.BytesIO(body["Body"].read()))


def _rows(table: pa.Table, tickers: list[str]) -> pa.Table:
    mine = table.filter(pc.is_in(table["ticker"], pa.array(tickers)))
    return mine.take(pc.sort_indices(mine, [("ticker", "ascending"), ("date", "ascending")]))


def test_a_good_file_flows_to_prices_returns_and_market_data_updated(local_stack: Any) -> None:
    a, b = unique_tickers("X", 2)
    closes = {a: [100.0, 101.0, 99.0, 100.0, 102.0], b: [50.0, 50.5, 51.0, 50.0, 49.0]}
    rows = [(d.isoformat(), t, closes[t][i]) for t in (a, b) for i, d in enumerate(DAYS)]
    key, call = _land(local_stack, rows_csv(rows))
    assert call.result["status"] == "curated"
    assert call.result["rows_accepted"] == 10

    prices_2024 = _rows(_partition(local_stack, PRICES_PREFIX, 2024), [a, b])
    assert prices_2024.num_rows == 6
    assert set(prices_2024["source_key"].to_pylist()) == {key}
    prices_2023 = _rows(_partition(local_stack, PRICES_PREFIX, 2023), [a, b])
    assert prices_2023.num_rows == 4

    # Returns across the year boundary: 2024-01-02's previous close is 2023-12-29's.
    returns_2024 = _rows(_partition(local_stack, RETURNS_PREFIX, 2024), [a])
    assert returns_2024["date"].to_pylist() == DAYS[2:]
    assert returns_2024["prev_date"].to_pylist()[0] == date(2023, 12, 29)
    assert returns_2024["simple_return"].to_pylist()[0] == pytest.approx(99.0 / 101.0 - 1)
    returns_2023 = _rows(_partition(local_stack, RETURNS_PREFIX, 2023), [a])
    assert returns_2023["date"].to_pylist() == [date(2023, 12, 29)]  # the first day has none

    updated = [
        c
        for c in local_stack.runtime.calls("FanOutFunction")
        if c.event["detail-type"] == "MarketDataUpdated"
        and a in c.event["detail"].get("tickers", [])
    ]
    assert len(updated) == 1
    detail = updated[0].event["detail"]
    assert detail["tickers"] == sorted([a, b])
    assert (detail["firstDate"], detail["lastDate"]) == ("2023-12-29", "2024-01-04")
    assert detail["rows"] == 8
    glue = local_stack.client("glue")
    tables = {
        t["Name"] for t in glue.get_tables(DatabaseName=settings().glue_database)["TableList"]
    }
    assert {"prices", "returns"} <= tables


def test_bad_rows_are_quarantined_with_reasons_and_the_raw_file_kept(local_stack: Any) -> None:
    (a,) = unique_tickers("X", 1)
    future = (date.today() + timedelta(days=30)).isoformat()
    body = rows_csv(
        [
            ("2024-01-02", a, 10.0),
            ("2024-01-03", a, -1),
            ("2024-01-04", a, "nan"),
            (future, a, 10.0),
            ("2024-13-40", a, 10.0),
            ("2024-01-05", "bad ticker", 10.0),
            ("2024-01-08", a, 11.0),
            ("2024-01-08", a, 11.5),
        ]
    )
    key, call = _land(local_stack, body)
    result = call.result
    assert result["rows_read"] == 8
    assert result["rows_accepted"] == 1
    assert result["rows_rejected"] == 7
    s3 = local_stack.client("s3")
    report = json.loads(
        s3.get_object(Bucket=local_stack.bucket, Key=result["quarantine_key"])["Body"].read()
    )
    reasons = {entry["row"]: entry["reason"] for entry in report["rejected_rows"]}
    assert reasons == {
        2: "NON_POSITIVE_PRICE",
        3: "NON_FINITE_PRICE",
        4: "FUTURE_DATE",
        5: "BAD_DATE",
        6: "BAD_TICKER",
        7: "DUPLICATE_KEY",
        8: "DUPLICATE_KEY",
    }
    assert s3.get_object(Bucket=local_stack.bucket, Key=key)["Body"].read() == body
    assert _rows(_partition(local_stack, PRICES_PREFIX, 2024), [a])["close"].to_pylist() == [10.0]


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00\x01garbage\xff\xfe", b"when,what\n2024-01-02,1\n"],
    ids=["empty", "garbage", "schema"],
)
def test_a_rejected_file_changes_nothing_but_quarantine(local_stack: Any, body: bytes) -> None:
    curated_before = local_stack.runtime.calls("ReturnsFunction")
    _, call = _land(local_stack, body)
    assert call.result["status"] == "rejected"
    report = json.loads(
        local_stack.client("s3")
        .get_object(Bucket=local_stack.bucket, Key=call.result["quarantine_key"])["Body"]
        .read()
    )
    assert report["file_rejected"] is True
    assert report["reason"]
    assert local_stack.runtime.calls("ReturnsFunction") == curated_before


def test_redelivery_changes_nothing(local_stack: Any) -> None:
    (a,) = unique_tickers("X", 1)
    _, call = _land(
        local_stack, rows_csv([(d.isoformat(), a, 10.0 + i) for i, d in enumerate(DAYS)])
    )
    s3 = local_stack.client("s3")
    key = partition_key(PRICES_PREFIX, 2024)
    versions_before = s3.list_object_versions(Bucket=local_stack.bucket, Prefix=key)["Versions"]
    returns_before = len(local_stack.runtime.calls("ReturnsFunction"))
    # The same EventBridge event, delivered again.
    queue = local_stack.provisioned.rule_queues["IngestFunction-RawPricesLanded"]
    local_stack.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(call.event))
    local_stack.wait_idle()
    again = [c for c in local_stack.runtime.calls("IngestFunction") if c.event == call.event]
    assert len(again) == 2
    assert again[1].result == again[0].result
    versions_after = s3.list_object_versions(Bucket=local_stack.bucket, Prefix=key)["Versions"]
    assert len(versions_after) == len(versions_before)
    assert len(local_stack.runtime.calls("ReturnsFunction")) == returns_before


def test_a_correction_replaces_and_recomputes_exactly_the_affected_returns(
    local_stack: Any,
) -> None:
    (a,) = unique_tickers("X", 1)
    _land(local_stack, rows_csv([(d.isoformat(), a, 100.0 + i) for i, d in enumerate(DAYS)]))
    before = _rows(_partition(local_stack, RETURNS_PREFIX, 2024), [a])
    _land(local_stack, rows_csv([("2024-01-03", a, 110.0)]), name="correction.csv")
    prices = _rows(_partition(local_stack, PRICES_PREFIX, 2024), [a])
    assert prices["date"].to_pylist() == DAYS[2:]  # replaced, never duplicated
    assert prices["close"].to_pylist() == [102.0, 110.0, 104.0]
    after = _rows(_partition(local_stack, RETURNS_PREFIX, 2024), [a])
    assert after["date"].to_pylist() == DAYS[2:]
    simple = dict(zip(after["date"].to_pylist(), after["simple_return"].to_pylist(), strict=True))
    assert simple[date(2024, 1, 3)] == pytest.approx(110.0 / 102.0 - 1)
    assert simple[date(2024, 1, 4)] == pytest.approx(104.0 / 110.0 - 1)
    stamp_before = dict(
        zip(before["date"].to_pylist(), before["computed_at"].to_pylist(), strict=True)
    )
    stamp_after = dict(
        zip(after["date"].to_pylist(), after["computed_at"].to_pylist(), strict=True)
    )
    assert stamp_after[date(2024, 1, 2)] == stamp_before[date(2024, 1, 2)]  # untouched
    assert stamp_after[date(2024, 1, 3)] > stamp_before[date(2024, 1, 3)]
    assert stamp_after[date(2024, 1, 4)] > stamp_before[date(2024, 1, 4)]


def _upload(stack: Any, body: bytes) -> SourceObject:
    # Outside raw/prices/, so no event fires: the test drives the landing itself.
    key = f"tmp/tests/{uuid.uuid4().hex}.csv"
    put = stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    return SourceObject(stack.bucket, key, put.get("VersionId"), put["ETag"])


def test_two_files_landing_at_once_in_one_partition_both_get_in(local_stack: Any) -> None:
    tickers = unique_tickers("X", 6)
    sources = [
        _upload(local_stack, rows_csv([(d.isoformat(), t, 20.0 + i) for i, d in enumerate(DAYS)]))
        for t in tickers
    ]
    bus = EventBus(settings().event_bus)
    barrier = threading.Barrier(len(sources))
    results: list[Any] = []

    def land(source: SourceObject) -> None:
        barrier.wait()
        results.append(land_price_file(source, bus=bus, s3=local_stack.client("s3")))

    threads = [threading.Thread(target=land, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    local_stack.wait_idle()
    assert len(results) == len(sources)
    prices = _rows(_partition(local_stack, PRICES_PREFIX, 2024), tickers)
    assert prices.num_rows == 3 * len(tickers)  # nobody's rows were lost


def test_an_older_file_processed_late_does_not_overwrite_newer_data(local_stack: Any) -> None:
    (a,) = unique_tickers("X", 1)
    older = _upload(local_stack, rows_csv([("2024-01-02", a, 10.0)]))
    time.sleep(1.1)  # S3's Last-Modified has one-second resolution
    newer = _upload(local_stack, rows_csv([("2024-01-02", a, 12.0)]))
    bus = EventBus(settings().event_bus)
    s3 = local_stack.client("s3")
    land_price_file(newer, bus=bus, s3=s3)
    late = land_price_file(older, bus=bus, s3=s3)
    local_stack.wait_idle()
    assert late.status == "unchanged"
    assert _rows(_partition(local_stack, PRICES_PREFIX, 2024), [a])["close"].to_pylist() == [12.0]


def test_partition_store_keeps_every_concurrent_update(local_stack: Any) -> None:
    store = PartitionStore(local_stack.bucket, "tmp/tests/store/", PRICE_SCHEMA)
    tickers = unique_tickers("X", 8)
    attempts: list[int] = []

    def add(ticker: str) -> None:
        row = pa.table(
            {
                "date": [date(2030, 1, 2)],
                "ticker": [ticker],
                "close": [1.0],
                "open": [None],
                "high": [None],
                "low": [None],
                "volume": [None],
                "source_key": ["k"],
                "source_version": [None],
                "source_time": [0],
                "ingested_at": [0],
            },
        ).cast(PRICE_SCHEMA)
        write = store.upsert(2030, lambda cur: row if cur is None else pa.concat_tables([cur, row]))
        attempts.append(write.attempts)

    threads = [threading.Thread(target=add, args=(t,)) for t in tickers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    table, _ = store.read(2030)
    assert table is not None
    assert sorted(table["ticker"].to_pylist()) == sorted(tickers)


def test_market_data_routes(local_stack: Any) -> None:
    a, b = unique_tickers("X", 2)
    rows = [(d.isoformat(), t, 100.0 + i + (t == b)) for t in (a, b) for i, d in enumerate(DAYS)]
    _land(local_stack, rows_csv(rows))
    base = f"{local_stack.api_url}/market-data"
    status, body = http_json(f"{base}/prices?tickers={a},{b}&start=2023-12-29&end=2024-01-03")
    assert status == 200
    assert body["series"][a] == {
        "dates": ["2023-12-29", "2024-01-02", "2024-01-03"],
        "close": [101.0, 102.0, 103.0],
    }
    assert body["missingTickers"] == []
    status, body = http_json(
        f"{base}/prices?tickers={a}&start=2023-12-01&end=2024-01-31&frequency=monthly"
    )
    assert body["series"][a] == {"dates": ["2023-12-29", "2024-01-04"], "close": [101.0, 104.0]}
    status, body = http_json(
        f"{base}/returns?tickers={a}&start=2024-01-01&end=2024-01-31&frequency=monthly"
    )
    assert status == 200
    assert body["series"][a]["simpleReturn"] == [pytest.approx(104.0 / 101.0 - 1)]
    status, body = http_json(f"{base}/returns?tickers={a},XNONE&start=2024-01-01&end=2024-01-04")
    assert status == 200
    assert body["missingTickers"] == ["XNONE"]
    assert len(body["series"][a]["logReturn"]) == 3

    status, body = http_json(f"{base}/prices?tickers=XNONE&start=2024-01-01&end=2024-01-31")
    assert status == 404
    assert body["error"]["code"] == "NOT_FOUND"
    status, body = http_json(f"{base}/prices?tickers={a}&start=2024-02-01&end=2024-01-01")
    assert status == 400
    assert "after" in " ".join(body["error"]["details"])
    status, body = http_json(f"{base}/prices?tickers=aapl&start=2024-01-01&end=2024-01-02")
    assert status == 400
    status, body = http_json(f"{base}/prices?start=2024-01-01&end=2024-01-02")
    assert status == 400
    assert any("tickers" in d for d in body["error"]["details"])


def test_queries_read_only_the_partitions_and_row_groups_needed(fresh_stack: Any) -> None:
    from sample_data import generate_prices, write_csv

    table = generate_prices(140, "2021-01-04", "2023-12-29", seed=11)
    sink = io.BytesIO()
    path = f"/tmp/stratigos-prune-{uuid.uuid4().hex}.csv"
    write_csv(table, path)
    with open(path, "rb") as handle:
        sink.write(handle.read())
    source = _upload(fresh_stack, sink.getvalue())
    land_price_file(source, bus=EventBus(settings().event_bus), s3=fresh_stack.client("s3"))
    fresh_stack.wait_idle()
    ticker = table["ticker"][0].as_py()
    one_ticker, stats = query_prices(
        MarketDataQuery(tickers=[ticker], start=date(2021, 1, 1), end=date(2023, 12, 31)),
        fresh_stack.bucket,
    )
    assert stats.objects == 3  # one per year, nothing listed
    assert stats.row_groups < stats.row_groups_total  # ticker statistics pruned row groups
    assert len(one_ticker["series"][ticker]["dates"]) > 700
    _, stats = query_prices(
        MarketDataQuery(
            tickers=sorted(set(table["ticker"].to_pylist()))[:100],
            start=date(2022, 6, 1),
            end=date(2022, 6, 1),
        ),
        fresh_stack.bucket,
    )
    assert stats.objects == 1
    assert stats.keys == [partition_key(PRICES_PREFIX, 2022)]
