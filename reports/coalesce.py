"""When a finished run re-renders its portfolio's report: once per burst, by its last run.

A data landing, a nightly recompute or a portfolio update starts a *burst*: one run per
analysis of the portfolio, each announcing ``RunCompleted`` when it ends. Re-rendering the
portfolio report on every one of them drew every chart twice and each portfolio report once
per run. Instead the renderer of run R renders the portfolio report only when none of the
portfolio's runs is still unfinished (queued or running, as reported: past
:data:`core.lifecycle.RUN_DEADLINE` such a run reads as failed and no longer holds the report
back). Every run's final status is saved before its ``RunCompleted`` is published, so:

* the run that finishes last sees every other run finished and renders the report, once;
* a lone on-demand run sees nothing unfinished and renders it;
* two runs saved at almost the same instant may both see the other finished and both render:
  the same runs give the same bytes under the same keys, so the second write is harmless;
* a redelivered ``RunCompleted`` renders it again, to the same bytes (at-least-once safe);
* when renders lag the runs (every run of the burst finished before the first renderer
  looks), each renderer sees none unfinished: the manifest keeps :func:`report_inputs`, so
  the first renders and the others, finding the same inputs stored, skip.

Failed runs announce ``RunCompleted`` too (``analyses.handlers._complete``): their renderer
draws nothing of the run (a failed run has no report) but makes this check, so a burst
whose last run fails still refreshes the portfolio report with its successes.

This needs the statuses as they are now: the portfolio index (a DynamoDB GSI) is eventually
consistent and could still show a finished run as running, in which case every run of the
burst could wait for another and none render. So the index only says *which* runs to look
at; an unfinished-looking run is read again from the table (a consistent read,
:func:`settle`) and the run the event is about is taken as read by the handler.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from core.lifecycle import RUN_DEADLINE, as_reported
from core.models import AnalysisSpec, Run, RunStatus
from core.recompute import recompute_identity, recompute_run_id

__all__ = [
    "LAYOUT_VERSION",
    "UNFINISHED",
    "awaiting_reports",
    "burst_ids",
    "pending_runs",
    "portfolio_report_due",
    "report_inputs",
    "settle",
    "unstarted_siblings",
]

UNFINISHED = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
LAYOUT_VERSION = "2"  # bump when the portfolio page changes: stored reports then re-render


def report_inputs(portfolio: Mapping[str, Any], shown: Iterable[str]) -> str:
    """A digest of what a portfolio report is rendered from, kept in its manifest.

    The portfolio (as JSON) and the ids of the runs it shows (finished runs never change)
    determine the report's bytes. When a burst's runs are all finished before any of their
    renderers runs (renders lagging the runs), each renderer sees "none unfinished"; the
    first renders, the others find this digest in the stored manifest and skip.

    Parameters
    ----------
    portfolio : mapping
        ``Portfolio.model_dump(mode="json", by_alias=True)``.
    shown : iterable of str
        The ids of the runs the report shows.
    """
    text = json.dumps(
        {"layout": LAYOUT_VERSION, "portfolio": portfolio, "runs": sorted(shown)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def pending_runs(runs: Iterable[Run], now: datetime | None = None) -> list[str]:
    """Ids of the runs still unfinished as reported (queued/running within the deadline).

    Parameters
    ----------
    runs : iterable of Run
        The portfolio's runs (any order).
    now : datetime, optional
        The time the deadline is measured at (default: now).
    """
    return [run.id for run in runs if as_reported(run, now).status in UNFINISHED]


def portfolio_report_due(runs: Iterable[Run], now: datetime | None = None) -> bool:
    """Whether the portfolio report should be rendered now: none of ``runs`` is unfinished.

    Parameters
    ----------
    runs : iterable of Run
        The portfolio's runs, with the finished run that triggered the render among them
        (``settle`` puts it there, as the handler read it).
    now : datetime, optional
        The time the deadline is measured at (default: now).

    Returns
    -------
    bool
        ``True`` when every run is succeeded or failed (or past the deadline); also for no
        runs at all.
    """
    return not pending_runs(runs, now)


def settle(listed: Sequence[Run], current: Run, reread: Callable[[str], Run | None]) -> list[Run]:
    """The portfolio's runs with the statuses as they are now.

    Parameters
    ----------
    listed : sequence of Run
        The runs as the portfolio index listed them (possibly stale).
    current : Run
        The run whose ``RunCompleted`` is handled, as read from the table: it replaces its
        listed copy (and is added if the index does not list it yet).
    reread : callable
        ``reread(run_id)``: the run read again, consistently (``None`` when it is gone).
        Called only for listed runs that look unfinished: usually none or a few.

    Returns
    -------
    list of Run
        Newest first (by ``createdAt``, then id), like the index.
    """
    runs = [current]
    for run in listed:
        if run.id == current.id:
            continue
        fresh = reread(run.id) if run.status in UNFINISHED else run
        if fresh is not None:  # None: deleted since it was listed
            runs.append(fresh)
    return sorted(runs, key=lambda run: (run.created_at, run.id), reverse=True)


def awaiting_reports(
    shown: Iterable[Run],
    current: str,
    has_report: Callable[[str], bool],
    now: datetime | None = None,
) -> list[str]:
    """Runs the portfolio report would show whose own report is not stored yet, but will be.

    When renders lag the runs, the first renderer of a burst can find every run finished
    while the other runs' reports are not rendered yet. Rendering then would draw their
    charts here and again in their own renderers; waiting for them costs nothing, since the
    last of them renders the portfolio report with every chart stored. A run whose report is
    still missing :data:`core.lifecycle.RUN_DEADLINE` after it finished is not waited for
    (its renderer is presumed lost): the handler renders its report once, for the portfolio's.

    Parameters
    ----------
    shown : iterable of Run
        The runs the portfolio report shows (finished).
    current : str
        The id of the run being rendered (its report is in hand).
    has_report : callable
        ``has_report(run_id)``: whether the run's report is stored.
    now : datetime, optional
        The time the deadline is measured at (default: now).
    """
    now = now or datetime.now(UTC)
    return [
        run.id
        for run in shown
        if run.id != current
        and run.finished_at is not None
        and now - run.finished_at <= RUN_DEADLINE
        and not has_report(run.id)
    ]


def burst_ids(tenant: str, run: Run, analyses: Iterable[AnalysisSpec]) -> list[str]:
    """The ids of the runs of ``run``'s burst: one per analysis the portfolio keeps, of the
    same version (``core.recompute``), when ``run`` is one of them; else none.

    A recompute's runs are created by the run worker as it takes each ``RunRequested``, so
    a burst's later runs may not exist yet when its first ones are rendered; their ids are
    known all the same (deterministic), so they are waited for.

    Parameters
    ----------
    tenant : str
        The runs' tenant.
    run : Run
        The run whose ``RunCompleted`` is handled: its data window's ``dataVersion`` and
        its ``asOf`` parameter name the burst.
    analyses : iterable of AnalysisSpec
        The portfolio's analyses now.
    """
    version = run.data_window.data_version if run.data_window else None
    if run.portfolio_id is None or version is None:
        return []
    as_of = run.parameters.get("asOf")
    identity = recompute_identity(version, date.fromisoformat(as_of) if as_of else None)
    ids = [recompute_run_id(tenant, run.portfolio_id, spec, identity) for spec in analyses]
    return ids if run.id in ids else []  # an API run, or the portfolio changed since


def unstarted_siblings(
    run: Run, siblings: Iterable[str], current: Iterable[Run], now: datetime | None = None
) -> list[str]:
    """The burst's runs not created yet, waited for within :data:`RUN_DEADLINE` of ``run``'s
    creation (past it their requests are presumed lost and hold nothing back)."""
    now = now or datetime.now(UTC)
    if now - run.created_at > RUN_DEADLINE:
        return []
    seen = {item.id for item in current}
    return [run_id for run_id in siblings if run_id not in seen]
