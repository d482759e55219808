"""A run's life, each transition written once, conditionally and typed.

::

    submit ──► queued ──start──► running ──succeed──► succeeded
                 │                  │
                 └──────fail────────┴──────fail─────► failed
    (queued or running past RUN_DEADLINE reads as failed: TIMED_OUT)

Every write is conditioned on the status the caller read (``RunRepository.save``), so two
deliveries of one event never both move a run, and a finished run is never reopened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from core.models import Run, RunError, RunStatus
from core.repositories import RunRepository

__all__ = ["RUN_DEADLINE", "RunLifecycle", "as_reported"]

# The longest a run may stay unfinished: the run worker's timeout (300 s) plus its two
# retries with Lambda's backoff, rounded up. Past it, a run reads as failed.
RUN_DEADLINE = timedelta(minutes=20)
_MAX_MESSAGE = 1000


def _now() -> datetime:
    return datetime.now(UTC)


def as_reported(run: Run, now: datetime | None = None) -> Run:
    """A run as callers see it: never ``queued``/``running`` past :data:`RUN_DEADLINE`."""
    now = now or _now()
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING) and now - run.created_at > RUN_DEADLINE:
        return run.model_copy(
            update={
                "status": RunStatus.FAILED,
                "error": RunError(
                    code="TIMED_OUT",
                    message=f"The run did not finish within {RUN_DEADLINE.seconds // 60} minutes.",
                ),
            }
        )
    return run


class RunLifecycle:
    """The transitions of a tenant's runs.

    Parameters
    ----------
    runs : RunRepository
        Where runs are kept (conditional writes).
    """

    def __init__(self, runs: RunRepository) -> None:
        self.runs = runs

    def submit(
        self,
        tenant: str,
        run_id: str,
        run_type: str,
        parameters: dict[str, Any],
        portfolio_id: str | None = None,
    ) -> Run:
        """Store a new queued run; the stored one when that id exists (idempotent ids)."""
        run = Run(
            id=run_id,
            portfolio_id=portfolio_id,
            type=run_type,
            parameters=parameters,
            status=RunStatus.QUEUED,
            created_at=_now(),
        )
        return run if self.runs.create(tenant, run) else self.runs.get(tenant, run_id)

    def start(self, tenant: str, run: Run) -> Run:
        """queued → running (ConflictError when another delivery started it first)."""
        running = run.model_copy(update={"status": RunStatus.RUNNING})
        self.runs.save(tenant, running, expected=RunStatus.QUEUED)
        return running

    def succeed(
        self,
        tenant: str,
        run: Run,
        *,
        before_recorded: Callable[[Run], object] | None = None,
    ) -> Run:
        """→ succeeded. ``before_recorded`` (e.g. writing the Parquet results) runs with the
        finished run before the item says so, so nothing reads "succeeded" without them."""
        done = run.model_copy(
            update={"status": RunStatus.SUCCEEDED, "error": None, "finished_at": _now()}
        )
        if before_recorded is not None:
            before_recorded(done)
        self.runs.save(tenant, done, expected=run.status)
        return done

    def fail(self, tenant: str, run: Run, code: str, message: str) -> Run:
        """→ failed, with the error callers see."""
        failed = run.model_copy(
            update={
                "status": RunStatus.FAILED,
                "error": RunError(code=code, message=message[:_MAX_MESSAGE]),
                "finished_at": _now(),
            }
        )
        self.runs.save(tenant, failed, expected=run.status)
        return failed
