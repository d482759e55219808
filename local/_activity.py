"""What the local stack did, one short line per function invocation and per dead letter.

Lines go to the ``stratigos.local`` logger. A library logs and lets the application
choose where lines go: this module adds only a ``NullHandler``, so the test suite and the
demo (which run stacks in-process) print nothing, while ``stratigos local up`` attaches
a stderr handler (:func:`log_to_stream`) unless ``--quiet``.

Examples of lines::

    IngestFunction <- Object Created raw/prices/prices_2024-12.parquet: ok 812 ms
    ReturnsFunction <- PricesCurated: retry (attempt 1 of 3) ValueError: boom 4 ms
    PortfoliosFunction <- api GET /portfolios: ok 200 9 ms
    dead letter: RenderFunction <- RunCompleted (event 6f1c…): RetriesExhausted after 3
        attempts: ValueError: boom                          (one line, wrapped here)
"""

from __future__ import annotations

import logging
from typing import Any, Final, TextIO

from local.lambda_runtime import Invocation

__all__ = [
    "ACTIVITY_LOGGER_NAME",
    "event_trigger",
    "log_dead_letter",
    "log_invocation",
    "log_to_stream",
]

ACTIVITY_LOGGER_NAME: Final = "stratigos.local"
_logger = logging.getLogger(ACTIVITY_LOGGER_NAME)
_logger.addHandler(logging.NullHandler())
_MESSAGE_CHARS: Final = 160


def _one_line(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """``text`` on one line of printable characters, at most ``limit`` long."""
    flat = "".join(c if c.isprintable() else " " for c in " ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def event_trigger(event: Any, schedule: str | None = None) -> str:
    """How a person names what an EventBridge event is: its detail-type, a schedule's name,
    and for an S3 object event the object's key."""
    if schedule is not None:
        return f"schedule {schedule}"
    if not isinstance(event, dict):
        return "event"
    trigger = str(event.get("detail-type") or "event")
    detail = event.get("detail")
    if event.get("source") == "aws.s3" and isinstance(detail, dict):
        key = (detail.get("object") or {}).get("key")
        if key:
            trigger += f" {key}"
    return _one_line(trigger, 100)


def _failure(call: Invocation) -> str:
    return _one_line(f"{call.error_type or 'Error'}: {call.error or ''}")


def log_invocation(
    call: Invocation,
    trigger: str,
    *,
    attempts: int = 1,
    status: Any = None,
) -> None:
    """One line for one handler call: function, trigger, ok/retry/error, duration.

    ``attempts`` is how many attempts the caller makes in all (1 + retries): a failed
    attempt before the last is a ``retry``, the last one an ``error``. ``status`` is the
    HTTP status an API call answered with.
    """
    duration = f"{call.duration_s * 1000:.0f} ms"
    head = f"{call.function} <- {_one_line(trigger, 100)}:"
    if call.ok:
        answer = f" {_one_line(str(status), 12)}" if status is not None else ""
        _logger.info("%s ok%s %s", head, answer, duration)
        return
    outcome = "retry" if call.attempt < attempts else "error"
    where = f" (attempt {call.attempt} of {attempts})" if attempts > 1 else ""
    _logger.warning("%s %s%s %s %s", head, outcome, where, _failure(call), duration)


def log_dead_letter(call: Invocation, trigger: str, event: Any) -> None:
    """One line for an event handed to the dead-letter destination."""
    event_id = event.get("id") if isinstance(event, dict) else None
    which = f" (event {event_id})" if event_id else ""
    _logger.error(
        "dead letter: %s <- %s%s: RetriesExhausted after %d attempts: %s",
        call.function,
        _one_line(trigger, 100),
        which,
        call.attempt,
        _failure(call),
    )


def log_to_stream(stream: TextIO, *, quiet: bool = False) -> logging.Handler | None:
    """Send the activity lines to ``stream`` (``stratigos local up``); None when ``quiet``."""
    if quiet:
        return None
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    _logger.propagate = False  # the lines are the whole record; no root handler repeats them
    return handler
