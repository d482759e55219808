"""The API's contract: one route declaration, from which the OpenAPI document, docs/API.md
and the template's route events derive; the plan's wire shapes."""

from __future__ import annotations

import json

import pytest

from analyses.hrp import HrpResult
from analyses.risk_parity import RiskParityRequest
from analyses.simulate import SimulateRequest
from api.openapi import (
    DOCUMENT_PATH,
    MARKDOWN_PATH,
    TEMPLATE_PATH,
    document_text,
    render_markdown,
    render_template,
)
from core.analysis import analyses, analysis
from core.exceptions import ValidationError
from core.models import PortfolioCreate, Run
from core.repositories import decode_page_token, encode_page_token
from core.routes import routes
from core.validation import parse_model
from stack import Template


def test_the_declaration_is_exactly_the_templates_routes() -> None:
    template = Template.load()
    served = {(r.method, r.path): r for r in template.routes()}
    declared = {(r.method, r.path): r for r in routes()}
    assert len(declared) == len(routes())  # declared once each
    assert set(declared) == set(served)
    for key, op in declared.items():
        assert op.public == (not served[key].api_key_required), key
        assert served[key].function == op.function, key
    # One run route per registered analysis, submitting its run type.
    run_routes = {r.run_type: r for r in routes() if r.run_type is not None}
    assert list(run_routes) == [entry.name for entry in analyses()]
    for entry in analyses():
        assert (run_routes[entry.name].method, run_routes[entry.name].path) == (
            "POST",
            entry.endpoint.path,
        )


def test_committed_document_markdown_and_template_routes_are_current() -> None:
    text = document_text()
    assert DOCUMENT_PATH.read_text() == text, "run: python -m api.openapi"
    assert MARKDOWN_PATH.read_text() == render_markdown(json.loads(text))
    template = TEMPLATE_PATH.read_text()
    assert render_template(template) == template, "run: python -m api.openapi"


def test_the_template_writer_restores_a_hand_edited_route() -> None:
    template = TEMPLATE_PATH.read_text()
    broken = template.replace("Path: /optimization/hrp", "Path: /optimisation/hrp", 1)
    assert broken != template
    assert render_template(broken) == template


def test_every_handler_serves_exactly_its_declared_routes() -> None:
    import analyses.handlers
    import api.portfolios
    import api.reports
    import api.runs
    import ingest.market_api

    apps = {
        "PortfoliosFunction": api.portfolios.app,
        "RunsFunction": api.runs.app,
        "ReportLinksFunction": api.reports.app,
        "OptimizationFunction": analyses.handlers.run_app(),
        "SimulationFunction": analyses.handlers.run_app(),
        "MarketDataFunction": ingest.market_api._app,
    }
    for function, app in apps.items():
        declared = {
            r.method + r.powertools_path for r in routes() if r.function in _same(apps, app)
        }
        # Powertools' own list of what the resolver registered (a test may read internals).
        assert set(app._route_keys) == declared, function


def _same(apps: dict[str, object], app: object) -> set[str]:
    return {name for name, other in apps.items() if other is app}


def test_run_results_are_typed_in_the_document() -> None:
    doc = json.loads(DOCUMENT_PATH.read_text())
    run = doc["components"]["schemas"]["Run"]
    options = run["properties"]["result"]["anyOf"]
    names = {o["$ref"].rsplit("/", 1)[-1] for o in options if "$ref" in o}
    assert names == {entry.result.__name__ for entry in analyses()}
    simulation = doc["components"]["schemas"]["SimulationRunResult"]["properties"]
    assert {"weights", "statistics", "trajectories"} <= set(simulation)
    assert "paths" not in doc["components"]["schemas"]["SimulationStatistics"]["properties"]


def test_a_stored_result_is_typed_by_its_runs_type() -> None:
    base = {
        "id": "r-1",
        "portfolioId": None,
        "parameters": {},
        "status": "succeeded",
        "createdAt": "2025-01-01T00:00:00Z",
    }
    performance = {"expectedReturn": 0.1, "volatility": 0.2, "sharpe": 0.5}
    run = Run.model_validate(
        {
            **base,
            "type": "hrp",
            "result": {
                "weights": {"A": 0.5, "B": 0.5},
                "order": ["A", "B"],
                "linkageMatrix": [[0.0, 1.0, 0.3, 2.0]],
                "metrics": performance,
            },
        }
    )
    assert type(run.result) is analysis("hrp").result is HrpResult
    with pytest.raises(ValueError, match="order"):
        Run.model_validate(
            {**base, "type": "hrp", "result": {"weights": {}, "metrics": performance}}
        )


def test_document_shape() -> None:
    doc = json.loads(DOCUMENT_PATH.read_text())
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
    post = doc["paths"]["/portfolios"]["post"]
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[-1]
    create = doc["components"]["schemas"][name]
    assert create["additionalProperties"] is False  # unknown fields are refused
    assert set(create["required"]) == {"portfolio"}  # the plan's wrapper
    fields = doc["components"]["schemas"]["PortfolioFields"]
    assert set(fields["required"]) == {"name", "assets"}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            for status, answer in op["responses"].items():
                if int(status) >= 400:
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorEnvelope"), (method, path, status)


@pytest.mark.parametrize(
    ("assets", "fragment"),
    [
        ({"AAPL": 0.5, "MSFT": 0.4}, "sum to 1.0"),
        ({"AAPL": 1.2, "MSFT": -0.2}, ">= 0"),
        ({"aapl": 1.0}, "exchange symbol"),
        ({}, "1 to 2000"),
        ({f"T{i}": 1 / 2001 for i in range(2001)}, "1 to 2000"),
    ],
)
def test_portfolio_weights_are_checked(assets: dict[str, float], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_model(PortfolioCreate, {"portfolio": {"name": "x", "assets": assets}})
    assert fragment in " ".join(caught.value.details)


def test_portfolio_accepts_weights_within_tolerance_and_keeps_names_verbatim() -> None:
    name = "<script>alert(1)</script> Ünïcödé"
    model = parse_model(
        PortfolioCreate,
        {"portfolio": {"name": name, "assets": {"AAPL": 0.3333333, "MSFT": 0.6666667}}},
    )
    assert model.portfolio.name == name


def test_the_plans_portfolio_request_parses_verbatim() -> None:
    plan = {
        "portfolio": {
            "name": "Tech Concentrated",
            "description": "Technology-focused portfolio with high concentration",
            "assets": {"AAPL": 0.25, "MSFT": 0.25, "GOOGL": 0.20, "AMZN": 0.20, "META": 0.10},
        }
    }
    model = parse_model(PortfolioCreate, json.dumps(plan), what="body", from_json=True)
    assert model.portfolio.assets["GOOGL"] == 0.20
    with pytest.raises(ValidationError, match="Invalid body"):
        parse_model(PortfolioCreate, plan["portfolio"], what="body")  # the old flat dialect


def test_run_requests_need_a_source_and_may_give_both() -> None:
    with pytest.raises(ValidationError):
        parse_model(RiskParityRequest, {})
    # The plan's own example (13.4): inline returns, the run attached to the portfolio.
    both = parse_model(
        RiskParityRequest,
        {"portfolioId": "test", "returns": {"AAPL": [0.01, 0.02], "MSFT": [0.02, 0.01]}},
    )
    assert both.portfolio_id == "test"
    assert both.returns is not None
    with pytest.raises(ValidationError, match="Invalid body"):
        parse_model(RiskParityRequest, {"returns": {"A": [0.1, 0.2], "B": [0.1]}}, what="body")
    with pytest.raises(ValidationError):
        parse_model(SimulateRequest, {"returns": {"A": [0.1, 0.2], "B": [0.1, 0]}, "nPaths": 5})
    ok = parse_model(SimulateRequest, {"returns": {"A": [0.1, 0.2], "B": [0.1, 0.0]}})
    assert ok.n_paths == 10_000


def test_page_tokens_are_bound_to_the_tenant() -> None:
    token = encode_page_token("demo", {"portfolioId": "p-1"})
    assert decode_page_token("demo", token, ["portfolioId"]) == {"portfolioId": "p-1"}
    for tenant, forged in (
        ("acme", token),  # another tenant's token
        ("demo", "not-base64!"),
        ("demo", "eyJwIjp7InBvcnRmb2xpb0lkIjoicC0yIn0sInQiOiJ4In0="),  # hand-made, bad tag
        ("demo", encode_page_token("demo", {"other": "x"})),  # wrong fields
    ):
        with pytest.raises(ValidationError):
            decode_page_token(tenant, forged, ["portfolioId"])


def test_cached_routes_document_the_templates_default_ttl() -> None:
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    parameters = yaml.load(TEMPLATE_PATH.read_text(), Loader=_Loader)["Parameters"]
    defaults = {
        "GetPrices": int(parameters["PricesCacheTtlSeconds"]["Default"]),
        "GetReturns": int(parameters["ReturnsCacheTtlSeconds"]["Default"]),
    }
    cached = {r.name: r.cache_ttl for r in routes() if r.cache_ttl is not None}
    assert cached == defaults
