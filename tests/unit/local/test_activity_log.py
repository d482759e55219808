"""`stratigos local up` says what ran: one line per invocation and per dead letter.

The dispatcher and the API gateway are driven with a runtime that answers as told, so
the lines are checked without moto (the e2e test sees them on `local up`'s stderr).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import boto3
import pytest

from local._activity import ACTIVITY_LOGGER_NAME
from local.apigateway import LocalApiServer
from local.dispatcher import EventDispatcher, _Subscription
from local.lambda_runtime import Invocation
from local.provision import ProvisionedStack
from stack import Template


class _ScriptedRuntime:
    """Answers each invoke with the next of ``errors`` (None: success)."""

    def __init__(self, errors: list[str | None], result: Any = None) -> None:
        self.errors = list(errors)
        self.result = result

    def concurrency(self, function: str) -> int:
        return 1

    def invoke(self, function: str, event: Any, trigger: str, attempt: int = 1) -> Invocation:
        error = self.errors.pop(0)
        return Invocation(
            function=function,
            trigger=trigger,
            event=event,
            attempt=attempt,
            started_at=time.time(),
            duration_s=0.0123,
            result=None if error else self.result,
            error=error,
            error_type="RuntimeError" if error else None,
        )


@pytest.fixture
def template() -> Template:
    return Template.load()


def _dispatcher(template: Template, runtime: _ScriptedRuntime) -> EventDispatcher:
    provisioned = ProvisionedStack(
        rule_queues={rule.rule_name: f"queue-{rule.rule_name}" for rule in template.rules()},
        dead_letter_queues={},  # nothing is sent anywhere
    )
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return EventDispatcher(
        template,
        runtime,  # type: ignore[arg-type]
        provisioned,
        session,
        retry_base_delay_s=0.0,
    )


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == ACTIVITY_LOGGER_NAME]


def _subscription(dispatcher: EventDispatcher, function: str, kind: str) -> _Subscription:
    return next(
        s
        for s in dispatcher.subscriptions
        if s.function.logical_id == function and s.rule.kind == kind
    )


def test_retries_and_the_dead_letter_are_one_line_each(
    template: Template, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACTIVITY_LOGGER_NAME)
    dispatcher = _dispatcher(template, _ScriptedRuntime(["boom\nnext"] * 3))
    sub = _subscription(dispatcher, "RenderFunction", "EventBridgeRule")
    event = {"id": "ev-1", "detail-type": "RunCompleted", "source": "stratigos.compute"}
    dispatcher._deliver(sub, event)
    assert _lines(caplog) == [
        "RenderFunction <- RunCompleted: retry (attempt 1 of 3) RuntimeError: boom next 12 ms",
        "RenderFunction <- RunCompleted: retry (attempt 2 of 3) RuntimeError: boom next 12 ms",
        "RenderFunction <- RunCompleted: error (attempt 3 of 3) RuntimeError: boom next 12 ms",
        "dead letter: RenderFunction <- RunCompleted (event ev-1): RetriesExhausted after 3 "
        "attempts: RuntimeError: boom next",
    ]
    assert len(dispatcher.dead_lettered) == 1


def test_an_s3_event_names_its_key_and_a_schedule_its_name(
    template: Template, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACTIVITY_LOGGER_NAME)
    dispatcher = _dispatcher(template, _ScriptedRuntime([None, None]))
    landing = {
        "id": "ev-2",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"object": {"key": "raw/prices/a.csv"}},
    }
    dispatcher._deliver(_subscription(dispatcher, "IngestFunction", "EventBridgeRule"), landing)
    nightly = {"id": "ev-3", "detail-type": "Scheduled Event", "source": "aws.events"}
    dispatcher._deliver(_subscription(dispatcher, "FanOutFunction", "Schedule"), nightly)
    assert _lines(caplog) == [
        "IngestFunction <- Object Created raw/prices/a.csv: ok 12 ms",
        "FanOutFunction <- schedule Nightly: ok 12 ms",
    ]


def test_an_api_call_names_method_path_and_status(
    template: Template, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACTIVITY_LOGGER_NAME)
    runtime = _ScriptedRuntime([None, "kaput"], result={"statusCode": 201, "body": "{}"})
    api = LocalApiServer(template, runtime, {"dev-key": "demo"}, port=0)  # type: ignore[arg-type]
    try:
        headers = [("x-api-key", "dev-key")]
        assert api.handle("POST", "/portfolios?x=1", headers, b"{}", "127.0.0.1")[0] == 201
        assert api.handle("GET", "/portfolios", headers, b"", "127.0.0.1")[0] == 502
    finally:
        api.stop()
    assert _lines(caplog) == [
        "PortfoliosFunction <- api POST /portfolios: ok 201 12 ms",
        "PortfoliosFunction <- api GET /portfolios: error RuntimeError: kaput 12 ms",
    ]
