"""Event-driven and nightly recompute, through the local stack."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from stack_client import (
    create_portfolio,
    http_json,
    portfolio_runs,
    price_csv,
    risk_parity_portfolio,
    unique_tickers,
)

from core.settings import settings

pytestmark = pytest.mark.functional


def _land(stack: Any, body: bytes) -> None:
    key = f"raw/prices/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.csv"  # time-ordered
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    stack.wait_idle()


def _triggered(stack: Any, portfolio: str, trigger: str = "market-data") -> list[dict[str, Any]]:
    """The portfolio's runs that ``trigger`` requested, newest first (a portfolio's create
    or update requests runs of its own)."""
    return [
        r for r in portfolio_runs(stack, portfolio) if r["parameters"].get("trigger") == trigger
    ]


def test_a_price_file_recomputes_exactly_the_portfolios_holding_its_tickers(
    local_stack: Any,
) -> None:
    a, b, c, d = unique_tickers("Y", 4)
    start = date.today() - timedelta(days=50)
    p_ab = risk_parity_portfolio(local_stack, [a, b], "recompute", 60)
    p_bc = risk_parity_portfolio(local_stack, [b, c], "recompute", 60)
    p_cd = risk_parity_portfolio(local_stack, [c, d], "recompute", 60)
    _land(local_stack, price_csv([a, b, c, d], 30, start))
    before = {p: len(_triggered(local_stack, p)) for p in (p_ab, p_bc, p_cd)}
    assert all(n == 1 for n in before.values()), before  # each recomputed once

    # A correction for two tickers only: a and b.
    _land(local_stack, price_csv([a, b], 30, start, bump=1.0))
    after = {p: _triggered(local_stack, p) for p in (p_ab, p_bc, p_cd)}
    assert len(after[p_ab]) == 2
    assert len(after[p_bc]) == 2  # holds b
    assert len(after[p_cd]) == 1  # holds neither
    newest = after[p_ab][0]
    assert newest["status"] == "succeeded"
    assert newest["parameters"]["trigger"] == "market-data"
    window = newest["dataWindow"]
    assert window["source"] == "lake"
    assert window["dataVersion"]
    assert window["objects"]
    assert all("@" in o for o in window["objects"])
    assert set(newest["result"]["weights"]) == {a, b}


def test_the_nightly_tick_twice_creates_no_duplicates(fresh_stack: Any) -> None:
    a, b = unique_tickers("Y", 2)
    _land(fresh_stack, price_csv([a, b], 30, date.today() - timedelta(days=50)))
    portfolio = risk_parity_portfolio(fresh_stack, [a, b], "recompute", 60)
    fresh_stack.tick("Nightly")
    fresh_stack.wait_idle()
    once = portfolio_runs(fresh_stack, portfolio)
    assert len(_triggered(fresh_stack, portfolio, "nightly")) == 1
    fresh_stack.tick("Nightly")
    fresh_stack.wait_idle()
    twice = portfolio_runs(fresh_stack, portfolio)
    assert [r["id"] for r in twice] == [r["id"] for r in once]


def test_an_event_delivered_twice_requests_the_same_runs_once(local_stack: Any) -> None:
    a, b = unique_tickers("Y", 2)
    portfolio = risk_parity_portfolio(local_stack, [a, b], "recompute", 60)
    _land(local_stack, price_csv([a, b], 30, date.today() - timedelta(days=50)))
    assert len(_triggered(local_stack, portfolio)) == 1
    fan_outs = [
        c
        for c in local_stack.runtime.calls("FanOutFunction")
        if c.event["detail-type"] == "MarketDataUpdated"
        and a in c.event["detail"].get("tickers", [])
    ]
    assert len(fan_outs) == 1
    queue = local_stack.provisioned.rule_queues["FanOutFunction-MarketDataUpdated"]
    local_stack.client("sqs").send_message(
        QueueUrl=queue, MessageBody=json.dumps(fan_outs[0].event)
    )
    local_stack.wait_idle()
    assert len(_triggered(local_stack, portfolio)) == 1
    skipped = [
        c
        for c in local_stack.runtime.calls("RunWorkerFunction")
        if c.event["detail"].get("portfolioId") == portfolio and (c.result or {}).get("skipped")
    ]
    assert len(skipped) == 1


def test_a_poison_portfolio_is_dead_lettered_while_the_others_finish(local_stack: Any) -> None:
    a, b = unique_tickers("Y", 2)
    good = risk_parity_portfolio(local_stack, [a, b], "recompute", 60)
    config = settings()
    dynamodb = local_stack.client("dynamodb")
    poison = f"p-poison{uuid.uuid4().hex[:8]}"
    dynamodb.put_item(  # an item no reader can parse, indexed under ticker a
        TableName=config.portfolios_table,
        # A tenant of its own: no other test lists the portfolios of "poisoned".
        Item={
            "tenantId": {"S": "poisoned"},
            "portfolioId": {"S": poison},
            "assets": {"S": "{oops"},
        },
    )
    dynamodb.put_item(
        TableName=config.ticker_index_table,
        Item={"ticker": {"S": a}, "tenantPortfolio": {"S": f"poisoned#{poison}"}},
    )
    dead_before = len(local_stack.dispatcher.dead_lettered)
    _land(local_stack, price_csv([a, b], 30, date.today() - timedelta(days=50)))
    runs = _triggered(local_stack, good)
    assert [r["status"] for r in runs] == ["succeeded"]  # the good one finished
    dead = local_stack.dispatcher.dead_lettered[dead_before:]
    mine = [d for d in dead if a in d["requestPayload"]["detail"].get("tickers", [])]
    assert len(mine) == 1
    assert mine[0]["requestContext"]["condition"] == "RetriesExhausted"
    assert poison in mine[0]["responsePayload"]["errorMessage"]
    # Retries re-published the good portfolio's run request; its id made that harmless.
    assert len(_triggered(local_stack, good)) == 1


def _weekdays(first: date, last: date) -> int:
    return sum((first + timedelta(days=n)).weekday() < 5 for n in range((last - first).days + 1))


def _by_trigger(stack: Any, portfolio: str, trigger: str) -> dict[str, Any]:
    runs = _triggered(stack, portfolio, trigger)
    assert len(runs) == 1, runs
    return runs[0]


_WINDOW = ("tickers", "start", "end", "observations", "requestedStart", "requestedEnd")


def test_runs_of_the_same_data_agree_whatever_triggered_them(fresh_stack: Any) -> None:
    """Data ending in the past (2024-12-31, like the committed sample): the event-driven,
    the nightly and an on-demand run read the same window, ending at the data's last day
    (not today), and compute bit-identical weights; a 120-day lookback succeeds nightly."""
    a, b, c, z = unique_tickers("Y", 4)
    last, first = date(2024, 12, 31), date(2023, 7, 3)
    # Another portfolio's ticker runs on into 2025: the lake's newest year holds none of ours.
    _land(fresh_stack, price_csv([z], 40, date(2025, 1, 2)))
    long = str(
        create_portfolio(
            fresh_stack,
            {
                "name": "anchored window",
                "description": "three assets, 400 days",
                "assets": {a: 0.5, b: 0.3, c: 0.2},
                "analyses": [{"type": "risk-parity", "lookbackDays": 400}],
            },
        )["id"]
    )
    short = risk_parity_portfolio(fresh_stack, [a, b, c], "anchored", 120)
    _land(fresh_stack, price_csv([a, b, c], _weekdays(first, last), first))
    event = _by_trigger(fresh_stack, long, "market-data")

    fresh_stack.tick("Nightly")
    fresh_stack.wait_idle()
    nightly = _by_trigger(fresh_stack, long, "nightly")
    short_nightly = _by_trigger(fresh_stack, short, "nightly")
    for run in (nightly, short_nightly):  # both windows end at the data's last day
        assert run["status"] == "succeeded", run.get("error")
    status, on_demand = http_json(
        f"{fresh_stack.api_url}/optimization/risk-parity",
        "POST",
        {"portfolioId": long, "lookbackDays": 400},
    )
    assert status == 201, on_demand

    runs = {"market-data": event, "nightly": nightly, "on-demand": on_demand}
    for trigger, run in runs.items():
        assert run["status"] == "succeeded", (trigger, run)
    windows = {t: {k: run["dataWindow"][k] for k in _WINDOW} for t, run in runs.items()}
    start = last - timedelta(days=400)
    assert windows["nightly"] == {
        "tickers": sorted([a, b, c]),
        "start": start.isoformat(),  # a Monday: the first day returned
        "end": last.isoformat(),  # the data's last day, not today
        "observations": _weekdays(start, last),
        "requestedStart": start.isoformat(),
        "requestedEnd": last.isoformat(),
    }
    assert windows["market-data"] == windows["nightly"] == windows["on-demand"]
    assert all(run["dataWindow"]["lookbackDays"] == 400 for run in runs.values())
    weights = {t: run["result"]["weights"] for t, run in runs.items()}
    assert set(weights["nightly"]) == {a, b, c}
    assert weights["market-data"] == weights["nightly"] == weights["on-demand"]  # to the bit

    window = short_nightly["dataWindow"]
    assert (window["start"], window["end"], window["observations"]) == (
        "2024-09-02",
        last.isoformat(),
        _weekdays(date(2024, 9, 2), last),
    )
    assert (
        short_nightly["result"]["weights"]
        == _by_trigger(fresh_stack, short, "market-data")["result"]["weights"]
    )
