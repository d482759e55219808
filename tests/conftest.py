"""Shared fixtures: the real-shaped fixture events and one local stack per test session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import settings

EVENTS_DIR = Path(__file__).parent / "events"

# Property tests draw the same examples on every machine and run (no example database, no
# random seed): a test that passes here passes in CI and in a fresh clone.
settings.register_profile("stratigos", derandomize=True, database=None)
settings.load_profile("stratigos")


def pytest_configure(config: pytest.Config) -> None:
    """Fault injection's handlers go on every AWS client, so install them before any exists.

    They do nothing until a test activates an injector (tests.support.faults); installed
    later, clients that libraries made earlier (Powertools' idempotency table) would miss
    them.
    """
    from tests.support.faults import install

    install()
    # The built-in analyses, registered (every Lambda entry imports them itself).
    import analyses  # noqa: F401


@pytest.fixture
def load_event() -> Any:
    """Load ``tests/events/<name>.json``."""

    def _load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
        return data

    return _load


def _stack_options(
    stack_name: str = "stratigos-local", runtime: Literal["processes", "inline"] = "processes"
) -> Any:
    from local.stack import LocalStackOptions

    return LocalStackOptions(
        runtime=runtime,
        api_port=0,
        state_file=None,
        stack_name=stack_name,
        keys={"dev-key": "demo", "other-key": "acme"},
        retry_base_delay_s=0.01,
        environment_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
    )


@pytest.fixture
def fresh_stack() -> Iterator[Any]:
    """A stack of its own (own tables, bucket, bus, queues) for tests whose work grows with
    everything in the stack: the nightly schedule recomputes every portfolio there is, and
    landing sample tickers recomputes every portfolio other tests made of them.

    moto's state is per process, so isolation comes from the stack name, which every
    resource name derives from; the session stack's environment is restored afterwards.
    """
    import uuid

    from local.stack import LocalStack

    with LocalStack(_stack_options(f"stratigos-t{uuid.uuid4().hex[:8]}")) as stack:
        yield stack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Any]:
    """moto's server over HTTP + everything template.yaml declares, for the whole session."""
    from local.stack import LocalStack

    with LocalStack(_stack_options()) as stack:
        yield stack


@pytest.fixture
def inline_stack() -> Iterator[Any]:
    """A stack of its own whose functions run in this process, one call at a time: for the
    tests that reach into a handler's process (fault injection's botocore hooks,
    monkeypatched modules, a changed environment variable), which worker processes would
    not see. Like ``fresh_stack``, it points this process at itself while it runs."""
    import uuid

    from local.stack import LocalStack

    with LocalStack(_stack_options(f"stratigos-i{uuid.uuid4().hex[:8]}", "inline")) as stack:
        yield stack
