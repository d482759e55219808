"""The portfolio report assembled from its runs' rendered charts: no chart drawn twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from reports import charts, render_portfolio_report, render_run_report
from reports.handlers import _RunCharts
from reports.render import window_summary
from tests.unit.reports.test_reports_render import assert_self_contained

CHART_FUNCTIONS = [name for name in charts.__all__ if name.endswith("_chart")]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the calls of every chart function (the analyses call them as ``charts.X``)."""
    calls: Counter[str] = Counter()
    for name in CHART_FUNCTIONS:
        original = getattr(charts, name)

        def counted(*args: Any, _name: str = name, _f: Any = original, **kwargs: Any) -> bytes:
            calls[_name] += 1
            result: bytes = _f(*args, **kwargs)
            return result

        monkeypatch.setattr(charts, name, counted)
    return calls


def _from(images: Mapping[str, Mapping[str, bytes]]) -> Callable[[Mapping[str, Any], str], Any]:
    return lambda run, name: images.get(str(run["id"]), {}).get(name)


KEY_IMAGES = {  # portfolio report image → (run, the run report's image)
    "risk-parity-risk-contributions.png": ("risk-parity", "risk-contributions.png"),
    "hrp-dendrogram.png": ("hrp", "dendrogram.png"),
    "efficient-frontier-frontier.png": ("efficient-frontier", "frontier.png"),
    "simulate-fan.png": ("simulate", "fan.png"),
    "analyze-fan.png": ("analyze", "fan.png"),
}


def test_portfolio_report_reuses_the_run_reports_charts(
    runs: dict[str, dict[str, Any]], portfolio: dict[str, Any], drawn: Counter[str]
) -> None:
    reports = {name: render_run_report(run, portfolio) for name, run in runs.items()}
    drawn_for_runs = sum(drawn.values())
    assert drawn_for_runs == sum(len(r.images) for r in reports.values())
    images = {str(runs[name]["id"]): report.images for name, report in reports.items()}
    assembled = render_portfolio_report(portfolio, list(runs.values()), _from(images))
    assert sum(drawn.values()) == drawn_for_runs  # not one chart drawn again
    assert set(assembled.images) == set(KEY_IMAGES)
    for image, (run, chart) in KEY_IMAGES.items():
        assert assembled.images[image] == reports[run].images[chart]  # the very bytes
    assert_self_contained(assembled)


def test_assembled_and_drawn_portfolio_reports_are_the_same_bytes(
    runs: dict[str, dict[str, Any]], portfolio: dict[str, Any]
) -> None:
    every = list(runs.values())
    images = {str(run["id"]): render_run_report(run, portfolio).images for run in every}
    assert render_portfolio_report(portfolio, every, _from(images)) == render_portfolio_report(
        portfolio, every
    )


def test_a_chart_the_store_has_not_got_is_drawn_not_left_out(
    runs: dict[str, dict[str, Any]], portfolio: dict[str, Any], drawn: Counter[str]
) -> None:
    only_hrp = {str(runs["hrp"]["id"]): render_run_report(runs["hrp"], portfolio).images}
    drawn.clear()
    report = render_portfolio_report(portfolio, list(runs.values()), _from(only_hrp))
    assert set(report.images) == set(KEY_IMAGES)
    assert drawn["dendrogram_chart"] == 0
    assert drawn["risk_contribution_chart"] == drawn["frontier_chart"] == 1
    assert drawn["fan_chart"] == 2  # simulate and analyze


def test_each_section_names_the_data_window_its_run_read(
    runs: dict[str, dict[str, Any]], portfolio: dict[str, Any]
) -> None:
    lake = {
        **runs["hrp"],
        "dataWindow": {
            **runs["hrp"]["dataWindow"],
            "asOf": "2024-04-30",
            "lookbackDays": 90,
        },
    }
    html = render_portfolio_report(portfolio, [lake, runs["risk-parity"]]).html.decode()
    assert (
        "Data: 2021-05-03 to 2024-04-30, 500 observations of 6 assets, as of 2024-04-30, "
        "90-day lookback." in html
    )
    assert "Data: 2021-05-03 to 2024-04-30, 500 observations of 6 assets." in html
    run_page = render_run_report(lake, portfolio).html.decode()
    assert "As of" in run_page
    assert "90 days" in run_page
    assert window_summary(None) == "No data window recorded."
    assert window_summary({"source": "inline", "tickers": ["A", "B"], "observations": 3}) == (
        "Data: inline returns, 3 observations of 2 assets."
    )


class FakeStore:
    """ReportStore's read/write over a dict."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.writes: list[str] = []

    def read(self, prefix: str, name: str) -> bytes | None:
        return self.files.get(prefix + name)

    def write(
        self, prefix: str, files: dict[str, bytes], title: str, inputs: str | None = None
    ) -> dict[str, Any]:
        self.writes.append(prefix)
        self.files.update({prefix + name: body for name, body in files.items()})
        return {}


def test_the_handler_reads_stored_charts_and_renders_a_missing_run_report_once(
    runs: dict[str, dict[str, Any]], portfolio: dict[str, Any], drawn: Counter[str]
) -> None:
    hrp, frontier, current = runs["hrp"], runs["efficient-frontier"], runs["risk-parity"]
    stored = render_run_report(hrp, portfolio).images
    fresh = render_run_report(current, portfolio).images
    store = FakeStore({f"reports/demo/runs/{hrp['id']}/{k}": v for k, v in stored.items()})
    prefixes = {str(r["id"]): f"reports/demo/runs/{r['id']}/" for r in (hrp, frontier, current)}
    source = _RunCharts(store, prefixes, portfolio, {str(current["id"]): fresh})  # type: ignore[arg-type]
    drawn.clear()
    report = render_portfolio_report(portfolio, [hrp, frontier, current], source)
    assert report.images["hrp-dendrogram.png"] == stored["dendrogram.png"]  # read back
    assert report.images["risk-parity-risk-contributions.png"] == fresh["risk-contributions.png"]
    # the frontier run had no stored report: rendered (every chart once) and stored first
    prefix = f"reports/demo/runs/{frontier['id']}/"
    assert store.writes == [prefix]
    assert source.rerendered == [prefix]
    assert source.reused == 1
    assert report.images["efficient-frontier-frontier.png"] == store.files[prefix + "frontier.png"]
    assert drawn == Counter({"frontier_chart": 1, "weights_chart": 1})
