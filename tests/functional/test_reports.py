"""Reports: rendered on RunCompleted, stored per tenant, reached through presigned links."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from stack_client import api_fetch, portfolio_runs, price_csv, triggered_runs

pytestmark = pytest.mark.functional

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reported(local_stack: Any) -> dict[str, Any]:
    """A portfolio with a hostile name whose analyses ran (and rendered) after a landing."""
    stem = uuid.uuid4().hex[:3].upper()
    tickers = [f"R{stem}{c}" for c in "ABC"]
    status, _, body = api_fetch(
        f"{local_stack.api_url}/portfolios",
        "POST",
        {
            "portfolio": {
                "name": "<script>alert(1)</script>",
                "assets": dict.fromkeys(tickers, 1 / 3),
                "analyses": [
                    {
                        "type": "efficient-frontier",
                        "lookbackDays": 90,
                        "parameters": {"nPoints": 10},
                    },
                    {
                        "type": "simulate",
                        "lookbackDays": 90,
                        "parameters": {"nPaths": 500, "horizonDays": 21, "seed": 1},
                    },
                ],
            }
        },
    )
    assert status == 201, body
    portfolio = json.loads(body)
    # Its analyses were requested at once, before any data: those runs fail first.
    local_stack.wait_idle()
    failed = triggered_runs(local_stack, portfolio["id"], "portfolio")
    assert sorted(r["status"] for r in failed) == ["failed", "failed"], failed
    local_stack.client("s3").put_object(
        Bucket=local_stack.bucket,
        Key=f"raw/prices/{stem}.csv",
        Body=price_csv(tickers, 60, spread=5, stride=3, modulus=11, shift=0, decimals=2),
    )
    local_stack.wait_idle()
    runs = triggered_runs(local_stack, portfolio["id"], "market-data")
    assert sorted(r["type"] for r in runs) == ["efficient-frontier", "simulate"], runs
    assert {r["status"] for r in runs} == {"succeeded"}, runs
    return {"portfolio": portfolio, "runs": runs, "failed": failed, "tickers": tickers}


def test_run_report_links_open_and_show_the_portfolio(local_stack: Any, reported: Any) -> None:
    for run in reported["runs"]:
        status, _, body = api_fetch(f"{local_stack.api_url}/runs/{run['id']}/report")
        assert status == 200, body
        links = json.loads(body)
        assert links["expiresIn"] <= 900
        html_link = links["html"]
        query = parse_qs(urlsplit(html_link["url"]).query)
        assert int(query["X-Amz-Expires"][0]) <= 900
        assert f"/reports/demo/runs/{run['id']}/report.html" in urlsplit(html_link["url"]).path
        status, headers, page = api_fetch(html_link["url"], key="")
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert f'filename="{run["id"]}-report.html"' in headers["Content-Disposition"]
        text = page.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "<script>alert(1)" not in text
        for ticker in reported["tickers"]:
            assert ticker in text
        assert links["images"]
        for image in links["images"]:
            status, headers, png = api_fetch(image["url"], key="")
            assert status == 200
            assert headers["Content-Type"] == "image/png"
            assert png.startswith(PNG)


def test_portfolio_report_puts_the_latest_runs_side_by_side(
    local_stack: Any, reported: Any
) -> None:
    portfolio = reported["portfolio"]
    status, _, body = api_fetch(f"{local_stack.api_url}/portfolios/{portfolio['id']}/report")
    assert status == 200, body
    links = json.loads(body)
    status, _, page = api_fetch(links["html"]["url"], key="")
    assert status == 200
    text = page.decode()
    for run in reported["runs"]:
        assert run["type"] in text or run["id"] in text
    for run in reported["failed"]:  # the latest succeeded run of each type, not a failed one
        assert run["id"] not in text


def test_reports_belong_to_their_tenant(local_stack: Any, reported: Any) -> None:
    run = reported["runs"][0]
    status, _, body = api_fetch(f"{local_stack.api_url}/runs/{run['id']}/report", key="other-key")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "NOT_FOUND"
    pid = reported["portfolio"]["id"]
    status, _, _ = api_fetch(f"{local_stack.api_url}/portfolios/{pid}/report", key="other-key")
    assert status == 404


def test_asking_before_the_report_exists_is_a_clear_409(local_stack: Any) -> None:
    status, _, body = api_fetch(
        f"{local_stack.api_url}/monte-carlo/simulate",
        "POST",
        {"returns": {"QQA": [0.01, -0.02, 0.005], "QQB": [0.0, 0.01, -0.01]}, "nPaths": 200},
        headers={"Prefer": "respond-async"},
    )
    assert status == 202, body
    run = json.loads(body)
    status, _, body = api_fetch(f"{local_stack.api_url}/runs/{run['id']}/report")
    assert status == 409
    error = json.loads(body)["error"]
    assert error["code"] == "NOT_READY", error  # worth asking again, unlike NO_SUCCESSFUL_RUN
    assert "queued" in error["message"]
    local_stack.wait_idle()
    status, _, body = api_fetch(f"{local_stack.api_url}/runs/{run['id']}/report")
    assert status == 200, body
    # A portfolio whose analyses never ran has no report yet.
    status, _, body = api_fetch(
        f"{local_stack.api_url}/portfolios",
        "POST",
        {"portfolio": {"name": "fresh", "assets": {"QQA": 1.0}, "analyses": []}},
    )
    assert status == 201, body
    fresh = json.loads(body)["id"]
    status, _, body = api_fetch(f"{local_stack.api_url}/portfolios/{fresh}/report")
    assert status == 409
    error = json.loads(body)["error"]
    assert error["code"] == "NOT_READY", error  # not NO_SUCCESSFUL_RUN: none ran at all
    assert "no runs yet" in error["message"], error


def test_a_portfolio_whose_runs_all_failed_says_so_and_a_success_ends_it(
    local_stack: Any,
) -> None:
    """409 NO_SUCCESSFUL_RUN, never "rendered shortly", until a run succeeds."""
    stem = uuid.uuid4().hex[:3].upper()
    tickers = [f"R{stem}{c}" for c in "XY"]  # no data yet: its runs fail
    status, _, body = api_fetch(
        f"{local_stack.api_url}/portfolios",
        "POST",
        {
            "portfolio": {
                "name": "all failed",
                "assets": dict.fromkeys(tickers, 0.5),
                "analyses": [{"type": "risk-parity", "lookbackDays": 60}],
            }
        },
    )
    assert status == 201, body
    pid = json.loads(body)["id"]
    local_stack.wait_idle()
    status, _, body = api_fetch(f"{local_stack.api_url}/portfolios/{pid}/report")
    assert status == 409, body
    error = json.loads(body)["error"]
    assert error["code"] == "NO_SUCCESSFUL_RUN", error
    assert "rendered shortly" not in json.dumps(error)
    # Data lands: the recompute succeeds and the report is there.
    local_stack.client("s3").put_object(
        Bucket=local_stack.bucket,
        Key=f"raw/prices/{stem}-xy.csv",
        Body=price_csv(tickers, 40, spread=5, stride=3, modulus=11, shift=0, decimals=2),
    )
    local_stack.wait_idle()
    status, _, body = api_fetch(f"{local_stack.api_url}/portfolios/{pid}/report")
    assert status == 200, body


def test_one_portfolio_report_per_burst_assembled_from_the_runs_charts(
    fresh_stack: Any,
) -> None:
    """Four analyses finish after a landing: every run report is rendered, the portfolio's
    once, and its images are the runs' stored key charts, byte for byte."""
    stack = fresh_stack
    stem = uuid.uuid4().hex[:3].upper()
    tickers = [f"B{stem}{c}" for c in "ABCD"]
    kinds = {
        "risk-parity": "risk-contributions.png",
        "hrp": "dendrogram.png",
        "efficient-frontier": "frontier.png",
        "simulate": "fan.png",
    }
    analyses = [{"type": kind, "lookbackDays": 90} for kind in kinds]
    analyses[-1]["parameters"] = {"nPaths": 300, "horizonDays": 21, "seed": 1}
    status, _, body = api_fetch(
        f"{stack.api_url}/portfolios",
        "POST",
        {
            "portfolio": {
                "name": "burst",
                "assets": dict.fromkeys(tickers, 0.25),
                "analyses": analyses,
            }
        },
    )
    assert status == 201, body
    pid = json.loads(body)["id"]
    stack.wait_idle()  # the creation's runs fail (no data yet) and announce nothing
    before = len(stack.runtime.calls("RenderFunction"))
    stack.client("s3").put_object(
        Bucket=stack.bucket,
        Key=f"raw/prices/{stem}-burst.csv",
        Body=price_csv(tickers, 60, spread=5, stride=3, modulus=11, shift=0, decimals=2),
    )
    stack.wait_idle()
    runs = triggered_runs(stack, pid, "market-data")
    assert sorted(r["type"] for r in runs) == sorted(kinds), runs
    assert {r["status"] for r in runs} == {"succeeded"}, runs
    calls = [c for c in stack.runtime.calls("RenderFunction")[before:] if c.ok]
    rendered_runs = {c.result["runId"] for c in calls}
    assert rendered_runs == {r["id"] for r in runs}  # every run's report, on its RunCompleted
    prefix = f"reports/demo/portfolios/{pid}/"
    portfolio_writes = [c for c in calls if prefix in c.result["reports"]]
    assert len(portfolio_writes) == 1, [c.result for c in calls]  # once per burst
    assert portfolio_writes[0].result["portfolioReport"]["chartsReused"] == len(kinds) - 1
    s3 = stack.client("s3")

    def read(key: str) -> bytes:
        body: bytes = s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
        return body

    for run in runs:
        chart = kinds[run["type"]]
        stored = read(f"reports/demo/runs/{run['id']}/{chart}")
        assert stored.startswith(PNG)
        assert read(f"{prefix}{run['type']}-{chart}") == stored  # the very bytes, not redrawn
    page = read(f"{prefix}report.html").decode()
    for run in runs:
        window = run["dataWindow"]
        assert f"Data: {window['start']} to {window['end']}" in page
        assert f"{window['observations']} observations of 4 assets" in page
    manifest = json.loads(read(f"{prefix}manifest.json"))
    assert manifest["inputs"]


def test_a_burst_whose_last_run_fails_still_refreshes_the_portfolio_report(
    local_stack: Any,
) -> None:
    """Failed runs announce RunCompleted too, so the burst's last run to end renders the
    portfolio report even when it failed: here risk parity fails (its budgets name a ticker
    the portfolio does not hold) after HRP succeeded."""
    stem = uuid.uuid4().hex[:4].upper()
    tickers = [f"F{stem}{c}" for c in "AB"]
    local_stack.client("s3").put_object(
        Bucket=local_stack.bucket,
        Key=f"raw/prices/{stem}-fail-last.csv",
        Body=price_csv(tickers, 60, spread=5, stride=3, modulus=11, shift=0, decimals=2),
    )
    local_stack.wait_idle()
    status, _, body = api_fetch(
        f"{local_stack.api_url}/portfolios",
        "POST",
        {
            "portfolio": {
                "name": "fails last",
                "assets": dict.fromkeys(tickers, 0.5),
                "analyses": [
                    {"type": "hrp", "lookbackDays": 60},
                    {
                        "type": "risk-parity",
                        "lookbackDays": 60,
                        "parameters": {"budgets": {"ZZZ": 1}},
                    },
                ],
            }
        },
    )
    assert status == 201, body
    pid = json.loads(body)["id"]
    local_stack.wait_idle()
    runs = {r["type"]: r for r in portfolio_runs(local_stack, pid)}
    assert runs["hrp"]["status"] == "succeeded", runs
    assert runs["risk-parity"]["status"] == "failed", runs
    renders = [
        c
        for c in local_stack.runtime.calls("RenderFunction")
        if c.ok and c.result["runId"] in {r["id"] for r in runs.values()}
    ]
    failed = [c for c in renders if c.result["runId"] == runs["risk-parity"]["id"]]
    assert failed, "the failed run's RunCompleted reached the renderer"
    # A failed run has no report of its own: nothing under runs/ was written for it.
    assert all(not any("/runs/" in p for p in c.result["reports"]) for c in failed)
    status, _, body = api_fetch(f"{local_stack.api_url}/portfolios/{pid}/report")
    assert status == 200, body
    assert sum(c.result["portfolioReport"]["rendered"] for c in renders) == 1
