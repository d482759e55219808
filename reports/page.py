"""The page model of a report, for the report sections of the analyses.

An analysis's report section (``core.analysis.ReportSection``) appends :class:`Table` and
:class:`Chart` objects to a :class:`RunView`; the renderer lays them out in the run and
portfolio pages. The formatting helpers spell numbers the same way on every page.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

__all__ = [
    "Chart",
    "RunView",
    "Table",
    "describe",
    "metrics_table",
    "num",
    "number",
    "pct",
    "performance_summary",
    "weights_table",
    "when",
]

MAX_LIST_SHOWN = 12


# ------------------------------------------------------------------ formatting
def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def pct(value: Any, decimals: int = 2) -> str:
    """0.1234 → "12.34%"; anything not a finite number → "–"."""
    finite = number(value)
    return "–" if finite is None else f"{finite * 100:.{decimals}f}%"


def num(value: Any, decimals: int = 2) -> str:
    finite = number(value)
    if finite is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{finite:,.{decimals}f}"


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
    window_summary: str = ""  # the window in one line (the portfolio report's sections)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)


def metrics_table(title: str, rows: list[tuple[str, Mapping[str, Any]]]) -> Table:
    return Table(
        title,
        ["", "Expected return (ann.)", "Volatility (ann.)", "Sharpe ratio"],
        [
            [name, pct(m.get("expectedReturn")), pct(m.get("volatility")), num(m.get("sharpe"))]
            for name, m in rows
        ],
    )


def weights_table(
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


def performance_summary(metrics: Mapping[str, Any]) -> dict[str, str]:
    return {
        "Expected return": pct(metrics.get("expectedReturn")),
        "Volatility": pct(metrics.get("volatility")),
        "Sharpe ratio": num(metrics.get("sharpe")),
    }
