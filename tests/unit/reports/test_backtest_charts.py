"""reports.charts: the backtest tearsheet's charts (equity, underwater, monthly heatmap,
rolling statistics, weights over time, turnover and costs) on realistic and hostile input."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reports import charts
from reports._theme import DPI, FIGSIZE, FIGSIZE_TALL
from reports.charts import (
    MAX_HEATMAP_YEARS,
    MAX_LINE_POINTS,
    _date_ticks,
    _downsample,
    _log_ticks,
    _monthly_table,
)
from tests.unit.reports.test_reports_render import png_size, png_text_keys

# Any warning (a singular axis limit, an all-NaN reduction, a legend without handles) fails.
pytestmark = pytest.mark.filterwarnings("error")

WIDE = (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
TALL = (int(FIGSIZE_TALL[0] * DPI), int(FIGSIZE_TALL[1] * DPI))
NAMES = ["Equal weight", "Risk parity", "HRP", "Min variance", "Max Sharpe", "Momentum", "60/40"]


def business_days(start: str, end: str) -> list[str]:
    days = np.arange(np.datetime64(start), np.datetime64(end))
    return [str(d) for d in days[np.is_busday(days)]]


DATES = business_days("2015-01-01", "2025-01-01")  # 10 years daily: 2,610 dates
N = len(DATES)
RNG = np.random.default_rng(17)
RETURNS = {k: RNG.normal(0.0003, 0.006 + 0.002 * i, N) for i, k in enumerate(NAMES)}
CURVES = {k: list(np.cumprod(1 + r)) for k, r in RETURNS.items()}
DRAWDOWNS = {
    k: list(np.asarray(c) / np.maximum.accumulate(np.asarray(c)) - 1) for k, c in CURVES.items()
}
WINDOW = 126
ROLLING: dict[str, list[float | None]] = {
    k: [None] * (WINDOW - 1)
    + [float(r[i - WINDOW + 1 : i + 1].std() * math.sqrt(252)) for i in range(WINDOW - 1, N)]
    for k, r in RETURNS.items()
}
MONTHS = [f"{y}-{m:02d}" for y in range(2015, 2025) for m in range(1, 13)]
MONTHLY = list(RNG.normal(0.007, 0.04, len(MONTHS)))
REBALANCES = DATES[::21]
ASSETS = [f"A{i:03d}" for i in range(500)]
_raw = RNG.gamma(0.5, 1.0, (len(REBALANCES), len(ASSETS))) * np.linspace(4, 0.1, len(ASSETS))
_raw /= _raw.sum(axis=1, keepdims=True)
WEIGHTS = {a: list(_raw[:, i]) for i, a in enumerate(ASSETS)}
TURNOVER = [3.2, 8.5, 5.1, 2.0, 14.3, 22.7, 0.4]
COSTS = [0.0021, 0.0062, 0.004, 0.0013, 0.011, 0.018, 0.0003]

CHARTS: dict[str, Callable[[], bytes]] = {
    "equity": lambda: charts.equity_curves_chart(DATES, CURVES, "Growth of 1", benchmark="60/40"),
    "equity-linear": lambda: charts.equity_curves_chart(
        DATES, CURVES, "Growth of 1", log_scale=False
    ),
    "underwater": lambda: charts.underwater_chart(DATES, DRAWDOWNS, "Drawdowns"),
    "heatmap": lambda: charts.monthly_returns_heatmap(MONTHS, MONTHLY, "Monthly returns"),
    "rolling-sharpe": lambda: charts.rolling_chart(DATES, ROLLING, "Rolling Sharpe", reference=0.0),
    "rolling-vol": lambda: charts.rolling_chart(DATES, ROLLING, "Rolling vol.", percent=True),
    "weights": lambda: charts.weights_area_chart(REBALANCES, WEIGHTS, "Target weights"),
    "turnover": lambda: charts.turnover_costs_chart(NAMES, TURNOVER, COSTS, "Turnover, costs"),
}


def assert_png(data: bytes, size: tuple[int, int] = WIDE) -> None:
    """A PNG of ``size`` that Pillow decodes, without a "Software" stamp, not blank."""
    assert png_size(data) == size
    assert b"Software" not in png_text_keys(data)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == size
        assert image.mode == "RGB"
        colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 2  # something drawn besides the white background


# ------------------------------------------------------------------ realistic input
@pytest.mark.parametrize("name", sorted(CHARTS))
def test_each_chart_is_a_deterministic_png_of_the_theme_size(name: str) -> None:
    first = CHARTS[name]()
    assert_png(first)
    assert len(first) > 10_000
    assert CHARTS[name]() == first


def test_all_backtest_charts_are_exported() -> None:
    for name in (
        "equity_curves_chart",
        "underwater_chart",
        "monthly_returns_heatmap",
        "rolling_chart",
        "weights_area_chart",
        "turnover_costs_chart",
    ):
        assert name in charts.__all__


def test_benchmark_and_scale_change_the_equity_chart() -> None:
    plain = charts.equity_curves_chart(DATES, CURVES, "Growth of 1")
    assert charts.equity_curves_chart(DATES, CURVES, "Growth of 1", benchmark="60/40") != plain
    assert charts.equity_curves_chart(DATES, CURVES, "Growth of 1", log_scale=False) != plain
    # a benchmark that is not one of the curves is ignored
    assert charts.equity_curves_chart(DATES, CURVES, "Growth of 1", benchmark="SPY") == plain


def test_unsorted_dates_are_drawn_in_date_order() -> None:
    order = RNG.permutation(N)
    dates = [DATES[i] for i in order]
    curves = {k: [c[i] for i in order] for k, c in CURVES.items()}
    shuffled = charts.equity_curves_chart(dates, curves, "Growth of 1")
    assert shuffled == charts.equity_curves_chart(DATES, CURVES, "Growth of 1")


# ------------------------------------------------------------------ hostile input
def _series_charts(dates: list[str], series: dict[str, list[Any]]) -> list[bytes]:
    """The four date-series charts on the same series."""
    return [
        charts.equity_curves_chart(
            dates, series, "Growth of 1", benchmark=next(iter(series), None)
        ),
        charts.underwater_chart(dates, series, "Drawdowns"),
        charts.rolling_chart(dates, series, "Rolling Sharpe", reference=0.0),
        charts.rolling_chart(dates, series, "Rolling volatility", percent=True),
        charts.weights_area_chart(dates, series, "Weights"),
    ]


DECADES = business_days("1960-01-01", "2025-01-01")
EDGE_CASES: dict[str, tuple[list[str], dict[str, list[Any]]]] = {
    "no dates, no series": ([], {}),
    "no dates": ([], {"A": [], "B": []}),
    "no series": (DATES[:50], {}),
    "one point": (["2024-05-31"], {"A": [1.0], "B": [0.98]}),
    "two points": (["2024-05-30", "2024-05-31"], {"A": [1.0, 1.01]}),
    "all equal": (DATES[:300], {"A": [1.0] * 300, "B": [1.0] * 300}),
    "zeros": (DATES[:300], {"A": [0.0] * 300, "B": [0.0] * 300}),
    "all None": (DATES[:300], {"A": [None] * 300}),
    "None and NaN gaps": (
        DATES,
        {
            "A": [None] * 125 + [0.5] * (N - 125),
            "B": [float("nan")] * 60 + list(np.linspace(-1, 2, N - 60)),
            "C": [1.0 if i % 500 > 20 else None for i in range(N)],
        },
    ),
    "infinities": (DATES[:100], {"A": [float("inf"), *[1.0] * 98, float("-inf")]}),
    "negative and positive": (DATES[:400], {"A": list(np.linspace(-0.5, 0.5, 400))}),
    "lengths differ from dates": (DATES[:100], {"A": [1.0] * 40, "B": [1.0] * 400}),
    "a time part in the dates": (
        ["2024-01-02T00:00:00", "2024-01-03T00:00:00"],
        {"A": [1.0, 1.1]},
    ),
    "decades of daily data": (
        DECADES,
        {"A": list(np.cumprod(1 + RNG.normal(0, 0.01, len(DECADES))))},
    ),
    "forty strategies": (
        DATES,
        {f"Strategy with a rather long name {i}": CURVES[NAMES[i % 7]] for i in range(40)},
    ),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_date_series_charts_take_odd_input(case: str) -> None:
    dates, series = EDGE_CASES[case]
    for data in _series_charts(dates, series):
        assert_png(data)


def test_equity_chart_with_a_non_positive_value_falls_back_to_linear() -> None:
    curves = {"A": [1.0, 0.5, 0.0, -0.2, 0.1], "B": [1.0] * 5}
    data = charts.equity_curves_chart(DATES[:5], curves, "Growth of 1")
    assert_png(data)
    assert data == charts.equity_curves_chart(DATES[:5], curves, "Growth of 1", log_scale=False)


def test_monthly_heatmap_takes_odd_input() -> None:
    cases: list[tuple[list[str], list[Any]]] = [
        ([], []),
        (["2024-03"], [0.012]),
        (["2024-03"], [float("nan")]),
        (["2024-01", "2024-02"], [0.0, 0.0]),
        (["2024-13", "not a month", "2024-00", "2024-05"], [0.1, 0.1, 0.1, -0.02]),
        (["2024-01", "2024-02", "2024-03"], [0.01]),  # fewer returns than months
        (MONTHS, [None] * len(MONTHS)),
        (["1990-01", "2024-12"], [0.5, -0.5]),  # 35 years, all but two months blank
    ]
    for months, returns in cases:
        data = charts.monthly_returns_heatmap(months, returns, "Monthly returns")
        assert png_size(data) in {WIDE, TALL}
        assert_png(data, png_size(data))


def test_monthly_heatmap_fits_decades_in_the_tall_figure() -> None:
    months = [f"{y}-{m:02d}" for y in range(1985, 2025) for m in range(1, 13)]
    data = charts.monthly_returns_heatmap(months, list(RNG.normal(0, 0.04, 480)), "40 years")
    assert_png(data, TALL)
    assert len(data) > 10_000


def test_monthly_table_compounds_years_and_leaves_missing_months_blank() -> None:
    years, grid, yearly = _monthly_table(
        ["2022-11", "2022-12", "2024-01", "2024-02", "2024-02", "junk", "2024-03"],
        [0.10, -0.10, 0.05, 0.99, 0.02, 0.5, float("nan")],
    )
    assert years == [2022, 2023, 2024]  # 2023: a blank row
    assert grid.shape == (3, 12)
    assert yearly.shape == (3, 1)
    assert grid[0, 10] == pytest.approx(0.10)
    assert grid[0, 11] == pytest.approx(-0.10)
    assert np.isnan(grid[0, :10]).all()
    assert np.isnan(grid[1]).all()
    assert grid[2, 1] == pytest.approx(0.02)  # the last of a repeated month
    assert np.isnan(grid[2, 2])  # NaN return: blank
    assert yearly[0, 0] == pytest.approx(1.10 * 0.90 - 1)
    assert np.isnan(yearly[1, 0])
    assert yearly[2, 0] == pytest.approx(1.05 * 1.02 - 1)


def test_monthly_table_keeps_the_latest_years() -> None:
    years, grid, _ = _monthly_table(["1900-01", "2024-06"], [0.01, 0.02])
    assert len(years) == MAX_HEATMAP_YEARS
    assert years[-1] == 2024
    assert grid[-1, 5] == pytest.approx(0.02)


def test_weights_area_lumps_small_assets_into_others() -> None:
    by_mean = sorted(WEIGHTS, key=lambda a: float(np.mean(WEIGHTS[a])))
    small, smaller, largest = by_mean[1], by_mean[0], by_mean[-1]
    base = charts.weights_area_chart(REBALANCES, WEIGHTS, "Target weights")
    # two of the smallest assets trading their weights: "others" (their sum) is unchanged
    swapped = dict(WEIGHTS)
    swapped[small], swapped[smaller] = WEIGHTS[smaller], WEIGHTS[small]
    assert charts.weights_area_chart(REBALANCES, swapped, "Target weights") == base
    # half the largest asset's weight moving into the smallest one: a different picture
    moved = dict(WEIGHTS)
    moved[largest] = [w / 2 for w in WEIGHTS[largest]]
    moved[smaller] = [a + w / 2 for a, w in zip(WEIGHTS[smaller], WEIGHTS[largest], strict=True)]
    assert charts.weights_area_chart(REBALANCES, moved, "Target weights") != base


def test_weights_area_takes_shorts_and_few_assets() -> None:
    dates = REBALANCES[:24]
    cases: list[dict[str, list[Any]]] = [
        {"A": [1.0] * 24},
        {"A": [1.3] * 24, "B": [-0.3] * 24},
        {f"T{i}": [1 / 13] * 24 for i in range(13)},  # 13: all shown, no "1 others"
        {"A": [0.6] * 24, "B": [None] * 24},
    ]
    for weights in cases:
        assert_png(charts.weights_area_chart(dates, weights, "Weights"))


def test_turnover_costs_chart_takes_odd_input() -> None:
    many = [f"Strategy {i}" for i in range(40)]
    cases: list[tuple[list[str], list[Any], list[Any], tuple[int, int]]] = [
        ([], [], [], WIDE),
        (["Only"], [0.0], [0.0], WIDE),
        (["A", "B"], [float("nan"), 2.0], [0.01, None], WIDE),
        (["A", "B", "C"], [1.0, -0.5], [0.01, 0.02, 0.03], WIDE),  # lengths differ
        (["A", "B"], [-1.0, -2.0], [-0.01, 0.0], WIDE),
        (many, list(np.linspace(0, 30, 40)), list(np.linspace(0, 0.03, 40)), TALL),
    ]
    for names, turnover, costs, size in cases:
        data = charts.turnover_costs_chart(names, turnover, costs, "Turnover and costs")
        assert_png(data, size)


# ------------------------------------------------------------------ helpers
def test_downsample_keeps_extremes_gaps_and_ends() -> None:
    rng = np.random.default_rng(3)
    y = np.cumsum(rng.normal(0, 1, 100_000))
    y[12_345] = y.max() + 50  # a one-day spike
    y[67_890] = y.min() - 50  # and crash
    y[40_000:40_003] = np.nan  # a short gap
    kept = _downsample(y)
    assert len(kept) <= MAX_LINE_POINTS + 10
    assert np.all(np.diff(kept) > 0)  # in order, no repeats
    assert kept[0] == 0
    assert kept[-1] == len(y) - 1
    assert 12_345 in kept
    assert 67_890 in kept
    assert np.nanmax(y[kept]) == np.nanmax(y)
    assert np.nanmin(y[kept]) == np.nanmin(y)
    assert np.isnan(y[kept]).any()  # the gap stays a gap


def test_downsample_keeps_every_bucket_extreme() -> None:
    y = np.sin(np.linspace(0, 200 * np.pi, 50_000))
    kept = _downsample(y, limit=1_000)
    assert len(kept) <= 1_000
    # every one of the 100 peaks and troughs survives, to within the bucket's resolution
    assert (y[kept] > 0.999).sum() >= 100
    assert (y[kept] < -0.999).sum() >= 100


def test_downsample_short_and_degenerate_series() -> None:
    assert list(_downsample(np.arange(10.0))) == list(range(10))
    assert list(_downsample(np.empty(0))) == []
    leading = np.r_[np.full(5_000, np.nan), np.ones(5_000)]  # a rolling window's lead-in
    kept = _downsample(leading)
    assert np.isnan(leading[kept]).any()
    assert (leading[kept] == 1.0).any()
    assert len(_downsample(np.full(10_000, np.nan))) <= MAX_LINE_POINTS


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(0.95, 1.05), (0.8, 1.6), (0.5, 8.0), (0.9, 30.0), (1.0, 1e6), (1e-9, 1e9), (0.999, 1.001)],
)
def test_log_ticks_are_round_multiples_inside_the_range(lo: float, hi: float) -> None:
    ticks = _log_ticks(lo, hi)
    assert 1 <= len(ticks) <= 9
    assert all(lo <= t <= hi for t in ticks)
    assert ticks == sorted(set(ticks))
    for tick in ticks:  # round numbers: 0.5, 1.5, 2, 0.96, 1.0005
        assert float(f"{tick:.5g}") == tick
    assert len(ticks) >= 4


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2015-01-02", "2024-12-31", "2016"),
        ("1960-01-04", "2024-12-31", "1970"),
        ("2024-01-02", "2024-12-31", "Mar"),
        ("2024-01-02", "2024-03-28", "Jan 2024"),
        ("2024-03-04", "2024-03-15", "Mar 2024"),
    ],
)
def test_date_ticks_use_years_months_or_days(start: str, end: str, expected: str) -> None:
    lo, hi = (float(np.datetime64(d, "D").astype(np.int64)) for d in (start, end))
    positions, labels = _date_ticks(lo, hi)
    assert 2 <= len(positions) <= 10
    assert len(labels) == len(positions)
    assert all(lo <= p <= hi for p in positions)
    assert any(expected in label for label in labels)
