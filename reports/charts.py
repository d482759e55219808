"""The report's PNG charts, drawn with matplotlib's Agg canvas (private to :mod:`reports`).

Every function takes plain numbers and returns PNG bytes. No pyplot (no global figure
state), explicit rcParams, fixed size and DPI, and no "Software" stamp in the PNG: the same
input gives the same bytes.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator, PercentFormatter
from PIL import Image

from reports._theme import (
    DIVERGING,
    DPI,
    FIGSIZE,
    FIGSIZE_TALL,
    PALETTE,
    PNG_COMPRESSION,
    RC,
    SERIES,
)

_RC: Any = RC  # matplotlib types rc_context keys as literals; RC is checked at run time

__all__ = [
    "MAX_BARS",
    "cdar_underwater_chart",
    "cvar_frontier_chart",
    "dendrogram_chart",
    "drawdown_chart",
    "equity_curves_chart",
    "expected_returns_chart",
    "fan_chart",
    "frontier_chart",
    "monthly_returns_heatmap",
    "risk_contribution_chart",
    "rolling_chart",
    "terminal_chart",
    "turnover_costs_chart",
    "underwater_chart",
    "weights_area_chart",
    "weights_chart",
]

MAX_BARS = 25  # more assets than this: the largest 24 and one "others" bar
MAX_LEAF_LABELS = 60  # more leaves than this: the dendrogram's tick labels are left out
MAX_SAMPLE_PATHS = 30
PAD = 0.06  # inches of white around the axes' decorations and between rows
_PCT = PercentFormatter(xmax=1.0, decimals=0)


@contextmanager
def _figure(size: tuple[float, float] = FIGSIZE) -> Iterator[Figure]:
    """A figure on its own Agg canvas, inside the charts' rcParams.

    The chart draws it and calls :func:`_png` inside this block: rcParams such as
    ``path.simplify`` and the fonts are read at draw time, not when artists are added.
    """
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=size, dpi=DPI)
        FigureCanvasAgg(figure)
        yield figure


def _fit(figure: Figure) -> None:
    """Place the axes so that tick labels, axis labels, titles and legends just fit.

    What constrained layout does for one grid of axes, in one measuring pass instead of
    its two (plus ``savefig``'s extra layout draw): it was a third of a chart's time. Each
    axes' tight box (``for_layout_only``: a long x label does not widen the margins) gives
    the margins its decorations need; the grid gets those plus :data:`PAD`, and rows of a
    multi-row grid (the dendrogram) the gap their decorations need. The axes' new size can
    move auto ticks a little; :data:`PAD` absorbs that.
    """
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    width, height = figure.bbox.width, figure.bbox.height
    pad = PAD * figure.dpi
    boxes = []
    for ax in figure.axes:
        tight = ax.get_tightbbox(renderer, for_layout_only=True)
        if tight is None:
            continue
        boxes.append((ax.get_window_extent(renderer), tight))
    if not boxes:
        return
    left = max(pos.x0 - box.x0 for pos, box in boxes)
    right = max(box.x1 - pos.x1 for pos, box in boxes)
    top = max(box.y1 - pos.y1 for pos, box in boxes[:1])  # rows top to bottom
    bottom = max(box.y0 - pos.y0 for pos, box in boxes[-1:])
    bottom = -bottom
    rows = len(boxes)
    params: dict[str, float] = {
        "left": (max(left, 0.0) + pad) / width,
        "right": 1 - (max(right, 0.0) + pad) / width,
        "top": 1 - (max(top, 0.0) + pad) / height,
        "bottom": (max(bottom, 0.0) + pad) / height,
    }
    if rows > 1:
        # gap between rows: the upper axes' overhang below it plus the lower one's above it
        gap = (
            max(
                max(upper_pos.y0 - upper.y0, 0.0) + max(lower.y1 - lower_pos.y1, 0.0)
                for (upper_pos, upper), (lower_pos, lower) in itertools.pairwise(boxes)
            )
            + pad
        )
        total = (params["top"] - params["bottom"]) * height
        cell = (total - gap * (rows - 1)) / rows
        params["hspace"] = gap / cell
    figure.subplots_adjust(**params)


def _png(figure: Figure) -> bytes:
    """The figure as PNG bytes: laid out (:func:`_fit`), drawn once, encoded by Pillow.

    ``savefig`` would draw a laid-out figure twice (a layout pass with rendering disabled,
    then the render). We draw the canvas ourselves and encode its buffer with Pillow
    (matplotlib's own PNG writer). The background is opaque white, so the alpha channel is
    dropped (a quarter fewer bytes to compress). Pillow writes no text chunk and only the
    pHYs (DPI) chunk asked for: the bytes depend on the pixels only.
    """
    canvas: Any = figure.canvas  # FigureCanvasAgg (``_figure``); its methods are untyped
    _fit(figure)
    canvas.draw()
    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="png", dpi=(DPI, DPI), compress_level=PNG_COMPRESSION)
    return buffer.getvalue()


def _pct_axis(axis: Any) -> None:
    """Percent ticks; matplotlib picks the decimals the view range needs."""
    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))


def _top(values: Mapping[str, float], limit: int = MAX_BARS) -> list[tuple[str, float]]:
    """Largest first (ties by ticker); beyond ``limit`` the rest summed as one bar."""
    items = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) <= limit:
        return items
    head = items[: limit - 1]
    rest = items[limit - 1 :]
    return [*head, (f"{len(rest)} others", float(sum(v for _, v in rest)))]


def _hbars(
    ax: Any, y: Iterable[float], widths: Iterable[float], *, height: float, color: str, label: str
) -> None:
    """Horizontal bars centred on ``y``, from 0 to each width: ``barh``'s rectangles as one
    ``PolyCollection`` (``barh`` makes an artist per bar, each with its own transforms: a
    fifth of a 20-asset chart's time went there)."""
    half = height / 2
    corners = [
        ((0.0, centre - half), (width, centre - half), (width, centre + half), (0.0, centre + half))
        for centre, width in zip(y, widths, strict=True)
    ]
    ax.add_collection(
        PolyCollection(corners, facecolors=color, edgecolors="none", linewidths=0, label=label)
    )


def _label_bars(ax: Any, y: Iterable[float], values: Iterable[float], fmt: str = "{:.1%}") -> None:
    """Each bar's value (``fmt``) just past its end."""
    for centre, value in zip(y, values, strict=True):
        ax.annotate(
            fmt.format(value),
            (value, centre),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )


def weights_chart(
    weights: Mapping[str, float],
    title: str,
    portfolio: Mapping[str, float] | None = None,
) -> bytes:
    """Horizontal bars of the weights, largest on top; the portfolio's own weights beside."""
    rows = _top(weights)
    labels = [name for name, _ in rows]
    values = [value for _, value in rows]
    own: list[float] = []
    with _figure() as fig:
        ax = fig.add_subplot()
        y = np.arange(len(rows), dtype=float)
        height = 0.8 if portfolio is None else 0.4
        centres = y - (0 if portfolio is None else height / 2)
        _hbars(ax, centres, values, height=height, color=PALETTE["primary"], label="Run weight")
        _label_bars(ax, centres, values)
        if portfolio is not None:
            own = [portfolio.get(name, 0.0) for name in labels]
            if len(rows) and labels[-1].endswith(" others") and len(weights) > MAX_BARS:
                shown = set(labels[:-1])
                own[-1] = float(sum(v for k, v in portfolio.items() if k not in shown))
            colour = PALETTE["secondary"]
            _hbars(ax, y + height / 2, own, height=height, color=colour, label="Portfolio")
            ax.legend(loc="lower right")
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(_PCT)
        ax.set_xlim(0, max([*values, *own, 0.01]) * 1.18)
        ax.set_xlabel("Weight (% of portfolio value)")
        ax.set_title(title)
        return _png(fig)


def risk_contribution_chart(
    weights: Mapping[str, float], contributions: Mapping[str, float], title: str
) -> bytes:
    """Per asset: its weight and its share of portfolio risk, side by side."""
    rows = _top(contributions)
    labels = [name for name, _ in rows]
    risk = [value for _, value in rows]
    shown = set(labels)
    weight = [
        weights.get(name, float(sum(v for k, v in weights.items() if k not in shown)))
        for name in labels
    ]
    with _figure() as fig:
        ax = fig.add_subplot()
        y = np.arange(len(rows), dtype=float)
        _hbars(ax, y - 0.2, risk, height=0.4, color=PALETTE["alert"], label="Risk contribution")
        _label_bars(ax, y - 0.2, risk)
        _hbars(ax, y + 0.2, weight, height=0.4, color=PALETTE["primary"], label="Weight")
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(_PCT)
        ax.set_xlim(min([*risk, 0.0]) * 1.2, max([*risk, *weight, 0.01]) * 1.18)
        ax.set_xlabel("Share of portfolio risk / of portfolio value (%)")
        ax.set_title(title)
        ax.legend(loc="lower right")
        return _png(fig)


def frontier_chart(
    points: Sequence[tuple[float, float]],
    marks: Sequence[tuple[str, float, float]],
    title: str,
    *,
    unconstrained: Sequence[tuple[float, float]] | None = None,
) -> bytes:
    """The frontier (volatility, expected return) with named points marked.

    ``marks``: (label, volatility, expected return); labels "Minimum variance",
    "Maximum Sharpe", "Portfolio" and "Maximum Sharpe (unconstrained)" get their own marker
    and colour. ``unconstrained``: a second frontier drawn dashed behind the first (the
    frontier without the portfolio's mandate; ``points`` are then the mandate's).
    """
    styles = {
        "Minimum variance": ("^", PALETTE["accent"]),
        "Maximum Sharpe": ("*", PALETTE["secondary"]),
        "Portfolio": ("D", PALETTE["alert"]),
        "Maximum Sharpe (unconstrained)": ("*", PALETTE["muted"]),
    }
    with _figure() as fig:
        ax = fig.add_subplot()
        if unconstrained:
            ax.plot(
                [v for v, _ in unconstrained],
                [r for _, r in unconstrained],
                color=PALETTE["muted"],
                linestyle="--",
                linewidth=1.6,
                label="Unconstrained frontier",
            )
        vols = [v for v, _ in points]
        rets = [r for _, r in points]
        ax.plot(
            vols,
            rets,
            color=PALETTE["primary"],
            marker="o",
            markersize=3,
            linewidth=1.8,
            label="Frontier under the mandate" if unconstrained else "Efficient frontier",
        )
        for label, vol, ret in marks:
            marker, colour = styles.get(label, ("s", PALETTE["muted"]))
            ax.scatter(
                [vol],
                [ret],
                marker=marker,
                s=160 if marker == "*" else 70,
                color=colour,
                edgecolors="white",
                linewidths=0.8,
                zorder=5,
                label=f"{label} ({ret:.1%} at {vol:.1%} vol.)",
            )
        _pct_axis(ax.xaxis)
        _pct_axis(ax.yaxis)
        ax.set_xlabel("Volatility (annualised, %)")
        ax.set_ylabel("Expected return (annualised, %)")
        ax.set_title(title)
        ax.legend(loc="lower right")
        return _png(fig)


def expected_returns_chart(
    prior: Mapping[str, float], posterior: Mapping[str, float], title: str
) -> bytes:
    """Per asset (rows, highest posterior first): the prior's and the posterior's annualised
    expected return side by side (Black-Litterman views). Assets of ``posterior`` only; a
    missing or non-finite value is drawn as 0. More than 25 assets: the 25 whose return the
    views move most."""
    names = list(posterior)
    before = np.nan_to_num(np.array([_number(prior.get(t)) for t in names], dtype=np.float64))
    after = np.nan_to_num(np.array([_number(posterior.get(t)) for t in names], dtype=np.float64))
    n = len(names)
    keep = np.arange(n)
    if n > MAX_BARS:
        keep = np.sort(np.argsort(-np.abs(after - before), kind="stable")[:MAX_BARS])
    order = keep[np.argsort(-after[keep], kind="stable")]
    labels = [_name(names[i]) for i in order]
    shown = order.size
    size = FIGSIZE if shown <= 12 else FIGSIZE_TALL
    with _figure(size) as fig:
        ax = fig.add_subplot()
        y = np.arange(shown, dtype=float)
        for centres, values, colour, label in (
            (y - 0.2, before[order], PALETTE["muted"], "Prior"),
            (y + 0.2, after[order], PALETTE["primary"], "Posterior (with the views)"),
        ):
            _hbars(ax, centres, values, height=0.4, color=colour, label=label)
            for centre, value in zip(centres, values, strict=True):
                ax.annotate(
                    f"{value:.1%}",
                    (value, centre),
                    xytext=(3 if value >= 0 else -3, 0),
                    textcoords="offset points",
                    ha="left" if value >= 0 else "right",
                    va="center",
                    fontsize=7,
                )
        low = min(float(before.min(initial=0.0)), float(after.min(initial=0.0)), 0.0)
        high = max(float(before.max(initial=0.0)), float(after.max(initial=0.0)), 0.0)
        span = high - low or 0.01
        ax.set_xlim(low - 0.22 * span * (low < 0), high + 0.22 * span)
        ax.axvline(0.0, color=PALETTE["ink"], linewidth=0.8)
        ax.set_yticks(y, labels)
        ax.set_ylim(max(shown, 1) - 0.5, -0.5)
        ax.grid(axis="y", visible=False)
        _pct_axis(ax.xaxis)
        ax.set_xlabel(
            "Expected return (annualised, %)"
            + (f"; the {shown} of {n} assets the views move most" if n > shown else "")
        )
        ax.set_title(title)
        if shown:
            ax.legend(loc="lower right")
        return _png(fig)


def _number(value: Any) -> float:
    """A finite float, or NaN for anything else (None, text, ±inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value) if np.isfinite(value) else float("nan")


def _dendrogram_layout(
    linkage: Sequence[Sequence[float]], n_leaves: int
) -> tuple[list[int], list[tuple[list[float], list[float]]]]:
    """Leaf order (left to right) and the ⊓-shaped segments of a scipy-style linkage matrix."""
    order: list[int] = []
    root = n_leaves + len(linkage) - 1
    stack = [root]
    while stack:  # depth first, left child first, without recursion (500 leaves)
        node = stack.pop()
        if node < n_leaves:
            order.append(node)
        else:
            left, right = linkage[node - n_leaves][:2]
            stack.extend([int(right), int(left)])
    x: dict[int, float] = {leaf: float(i) for i, leaf in enumerate(order)}
    height: dict[int, float] = dict.fromkeys(range(n_leaves), 0.0)
    segments: list[tuple[list[float], list[float]]] = []
    for i, row in enumerate(linkage):  # rows merge already built clusters: in order
        left, right, distance = int(row[0]), int(row[1]), float(row[2])
        node = n_leaves + i
        segments.append(
            (
                [x[left], x[left], x[right], x[right]],
                [height[left], distance, distance, height[right]],
            )
        )
        x[node] = (x[left] + x[right]) / 2
        height[node] = distance
    return order, segments


def dendrogram_chart(
    linkage: Sequence[Sequence[float]],
    tickers: Sequence[str],
    weights: Mapping[str, float],
    title: str,
) -> bytes:
    """The HRP cluster tree over the resulting allocation, leaves in the same order."""
    n = len(tickers)
    with _figure(FIGSIZE_TALL) as fig:
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        if n >= 2 and len(linkage) == n - 1:
            order, segments = _dendrogram_layout(linkage, n)
            for xs, ys in segments:
                top.plot(xs, ys, color=PALETTE["primary"], linewidth=1.2)
        else:
            order = list(range(n))
        top.set_ylabel("Cluster distance")
        top.set_title(title)
        top.grid(axis="x", visible=False)
        names = [tickers[i] for i in order]
        values = [weights.get(name, 0.0) for name in names]
        bars = bottom.bar(range(n), values, color=PALETTE["secondary"], width=0.7)
        if n <= 20:
            for bar, value in zip(bars, values, strict=True):
                bottom.annotate(
                    f"{value:.1%}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                )
        bottom.yaxis.set_major_formatter(_PCT)
        bottom.set_ylim(0, max([*values, 0.01]) * 1.2)
        bottom.set_ylabel("HRP weight (%)")
        bottom.grid(axis="x", visible=False)
        if n <= MAX_LEAF_LABELS:
            bottom.set_xticks(range(n), names, rotation=90 if n > 12 else 0)
        else:
            bottom.set_xticks([])
            bottom.set_xlabel(f"{n} assets in cluster order (labels omitted)")
        bottom.set_xlim(-0.6, n - 0.4)
        return _png(fig)


def _value_formatter(initial: float) -> FuncFormatter:
    def fmt(value: float, _pos: int | None) -> str:
        return f"{value:,.2f}" if initial < 100 else f"{value:,.0f}"

    return FuncFormatter(fmt)


def fan_chart(
    levels: Sequence[float],
    bands: Sequence[Sequence[float]],
    initial_value: float,
    title: str,
    sample_paths: Sequence[Sequence[float]] | None = None,
) -> bytes:
    """Percentile bands of the portfolio value per day: outer pairs lighter, median dark."""
    pairs = sorted(zip(levels, bands, strict=True), key=lambda lb: lb[0])
    with _figure() as fig:
        ax = fig.add_subplot()
        days = np.arange(len(pairs[0][1]) if pairs else 0)
        for path in (sample_paths or [])[:MAX_SAMPLE_PATHS]:
            ax.plot(days[: len(path)], path, color=PALETTE["muted"], linewidth=0.4, alpha=0.35)
        shades = [0.18, 0.32, 0.46]
        for k in range(len(pairs) // 2):
            low, high = pairs[k], pairs[len(pairs) - 1 - k]
            ax.fill_between(
                days,
                low[1],
                high[1],
                color=PALETTE["primary"],
                alpha=shades[min(k, len(shades) - 1)],
                linewidth=0,
                label=f"{low[0]:g}th–{high[0]:g}th percentile",
            )
        if len(pairs) % 2:
            mid = pairs[len(pairs) // 2]
            ax.plot(
                days, mid[1], color=PALETTE["primary"], linewidth=2, label=f"{mid[0]:g}th (median)"
            )
        ax.axhline(
            initial_value,
            color=PALETTE["alert"],
            linewidth=1,
            linestyle="--",
            label="Initial value",
        )
        ax.yaxis.set_major_formatter(_value_formatter(initial_value))
        ax.set_xlim(0, max(len(days) - 1, 1))
        ax.set_xlabel("Trading days from today")
        ax.set_ylabel("Portfolio value (currency units)")
        ax.set_title(title)
        ax.legend(loc="upper left")
        return _png(fig)


def terminal_chart(
    initial_value: float,
    var_value: float,
    cvar_value: float,
    title: str,
    *,
    terminal_values: Sequence[float] | None = None,
    percentiles: Mapping[str, float] | None = None,
) -> bytes:
    """Terminal values: a histogram of the kept paths, or else the reported percentiles.

    ``var_value``/``cvar_value`` are the terminal values at the VaR and CVaR (95 %) losses.
    """
    with _figure() as fig:
        ax = fig.add_subplot()
        formatter = _value_formatter(initial_value)
        if terminal_values is not None:
            ax.hist(
                terminal_values,
                bins=50,
                color=PALETTE["primary"],
                alpha=0.85,
                label=f"{len(terminal_values):,} simulated paths",
            )
            ax.set_xlabel("Portfolio value at the horizon (currency units)")
            ax.set_ylabel("Number of paths")
            ax.xaxis.set_major_formatter(formatter)
        else:
            items = sorted((percentiles or {}).items(), key=lambda kv: float(kv[0]))
            names = [f"P{float(k):g}" for k, _ in items]
            values = [v for _, v in items]
            ax.bar(
                names,
                values,
                color=PALETTE["primary"],
                width=0.6,
                label="Terminal value percentile",
            )
            for i, value in enumerate(values):
                ax.annotate(
                    formatter(value, None),
                    (i, value),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                )
            low = min([*values, var_value, cvar_value, initial_value])
            high = max([*values, initial_value])
            ax.set_ylim(low - 0.15 * (high - low + 1e-12), high + 0.12 * (high - low + 1e-12))
            ax.set_xlabel("Percentile of the terminal-value distribution")
            ax.set_ylabel("Portfolio value at the horizon (currency units)")
            ax.yaxis.set_major_formatter(formatter)
            ax.grid(axis="x", visible=False)
        marker = ax.axvline if terminal_values is not None else ax.axhline
        lines = [
            (initial_value, PALETTE["muted"], 1.0, ":", "Initial value"),
            (var_value, PALETTE["secondary"], 1.6, "--", "VaR 95%"),
            (cvar_value, PALETTE["alert"], 1.6, "-.", "CVaR 95%"),
        ]
        for value, colour, width, style, label in lines:
            marker(value, color=colour, linewidth=width, linestyle=style, label=label)
        ax.set_title(title)
        ax.legend(loc="upper right" if terminal_values is not None else "upper left")
        return _png(fig)


def drawdown_chart(percentiles: Mapping[str, float], mean: float | None, title: str) -> bytes:
    """Maximum drawdown over the horizon: its reported percentiles as bars, the mean as a line."""
    items = sorted(percentiles.items(), key=lambda kv: float(kv[0]))
    names = [f"P{float(k):g}" for k, _ in items]
    values = [v for _, v in items]
    with _figure() as fig:
        ax = fig.add_subplot()
        bars = ax.bar(
            names, values, color=PALETTE["alert"], width=0.6, label="Max drawdown percentile"
        )
        for bar, value in zip(bars, values, strict=True):
            ax.annotate(
                f"{value:.1%}",
                (bar.get_x() + bar.get_width() / 2, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        if mean is not None:
            ax.axhline(
                mean,
                color=PALETTE["primary"],
                linestyle="--",
                linewidth=1.4,
                label=f"Mean {mean:.1%}",
            )
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
        ax.set_ylim(0, max([*values, mean or 0.0, 0.001]) * 1.2)
        ax.grid(axis="x", visible=False)
        ax.set_xlabel("Percentile across simulated paths")
        ax.set_ylabel("Maximum drawdown (% of peak value)")
        ax.set_title(title)
        ax.legend(loc="upper left")
        return _png(fig)


# ------------------------------------------------------------------ backtest tearsheet
# Time series: dates are ISO strings, drawn as days since 1970-01-01 with our own date ticks
# (matplotlib's date converter depends on the ``date.epoch`` rcParam, which ``RC`` leaves
# alone). Colours follow each mapping's order (``SERIES``, cycled): the same keys in the same
# order give a strategy the same colour in every chart.

MAX_LINE_POINTS = 1500  # per series; longer ones keep each bucket's minimum and maximum
MAX_LEGEND = 12  # legend entries; past it, the first 11 and "+N more"
MAX_AREAS = 12  # weights area chart: the 12 largest assets by mean weight, the rest "others"
MAX_HEATMAP_YEARS = 50  # monthly heatmap: the most recent 50 years
MAX_NAME = 24  # characters of a series' name in a legend or on an axis
_OTHERS = "#c8c8c8"  # the weights area chart's "others"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DIVERGING = LinearSegmentedColormap.from_list("stratigos-diverging", list(DIVERGING))
# Mantissas of the log axis' ticks, coarse to fine: the first set giving 5+ ticks is used
# (narrower ranges, where a log axis is all but linear: round linear steps).
_LOG_MANTISSAS: tuple[tuple[float, ...], ...] = (
    (1.0,),
    (1.0, 3.0),
    (1.0, 2.0, 5.0),
    (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
    (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0),
    (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
)

_Floats = npt.NDArray[np.float64]


def _name(name: str) -> str:
    text = str(name)
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"


def _colour(index: int) -> str:
    return SERIES[index % len(SERIES)]


def _days(dates: Sequence[str]) -> _Floats:
    """ISO dates ("YYYY-MM-DD"; a time part is ignored) as days since 1970-01-01."""
    days = np.array([str(d)[:10] for d in dates], dtype="datetime64[D]")
    return days.astype(np.int64).astype(np.float64)


def _floats(values: Iterable[float | None], n: int) -> _Floats:
    """The first ``n`` values as floats, padded to ``n``; None, NaN and ±inf become NaN."""
    head = np.asarray(list(itertools.islice(values, n)), dtype=np.float64).reshape(-1)
    out = np.full(n, np.nan)
    out[: head.size] = np.where(np.isfinite(head), head, np.nan)
    return out


def _timeline(
    dates: Sequence[str], series: Mapping[str, Iterable[float | None]]
) -> tuple[_Floats, dict[str, _Floats]]:
    """Days and each series' values on them (gaps NaN), in date order."""
    x = _days(dates)
    values = {str(name): _floats(ys, x.size) for name, ys in series.items()}
    if x.size > 1 and bool(np.any(np.diff(x) < 0)):
        order = np.argsort(x, kind="stable")
        x = x[order]
        values = {name: ys[order] for name, ys in values.items()}
    return x, values


def _downsample(y: _Floats, limit: int = MAX_LINE_POINTS) -> npt.NDArray[np.intp]:
    """Indices of at most about ``limit`` points of ``y`` that keep its shape, in order.

    Up to ``limit`` points: all of them. Longer: consecutive buckets of points, each giving
    its minimum and maximum (so every peak and trough stays) and, where it has one, its
    first NaN (so a gap stays a gap); the first and last points always.
    """
    n = y.size
    if n <= limit:
        return np.arange(n)
    size = -(-n // max(limit // 2 - 1, 1))  # points per bucket
    rows = -(-n // size)
    grid = np.full(rows * size, np.nan)
    grid[:n] = y
    cells = grid.reshape(rows, size)
    finite = np.isfinite(cells)
    inside = (np.arange(rows * size) < n).reshape(rows, size)
    base = np.arange(rows) * size
    lows = np.where(finite, cells, np.inf).argmin(axis=1)
    highs = np.where(finite, cells, -np.inf).argmax(axis=1)
    holes = ~finite & inside
    gappy = holes.any(axis=1) & finite.any(axis=1)
    first_hole = holes.argmax(axis=1)
    keep = np.concatenate([base + lows, base + highs, (base + first_hole)[gappy], [0, n - 1]])
    kept: npt.NDArray[np.intp] = np.unique(keep[keep < n]).astype(np.intp)
    return kept


def _line(ax: Any, x: _Floats, y: _Floats, **style: Any) -> Any:
    """``y`` over ``x`` as one line, downsampled; a lone point gets a marker."""
    idx = _downsample(y)
    if int(np.isfinite(y).sum()) == 1:
        style.setdefault("marker", "o")
        style.setdefault("markersize", 4)
    (line,) = ax.plot(x[idx], y[idx], **style)
    return line


def _date_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions (days since 1970) and labels for [lo, hi]: whole years, or months, or
    days, the finest step giving at most 10 (years) or 8 ticks."""
    first, last = np.datetime64(int(np.ceil(lo)), "D"), np.datetime64(int(np.floor(hi)), "D")

    def days(ticks: npt.NDArray[Any]) -> list[float]:
        return [float(d) for d in ticks.astype("datetime64[D]").astype(np.int64)]

    for step in (1, 2, 7, 14):
        offset = 4 if step >= 7 else 0  # weeks start on Mondays (1970-01-05 was one)
        start = offset + step * int(np.ceil((lo - offset) / step))
        ticks = np.arange(start, np.floor(hi) + 1, step)
        if 0 < ticks.size <= 8:
            dates = ticks.astype("datetime64[D]")
            labels = []
            for i, d in enumerate(dates):
                year, month, day = (int(p) for p in str(d).split("-"))
                tail = f" {year}" if i == 0 or (month == 1 and day <= step) else ""
                labels.append(f"{day} {_MONTHS[month - 1]}{tail}")
            return [float(t) for t in ticks], labels
    m0, m1 = first.astype("datetime64[M]"), last.astype("datetime64[M]")
    for step in (1, 2, 3, 6):
        months = np.arange(m0.astype(np.int64), m1.astype(np.int64) + 1)
        months = months[months % step == 0].astype("datetime64[M]")
        positions = [p for p in days(months) if lo <= p <= hi]
        if 0 < len(positions) <= 8:
            labels = []
            for i, p in enumerate(positions):
                year, month = (int(v) for v in str(np.datetime64(int(p), "D"))[:7].split("-"))
                name = _MONTHS[month - 1]
                labels.append(f"{name} {year}" if i == 0 or month == 1 else name)
            return positions, labels
    y0, y1 = int(str(first)[:4]), int(str(last)[:4])
    for step in itertools.chain((1, 2, 5), (10 * 2**k for k in range(12))):
        years = list(range(y0 + (-y0) % step, y1 + 1, step))
        positions = days(np.array([f"{y:04d}-01-01" for y in years], dtype="datetime64[D]"))
        kept = [(p, str(y)) for p, y in zip(positions, years, strict=True) if lo <= p <= hi]
        if len(kept) <= 10:
            return [p for p, _ in kept], [label for _, label in kept]
    return [], []


def _date_axis(ax: Any, x: _Floats) -> None:
    """The x axis over the dates' span (a single date: a day either side), dated ticks."""
    if x.size == 0:
        ax.set_xticks([])
        return
    lo, hi = float(x[0]), float(x[-1])
    if hi - lo < 2:
        lo, hi = lo - 1, hi + 1
    ax.set_xlim(lo, hi)
    positions, labels = _date_ticks(lo, hi)
    ax.set_xticks(positions, labels)
    ax.xaxis.set_minor_locator(NullLocator())


def _finish_underwater(
    ax: Any, x: Any, values: Any, *, floors: list[float], entries: list[Any], title: str
) -> None:
    """The shared frame of the drawdown charts: the zero line, a y range holding every value
    (and ``floors``, levels drawn below the curves), percent ticks, dates, legend, title."""
    ax.axhline(0.0, color=PALETTE["ink"], linewidth=0.8, zorder=5)
    low = min([float(values.min()) if values.size else 0.0, 0.0, *floors])
    high = max(float(values.max()) if values.size else 0.0, 0.0)
    low = min(low, high - 0.01)
    ax.set_ylim(low - 0.05 * (high - low), high + 0.03 * (high - low))
    _pct_axis(ax.yaxis)
    ax.set_ylabel("Drawdown from peak (%)")
    _date_axis(ax, x)
    _legend(ax, entries)
    ax.set_title(title)


def _legend(ax: Any, entries: Sequence[tuple[Any, str]], limit: int = MAX_LEGEND) -> None:
    """A legend right of the axes: at most ``limit`` rows, the last "+N more" when cut."""
    if not entries:
        return
    shown = list(entries) if len(entries) <= limit else list(entries[: limit - 1])
    handles = [handle for handle, _ in shown]
    labels = [_name(label) for _, label in shown]
    if len(entries) > limit:
        handles.append(Line2D([], [], linestyle="none"))
        labels.append(f"+{len(entries) - len(shown)} more")
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        handlelength=1.8,
    )


def _finite(values: Iterable[_Floats]) -> _Floats:
    parts = [v[np.isfinite(v)] for v in values]
    return np.concatenate(parts) if parts else np.empty(0)


def _times(value: float) -> str:
    """A growth multiple: 0.8×, 1×, 1.5×, 12×, 1,500×."""
    return f"{value:,.0f}×" if abs(value) >= 1000 else f"{value:.4g}×"


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Round ticks between ``lo`` and ``hi`` (> 0) for a log axis, 4 to 9 of them when the
    range allows: round mantissas per decade (a wide range: powers of ten, thinned); a
    narrow range (under 4 such ticks): round linear steps, as a linear axis would have."""
    e0, e1 = int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1
    best: list[float] = []
    for mantissas in _LOG_MANTISSAS:
        ticks = [float(f"{m}e{e}") for e in range(e0, e1 + 1) for m in mantissas]
        ticks = [t for t in ticks if lo <= t <= hi]
        if len(ticks) > 9:
            if not best:  # powers of ten only, still too many: every k-th
                best = ticks[:: -(-len(ticks) // 8)]
            break
        best = ticks
        if len(ticks) >= 5:
            break
    if len(best) < 4:
        steps = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        linear = [float(f"{t:.10g}") for t in steps if lo <= t <= hi]
        if len(linear) > len(best):
            best = linear
    return best


def equity_curves_chart(
    dates: Sequence[str],
    curves: Mapping[str, Sequence[float]],
    title: str,
    *,
    benchmark: str | None = None,
    log_scale: bool = True,
) -> bytes:
    """Growth of 1 per strategy over the dates; ``benchmark`` (a key of ``curves``) dashed grey.

    ``log_scale``: a log y axis with round multiples (0.8×, 1×, 1.5×, 2×), unless a value is
    not positive (then linear). NaN/None are gaps; each line keeps its extremes when thinned.
    """
    x, series = _timeline(dates, curves)
    values = _finite(series.values())
    log = log_scale and values.size > 0 and float(values.min()) > 0
    with _figure() as fig:
        ax = fig.add_subplot()
        entries = []
        for i, (name, y) in enumerate(series.items()):
            if name == benchmark:
                style = {"color": PALETTE["ink"], "linestyle": "--", "linewidth": 1.2, "zorder": 2}
                style["alpha"] = 0.75
            else:
                style = {"color": _colour(i), "linewidth": 1.5, "zorder": 3}
            entries.append((_line(ax, x, y, **style), name))
        if values.size:
            lo, hi = float(values.min()), float(values.max())
            if log:
                l0, l1 = np.log10(lo), np.log10(hi)
                span = max(l1 - l0, np.log10(1.1))
                mid = (l0 + l1) / 2
                lo, hi = 10 ** (mid - span * 0.55), 10 ** (mid + span * 0.55)
            else:
                span = max(hi - lo, 0.1 * max(abs(hi), 1.0))
                mid = (lo + hi) / 2
                lo, hi = mid - span * 0.55, mid + span * 0.55
            if lo <= 1.0 <= hi:
                ax.axhline(1.0, color=PALETTE["muted"], linewidth=0.8, zorder=1)
            if log:
                ax.set_yscale("log")
                ticks = _log_ticks(lo, hi)
                ax.set_yticks(ticks, [_times(t) for t in ticks])
                ax.yaxis.set_minor_locator(NullLocator())
            ax.set_ylim(lo, hi)
        if not log:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _times(v)))
        ax.set_ylabel("Growth of 1 (log scale)" if log else "Growth of 1")
        _date_axis(ax, x)
        _legend(ax, entries)
        ax.set_title(title)
        return _png(fig)


def underwater_chart(
    dates: Sequence[str], drawdowns: Mapping[str, Sequence[float]], title: str
) -> bytes:
    """Drawdown from the running peak (≤ 0, %) per strategy: lines, the first one also filled."""
    x, series = _timeline(dates, drawdowns)
    values = _finite(series.values())
    with _figure() as fig:
        ax = fig.add_subplot()
        entries = []
        for i, (name, y) in enumerate(series.items()):
            if i == 0:
                idx = _downsample(y)
                ax.fill_between(
                    x[idx], y[idx], 0.0, color=_colour(i), alpha=0.18, linewidth=0, zorder=2
                )
            width, order = (1.0, 3) if i else (1.4, 4)  # the first (filled) on top
            line = _line(ax, x, y, color=_colour(i), linewidth=width, zorder=order)
            entries.append((line, name))
        _finish_underwater(ax, x, values, floors=[], entries=entries, title=title)
        return _png(fig)


def rolling_chart(
    dates: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    *,
    percent: bool = False,
    reference: float | None = None,
) -> bytes:
    """A rolling statistic per strategy (Sharpe ratio; or volatility with ``percent``).

    None/NaN values (the first window − 1 days) are gaps; ``reference`` a dashed level line.
    """
    x, lines = _timeline(dates, series)
    values = _finite(lines.values())
    with _figure() as fig:
        ax = fig.add_subplot()
        entries = [
            (_line(ax, x, y, color=_colour(i), linewidth=1.3, zorder=3), name)
            for i, (name, y) in enumerate(lines.items())
        ]
        if reference is not None and np.isfinite(reference):
            ax.axhline(reference, color=PALETTE["ink"], linewidth=0.9, linestyle="--", zorder=2)
        if values.size:
            lo, hi = float(values.min()), float(values.max())
            if reference is not None and np.isfinite(reference):
                lo, hi = min(lo, reference), max(hi, reference)
            span = max(hi - lo, 0.01 if percent else 0.1, 0.05 * max(abs(lo), abs(hi)))
            mid = (lo + hi) / 2
            ax.set_ylim(mid - span * 0.55, mid + span * 0.55)
        if percent:  # whole percents unless the range is narrow
            spread = float(np.diff(ax.get_ylim())[0])
            decimals = 0 if spread >= 0.05 else 1 if spread >= 0.005 else 2
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=decimals))
        _date_axis(ax, x)
        _legend(ax, entries)
        ax.set_title(title)
        return _png(fig)


def _stack(
    ax: Any, xs: _Floats, layers: Sequence[_Floats], colours: Sequence[str]
) -> tuple[float, float]:
    """Stacked steps (each value holds until the next x): positive parts upward from 0 and
    negative parts downward, first layer nearest 0. Returns the stack's lowest and highest."""
    up = np.zeros(xs.size)
    down = np.zeros(xs.size)
    for values, colour in zip(layers, colours, strict=True):
        for base, part in ((up, np.clip(values, 0.0, None)), (down, np.clip(values, None, 0.0))):
            if not part.any():
                continue
            top = base + part
            ax.fill_between(xs, base, top, step="post", color=colour, linewidth=0)
            base[:] = top
    return float(down.min(initial=0.0)), float(up.max(initial=0.0))


def weights_area_chart(
    dates: Sequence[str], weights: Mapping[str, Sequence[float]], title: str
) -> bytes:
    """Target weights at each rebalance date (held until the next) as stacked areas.

    The largest 12 assets by mean absolute weight, largest at the bottom, and the rest summed
    as "N others" on top (light grey); shorts stack below 0. Missing weights count as 0.
    """
    x, series = _timeline(dates, weights)
    series = {name: np.nan_to_num(ys) for name, ys in series.items()}
    mean = {name: float(np.abs(ys).mean()) if ys.size else 0.0 for name, ys in series.items()}
    ranked = sorted(series, key=lambda name: (-mean[name], name))
    shown = ranked if len(ranked) <= MAX_AREAS + 1 else ranked[:MAX_AREAS]
    rest = ranked[len(shown) :]
    layers = [series[name] for name in shown]
    colours = [_colour(i) for i in range(len(shown))]
    entries: list[tuple[Any, str]] = [
        (Patch(facecolor=colour, edgecolor="none"), name)
        for name, colour in zip(shown, colours, strict=True)
    ]
    if rest:
        stacked = np.array([series[name] for name in rest])
        layers += [np.clip(stacked, 0.0, None).sum(axis=0), np.clip(stacked, None, 0.0).sum(axis=0)]
        colours += [_OTHERS] * 2
        entries.append((Patch(facecolor=_OTHERS, edgecolor="none"), f"{len(rest)} others"))
    with _figure() as fig:
        ax = fig.add_subplot()
        if x.size:
            step = float(np.median(np.diff(x))) if x.size > 1 else 1.0
            xs = np.append(x, x[-1] + max(step, 1.0))  # the last weights hold one more step
            low, high = _stack(ax, xs, [np.append(v, v[-1:]) for v in layers], colours)
            ax.set_ylim(min(low, 0.0), max(high, 1.0))
        else:
            xs = x
            ax.set_ylim(0.0, 1.0)
        _date_axis(ax, xs)
        _pct_axis(ax.yaxis)
        ax.set_ylabel("Target weight (% of NAV)")
        _legend(ax, entries[::-1], limit=MAX_AREAS + 1)  # top of the stack first
        ax.set_title(title)
        return _png(fig)


def _cell_text(value: float) -> str:
    text = f"{value:.1%}"
    return "0.0%" if text == "-0.0%" else text.replace("-", "\u2212")


def _monthly_table(
    months: Sequence[str], returns: Sequence[float]
) -> tuple[list[int], _Floats, _Floats]:
    """Years (consecutive, the latest :data:`MAX_HEATMAP_YEARS`), their months' returns
    (years × 12, NaN where missing) and each year's months compounded (years × 1).

    Entries whose month is not "YYYY-MM" (1-12) or whose return is not finite are left out;
    a month given twice keeps its last return.
    """
    table: dict[int, dict[int, float]] = {}
    for month, value in zip(months, returns, strict=False):
        try:
            year, number = int(str(month)[:4]), int(str(month)[5:7])
            ret = float(value)
        except (TypeError, ValueError):
            continue
        if 1 <= number <= 12 and np.isfinite(ret):
            table.setdefault(year, {})[number] = ret
    years = list(range(min(table), max(table) + 1))[-MAX_HEATMAP_YEARS:] if table else []
    grid = np.full((len(years), 12), np.nan)
    for row, year in enumerate(years):
        for number, ret in table.get(year, {}).items():
            grid[row, number - 1] = ret
    yearly = np.array(
        [
            float(np.prod(1.0 + r[np.isfinite(r)]) - 1.0) if np.isfinite(r).any() else np.nan
            for r in grid
        ]
    ).reshape(-1, 1)
    return years, grid, yearly


def monthly_returns_heatmap(months: Sequence[str], returns: Sequence[float], title: str) -> bytes:
    """Monthly returns: a row per year (oldest on top), Jan..Dec, and a "Year" column of the
    months compounded; red losses, blue gains, white at 0, each cell's value as a percent.

    ``months`` are "YYYY-MM"; missing (or unparseable) months are blank. The colour scale
    saturates at the 95th percentile of the absolute returns (the Year column has its own).
    More than 15 years: the tall figure and smaller text; more than 50: the latest 50.
    """
    years, grid, yearly = _monthly_table(months, returns)
    rows = len(years)
    size = FIGSIZE if rows <= 15 else FIGSIZE_TALL
    # the text fills about 60 % of a row's height (of the axes' ~85 % of the figure)
    fontsize = float(np.clip(0.6 * size[1] * 0.85 * 72 / max(rows, 1), 5.0, 8.5))
    year_col = 11.75  # the Year column's left edge: a gap after December
    with _figure(size) as fig:
        ax = fig.add_subplot()
        for cells, left in ((grid, -0.5), (yearly, year_col)):
            finite = np.abs(cells[np.isfinite(cells)])
            vmax = max(float(np.percentile(finite, 95)) if finite.size else 0.0, 1e-4)
            norm = Normalize(-vmax, vmax, clip=True)
            edges_x = left + np.arange(cells.shape[1] + 1, dtype=float)
            edges_y = np.arange(rows + 1, dtype=float) - 0.5
            ax.pcolormesh(
                edges_x,
                edges_y,
                np.ma.masked_invalid(cells),
                cmap=_DIVERGING,
                norm=norm,
                edgecolors="white",
                linewidth=1.0,
            )
            for (row, col), value in np.ndenumerate(cells):
                if np.isfinite(value):
                    strong = abs(value) > 0.6 * vmax
                    ax.text(
                        left + col + 0.5,
                        row,
                        _cell_text(value),
                        ha="center",
                        va="center",
                        fontsize=fontsize,
                        color="white" if strong else PALETTE["ink"],
                        in_layout=False,  # inside its cell: _fit need not measure 500 texts
                    )
        ax.set_xlim(-0.5, year_col + 1.0)
        ax.set_ylim(max(rows, 1) - 0.5, -0.5)  # oldest year on top
        ax.set_xticks([*range(12), year_col + 0.5], [*_MONTHS, "Year"])
        ax.set_yticks(range(rows), [str(y) for y in years])
        ax.tick_params(length=0, labelsize=min(fontsize + 0.5, 9.0))
        ax.tick_params(axis="x", labelsize=9.0)
        ax.grid(visible=False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if not rows:
            ax.set_yticks([])
            ax.text(6.0, 0.0, "No monthly returns", ha="center", va="center")
        ax.set_title(title)
        return _png(fig)


def turnover_costs_chart(
    strategies: Sequence[str], turnover: Sequence[float], costs: Sequence[float], title: str
) -> bytes:
    """Per strategy (rows, in the given order): total turnover (× NAV, left panel) and total
    trading costs (% of NAV, right panel) as horizontal bars. Non-finite values are drawn as 0;
    more than 25 strategies: the first 25."""
    n = min(len(strategies), len(turnover), len(costs))
    shown = min(n, MAX_BARS)
    names = [_name(s) for s in itertools.islice(strategies, shown)]
    turns = np.nan_to_num(_floats(turnover, shown))
    cost = np.nan_to_num(_floats(costs, shown))
    size = FIGSIZE if shown <= 12 else FIGSIZE_TALL
    with _figure(size) as fig:
        left, right = fig.subplots(1, 2, sharey=True)
        y = np.arange(shown, dtype=float)
        height = 0.62
        for ax, values, colour, fmt, label in (
            (left, turns, PALETTE["primary"], "{:,.2f}×", "Total turnover (× NAV)"),
            (right, cost, PALETTE["alert"], "{:.2%}", "Total costs (% of NAV)"),
        ):
            _hbars(ax, y, values, height=height, color=colour, label=label)
            _label_bars(ax, y, values, fmt)
            low = min(float(values.min(initial=0.0)), 0.0)
            high = max(float(values.max(initial=0.0)), 0.0)
            span = high - low or (1.0 if ax is left else 0.01)
            ax.set_xlim(low - 0.05 * span * (low < 0), high + 0.22 * span)
            ax.set_xlabel(label)
            ax.grid(axis="y", visible=False)
            ax.axvline(0.0, color=PALETTE["ink"], linewidth=0.8)
        left.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}×"))
        _pct_axis(right.xaxis)
        left.set_yticks(y, names)
        left.set_ylim(max(shown, 1) - 0.5, -0.5)
        right.tick_params(axis="y", length=0)
        if n > shown:
            left.set_xlabel(f"Total turnover (× NAV); first {shown} of {n} strategies")
        left.set_title(title)
        return _png(fig)


def cvar_frontier_chart(
    points: Sequence[tuple[float, float]],
    marks: Sequence[tuple[str, float, float]],
    title: str,
    *,
    beta: float,
) -> bytes:
    """The mean-CVaR frontier: daily CVaR at ``beta`` (x) against annualised expected return.

    ``points``: (CVaR, expected return) of each frontier portfolio, from the minimum-CVaR end;
    ``marks``: (label, CVaR, expected return); "Minimum CVaR" and "Portfolio" get their own
    marker and colour. Non-finite points are left out.
    """
    styles = {
        "Minimum CVaR": ("^", PALETTE["accent"]),
        "Portfolio": ("D", PALETTE["alert"]),
    }
    shown = [(x, y) for x, y in points if np.isfinite(x) and np.isfinite(y)]
    with _figure() as fig:
        ax = fig.add_subplot()
        if shown:
            ax.plot(
                [x for x, _ in shown],
                [y for _, y in shown],
                color=PALETTE["primary"],
                marker="o",
                markersize=3,
                linewidth=1.8,
                label="Mean-CVaR frontier",
            )
        for label, risk, ret in marks:
            if not (np.isfinite(risk) and np.isfinite(ret)):
                continue
            marker, colour = styles.get(label, ("s", PALETTE["muted"]))
            ax.scatter(
                [risk],
                [ret],
                marker=marker,
                s=70,
                color=colour,
                edgecolors="white",
                linewidths=0.8,
                zorder=5,
                label=f"{_name(label)} ({ret:.1%} at {risk:.2%} CVaR)",
            )
        _pct_axis(ax.xaxis)
        _pct_axis(ax.yaxis)
        level, tail = (f"{100 * x:.3g} %" for x in (beta, 1 - beta))
        ax.set_xlabel(f"CVaR {level}: mean loss on the worst {tail} of days (one day, %)")
        ax.set_ylabel("Expected return (annualised, %)")
        ax.set_title(title)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
        return _png(fig)


def cdar_underwater_chart(
    dates: Sequence[str],
    drawdowns: Mapping[str, Sequence[float]],
    levels: Mapping[str, float],
    title: str,
) -> bytes:
    """Drawdown from the running peak (≤ 0, %) per portfolio, the first one filled, with each
    portfolio's CDaR (``levels``: a positive fraction, keyed like ``drawdowns``) as a dashed
    line of its colour at ``-CDaR``: the average of its deepest drawdowns."""
    x, series = _timeline(dates, drawdowns)
    values = _finite(series.values())
    marks = [float(v) for v in levels.values() if np.isfinite(v)]
    with _figure() as fig:
        ax = fig.add_subplot()
        entries = []
        for i, (name, y) in enumerate(series.items()):
            if i == 0:
                idx = _downsample(y)
                ax.fill_between(
                    x[idx], y[idx], 0.0, color=_colour(i), alpha=0.18, linewidth=0, zorder=2
                )
            width, order = (1.0, 3) if i else (1.4, 4)
            line = _line(ax, x, y, color=_colour(i), linewidth=width, zorder=order)
            entries.append((line, name))
            level = levels.get(name)
            if level is not None and np.isfinite(level):
                dashed = ax.axhline(
                    -float(level), color=_colour(i), linewidth=1.0, linestyle="--", zorder=3
                )
                entries.append((dashed, f"{name}: CDaR {float(level):.1%}"))
        _finish_underwater(ax, x, values, floors=[-m for m in marks], entries=entries, title=title)
        return _png(fig)
