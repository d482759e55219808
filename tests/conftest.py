"""Shared fixtures: the real-shaped fixture events and one local stack per test session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).parent / "events"


@pytest.fixture
def load_event() -> Any:
    """Load ``tests/events/<name>.json``."""

    def _load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
        return data

    return _load


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Any]:
    """moto's server over HTTP + everything template.yaml declares, for the whole session."""
    from local.stack import LocalStack, LocalStackOptions

    options = LocalStackOptions(
        api_port=0,
        state_file=None,
        keys={"dev-key": "demo", "other-key": "acme"},
        retry_base_delay_s=0.01,
        environment_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
    )
    with LocalStack(options) as stack:
        yield stack
