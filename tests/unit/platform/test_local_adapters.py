"""The local stack's adapters: moto's event gaps, Lambda's destination record, proxy events."""

from __future__ import annotations

import copy
from typing import Any

from core.envelope import error_body, error_response
from core.exceptions import ConflictError, PayloadTooLargeError
from local.apigateway import api_key_id, build_proxy_event
from local.dispatcher import adapt_event, destination_record
from local.lambda_runtime import Invocation
from stack import RouteSpec, Template


def test_moto_s3_event_is_made_aws_shaped(load_event: Any) -> None:
    aws = load_event("s3_object_created")
    moto = load_event("s3_object_created_moto")
    first = adapt_event(copy.deepcopy(moto), "message-1")
    second = adapt_event(copy.deepcopy(moto), "message-2")
    assert set(first["detail"]["object"]) == set(aws["detail"]["object"])
    assert first["detail"]["object"]["etag"] == moto["detail"]["object"]["eTag"]
    assert set(first) == set(aws)
    # moto reuses one id and one sequencer; AWS's are unique and ordered.
    assert first["id"] != second["id"]
    assert first["detail"]["object"]["sequencer"] < second["detail"]["object"]["sequencer"]


def test_aws_shaped_event_passes_unchanged(load_event: Any) -> None:
    aws = load_event("s3_object_created")
    aws["id"] = "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    assert adapt_event(copy.deepcopy(aws), "m") == aws


def test_destination_record_is_lambdas_shape(load_event: Any) -> None:
    template = Template.load()
    spec = template.function("RenderFunction")
    event = load_event("scheduled_event")
    failed = Invocation("RenderFunction", "rule", event, attempt=3, started_at=0.0)
    failed.error, failed.error_type = "boom", "RuntimeError"
    record = destination_record(spec, template, event, failed)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(
        ":function:stratigos-local-RenderFunction:$LATEST"
    )
    assert record["requestPayload"] == event
    assert record["responsePayload"]["errorMessage"] == "boom"
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_proxy_event_has_api_gateways_shape(load_event: Any) -> None:
    reference = load_event("apigw_rest_get_portfolio")
    route = RouteSpec("PortfoliosFunction", "GetPortfolio", "GET", "/portfolios/{id}", True)
    event = build_proxy_event(
        template=Template.load(),
        route=route,
        method="GET",
        raw_path="/portfolios/p-123456",
        query="limit=5&limit=6&q=",
        headers=[("Accept", "application/json"), ("x-api-key", "dev-key")],
        body=b"",
        source_ip="127.0.0.1",
        api_key="dev-key",
    )
    assert set(event) == set(reference)
    assert set(reference["requestContext"]) - {"principalOrgId"} <= set(event["requestContext"])
    assert set(reference["requestContext"]["identity"]) - {"principalOrgId"} <= set(
        event["requestContext"]["identity"]
    )
    assert event["pathParameters"] == {"id": "p-123456"}
    assert event["resource"] == "/portfolios/{id}"
    assert event["multiValueQueryStringParameters"] == {"limit": ["5", "6"], "q": [""]}
    assert event["queryStringParameters"] == {"limit": "6", "q": ""}
    assert event["requestContext"]["identity"]["apiKeyId"] == api_key_id("dev-key")
    assert event["requestContext"]["path"] == "/v1/portfolios/p-123456"
    assert event["body"] is None


def test_binary_body_is_base64(load_event: Any) -> None:
    route = RouteSpec("F", "E", "POST", "/portfolios", True)
    event = build_proxy_event(
        template=Template.load(),
        route=route,
        method="POST",
        raw_path="/portfolios",
        query="",
        headers=[],
        body=b"\xff\xfe",
        source_ip="127.0.0.1",
        api_key=None,
    )
    assert event["isBase64Encoded"] is True
    assert event["body"] == "//4="


def test_error_envelope() -> None:
    assert error_body("CONFLICT", "stale", ["version 3 != 4"]) == {
        "error": {"code": "CONFLICT", "message": "stale", "details": ["version 3 != 4"]}
    }
    response = error_response(ConflictError("stale version", ["expected 4"]))
    assert response["statusCode"] == 409
    assert response["headers"]["Content-Type"] == "application/json"
    assert PayloadTooLargeError("x").status == 413
