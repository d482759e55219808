"""The plan's API (../shared/seed/serverless-architecture-plan.md, sections 4, 5 and 13.4),
sent verbatim through the local stack: every example gets a meaningful answer, and the
answers have the plan's shapes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from stack_client import DEV, OTHER, call, expect_error

pytestmark = pytest.mark.functional

# Section 4.2, "Example Request", verbatim.
PLAN_REQUEST: dict[str, Any] = {
    "portfolio": {
        "name": "Tech Concentrated",
        "description": "Technology-focused portfolio with high concentration",
        "assets": {"AAPL": 0.25, "MSFT": 0.25, "GOOGL": 0.20, "AMZN": 0.20, "META": 0.10},
    }
}
# Section 13.4, "Test optimization function", verbatim.
PLAN_RISK_PARITY: dict[str, Any] = {
    "portfolioId": "test",
    "returns": {"AAPL": [0.01, 0.02], "MSFT": [0.02, 0.01]},
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
PLAN = Path(__file__).resolve().parents[3] / "shared" / "seed" / "serverless-architecture-plan.md"


def test_the_examples_are_the_plans_own() -> None:
    if not PLAN.exists():
        pytest.skip("the plan is not beside this checkout")
    text = PLAN.read_text()
    assert '"portfolioId": "test", "returns": {"AAPL": [0.01, 0.02], "MSFT": [0.02, 0.01]}' in text
    assert '"name": "Tech Concentrated"' in text


def test_create_read_list_and_update_in_the_plans_shape(local_stack: Any) -> None:
    created = call(local_stack, "POST", "/portfolios", body=PLAN_REQUEST)
    assert created.status == 201, created
    body = created.json
    # Section 4.2's "Example Response": id, portfolio (as sent), createdAt, updatedAt.
    assert {"id", "portfolio", "createdAt", "updatedAt"} <= set(body)
    sent = PLAN_REQUEST["portfolio"]
    assert {k: body["portfolio"][k] for k in sent} == sent
    assert ISO_UTC.match(body["createdAt"])
    assert body["createdAt"] == body["updatedAt"]
    assert created.headers["ETag"] == f'"{body["version"]}"'
    assert created.headers["Location"] == f"/portfolios/{body['id']}"

    read = call(local_stack, "GET", f"/portfolios/{body['id']}")
    assert read.status == 200
    assert read.json == body
    listed, token = [], ""
    while True:  # every page: the tenant may hold more than one page of portfolios
        page = call(
            local_stack, "GET", "/portfolios?limit=100" + (f"&nextToken={token}" * bool(token))
        )
        listed += page.json["items"]
        token = page.json.get("nextToken") or ""
        if not token:
            break
    assert body["id"] in {item["id"] for item in listed}
    assert all("portfolio" in item for item in listed)

    # PUT as the plan writes it: no version, no If-Match (an unconditional replace).
    changed = {"portfolio": {**sent, "assets": {"AAPL": 0.5, "MSFT": 0.5}}}
    updated = call(local_stack, "PUT", f"/portfolios/{body['id']}", body=changed)
    assert updated.status == 200, updated
    assert updated.json["portfolio"]["assets"] == {"AAPL": 0.5, "MSFT": 0.5}
    assert updated.json["version"] == body["version"] + 1
    # DELETE as the plan writes it: no version.
    deleted = call(local_stack, "DELETE", f"/portfolios/{body['id']}")
    assert deleted.status == 204
    expect_error(call(local_stack, "GET", f"/portfolios/{body['id']}"), 404, "NOT_FOUND")


def test_the_plans_risk_parity_call_gets_a_meaningful_answer(local_stack: Any) -> None:
    # Verbatim: "test" is nobody's portfolio here, which the answer says.
    missing = expect_error(
        call(local_stack, "POST", "/optimization/risk-parity", body=PLAN_RISK_PARITY),
        404,
        "NOT_FOUND",
    )
    assert "test" in missing["message"]
    assert "POST /portfolios" in " ".join(missing["details"])
    # With a portfolio of the caller's: two days of returns are too few, said plainly.
    own = call(local_stack, "POST", "/portfolios", body=PLAN_REQUEST).json["id"]
    tiny = expect_error(
        call(
            local_stack,
            "POST",
            "/optimization/risk-parity",
            body={**PLAN_RISK_PARITY, "portfolioId": own},
        ),
        422,
        "UNPROCESSABLE",
    )
    assert "Too few observations" in tiny["message"]
    assert "positive definite" not in tiny["message"]  # no misleading estimator hint
    # Another tenant's portfolio is not found, inline data or not.
    expect_error(
        call(
            local_stack,
            "POST",
            "/optimization/risk-parity",
            key=OTHER,
            body={**PLAN_RISK_PARITY, "portfolioId": own},
        ),
        404,
        "NOT_FOUND",
    )
    # Enough data: inline returns, the run attached to the portfolio (plan 5.2's shape).
    returns = {"AAPL": [0.01, 0.02, -0.01, 0.004], "MSFT": [0.02, 0.01, 0.0, -0.003]}
    answer = call(
        local_stack,
        "POST",
        "/optimization/risk-parity",
        body={"portfolioId": own, "returns": returns},
    )
    assert answer.status == 201, answer
    run = answer.json
    assert {"id", "portfolioId", "type", "parameters", "result", "createdAt"} <= set(run)
    assert run["portfolioId"] == own
    assert set(run["result"]) >= {"weights", "metrics"}
    assert set(run["result"]["weights"]) == {"AAPL", "MSFT"}
    assert run["dataWindow"]["source"] == "inline"
    listed = call(local_stack, "GET", f"/portfolios/{own}/runs?limit=100").json["items"]
    assert run["id"] in {r["id"] for r in listed}


def test_a_simulation_result_has_the_plans_trajectories_and_statistics(local_stack: Any) -> None:
    returns = {"AAPL": [0.01, 0.02, -0.01, 0.004], "MSFT": [0.02, 0.01, 0.0, -0.003]}
    kept = call(
        local_stack,
        "POST",
        "/monte-carlo/simulate",
        key=DEV,
        body={"returns": returns, "nPaths": 100, "horizonDays": 5, "seed": 1, "keepPaths": True},
    )
    assert kept.status == 201, kept
    result = kept.json["result"]
    assert set(result) == {"weights", "statistics", "trajectories"}
    assert len(result["trajectories"]) == 100
    assert all(len(path) == 6 for path in result["trajectories"])
    assert "paths" not in result["statistics"]
    assert result["statistics"]["nPaths"] == 100
    plain = call(
        local_stack,
        "POST",
        "/monte-carlo/simulate",
        body={"returns": returns, "nPaths": 100, "horizonDays": 5, "seed": 1},
    )
    assert "trajectories" not in plain.json["result"]
    assert plain.json["result"]["statistics"] == result["statistics"]


def test_errors_are_the_plans_envelope(local_stack: Any) -> None:
    flat = call(local_stack, "POST", "/portfolios", body=PLAN_REQUEST["portfolio"])
    error = expect_error(flat, 400, "VALIDATION_ERROR")
    assert set(error) == {"code", "message", "details"}
    weights = call(
        local_stack,
        "POST",
        "/portfolios",
        body={"portfolio": {**PLAN_REQUEST["portfolio"], "assets": {"AAPL": 0.5, "MSFT": 0.4}}},
    )
    details = " ".join(expect_error(weights, 400, "VALIDATION_ERROR")["details"])
    assert "sum to 1.0" in details  # section 4.3's own example
