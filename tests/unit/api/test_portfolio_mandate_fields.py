"""A portfolio's constraints and views: their wire shapes, what is refused (naming the field),
their storage, and how ``analyses.mandates`` turns them into compute's arguments."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analyses.mandates import (
    mandate_keywords,
    mandate_of,
    mandate_problems,
    posterior_estimates,
    views_matrices,
)
from analyses.runner import Inputs
from core.exceptions import UnprocessableError, ValidationError
from core.models import (
    DataWindow,
    Portfolio,
    PortfolioCreate,
    PortfolioFields,
    PortfolioResource,
    PortfolioViews,
    ViewStatement,
)
from core.repositories import PortfolioRepository
from core.validation import parse_model

ROOT = Path(__file__).resolve().parents[3]

CONSTRAINTS: dict[str, Any] = {
    "minWeight": 0.05,
    "maxWeight": 0.6,
    "assets": {"AAPL": {"max": 0.3}, "XOM": {"min": 0.1, "max": 0.5}},
    "groups": [
        {"name": "Tech", "assets": ["AAPL", "MSFT"], "min": 0.2, "max": 0.8},
        {"name": "Energy", "assets": ["XOM"], "max": 0.5},
    ],
    "turnover": 0.5,
    "costsBps": {"AAPL": 5, "XOM": 12.5},
}
VIEWS: dict[str, Any] = {
    "items": [
        {"asset": "AAPL", "return": 0.12, "confidence": 0.7},
        {"long": ["AAPL", "MSFT"], "short": ["XOM"], "return": 0.03, "confidence": 0.4},
    ],
    "prior": "historical",
    "riskAversion": 3.0,
    "tau": 0.1,
}
FIELDS: dict[str, Any] = {
    "name": "mandate",
    "description": "",
    "assets": {"AAPL": 0.3, "MSFT": 0.3, "XOM": 0.4},
    "analyses": [],
    "constraints": CONSTRAINTS,
    "views": VIEWS,
}


def _parse(fields: dict[str, Any]) -> PortfolioFields:
    """As the API parses a body: JSON text, strictly, by the wire names."""
    body = json.dumps({"portfolio": fields})
    return parse_model(PortfolioCreate, body, what="body", from_json=True).portfolio


def _refused(change: Callable[[dict[str, Any]], None]) -> str:
    fields = copy.deepcopy(FIELDS)
    change(fields)
    with pytest.raises(ValidationError) as caught:
        _parse(fields)
    return " | ".join(caught.value.details)


# ------------------------------------------------------------------ wire shapes
def test_constraints_and_views_round_trip_by_their_wire_names() -> None:
    parsed = _parse(FIELDS)
    assert parsed.constraints is not None
    assert parsed.views is not None
    assert parsed.constraints.min_weight == 0.05
    assert parsed.constraints.costs_bps == {"AAPL": 5.0, "XOM": 12.5}
    assert parsed.views.items[0].expected_return == 0.12
    assert parsed.views.risk_aversion == 3.0
    # Written back exactly as sent (sides and fields left out stay out).
    assert parsed.model_dump(mode="json", by_alias=True) == FIELDS
    dumped = parsed.model_dump_json(by_alias=True)
    for name in ('"minWeight"', '"maxWeight"', '"costsBps"', '"riskAversion"', '"return"'):
        assert name in dumped


def test_a_portfolio_without_them_answers_neither() -> None:
    plain = {k: v for k, v in FIELDS.items() if k not in ("constraints", "views")}
    assert _parse(plain).model_dump(mode="json", by_alias=True) == plain


def test_defaults_and_one_rate_for_every_asset() -> None:
    parsed = _parse({**FIELDS, "constraints": {"costsBps": 10}, "views": {"items": VIEWS["items"]}})
    assert parsed.model_dump(mode="json", by_alias=True)["constraints"] == {
        "minWeight": 0.0,
        "maxWeight": 1.0,
        "assets": {},
        "groups": [],
        "costsBps": 10.0,
    }
    assert parsed.views is not None
    assert (parsed.views.prior, parsed.views.risk_aversion, parsed.views.tau) == (
        "implied",
        2.5,
        0.05,
    )


def test_a_view_is_built_by_its_python_names_and_written_as_return() -> None:
    view = ViewStatement.model_validate({"asset": "AAPL", "expected_return": 0.1})
    assert view.model_dump(by_alias=True) == {"asset": "AAPL", "return": 0.1}
    with pytest.raises(ValidationError, match="Invalid body"):
        parse_model(
            PortfolioViews,
            json.dumps({"items": [{"asset": "AAPL", "expectedReturn": 0.1}]}),
            what="body",
            from_json=True,
        )


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(fields: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = fields
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(fields: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = fields
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return change


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        pytest.param(
            _set("constraints/groups/0/assets", ["AAPL", "GOOGL"]),
            ["portfolio.constraints", "constraints.groups[0].assets: GOOGL", "does not hold"],
            id="unknown-ticker-in-a-group",
        ),
        pytest.param(
            _set("constraints/assets/TSLA", {"max": 0.1}),
            ["constraints.assets.TSLA: TSLA"],
            id="unknown-ticker-in-assets",
        ),
        pytest.param(
            _set("constraints/costsBps", {"TSLA": 3}),
            ["constraints.costsBps.TSLA: TSLA"],
            id="unknown-ticker-in-costs",
        ),
        pytest.param(
            _set("views/items/0/asset", "TSLA"),
            ["portfolio.views", "views.items[0]: TSLA"],
            id="unknown-ticker-in-a-view",
        ),
        pytest.param(
            _set("constraints/groups/0/min", 0.9),
            ["portfolio.constraints.groups.0", "min 0.9 exceeds max 0.8"],
            id="group-min-above-max",
        ),
        pytest.param(
            _set("constraints/assets/XOM", {"min": 0.5, "max": 0.2}),
            ["portfolio.constraints.assets.XOM", "min 0.5 exceeds max 0.2"],
            id="asset-min-above-max",
        ),
        pytest.param(
            _set("constraints/assets/AAPL", {"min": 0.7}),
            ["portfolio.constraints", "assets.AAPL: lower bound 0.7 (min)", "0.6 (maxWeight)"],
            id="asset-min-above-the-default-max",
        ),
        pytest.param(
            _set("constraints/minWeight", 0.7),
            ["portfolio.constraints", "minWeight 0.7 exceeds maxWeight 0.6"],
            id="min-weight-above-max-weight",
        ),
        pytest.param(
            _set("constraints/assets/AAPL", {}),
            ["portfolio.constraints.assets.AAPL", "give min, max or both"],
            id="an-empty-range",
        ),
        pytest.param(
            _set("constraints/groups/1", {"name": "Tech", "assets": ["XOM"], "max": 0.5}),
            ["portfolio.constraints.groups", "group names must not repeat: Tech"],
            id="duplicate-group-names",
        ),
        pytest.param(
            _set("constraints/groups/1", {"name": "Energy", "assets": ["XOM"]}),
            ["portfolio.constraints.groups.1", "give min, max or both"],
            id="a-group-without-limits",
        ),
        pytest.param(
            _set("constraints/groups/0/assets", ["AAPL", "AAPL"]),
            ["portfolio.constraints.groups.0.assets", "must not repeat: AAPL"],
            id="a-group-repeating-a-ticker",
        ),
        pytest.param(
            _set("constraints/costsBps", -1),
            ["portfolio.constraints.costsBps", "greater than or equal to 0"],
            id="negative-costs",
        ),
        pytest.param(
            _set("constraints/costsBps", {"AAPL": -1}),
            ["portfolio.constraints.costsBps", "AAPL", "greater than or equal to 0"],
            id="negative-costs-of-a-ticker",
        ),
        pytest.param(
            _set("constraints/turnover", 2.5),
            ["portfolio.constraints.turnover", "less than or equal to 2"],
            id="turnover-above-2",
        ),
        pytest.param(
            _set("constraints/maxWeight", -0.1),
            ["portfolio.constraints.maxWeight"],
            id="negative-max-weight",
        ),
        pytest.param(
            _drop("views/items/1/confidence"),
            ["portfolio.views", "confidence: give every view one", "items[1]"],
            id="mixed-confidences",
        ),
        pytest.param(
            _set("views/items/1/short", []),
            ["portfolio.views.items.1", "needs both legs: short is empty"],
            id="a-relative-view-with-an-empty-leg",
        ),
        pytest.param(
            _set("views/items/1/short", ["AAPL"]),
            ["portfolio.views.items.1", "AAPL in both long and short"],
            id="a-ticker-in-both-legs",
        ),
        pytest.param(
            _set("views/items/0/long", ["MSFT"]),
            ["portfolio.views.items.0", "not both"],
            id="absolute-and-relative-at-once",
        ),
        pytest.param(
            _set("views/items/0", {"return": 0.1}),
            ["portfolio.views.items.0", "give asset"],
            id="a-view-on-nothing",
        ),
        pytest.param(
            _set("views/items/0/confidence", 1.5),
            ["portfolio.views.items.0.confidence", "less than or equal to 1"],
            id="confidence-above-1",
        ),
        pytest.param(
            _set("views/items", []),
            ["portfolio.views.items", "at least 1 item"],
            id="no-views",
        ),
        pytest.param(
            _set("views/tau", 0), ["portfolio.views.tau", "greater than 0"], id="tau-zero"
        ),
        pytest.param(
            _set("views/prior", "market"), ["portfolio.views.prior"], id="an-unknown-prior"
        ),
        pytest.param(
            _set("views/items/0/expected_return", 0.1),
            ["portfolio.views.items.0.expected_return", "Extra inputs"],
            id="the-python-name-on-the-wire",
        ),
    ],
)
def test_each_bad_shape_is_refused_naming_its_field(
    change: Callable[[dict[str, Any]], None], fragments: list[str]
) -> None:
    details = _refused(change)
    for fragment in fragments:
        assert fragment in details, details


def test_constraints_need_a_portfolio_a_run_can_hold() -> None:
    assets = {f"T{i}": 1 / 501 for i in range(501)}
    details = _refused(lambda f: f.update(assets=assets, constraints={}, views=None))
    assert "portfolio.constraints" in details
    assert "at most 500 assets" in details


# ------------------------------------------------------------------ storage
def test_the_repository_keeps_them_exactly() -> None:
    fields = _parse(FIELDS)
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    stored = Portfolio(
        id="p-1",
        name=fields.name,
        description=fields.description,
        assets=fields.assets,
        analyses=fields.analyses,
        constraints=fields.constraints,
        views=fields.views,
        version=1,
        created_at=now,
        updated_at=now,
    )
    read = PortfolioRepository._from_item(PortfolioRepository._to_item("demo", stored))
    assert read == stored
    assert read.fields().model_dump(mode="json", by_alias=True) == FIELDS
    wire = PortfolioResource.of(read).model_dump(mode="json", by_alias=True)
    assert wire["portfolio"] == FIELDS
    # Without them the item has neither attribute, and reads back without them.
    plain = stored.model_copy(update={"constraints": None, "views": None})
    item = PortfolioRepository._to_item("demo", plain)
    assert "constraints" not in item
    assert "views" not in item
    assert PortfolioRepository._from_item(item) == plain


def test_run_inputs_carry_them_and_default_to_none() -> None:
    from dataclasses import replace

    fields = _parse(FIELDS)
    inputs = Inputs(
        np.zeros((2, 3)),
        ["AAPL", "MSFT", "XOM"],
        DataWindow(source="inline", tickers=["AAPL", "MSFT", "XOM"], observations=2),
    )
    assert inputs.constraints is None
    assert inputs.views is None
    given = replace(inputs, constraints=fields.constraints, views=fields.views)
    assert given.constraints == fields.constraints
    assert given.views == fields.views


# ------------------------------------------------------------------ analyses.mandates
def test_mandate_keywords_follow_the_run_columns() -> None:
    constraints = _parse(FIELDS).constraints
    # Run columns in their own order, one the portfolio does not hold (GOOGL), one it holds
    # missing (MSFT: the Tech group keeps AAPL only).
    tickers = ["XOM", "GOOGL", "AAPL"]
    current = {"AAPL": 0.3, "MSFT": 0.3, "XOM": 0.4}
    keywords = mandate_keywords(constraints, tickers, current)
    assert set(keywords) == {"bounds", "groups", "turnover", "costs"}
    lower, upper = keywords["bounds"]
    np.testing.assert_array_equal(lower, [0.1, 0.05, 0.05])
    np.testing.assert_array_equal(upper, [0.5, 0.6, 0.3])
    assert keywords["groups"] == {"Tech": ([2], 0.2, 0.8), "Energy": ([0], None, 0.5)}
    held, limit = keywords["turnover"]
    np.testing.assert_array_equal(held, [0.4, 0.0, 0.3])
    assert limit == 0.5
    costs_held, rates = keywords["costs"]
    np.testing.assert_array_equal(costs_held, held)
    np.testing.assert_allclose(rates, [12.5e-4, 0.0, 5e-4], rtol=0, atol=1e-18)


def test_mandate_keywords_without_constraints_or_weights() -> None:
    assert mandate_keywords(None, ["AAPL", "MSFT"], {"AAPL": 1.0}) == {}
    constraints = _parse({**FIELDS, "constraints": {"turnover": 0.2, "costsBps": 20}}).constraints
    keywords = mandate_keywords(constraints, ["AAPL", "MSFT"], None)
    assert set(keywords) == {"bounds", "turnover", "costs"}
    np.testing.assert_array_equal(keywords["bounds"][0], [0.0, 0.0])
    np.testing.assert_array_equal(keywords["bounds"][1], [1.0, 1.0])
    np.testing.assert_array_equal(keywords["turnover"][0], [0.0, 0.0])
    np.testing.assert_allclose(keywords["costs"][1], [0.002, 0.002])


def test_mandate_of_names_the_tickers() -> None:
    fields = _parse(FIELDS)
    mandate = mandate_of(fields.constraints, ["AAPL", "MSFT", "XOM"], fields.assets)
    assert mandate.asset_names == ("AAPL", "MSFT", "XOM")
    assert mandate.turnover_limit == 0.5
    assert [g.name for g in mandate.groups] == ["Tech", "Energy"]


def test_views_matrices_by_hand() -> None:
    views = _parse(FIELDS).views
    assert views is not None
    picks, returns, confidences = views_matrices(views, ["MSFT", "XOM", "AAPL"])
    np.testing.assert_array_equal(picks, [[0.0, 0.0, 1.0], [0.5, -1.0, 0.5]])
    np.testing.assert_array_equal(returns, [0.12, 0.03])
    assert confidences is not None
    np.testing.assert_array_equal(confidences, [0.7, 0.4])
    without = views.model_copy(
        update={"items": [v.model_copy(update={"confidence": None}) for v in views.items]}
    )
    assert views_matrices(without, ["MSFT", "XOM", "AAPL"])[2] is None
    with pytest.raises(UnprocessableError, match="XOM"):
        views_matrices(views, ["AAPL", "MSFT"])


def test_posterior_estimates_meet_a_certain_view() -> None:
    views = PortfolioViews.model_validate(
        {"items": [{"asset": "XOM", "return": 0.2, "confidence": 1.0}], "prior": "historical"}
    )
    tickers = ["AAPL", "XOM"]
    mu = np.array([0.05, 0.07])
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    mu_post, cov_post = posterior_estimates(views, tickers, mu, cov, {"AAPL": 1.0})
    assert mu_post[1] == pytest.approx(0.2)
    assert mu_post[0] == pytest.approx(0.05 + 0.01 / 0.09 * 0.13)  # pulled along by covariance
    assert cov_post.shape == (2, 2)
    implied = views.model_copy(update={"prior": "implied"})
    with pytest.raises(UnprocessableError, match="implied prior"):
        posterior_estimates(implied, tickers, mu, cov, {"MSFT": 1.0})


def _fields_with(constraints: dict[str, Any], assets: dict[str, float]) -> PortfolioFields:
    return _parse({"name": "m", "assets": assets, "analyses": [], "constraints": constraints})


def test_a_feasible_mandate_has_no_problems() -> None:
    assert mandate_problems(_parse(FIELDS)) == []
    assert mandate_problems(_parse({k: v for k, v in FIELDS.items() if k != "constraints"})) == []


def test_disjoint_groups_over_the_budget_are_named() -> None:
    groups = [
        {"name": "Tech", "assets": ["AAPL", "MSFT"], "min": 0.7},
        {"name": "Energy", "assets": ["XOM", "CVX"], "min": 0.5},
    ]
    assets = {"AAPL": 0.3, "MSFT": 0.3, "XOM": 0.2, "CVX": 0.1, "JPM": 0.1}
    assert mandate_problems(_fields_with({"groups": groups}, assets)) == [
        "budget (weights sum to 1)",
        "per-asset bounds (constraints.minWeight, constraints.maxWeight, constraints.assets)",
        "constraints.groups[0]: group 'Tech' >= 0.7",
        "constraints.groups[1]: group 'Energy' >= 0.5",
    ]


def test_no_turnover_with_bounds_excluding_the_weights_is_named() -> None:
    problems = mandate_problems(
        _fields_with({"maxWeight": 0.4, "turnover": 0}, {"AAPL": 0.6, "MSFT": 0.2, "XOM": 0.2})
    )
    assert problems == [
        "per-asset bounds (constraints.minWeight, constraints.maxWeight, constraints.assets)",
        "constraints.turnover: turnover <= 0 from the portfolio's own weights",
    ]


def test_bounds_that_cannot_sum_to_one_are_named() -> None:
    problems = mandate_problems(_fields_with({"maxWeight": 0.3}, {"AAPL": 0.5, "MSFT": 0.5}))
    assert problems[0] == "budget (weights sum to 1)"
    assert problems[1].startswith("per-asset bounds (constraints.minWeight")
    assert "[0, 0.6]" in problems[1]


def test_the_documented_refusal_is_the_apis() -> None:
    from api.openapi import INFEASIBLE_ANSWER, INFEASIBLE_EXAMPLE, MANDATE_EXAMPLE
    from api.portfolios import _refusal

    assert _refusal(_parse(MANDATE_EXAMPLE)) is None
    refusal = _refusal(_parse(INFEASIBLE_EXAMPLE))
    assert refusal is not None
    assert refusal.status == 422
    assert {
        "error": {"code": refusal.code, "message": refusal.message, "details": refusal.details}
    } == INFEASIBLE_ANSWER


def test_only_a_portfolio_with_constraints_loads_numerics() -> None:
    code = (
        "import json, sys\n"
        "import api.portfolios as p\n"
        "from core.models import PortfolioFields\n"
        "fields = {'name': 'x', 'assets': {'AAPL': 0.5, 'MSFT': 0.5}}\n"
        "p._runnable(PortfolioFields.model_validate(fields))\n"
        "p._runnable(PortfolioFields.model_validate({**fields, 'analyses': [], 'views': "
        "{'items': [{'asset': 'AAPL', 'return': 0.1}]}}))\n"
        "before = [m for m in ('numpy', 'scipy', 'highspy') if m in sys.modules]\n"
        "p._runnable(PortfolioFields.model_validate({**fields, 'constraints': {'maxWeight': "
        "0.6}}))\n"
        "after = [m for m in ('numpy', 'highspy') if m in sys.modules]\n"
        "print(json.dumps([before, after]))"
    )
    out = subprocess.run(  # nosec B603
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [], out.stderr
    assert after == ["numpy", "highspy"], out.stderr
