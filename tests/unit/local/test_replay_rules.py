"""Which rule a replayed event goes back through (local.replay.LocalReplayTarget.rule_for).

The local bus's own matcher decides (moto's, which routes every event of the local stack),
with the template's whole pattern: source, detail-type and the ``detail`` filters.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from local.replay import DeadLetter, LocalReplayTarget
from stack import Template

EventLoader = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="module")
def target() -> LocalReplayTarget:
    # rule_for reads the template only; the queue client is for submit.
    return LocalReplayTarget(Template.load(), sqs=None)


def _letter(function: str, payload: Any) -> DeadLetter:
    return DeadLetter(
        message_id="m-1",
        receipt_handle="r-1",
        source="lambda-destination",
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:stratigos-local-{function}",
        condition="RetriesExhausted",
        error_type="ClientError",
        error_message="boom",
        payload=payload,
    )


def test_a_landed_price_file_goes_back_through_the_raw_prices_rule(
    target: LocalReplayTarget, load_event: EventLoader
) -> None:
    rule = target.rule_for(_letter("IngestFunction", load_event("s3_object_created_moto")))
    assert (rule.function, rule.kind) == ("IngestFunction", "EventBridgeRule")
    assert rule.pattern is not None
    assert rule.pattern["detail"]["object"]["key"] == [{"prefix": "raw/prices/"}]


@pytest.mark.parametrize(
    ("where", "value"),
    [(("object", "key"), "curated/prices/a.csv"), (("bucket", "name"), "someone-elses-bucket")],
)
def test_an_event_the_rules_detail_filter_refuses_is_not_replayed(
    target: LocalReplayTarget, load_event: EventLoader, where: tuple[str, str], value: str
) -> None:
    # Same source and detail-type as the rule's: only the detail filter tells them apart.
    event = copy.deepcopy(load_event("s3_object_created_moto"))
    event["detail"][where[0]][where[1]] = value
    with pytest.raises(LookupError, match="no rule of IngestFunction accepts"):
        target.rule_for(_letter("IngestFunction", event))


def test_a_run_request_goes_back_through_the_workers_rule(
    target: LocalReplayTarget, load_event: EventLoader
) -> None:
    rule = target.rule_for(_letter("RunWorkerFunction", load_event("run_requested")))
    assert (rule.function, rule.kind) == ("RunWorkerFunction", "EventBridgeRule")


def test_the_fan_out_tells_its_schedule_from_its_market_data_rule(
    target: LocalReplayTarget, load_event: EventLoader
) -> None:
    nightly = target.rule_for(_letter("FanOutFunction", load_event("scheduled_event")))
    assert (nightly.kind, nightly.event) == ("Schedule", "Nightly")
    updated = {
        **load_event("run_requested"),
        "source": "stratigos.ingest",
        "detail-type": "MarketDataUpdated",
        "detail": {"tickers": ["AAA"], "dates": ["2023-03-01"]},
    }
    rule = target.rule_for(_letter("FanOutFunction", updated))
    assert (rule.function, rule.kind) == ("FanOutFunction", "EventBridgeRule")
    with pytest.raises(LookupError):
        target.rule_for(_letter("FanOutFunction", {**updated, "source": "stratigos.api"}))


def test_a_function_the_stack_does_not_have_is_refused(target: LocalReplayTarget) -> None:
    with pytest.raises(LookupError, match="no function"):
        target.rule_for(_letter("NoSuchFunction", {}))
