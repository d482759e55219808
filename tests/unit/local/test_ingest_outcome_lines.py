"""What `stratigos ingest` prints for each kind of landing outcome."""

from __future__ import annotations

from local._ingest_outcome import LandingOutcome, RawObject, describe_outcome

_OBJ = RawObject(bucket="b", key="raw/prices/vendor/prices.csv", version_id="v1", etag="e")


def test_quarantined_rows_are_counted_by_reason_with_the_reports_key() -> None:
    outcome = LandingOutcome.from_result(
        {
            "status": "curated",
            "rows_read": 1_204,
            "rows_accepted": 1_200,
            "rows_rejected": 4,
            "rejected_counts": {"BAD_DATE": 3, "BAD_TICKER": 0, "MISSING_VALUE": 1},
            "quarantine_key": "quarantine/prices/vendor/prices.csv/v1/report.json",
        }
    )
    assert describe_outcome(_OBJ, outcome) == [
        "prices.csv: 1,200 rows accepted, 4 quarantined (3 BAD_DATE, 1 MISSING_VALUE)",
        "  quarantine report: s3://b/quarantine/prices/vendor/prices.csv/v1/report.json",
    ]


def test_a_refused_file_says_why_without_writing_control_characters() -> None:
    outcome = LandingOutcome.from_result(
        {
            "status": "rejected",
            "reason": "MISSING_COLUMN: header is ['\x1b[2Jdate']",
            "quarantine_key": "quarantine/prices/vendor/prices.csv/v1/report.json",
        }
    )
    lines = describe_outcome(_OBJ, outcome)
    assert lines[0] == (
        "prices.csv: file rejected, nothing curated (MISSING_COLUMN: header is ['?[2Jdate'])"
    )
    assert outcome.file_rejected


def test_a_landing_that_changed_nothing_says_so_and_a_reason_is_kept() -> None:
    unchanged = LandingOutcome.from_result(
        {"status": "unchanged", "rows_read": 2, "rows_accepted": 2}
    )
    assert describe_outcome(_OBJ, unchanged) == [
        "prices.csv: 2 rows accepted, 0 quarantined; the lake already held them (nothing changed)"
    ]
    corrections = LandingOutcome.from_result(
        {"status": "curated", "rows_accepted": 1, "reason": "corrections file: 1 stored"}
    )
    assert describe_outcome(_OBJ, corrections) == [
        "prices.csv: 1 row accepted, 0 quarantined; corrections file: 1 stored"
    ]
