"""An analysis defined in the tests only, through the local stack end to end.

``tests.support.toy_analysis`` is registered, the template gets its route and Glue table
from the same generators that write template.yaml (``python -m api.openapi``, ``python -m
analyses.results``), and a stack started from that template takes it API → run worker →
Parquet → SQL → report, with no shipped module naming it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from stack_client import api_fetch, create_portfolio, http_json, price_csv, unique_tickers

from core.analysis import register, unregister
from core.settings import settings
from tests.support.toy_analysis import TOY, TOY_TABLE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def toy_stack(tmp_path: Path) -> Iterator[Any]:
    """A stack of its own, from template.yaml re-rendered with the toy registered, whose
    execution environments load the toy first (as a layer would ship it)."""
    from analyses.results import render_template as with_tables
    from api.openapi import render_template as with_routes
    from local.stack import LocalStack, LocalStackOptions

    register(TOY)
    try:
        template = tmp_path / "template.yaml"
        template.write_text(with_tables(with_routes((ROOT / "template.yaml").read_text())))
        options = LocalStackOptions(
            api_port=0,
            state_file=None,
            stack_name=f"stratigos-toy{uuid.uuid4().hex[:6]}",
            keys={"dev-key": "demo", "other-key": "acme"},
            retry_base_delay_s=0.01,
            template_path=template,
            environment_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
            preload=("tests.support.toy_plugin",),
        )
        with LocalStack(options) as stack:
            yield stack
    finally:
        unregister(TOY.name)


def test_a_toy_analysis_goes_from_the_api_to_sql_and_the_report(toy_stack: Any) -> None:
    stack = toy_stack
    tickers = unique_tickers("Y", 3)
    key = "raw/prices/toy.csv"
    stack.client("s3").put_object(
        Bucket=stack.bucket, Key=key, Body=price_csv(tickers, 120, date(2024, 1, 2))
    )
    stack.wait_idle()

    # A portfolio may keep it fresh (its `analyses` choices come from the registry): the
    # create requests it at once, and the run worker computes it.
    portfolio = create_portfolio(
        stack,
        {
            "name": "Toy",
            "assets": dict.fromkeys(tickers, 1 / 3),
            "analyses": [{"type": TOY.name, "parameters": {"highlight": 1}}],
        },
    )
    stack.wait_idle()

    # Its route, answered by the function the endpoint names, handed to the run worker.
    answer = api_fetch(
        f"{stack.api_url}{TOY.endpoint.path}",
        "POST",
        {"portfolioId": portfolio["id"], "highlight": 2},
        headers={"Prefer": "respond-async"},
    )
    assert answer.status == 202, answer
    accepted = answer.json
    assert accepted["status"] == "queued"
    stack.wait_idle()
    worked = [c for c in stack.runtime.calls("RunWorkerFunction") if c.ok]
    assert any(c.event["detail"].get("runId") == accepted["id"] for c in worked)
    status, run = http_json(f"{stack.api_url}/runs/{accepted['id']}")
    assert status == 200, run
    assert run["status"] == "succeeded", run
    assert run["type"] == TOY.name
    result = run["result"]
    assert result["weights"] == pytest.approx(dict.fromkeys(tickers, 1 / 3))
    assert set(result["meanReturns"]) == set(tickers)
    assert len(result["best"]) == 2
    assert result["best"][0] == max(result["meanReturns"], key=result["meanReturns"].get)

    status, listed = http_json(f"{stack.api_url}/portfolios/{portfolio['id']}/runs")
    kept_fresh = [r for r in listed["items"] if r["parameters"].get("trigger") == "portfolio"]
    assert [r["status"] for r in kept_fresh] == ["succeeded"], kept_fresh

    # Parquet under its own table, read back with SQL (DuckDB over the stack's Glue tables).
    from local.sql import LakeSql

    sql = LakeSql(stack.session, settings().glue_database, stack.endpoint_url)
    try:
        rows = sql.query(
            f"SELECT asset, weight, mean_return, run_type FROM {TOY_TABLE.name} "  # nosec B608
            f"WHERE run_id = '{run['id']}' ORDER BY asset"
        ).to_pylist()
        index = sql.query(
            f"SELECT status FROM run_index WHERE run_id = '{run['id']}'"  # nosec B608
        ).to_pylist()
    finally:
        sql.close()
    assert [r["asset"] for r in rows] == sorted(tickers)
    assert {r["run_type"] for r in rows} == {TOY.name}
    for r in rows:
        assert r["weight"] == pytest.approx(1 / 3)
        assert r["mean_return"] == pytest.approx(result["meanReturns"][r["asset"]])
    assert index == [{"status": "succeeded"}]

    # The report: its section's table and chart, rendered once RunCompleted arrived.
    status, links = http_json(f"{stack.api_url}/runs/{run['id']}/report")
    assert status == 200, links
    assert [image["name"] for image in links["images"]] == ["toy-means.png"]
    page = api_fetch(links["html"]["url"], key="")
    assert page.status == 200
    text = page.raw.decode()
    assert "Toy equal weight" in text
    assert "Toy highlights" in text
    assert result["best"][0] in text
    assert f"/reports/demo/runs/{run['id']}/" in urlsplit(links["html"]["url"]).path

    # And the portfolio report shows it beside nothing else (its only analysis).
    status, links = http_json(f"{stack.api_url}/portfolios/{portfolio['id']}/report")
    assert status == 200, links
    assert [i["name"] for i in links["images"]] == [f"{TOY.name}-toy-means.png"]
    assert json.loads(json.dumps(links))["title"].startswith("Portfolio report")


def test_the_toy_is_refused_once_unregistered(local_stack: Any) -> None:
    """The session stack's template has no toy route and its registry no toy analysis."""
    status, body = http_json(f"{local_stack.api_url}{TOY.endpoint.path}", "POST", {})
    assert status in (403, 404), body
    status, body = http_json(
        f"{local_stack.api_url}/portfolios",
        "POST",
        {
            "portfolio": {
                "name": "no toy",
                "assets": {"AAPL": 0.5, "MSFT": 0.5},
                "analyses": [{"type": TOY.name}],
            }
        },
    )
    assert status == 400, body
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "risk-parity" in json.dumps(body)
