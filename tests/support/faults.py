"""Fault injection for the local stack: chosen AWS calls fail the way AWS makes them fail.

Test support (never shipped): the functional tests use it through the local stack.

A :class:`FaultInjector` holds :class:`FaultRule` s (service, operation, an optional
predicate over the call's parameters, a kind, how many times). While it is active, every
botocore client in the process is covered: the handlers' cached clients
(:func:`core.aws.client`), the local stack's, Powertools' idempotency client,
awswrangler's, the test's own (see :func:`install`). It works through botocore's public
event system only:

* ``before-parameter-build`` notes the call (service, operation, parameters) in the
  request's context, which botocore hands to every later event of that call;
* ``before-send`` answers *instead of* the HTTP request for the error kinds, so what
  follows is exactly what follows in AWS: botocore parses the error response and its own
  retry policy (standard mode: exponential backoff with jitter) decides whether to try
  again;
* ``after-call`` raises :class:`InjectedCrash` once a call has succeeded (``crash``).

Kinds
-----
``throttle``
    The service's throttling answer: S3 ``503 SlowDown``, DynamoDB ``400
    ProvisionedThroughputExceededException``, EventBridge ``400 ThrottlingException``.
``server_error``
    ``500 InternalError`` / ``InternalServerError`` / ``InternalException``.
``forbidden``
    ``403 AccessDenied`` (S3) / ``400 AccessDeniedException``: a policy refusing the call.
    Not retried by botocore; S3 callers must not take it for a missing object.
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

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.handlers import BUILTIN_HANDLERS

from core.aws import register_client_handler

__all__ = [
    "FaultInjector",
    "FaultKind",
    "FaultRule",
    "InjectedCrash",
    "InjectedFault",
    "inject",
    "install",
    "key_prefix",
    "table_named",
]

FaultKind = Literal["throttle", "server_error", "forbidden", "timeout", "rejected_entries", "crash"]
_HOOK_ID = "stratigos-fault-injector"
_CONTEXT_KEY = "stratigos_fault_call"  # where a call is noted in botocore's request context


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
    """One API call, noted in botocore's request context for the later events of the call.

    A client can carry the handlers twice (from its session and from
    :func:`core.aws.register_client_handler`): each decision is taken once per HTTP attempt
    (``decided``) and once per call for a crash (``finished``).
    """

    service: str
    operation: str
    params: Mapping[str, Any]
    decided: Any = None  # the HTTP attempt (botocore's prepared request) last decided
    finished: bool = False


_lock = threading.Lock()
_active: list[FaultInjector] = []
_installed = False


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
        install()
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
    "forbidden": (403, "AccessDenied", "Access Denied"),
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
        "forbidden": (
            400,
            "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
            "User is not authorized to perform this action.",
        ),
    },
    "default": {
        "throttle": (400, "ThrottlingException", "Rate exceeded"),
        "server_error": (500, "InternalException", "Internal service error."),
        "forbidden": (400, "AccessDeniedException", "Access denied."),
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
def _note_call(params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    """``before-parameter-build``: note the call in its request context (while active)."""
    if _active and _CONTEXT_KEY not in context:
        context[_CONTEXT_KEY] = _Call(model.service_model.service_name, model.name, params)


def _before_send(request: Any, **_: Any) -> AWSResponse | None:
    """``before-send`` (each HTTP attempt): answer in AWS's place when a rule says so."""
    call: _Call | None = (getattr(request, "context", None) or {}).get(_CONTEXT_KEY)
    if call is None or call.decided is request:
        return None
    call.decided = request
    rule = _pick(call, crash=False)
    if rule is None:
        return None
    if rule.kind == "timeout":
        # Raised from before-send, botocore treats it like a socket read timeout: retryable.
        raise ReadTimeoutError(endpoint_url=request.url)
    return _error_response(rule, call, request)


def _after_call(http_response: Any, context: dict[str, Any], **_: Any) -> None:
    """``after-call``: the call succeeded; "die" now when a crash rule says so."""
    call: _Call | None = context.get(_CONTEXT_KEY)
    if call is None or call.finished or http_response.status_code >= 300:
        return
    call.finished = True
    if _pick(call, crash=True) is not None:
        raise InjectedCrash(f"crashed after {call.service}.{call.operation} succeeded")


_HANDLERS: tuple[tuple[str, Callable[..., Any], str], ...] = (
    ("before-parameter-build", _note_call, f"{_HOOK_ID}-call"),
    ("before-send", _before_send, f"{_HOOK_ID}-send"),
    ("after-call", _after_call, f"{_HOOK_ID}-crash"),
)


def install() -> None:
    """Put the fault handlers on every botocore client of the process (idempotent).

    Two public ways, since no single one reaches every client:

    * :func:`core.aws.register_client_handler` - every client the platform makes, those
      made before this call included (the handlers' cached clients, the local stack's);
    * botocore's ``botocore.handlers.BUILTIN_HANDLERS``, the handlers every new botocore
      session registers (moto's ``mock_aws`` hooks in the same way) - the clients that
      libraries make from sessions of their own: Powertools' idempotency table,
      awswrangler's.

    A library's client made before this call is not covered: ``tests/conftest.py`` calls
    it before any client exists. The handlers stay registered and do nothing while no
    injector is active: registering and unregistering around each test would change live
    clients' handler lists while the local stack's threads are calling through them.
    """
    global _installed  # noqa: PLW0603 - one process-wide registration
    with _lock:
        if _installed:
            return
        for event_name, handler, unique_id in _HANDLERS:
            # botocore keeps one registration per unique id and client: one id per event.
            register_client_handler(event_name, handler, unique_id)
            BUILTIN_HANDLERS.append((event_name, handler))
        _installed = True


@contextmanager
def inject(*rules: FaultRule) -> Iterator[FaultInjector]:
    """``with inject(FaultRule(...)) as faults:`` — shorthand for :class:`FaultInjector`."""
    with FaultInjector(rules) as injector:
        yield injector
