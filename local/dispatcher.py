"""EventBridge → Lambda, locally: each rule's SQS target is read and its handler called.

moto matches every rule's pattern itself and drops matching events into the rule's queue
(see :mod:`local.provision`). The dispatcher hands each event to the rule's function
through the local runtime, events side by side, the way Lambda's asynchronous invocation
does: on an error it retries ``EventInvokeConfig.MaximumRetryAttempts`` times with
exponential backoff and jitter, then sends Lambda's own "destination record" to the
``OnFailure`` destination.

It also papers over the known moto gaps so handlers can be written against AWS's shapes:
S3 events spell ``eTag`` (AWS: ``etag``), reuse one constant event id, and one constant
``sequencer``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from core.aws import client as aws_client
from local._activity import ACTIVITY_LOGGER_NAME, event_trigger, log_dead_letter, log_invocation
from local.lambda_runtime import Invocation, LambdaRuntime
from local.provision import ProvisionedStack, rule_queue_name
from stack import FunctionSpec, RuleSpec, Template

__all__ = [
    "EventDispatcher",
    "adapt_event",
    "destination_record",
    "find_schedule",
    "fire_schedule",
    "scheduled_event",
]

# The longest a quiet queue waits between reads while other events are being delivered.
_MAX_BACKOFF_S = 0.5
# moto's S3→EventBridge events all carry this id and this sequencer.
_MOTO_CONSTANT_EVENT_ID = "17793124-05d4-b198-2fde-7ededc63b103"
_MOTO_CONSTANT_SEQUENCER = "617f08299329d189"
_sequencer_lock = threading.Lock()
_last_sequencer = 0


def _next_sequencer() -> str:
    global _last_sequencer  # noqa: PLW0603 - a process-wide monotonic counter
    with _sequencer_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns())
        return f"{_last_sequencer:020X}"


def adapt_event(event: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    """Make a moto-delivered EventBridge event look like AWS's."""
    if event.get("source") == "aws.s3":
        obj = event.get("detail", {}).get("object", {})
        if "eTag" in obj and "etag" not in obj:
            obj["etag"] = obj.pop("eTag")
        if obj.get("sequencer") == _MOTO_CONSTANT_SEQUENCER:
            obj["sequencer"] = _next_sequencer()
        if obj.get("version-id") is None:
            obj.pop("version-id", None)
        if event.get("id") == _MOTO_CONSTANT_EVENT_ID:
            event["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, delivery_id))
    return event


def scheduled_event(template: Template, rule: RuleSpec) -> dict[str, Any]:
    """The event EventBridge sends when a schedule fires."""
    ctx = template.context
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ctx.account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": ctx.region,
        "resources": [
            f"arn:{ctx.partition}:events:{ctx.region}:{ctx.account_id}:rule/"
            f"{ctx.stack_name}-{rule.rule_name}"
        ],
        "detail": {},
    }


def destination_record(
    spec: FunctionSpec, template: Template, event: Any, last: Invocation
) -> dict[str, Any]:
    """Lambda's OnFailure destination record for an async invocation that ran out of retries."""
    ctx = template.context
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": (
                f"arn:{ctx.partition}:lambda:{ctx.region}:{ctx.account_id}:function:"
                f"{ctx.stack_name}-{spec.logical_id}:$LATEST"
            ),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": last.attempt,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": last.error,
            "errorType": last.error_type,
            "stackTrace": last.stack,
        },
    }


@dataclass(frozen=True)
class _Subscription:
    rule: RuleSpec
    function: FunctionSpec
    queue_url: str


class EventDispatcher:
    """Reads every rule's queue and invokes its function, with Lambda's async semantics.

    Parameters
    ----------
    template : Template
        The resolved template (rules, functions, destinations).
    runtime : LambdaRuntime
        Runs the handlers (its concurrency bounds each rule's deliveries) and records each call.
    provisioned : ProvisionedStack
        The rule queues and dead-letter queues provisioning created.
    session : boto3 Session, optional
        Points at the local moto server.
    retry_base_delay_s : float
        First backoff delay (Lambda waits a minute; locally a fraction of a second).
    """

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        provisioned: ProvisionedStack,
        session: boto3.session.Session | None = None,
        retry_base_delay_s: float = 0.05,
    ) -> None:
        self.template = template
        self.runtime = runtime
        self.provisioned = provisioned
        self.retry_base_delay_s = retry_base_delay_s
        self._sqs = aws_client("sqs", session)
        functions = {spec.logical_id: spec for spec in template.functions()}
        self.subscriptions = [
            _Subscription(rule, functions[rule.function], provisioned.rule_queues[rule.rule_name])
            for rule in template.rules()
        ]
        self.dead_lettered: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pass_no = 0
        self._idle_streak = 0
        self._wake = threading.Event()
        self._in_flight = dict.fromkeys((sub.rule.rule_name for sub in self.subscriptions), 0)
        self._due = dict.fromkeys(self._in_flight, 0.0)  # when a quiet queue is read next
        self._empty = dict.fromkeys(self._in_flight, 0)  # passes that found it empty in a row
        capacity = sum(runtime.concurrency(sub.function.logical_id) for sub in self.subscriptions)
        self._pool = ThreadPoolExecutor(max(1, capacity), thread_name_prefix="delivery")
        # Retry jitter, not security.
        self._rng = random.Random()  # nosec B311

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="event-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        # Deliveries under way end first: their messages are deleted, not redelivered.
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                self._pass_no += 1
                busy_before = sum(self._in_flight.values())
            # With nothing delivering, every queue is read (an idle pass must see them all);
            # otherwise the queues that were empty lately wait their turn.
            handled = self.poll_once(every_queue=busy_before == 0)
            with self._cond:
                # A pass is idle when nothing was delivering as it began and it found
                # nothing: whatever a finished delivery put on the bus was in a queue by then.
                idle = not handled and busy_before == 0 and not any(self._in_flight.values())
                self._idle_streak = self._idle_streak + 1 if idle else 0
                self._cond.notify_all()
            if not handled:
                self._wake.wait(0.05)
                self._wake.clear()

    def wait_idle(self, timeout_s: float = 120.0) -> None:
        """Block until every event put before this call has been handled (chains included).

        Idle means two consecutive polling passes, both started after this call, found
        nothing and no delivery under way: any message already in a queue when we were
        called, or put there by a delivery that was running, is seen by them.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            start = self._pass_no
            while not (self._pass_no >= start + 2 and self._idle_streak >= 2):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"event chain still busy after {timeout_s:.0f} s")
                self._cond.wait(remaining)

    # ---------------------------------------------------------------- work
    def poll_once(self, every_queue: bool = True) -> int:
        """One pass over the rule queues; returns how many events it handed out.

        Each event is delivered on a thread of its own, as Lambda's asynchronous
        invocation runs events concurrently; a rule takes no more events from its queue
        than its function has environments, so none waits past its visibility timeout.
        Unless ``every_queue``, a queue found empty lately is skipped until its backoff
        (10 ms doubling to 500 ms) has passed: while a burst runs, every finished delivery
        starts a pass, and reading a dozen quiet queues each time was most of the
        dispatcher's work.
        """
        handed = 0
        now = time.monotonic()
        for sub in self.subscriptions:
            name = sub.rule.rule_name
            with self._cond:
                free = self.runtime.concurrency(sub.function.logical_id) - self._in_flight[name]
            if free <= 0 or (not every_queue and now < self._due[name]):
                continue
            messages = self._sqs.receive_message(
                QueueUrl=sub.queue_url,
                MaxNumberOfMessages=min(10, free),
                WaitTimeSeconds=0,
                VisibilityTimeout=self._visibility_timeout(sub.function),
            ).get("Messages", [])
            self._empty[name] = 0 if messages else self._empty[name] + 1
            quiet = min(_MAX_BACKOFF_S, 0.01 * 2 ** min(self._empty[name], 6))
            self._due[name] = now + (0.0 if messages else quiet)
            for message in messages:
                with self._cond:
                    self._in_flight[name] += 1
                self._pool.submit(self._handle, sub, message)
                handed += 1
        return handed

    def _visibility_timeout(self, spec: FunctionSpec) -> int:
        # Every attempt may take the function's timeout; the backoff adds little.
        attempts = 1 + spec.async_retry_attempts
        return min(43200, max(30, attempts * spec.timeout_s + 30))

    def _handle(self, sub: _Subscription, message: dict[str, Any]) -> None:
        try:
            event = adapt_event(json.loads(message["Body"]), message["MessageId"])
            self._deliver(sub, event)
            self._sqs.delete_message(QueueUrl=sub.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception:
            # Not the handler's failure (the runtime records those): the queue itself. The
            # message is not deleted, so SQS hands it out again after its visibility timeout.
            logging.getLogger(ACTIVITY_LOGGER_NAME).exception(
                "delivering %s to %s failed; it will be redelivered",
                message.get("MessageId"),
                sub.function.logical_id,
            )
        finally:
            with self._cond:
                self._in_flight[sub.rule.rule_name] -= 1
                self._cond.notify_all()
            self._wake.set()

    def _deliver(self, sub: _Subscription, event: dict[str, Any]) -> Invocation:
        spec = sub.function
        attempts = 1 + spec.async_retry_attempts
        trigger = f"{sub.rule.kind}:{sub.rule.rule_name}"
        schedule = sub.rule.event if sub.rule.kind == "Schedule" else None
        described = event_trigger(event, schedule)
        last: Invocation | None = None
        for attempt in range(1, attempts + 1):
            last = self.runtime.invoke(spec.logical_id, event, trigger=trigger, attempt=attempt)
            log_invocation(last, described, attempts=attempts)
            if last.ok:
                return last
            if attempt < attempts:
                delay = self.retry_base_delay_s * 2 ** (attempt - 1)
                time.sleep(delay * (0.5 + self._rng.random()))  # full jitter around the step
        assert last is not None
        self._dead_letter(spec, event, last)
        log_dead_letter(last, described, event)
        return last

    def _dead_letter(self, spec: FunctionSpec, event: dict[str, Any], last: Invocation) -> None:
        record = destination_record(spec, self.template, event, last)
        self.dead_lettered.append(record)
        url = self.provisioned.dead_letter_queues.get(spec.on_failure_arn or "")
        if url:
            self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))

    def send_scheduled(self, name: str) -> dict[str, Any]:
        """Fire a schedule now (``stratigos local tick NAME``)."""
        return fire_schedule(self.template, name, sqs=self._sqs)


def find_schedule(rules: Iterable[RuleSpec], name: str) -> RuleSpec:
    """The schedule called ``name``: its event name (``Nightly``) or rule name, any case.

    An exact spelling wins; otherwise the one schedule equal to ``name`` ignoring case.

    Raises
    ------
    KeyError
        No schedule has that name (the message lists the template's schedules), or
        several do when case is ignored (the message lists them).
    """
    schedules = [rule for rule in rules if rule.kind == "Schedule"]
    exact = [rule for rule in schedules if name in (rule.event, rule.rule_name)]
    if len(exact) == 1:
        return exact[0]
    wanted = name.casefold()
    matches = [
        rule for rule in schedules if wanted in (rule.event.casefold(), rule.rule_name.casefold())
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(sorted(rule.event for rule in matches))
        raise KeyError(f"schedule name {name!r} is ambiguous: it matches {listed}")
    listed = ", ".join(sorted(rule.event for rule in schedules)) or "none"
    raise KeyError(f"no schedule named {name!r}; the template's schedules: {listed}")


def fire_schedule(
    template: Template,
    name: str,
    session: boto3.session.Session | None = None,
    sqs: Any | None = None,
) -> dict[str, Any]:
    """Put a schedule's "Scheduled Event" in its target queue (NAME: see find_schedule)."""
    rule = find_schedule(template.rules(), name)
    client = sqs or aws_client("sqs", session)
    queue = rule_queue_name(template.context.stack_name, rule)
    url = client.get_queue_url(QueueName=queue)["QueueUrl"]
    event = scheduled_event(template, rule)
    client.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    return event
