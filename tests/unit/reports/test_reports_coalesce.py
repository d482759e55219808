"""reports.coalesce: one portfolio report per burst of runs, rendered by its last run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.lifecycle import RUN_DEADLINE
from core.models import Run, RunStatus
from reports.coalesce import (
    awaiting_reports,
    pending_runs,
    portfolio_report_due,
    report_inputs,
    settle,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def run(
    run_id: str, status: RunStatus, *, age: timedelta = timedelta(minutes=1), kind: str = "hrp"
) -> Run:
    return Run(
        id=run_id,
        portfolio_id="p-1",
        type=kind,
        parameters={},
        status=status,
        created_at=NOW - age,
    )


S, F, Q, R = RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.QUEUED, RunStatus.RUNNING


@pytest.mark.parametrize(
    ("statuses", "due"),
    [
        ([], True),  # nothing listed yet: a lone run renders
        ([S], True),  # a lone on-demand run
        ([S, S, F, S], True),  # the burst's last run: every other one finished
        ([S, R], False),
        ([S, Q], False),
        ([F, Q, R, S], False),
    ],
)
def test_due_only_when_no_run_is_unfinished(statuses: list[RunStatus], due: bool) -> None:
    runs = [run(f"r{i}", status) for i, status in enumerate(statuses)]
    assert portfolio_report_due(runs, NOW) is due
    assert pending_runs(runs, NOW) == [r.id for r in runs if r.status in (Q, R)]


def test_a_run_past_the_deadline_reads_as_failed_and_holds_nothing_back() -> None:
    stuck = run("stuck", RunStatus.RUNNING, age=RUN_DEADLINE + timedelta(seconds=1))
    young = run("young", RunStatus.QUEUED, age=RUN_DEADLINE - timedelta(seconds=1))
    assert portfolio_report_due([run("done", S), stuck], NOW)
    assert not portfolio_report_due([run("done", S), stuck, young], NOW)
    assert pending_runs([stuck, young], NOW) == ["young"]


def test_settle_trusts_the_table_not_the_index() -> None:
    """The index may still list finished runs as running: read those again."""
    current = run("r-last", S, age=timedelta(seconds=5))
    listed = [
        run("r-last", R, age=timedelta(seconds=5)),  # the run handled, stale in the index
        run("r-other", R, age=timedelta(seconds=6)),  # finished meanwhile
        run("r-gone", Q, age=timedelta(seconds=7)),  # deleted since listed
        run("r-done", F, age=timedelta(seconds=8)),  # finished: not read again
    ]
    table = {"r-other": run("r-other", S, age=timedelta(seconds=6))}
    reads: list[str] = []

    def reread(run_id: str) -> Run | None:
        reads.append(run_id)
        return table.get(run_id)

    settled = settle(listed, current, reread)
    assert reads == ["r-other", "r-gone"]
    assert [(r.id, r.status) for r in settled] == [("r-last", S), ("r-other", S), ("r-done", F)]
    assert portfolio_report_due(settled, NOW)
    # without the re-read, the stale index would hold the report back for ever
    assert not portfolio_report_due(listed, NOW)


def test_settle_adds_the_current_run_when_the_index_has_not_got_it_yet() -> None:
    older = run("r-old", S, age=timedelta(minutes=3))
    current = run("r-new", S, age=timedelta(minutes=1))
    settled = settle([older], current, lambda _: None)
    assert [r.id for r in settled] == ["r-new", "r-old"]  # newest first, like the index


def test_two_runs_of_a_burst_one_of_them_renders() -> None:
    """Statuses are saved before RunCompleted: the renderer of whichever finished last
    sees both finished (both may render when saved at the same instant: same bytes)."""
    a_running, b_running = run("a", R), run("b", R)
    a_done, b_done = run("a", S), run("b", S)
    # a finished first: its renderer sees b still running
    assert not portfolio_report_due(
        settle([a_running, b_running], a_done, lambda _: b_running), NOW
    )
    # b finished last: its renderer re-reads a (finished) and renders
    assert portfolio_report_due(settle([a_running, b_running], b_done, lambda _: a_done), NOW)


def test_report_inputs_name_the_portfolio_and_the_runs_shown() -> None:
    portfolio = {"id": "p-1", "version": 3, "assets": {"A": 0.5, "B": 0.5}}
    key = report_inputs(portfolio, ["r2", "r1"])
    assert key == report_inputs(dict(reversed(portfolio.items())), ["r1", "r2"])  # any order
    assert key != report_inputs(portfolio, ["r1", "r3"])  # a newer run shown
    assert key != report_inputs({**portfolio, "version": 4}, ["r1", "r2"])  # portfolio edited


def test_wait_for_run_reports_still_to_come_but_not_for_lost_ones() -> None:
    def finished(run_id: str, ago: timedelta) -> Run:
        return run(run_id, S).model_copy(update={"finished_at": NOW - ago})

    shown = [
        finished("current", timedelta(seconds=1)),
        finished("coming", timedelta(seconds=2)),  # its renderer has not run yet
        finished("stored", timedelta(seconds=3)),
        finished("lost", RUN_DEADLINE + timedelta(seconds=1)),  # never will: render it here
    ]
    stored = {"stored"}
    assert awaiting_reports(shown, "current", stored.__contains__, NOW) == ["coming"]
    stored.add("coming")
    assert awaiting_reports(shown, "current", stored.__contains__, NOW) == []


def _burst_run(run_id: str, version: str | None, **parameters: str) -> Run:
    from core.models import DataWindow

    window = (
        None
        if version is None
        else DataWindow(source="lake", tickers=["A", "B"], observations=10, data_version=version)
    )
    return run(run_id, S).model_copy(update={"data_window": window, "parameters": parameters})


def test_a_bursts_runs_are_known_before_the_worker_creates_them() -> None:
    """A recompute's run ids are deterministic: the renderer of its first run waits for the
    siblings the worker has not taken yet (they are not in the runs table at all)."""
    from core.models import AnalysisSpec
    from core.recompute import recompute_requests
    from reports.coalesce import burst_ids, unstarted_siblings

    analyses = [AnalysisSpec(type="hrp"), AnalysisSpec(type="risk-parity")]
    ids = [r["runId"] for r in recompute_requests("t", "p-1", analyses, version="v7", trigger="x")]
    first = _burst_run(ids[0], "v7")
    assert burst_ids("t", first, analyses) == ids
    assert unstarted_siblings(first, ids, [first], NOW) == [ids[1]]
    assert unstarted_siblings(first, ids, [first, run(ids[1], S)], NOW) == []
    # Past the deadline a sibling that never appeared is presumed lost.
    old = first.model_copy(update={"created_at": NOW - RUN_DEADLINE - timedelta(seconds=1)})
    assert unstarted_siblings(old, ids, [old], NOW) == []
    # A pinned asOf is part of the identity; an API run (no version) has no burst.
    pinned = recompute_requests(
        "t", "p-1", analyses, version="v7", trigger="x", as_of=datetime(2024, 1, 5).date()
    )
    assert burst_ids("t", _burst_run(pinned[0]["runId"], "v7", asOf="2024-01-05"), analyses) == [
        r["runId"] for r in pinned
    ]
    assert burst_ids("t", _burst_run("r-api", None), analyses) == []
    # The portfolio changed since (its analyses no longer make this run's id): no burst.
    assert burst_ids("t", first, [AnalysisSpec(type="simulate")]) == []
