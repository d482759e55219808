"""reports.charts: the tail-risk analyses' charts (the mean-CVaR frontier, the drawdowns with
CDaR) on realistic and hostile input."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reports import charts
from reports._theme import DPI, FIGSIZE
from tests.unit.reports.test_reports_render import png_size, png_text_keys

# Any warning (a singular axis limit, an all-NaN reduction, a legend without handles) fails.
pytestmark = pytest.mark.filterwarnings("error")

WIDE = (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
RNG = np.random.default_rng(23)
FRONTIER = [(0.011 + 0.012 * x**2, 0.04 + 0.2 * x) for x in np.linspace(0, 1, 20)]
MARKS = [("Minimum CVaR", *FRONTIER[0]), ("Portfolio", 0.016, 0.09)]
DAYS = [str(d) for d in np.busday_offset("2022-01-03", np.arange(750), roll="forward")]


def _underwater(scale: float) -> list[float]:
    cumulative = np.cumsum(RNG.normal(0.0004, scale, len(DAYS)))
    return list(cumulative - np.maximum(np.maximum.accumulate(cumulative), 0.0))


DRAWDOWNS = {"Min CDaR": _underwater(0.006), "Equal weight": _underwater(0.01)}
LEVELS = {"Min CDaR": 0.08, "Equal weight": 0.15}


def assert_png(data: bytes, size: tuple[int, int] = WIDE) -> None:
    """A PNG of ``size`` that Pillow decodes, without a "Software" stamp, not blank."""
    assert png_size(data) == size
    assert b"Software" not in png_text_keys(data)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.mode == "RGB"
        colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 2


def test_the_tail_risk_charts_are_exported() -> None:
    assert {"cvar_frontier_chart", "cdar_underwater_chart"} <= set(charts.__all__)


def test_the_cvar_frontier_is_a_deterministic_png() -> None:
    first = charts.cvar_frontier_chart(FRONTIER, MARKS, "Mean-CVaR frontier", beta=0.95)
    assert_png(first)
    assert first == charts.cvar_frontier_chart(FRONTIER, MARKS, "Mean-CVaR frontier", beta=0.95)
    # The marks and the confidence level are drawn.
    assert first != charts.cvar_frontier_chart(FRONTIER, MARKS[:1], "Mean-CVaR frontier", beta=0.95)
    assert first != charts.cvar_frontier_chart(FRONTIER, MARKS, "Mean-CVaR frontier", beta=0.99)


def test_the_cdar_underwater_chart_is_a_deterministic_png_with_its_levels() -> None:
    first = charts.cdar_underwater_chart(DAYS, DRAWDOWNS, LEVELS, "Drawdowns")
    assert_png(first)
    assert first == charts.cdar_underwater_chart(DAYS, DRAWDOWNS, LEVELS, "Drawdowns")
    assert first != charts.cdar_underwater_chart(DAYS, DRAWDOWNS, {}, "Drawdowns")
    # Without levels it is the underwater chart's drawing, legend aside.
    assert_png(charts.cdar_underwater_chart(DAYS, DRAWDOWNS, {}, "Drawdowns"))


@pytest.mark.parametrize(
    ("points", "marks"),
    [
        ([], []),
        ([], [("Minimum CVaR", 0.01, 0.05)]),
        ([(0.01, 0.05)], [("Minimum CVaR", 0.01, 0.05)]),
        ([(0.01, 0.05)] * 20, [("Minimum CVaR", 0.01, 0.05)]),  # every point the same
        ([(float("nan"), 0.05), (0.02, float("inf")), (0.03, 0.1)], [("Portfolio", 0.02, np.nan)]),
        ([(0.0, 0.0), (0.0, 0.0)], [("A mark with a rather long name indeed", 0.0, 0.0)]),
        ([(0.01, -0.3), (0.05, 0.8)], [("Minimum CVaR", 0.01, -0.3)]),
    ],
    ids=["empty", "marks only", "one point", "all equal", "non-finite", "zeros", "negative"],
)
def test_the_cvar_frontier_takes_odd_input(points: list[Any], marks: list[Any]) -> None:
    assert_png(charts.cvar_frontier_chart(points, marks, "Frontier", beta=0.9))


@pytest.mark.parametrize(
    ("dates", "series", "levels"),
    [
        ([], {}, {}),
        (DAYS[:1], {"Min CDaR": [0.0]}, {"Min CDaR": 0.0}),
        (DAYS[:100], {"Min CDaR": [0.0] * 100}, {"Min CDaR": 0.0}),  # never under water
        (DAYS[:100], {"Min CDaR": [None] * 100}, {"Min CDaR": float("nan")}),
        (DAYS, DRAWDOWNS, {"Someone else": 0.2, "Min CDaR": float("inf")}),
        (DAYS[:50], {"Min CDaR": [-0.9] * 50}, {"Min CDaR": 2.0}),  # CDaR below the series
    ],
    ids=["empty", "one day", "flat", "all None", "unknown and infinite levels", "deep"],
)
def test_the_cdar_underwater_chart_takes_odd_input(
    dates: list[str], series: dict[str, list[Any]], levels: dict[str, float]
) -> None:
    assert_png(charts.cdar_underwater_chart(dates, series, levels, "Drawdowns"))
