"""Handlers the functional tests swap into a template function to exercise failure paths."""

from __future__ import annotations

from typing import Any

FLAKY_CALLS: list[str] = []


def always_fails(event: dict[str, Any], context: Any) -> None:
    raise RuntimeError(f"poison event {event.get('id')}")


def fails_once(event: dict[str, Any], context: Any) -> dict[str, str]:
    FLAKY_CALLS.append(str(event.get("id")))
    if FLAKY_CALLS.count(str(event.get("id"))) == 1:
        raise TimeoutError("first attempt times out")
    return {"status": "ok"}
