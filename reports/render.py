"""Run and portfolio reports: PNG charts and one self-contained HTML page.

``render_run_report(run, portfolio)`` and ``render_portfolio_report(portfolio, runs)`` take the
API's JSON shapes (``Run`` / ``Portfolio`` dumped with ``mode="json", by_alias=True``) and
return a :class:`RenderedReport`: the page (every chart a ``data:`` URI PNG, CSS inline, no
script, no external request) and the same charts as PNG files. Rendering is deterministic: the
same input gives the same bytes. matplotlib and jinja2 are imported on the first render, not at
import.

The portfolio report shows each run's key chart. Given ``stored`` (a :data:`StoredChart`, e.g.
reading the run report's PNG back from S3), it reuses those bytes instead of drawing the chart
again; it draws a chart only when ``stored`` has none for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.analysis import UnknownAnalysisError, analyses, analysis
from reports.page import (
    Chart,
    RunView,
    describe,
    num,
    weights_table,
    when,
)

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "RenderedReport",
    "StoredChart",
    "render_portfolio_report",
    "render_run_report",
    "window_summary",
]

TEMPLATES = Path(__file__).parent / "templates"

StoredChart = Callable[[Mapping[str, Any], str], bytes | None]
"""``stored(run, name)``: the PNG ``name`` (e.g. ``"fan.png"``) of ``run``'s rendered report,
or ``None`` when there is none (the portfolio report then draws it)."""


@dataclass(frozen=True)
class RenderedReport:
    """A rendered report: the HTML page, its charts as PNG files, and its title."""

    html: bytes
    images: dict[str, bytes]
    title: str


def _label(run_type: str) -> str:
    try:
        return analysis(run_type).label
    except UnknownAnalysisError:
        return run_type


def _portfolio_assets(portfolio: Mapping[str, Any] | None) -> dict[str, float] | None:
    if not portfolio or not isinstance(portfolio.get("assets"), dict):
        return None
    return {str(k): float(v) for k, v in portfolio["assets"].items()}


def _window_rows(window: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not window:
        return []
    tickers = list(window.get("tickers") or [])
    shown = ", ".join(tickers[:40]) + (
        f" … ({len(tickers) - 40} more)" if len(tickers) > 40 else ""
    )
    rows = [
        ("Source", "inline returns" if window.get("source") == "inline" else "data lake"),
        ("Assets", f"{len(tickers)}: {shown}"),
        ("Observations", num(window.get("observations"))),
        ("Start", str(window.get("start") or "–")),
        ("End", str(window.get("end") or "–")),
    ]
    if window.get("asOf"):
        rows.append(("As of", str(window["asOf"])))
    if window.get("lookbackDays") is not None:
        rows.append(("Lookback", f"{num(window['lookbackDays'])} days"))
    if window.get("requestedStart") or window.get("requestedEnd"):
        asked = f"{window.get('requestedStart') or '…'} to {window.get('requestedEnd') or '…'}"
        rows.append(("Window asked for", asked))
    if window.get("dataVersion"):
        rows.append(("Data version", str(window["dataVersion"])))
    objects = list(window.get("objects") or [])
    if objects:
        rows.append(("Objects read", describe(objects)))
    return rows


def window_summary(window: Mapping[str, Any] | None) -> str:
    """One line for a portfolio-report section: the data window the run read.

    E.g. "Data: 2021-05-03 to 2024-04-30, 500 observations of 6 assets, as of 2024-04-30,
    90-day lookback". A run without a recorded window says so.
    """
    if not window:
        return "No data window recorded."
    tickers = list(window.get("tickers") or [])
    span = (
        f"{window['start']} to {window['end']}, "
        if window.get("start") and window.get("end")
        else ("inline returns, " if window.get("source") == "inline" else "")
    )
    parts = [f"Data: {span}{num(window.get('observations'))} observations of {len(tickers)} assets"]
    if window.get("asOf"):
        parts.append(f"as of {window['asOf']}")
    if window.get("lookbackDays") is not None:
        parts.append(f"{num(window['lookbackDays'])}-day lookback")
    return ", ".join(parts) + "."


def _reused(chart: Chart, run: Mapping[str, Any], stored: StoredChart) -> Chart:
    """``chart`` whose PNG comes from ``stored``, drawn only when ``stored`` has none."""

    def png() -> bytes:
        return stored(run, chart.name) or chart.draw()

    return Chart(chart.name, chart.title, chart.caption, png)


def _run_view(
    run: Mapping[str, Any],
    portfolio: Mapping[str, Any] | None,
    key_chart_only: bool = False,
    stored: StoredChart | None = None,
) -> RunView:
    run_type = str(run.get("type", "unknown"))
    status = str(run.get("status", "unknown"))
    view = RunView(
        id=str(run.get("id", "–")),
        type=run_type,
        label=_label(run_type),
        status=status,
        created=when(run.get("createdAt")),
        finished=when(run.get("finishedAt")),
        parameters=[
            (str(k), describe(v)) for k, v in sorted((run.get("parameters") or {}).items())
        ],
        window=_window_rows(run.get("dataWindow")),
        window_summary=window_summary(run.get("dataWindow")),
    )
    result = run.get("result")
    if status == "failed":
        error = run.get("error") or {}
        view.notice = (
            "This run failed, so there are no results to show. "
            f"Error {error.get('code', 'UNKNOWN')}: {error.get('message', 'no message recorded')}"
        )
        return view
    if status != "succeeded":
        view.notice = f"This run is {status}: its results are not ready yet."
        return view
    if not isinstance(result, dict):
        view.notice = "This run succeeded but recorded no result."
        return view
    own = _portfolio_assets(portfolio)
    tickers = list((run.get("dataWindow") or {}).get("tickers") or [])
    try:
        section = analysis(run_type).report
    except UnknownAnalysisError:
        section = None
    if section is None:
        view.notice = f"Reports do not know run type {run_type!r} yet."
        return view
    try:
        section.build(view, result, own, tickers)
        if key_chart_only:
            key = section.key_chart
            view.charts = [c for c in view.charts if c.name == key] or view.charts[:1]
        if stored is not None:
            view.charts = [_reused(chart, run, stored) for chart in view.charts]
        for chart in view.charts:  # drawn (or read) now: a failure becomes the notice below
            _ = chart.png
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        view.charts.clear()
        view.tables.clear()
        view.notice = f"This run's result could not be read ({type(exc).__name__}: {exc})."
    return view


# ------------------------------------------------------------------ public API
@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _portfolio_rows(portfolio: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if portfolio is None:
        return None
    assets = _portfolio_assets(portfolio) or {}
    return {
        "name": str(portfolio.get("name") or "Unnamed portfolio"),
        "description": str(portfolio.get("description") or ""),
        "rows": [
            ("Id", str(portfolio.get("id", "–"))),
            ("Version", num(portfolio.get("version"))),
            ("Assets", num(len(assets))),
            ("Updated", when(portfolio.get("updatedAt"))),
        ],
        "weights": weights_table([("Weight", assets)]) if assets else None,
    }


def _page(template: str, title: str, **context: Any) -> bytes:
    from reports._theme import PALETTE

    html = _environment().get_template(template).render(title=title, palette=PALETTE, **context)
    return html.encode("utf-8")


def render_run_report(
    run: dict[str, Any], portfolio: dict[str, Any] | None = None
) -> RenderedReport:
    """One run's report: parameters, data window, metric tables and its charts.

    ``run`` is ``Run.model_dump(mode="json", by_alias=True)``; ``portfolio`` (the same for a
    ``Portfolio``) adds the portfolio's section and its own weights to the weight charts. A
    failed or unfinished run gives a page that says so.
    """
    view = _run_view(run, portfolio)
    info = _portfolio_rows(portfolio)
    title = f"{view.label} report" + (f" — {info['name']}" if info else "") + f" ({view.id})"
    html = _page("run.html.j2", title, run=view, portfolio=info)
    return RenderedReport(html, {c.name: c.png for c in view.charts}, title)


def _latest(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run type: the latest succeeded run, else the latest of any status (by createdAt)."""
    chosen: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda r: (str(r.get("createdAt") or ""), str(r.get("id") or ""))):
        run_type = str(run.get("type"))
        current = chosen.get(run_type)
        if (
            current is None
            or run.get("status") == "succeeded"
            or current.get("status") != "succeeded"
        ):
            chosen[run_type] = run
    rank = {a.name: i for i, a in enumerate(analyses())}  # the registry's order
    return [chosen[t] for t in sorted(chosen, key=lambda t: (rank.get(t, len(rank)), t))]


def render_portfolio_report(
    portfolio: dict[str, Any],
    runs: list[dict[str, Any]],
    stored: StoredChart | None = None,
) -> RenderedReport:
    """The portfolio with its latest run of each type side by side: a table and key charts.

    Parameters
    ----------
    portfolio : dict
        ``Portfolio.model_dump(mode="json", by_alias=True)``.
    runs : list of dict
        Its runs, the same shape. Per type the latest succeeded run is shown (the latest of
        any status when none succeeded).
    stored : StoredChart, optional
        Where the runs' already rendered charts are: each shown chart is read from it and
        drawn only when it answers ``None``. Without it every key chart is drawn.

    Returns
    -------
    RenderedReport
        Each run's key chart named ``<type>-<chart>.png``; each section names the data window
        its run read.
    """
    views = [_run_view(run, portfolio, key_chart_only=True, stored=stored) for run in _latest(runs)]
    images: dict[str, bytes] = {}
    for view in views:
        for chart in view.charts:
            chart.name = f"{view.type}-{chart.name}"
            images[chart.name] = chart.png
    info = _portfolio_rows(portfolio)
    assert info is not None
    title = f"Portfolio report — {info['name']}"
    metrics = sorted(
        {k for v in views for k in v.summary},
        key=lambda k: list(_SUMMARY_ORDER).index(k) if k in _SUMMARY_ORDER else 99,
    )
    html = _page("portfolio.html.j2", title, runs=views, portfolio=info, metrics=metrics)
    return RenderedReport(html, images, title)


_SUMMARY_ORDER = (
    "Expected return",
    "Volatility",
    "Sharpe ratio",
    "VaR 95%",
    "CVaR 95%",
    "Probability of loss",
)
