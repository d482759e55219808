"""Runs a template function's handler in-process, as Lambda would, and records each call."""

from __future__ import annotations

import importlib
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stack import FunctionSpec, StackContext

__all__ = ["Invocation", "LambdaRuntime", "LocalLambdaContext", "load_handler"]


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import ``module.attr`` the way the Lambda Python runtime does."""
    module_name, _, attr = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not module.function")
    function = getattr(importlib.import_module(module_name), attr)
    if not callable(function):
        raise TypeError(f"{handler} is not callable")
    return function  # type: ignore[no-any-return]


class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, context: StackContext) -> None:
        self.function_name = f"{context.stack_name}-{spec.logical_id}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:{context.partition}:lambda:{context.region}:{context.account_id}"
            f":function:{self.function_name}"
        )
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """One call of a handler: what triggered it and how it ended."""

    function: str
    trigger: str
    event: Any
    attempt: int
    started_at: float
    duration_s: float = 0.0
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    stack: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class LambdaRuntime:
    """Invokes the template's functions in this process and keeps a log of every call."""

    def __init__(self, functions: list[FunctionSpec], context: StackContext) -> None:
        self.functions = {spec.logical_id: spec for spec in functions}
        self.context = context
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()

    def invoke(self, function: str, event: Any, trigger: str, attempt: int = 1) -> Invocation:
        """Call ``function``'s handler with ``event``; exceptions are caught and recorded."""
        spec = self.functions[function]
        record = Invocation(
            function=function,
            trigger=trigger,
            event=event,
            attempt=attempt,
            started_at=time.time(),
        )
        start = time.perf_counter()
        try:
            record.result = load_handler(spec.handler)(
                event, LocalLambdaContext(spec, self.context)
            )
        except BaseException as error:
            # Whatever ends a handler is its invocation's error, as in Lambda, even a
            # BaseException: the tests' simulated process death (tests.support.faults'
            # InjectedCrash) is one. Only Ctrl-C stops the local stack itself.
            if isinstance(error, KeyboardInterrupt):
                raise
            record.error = str(error) or type(error).__name__
            record.error_type = type(error).__name__
            record.stack = traceback.format_exception(error)[-6:]
        record.duration_s = time.perf_counter() - start
        with self._lock:
            self.invocations.append(record)
        return record

    def calls(self, function: str | None = None) -> list[Invocation]:
        with self._lock:
            return [i for i in self.invocations if function in (None, i.function)]
