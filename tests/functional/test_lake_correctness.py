"""The lake stays right under hostile or awkward input (issue 14, items 1-3), through the stack.

* Dates: a zone-aware Parquet timestamp is the day of its own zone, never UTC's; a
  date-time off midnight is quarantined (``DATE_HAS_TIME``).
* Returns: always from the ticker's previous available close, wherever it lies, after any
  sequence of landings, corrections and insertions; the whole-lake SQL check of
  docs/INGEST.md (``LAG(close)`` over prices against returns) finds no wrong row.
* Plausibility: prices outside [1e-6, 1e9] and day moves outside [−95 %, +1,000 %] are
  quarantined with their reason; a split gets in only through a corrections file.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stack_client import http_json, ingest_call, rows_csv, unique_tickers

from core.bus import EventBus
from core.settings import settings as stratigos_settings
from ingest.curate import SourceObject, land_price_file, read_manifest
from ingest.lake import PartitionStore
from ingest.returns import daily_returns, update_returns
from ingest.schemas import PRICE_SCHEMA, PRICES_PREFIX, RETURNS_PREFIX, RETURNS_SCHEMA
from local.sql import LakeSql

pytestmark = pytest.mark.functional

INGEST_DOC = Path(__file__).resolve().parents[2] / "docs" / "INGEST.md"


# ------------------------------------------------------------------ helpers
def _land(stack: Any, body: bytes, name: str = "prices.csv", folder: str = "raw/prices/") -> Any:
    """Land ``body`` through the stack's event chain; the ingest invocation's result."""
    # Time-ordered keys: a later landing is newer even within S3's one-second resolution.
    key = f"{folder}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}/{name}"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    stack.wait_idle()
    return ingest_call(stack, key).result


def _lake_rows(stack: Any, prefix: str, schema: pa.Schema, tickers: list[str]) -> pa.Table:
    store = PartitionStore(stack.bucket, prefix, schema, s3=stack.client("s3"))
    rows = store.read_years(store.years(), filter_tickers=tickers)
    return rows.take(pc.sort_indices(rows, [("ticker", "ascending"), ("date", "ascending")]))


def _closes(stack: Any, ticker: str) -> dict[date, float]:
    rows = _lake_rows(stack, PRICES_PREFIX, PRICE_SCHEMA, [ticker]).to_pylist()
    return {row["date"]: row["close"] for row in rows}


def _returns(stack: Any, ticker: str) -> dict[date, tuple[date, float]]:
    rows = _lake_rows(stack, RETURNS_PREFIX, RETURNS_SCHEMA, [ticker]).to_pylist()
    return {row["date"]: (row["prev_date"], row["simple_return"]) for row in rows}


def _report(stack: Any, result: dict[str, Any]) -> dict[str, Any]:
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key=result["quarantine_key"])
    report: dict[str, Any] = json.loads(body["Body"].read())
    return report


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _wrong_returns_sql() -> str:
    """docs/INGEST.md's whole-lake check, as documented (the block titled below)."""
    blocks = re.findall(r"```sql\n(.*?)```", INGEST_DOC.read_text(), flags=re.DOTALL)
    [sql] = [b for b in blocks if b.startswith("-- Returns that disagree with the prices")]
    return sql


def _wrong_returns(stack: Any) -> list[dict[str, Any]]:
    """Run the whole-lake check on the local DuckDB engine (a fresh one sees every write)."""
    # The prices and returns tables come from the template (provisioned with the stack).
    engine = LakeSql(stack.session, stratigos_settings().glue_database, stack.endpoint_url)
    try:
        rows: list[dict[str, Any]] = engine.query(_wrong_returns_sql()).to_pylist()
    finally:
        engine.close()
    return rows


# ------------------------------------------------------------------ item 1: dates
def test_a_tokyo_parquet_file_lands_on_its_own_days(local_stack: Any) -> None:
    (ticker,) = unique_tickers("L", 1)
    tokyo = ZoneInfo("Asia/Tokyo")
    table = pa.table(
        {
            "date": pa.array(
                [datetime(2025, 1, day, tzinfo=tokyo) for day in (6, 7, 8)],
                pa.timestamp("us", tz="Asia/Tokyo"),
            ),
            "ticker": [ticker] * 3,
            "close": [100.0, 101.0, 102.0],
        }
    )
    result = _land(local_stack, _parquet(table), name="tokyo.parquet")
    assert result["rows_accepted"] == 3, result
    assert list(_closes(local_stack, ticker)) == [date(2025, 1, day) for day in (6, 7, 8)]
    assert _returns(local_stack, ticker)[date(2025, 1, 7)][0] == date(2025, 1, 6)


def test_csv_date_times_follow_the_same_rule(local_stack: Any) -> None:
    (ticker,) = unique_tickers("L", 1)
    body = rows_csv(
        [
            ("2025-01-06T00:00:00+09:00", ticker, 100.0),  # Tokyo's midnight: Jan 6
            ("2025-01-07T00:00:00Z", ticker, 101.0),
            ("2025-01-08T09:30:00+09:00", ticker, 102.0),  # a time of day: which day?
        ]
    )
    result = _land(local_stack, body)
    assert result["rows_accepted"] == 2, result
    assert result["rejected_counts"]["DATE_HAS_TIME"] == 1, result
    [row] = _report(local_stack, result)["rejected_rows"]
    assert row["reason"] == "DATE_HAS_TIME"
    assert "time of day" in row["message"]
    assert list(_closes(local_stack, ticker)) == [date(2025, 1, 6), date(2025, 1, 7)]


# ------------------------------------------------------------------ item 2: returns over gaps
def test_a_correction_across_a_multi_year_gap_updates_the_next_return(local_stack: Any) -> None:
    """The issue's probe: 2021-06-01 = 10, 2025-01-02 = 20, then 2021-06-01 corrected to 5."""
    (ticker,) = unique_tickers("L", 1)
    _land(local_stack, rows_csv([("2021-06-01", ticker, 10.0), ("2025-01-02", ticker, 20.0)]))
    assert _returns(local_stack, ticker) == {date(2025, 1, 2): (date(2021, 6, 1), 1.0)}

    _land(local_stack, rows_csv([("2021-06-01", ticker, 5.0)]), name="correction.csv")
    assert _returns(local_stack, ticker) == {date(2025, 1, 2): (date(2021, 6, 1), 3.0)}

    # An insertion inside the gap gets its own return and becomes the next one's previous.
    _land(local_stack, rows_csv([("2023-03-01", ticker, 8.0)]), name="insertion.csv")
    returns = _returns(local_stack, ticker)
    assert returns[date(2023, 3, 1)] == (date(2021, 6, 1), pytest.approx(8.0 / 5.0 - 1))
    assert returns[date(2025, 1, 2)] == (date(2023, 3, 1), pytest.approx(20.0 / 8.0 - 1))
    assert len(returns) == 2


class _Bus:
    """Stands in for the platform bus: the test runs the returns step itself."""

    def put(self, source: Any, detail_type: Any, detail: dict[str, Any]) -> str:
        del source, detail_type, detail
        return "test-event"


# A few dates over eleven years: gaps of days, months and years, both sides of New Year.
POOL = [
    date(2015, 3, 2),
    date(2015, 12, 31),
    date(2016, 1, 4),
    date(2018, 7, 2),
    date(2019, 12, 31),
    date(2021, 6, 1),
    date(2021, 6, 2),
    date(2023, 3, 1),
    date(2024, 12, 31),
    date(2025, 1, 2),
]
_landing = st.lists(
    st.tuples(
        st.integers(0, 1),  # which ticker
        st.sampled_from(POOL),
        st.integers(50, 150),  # closes whose moves stay plausible: nothing is quarantined
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda row: (row[0], row[1]),
)


def _land_directly(stack: Any, rows: list[tuple[str, str, float]]) -> None:
    """One landing through the real landing and returns code, driven by the test: the file
    goes outside ``raw/prices/`` (no event) and the returns step runs on its manifest."""
    s3 = stack.client("s3")
    key = f"tmp/tests/correctness/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.csv"
    put = s3.put_object(Bucket=stack.bucket, Key=key, Body=rows_csv(rows))
    source = SourceObject(stack.bucket, key, put.get("VersionId"), put["ETag"])
    result = land_price_file(source, bus=cast(EventBus, _Bus()), s3=s3)
    assert result.rows_rejected == 0, result
    if result.manifest_key:
        update_returns(read_manifest(s3, stack.bucket, result.manifest_key), stack.bucket, s3)


def test_returns_equal_a_from_scratch_recompute_after_any_landing_sequence(
    fresh_stack: Any,
) -> None:
    """Random sequences of landings, corrections (a date again) and insertions (a date
    inside a gap) for two tickers each; after each sequence the tickers' returns equal a
    from-scratch recompute of their prices, and after all of them the whole-lake SQL check
    finds no wrong row. A stack of its own, so that the check sees only these landings."""
    stack = fresh_stack

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(landings=st.lists(_landing, min_size=1, max_size=6))
    def sequence_keeps_returns_right(landings: list[list[tuple[int, date, int]]]) -> None:
        tickers = unique_tickers("L", 2)
        expected_closes: dict[tuple[str, date], float] = {}
        for landing in landings:
            rows = [(d.isoformat(), tickers[which], float(close)) for which, d, close in landing]
            _land_directly(stack, rows)
            for day, ticker, close in rows:
                expected_closes[(ticker, date.fromisoformat(day))] = close
        prices = _lake_rows(stack, PRICES_PREFIX, PRICE_SCHEMA, tickers)
        got_closes = {(r["ticker"], r["date"]): r["close"] for r in prices.to_pylist()}
        assert got_closes == expected_closes  # the newest value of each landed key
        stored = _lake_rows(stack, RETURNS_PREFIX, RETURNS_SCHEMA, tickers)
        scratch = daily_returns(prices.select(["date", "ticker", "close"]))
        columns = ["ticker", "date", "prev_date", "simple_return", "log_return"]
        assert stored.select(columns).to_pylist() == scratch.select(columns).to_pylist()

    sequence_keeps_returns_right()
    assert _wrong_returns(stack) == []


def test_the_whole_lake_check_finds_a_planted_wrong_return(fresh_stack: Any) -> None:
    """The SQL check is not vacuous: a return edited behind the pipeline's back is found."""
    stack = fresh_stack
    (ticker,) = unique_tickers("L", 1)
    _land(stack, rows_csv([("2022-05-02", ticker, 10.0), ("2022-05-03", ticker, 11.0)]))
    store = PartitionStore(stack.bucket, RETURNS_PREFIX, RETURNS_SCHEMA, s3=stack.client("s3"))

    def plant(current: pa.Table | None) -> pa.Table | None:
        assert current is not None
        mine = pc.equal(current["ticker"], ticker)
        wrong = pc.if_else(mine, 0.5, current["simple_return"])
        return current.set_column(2, "simple_return", wrong)

    store.upsert(2022, plant)
    try:
        wrong = _wrong_returns(stack)
        assert [(row["ticker"], row["date"]) for row in wrong] == [(ticker, date(2022, 5, 3))]
    finally:
        _land(stack, rows_csv([("2022-05-03", ticker, 12.0)]), name="repair.csv")
    assert _wrong_returns(stack) == []


# ------------------------------------------------------------------ item 3: plausibility
def test_implausible_prices_and_moves_are_quarantined_with_their_reason(local_stack: Any) -> None:
    """The issue's probe: closes of 1e-300 then 100 used to make a return of 1e+302."""
    tiny, jump = unique_tickers("L", 2)
    day = date.today() - timedelta(days=30)
    days = [(day + timedelta(days=i)).isoformat() for i in range(3)]
    result = _land(
        local_stack,
        rows_csv(
            [
                (days[0], tiny, "1e-300"),
                (days[1], tiny, 100.0),
                (days[0], jump, 0.5),
                (days[1], jump, 100.0),  # +19,900 %
                (days[2], jump, 0.52),  # back in line with 0.5
            ]
        ),
    )
    assert result["rejected_counts"]["PRICE_OUT_OF_RANGE"] == 1, result
    assert result["rejected_counts"]["IMPLAUSIBLE_MOVE"] == 1, result
    reasons = {
        r["row"]: (r["reason"], r["message"]) for r in _report(local_stack, result)["rejected_rows"]
    }
    assert reasons[1][0] == "PRICE_OUT_OF_RANGE"
    assert reasons[4][0] == "IMPLAUSIBLE_MOVE"
    assert "+19900.00%" in reasons[4][1], reasons[4][1]
    assert _returns(local_stack, jump)[date.fromisoformat(days[2])][1] == pytest.approx(0.04)
    # The market-data API serves nothing absurd.
    status, body = http_json(
        f"{local_stack.api_url}/market-data/returns?tickers={tiny},{jump}"
        f"&start={days[0]}&end={days[2]}"
    )
    assert status == 200, body
    served = [r for s in body["series"].values() for r in s["simpleReturn"]]
    assert all(-0.95 <= r <= 10 for r in served), served


def test_a_close_that_would_make_the_next_move_implausible_is_quarantined(
    local_stack: Any,
) -> None:
    (ticker,) = unique_tickers("L", 1)
    _land(local_stack, rows_csv([("2024-03-01", ticker, 100.0), ("2024-03-05", ticker, 101.0)]))
    # A correction of 03-01 to 1.0 would make 03-05 move +10,000 %: refused, 100 stays.
    result = _land(local_stack, rows_csv([("2024-03-01", ticker, 1.0)]), name="bad-fix.csv")
    assert result["rejected_counts"]["IMPLAUSIBLE_MOVE"] == 1, result
    [row] = _report(local_stack, result)["rejected_rows"]
    assert "next available close" in row["message"], row
    assert _closes(local_stack, ticker) == {date(2024, 3, 1): 100.0, date(2024, 3, 5): 101.0}


def test_a_split_gets_in_only_through_a_corrections_file(local_stack: Any) -> None:
    (ticker,) = unique_tickers("L", 1)
    _land(local_stack, rows_csv([("2024-06-03", ticker, 500.0)]))
    split_day = rows_csv([("2024-06-04", ticker, 5.0), ("2024-06-05", ticker, 5.1)])
    refused = _land(local_stack, split_day, name="split.csv")
    # −99 %, and the day after is judged against the previous available close, still 500.
    assert refused["rejected_counts"]["IMPLAUSIBLE_MOVE"] == 2, refused
    assert list(_closes(local_stack, ticker)) == [date(2024, 6, 3)]

    # A malformed corrections file is refused as a whole, with a report.
    bad = b"ticker,date,ratio\n" + f"{ticker},2024-06-04,-100\n".encode()
    rejected = _land(local_stack, bad, name="bad.csv", folder="raw/prices/_corrections/")
    assert rejected["status"] == "rejected", rejected
    assert rejected["reason"].startswith("BAD_CORRECTIONS:"), rejected

    note = "100-for-1 split"
    good = f"ticker,date,ratio,note\n{ticker},2024-06-04,100,{note}\n".encode()
    stored = _land(local_stack, good, name="split.csv", folder="raw/prices/_corrections/")
    assert stored["status"] == "curated", stored
    assert stored["manifest_key"] is None, stored  # nothing curated, nothing announced

    accepted = _land(local_stack, split_day, name="split-again.csv")
    assert accepted["rows_rejected"] == 0, accepted
    returns = _returns(local_stack, ticker)
    assert returns[date(2024, 6, 4)] == (date(2024, 6, 3), pytest.approx(-0.99))  # the raw move
    assert returns[date(2024, 6, 5)] == (date(2024, 6, 4), pytest.approx(0.02))
    # The corrections object sits under curated/prices/ but is no partition of it: the
    # SQL engine reads the prices table over that prefix without tripping on it.
    engine = LakeSql(
        local_stack.session, stratigos_settings().glue_database, local_stack.endpoint_url
    )
    try:
        counted = engine.query(f"SELECT count(*) AS n FROM prices WHERE ticker = '{ticker}'")
    finally:
        engine.close()
    assert counted.to_pylist() == [{"n": 3}]
