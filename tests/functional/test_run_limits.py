"""Issue 14, items 6 and 7 as probed: large results keep their statistics and link their
paths; portfolios whose analyses could never run are refused at create and update."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stack_client import OTHER, api_fetch, call, expect_error, send

pytestmark = pytest.mark.functional

TICKERS = ["AAPL", "MSFT", "GOOGL"]


def _returns(days: int = 40) -> dict[str, list[float]]:
    return {
        t: [0.001 * ((i * (k + 3)) % 7 - 3) for i in range(days)] for k, t in enumerate(TICKERS)
    }


def test_kept_paths_too_large_to_inline_come_back_as_a_link_with_the_statistics(
    local_stack: Any,
) -> None:
    body = {
        "returns": _returns(),
        "nPaths": 1000,
        "horizonDays": 1000,
        "seed": 3,
        "keepPaths": True,
    }
    # send, not call: a presigned link names the bucket, as every report link does.
    answer = send(local_stack, "POST", "/monte-carlo/simulate", body=body)
    assert answer.status in (201, 202), answer
    run_id = answer.json["id"]
    if answer.status == 202:
        local_stack.wait_idle()
    run = send(local_stack, "GET", f"/runs/{run_id}").json
    result = run["result"]
    assert run["status"] == "succeeded"
    assert result["statistics"]["nPaths"] == 1000  # statistics always in the answer
    assert "resultKey" not in json.dumps(run)  # never an internal storage key
    assert "tenant=" not in json.dumps(run)
    assert "trajectories" not in result
    link = api_fetch(result["trajectoriesUrl"], key=None)
    assert link.status == 200
    whole = json.loads(link.raw)
    assert len(whole["trajectories"]) == 1000
    assert len(whole["trajectories"][0]) == 1001
    assert whole["statistics"] == result["statistics"]
    if answer.status == 201:  # the synchronous answer is the same shape
        assert answer.json["result"]["statistics"] == result["statistics"]
        assert "trajectoriesUrl" in answer.json["result"]
    expect_error(call(local_stack, "GET", f"/runs/{run_id}", key=OTHER), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("portfolio", "fragment"),
    [
        ({"assets": {"AAPL": 1.0}}, "at least 2 assets"),
        (
            {"assets": {f"T{i:03d}": 1 / 600 for i in range(600)}},
            "Too many assets for one run: 600 > 500",
        ),
        (
            {
                "assets": {"AAPL": 0.5, "MSFT": 0.5},
                "analyses": [
                    {
                        "type": "simulate",
                        "parameters": {"nPaths": 200000, "horizonDays": 2520, "keepPaths": True},
                    }
                ],
            },
            "keepPaths is limited",
        ),
    ],
)
def test_portfolios_that_could_never_run_are_refused_naming_the_rule(
    local_stack: Any, portfolio: dict[str, Any], fragment: str
) -> None:
    body = {"portfolio": {"name": "never runs", **portfolio}}
    error = expect_error(call(local_stack, "POST", "/portfolios", body=body), 422, "UNPROCESSABLE")
    assert fragment in " ".join(error["details"])
    ok = call(
        local_stack,
        "POST",
        "/portfolios",
        body={"portfolio": {"name": "runs", "assets": {"AAPL": 0.5, "MSFT": 0.5}}},
    )
    assert ok.status == 201
    updated = call(local_stack, "PUT", f"/portfolios/{ok.json['id']}", body=body)
    assert fragment in " ".join(expect_error(updated, 422, "UNPROCESSABLE")["details"])
    # Holding without analyses is fine: nothing will fail at night.
    holding = {"portfolio": {"name": "holding", **portfolio, "analyses": []}}
    assert call(local_stack, "POST", "/portfolios", body=holding).status == 201


def test_a_window_over_the_documented_maximum_is_refused_at_once(local_stack: Any) -> None:
    portfolio = call(
        local_stack,
        "POST",
        "/portfolios",
        body={"portfolio": {"name": "wide", "assets": {"AAPL": 0.5, "MSFT": 0.5}}},
    ).json["id"]
    body = {"portfolioId": portfolio, "start": "0001-01-01", "end": "9999-12-31"}
    error = expect_error(
        call(local_stack, "POST", "/optimization/risk-parity", body=body), 422, "UNPROCESSABLE"
    )
    assert "limit: window days" in error["details"]
    assert "14,610" in error["message"]
    # Only a start: the end is the lake's last date, and the span is still bounded.
    only_start = {"portfolioId": portfolio, "start": "0001-01-01"}
    answer = call(local_stack, "POST", "/optimization/risk-parity", body=only_start)
    assert answer.status in (404, 422), answer  # no data for these tickers, or the limit
