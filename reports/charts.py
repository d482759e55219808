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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter
from PIL import Image

from reports._theme import DPI, FIGSIZE, FIGSIZE_TALL, PALETTE, PNG_COMPRESSION, RC

_RC: Any = RC  # matplotlib types rc_context keys as literals; RC is checked at run time

__all__ = [
    "MAX_BARS",
    "dendrogram_chart",
    "drawdown_chart",
    "fan_chart",
    "frontier_chart",
    "risk_contribution_chart",
    "terminal_chart",
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


def _label_bars(ax: Any, y: Iterable[float], values: Iterable[float]) -> None:
    for centre, value in zip(y, values, strict=True):
        ax.annotate(
            f"{value:.1%}",
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
) -> bytes:
    """The frontier (volatility, expected return) with named points marked.

    ``marks``: (label, volatility, expected return); labels "Minimum variance",
    "Maximum Sharpe" and "Portfolio" get their own marker and colour.
    """
    styles = {
        "Minimum variance": ("^", PALETTE["accent"]),
        "Maximum Sharpe": ("*", PALETTE["secondary"]),
        "Portfolio": ("D", PALETTE["alert"]),
    }
    with _figure() as fig:
        ax = fig.add_subplot()
        vols = [v for v, _ in points]
        rets = [r for _, r in points]
        ax.plot(
            vols,
            rets,
            color=PALETTE["primary"],
            marker="o",
            markersize=3,
            linewidth=1.8,
            label="Efficient frontier",
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
