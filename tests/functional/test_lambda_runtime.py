"""The local runtime runs functions as Lambda does: execution environments in worker
processes, one call at a time each, scaled out to the function's concurrency, their
module state their own, cold starts measured, broken or idle ones discarded."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from local.lambda_runtime import Invocation, LambdaRuntime
from stack import FunctionSpec, StackContext

HANDLERS = "tests.support.runtime_handlers"


def _spec(name: str, handler: str, *, timeout_s: int = 30, reserved: int | None = None) -> Any:
    return FunctionSpec(
        logical_id=name,
        handler=handler,
        memory_mb=256,
        timeout_s=timeout_s,
        environment={"STRATIGOS_RUNTIME_TEST": name},
        layers=(),
        layer_ids=(),
        async_retry_attempts=2,
        async_max_event_age_seconds=60,
        on_failure_arn=None,
        routes=(),
        rules=(),
        reserved_concurrency=reserved,
    )


FUNCTIONS = [
    _spec("Count", f"{HANDLERS}.count"),
    _spec("Hold", f"{HANDLERS}.hold"),
    _spec("HoldOne", f"{HANDLERS}.hold", reserved=1),
    _spec("Off", f"{HANDLERS}.count", reserved=0),
    _spec("Fail", f"{HANDLERS}.fail"),
    _spec("Die", f"{HANDLERS}.die"),
    _spec("NotJson", f"{HANDLERS}.not_json"),
    _spec("Broken", "tests.support.runtime_broken_handler.handler"),
    _spec("Slow", f"{HANDLERS}.hold", timeout_s=1),
]


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    rt = LambdaRuntime(FUNCTIONS, StackContext(stack_name="rt"), concurrency=2, idle_timeout_s=60)
    rt.start()
    try:
        yield rt
    finally:
        rt.shutdown()
    assert rt.live_environments() == []


def _together(runtime: LambdaRuntime, function: str, events: list[Any]) -> list[Invocation]:
    """Invoke ``function`` with every event at once, each from a thread of its own."""
    results: list[Invocation | None] = [None] * len(events)

    def call(i: int) -> None:
        results[i] = runtime.invoke(function, events[i], trigger="test")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_an_environment_keeps_its_module_state_across_calls_and_measures_its_cold_start(
    runtime: LambdaRuntime,
) -> None:
    first = runtime.invoke("Count", {"n": 1}, trigger="test")
    second = runtime.invoke("Count", {"n": 2}, trigger="test")
    assert first.ok, first.error
    assert second.ok, second.error
    assert first.cold_start
    assert first.init_duration_s is not None
    assert first.init_duration_s > 0
    assert not second.cold_start
    assert second.init_duration_s is None
    assert first.environment == second.environment
    assert (first.result["calls"], second.result["calls"]) == (1, 2)
    assert first.result["pid"] == second.result["pid"]
    # The variables and context Lambda gives: the function's name, its time left.
    assert first.result["function"] == first.result["context_function"] == "rt-Count"
    assert 0 < first.result["remaining_ms"] <= 30_000
    assert second.result["event"] == {"n": 2}  # the event crossed as JSON, unchanged
    (env,) = runtime.live_environments("Count")
    assert env.invocations == 2
    assert env.init_s == first.init_duration_s


def test_concurrent_calls_scale_out_each_environment_serving_one_at_a_time(
    runtime: LambdaRuntime,
) -> None:
    calls = _together(runtime, "Hold", [{"seconds": 0.4}] * 6)
    assert all(c.ok for c in calls), [c.error for c in calls]
    by_env: dict[str, list[tuple[float, float]]] = {}
    for call in calls:
        by_env.setdefault(call.environment, []).append((call.result["start"], call.result["end"]))
    # Scaled out to the concurrency (2 here), never beyond; one pid per environment.
    assert len(by_env) == 2
    assert len({c.result["pid"] for c in calls}) == 2
    assert sum(c.cold_start for c in calls) == 2
    for spans in by_env.values():  # no environment ever served two calls at once
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    # Six calls of 0.4 s on two environments: at least three rounds; some waited.
    assert (
        max(end for spans in by_env.values() for _, end in spans)
        - min(start for spans in by_env.values() for start, _ in spans)
        >= 3 * 0.4
    )
    assert any(c.waited_s > 0.2 for c in calls)


def test_the_templates_reserved_concurrency_bounds_the_environments(
    runtime: LambdaRuntime,
) -> None:
    calls = _together(runtime, "HoldOne", [{"seconds": 0.2}] * 3)
    assert all(c.ok for c in calls)
    assert len({c.environment for c in calls}) == 1
    assert runtime.concurrency("HoldOne") == 1
    assert runtime.concurrency("Hold") == 2
    off = runtime.invoke("Off", {}, trigger="test")
    assert off.error_type == "TooManyRequestsException"


def test_a_handler_error_is_recorded_and_the_environment_stays_warm(
    runtime: LambdaRuntime,
) -> None:
    first = runtime.invoke("Fail", {}, trigger="test")
    second = runtime.invoke("Fail", {}, trigger="test")
    assert (first.error_type, first.error) == ("ValueError", "the handler refused this event")
    assert any("runtime_handlers.py" in line for line in first.stack)
    assert first.environment == second.environment
    assert not second.cold_start


def test_a_process_that_dies_is_an_error_and_its_environment_is_replaced(
    runtime: LambdaRuntime,
) -> None:
    died = runtime.invoke("Die", {}, trigger="test")
    assert died.error_type == "Runtime.ExitError"
    assert "exit status 3" in str(died.error)
    again = runtime.invoke("Die", {}, trigger="test")
    assert again.cold_start
    assert again.environment != died.environment
    ended = [e for e in runtime.environments if e.id == died.environment]
    assert ended[0].end_reason == "failed"
    assert ended[0].ended_at is not None


def test_a_call_past_the_functions_timeout_is_cut_and_its_environment_discarded(
    runtime: LambdaRuntime,
) -> None:
    start = time.monotonic()
    cut = runtime.invoke("Slow", {"seconds": 30}, trigger="test")
    assert time.monotonic() - start < 10  # the one-second timeout, not the 30 s the handler wanted
    assert cut.error_type == "Sandbox.Timedout"
    assert "timed out after" in str(cut.error)
    assert runtime.live_environments("Slow") == []
    fine = runtime.invoke("Slow", {"seconds": 0}, trigger="test")
    assert fine.ok
    assert fine.cold_start


def test_an_answer_that_is_not_json_is_a_marshal_error(runtime: LambdaRuntime) -> None:
    call = runtime.invoke("NotJson", {}, trigger="test")
    assert call.error_type == "Runtime.MarshalError"
    assert not runtime.invoke("NotJson", {}, trigger="test").cold_start  # still warm
    odd = runtime.invoke("Count", {"when": object()}, trigger="test")
    assert odd.error_type == "Runtime.MarshalError"


def test_a_handler_that_cannot_be_imported_fails_every_call_with_its_init_error(
    runtime: LambdaRuntime,
) -> None:
    calls = [runtime.invoke("Broken", {}, trigger="test") for _ in range(2)]
    assert [c.error_type for c in calls] == ["Runtime.ImportModuleError"] * 2
    assert all("a layer this handler needs is missing" in str(c.error) for c in calls)
    assert all(c.cold_start for c in calls)  # Lambda tries the init again each time


def test_idle_environments_are_reaped_and_the_next_call_starts_cold(
    runtime: LambdaRuntime,
) -> None:
    first = runtime.invoke("Count", {}, trigger="test")
    runtime.idle_timeout_s = 0.0
    assert runtime.reap() == 1
    assert runtime.live_environments() == []
    (ended,) = [e for e in runtime.environments if e.id == first.environment]
    assert ended.end_reason == "idle"
    runtime.idle_timeout_s = 60
    again = runtime.invoke("Count", {}, trigger="test")
    assert again.cold_start
    assert again.result["calls"] == 1


def test_the_reaper_thread_ends_idle_environments_by_itself() -> None:
    runtime = LambdaRuntime(FUNCTIONS, StackContext(stack_name="rt"), idle_timeout_s=0.2)
    runtime.start()
    try:
        runtime.invoke("Count", {}, trigger="test")
        deadline = time.monotonic() + 10
        while runtime.live_environments() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.live_environments() == []
    finally:
        runtime.shutdown()


def test_a_changed_function_is_served_by_new_environments(runtime: LambdaRuntime) -> None:
    first = runtime.invoke("Count", {}, trigger="test")
    runtime.functions["Count"] = replace(runtime.functions["Count"], handler=f"{HANDLERS}.fail")
    changed = runtime.invoke("Count", {}, trigger="test")
    assert changed.cold_start
    assert changed.error_type == "ValueError"
    (old,) = [e for e in runtime.environments if e.id == first.environment]
    assert old.end_reason == "replaced"


def test_inline_mode_runs_one_call_at_a_time_in_this_process() -> None:
    runtime = LambdaRuntime(FUNCTIONS, StackContext(stack_name="rt"), mode="inline")
    calls = _together(runtime, "Hold", [{"seconds": 0.2}] * 3)
    spans = sorted((c.result["start"], c.result["end"]) for c in calls)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    assert {c.environment for c in calls} == {"inline"}
    assert sum(c.cold_start for c in calls) == 1
    assert runtime.environments == []


def test_after_shutdown_a_call_fails_rather_than_hangs(runtime: LambdaRuntime) -> None:
    runtime.invoke("Count", {}, trigger="test")
    runtime.shutdown()
    late = runtime.invoke("Count", {}, trigger="test")
    assert late.error_type == "Runtime.Unavailable"
    assert all(e.end_reason == "shutdown" for e in runtime.environments)


def test_prewarmed_environments_take_the_first_calls_warm(runtime: LambdaRuntime) -> None:
    """Lambda's provisioned concurrency: the init is paid before the first call."""
    runtime.prewarm(["Count", "Broken", "Off"]).join(timeout=30)
    (env,) = runtime.live_environments("Count")
    assert env.init_s > 0
    assert env.invocations == 0
    first = runtime.invoke("Count", {}, trigger="test")
    assert not first.cold_start
    assert first.environment == env.id
    assert first.result["calls"] == 1
    # A handler that cannot be imported is not kept warm; a function reserved at 0 gets none.
    assert runtime.live_environments("Broken") == []
    assert runtime.live_environments("Off") == []
