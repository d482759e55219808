"""Run and portfolio reports: PNG charts and one self-contained HTML page.

``render_run_report(run, portfolio)`` and ``render_portfolio_report(portfolio, runs)`` take the
API's JSON shapes (``Run`` / ``Portfolio`` dumped with ``mode="json", by_alias=True``) and
return a :class:`RenderedReport`: the page (every chart a ``data:`` URI PNG, CSS inline, no
script, no external request) and the same charts as PNG files. Rendering is deterministic: the
same input gives the same bytes. matplotlib and jinja2 are imported on the first render, not at
import.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

__all__ = ["RenderedReport", "render_portfolio_report", "render_run_report"]

TEMPLATES = Path(__file__).parent / "templates"
TYPE_LABELS = {
    "risk-parity": "Risk parity",
    "hrp": "Hierarchical risk parity",
    "efficient-frontier": "Efficient frontier",
    "simulate": "Monte Carlo simulation",
    "analyze": "Path analysis",
}
TYPE_ORDER = list(TYPE_LABELS)
MAX_LIST_SHOWN = 12


@dataclass(frozen=True)
class RenderedReport:
    """A rendered report: the HTML page, its charts as PNG files, and its title."""

    html: bytes
    images: dict[str, bytes]
    title: str


# ------------------------------------------------------------------ formatting
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def pct(value: Any, decimals: int = 2) -> str:
    """0.1234 → "12.34%"; anything not a finite number → "–"."""
    number = _number(value)
    return "–" if number is None else f"{number * 100:.{decimals}f}%"


def num(value: Any, decimals: int = 2) -> str:
    number = _number(value)
    if number is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{number:,.{decimals}f}"


def when(value: Any) -> str:
    """An ISO timestamp as "2024-05-01 12:30:05 UTC" (the run's own time, never now)."""
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    zone = moment.tzname() or ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")


def describe(value: Any) -> str:
    """A parameter value for people: long lists and inline returns are summarised."""
    if isinstance(value, list):
        if len(value) > MAX_LIST_SHOWN:
            return f"{len(value):,} values"
        return ", ".join(describe(item) for item in value)
    if isinstance(value, dict):
        parts = [f"{key}: {describe(item)}" for key, item in list(value.items())[:MAX_LIST_SHOWN]]
        if len(value) > MAX_LIST_SHOWN:
            parts.append(f"… {len(value) - MAX_LIST_SHOWN} more")
        return "; ".join(parts)
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "–"
    return str(value)


# ------------------------------------------------------------------ the page model
@dataclass
class Chart:
    name: str  # the PNG's file name, e.g. "weights.png"
    title: str
    caption: str
    draw: Callable[[], bytes]  # drawn on first use: a portfolio report keeps one per run

    @cached_property
    def png(self) -> bytes:
        return self.draw()

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class RunView:
    """What the templates show of one run."""

    id: str
    type: str
    label: str
    status: str
    created: str
    finished: str
    notice: str = ""  # why there is nothing to show (failed, still running, no result)
    parameters: list[tuple[str, str]] = field(default_factory=list)
    window: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)


def _label(run_type: str) -> str:
    return TYPE_LABELS.get(run_type, run_type)


def _metrics_table(title: str, rows: list[tuple[str, Mapping[str, Any]]]) -> Table:
    return Table(
        title,
        ["", "Expected return (ann.)", "Volatility (ann.)", "Sharpe ratio"],
        [
            [name, pct(m.get("expectedReturn")), pct(m.get("volatility")), num(m.get("sharpe"))]
            for name, m in rows
        ],
    )


def _weights_table(
    columns: list[tuple[str, Mapping[str, float]]], order: list[str] | None = None
) -> Table:
    tickers = order or sorted(columns[0][1], key=lambda t: (-columns[0][1][t], t))
    seen = set(tickers)
    for _, values in columns[1:]:
        tickers += sorted(t for t in values if t not in seen)
        seen.update(values)
    return Table(
        "Weights",
        ["Asset", *[name for name, _ in columns]],
        [[t, *[pct(values.get(t, 0.0)) for _, values in columns]] for t in tickers],
    )


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
    if window.get("dataVersion"):
        rows.append(("Data version", str(window["dataVersion"])))
    objects = list(window.get("objects") or [])
    if objects:
        rows.append(("Objects read", describe(objects)))
    return rows


# ------------------------------------------------------------------ per run type
def _risk_parity(view: RunView, result: Mapping[str, Any], own: dict[str, float] | None) -> None:
    from reports import _charts

    weights, risk = result["weights"], result.get("riskContributions") or {}
    metrics = result.get("metrics") or {}
    view.charts.append(
        Chart(
            "weights.png",
            "Weights",
            "Risk-parity weights" + (" beside the portfolio's own weights." if own else "."),
            lambda: _charts.weights_chart(weights, "Risk-parity weights", own),
        )
    )
    if risk:
        view.charts.append(
            Chart(
                "risk-contributions.png",
                "Risk contributions",
                "Each asset's share of portfolio volatility next to its weight; in risk parity "
                "the shares match the risk budgets.",
                lambda: _charts.risk_contribution_chart(weights, risk, "Risk contributions"),
            )
        )
    table = _metrics_table("Metrics", [("Risk parity", metrics)])
    table.rows[0] += [num(metrics.get("iterations")), f"{metrics.get('maxBudgetError', 0):.1e}"]
    table.header += ["Iterations", "Max budget error"]
    view.tables.append(table)
    columns = [("Weight", weights), ("Risk contribution", risk)]
    view.tables.append(_weights_table(columns + ([("Portfolio", own)] if own else [])))
    view.summary = _summary(metrics)


def _hrp(
    view: RunView, result: Mapping[str, Any], own: dict[str, float] | None, tickers: list[str]
) -> None:
    from reports import _charts

    weights = result["weights"]
    metrics = result.get("metrics") or {}
    names = tickers if len(tickers) == len(weights) else list(weights)
    view.charts.append(
        Chart(
            "dendrogram.png",
            "Cluster tree and allocation",
            "The hierarchical clustering of the assets' correlations (height: cluster distance) "
            "with the HRP weight of each asset below, in the tree's leaf order.",
            lambda: _charts.dendrogram_chart(
                result.get("linkageMatrix") or [], names, weights, "HRP cluster tree"
            ),
        )
    )
    view.charts.append(
        Chart(
            "weights.png",
            "Weights",
            "HRP weights" + (" beside the portfolio's own weights." if own else "."),
            lambda: _charts.weights_chart(weights, "HRP weights", own),
        )
    )
    view.tables.append(_metrics_table("Metrics", [("HRP", metrics)]))
    order = [t for t in result.get("order") or [] if t in weights] or None
    view.tables.append(
        _weights_table([("Weight", weights)] + ([("Portfolio", own)] if own else []), order)
    )
    if order:
        view.tables[-1].note = "Assets in the cluster tree's order."
    view.summary = _summary(metrics)


def _frontier(view: RunView, result: Mapping[str, Any], own: dict[str, float] | None) -> None:
    from reports import _charts

    points = result.get("points") or []
    named = [
        ("Minimum variance", result.get("minVariance")),
        ("Maximum Sharpe", result.get("maxSharpe")),
        ("Portfolio", result.get("portfolio")),
    ]
    present = [(name, p) for name, p in named if p]
    view.charts.append(
        Chart(
            "frontier.png",
            "Efficient frontier",
            f"{len(points)} efficient portfolios (annualised volatility against expected return)"
            " with the minimum-variance and maximum-Sharpe portfolios"
            + (" and the portfolio's own point" if result.get("portfolio") else "")
            + " marked.",
            lambda: _charts.frontier_chart(
                [(p["volatility"], p["expectedReturn"]) for p in points],
                [(name, p["volatility"], p["expectedReturn"]) for name, p in present],
                "Efficient frontier",
            ),
        )
    )
    best = result.get("maxSharpe")
    if best and best.get("weights"):
        view.charts.append(
            Chart(
                "weights.png",
                "Maximum-Sharpe weights",
                "Weights of the maximum-Sharpe portfolio"
                + (" beside the portfolio's own weights." if own else "."),
                lambda: _charts.weights_chart(best["weights"], "Maximum-Sharpe weights", own),
            )
        )
    view.tables.append(_metrics_table("Marked portfolios", present))
    view.tables.append(
        _weights_table([(name, p.get("weights") or {}) for name, p in present if p.get("weights")])
    )
    view.tables.append(
        Table(
            "Frontier points",
            ["#", "Expected return (ann.)", "Volatility (ann.)", "Sharpe ratio"],
            [
                [
                    str(i + 1),
                    pct(p.get("expectedReturn")),
                    pct(p.get("volatility")),
                    num(p.get("sharpe")),
                ]
                for i, p in enumerate(points)
            ],
        )
    )
    view.summary = _summary(best or {})


def _simulation(view: RunView, result: Mapping[str, Any], own: dict[str, float] | None) -> None:
    from reports import _charts

    stats = result["statistics"]
    initial = float(stats.get("initialValue") or 1.0)
    horizon = stats.get("horizonDays")
    levels, bands = stats.get("bandLevels") or [], stats.get("bands") or []
    paths = result.get("trajectories")
    if levels and bands:
        exact = stats.get("bandsExact", True)
        view.charts.append(
            Chart(
                "fan.png",
                "Fan chart",
                "Percentile bands of the portfolio value per day across "
                f"{num(stats.get('nPaths'))} paths"
                + (
                    f" ({min(len(paths), _charts.MAX_SAMPLE_PATHS)} of the kept paths in grey)"
                    if paths
                    else ""
                )
                + ("." if exact else "; the daily bands are approximated from histograms."),
                lambda: _charts.fan_chart(
                    levels, bands, initial, "Portfolio value over the horizon", paths
                ),
            )
        )
    percentiles = stats.get("terminalPercentiles") or {}
    var95, cvar95 = _number(stats.get("var95")), _number(stats.get("cvar95"))
    if var95 is not None and cvar95 is not None and (paths or percentiles):
        # VaR/CVaR are losses as fractions of the initial value, net of contributions. The
        # contributions' offset is read off the 5th terminal percentile (the VaR's own value).
        offset = 0.0
        if "5" in percentiles:
            offset = float(percentiles["5"]) - initial * (1 - var95)
        var_value, cvar_value = initial * (1 - var95) + offset, initial * (1 - cvar95) + offset
        terminal = [float(p[-1]) for p in paths] if paths else None
        caption = (
            f"Histogram of the {len(terminal):,} simulated terminal values"
            if terminal
            else "The simulation's paths were not kept, so this is not a histogram: the bars are "
            "the terminal-value percentiles the simulation reported"
        )
        view.charts.append(
            Chart(
                "terminal.png",
                "Terminal value",
                caption + f"; VaR 95% ({pct(var95)} loss, value {num(var_value)}) and CVaR 95% "
                f"({pct(cvar95)} loss, value {num(cvar_value)}) marked.",
                lambda: _charts.terminal_chart(
                    initial,
                    var_value,
                    cvar_value,
                    "Terminal value distribution" if terminal else "Terminal value percentiles",
                    terminal_values=terminal,
                    percentiles=None if terminal else percentiles,
                ),
            )
        )
    drawdowns = stats.get("maxDrawdownPercentiles") or {}
    if drawdowns:
        view.charts.append(
            Chart(
                "drawdown.png",
                "Maximum drawdown",
                "Percentiles of each path's largest peak-to-trough fall over the horizon, with "
                "the mean.",
                lambda: _charts.drawdown_chart(
                    drawdowns,
                    _number(stats.get("maxDrawdownMean")),
                    "Maximum drawdown distribution",
                ),
            )
        )
    rows = [
        ("Paths", num(stats.get("nPaths"))),
        ("Horizon", f"{num(horizon)} trading days"),
        ("Method", str(stats.get("method", "–"))),
        ("Rebalancing", str(stats.get("rebalance", "–"))),
        ("Initial value", num(initial)),
        ("Mean terminal value", num(stats.get("terminalMean"))),
        ("Median terminal value", num(stats.get("terminalMedian"))),
        ("Mean horizon return", pct(stats.get("horizonReturnMean"))),
        ("VaR 95%", pct(stats.get("var95"))),
        ("CVaR 95%", pct(stats.get("cvar95"))),
        ("VaR 99%", pct(stats.get("var99"))),
        ("CVaR 99%", pct(stats.get("cvar99"))),
        ("Probability of loss", pct(stats.get("probLoss"))),
        ("Mean maximum drawdown", pct(stats.get("maxDrawdownMean"))),
    ]
    if stats.get("seedEntropy"):
        rows.append(("Seed", str(stats["seedEntropy"])))
    view.tables.append(
        Table(
            "Statistics",
            ["Statistic", "Value"],
            [list(r) for r in rows],
            "VaR and CVaR are losses as a share of the initial value.",
        )
    )
    if percentiles or drawdowns:
        keys = sorted(set(percentiles) | set(drawdowns), key=float)
        view.tables.append(
            Table(
                "Percentiles",
                ["Percentile", "Terminal value", "Maximum drawdown"],
                [[f"{float(k):g}th", num(percentiles.get(k)), pct(drawdowns.get(k))] for k in keys],
            )
        )
    if result.get("weights"):
        view.tables.append(
            _weights_table(
                [("Simulated", result["weights"])] + ([("Portfolio", own)] if own else [])
            )
        )
    view.summary = {
        "VaR 95%": pct(stats.get("var95")),
        "CVaR 95%": pct(stats.get("cvar95")),
        "Probability of loss": pct(stats.get("probLoss")),
    }


def _summary(metrics: Mapping[str, Any]) -> dict[str, str]:
    return {
        "Expected return": pct(metrics.get("expectedReturn")),
        "Volatility": pct(metrics.get("volatility")),
        "Sharpe ratio": num(metrics.get("sharpe")),
    }


def _run_view(
    run: Mapping[str, Any], portfolio: Mapping[str, Any] | None, key_chart_only: bool = False
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
    builders: dict[str, Callable[[], None]] = {
        "risk-parity": lambda: _risk_parity(view, result, own),
        "hrp": lambda: _hrp(view, result, own, tickers),
        "efficient-frontier": lambda: _frontier(view, result, own),
        "simulate": lambda: _simulation(view, result, own),
        "analyze": lambda: _simulation(view, result, None),
    }
    builder = builders.get(run_type)
    if builder is None:
        view.notice = f"Reports do not know run type {run_type!r} yet."
        return view
    try:
        builder()
        if key_chart_only:
            key = KEY_CHART.get(run_type)
            view.charts = [c for c in view.charts if c.name == key] or view.charts[:1]
        for chart in view.charts:
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
        "weights": _weights_table([("Weight", assets)]) if assets else None,
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
    rank = {t: i for i, t in enumerate(TYPE_ORDER)}
    return [chosen[t] for t in sorted(chosen, key=lambda t: (rank.get(t, len(rank)), t))]


KEY_CHART = {
    "risk-parity": "risk-contributions.png",
    "hrp": "dendrogram.png",
    "efficient-frontier": "frontier.png",
    "simulate": "fan.png",
    "analyze": "fan.png",
}


def render_portfolio_report(
    portfolio: dict[str, Any], runs: list[dict[str, Any]]
) -> RenderedReport:
    """The portfolio with its latest run of each type side by side: a table and key charts.

    Per type the latest succeeded run is shown (the latest of any status when none
    succeeded); each run's key chart is named ``<type>-<chart>.png``.
    """
    views = [_run_view(run, portfolio, key_chart_only=True) for run in _latest(runs)]
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
