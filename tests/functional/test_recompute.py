"""Event-driven and nightly recompute, through the local stack."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from core.settings import settings

pytestmark = pytest.mark.functional


def _http(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    headers = {"x-api-key": "dev-key", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _tickers(n: int) -> list[str]:
    stem = uuid.uuid4().hex[:3].upper()
    return [f"Y{stem}{chr(ord('A') + i)}" for i in range(n)]


def _prices(tickers: list[str], days: int, start: date, bump: float = 0.0) -> bytes:
    lines = ["date,ticker,close"]
    day = start
    written = 0
    while written < days:
        if day.weekday() < 5:
            for i, ticker in enumerate(tickers):
                close = 100 + 10 * i + ((written * (7 + i)) % 13) - 6 + bump
                lines.append(f"{day.isoformat()},{ticker},{close:.4f}")
            written += 1
        day += timedelta(days=1)
    return ("\n".join(lines) + "\n").encode()


def _land(stack: Any, body: bytes) -> None:
    key = f"raw/prices/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.csv"  # time-ordered
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    stack.wait_idle()


def _portfolio(stack: Any, assets: list[str]) -> str:
    status, body = _http(
        f"{stack.api_url}/portfolios",
        "POST",
        {
            "name": f"recompute {uuid.uuid4().hex[:6]}",
            "assets": {t: 1 / len(assets) for t in assets},
            "analyses": [{"type": "risk-parity", "lookbackDays": 60}],
        },
    )
    assert status == 201, body
    return str(body["id"])


def _runs(stack: Any, portfolio_id: str) -> list[dict[str, Any]]:
    status, body = _http(f"{stack.api_url}/portfolios/{portfolio_id}/runs?limit=100")
    assert status == 200, body
    return list(body["items"])


def test_a_price_file_recomputes_exactly_the_portfolios_holding_its_tickers(
    local_stack: Any,
) -> None:
    a, b, c, d = _tickers(4)
    start = date.today() - timedelta(days=50)
    p_ab = _portfolio(local_stack, [a, b])
    p_bc = _portfolio(local_stack, [b, c])
    p_cd = _portfolio(local_stack, [c, d])
    _land(local_stack, _prices([a, b, c, d], 30, start))
    before = {p: len(_runs(local_stack, p)) for p in (p_ab, p_bc, p_cd)}
    assert all(n == 1 for n in before.values()), before  # each recomputed once

    # A correction for two tickers only: a and b.
    _land(local_stack, _prices([a, b], 30, start, bump=1.0))
    after = {p: _runs(local_stack, p) for p in (p_ab, p_bc, p_cd)}
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
    a, b = _tickers(2)
    _land(fresh_stack, _prices([a, b], 30, date.today() - timedelta(days=50)))
    portfolio = _portfolio(fresh_stack, [a, b])
    fresh_stack.tick("Nightly")
    fresh_stack.wait_idle()
    once = _runs(fresh_stack, portfolio)
    assert [r["parameters"]["trigger"] for r in once] == ["nightly"]
    fresh_stack.tick("Nightly")
    fresh_stack.wait_idle()
    twice = _runs(fresh_stack, portfolio)
    assert [r["id"] for r in twice] == [r["id"] for r in once]


def test_an_event_delivered_twice_requests_the_same_runs_once(local_stack: Any) -> None:
    a, b = _tickers(2)
    portfolio = _portfolio(local_stack, [a, b])
    _land(local_stack, _prices([a, b], 30, date.today() - timedelta(days=50)))
    assert len(_runs(local_stack, portfolio)) == 1
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
    assert len(_runs(local_stack, portfolio)) == 1
    skipped = [
        c
        for c in local_stack.runtime.calls("RunWorkerFunction")
        if c.event["detail"].get("portfolioId") == portfolio and (c.result or {}).get("skipped")
    ]
    assert len(skipped) == 1


def test_a_poison_portfolio_is_dead_lettered_while_the_others_finish(local_stack: Any) -> None:
    a, b = _tickers(2)
    good = _portfolio(local_stack, [a, b])
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
    _land(local_stack, _prices([a, b], 30, date.today() - timedelta(days=50)))
    runs = _runs(local_stack, good)
    assert [r["status"] for r in runs] == ["succeeded"]  # the good one finished
    dead = local_stack.dispatcher.dead_lettered[dead_before:]
    mine = [d for d in dead if a in d["requestPayload"]["detail"].get("tickers", [])]
    assert len(mine) == 1
    assert mine[0]["requestContext"]["condition"] == "RetriesExhausted"
    assert poison in mine[0]["responsePayload"]["errorMessage"]
    # Retries re-published the good portfolio's run request; its id made that harmless.
    assert len(_runs(local_stack, good)) == 1
