"""Fault injection for the local stack: chosen AWS calls fail the way AWS makes them fail.

A :class:`FaultInjector` holds :class:`FaultRule` s (service, operation, an optional
predicate over the call's parameters, a kind, how many times). While it is active, every
botocore client in the process is covered: the handlers' cached clients
(:func:`core.aws.client`), awswrangler's, the test's own. Faults are injected at
botocore's ``before-send`` event, i.e. *instead of* the HTTP request, so what follows is
exactly what follows in AWS: botocore parses the error response and its own retry policy
(standard mode: exponential backoff with jitter) decides whether to try again.

Kinds
-----
``throttle``
    The service's throttling answer: S3 ``503 SlowDown``, DynamoDB ``400
    ProvisionedThroughputExceededException``, EventBridge ``400 ThrottlingException``.
``server_error``
    ``500 InternalError`` / ``InternalServerError`` / ``InternalException``.
``timeout``
    ``ReadTimeoutError``: the request may or may not have been applied; nothing answered.
``rejected_entries``
    EventBridge ``PutEvents`` answers 200 with every entry refused (``FailedEntryCount``),
    which botocore does not retry: the caller must look at the entries.
``crash``
    The call *succeeds*, then the process "dies": :class:`InjectedCrash` is raised. It
    derives from ``BaseException`` so that ``except Exception`` blocks (clean-up, error
    mapping, Powertools' idempotency record removal) do not run, as after a real crash.

``times`` counts HTTP attempts for the error kinds (botocore makes up to 5 per call: 4
or fewer faults are absorbed by botocore's retries; ``None`` fails every attempt) and
calls for ``crash``. ``skip`` lets that many matching attempts through first.

Example::

    with FaultInjector([FaultRule("s3", "PutObject", "throttle", times=3)]) as faults:
        ...
    assert faults.injected
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.client import BaseClient
from botocore.exceptions import ReadTimeoutError

__all__ = [
    "FaultInjector",
    "FaultKind",
    "FaultRule",
    "InjectedCrash",
    "InjectedFault",
    "inject",
    "key_prefix",
    "table_named",
]

FaultKind = Literal["throttle", "server_error", "timeout", "rejected_entries", "crash"]
_HOOK_ID = "stratigos-fault-injector"


class InjectedCrash(BaseException):
    """The process "died" right after a call succeeded (see the module docstring)."""


def key_prefix(prefix: str) -> Callable[[Mapping[str, Any]], bool]:
    """Predicate: an S3 call whose ``Key`` starts with ``prefix``."""
    return lambda params: str(params.get("Key", "")).startswith(prefix)


def table_named(table: str) -> Callable[[Mapping[str, Any]], bool]:
    """Predicate: a DynamoDB call on ``table``."""
    return lambda params: params.get("TableName") == table


@dataclass
class FaultRule:
    """Which calls fail, how, and how often.

    Parameters
    ----------
    service : str
        botocore service name: ``s3``, ``dynamodb``, ``events``, …
    operation : str
        Operation name as in the API reference: ``PutObject``, ``PutItem``, ``PutEvents``.
    kind : FaultKind
        See the module docstring.
    times : int or None
        How many matching attempts (calls for ``crash``) fail; None: all of them.
    skip : int
        Matching attempts (calls for ``crash``) let through before the first fault.
    match : callable, optional
        Predicate over the call's parameters (``Bucket``, ``Key``, ``TableName``, …).
    """

    service: str
    operation: str
    kind: FaultKind
    times: int | None = 1
    skip: int = 0
    match: Callable[[Mapping[str, Any]], bool] | None = None
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def applies(self, service: str, operation: str, params: Mapping[str, Any]) -> bool:
        if (service, operation) != (self.service, self.operation):
            return False
        return self.match is None or bool(self.match(params))

    def take(self) -> bool:
        """Count one matching attempt; True when this one must fail."""
        self.seen += 1
        if self.seen <= self.skip or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass(frozen=True)
class InjectedFault:
    """One injected fault, as recorded by the injector."""

    service: str
    operation: str
    kind: FaultKind
    target: str  # bucket/key or table, for the record


@dataclass
class _Call:
    service: str
    operation: str
    params: Mapping[str, Any]


_local = threading.local()
_lock = threading.Lock()
_active: list[FaultInjector] = []
_original_make_api_call: Callable[..., Any] | None = None


def _target(params: Mapping[str, Any]) -> str:
    if "Bucket" in params:
        return f"{params['Bucket']}/{params.get('Key', '')}"
    return str(params.get("TableName") or params.get("Entries", [{}])[0].get("DetailType", ""))


class FaultInjector:
    """Makes the calls its rules name fail while active (a context manager).

    Parameters
    ----------
    rules : sequence of FaultRule
        Checked in order; the first rule that applies and still has faults to give wins.
    """

    def __init__(self, rules: Sequence[FaultRule]) -> None:
        self.rules = list(rules)
        self.injected: list[InjectedFault] = []
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> Self:
        _install()
        with _lock:
            _active.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _lock:
            if self in _active:
                _active.remove(self)

    @property
    def exhausted(self) -> bool:
        """Every rule with a bounded ``times`` has given all its faults."""
        return all(rule.exhausted for rule in self.rules if rule.times is not None)

    def count(self, kind: FaultKind | None = None) -> int:
        """How many faults were injected (of ``kind``)."""
        with self._lock:
            return sum(1 for fault in self.injected if kind in (None, fault.kind))

    # ---------------------------------------------------------------- decisions
    def _pick(self, call: _Call, crash: bool) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if (rule.kind == "crash") != crash:
                    continue
                if rule.applies(call.service, call.operation, call.params) and rule.take():
                    self.injected.append(
                        InjectedFault(call.service, call.operation, rule.kind, _target(call.params))
                    )
                    return rule
        return None


def _pick(call: _Call, crash: bool) -> FaultRule | None:
    with _lock:
        injectors = list(_active)
    for injector in injectors:
        rule = injector._pick(call, crash)
        if rule is not None:
            return rule
    return None


# ---------------------------------------------------------------- error answers
_S3_ERRORS = {
    "throttle": (503, "SlowDown", "Please reduce your request rate."),
    "server_error": (500, "InternalError", "We encountered an internal error. Please try again."),
}
_JSON_ERRORS = {
    "dynamodb": {
        "throttle": (
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        "server_error": (
            500,
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "Internal server error",
        ),
    },
    "default": {
        "throttle": (400, "ThrottlingException", "Rate exceeded"),
        "server_error": (500, "InternalException", "Internal service error."),
    },
}


class _Body:
    """The ``raw`` of an AWSResponse: what botocore reads the body from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _response(url: str, status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
    request_id = uuid.uuid4().hex.upper()[:16]
    headers = {
        **headers,
        "x-amz-request-id": request_id,
        "x-amzn-RequestId": request_id,
        "Content-Length": str(len(body)),
    }
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSResponse(url, status, http_headers, _Body(body))


def _error_response(rule: FaultRule, call: _Call, request: Any) -> AWSResponse:
    if call.service == "s3":
        status, code, message = _S3_ERRORS[rule.kind]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>INJECTED</RequestId></Error>"
        ).encode()
        return _response(request.url, status, {"Content-Type": "application/xml"}, body)
    if rule.kind == "rejected_entries":
        entries = json.loads(request.body or b"{}").get("Entries", [])
        payload = {
            "FailedEntryCount": len(entries),
            "Entries": [
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
                for _ in entries
            ],
        }
        return _response(
            request.url,
            200,
            {"Content-Type": "application/x-amz-json-1.1"},
            json.dumps(payload).encode(),
        )
    errors = _JSON_ERRORS.get(call.service, _JSON_ERRORS["default"])
    status, code, message = errors[rule.kind]
    content_type = (
        "application/x-amz-json-1.0" if call.service == "dynamodb" else "application/x-amz-json-1.1"
    )
    body = json.dumps({"__type": code, "message": message}).encode()
    return _response(request.url, status, {"Content-Type": content_type}, body)


# ---------------------------------------------------------------- botocore wiring
def _before_send(request: Any, **_: Any) -> AWSResponse | None:
    """``before-send`` hook: answer in AWS's place when a rule says so."""
    call: _Call | None = getattr(_local, "call", None)
    if call is None:
        return None
    rule = _pick(call, crash=False)
    if rule is None:
        return None
    if rule.kind == "timeout":
        # Raised from before-send, botocore treats it like a socket read timeout: retryable.
        raise ReadTimeoutError(endpoint_url=request.url)
    return _error_response(rule, call, request)


def _install() -> None:
    """Wrap ``BaseClient._make_api_call`` once per process (idempotent)."""
    global _original_make_api_call  # noqa: PLW0603 - one process-wide patch
    with _lock:
        if _original_make_api_call is not None:
            return
        original = BaseClient._make_api_call  # type: ignore[attr-defined]
        _original_make_api_call = original

        @functools.wraps(original)
        def _make_api_call(self: BaseClient, operation_name: str, api_params: Any) -> Any:
            if not _active:
                return original(self, operation_name, api_params)
            # Every client, however old, gets the hook once (unique_id de-duplicates).
            self.meta.events.register(
                "before-send",
                _before_send,  # type: ignore[arg-type]
                unique_id=_HOOK_ID,
            )
            call = _Call(self.meta.service_model.service_name, operation_name, api_params)
            outer = getattr(_local, "call", None)
            _local.call = call
            try:
                answer = original(self, operation_name, api_params)
            finally:
                _local.call = outer
            if _pick(call, crash=True) is not None:
                raise InjectedCrash(f"crashed after {call.service}.{operation_name} succeeded")
            return answer

        BaseClient._make_api_call = _make_api_call  # type: ignore[attr-defined]


@contextmanager
def inject(*rules: FaultRule) -> Iterator[FaultInjector]:
    """``with inject(FaultRule(...)) as faults:`` — shorthand for :class:`FaultInjector`."""
    with FaultInjector(rules) as injector:
        yield injector
