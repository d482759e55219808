"""A rendered report, opened from the local stack in headless Chromium, as a person would."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from stratigos_browser import chromium_path, inspect_page

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _call(url: str, body: Any = None) -> Any:
    headers = {"x-api-key": "dev-key", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, method="POST" if data else "GET", headers=headers, data=data
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_a_report_opens_in_chromium_with_every_image_and_nothing_external(
    local_stack: Any,
) -> None:
    chromium = chromium_path()
    assert chromium, "Debian's chromium is missing: `make test` installs it"
    stem = uuid.uuid4().hex[:3].upper()
    tickers = [f"B{stem}{c}" for c in "ABCD"]
    portfolio = _call(
        f"{local_stack.api_url}/portfolios",
        {
            "portfolio": {
                "name": "<script>alert(1)</script> Browser check",
                "assets": dict.fromkeys(tickers, 0.25),
                "analyses": [
                    {
                        "type": "efficient-frontier",
                        "lookbackDays": 120,
                        "parameters": {"nPoints": 12},
                    }
                ],
            }
        },
    )
    # Its analysis was requested at once, before any data (that run fails): let it end
    # before the prices land, so the run below is the one they caused.
    local_stack.wait_idle()
    lines, day, written = ["date,ticker,close"], date.today() - timedelta(days=140), 0
    while written < 70:
        if day.weekday() < 5:
            lines += [
                f"{day},{t},{100 + 7 * i + ((written * (5 + i)) % 13):.2f}"
                for i, t in enumerate(tickers)
            ]
            written += 1
        day += timedelta(days=1)
    local_stack.client("s3").put_object(
        Bucket=local_stack.bucket, Key=f"raw/prices/{stem}.csv", Body="\n".join(lines).encode()
    )
    local_stack.wait_idle()
    runs = _call(f"{local_stack.api_url}/portfolios/{portfolio['id']}/runs")["items"]
    assert [(r["parameters"]["trigger"], r["status"]) for r in runs] == [
        ("market-data", "succeeded"),
        ("portfolio", "failed"),
    ], runs
    links = _call(f"{local_stack.api_url}/runs/{runs[0]['id']}/report")

    screenshot = ARTIFACTS / "report-efficient-frontier.png"
    page = inspect_page(links["html"]["url"], screenshot, chromium)

    assert page.images, "the report shows no chart"
    assert all(complete and width > 0 for complete, width in page.images), page.images
    local = local_stack.endpoint_url + "/"
    outside = [u for u in page.requests if not u.startswith((local, "data:", "about:"))]
    assert outside == []
    assert page.console_errors == []
    assert "Browser check" in page.title  # the name, as text
    assert screenshot.stat().st_size > 20_000  # a real page, not a blank one


def test_a_backtest_tearsheet_opens_in_chromium_with_every_chart(local_stack: Any) -> None:
    """The tearsheet of a backtest run: every chart loads, nothing is fetched from outside,
    and the strategies' names (user text) arrive as text."""
    chromium = chromium_path()
    assert chromium, "Debian's chromium is missing: `make test` installs it"
    rng_rows = 320
    returns = {
        t: [0.0004 * (i + 1) + 0.01 * (((d * (3 + 2 * i)) % 13) - 6) / 6 for d in range(rng_rows)]
        for i, t in enumerate(("AAA", "BBB", "CCC"))
    }
    run = _call(
        f"{local_stack.api_url}/backtests",
        {
            "returns": returns,
            "trainDays": 60,
            "rebalance": 21,
            "strategies": [
                "equal-weight",
                "risk-parity",
                {"type": "hrp", "label": "<b>hrp</b> & co"},
            ],
        },
    )
    assert run["status"] == "succeeded", run
    local_stack.wait_idle()
    links = _call(f"{local_stack.api_url}/runs/{run['id']}/report")
    names = {image["name"] for image in links["images"]}
    assert {"equity.png", "underwater.png", "rolling-sharpe.png", "turnover.png"} <= names

    screenshot = ARTIFACTS / "report-backtest.png"
    page = inspect_page(links["html"]["url"], screenshot, chromium)

    assert len(page.images) == len(names), page.images
    assert all(complete and width > 0 for complete, width in page.images), page.images
    local = local_stack.endpoint_url + "/"
    outside = [u for u in page.requests if not u.startswith((local, "data:", "about:"))]
    assert outside == []
    assert page.console_errors == []
    assert "Backtest report" in page.title
    assert screenshot.stat().st_size > 20_000
    with urllib.request.urlopen(links["html"]["url"], timeout=30) as response:  # nosec B310
        html = response.read().decode()
    assert "&lt;b&gt;hrp&lt;/b&gt; &amp; co" in html
    assert "<b>hrp" not in html


def test_a_mandated_frontier_report_opens_in_chromium_with_both_charts(local_stack: Any) -> None:
    """A portfolio with constraints and views: its frontier report draws the two frontiers and
    the prior-vs-posterior returns, every image loads, nothing is fetched from outside."""
    chromium = chromium_path()
    assert chromium, "Debian's chromium is missing: `make test` installs it"
    tickers = ["AAPL", "MSFT", "XOM", "CVX"]
    returns = {
        t: [0.0003 * (i + 1) + 0.01 * (((d * (3 + 2 * i)) % 13) - 6) / 6 for d in range(250)]
        for i, t in enumerate(tickers)
    }
    portfolio = _call(
        f"{local_stack.api_url}/portfolios",
        {
            "portfolio": {
                "name": "Mandate browser check",
                "assets": dict.fromkeys(tickers, 0.25),
                "analyses": [],
                "constraints": {
                    "maxWeight": 0.5,
                    "groups": [{"name": "Energy", "assets": ["XOM", "CVX"], "max": 0.3}],
                    "costsBps": 10,
                },
                "views": {"items": [{"asset": "MSFT", "return": 0.1}]},
            }
        },
    )
    run = _call(
        f"{local_stack.api_url}/optimization/efficient-frontier",
        {"portfolioId": portfolio["id"], "returns": returns, "nPoints": 10},
    )
    assert run["status"] == "succeeded", run
    assert run["result"]["mandate"] is True
    local_stack.wait_idle()
    links = _call(f"{local_stack.api_url}/runs/{run['id']}/report")
    names = {image["name"] for image in links["images"]}
    assert {"frontier.png", "views.png", "weights.png"} <= names

    screenshot = ARTIFACTS / "report-efficient-frontier-mandate.png"
    page = inspect_page(links["html"]["url"], screenshot, chromium)

    assert len(page.images) == len(names), page.images
    assert all(complete and width > 0 for complete, width in page.images), page.images
    local = local_stack.endpoint_url + "/"
    outside = [u for u in page.requests if not u.startswith((local, "data:", "about:"))]
    assert outside == []
    assert page.console_errors == []
    assert screenshot.stat().st_size > 20_000
    with urllib.request.urlopen(links["html"]["url"], timeout=30) as response:  # nosec B310
        html = response.read().decode()
    assert "Maximum Sharpe (unconstrained)" in html
    assert "Prior and posterior expected returns" in html
