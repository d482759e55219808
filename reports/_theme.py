"""One look for every chart: palette, fonts and figure geometry (private to :mod:`reports`)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "DIVERGING",
    "DPI",
    "FIGSIZE",
    "FIGSIZE_TALL",
    "PALETTE",
    "PNG_COMPRESSION",
    "RC",
    "SERIES",
]

# Every PNG is FIGSIZE × DPI pixels (1200 × 675), the dendrogram FIGSIZE_TALL × DPI (1200 × 900).
FIGSIZE: tuple[float, float] = (8.0, 4.5)
FIGSIZE_TALL: tuple[float, float] = (8.0, 6.0)
DPI = 150
# zlib level of the PNGs: Pillow's default (6) makes these flat-colour charts only 2-5 %
# smaller than 3 and takes ~1.5x as long (a fan chart: 28 ms against 18 ms).
PNG_COMPRESSION = 3

# One palette (colour-blind safe, after Okabe & Ito), used by the charts and the page's CSS.
PALETTE: dict[str, str] = {
    "primary": "#0b4f8a",
    "secondary": "#e69f00",
    "accent": "#009e73",
    "alert": "#c0392b",
    "muted": "#7f7f7f",
    "light": "#d6e4f0",
    "ink": "#1b1b1b",
    "grid": "#e3e3e3",
}

# Colours of the strategies' lines and of the weights chart's areas, in order (cycled past
# the end): the palette's three, then the rest of Okabe & Ito's and Paul Tol's "muted" set.
# Grey (PALETTE["muted"]) stays for benchmarks and "others".
SERIES: tuple[str, ...] = (
    PALETTE["primary"],
    PALETTE["secondary"],
    PALETTE["accent"],
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#332288",
    "#ddcc77",
    "#44aa99",
    "#882255",
    "#999933",
    "#aa4499",
)

# Diverging colour scale of the monthly-returns heatmap: loss, zero, gain.
DIVERGING: tuple[str, str, str] = ("#c0392b", "#f7f7f7", "#2a6fb0")

# Explicit rcParams, applied with ``matplotlib.rc_context`` around each figure, so the output
# never depends on a user's matplotlibrc and the process-wide defaults stay untouched.
RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: the same glyphs everywhere
    "font.size": 10.0,
    "axes.titlesize": 12.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    # A fixed title height: otherwise every layout pass and draw measures the tick labels
    # to lift the title above top ticks, which these charts never have.
    "axes.titley": 1.0,
    "axes.titlepad": 6.0,
    "axes.labelsize": 10.0,
    "axes.labelcolor": PALETTE["ink"],
    "axes.edgecolor": "#b0b0b0",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": PALETTE["grid"],
    "grid.linewidth": 0.8,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "xtick.color": PALETTE["ink"],
    "ytick.color": PALETTE["ink"],
    "legend.fontsize": 9.0,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": PALETTE["ink"],
    "axes.unicode_minus": True,
    "path.simplify": True,
    "agg.path.chunksize": 0,
    "text.antialiased": True,
    "lines.antialiased": True,
    "patch.antialiased": True,
}
