"""reports.charts: the efficient frontier beside the unconstrained one (a portfolio's mandate)
and the prior-vs-posterior expected returns of its views, on realistic and hostile input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reports import charts
from tests.unit.reports.test_backtest_charts import TALL, WIDE, assert_png

# Any warning (a singular axis limit, an all-NaN reduction, a legend without handles) fails.
pytestmark = pytest.mark.filterwarnings("error")

RNG = np.random.default_rng(29)
VOLS = np.linspace(0.10, 0.26, 20)
FREE = [(float(v), float(0.02 + 0.6 * (v - 0.1) ** 0.7)) for v in VOLS]
HELD = [(v + 0.004 * i / 19, r - 0.002 * i / 19) for i, (v, r) in enumerate(FREE)]
MARKS = [
    ("Minimum variance", HELD[0][0], HELD[0][1]),
    ("Maximum Sharpe", HELD[8][0], HELD[8][1]),
    ("Portfolio", 0.15, 0.05),
    ("Maximum Sharpe (unconstrained)", FREE[9][0], FREE[9][1]),
]
ASSETS = [f"A{i:03d}" for i in range(500)]
PRIOR = {a: float(v) for a, v in zip(ASSETS, RNG.normal(0.06, 0.03, len(ASSETS)), strict=True)}
POSTERIOR = {a: v + float(RNG.normal(0.0, 0.02)) for a, v in PRIOR.items()}


def _few(n: int) -> tuple[dict[str, float], dict[str, float]]:
    names = ASSETS[:n]
    return {a: PRIOR[a] for a in names}, {a: POSTERIOR[a] for a in names}


def test_the_new_charts_are_exported() -> None:
    assert "expected_returns_chart" in charts.__all__
    assert "frontier_chart" in charts.__all__


def test_the_frontier_beside_the_unconstrained_one() -> None:
    both = charts.frontier_chart(HELD, MARKS, "Efficient frontier", unconstrained=FREE)
    assert_png(both)
    assert len(both) > 10_000
    assert charts.frontier_chart(HELD, MARKS, "Efficient frontier", unconstrained=FREE) == both
    alone = charts.frontier_chart(HELD, MARKS[:3], "Efficient frontier")
    assert alone != both
    # No unconstrained points draw the one frontier, as before.
    assert charts.frontier_chart(HELD, MARKS[:3], "Efficient frontier", unconstrained=[]) == alone


@pytest.mark.parametrize(("n", "size"), [(1, WIDE), (5, WIDE), (12, WIDE), (13, TALL), (500, TALL)])
def test_expected_returns_chart_sizes(n: int, size: tuple[int, int]) -> None:
    prior, posterior = _few(n)
    image = charts.expected_returns_chart(prior, posterior, "Prior vs posterior")
    assert_png(image, size)
    assert charts.expected_returns_chart(prior, posterior, "Prior vs posterior") == image


def test_expected_returns_chart_keeps_the_assets_the_views_move_most() -> None:
    moved = dict(POSTERIOR)
    moved["A499"] = PRIOR["A499"] + 0.5  # far the largest change: always shown
    many = charts.expected_returns_chart(PRIOR, moved, "Prior vs posterior")
    assert many != charts.expected_returns_chart(PRIOR, POSTERIOR, "Prior vs posterior")
    assert_png(many, TALL)


ODD: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "empty": ({}, {}),
    "zeros": ({"A": 0.0, "B": 0.0}, {"A": 0.0, "B": 0.0}),
    "negative": ({"A": -0.2, "B": 0.1}, {"A": -0.35, "B": -0.05}),
    "non-finite": ({"A": float("nan"), "B": None}, {"A": float("inf"), "B": 0.04, "C": "x"}),
    "no prior": ({}, {"A": 0.05, "B": 0.07}),
    "hostile names": (
        {"<script>alert(1)</script>": 0.05, "&amp;" * 20: 0.02},
        {"<script>alert(1)</script>": 0.08, "&amp;" * 20: -0.01},
    ),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_expected_returns_chart_takes_odd_input(case: str) -> None:
    prior, posterior = ODD[case]
    assert_png(charts.expected_returns_chart(prior, posterior, "Prior vs posterior"))
