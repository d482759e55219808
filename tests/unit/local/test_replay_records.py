"""Parsing what lands in the dead-letter queue (local.replay.parse_dead_letter)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from local.replay import parse_dead_letter


def _message(body: Any, attributes: dict[str, str] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "MessageId": "0b7e5f1c-9d2a-4c3e-8f6b-1a2d3c4e5f60",
        "ReceiptHandle": "AQEB-receipt",
        "Body": body if isinstance(body, str) else json.dumps(body),
    }
    if attributes:
        message["MessageAttributes"] = {
            name: {"StringValue": value, "DataType": "String"} for name, value in attributes.items()
        }
    return message


def test_a_lambda_destination_record(load_event: Callable[[str], dict[str, Any]]) -> None:
    record = load_event("lambda_destination_record")
    letter = parse_dead_letter(_message(record))
    assert letter.source == "lambda-destination"
    assert letter.function_name == "stratigos-prod-RunWorkerFunction-Xk3PqL9aZ1bC"
    assert letter.is_for("RunWorkerFunction")
    assert letter.is_for("stratigos-prod-RunWorkerFunction-Xk3PqL9aZ1bC")
    assert not letter.is_for("RenderFunction")
    assert not letter.is_for("Run")
    assert letter.condition == "RetriesExhausted"
    assert letter.attempts == 3
    assert letter.error_type == "ClientError"
    assert letter.cause.startswith("ClientError: An error occurred (SlowDown)")
    assert letter.payload == record["requestPayload"]
    assert letter.receipt_handle == "AQEB-receipt"


def test_an_eventbridge_rule_dead_letter(load_event: Callable[[str], dict[str, Any]]) -> None:
    event = load_event("s3_object_created")
    target = "arn:aws:lambda:eu-west-1:123456789012:function:stratigos-prod-IngestFunction-9Qw"
    letter = parse_dead_letter(
        _message(
            event,
            {
                "RULE_ARN": "arn:aws:events:eu-west-1:123456789012:rule/stratigos-prod-raw",
                "TARGET_ARN": target,
                "ERROR_CODE": "SDK_CLIENT_ERROR",
                "ERROR_MESSAGE": "Rate exceeded",
            },
        )
    )
    assert letter.source == "eventbridge-rule"
    assert letter.function_arn == target
    assert letter.is_for("IngestFunction")
    assert letter.cause == "SDK_CLIENT_ERROR: Rate exceeded"
    assert letter.payload == event


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        {"hello": "world"},
        {"requestContext": {"functionArn": "arn:aws:sqs:x"}, "requestPayload": {}},
    ],
)
def test_anything_else_is_refused_with_a_reason(body: Any) -> None:
    with pytest.raises(ValueError, match="message 0b7e5f1c"):
        parse_dead_letter(_message(body))
