"""The run worker reads a claim check only at the key the API would have written for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from core.lake import RUN_REQUESTS_PREFIX
from core.models import Run, RunStatus
from core.repositories import RunRepository
from core.settings import settings


def test_a_claim_check_naming_another_object_is_refused_unread(
    local_stack: Any, load_event: Any
) -> None:
    runs = RunRepository(settings().runs_table)
    run_id = f"r-claim{uuid.uuid4().hex[:8]}"
    runs.create(
        "demo",
        Run(
            id=run_id,
            portfolio_id=None,
            type="hrp",
            parameters={},
            status=RunStatus.QUEUED,
            created_at=datetime.now(UTC),
        ),
    )
    elsewhere = f"{RUN_REQUESTS_PREFIX}acme/{run_id}.json"  # another tenant's claim check
    local_stack.client("s3").put_object(Bucket=local_stack.bucket, Key=elsewhere, Body=b"{}")
    event = load_event("run_requested")  # as the API publishes it, pointed elsewhere
    event["detail"].update({"tenant": "demo", "runId": run_id, "requestKey": elsewhere})
    call = local_stack.runtime.invoke("RunWorkerFunction", event, trigger="test")
    assert call.error_type == "ValueError"
    assert "names another object" in (call.error or "")
    assert runs.get("demo", run_id).status is RunStatus.QUEUED  # nothing ran, nothing stored
