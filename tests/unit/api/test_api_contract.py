"""The API's contract: one OpenAPI document from the models, equal to the template's routes."""

from __future__ import annotations

import json

import pytest

from api.openapi import DOCUMENT_PATH, MARKDOWN_PATH, OPERATIONS, document_text, render_markdown
from core.exceptions import ValidationError
from core.models import PortfolioCreate, RiskParityRequest, SimulateRequest
from core.repositories import decode_page_token, encode_page_token
from core.validation import parse_model
from local.template import Template


def test_operations_are_exactly_the_templates_routes() -> None:
    routes = {(r.method, r.path): r for r in Template.load().routes()}
    assert set(OPERATIONS) == set(routes)
    for key, op in OPERATIONS.items():
        assert op.public == (not routes[key].api_key_required), key


def test_committed_document_and_markdown_are_current() -> None:
    text = document_text()
    assert DOCUMENT_PATH.read_text() == text, "run: python -m api.openapi"
    assert MARKDOWN_PATH.read_text() == render_markdown(json.loads(text))


def test_document_shape() -> None:
    doc = json.loads(DOCUMENT_PATH.read_text())
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
    post = doc["paths"]["/portfolios"]["post"]
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[-1]
    create = doc["components"]["schemas"][name]
    assert create["additionalProperties"] is False  # unknown fields are refused
    assert set(create["required"]) == {"name", "assets"}
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
        parse_model(PortfolioCreate, {"name": "x", "assets": assets})
    assert fragment in " ".join(caught.value.details)


def test_portfolio_accepts_weights_within_tolerance_and_keeps_names_verbatim() -> None:
    name = "<script>alert(1)</script> Ünïcödé"
    model = parse_model(
        PortfolioCreate, {"name": name, "assets": {"AAPL": 0.3333333, "MSFT": 0.6666667}}
    )
    assert model.name == name


def test_run_requests_need_exactly_one_source() -> None:
    with pytest.raises(ValidationError):
        parse_model(RiskParityRequest, {})
    with pytest.raises(ValidationError):
        parse_model(
            RiskParityRequest, {"portfolioId": "p-1", "returns": {"A": [0.1, 0.2], "B": [0.1, 0]}}
        )
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
