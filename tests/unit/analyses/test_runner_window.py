"""The window rule: a lake run ends at the last date the lake holds for its tickers.

Not at today, and not at a date taken from whatever triggered the run. The lake here is an
in-memory S3 that counts what it is asked, so these tests also pin down how the window is
found: one listing of the returns dataset, then only the year partitions that exist, newest
first until one holds the tickers, each fetched once.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from analyses.hrp import HrpRequest
from analyses.risk_parity import RiskParityRequest
from analyses.runner import (
    DEFAULT_LOOKBACK_DAYS,
    load_inputs,
    probe_years,
    window_bounds,
    window_years,
)
from core.exceptions import NotFoundError
from core.lake import RETURNS_PREFIX, partition_key
from core.models import AnalysisSpec
from lake import LakeAccessDenied

BUCKET = "data"
LAST = date(2024, 12, 31)  # a Tuesday: the last day the lake holds for A and B


def _weekdays(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _partition(rows: list[tuple[date, str, float]]) -> bytes:
    table = pa.table(
        {
            "date": pa.array([r[0] for r in rows], pa.date32()),
            "ticker": pa.array([r[1] for r in rows], pa.string()),
            "simple_return": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


class _Paginator:
    def __init__(self, s3: FakeS3) -> None:
        self._s3 = s3

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield self._s3.list_objects_v2(**kwargs)


class FakeS3:
    """The returns dataset in memory; counts every call; ``denied`` keys answer 403 as S3
    does to a role without an unconditional ``s3:ListBucket``."""

    def __init__(self, objects: dict[str, bytes], denied: set[str] | None = None) -> None:
        self.objects = objects
        self.denied = denied or set()
        self.gets: Counter[str] = Counter()
        self.listings: list[dict[str, Any]] = []

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_objects_v2"
        return _Paginator(self)

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["Bucket"] == BUCKET
        self.listings.append(kwargs)
        keys = sorted(k for k in self.objects if k.startswith(kwargs["Prefix"]))
        keys = keys[: kwargs.get("MaxKeys", 1000)]
        return {"KeyCount": len(keys), "Contents": [{"Key": k} for k in keys]}

    def get_object(
        self, *, Bucket: str, Key: str, Range: str | None = None, **pinned: Any
    ) -> dict[str, Any]:
        """S3's GetObject: whole, or a ``Range`` (``bytes=-N`` or ``bytes=a-b``) answered
        with its ``ContentRange``; ``VersionId``/``IfMatch`` must name the one version."""
        assert Bucket == BUCKET
        assert set(pinned) <= {"VersionId", "IfMatch"}, pinned
        if Key in self.denied or Key not in self.objects:
            self.gets[Key] += 1
            code = "AccessDenied" if Key in self.denied else "NoSuchKey"
            raise ClientError({"Error": {"Code": code}}, "GetObject")
        data, version = self.objects[Key], f"v-{Key.split('/')[2]}"
        assert pinned.get("VersionId", version) == version
        answer: dict[str, Any] = {"ETag": f'"etag-{Key[-20:]}"', "VersionId": version}
        if Range is None or (Range == f"bytes=-{len(data)}" and not pinned):
            self.gets[Key] += 1
            return {**answer, "Body": io.BytesIO(data)}
        first, last = Range.removeprefix("bytes=").split("-")
        start = max(0, len(data) - int(last)) if first == "" else int(first)
        end = len(data) - 1 if first == "" else min(int(last), len(data) - 1)
        if not pinned:
            self.gets[Key] += 1  # an object opened (later ranges are the same read)
        return {
            **answer,
            "Body": io.BytesIO(data[start : end + 1]),
            "ContentRange": f"bytes {start}-{end}/{len(data)}",
        }

    def years_read(self) -> list[int]:
        return sorted(int(k.split("year=")[1][:4]) for k in self.gets)


def _key(year: int) -> str:
    return partition_key(RETURNS_PREFIX, year)


def _lake() -> FakeS3:
    """A and B from mid-2021 to 2024-12-31; Z (another portfolio's) on into 2025."""
    by_year: dict[int, list[tuple[date, str, float]]] = {}
    for i, day in enumerate(_weekdays(date(2021, 7, 1), LAST)):
        by_year.setdefault(day.year, []).append((day, "A", 0.001 * ((i * 7) % 13 - 6)))
        by_year.setdefault(day.year, []).append((day, "B", 0.002 * ((i * 5) % 11 - 5)))
    for i, day in enumerate(_weekdays(date(2024, 6, 3), date(2025, 3, 31))):
        by_year.setdefault(day.year, []).append((day, "Z", 0.001 * (i % 3 - 1)))
    return FakeS3({_key(year): _partition(rows) for year, rows in by_year.items()})


# ------------------------------------------------------------------ pure
def test_probe_years_are_the_existing_ones_newest_first_none_after_as_of() -> None:
    assert probe_years([2021, 2025, 2023, 2024]) == [2025, 2024, 2023, 2021]
    assert probe_years([2021, 2025, 2023, 2024], date(2024, 6, 30)) == [2024, 2023, 2021]
    assert probe_years([2025], date(2024, 12, 31)) == []


def test_window_bounds_reach_lookback_days_back_from_the_end_unless_start_is_given() -> None:
    assert window_bounds(LAST, lookback_days=120) == (date(2024, 9, 2), LAST)
    assert window_bounds(LAST) == (LAST - timedelta(days=DEFAULT_LOOKBACK_DAYS), LAST)
    assert AnalysisSpec(type="hrp").lookback_days == DEFAULT_LOOKBACK_DAYS
    assert window_bounds(LAST, start=date(2024, 1, 2), lookback_days=None) == (
        date(2024, 1, 2),
        LAST,
    )


def test_window_years_are_the_existing_years_the_window_touches() -> None:
    assert window_years([2019, 2021, 2022, 2024, 2025], date(2021, 12, 1), LAST) == [
        2021,
        2022,
        2024,
    ]
    assert window_years([2025], date(2021, 12, 1), LAST) == []


# ------------------------------------------------------------------ through load_inputs
def test_the_window_ends_at_the_last_date_the_lake_holds_for_the_tickers() -> None:
    s3 = _lake()
    request = RiskParityRequest(portfolio_id="p-1", lookback_days=120)
    window = load_inputs(request, ["B", "A"], BUCKET, s3=s3).window
    assert (window.requested_start, window.requested_end) == (date(2024, 9, 2), LAST)
    assert (window.start, window.end) == (date(2024, 9, 2), LAST)
    assert window.observations == len(_weekdays(date(2024, 9, 2), LAST))
    assert (window.lookback_days, window.as_of) == (120, None)
    # One listing; 2025 (Z only) searched and found without A or B, then 2024; nothing older.
    assert [listing["Prefix"] for listing in s3.listings] == [RETURNS_PREFIX]
    assert s3.years_read() == [2024, 2025]
    assert set(s3.gets.values()) == {1}  # 2024 read once, for the end and for the window
    assert window.objects == [f"{_key(2024)}@v-year=2024", f"{_key(2025)}@v-year=2025"]


def test_a_long_window_reads_each_existing_year_once_and_no_year_that_is_not_there() -> None:
    s3 = _lake()
    del s3.objects[_key(2023)]  # a gap: not listed, so never asked for
    window = load_inputs(RiskParityRequest(portfolio_id="p-1"), ["A", "B"], BUCKET, s3=s3).window
    assert window.requested_start == date(2022, 1, 1) == LAST - timedelta(days=1095)
    assert (window.start, window.end) == (date(2022, 1, 3), LAST)  # 2022-01-03: a Monday
    assert window.observations == len(_weekdays(date(2022, 1, 1), date(2022, 12, 31))) + len(
        _weekdays(date(2024, 1, 1), LAST)
    )
    assert window.lookback_days == DEFAULT_LOOKBACK_DAYS
    assert s3.years_read() == [2022, 2024, 2025]  # not 2021 (before the window), not 2023
    assert set(s3.gets.values()) == {1}


def test_as_of_ends_the_window_at_the_last_date_held_on_or_before_it() -> None:
    s3 = _lake()
    request = HrpRequest(portfolio_id="p-1", as_of=date(2024, 6, 30), lookback_days=30)
    window = load_inputs(request, ["A", "B"], BUCKET, s3=s3).window
    assert window.as_of == date(2024, 6, 30)
    assert window.requested_end == date(2024, 6, 28)  # a Sunday asOf: Friday's data
    assert (window.start, window.end) == (date(2024, 5, 29), date(2024, 6, 28))
    assert 2025 not in s3.years_read()  # after asOf: never read


def test_an_explicit_end_wins_and_start_wins_over_the_lookback() -> None:
    s3 = _lake()
    request = RiskParityRequest(portfolio_id="p-1", end=date(2023, 3, 31), lookback_days=60)
    window = load_inputs(request, ["A", "B"], BUCKET, s3=s3).window
    assert (window.requested_start, window.requested_end) == (date(2023, 1, 30), date(2023, 3, 31))
    assert s3.years_read() == [2023]  # no search for the last date
    request = RiskParityRequest(portfolio_id="p-1", start=date(2024, 12, 2))
    window = load_inputs(request, ["A", "B"], BUCKET, s3=_lake()).window
    assert (window.start, window.end, window.lookback_days) == (date(2024, 12, 2), LAST, None)


def test_the_window_does_not_depend_on_today() -> None:
    # The committed sample ends 2024-12-31; read today, years later, the same window.
    first = load_inputs(
        RiskParityRequest(portfolio_id="p", lookback_days=120), ["A", "B"], BUCKET, s3=_lake()
    )
    again = load_inputs(
        RiskParityRequest(portfolio_id="p", lookback_days=120), ["A", "B"], BUCKET, s3=_lake()
    )
    assert first.window == again.window
    assert first.window.end == LAST < date.today()
    assert first.returns.tobytes() == again.returns.tobytes()


def test_tickers_the_lake_never_held_are_named() -> None:
    s3 = _lake()
    with pytest.raises(NotFoundError, match="No returns in the lake for Q, R") as caught:
        load_inputs(RiskParityRequest(portfolio_id="p-1"), ["R", "Q"], BUCKET, s3=s3)
    assert caught.value.details == ["tickers: Q, R"]
    assert s3.years_read() == [2021, 2022, 2023, 2024, 2025]  # each existing year once
    assert set(s3.gets.values()) == {1}
    with pytest.raises(NotFoundError, match="on or before asOf 2020-12-31"):
        load_inputs(
            RiskParityRequest(portfolio_id="p-1", as_of=date(2020, 12, 31)),
            ["A", "B"],
            BUCKET,
            s3=_lake(),
        )


def test_a_403_for_a_listed_partition_is_a_refusal_not_a_missing_year() -> None:
    s3 = _lake()
    s3.denied.add(_key(2025))
    with pytest.raises(LakeAccessDenied, match="AccessDenied"):
        load_inputs(RiskParityRequest(portfolio_id="p-1"), ["A", "B"], BUCKET, s3=s3)


# ------------------------------------------------------------------ the request's fields
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"end": "2024-12-31", "asOf": "2024-12-31"}, "give end or asOf, not both"),
        ({"start": "2024-01-02", "lookbackDays": 120}, "give start or lookbackDays, not both"),
        ({"start": "2024-07-01", "asOf": "2024-06-30"}, "start 2024-07-01 is after asOf"),
        ({"lookbackDays": 29}, "greater than or equal to 30"),
        ({"lookbackDays": 3651}, "less than or equal to 3650"),
    ],
)
def test_contradictory_windows_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RiskParityRequest.model_validate({"portfolioId": "p-1", **fields})


def test_inline_returns_take_no_lake_window() -> None:
    inline = {"AAPL": [0.01, 0.02], "MSFT": [0.02, 0.01]}
    for fields in ({"asOf": "2024-12-31"}, {"lookbackDays": 120}):
        with pytest.raises(ValidationError, match="apply to lake runs only"):
            RiskParityRequest.model_validate({"returns": inline, **fields})


def test_consistent_windows_are_accepted() -> None:
    for fields in (
        {"asOf": "2024-12-31", "lookbackDays": 120},
        {"end": "2024-12-31", "lookbackDays": 120},
        {"start": "2024-01-02", "asOf": "2024-12-31"},
        {"start": "2024-01-02", "end": "2024-12-31"},
    ):
        request = RiskParityRequest.model_validate({"portfolioId": "p-1", **fields})
        dumped = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        assert {k: dumped[k] for k in fields} == fields


# ------------------------------------------------------------------ whole history, extra tickers
def test_a_backtest_reads_the_whole_history_unless_told_otherwise() -> None:
    from analyses.backtest import BacktestRequest

    s3 = _lake()
    inputs = load_inputs(BacktestRequest(portfolio_id="p-1"), ["A", "B"], BUCKET, s3=s3)
    window = inputs.window
    assert window.requested_start == date(2021, 1, 1)  # the lake's first year
    assert (window.start, window.end) == (date(2021, 7, 1), LAST)
    assert window.lookback_days is None
    assert inputs.dates is not None
    assert len(inputs.dates) == window.observations
    assert (inputs.dates[0], inputs.dates[-1]) == (window.start, window.end)
    # lookbackDays still cuts it (a portfolio's AnalysisSpec may set one).
    cut = load_inputs(
        BacktestRequest(portfolio_id="p-1", lookback_days=120), ["A", "B"], BUCKET, s3=_lake()
    ).window
    assert (cut.requested_start, cut.lookback_days) == (date(2024, 9, 2), 120)
    assert AnalysisSpec(type="backtest").lookback_days is None  # kept fresh: all of it


def test_extra_tickers_come_on_the_assets_days_without_moving_the_window() -> None:
    s3 = _lake()
    request = RiskParityRequest(portfolio_id="p-1", start=date(2024, 1, 1))
    inputs = load_inputs(request, ["A", "B"], BUCKET, s3=s3, extra_tickers=["Z", "A"])
    assert inputs.tickers == ["A", "B"]
    assert inputs.returns.shape[1] == 2
    assert set(inputs.extra) == {"Z", "A"}
    # Z starts in June 2024: the common days are those every series has.
    assert inputs.dates is not None
    assert inputs.dates[0] == date(2024, 6, 3)
    assert inputs.window.end == LAST  # Z runs on into 2025: the assets' end holds
    assert len(inputs.extra["Z"]) == inputs.returns.shape[0]
    assert list(inputs.extra["A"]) == list(inputs.returns[:, 0])


def test_inline_extra_tickers_must_be_in_the_returns() -> None:
    from core.exceptions import UnprocessableError

    request = RiskParityRequest(returns={"A": [0.01, 0.02, 0.0], "B": [0.0, 0.01, -0.01]})
    inputs = load_inputs(request, None, BUCKET, extra_tickers=["B"])
    assert list(inputs.extra["B"]) == [0.0, 0.01, -0.01]
    assert inputs.dates is None
    with pytest.raises(UnprocessableError, match="no series for SPY"):
        load_inputs(request, None, BUCKET, extra_tickers=["SPY"])
