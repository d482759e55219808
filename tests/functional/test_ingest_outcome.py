"""`stratigos ingest` reads each file's outcome where the ingest function records it.

Through the local stack: what the CLI reads back for an object version is exactly what
IngestFunction returned for it (so a change of the landing's idempotency identity, or of
Powertools' key scheme, fails here), for every kind of outcome.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from stack_client import ingest_call, rows_csv, unique_tickers

from core.settings import settings
from local._ingest_outcome import LandingOutcome, LandingRecords, RawObject, describe_outcome
from local.cli import _await_landings

pytestmark = pytest.mark.functional


def _upload(stack: Any, name: str, body: bytes, key: str | None = None) -> RawObject:
    key = key or f"raw/prices/{uuid.uuid4().hex[:12]}/{name}"
    s3 = stack.client("s3")
    s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    return RawObject.head(s3, stack.bucket, key)


def _records(stack: Any) -> LandingRecords:
    return LandingRecords(stack.client("dynamodb"), settings().idempotency_table)


def test_every_kind_of_outcome_is_read_back_as_the_ingest_function_returned_it(
    local_stack: Any,
) -> None:
    good_ticker, bad_ticker = unique_tickers("O", 2)
    good = _upload(local_stack, "good.csv", rows_csv([("2024-01-02", good_ticker, 10.0)]))
    bad = _upload(
        local_stack,
        "bad.csv",
        rows_csv(
            [
                ("2024-01-02", bad_ticker, 10.0),
                ("2024-01-03", bad_ticker, -1),
                ("2024-01-04", bad_ticker.lower(), 3),
                ("2024-01-05", bad_ticker, "n/a"),
            ]
        ),
    )
    refused = _upload(local_stack, "refused.csv", b"when,what\n2024-01-02,1\n")
    local_stack.wait_idle()

    found = _records(local_stack).find([good, bad, refused])
    for obj in (good, bad, refused):
        returned = ingest_call(local_stack, obj.key).result
        assert found[obj] == LandingOutcome.from_result(returned)

    assert (found[good].status, found[good].rows_accepted, found[good].rows_rejected) == (
        "curated",
        1,
        0,
    )
    assert describe_outcome(good, found[good]) == ["good.csv: 1 row accepted, 0 quarantined"]
    assert found[bad].rejected_counts == {
        "BAD_NUMBER": 1,
        "BAD_TICKER": 1,
        "NON_POSITIVE_PRICE": 1,
    }
    report = f"quarantine/prices/{bad.key.removeprefix('raw/prices/')}/{bad.version_id}/report.json"
    assert describe_outcome(bad, found[bad]) == [
        "bad.csv: 1 row accepted, 3 quarantined (1 BAD_NUMBER, 1 BAD_TICKER, 1 NON_POSITIVE_PRICE)",
        f"  quarantine report: s3://{local_stack.bucket}/{report}",
    ]
    assert found[refused].file_rejected
    assert describe_outcome(refused, found[refused])[0].startswith(
        "refused.csv: file rejected, nothing curated (MISSING_COLUMN: "
    )
    s3 = local_stack.client("s3")
    for key in (report, found[refused].quarantine_key):
        s3.head_object(Bucket=local_stack.bucket, Key=key)


def test_each_version_of_a_file_has_its_own_outcome(local_stack: Any) -> None:
    (ticker,) = unique_tickers("O", 1)
    body = rows_csv([("2024-01-02", ticker, 10.0), ("2024-01-03", ticker, 11.0)])
    first = _upload(local_stack, "same.csv", body)
    local_stack.wait_idle()
    again = _upload(local_stack, "same.csv", body, key=first.key)  # the same bytes again
    local_stack.wait_idle()
    assert first.version_id != again.version_id
    found = _records(local_stack).find([first, again])
    assert (found[first].status, found[first].rows_accepted) == ("curated", 2)
    assert (found[again].status, found[again].rows_accepted) == ("unchanged", 2)
    assert describe_outcome(again, found[again]) == [
        "same.csv: 2 rows accepted, 0 quarantined; the lake already held them (nothing changed)"
    ]


def records_nothing(event: dict[str, Any], context: Any) -> None:
    """An IngestFunction stand-in that returns without landing (no outcome is recorded)."""


def test_an_outcome_that_never_comes_ends_the_wait_with_a_clear_message(
    local_stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = local_stack.runtime.functions["IngestFunction"]
    local_stack.runtime.functions["IngestFunction"] = replace(
        spec, handler=f"{__name__}.records_nothing"
    )
    try:
        obj = _upload(local_stack, "lost.csv", b"date,ticker,close\n")
        exit_code = _await_landings([obj], _records(local_stack), timeout_s=0.5)
        local_stack.wait_idle()
    finally:
        local_stack.runtime.functions["IngestFunction"] = spec
    assert exit_code == 1
    err = capsys.readouterr().err
    assert "waiting for ingest of lost.csv" in err
    assert f"stratigos: no ingest result for {obj.key} after 0.5 s" in err
    assert "--timeout SECONDS" in err
