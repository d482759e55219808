"""Handlers for the local runtime's own tests: each shows one thing an execution environment
does (keeps module state, serves one call at a time, dies, hangs, answers non-JSON)."""

from __future__ import annotations

import os
import time
from typing import Any

# Module state: kept by an environment across its calls, never shared with another one.
_calls = 0


def count(event: Any, context: Any) -> dict[str, Any]:
    """How many calls this environment has served, and who it is."""
    global _calls  # noqa: PLW0603 - the module state under test
    _calls += 1
    return {
        "pid": os.getpid(),
        "calls": _calls,
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "context_function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "event": event,
    }


def hold(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Stay busy ``event["seconds"]`` and say when, by the wall clock, and where."""
    start = time.time()
    time.sleep(float(event["seconds"]))
    return {"pid": os.getpid(), "start": start, "end": time.time()}


def fail(event: Any, context: Any) -> Any:
    raise ValueError("the handler refused this event")


def die(event: Any, context: Any) -> Any:
    os._exit(3)  # the process ends as after a segfault or an out-of-memory kill


def not_json(event: Any, context: Any) -> Any:
    return {"tickers": {"AAPL", "MSFT"}}
