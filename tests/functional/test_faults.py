"""AWS calls failing under each consumer (tests.support.faults), through the local stack.

For every consumer — ingest (land), returns, fan-out, run worker, render, and the
synchronous run API — and its write steps:

* transient faults (throttling, 5xx, timeouts) are absorbed by botocore's retries: the end
  state is the clean run's, and no invocation failed;
* a crash between two writes (the process dies right after a call succeeded) converges on
  redelivery, with nothing written twice;
* a persistent fault ends, after Lambda's two retries, in the dead-letter queue with its
  cause; once the fault is gone, ``stratigos replay`` hands the event back and the chain
  ends where a clean run would have.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from stack_client import (
    http_json,
    portfolio_runs,
    price_csv,
    risk_parity_portfolio,
    triggered_runs,
    unique_tickers,
)

from core.aws import client_config
from core.lake import PRICES_PREFIX, RESULTS_PREFIX, RETURNS_PREFIX, partition_key
from core.settings import settings
from local.replay import DeadLetter, LocalReplayTarget, dead_letter_queue_url, replay
from tests.support.faults import FaultInjector, FaultRule, inject, key_prefix, table_named

pytestmark = pytest.mark.functional

START = date(2023, 3, 1)  # 25 weekdays from here stay inside the 2023 partitions
DAYS = 25
# botocore's "max_attempts" counts retries: a call is tried once more than that.
ATTEMPTS = int(client_config("s3").retries["max_attempts"]) + 1


# ---------------------------------------------------------------- helpers
@dataclasses.dataclass
class Chain:
    """One price file landed for fresh tickers held by one portfolio."""

    tickers: list[str]
    portfolio: str
    raw_key: str


def _chain(stack: Any) -> Chain:
    tickers = unique_tickers("F", 2, digits=4)
    chain = Chain(
        tickers,
        risk_parity_portfolio(stack, tickers, "faults", 40),
        f"raw/prices/{uuid.uuid4().hex}.csv",
    )
    # Creating it requested its analysis at once: that run ends (failed: no data yet)
    # before any fault is injected, and is no part of the chain under test.
    stack.wait_idle()
    (created,) = triggered_runs(stack, chain.portfolio, "portfolio")
    assert created["status"] == "failed", created
    return chain


def _recomputed(stack: Any, chain: Chain) -> list[dict[str, Any]]:
    """The runs the landing requested for the chain's portfolio (market-data trigger)."""
    return triggered_runs(stack, chain.portfolio, "market-data")


def _land(stack: Any, chain: Chain) -> None:
    stack.client("s3").put_object(
        Bucket=stack.bucket,
        Key=chain.raw_key,
        Body=price_csv(chain.tickers, DAYS, START),
    )
    stack.wait_idle()


def _dataset_rows(stack: Any, prefix: str, tickers: list[str]) -> pa.Table:
    key = partition_key(prefix, START.year)
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    return table.filter(pc.is_in(table["ticker"], pa.array(tickers)))


def _result_objects(stack: Any, run_id: str) -> dict[str, list[str]]:
    """Results objects of a run, per dataset (the key names the run: ``<tenant>-<run>``)."""
    s3 = stack.client("s3")
    found: dict[str, list[str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.bucket, Prefix=RESULTS_PREFIX
    ):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(f"-{run_id}.parquet"):
                found.setdefault(obj["Key"].split("/")[1], []).append(obj["Key"])
    return found


def _report_files(stack: Any, kind: str, identifier: str) -> set[str]:
    prefix = f"reports/demo/{kind}/{identifier}/"
    listing = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    return {obj["Key"].removeprefix(prefix) for obj in listing.get("Contents", [])}


def _assert_clean_end_state(stack: Any, chain: Chain) -> dict[str, Any]:
    """What one clean delivery of the chain leaves: no more, no less."""
    prices = _dataset_rows(stack, PRICES_PREFIX, chain.tickers)
    assert prices.num_rows == DAYS * len(chain.tickers)
    assert prices.group_by(["ticker", "date"]).aggregate([]).num_rows == prices.num_rows
    returns = _dataset_rows(stack, RETURNS_PREFIX, chain.tickers)
    assert returns.num_rows == (DAYS - 1) * len(chain.tickers)
    assert returns.group_by(["ticker", "date"]).aggregate([]).num_rows == returns.num_rows
    runs = portfolio_runs(stack, chain.portfolio)
    assert len(runs) == 2, [r["id"] for r in runs]  # the one created, and one recompute
    runs = _recomputed(stack, chain)
    assert len(runs) == 1, [r["id"] for r in runs]  # recomputed once, never twice
    run = runs[0]
    assert run["status"] == "succeeded"
    objects = _result_objects(stack, run["id"])
    assert objects.keys() == {"optimization_weights", "run_index"}
    assert all(len(keys) == 1 for keys in objects.values()), objects
    index = pq.read_table(
        io.BytesIO(
            stack.client("s3")
            .get_object(Bucket=stack.bucket, Key=objects["run_index"][0])["Body"]
            .read()
        )
    )
    assert index.num_rows == 1
    assert index["status"].to_pylist() == ["succeeded"]
    assert {"report.html", "manifest.json"} <= _report_files(stack, "runs", run["id"])
    assert "manifest.json" in _report_files(stack, "portfolios", chain.portfolio)
    return run


def _calls(stack: Any, function: str, since: int, test: Callable[[Any], bool]) -> list[Any]:
    return [c for c in stack.runtime.calls(function)[since:] if test(c.event)]


def _about(chain: Chain) -> Callable[[Any], bool]:
    """Whether an event (of any consumer in the chain) belongs to this chain."""

    def test(event: Any) -> bool:
        text = json.dumps(event)
        return (
            chain.raw_key in text
            or any(t in text for t in chain.tickers)
            or (chain.portfolio in text)
        )

    return test


def _dead_letters(
    stack: Any, function: str | None, about: Callable[[Any], bool]
) -> list[DeadLetter]:
    sqs = stack.client("sqs")
    report = replay(
        sqs,
        dead_letter_queue_url(stack.template, sqs),
        LocalReplayTarget(stack.template, sqs),
        dry_run=True,
        function=function,
        select=lambda letter: about(letter.payload),
    )
    return [o.letter for o in report.outcomes if o.action == "listed" and o.letter]


def _replay(stack: Any, function: str, about: Callable[[Any], bool]) -> list[DeadLetter]:
    sqs = stack.client("sqs")
    report = replay(
        sqs,
        dead_letter_queue_url(stack.template, sqs),
        LocalReplayTarget(stack.template, sqs),
        function=function,
        select=lambda letter: about(letter.payload),
    )
    stack.wait_idle()
    return report.replayed


@contextmanager
def _function_timeout(stack: Any, function: str, seconds: int) -> Iterator[None]:
    """A shorter Lambda timeout: an idempotency record a crash left in progress expires then."""
    spec = stack.runtime.functions[function]
    stack.runtime.functions[function] = dataclasses.replace(spec, timeout_s=seconds)
    try:
        yield
    finally:
        stack.runtime.functions[function] = spec


# ---------------------------------------------------------------- (a) transient faults
def test_transient_faults_at_every_write_step_end_like_a_clean_run(inline_stack: Any) -> None:
    config = settings()
    chain = _chain(inline_stack)
    rules = [
        FaultRule("s3", "GetObject", "timeout", times=1, match=key_prefix(chain.raw_key)),
        FaultRule(
            "dynamodb", "PutItem", "throttle", times=2, match=table_named(config.idempotency_table)
        ),
        FaultRule("s3", "PutObject", "throttle", times=2, match=key_prefix(PRICES_PREFIX)),
        FaultRule("s3", "PutObject", "server_error", times=2, match=key_prefix("tmp/changes/")),
        FaultRule("events", "PutEvents", "throttle", times=2),
        FaultRule("s3", "PutObject", "server_error", times=2, match=key_prefix(RETURNS_PREFIX)),
        FaultRule(
            "dynamodb", "PutItem", "server_error", times=2, match=table_named(config.runs_table)
        ),
        FaultRule("s3", "PutObject", "throttle", times=1, match=key_prefix("results/run_index/")),
        FaultRule("s3", "PutObject", "timeout", times=1, match=key_prefix("results/optimization")),
        FaultRule("s3", "PutObject", "server_error", times=2, match=key_prefix("reports/demo/")),
        FaultRule("events", "PutEvents", "rejected_entries", times=1),
    ]
    since = {f: len(inline_stack.runtime.calls(f)) for f in inline_stack.runtime.functions}
    with FaultInjector(rules) as faults:
        _land(inline_stack, chain)
    assert faults.exhausted, [(r.service, r.operation, r.kind, r.fired) for r in faults.rules]
    assert (faults.count("throttle"), faults.count("timeout")) == (7, 2)
    _assert_clean_end_state(inline_stack, chain)
    # botocore absorbed every fault but one: PutEvents answering 200 with its entry refused
    # is not botocore's to retry; the lander's publish raises and Lambda retries it.
    failed = [c for f, n in since.items() for c in inline_stack.runtime.calls(f)[n:] if not c.ok]
    assert [(c.function, c.error_type) for c in failed] == [("IngestFunction", "EventPublishError")]
    assert not _dead_letters(inline_stack, None, _about(chain))


def test_transient_faults_in_a_synchronous_run_still_answer_201(inline_stack: Any) -> None:
    config = settings()
    chain = _chain(inline_stack)
    _land(inline_stack, chain)
    rules = [
        FaultRule("dynamodb", "PutItem", "throttle", times=2, match=table_named(config.runs_table)),
        FaultRule(
            "dynamodb", "GetItem", "timeout", times=1, match=table_named(config.portfolios_table)
        ),
        FaultRule("s3", "GetObject", "server_error", times=2, match=key_prefix(RETURNS_PREFIX)),
        FaultRule("s3", "PutObject", "throttle", times=2, match=key_prefix(RESULTS_PREFIX)),
    ]
    with FaultInjector(rules) as faults:
        status, run = http_json(
            f"{inline_stack.api_url}/optimization/risk-parity",
            "POST",
            {"portfolioId": chain.portfolio, "start": START.isoformat(), "end": "2023-04-10"},
            timeout=120,
        )
    assert faults.exhausted
    assert status == 201, run
    assert run["status"] == "succeeded"
    objects = _result_objects(inline_stack, run["id"])
    assert {k: len(v) for k, v in objects.items()} == {"optimization_weights": 1, "run_index": 1}


# ---------------------------------------------------------------- (b) a crash between two writes
def test_ingest_crash_after_announcing_is_replayed_without_duplicates(inline_stack: Any) -> None:
    """The lander dies after PricesCurated went out, before its idempotency record completed.

    The record stays in progress until the function's timeout: Lambda's retries find it so
    and end in the dead-letter queue; replayed after that, landing re-announces the same
    manifest, which the returns consumer has already handled: nothing runs twice.
    """
    chain = _chain(inline_stack)
    crash = FaultRule(
        "events", "PutEvents", "crash", times=1, match=lambda p: "PricesCurated" in json.dumps(p)
    )
    with _function_timeout(inline_stack, "IngestFunction", 2):
        with inject(crash):
            _land(inline_stack, chain)
        assert crash.fired == 1
        letters = _dead_letters(inline_stack, "IngestFunction", _about(chain))
        assert len(letters) == 1
        assert letters[0].error_type == "IdempotencyAlreadyInProgressError"
        assert letters[0].attempts == 3
        time.sleep(2.5)  # let the in-progress record expire (the function's timeout)
        assert len(_replay(inline_stack, "IngestFunction", _about(chain))) == 1
    _assert_clean_end_state(inline_stack, chain)
    assert not _dead_letters(inline_stack, "IngestFunction", _about(chain))


def test_returns_crash_after_announcing_requests_no_second_set_of_runs(inline_stack: Any) -> None:
    """Recomputed on replay, the returns are unchanged: same data version, same run ids."""
    chain = _chain(inline_stack)
    crash = FaultRule(
        "events",
        "PutEvents",
        "crash",
        times=1,
        match=lambda p: "MarketDataUpdated" in json.dumps(p) and chain.tickers[0] in json.dumps(p),
    )
    with _function_timeout(inline_stack, "ReturnsFunction", 2):
        with inject(crash):
            _land(inline_stack, chain)
        assert crash.fired == 1
        assert len(_recomputed(inline_stack, chain)) == 1  # the announcement went out
        time.sleep(2.5)
        assert len(_replay(inline_stack, "ReturnsFunction", _about(chain))) == 1
    _assert_clean_end_state(inline_stack, chain)


@pytest.mark.parametrize(
    ("step", "rule"),
    [
        # After the weights, before the commit marker (run_index).
        (
            "results",
            FaultRule("s3", "PutObject", "crash", match=key_prefix("results/optimization")),
        ),
        # After the commit marker, before the run item says succeeded.
        (
            "run-index",
            FaultRule("s3", "PutObject", "crash", match=key_prefix("results/run_index/")),
        ),
        # After the run item says succeeded, before RunCompleted: the retry must announce it.
        (
            "run-item",
            FaultRule(
                "dynamodb",
                "PutItem",
                "crash",
                match=lambda p: "succeeded" in json.dumps(p.get("Item", {}).get("status", {})),
            ),
        ),
    ],
)
def test_run_worker_crash_between_writes_converges_on_retry(
    inline_stack: Any, step: str, rule: FaultRule
) -> None:
    config = settings()
    assert config.runs_table  # the predicate above looks at the runs table's status
    chain = _chain(inline_stack)
    since = len(inline_stack.runtime.calls("RunWorkerFunction"))
    with inject(rule):
        _land(inline_stack, chain)
    assert rule.fired == 1, step
    calls = _calls(inline_stack, "RunWorkerFunction", since, _about(chain))
    assert [c.ok for c in calls] == [False, True], [(c.error_type, c.error) for c in calls]
    assert calls[0].error_type == "InjectedCrash"
    _assert_clean_end_state(inline_stack, chain)


def test_fan_out_crash_after_publishing_requests_each_run_once(inline_stack: Any) -> None:
    chain = _chain(inline_stack)
    rule = FaultRule(
        "events",
        "PutEvents",
        "crash",
        match=lambda p: "RunRequested" in json.dumps(p) and chain.portfolio in json.dumps(p),
    )
    since = len(inline_stack.runtime.calls("FanOutFunction"))
    with inject(rule):
        _land(inline_stack, chain)
    assert rule.fired == 1
    calls = _calls(inline_stack, "FanOutFunction", since, _about(chain))
    assert [c.ok for c in calls] == [False, True]
    _assert_clean_end_state(inline_stack, chain)


def test_render_crash_before_the_manifest_converges_on_retry(inline_stack: Any) -> None:
    chain = _chain(inline_stack)
    rule = FaultRule("s3", "PutObject", "crash", match=key_prefix("reports/demo/runs/"))
    since = len(inline_stack.runtime.calls("RenderFunction"))
    with inject(rule):
        _land(inline_stack, chain)
    assert rule.fired == 1
    calls = _calls(inline_stack, "RenderFunction", since, _about(chain))
    assert [c.ok for c in calls] == [False, True]
    _assert_clean_end_state(inline_stack, chain)


# ---------------------------------------------------------------- (c) persistent faults
@pytest.mark.parametrize(
    ("function", "rule"),
    [
        (
            "IngestFunction",
            FaultRule("s3", "PutObject", "server_error", None, match=key_prefix(PRICES_PREFIX)),
        ),
        (
            "ReturnsFunction",
            FaultRule("s3", "PutObject", "server_error", None, match=key_prefix(RETURNS_PREFIX)),
        ),
        (
            "FanOutFunction",
            FaultRule(
                "events",
                "PutEvents",
                "server_error",
                None,
                match=lambda p: "RunRequested" in json.dumps(p),
            ),
        ),
        (
            "RunWorkerFunction",
            FaultRule(
                "s3", "PutObject", "server_error", None, match=key_prefix("results/run_index/")
            ),
        ),
        (
            "RenderFunction",
            FaultRule("s3", "PutObject", "server_error", None, match=key_prefix("reports/demo/")),
        ),
    ],
)
def test_a_persistent_fault_dead_letters_with_its_cause_and_replay_converges(
    inline_stack: Any, function: str, rule: FaultRule
) -> None:
    chain = _chain(inline_stack)
    about = _about(chain)
    since = len(inline_stack.runtime.calls(function))
    with inject(rule):
        _land(inline_stack, chain)
    calls = _calls(inline_stack, function, since, about)
    assert [c.ok for c in calls] == [False, False, False]  # the first try + Lambda's 2 retries
    # Each invocation: botocore's attempts (fewer once its retry quota runs low, as in AWS).
    assert 3 <= rule.fired <= 3 * ATTEMPTS
    letters = _dead_letters(inline_stack, function, about)
    assert len(letters) == 1
    letter = letters[0]
    assert letter.condition == "RetriesExhausted"
    code = "InternalException" if rule.service == "events" else "InternalError"
    assert letter.error_type in ("ClientError", code)  # botocore's modeled class, if any
    assert f"An error occurred ({code}) when calling the {rule.operation} operation" in (
        letter.error_message or ""
    )
    # Nothing half-done is visible while it waits in the queue.
    runs = portfolio_runs(inline_stack, chain.portfolio)
    assert all(r["status"] != "succeeded" for r in runs) or function == "RenderFunction"
    if function == "RunWorkerFunction":
        (run,) = _recomputed(inline_stack, chain)
        assert run["status"] == "running"
        assert "run_index" not in _result_objects(inline_stack, run["id"])

    assert [letter.message_id for letter in _replay(inline_stack, function, about)] == [
        letter.message_id
    ]
    _assert_clean_end_state(inline_stack, chain)
    assert not _dead_letters(inline_stack, function, about)


def test_a_synchronous_run_whose_writes_keep_failing_is_finished_by_the_worker(
    inline_stack: Any,
) -> None:
    """Every attempt at the commit marker fails: 202, and the worker completes the run."""
    chain = _chain(inline_stack)
    _land(inline_stack, chain)
    rule = FaultRule(
        "s3", "PutObject", "server_error", times=ATTEMPTS, match=key_prefix("results/run_index/")
    )
    with inject(rule):
        status, run = http_json(
            f"{inline_stack.api_url}/optimization/risk-parity",
            "POST",
            {"portfolioId": chain.portfolio, "start": START.isoformat(), "end": "2023-04-10"},
            timeout=120,
        )
        inline_stack.wait_idle()
    assert rule.exhausted
    assert status == 202, run
    status, finished = http_json(f"{inline_stack.api_url}/runs/{run['id']}", timeout=120)
    assert status == 200
    assert finished["status"] == "succeeded", finished
    objects = _result_objects(inline_stack, run["id"])
    assert {k: len(v) for k, v in objects.items()} == {"optimization_weights": 1, "run_index": 1}


# ---------------------------------------------------------------- the CLI
def test_stratigos_replay_cli_lists_then_replays(
    inline_stack: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from local.cli import main

    chain = _chain(inline_stack)
    rule = FaultRule("s3", "PutObject", "server_error", None, match=key_prefix("reports/demo/"))
    with inject(rule):
        _land(inline_stack, chain)
    (letter,) = _dead_letters(inline_stack, "RenderFunction", _about(chain))
    state = inline_stack.state()
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".stratigos").mkdir()
    (tmp_path / ".stratigos" / "local.json").write_text(json.dumps(state.__dict__))

    assert main(["replay", "--dry-run", "--function", "RenderFunction"]) == 0
    listed = capsys.readouterr().out
    line = next(row for row in listed.splitlines() if letter.message_id in row)
    assert line.startswith("listed")
    assert "RenderFunction" in line
    assert "ClientError" in line
    assert _dead_letters(inline_stack, "RenderFunction", _about(chain))  # still there

    assert main(["replay", "--function", "RenderFunction"]) == 0
    assert "handed back" in capsys.readouterr().out
    inline_stack.wait_idle()
    _assert_clean_end_state(inline_stack, chain)
    assert not _dead_letters(inline_stack, "RenderFunction", _about(chain))
