"""Unit tests of the lake-aware checks: neighbours across years, the day-move rule, corrections."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.corrections import (
    CORRECTIONS_KEY,
    CORRECTIONS_RAW_PREFIX,
    is_corrections_key,
    parse_corrections,
)
from ingest.exceptions import FileRejectCode, FileRejectedError
from ingest.lake import PartitionStore
from ingest.plausibility import MAX_DAY_MOVE, MIN_DAY_MOVE, implausible_moves
from ingest.price_history import CLOSES_SCHEMA, read_price_neighbourhood
from ingest.schemas import PRICE_SCHEMA, PRICES_PREFIX
from ingest.validation import RejectReason, quarantine_rows, validate_prices

EPOCH = date(1970, 1, 1)
NOW = datetime(2025, 1, 2, tzinfo=UTC)


def closes(rows: list[tuple[str, date, float]]) -> pa.Table:
    """A ``date, ticker, close`` table."""
    return pa.Table.from_pylist(
        [{"date": d, "ticker": t, "close": c} for t, d, c in rows], schema=CLOSES_SCHEMA
    )


class FakePrices(PartitionStore):
    """Year partitions in memory; records which years were read."""

    def __init__(self, rows: list[tuple[str, date, float]]) -> None:
        super().__init__("bucket", PRICES_PREFIX, PRICE_SCHEMA, s3=object())
        table = closes(rows)
        self.partitions = {
            year: table.filter(pc.equal(pc.year(table["date"]), year))
            for year in {d.year for _, d, _ in rows}
        }
        self.reads: list[int] = []

    def years(self) -> list[int]:
        return sorted(self.partitions)

    def read(
        self, year: int, columns: list[str] | None = None
    ) -> tuple[pa.Table | None, str | None]:
        self.reads.append(year)
        table = self.partitions.get(year)
        if table is None:
            return None, None
        return (table.select(columns) if columns else table), f'"etag-{year}"'


def wanted(pairs: list[tuple[str, date]]) -> pa.Table:
    return pa.table(
        {
            "ticker": pa.array([t for t, _ in pairs], pa.string()),
            "date": pa.array([d for _, d in pairs], pa.date32()),
        }
    )


# ------------------------------------------------------------------ price history
LAKE = [
    ("A", date(2015, 6, 1), 10.0),
    ("B", date(2018, 6, 1), 20.0),
    ("A", date(2021, 6, 1), 11.0),
    ("A", date(2025, 1, 2), 12.0),
    ("B", date(2025, 1, 2), 21.0),
]


def test_the_previous_close_is_found_years_back_reading_only_the_years_walked() -> None:
    store = FakePrices(LAKE)
    found = read_price_neighbourhood(store, wanted([("A", date(2025, 1, 2))]))
    assert found.years_read == (2021, 2025)  # 2025 itself, then back to A's 2021
    assert sorted(set(store.reads)) == [2021, 2025]
    assert found.closes.to_pylist()[0] == {"date": date(2021, 6, 1), "ticker": "A", "close": 11.0}


def test_a_change_inside_a_gap_reads_both_ends_and_the_years_between() -> None:
    store = FakePrices(LAKE)
    found = read_price_neighbourhood(store, wanted([("A", date(2021, 6, 1))]))
    # Back: 2018 (B only), 2015 (A). Forward: 2025 (A).
    assert found.years_read == (2015, 2018, 2021, 2025)
    assert [r["ticker"] for r in found.closes.to_pylist()] == ["A"] * 3


def test_a_new_year_and_a_new_ticker_walk_to_the_lake_ends() -> None:
    store = FakePrices(LAKE)
    found = read_price_neighbourhood(store, wanted([("C", date(2023, 3, 1))]))
    assert found.years_read == (2015, 2018, 2021, 2025)
    assert found.closes.num_rows == 0


def test_each_partition_is_read_once() -> None:
    store = FakePrices(LAKE)
    read_price_neighbourhood(
        store, wanted([("A", date(2025, 1, 2)), ("B", date(2025, 1, 2)), ("A", date(2016, 1, 4))])
    )
    assert sorted(store.reads) == sorted(set(store.reads))


@settings(max_examples=50, deadline=None)
@given(
    lake=st.dictionaries(
        st.tuples(st.sampled_from("ABC"), st.integers(0, 4000)), st.floats(1, 100), max_size=30
    ),
    changes=st.lists(st.tuples(st.sampled_from("ABC"), st.integers(0, 4000)), min_size=1),
)
def test_the_neighbourhood_holds_each_dates_true_neighbours(
    lake: dict[tuple[str, int], float], changes: list[tuple[str, int]]
) -> None:
    start = date(2014, 1, 1)
    rows = [(t, start + timedelta(days=d), c) for (t, d), c in lake.items()]
    store = FakePrices(rows)
    pairs = [(t, start + timedelta(days=d)) for t, d in changes]
    found = read_price_neighbourhood(store, wanted(pairs)).closes.to_pylist()
    for ticker, day in pairs:
        mine = sorted(d for t, d, _ in rows if t == ticker)
        got = sorted(r["date"] for r in found if r["ticker"] == ticker)
        before = [d for d in mine if d < day]
        after = [d for d in mine if d > day]
        if before:  # the previous close, and nothing of the lake between it and the day
            assert before[-1] in got
            assert [d for d in got if before[-1] <= d < day] == [
                d for d in mine if before[-1] <= d < day
            ]
        if after:
            assert after[0] in got
            assert [d for d in got if day < d <= after[0]] == [
                d for d in mine if day < d <= after[0]
            ]


# ------------------------------------------------------------------ the day-move rule
D = [date(2024, 3, 1) + timedelta(days=i) for i in range(10)]


def no_ratios() -> Mapping[tuple[str, int], float]:
    raise AssertionError("the corrections are read only when a move is out of bounds")


def reasons(rejected: Mapping[int, tuple[RejectReason, str]]) -> dict[int, RejectReason]:
    return {position: reason for position, (reason, _) in rejected.items()}


def test_plausible_moves_pass_without_reading_the_corrections() -> None:
    incoming = closes([("A", D[1], 105.0), ("A", D[2], 1000.0)])  # +900 % is within bounds
    lake = closes([("A", D[0], 100.0), ("A", D[3], 999.0)])
    assert implausible_moves(incoming, lake, no_ratios) == {}


def test_the_bounds_are_inclusive() -> None:
    lake = closes([("A", D[0], 100.0)])
    assert implausible_moves(closes([("A", D[1], 100.0 * (1 + MAX_DAY_MOVE))]), lake, dict) == {}
    assert implausible_moves(closes([("A", D[1], 100.0 * (1 + MIN_DAY_MOVE))]), lake, dict) == {}
    assert reasons(implausible_moves(closes([("A", D[1], 1101.0)]), lake, dict)) == {
        0: RejectReason.IMPLAUSIBLE_MOVE
    }


def test_a_spike_in_a_file_is_quarantined_and_the_next_close_judged_against_the_one_before() -> (
    None
):
    incoming = closes([("A", D[0], 10.0), ("A", D[1], 1000.0), ("A", D[2], 10.5)])
    rejected = implausible_moves(incoming, closes([]), dict)
    assert reasons(rejected) == {1: RejectReason.IMPLAUSIBLE_MOVE}
    assert "+9900.00%" in rejected[1][1]
    assert "previous available close 10 on 2024-03-01" in rejected[1][1]


def test_the_previous_close_comes_from_the_lake() -> None:
    """The issue's probe, one level up: 0.5 in the lake, then 100."""
    rejected = implausible_moves(closes([("A", D[1], 100.0)]), closes([("A", D[0], 0.5)]), dict)
    assert reasons(rejected) == {0: RejectReason.IMPLAUSIBLE_MOVE}


def test_a_close_that_would_make_the_next_lake_close_jump_is_quarantined() -> None:
    lake = closes([("A", D[0], 100.0), ("A", D[5], 101.0)])
    rejected = implausible_moves(closes([("A", D[0], 1.0)]), lake, dict)  # a correction
    assert reasons(rejected) == {0: RejectReason.IMPLAUSIBLE_MOVE}
    assert "would make the next available close, 101 on 2024-03-06" in rejected[0][1]


def test_out_moves_pop_back_to_a_plausible_close() -> None:
    lake = closes([("A", D[0], 100.0), ("A", D[3], 4900.0), ("A", D[5], 100.0)])
    # D1 +900 %, D3 (correcting 4900) +400 %; then the lake's 100 on D5 would fall 98 %
    # from D3: D3 is refused, the lake keeps 4900 there, and D1 stays (4900 vs 1000: +390 %).
    incoming = closes([("A", D[1], 1000.0), ("A", D[3], 5000.0)])
    assert reasons(implausible_moves(incoming, lake, dict)) == {1: RejectReason.IMPLAUSIBLE_MOVE}


def test_tickers_are_judged_separately() -> None:
    incoming = closes([("A", D[1], 1000.0), ("B", D[1], 1000.0)])
    lake = closes([("A", D[0], 10.0), ("B", D[0], 999.0)])
    assert reasons(implausible_moves(incoming, lake, dict)) == {0: RejectReason.IMPLAUSIBLE_MOVE}


def test_a_split_is_accepted_only_on_the_corrected_date() -> None:
    day = (D[1] - EPOCH).days
    calls: list[int] = []

    def ratios() -> Mapping[tuple[str, int], float]:
        calls.append(1)
        return {("A", day): 100.0}

    incoming = closes([("A", D[1], 5.0), ("A", D[2], 5.1), ("B", D[1], 5.0)])
    lake = closes([("A", D[0], 500.0), ("B", D[0], 500.0)])
    assert reasons(implausible_moves(incoming, lake, ratios)) == {2: RejectReason.IMPLAUSIBLE_MOVE}
    assert calls == [1]  # read once, however many tickers need it
    # A wrong price on the split day is still caught (adjusted move +9,900 %).
    wrong = closes([("A", D[1], 500.0)])
    assert implausible_moves(wrong, lake.slice(0, 1), ratios) == {}  # its raw move is fine
    far_off = closes([("A", D[1], 0.01)])
    assert reasons(implausible_moves(far_off, lake.slice(0, 1), ratios)) == {
        0: RejectReason.IMPLAUSIBLE_MOVE
    }


@settings(max_examples=50, deadline=None)
@given(
    lake=st.dictionaries(st.integers(0, 12), st.sampled_from([0.01, 1.0, 5.0, 50.0, 5000.0])),
    incoming=st.dictionaries(st.integers(0, 12), st.sampled_from([0.01, 1.0, 5.0, 50.0, 5000.0])),
)
def test_every_move_a_landing_makes_is_plausible(
    lake: dict[int, float], incoming: dict[int, float]
) -> None:
    """After applying the accepted rows, every move touching one of them is in bounds."""
    start = date(2024, 1, 1)
    in_rows = sorted(incoming.items())
    rejected = implausible_moves(
        closes([("A", start + timedelta(days=d), c) for d, c in in_rows]),
        closes([("A", start + timedelta(days=d), c) for d, c in lake.items()]),
        dict,
    )
    accepted = {d: c for position, (d, c) in enumerate(in_rows) if position not in rejected}
    final = {**lake, **accepted}
    days = sorted(final)
    for earlier, later in itertools.pairwise(days):
        if earlier in accepted or later in accepted:
            move = final[later] / final[earlier] - 1
            assert MIN_DAY_MOVE <= move <= MAX_DAY_MOVE, (earlier, later, move)


def test_quarantined_moves_join_the_files_rejected_rows() -> None:
    text = "date,ticker,close,note\n2024-03-01,A,10,x\n2024-03-02,A,1000,y\n2024-03-03,A,bad,z\n"
    result = validate_prices(text.encode(), filename="p.csv", today=date(2024, 12, 31))
    assert result.record_numbers.tolist() == [1, 2]
    moved = quarantine_rows(result, implausible_moves(result.table, closes([]), dict))
    assert moved.table["close"].to_pylist() == [10.0]
    assert moved.record_numbers.tolist() == [1]
    assert [(r.row, str(r.reason)) for r in moved.rejected] == [
        (2, "IMPLAUSIBLE_MOVE"),
        (3, "BAD_NUMBER"),
    ]
    assert moved.rejected[0].values == {"date": "2024-03-02", "ticker": "A", "close": "1000"}
    assert moved.rejected_counts["IMPLAUSIBLE_MOVE"] == 1
    assert moved.rows_read == moved.rows_accepted + moved.rows_rejected


# ------------------------------------------------------------------ corrections files
def parse(text: str) -> pa.Table:
    return parse_corrections(
        text.encode(),
        source_key="raw/prices/_corrections/c.csv",
        source_version=None,
        source_time=NOW,
    )


def test_a_corrections_file_is_read_with_its_lineage() -> None:
    table = parse(
        "\ufeffTicker , DATE,ratio,note\nACME,2025-03-03,100,split\nBIG.B,2025-03-04,0.05,\n"
    )
    rows = table.to_pylist()
    assert [(r["ticker"], r["date"], r["ratio"], r["note"]) for r in rows] == [
        ("ACME", date(2025, 3, 3), 100.0, "split"),
        ("BIG.B", date(2025, 3, 4), 0.05, ""),
    ]
    assert {r["source_key"] for r in rows} == {"raw/prices/_corrections/c.csv"}
    assert parse("ticker,date,ratio\nACME,2025-03-03,2\n").column("note").to_pylist() == [None]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ticker,date\nACME,2025-03-03\n", "missing column(s) ['ratio']"),
        ("ticker,date,ratio\nacme,2025-03-03,2\n", "ticker 'acme'"),
        ("ticker,date,ratio\nACME,03/03/2025,2\n", "date '03/03/2025'"),
        ("ticker,date,ratio\nACME,1899-12-31,2\n", "date '1899-12-31'"),
        ("ticker,date,ratio\nACME,2025-03-03,-2\n", "ratio '-2'"),
        ("ticker,date,ratio\nACME,2025-03-03,nan\n", "ratio 'nan'"),
        ("ticker,date,ratio\nACME,2025-03-03,1e5\n", "ratio '1e5'"),
        ("ticker,date,ratio\nACME,2025-03-03,2\nACME,2025-03-03,3\n", "appears twice"),
        ("ticker,date,ratio\nACME,2025-03-03\n", "2 fields"),
        ("ticker,date,ratio\n", "no corrections"),
    ],
)
def test_a_bad_corrections_file_is_refused_whole(text: str, fragment: str) -> None:
    with pytest.raises(FileRejectedError) as raised:
        parse(text)
    assert raised.value.code == FileRejectCode.BAD_CORRECTIONS
    assert fragment in raised.value.message


def test_a_corrections_file_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(FileRejectedError, match="not UTF-8"):
        parse_corrections(
            b"ticker,date,ratio\n\xff\n", source_key="k", source_version=None, source_time=NOW
        )


def test_corrections_have_their_own_prefix_and_a_hidden_object() -> None:
    assert is_corrections_key(CORRECTIONS_RAW_PREFIX + "2025/splits.csv")
    assert not is_corrections_key("raw/prices/2025/prices.csv")
    # "_"-prefixed: Hive, Athena and pyarrow datasets skip it under the prices table.
    assert CORRECTIONS_KEY.startswith(PRICES_PREFIX + "_")
