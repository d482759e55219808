"""``stratigos replay``: put what ended in the dead-letter queue back to the function that failed.

Two kinds of message land in the template's ``DeadLetterQueue``:

* Lambda's ``OnFailure`` destination record, when an asynchronous invocation ran out of
  retries: ``requestContext.functionArn``/``condition``, the event as ``requestPayload``,
  the cause as ``responsePayload.errorType``/``errorMessage``;
* EventBridge's rule dead letter, when an event could not be delivered to its target at
  all: the event itself as the body, the cause and target in message attributes
  (``ERROR_CODE``, ``ERROR_MESSAGE``, ``TARGET_ARN``, ``RULE_ARN``).

:func:`replay` reads them, and hands each event back through a :class:`ReplayTarget`:
:class:`LambdaReplayTarget` invokes the deployed function asynchronously (as EventBridge
would), :class:`LocalReplayTarget` puts the event into the local stack's rule queue, where
the dispatcher delivers it again with Lambda's retry semantics. A message is deleted only
after it was handed back; anything unreadable or not selected stays in the queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from local.provision import rule_queue_name
from stack import RuleSpec, Template

__all__ = [
    "DeadLetter",
    "LambdaReplayTarget",
    "LocalReplayTarget",
    "ReplayOutcome",
    "ReplayReport",
    "ReplayTarget",
    "dead_letter_queue_url",
    "parse_dead_letter",
    "replay",
]

DeadLetterSource = Literal["lambda-destination", "eventbridge-rule"]


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered event: what failed, why, and the event to hand back."""

    message_id: str
    receipt_handle: str
    source: DeadLetterSource
    function_arn: str
    condition: str
    error_type: str | None
    error_message: str | None
    payload: Any
    timestamp: str | None = None
    attempts: int | None = None

    @property
    def function_name(self) -> str:
        """The function's name (the ARN's ``function:NAME[:qualifier]`` part)."""
        _, _, rest = self.function_arn.partition(":function:")
        return rest.split(":", 1)[0]

    def is_for(self, function: str) -> bool:
        """True when ``function`` names this letter's function (full name or logical id)."""
        name = self.function_name
        return (
            function in (name, self.function_arn)
            or name.endswith(f"-{function}")
            or (f"-{function}-" in name)
        )

    @property
    def cause(self) -> str:
        if self.error_type and self.error_message:
            return f"{self.error_type}: {self.error_message}"
        return self.error_type or self.error_message or self.condition


def _attribute(attributes: dict[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    if isinstance(value, dict):
        return value.get("StringValue")
    return None


def parse_dead_letter(message: dict[str, Any]) -> DeadLetter:
    """A DeadLetter from an SQS message (as ``ReceiveMessage`` returns it).

    Raises
    ------
    ValueError
        The body is neither a Lambda destination record nor a dead-lettered event.
    """
    try:
        body = json.loads(message.get("Body") or "")
    except json.JSONDecodeError as error:
        raise ValueError(f"message {message.get('MessageId')} is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise ValueError(f"message {message.get('MessageId')} is not a JSON object")
    common = {
        "message_id": str(message.get("MessageId", "")),
        "receipt_handle": str(message.get("ReceiptHandle", "")),
    }
    context = body.get("requestContext")
    if isinstance(context, dict) and "requestPayload" in body:
        response = body.get("responsePayload")
        response = response if isinstance(response, dict) else {}
        arn = context.get("functionArn")
        if not isinstance(arn, str) or ":function:" not in arn:
            raise ValueError(f"message {common['message_id']}: no requestContext.functionArn")
        return DeadLetter(
            **common,
            source="lambda-destination",
            function_arn=arn,
            condition=str(context.get("condition", "")),
            error_type=response.get("errorType"),
            error_message=response.get("errorMessage"),
            payload=body["requestPayload"],
            timestamp=body.get("timestamp"),
            attempts=context.get("approximateInvokeCount"),
        )
    attributes = message.get("MessageAttributes") or {}
    target = _attribute(attributes, "TARGET_ARN")
    if target and ":function:" in target and "detail-type" in body:
        return DeadLetter(
            **common,
            source="eventbridge-rule",
            function_arn=target,
            condition=_attribute(attributes, "ERROR_CODE") or "DeliveryFailed",
            error_type=_attribute(attributes, "ERROR_CODE"),
            error_message=_attribute(attributes, "ERROR_MESSAGE"),
            payload=body,
            timestamp=body.get("time"),
            attempts=None,
        )
    raise ValueError(
        f"message {common['message_id']} is neither a Lambda destination record nor an "
        "EventBridge dead letter for a function"
    )


class ReplayTarget(Protocol):
    """Hands a dead-lettered event back to its function; returns where it went."""

    def submit(self, letter: DeadLetter) -> str: ...


class LambdaReplayTarget:
    """A deployed stack: invoke the function asynchronously with the original event.

    The invocation gets Lambda's retries and ``OnFailure`` destination again, so an event
    that still fails comes back to the queue with its new cause.
    """

    def __init__(self, lambda_client: Any) -> None:
        self._lambda = lambda_client

    def submit(self, letter: DeadLetter) -> str:
        answer = self._lambda.invoke(
            FunctionName=letter.function_arn,
            InvocationType="Event",
            Payload=json.dumps(letter.payload).encode(),
        )
        status = int(answer.get("StatusCode", 0))
        if status != 202:
            raise RuntimeError(f"Lambda answered {status} to the asynchronous invoke")
        return f"invoked {letter.function_name} (async)"


def _local_bus_accepts(pattern: dict[str, Any] | None, event: dict[str, Any]) -> bool:
    """Whether the local stack's EventBridge delivers ``event`` by a rule with ``pattern``.

    Asked of the matcher that routes every event of the local bus: moto's own
    ``EventPattern``, with EventBridge's whole pattern language (nested ``detail``,
    ``prefix``, ``anything-but``, …). EventBridge's ``TestEventPattern`` API would be the
    same question, but moto (5.2.5) answers it 200 with no ``Result``. A rule without a
    pattern (a schedule) accepts nothing here.
    """
    if not pattern:
        return False
    from moto.events.models import EventPattern  # the local stack's EventBridge

    message: Any = event  # moto types it as its own TypedDict of an event
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(message))


class LocalReplayTarget:
    """The local stack: put the event into its rule's queue; the dispatcher delivers it."""

    def __init__(self, template: Template, sqs: Any) -> None:
        self.template = template
        self._sqs = sqs
        stack = template.context.stack_name
        self._functions = {f"{stack}-{spec.logical_id}": spec for spec in template.functions()}

    def rule_for(self, letter: DeadLetter) -> RuleSpec:
        """The rule that delivered (or would deliver) this event to this function."""
        spec = self._functions.get(letter.function_name)
        if spec is None:
            raise LookupError(f"the local stack has no function {letter.function_name!r}")
        event = letter.payload if isinstance(letter.payload, dict) else {}
        rules = [rule for rule in self.template.rules() if rule.function == spec.logical_id]
        if event.get("detail-type") == "Scheduled Event":
            chosen = [rule for rule in rules if rule.kind == "Schedule"]
        else:
            chosen = [rule for rule in rules if _local_bus_accepts(rule.pattern, event)]
        if not chosen:
            raise LookupError(f"no rule of {spec.logical_id} accepts this event")
        return chosen[0]

    def submit(self, letter: DeadLetter) -> str:
        rule = self.rule_for(letter)
        name = rule_queue_name(self.template.context.stack_name, rule)
        url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(letter.payload))
        return f"queued to {rule.rule_name}"


def dead_letter_queue_url(template: Template, sqs: Any) -> str:
    """URL of the template's ``DeadLetterQueue`` (the functions' ``OnFailure`` queue)."""
    queues = template.resources_of("AWS::SQS::Queue")
    props = queues.get("DeadLetterQueue")
    if props is None:
        raise LookupError("template.yaml declares no DeadLetterQueue")
    return str(sqs.get_queue_url(QueueName=props["QueueName"])["QueueUrl"])


ReplayAction = Literal["replayed", "listed", "skipped", "unreadable", "failed"]


@dataclass(frozen=True)
class ReplayOutcome:
    """What happened to one message."""

    message_id: str
    action: ReplayAction
    letter: DeadLetter | None
    detail: str


@dataclass
class ReplayReport:
    """Every message looked at, in order."""

    outcomes: list[ReplayOutcome] = field(default_factory=list)

    def count(self, action: ReplayAction) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)

    @property
    def replayed(self) -> list[DeadLetter]:
        return [o.letter for o in self.outcomes if o.action == "replayed" and o.letter]


def replay(
    sqs: Any,
    queue_url: str,
    target: ReplayTarget,
    *,
    dry_run: bool = False,
    function: str | None = None,
    max_messages: int | None = None,
    select: Callable[[DeadLetter], bool] | None = None,
) -> ReplayReport:
    """Read the dead-letter queue and hand each selected event back to its function.

    Parameters
    ----------
    sqs
        An SQS client for the queue.
    queue_url
        The dead-letter queue.
    target
        Where events go back to (:class:`LambdaReplayTarget`, :class:`LocalReplayTarget`).
    dry_run
        List only: nothing is re-submitted or deleted.
    function
        Only letters of this function (full name or logical id, e.g. ``IngestFunction``).
    max_messages
        Hand back (or list) at most this many.
    select
        A further filter (tests use it to pick their own letters).

    Returns
    -------
    ReplayReport
        One outcome per message seen. Messages not handed back are made visible again.
    """
    report = ReplayReport()
    seen: set[str] = set()
    release: list[str] = []  # receipt handles to make visible again at the end
    taken = 0
    try:
        while max_messages is None or taken < max_messages:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=120,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                release += [m["ReceiptHandle"] for m in messages]
                break
            for message in fresh:
                seen.add(message["MessageId"])
                outcome = _handle(
                    message,
                    target,
                    dry_run=dry_run,
                    function=function,
                    select=select,
                    max_messages=max_messages,
                    taken=taken,
                )
                report.outcomes.append(outcome)
                if outcome.action in ("replayed", "listed"):
                    taken += 1
                if outcome.action == "replayed":
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    release.append(message["ReceiptHandle"])
    finally:
        for handle in release:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
    return report


def _handle(
    message: dict[str, Any],
    target: ReplayTarget,
    *,
    dry_run: bool,
    function: str | None,
    select: Callable[[DeadLetter], bool] | None,
    max_messages: int | None,
    taken: int,
) -> ReplayOutcome:
    message_id = str(message["MessageId"])
    try:
        letter = parse_dead_letter(message)
    except ValueError as error:
        return ReplayOutcome(message_id, "unreadable", None, str(error))
    wanted = (function is None or letter.is_for(function)) and (select is None or select(letter))
    if not wanted or (max_messages is not None and taken >= max_messages):
        return ReplayOutcome(message_id, "skipped", letter, "not selected")
    if dry_run:
        return ReplayOutcome(message_id, "listed", letter, letter.cause)
    try:
        where = target.submit(letter)
    except Exception as error:  # the message stays in the queue; report why
        return ReplayOutcome(message_id, "failed", letter, f"{type(error).__name__}: {error}")
    return ReplayOutcome(message_id, "replayed", letter, where)
