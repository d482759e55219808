"""Events delivered twice, out of order, or at once: the lake ends in the newest data's state.

"Newest" is the raw object with the later S3 ``Last-Modified`` (when it landed); within
the same second (S3's resolution) the greater key, then version id — a fixed choice, so
that every delivery order ends in the same lake. Events are delivered by hand through the
rule's own queue (the dispatcher's path, with Lambda's retries) or by invoking the
function in threads, built like ``tests/events/s3_object_created.json``. Raw files are
put outside ``raw/prices/`` so that S3 does not also deliver them on its own. Every test
uses its own tickers; "the same as one clean delivery" is checked by values against a
second set of tickers that got the files once, in landing order.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from stack_client import http_json, rows_csv, unique_tickers

from ingest.returns import daily_returns
from ingest.schemas import (
    PRICE_SCHEMA,
    PRICES_PREFIX,
    RETURNS_PREFIX,
    RETURNS_SCHEMA,
    partition_key,
)

pytestmark = pytest.mark.functional

EVENT = Path(__file__).resolve().parents[1] / "events" / "s3_object_created.json"
DAYS = [date(2024, 3, 4) + timedelta(days=i) for i in range(5)]  # Monday to Friday
PRICE_VALUES = ["date", "close", "open", "high", "low", "volume"]
RETURN_VALUES = ["date", "simple_return", "log_return", "prev_date"]


# ------------------------------------------------------------------ helpers
def _put(stack: Any, key: str, body: bytes) -> dict[str, Any]:
    """Put a raw file and answer the S3 "Object Created" event AWS would send for it."""
    s3 = stack.client("s3")
    put = s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    event = copy.deepcopy(json.loads(EVENT.read_text()))
    event["id"] = str(uuid.uuid4())
    event["account"] = stack.template.context.account_id
    event["region"] = stack.template.context.region
    event["resources"] = [f"arn:aws:s3:::{stack.bucket}"]
    event["detail"]["bucket"]["name"] = stack.bucket
    event["detail"]["object"].update(
        {
            "key": key,
            "size": len(body),
            "etag": put["ETag"].strip('"'),
            "version-id": put["VersionId"],
            "sequencer": f"{time.time_ns():020X}",
        }
    )
    return event


def _last_modified(stack: Any, event: dict[str, Any]) -> Any:
    obj = event["detail"]["object"]
    head = stack.client("s3").head_object(
        Bucket=stack.bucket, Key=obj["key"], VersionId=obj["version-id"]
    )
    return head["LastModified"]


def _deliver(
    stack: Any, event: dict[str, Any], rule: str = "IngestFunction-RawPricesLanded"
) -> Any:
    """Deliver one event through the rule's queue and wait for its chain; its invocation."""
    queue = stack.provisioned.rule_queues[rule]
    stack.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    stack.wait_idle()
    calls = [c for c in stack.runtime.calls() if c.event == event and c.ok]
    assert calls, f"{event['id']} was not handled: {stack.dispatcher.dead_lettered[-1:]}"
    return calls[-1]


def _partition(stack: Any, prefix: str, year: int, tickers: list[str]) -> pa.Table:
    """The rows of ``tickers`` in one year partition (none when it does not exist yet)."""
    s3 = stack.client("s3")
    key = partition_key(prefix, year)
    if "Contents" not in s3.list_objects_v2(Bucket=stack.bucket, Prefix=key, MaxKeys=1):
        schema = PRICE_SCHEMA if prefix == PRICES_PREFIX else RETURNS_SCHEMA
        return schema.empty_table()
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()))
    mine = table.filter(pc.is_in(table["ticker"], pa.array(tickers)))
    return mine.take(pc.sort_indices(mine, [("ticker", "ascending"), ("date", "ascending")]))


def _values(table: pa.Table, columns: list[str], rename: dict[str, str]) -> list[tuple[Any, ...]]:
    """Rows as tuples (ticker renamed through ``rename``), to compare two sets of tickers."""
    tickers = [rename[t] for t in table["ticker"].to_pylist()]
    rows = zip(tickers, *(table[c].to_pylist() for c in columns), strict=True)
    return sorted(rows)


def _state(stack: Any, tickers: list[str], rename: dict[str, str] | None = None) -> Any:
    """Curated prices and returns of ``tickers``, by value (lineage and stamps left out)."""
    names = rename or {t: t for t in tickers}
    prices = _partition(stack, PRICES_PREFIX, 2024, tickers)
    returns = _partition(stack, RETURNS_PREFIX, 2024, tickers)
    return _values(prices, PRICE_VALUES, names), _values(returns, RETURN_VALUES, names)


def _assert_returns_match_prices(stack: Any, tickers: list[str]) -> None:
    """The returns in the lake are exactly those of the prices in the lake."""
    prices = _partition(stack, PRICES_PREFIX, 2024, tickers)
    expected = daily_returns(prices.select(["date", "ticker", "close"]))
    names = {t: t for t in tickers}
    stored = _values(_partition(stack, RETURNS_PREFIX, 2024, tickers), RETURN_VALUES, names)
    assert stored == _values(expected, RETURN_VALUES, names)


def _closes(prices: pa.Table) -> dict[tuple[str, date], float]:
    keys = zip(prices["ticker"].to_pylist(), prices["date"].to_pylist(), strict=True)
    return dict(zip(keys, prices["close"].to_pylist(), strict=True))


# ------------------------------------------------------------------ (a) twice
def test_every_event_of_the_chain_delivered_twice_changes_nothing(local_stack: Any) -> None:
    """Ingest, returns, fan-out and run events all delivered again: same lake, same runs."""
    stack = local_stack
    a, b = unique_tickers("O", 2)
    status, portfolio = http_json(
        f"{stack.api_url}/portfolios",
        "POST",
        {
            "portfolio": {
                "name": f"order {uuid.uuid4().hex[:6]}",
                "assets": {a: 0.5, b: 0.5},
                "analyses": [{"type": "risk-parity", "lookbackDays": 60}],
            }
        },
    )
    assert status == 201, portfolio
    stack.wait_idle()  # the run its creation requested ends (failed: no data yet) first
    start = date.today() - timedelta(days=45)
    days = [
        start + timedelta(days=i) for i in range(45) if (start + timedelta(days=i)).weekday() < 5
    ]
    rows = [
        (d.isoformat(), t, 100 + 3 * j + (i * 7) % 11)
        for i, d in enumerate(days)
        for j, t in enumerate((a, b))
    ]
    landed = _put(stack, f"tmp/tests/order/{uuid.uuid4().hex}/prices.csv", rows_csv(rows))
    first = _deliver(stack, landed)
    assert first.result["status"] == "curated"
    years = sorted({d.year for d in days})
    s3 = stack.client("s3")

    def snapshot() -> Any:
        tables = {}
        for prefix in (PRICES_PREFIX, RETURNS_PREFIX):
            for year in years:
                body = s3.get_object(Bucket=stack.bucket, Key=partition_key(prefix, year))
                table = pq.read_table(io.BytesIO(body["Body"].read()))
                mine = table.filter(pc.is_in(table["ticker"], pa.array([a, b])))
                tables[(prefix, year)] = mine.sort_by(
                    [("ticker", "ascending"), ("date", "ascending")]
                )
        return tables

    def runs() -> list[tuple[str, str, str]]:
        status, page = http_json(f"{stack.api_url}/portfolios/{portfolio['id']}/runs?limit=100")
        assert status == 200, page
        return [(r["id"], r["status"], r["parameters"]["trigger"]) for r in page["items"]]

    before, runs_before = snapshot(), runs()
    # The landing's recompute, and the run the portfolio's creation requested.
    assert [(status, trigger) for _, status, trigger in runs_before] == [
        ("succeeded", "market-data"),
        ("failed", "portfolio"),
    ], runs_before
    # Every event the landing caused, in the order it was handled, delivered once more.
    chain = [c for c in stack.runtime.calls() if c.started_at >= first.started_at and c.ok]
    mine = [
        c
        for c in chain
        if c.event == landed
        or (
            isinstance(c.event, dict)
            and c.event.get("detail-type") in ("PricesCurated", "MarketDataUpdated", "RunRequested")
            and (
                a in json.dumps(c.event["detail"])
                or portfolio["id"] in json.dumps(c.event["detail"])
            )
        )
    ]
    kinds = [c.event.get("detail-type") for c in mine]
    assert kinds == ["Object Created", "PricesCurated", "MarketDataUpdated", "RunRequested"]
    for call in mine:
        again = _deliver(stack, call.event, rule=call.trigger.split(":", 1)[1])
        if call.function in ("IngestFunction", "ReturnsFunction"):
            assert again.result == call.result  # the idempotency record's answer
    after = snapshot()
    assert after.keys() == before.keys()
    for part, table in before.items():
        assert after[part].equals(table), part  # stamps included: nothing rewritten
    assert runs() == runs_before


# ------------------------------------------------------------------ (b) out of order
def _corrections(tickers: list[str]) -> tuple[bytes, bytes, bytes]:
    """A base file, an older correction and a newer one that overlap in part."""
    x, y = tickers
    base = rows_csv(
        [
            (d.isoformat(), t, 100.0 + i + 10 * j)
            for i, d in enumerate(DAYS)
            for j, t in enumerate(tickers)
        ]
    )
    older = rows_csv([(DAYS[2].isoformat(), x, 150.0), (DAYS[2].isoformat(), y, 250.0)])
    newer = rows_csv([(DAYS[2].isoformat(), x, 120.0), (DAYS[3].isoformat(), x, 125.0)])
    return base, older, newer


def test_an_older_file_delivered_after_a_newer_one_leaves_the_newer_values(
    local_stack: Any,
) -> None:
    stack = local_stack
    late, clean = unique_tickers("O", 2), unique_tickers("O", 2)
    run = uuid.uuid4().hex
    events: dict[str, list[dict[str, Any]]] = {}
    for name, tickers in (("late", late), ("clean", clean)):
        base, older, newer = _corrections(tickers)
        events[name] = [_put(stack, f"tmp/tests/order/{run}/{name}/base.csv", base)]
        time.sleep(1.1)  # distinct S3 Last-Modified seconds (its resolution)
        # Key order against time order: the time must decide.
        events[name].append(_put(stack, f"tmp/tests/order/{run}/{name}/z-older.csv", older))
        time.sleep(1.1)
        events[name].append(_put(stack, f"tmp/tests/order/{run}/{name}/a-newer.csv", newer))
    for landed in events.values():
        times = [_last_modified(stack, e) for e in landed]
        assert times == sorted(times)
        assert len(set(times)) == 3

    # Clean: base, older, newer — once each, in landing order.
    for event in events["clean"]:
        assert _deliver(stack, event).result["status"] == "curated"
    # Late: base, newer, then the older file (and a redelivery of the newer one).
    base, older, newer = events["late"]
    _deliver(stack, base)
    assert _deliver(stack, newer).result["status"] == "curated"
    late_older = _deliver(stack, older)
    _deliver(stack, newer)

    # Only the older file's row the newer one does not cover got in.
    assert late_older.result["status"] == "curated"
    assert late_older.result["rows_changed"] == 1
    rename = dict(zip(clean, late, strict=True))
    assert _state(stack, late) == _state(stack, clean, rename)
    prices = _partition(stack, PRICES_PREFIX, 2024, late)
    closes = _closes(prices)
    assert closes[(late[0], DAYS[2])] == 120.0
    assert closes[(late[0], DAYS[3])] == 125.0
    assert closes[(late[1], DAYS[2])] == 250.0
    _assert_returns_match_prices(stack, late)


def test_files_landed_in_the_same_second_converge_whatever_the_delivery_order(
    local_stack: Any,
) -> None:
    stack = local_stack
    forward, backward = unique_tickers("O", 2), unique_tickers("O", 2)
    run = uuid.uuid4().hex
    pairs: dict[str, list[dict[str, Any]]] = {}
    for attempt in range(10):  # until both files of each pair share one S3 second
        for name, tickers in (("forward", forward), ("backward", backward)):
            pairs[name] = [
                _put(
                    stack,
                    f"tmp/tests/order/{run}/{attempt}/{name}/{n}.csv",
                    rows_csv(
                        [(DAYS[1].isoformat(), t, 10.0 * n + j) for j, t in enumerate(tickers)]
                    ),
                )
                for n in (1, 2)
            ]
        if all(len({_last_modified(stack, e) for e in pair}) == 1 for pair in pairs.values()):
            break
    else:
        pytest.fail("could not land two files within one second")
    for event in pairs["forward"]:
        _deliver(stack, event)
    for event in reversed(pairs["backward"]):
        _deliver(stack, event)
    rename = dict(zip(backward, forward, strict=True))
    assert _state(stack, forward) == _state(stack, backward, rename)
    prices = _partition(stack, PRICES_PREFIX, 2024, forward)
    assert prices["close"].to_pylist() == [20.0, 21.0]  # file 2: the greater key


# ------------------------------------------------------------------ (c) at once
def test_concurrent_deliveries_into_one_partition_lose_no_row(local_stack: Any) -> None:
    """Files for many tickers and two competing corrections, all handled at the same time."""
    stack = local_stack
    tickers = unique_tickers("O", 6)
    run = uuid.uuid4().hex
    events = [
        _put(
            stack,
            f"tmp/tests/order/{run}/{t}.csv",
            rows_csv([(d.isoformat(), t, 50.0 + i) for i, d in enumerate(DAYS)]),
        )
        for t in tickers
    ]
    time.sleep(1.1)
    older = _put(
        stack,
        f"tmp/tests/order/{run}/z-older.csv",
        rows_csv([(DAYS[4].isoformat(), tickers[0], 70.0)]),
    )
    time.sleep(1.1)
    newer = _put(
        stack,
        f"tmp/tests/order/{run}/a-newer.csv",
        rows_csv([(DAYS[4].isoformat(), tickers[0], 80.0)]),
    )
    prices_key = partition_key(PRICES_PREFIX, 2024)
    s3 = stack.client("s3")

    def versions() -> int:
        pages = s3.get_paginator("list_object_versions").paginate(
            Bucket=stack.bucket, Prefix=prices_key
        )
        return sum(1 for page in pages for v in page.get("Versions", []) if v["Key"] == prices_key)

    barrier = threading.Barrier(len(events))
    results: list[Any] = []

    def land(event: dict[str, Any]) -> None:
        barrier.wait()
        results.append(stack.runtime.invoke("IngestFunction", event, trigger="test:concurrent"))

    threads = [threading.Thread(target=land, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.ok for r in results), [r.stack for r in results if not r.ok]
    assert sorted(r.result["status"] for r in results) == ["curated"] * len(events)

    # The two corrections of one row at once, the older one last in thread start order.
    before = versions()
    barrier = threading.Barrier(2)
    results.clear()
    threads = [threading.Thread(target=land, args=(e,)) for e in (newer, older)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stack.wait_idle()
    assert all(r.ok for r in results), [r.stack for r in results if not r.ok]
    written = sum(1 for r in results if r.result["partitions_written"])
    assert versions() - before == written  # each write is one new version; none lost

    prices = _partition(stack, PRICES_PREFIX, 2024, tickers)
    assert prices.num_rows == len(tickers) * len(DAYS)  # nobody's rows lost, none doubled
    closes = _closes(prices)
    assert closes[(tickers[0], DAYS[4])] == 80.0
    assert closes[(tickers[1], DAYS[4])] == 54.0
    _assert_returns_match_prices(stack, tickers)
