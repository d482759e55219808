"""A portfolio's constraints and views over real HTTP against the local stack: stored and
answered as written, and a mandate no weights can meet refused (422) naming the conflict.

Tickers no price file lands (so no market-data fan-out) and no analyses (so no runs).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from stack_client import call, expect_error

pytestmark = pytest.mark.functional

ASSETS = {"ZZMTA": 0.3, "ZZMTB": 0.3, "ZZMEA": 0.2, "ZZMEB": 0.2}
CONSTRAINTS: dict[str, Any] = {
    "minWeight": 0.05,
    "maxWeight": 0.4,
    "assets": {"ZZMTA": {"max": 0.35}},
    "groups": [
        {"name": "Tech", "assets": ["ZZMTA", "ZZMTB"], "min": 0.4, "max": 0.7},
        {"name": "Energy", "assets": ["ZZMEA", "ZZMEB"], "max": 0.5},
    ],
    "turnover": 0.4,
    "costsBps": {"ZZMTA": 5, "ZZMEA": 10},
}
VIEWS: dict[str, Any] = {
    "items": [
        {"asset": "ZZMEA", "return": 0.08, "confidence": 0.6},
        {"long": ["ZZMTA", "ZZMTB"], "short": ["ZZMEB"], "return": 0.03, "confidence": 0.4},
    ],
    "prior": "implied",
    "riskAversion": 2.5,
    "tau": 0.05,
}


def _portfolio(**fields: Any) -> dict[str, Any]:
    return {
        "name": f"mandate {uuid.uuid4().hex[:8]}",
        "description": "",
        "assets": ASSETS,
        "analyses": [],
        "constraints": CONSTRAINTS,
        "views": VIEWS,
        **fields,
    }


def _create(stack: Any, portfolio: dict[str, Any]) -> dict[str, Any]:
    answer = call(stack, "POST", "/portfolios", body={"portfolio": portfolio})
    assert answer.status == 201, str(answer)
    created: dict[str, Any] = answer.json
    return created


def test_constraints_and_views_are_stored_and_answered_as_written(local_stack: Any) -> None:
    portfolio = _portfolio()
    created = _create(local_stack, portfolio)
    assert created["portfolio"] == portfolio
    read = call(local_stack, "GET", f"/portfolios/{created['id']}")
    assert read.status == 200, str(read)
    assert read.json["portfolio"] == portfolio
    # Defaults are filled in; sides and fields left out stay out.
    sparse = _portfolio(
        constraints={"groups": [{"name": "Tech", "assets": ["ZZMTA"], "max": 0.5}]},
        views={"items": [{"asset": "ZZMTB", "return": 0.1}]},
    )
    answered = _create(local_stack, sparse)["portfolio"]
    assert answered["constraints"] == {
        "minWeight": 0.0,
        "maxWeight": 1.0,
        "assets": {},
        "groups": [{"name": "Tech", "assets": ["ZZMTA"], "max": 0.5}],
    }
    assert answered["views"] == {
        "items": [{"asset": "ZZMTB", "return": 0.1}],
        "prior": "implied",
        "riskAversion": 2.5,
        "tau": 0.05,
    }
    # Replacing the portfolio without them drops them.
    plain = {k: v for k, v in portfolio.items() if k not in ("constraints", "views")}
    updated = call(local_stack, "PUT", f"/portfolios/{created['id']}", body={"portfolio": plain})
    assert updated.status == 200, str(updated)
    assert updated.json["portfolio"] == plain


def test_an_infeasible_update_is_refused_and_changes_nothing(local_stack: Any) -> None:
    created = _create(local_stack, _portfolio())
    pid = created["id"]
    infeasible = copy.deepcopy(_portfolio(name=created["portfolio"]["name"]))
    infeasible["constraints"]["groups"] = [
        {"name": "Tech", "assets": ["ZZMTA", "ZZMTB"], "min": 0.7},
        {"name": "Energy", "assets": ["ZZMEA", "ZZMEB"], "min": 0.5},
    ]
    answer = call(
        local_stack,
        "PUT",
        f"/portfolios/{pid}",
        body={"portfolio": infeasible},
        headers={"If-Match": '"1"'},
    )
    error = expect_error(answer, 422, "UNPROCESSABLE")
    assert error["message"].startswith("The portfolio's constraints admit no weights: ")
    assert error["details"] == [
        "budget (weights sum to 1)",
        "constraints.groups[0]: group 'Tech' >= 0.7",
        "constraints.groups[1]: group 'Energy' >= 0.5",
    ]
    read = call(local_stack, "GET", f"/portfolios/{pid}")
    assert read.status == 200, str(read)
    assert read.headers["ETag"] == '"1"'
    assert read.json["version"] == 1
    assert read.json["portfolio"] == created["portfolio"]
    # Refused at create too (nothing stored), and a missing portfolio is 404 first.
    refused = call(local_stack, "POST", "/portfolios", body={"portfolio": infeasible})
    assert expect_error(refused, 422, "UNPROCESSABLE")["details"] == error["details"]
    missing = call(
        local_stack, "PUT", "/portfolios/p-0000000000000000", body={"portfolio": infeasible}
    )
    expect_error(missing, 404, "NOT_FOUND")


def test_no_turnover_from_weights_outside_the_bounds_is_refused(local_stack: Any) -> None:
    portfolio = _portfolio(
        assets={"ZZMTA": 0.6, "ZZMTB": 0.2, "ZZMEA": 0.2},
        constraints={"maxWeight": 0.4, "turnover": 0},
        views=None,
    )
    portfolio = {k: v for k, v in portfolio.items() if v is not None}
    error = expect_error(
        call(local_stack, "POST", "/portfolios", body={"portfolio": portfolio}),
        422,
        "UNPROCESSABLE",
    )
    assert error["details"] == [
        "per-asset bounds (constraints.minWeight, constraints.maxWeight, constraints.assets)",
        "constraints.turnover: turnover <= 0 from the portfolio's own weights",
    ]
    assert "turnover <= 0" in error["message"]
    assert "per-asset bounds" in error["message"]


def test_a_bad_shape_is_a_400_naming_the_field(local_stack: Any) -> None:
    portfolio = _portfolio()
    portfolio["constraints"] = {**CONSTRAINTS, "costsBps": -1}
    error = expect_error(
        call(local_stack, "POST", "/portfolios", body={"portfolio": portfolio}),
        400,
        "VALIDATION_ERROR",
    )
    assert any(d.startswith("portfolio.constraints.costsBps") for d in error["details"]), error
    stranger = _portfolio(views={"items": [{"asset": "ZZNOTHELD", "return": 0.1}]})
    error = expect_error(
        call(local_stack, "POST", "/portfolios", body={"portfolio": stranger}),
        400,
        "VALIDATION_ERROR",
    )
    assert "views.items[0]: ZZNOTHELD" in " ".join(error["details"]), error
