"""Statistics of simulated value paths, accumulated chunk by chunk in bounded memory.

Per path only three floats are kept (terminal value, horizon return, maximum drawdown), so
terminal percentiles, VaR and CVaR are exact. The per-day fan-chart bands are exact when every
path's daily values fit the memory budget (they are stored, day-major, and their percentiles
taken at the end); above the budget they come from per-day fixed-bin histograms, see
:class:`_HistogramBands`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

TERMINAL_PERCENTILES: tuple[int, ...] = (1, 5, 25, 50, 75, 95, 99)
DRAWDOWN_PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)
HISTOGRAM_BINS = 4096
# Rows of the day-major store handed to np.percentile at once (bounds its working copy).
_PERCENTILE_ROW_BLOCK = 16


class PathStatistics:
    """Accumulates per-path summaries and per-day bands for ``n_paths`` paths."""

    def __init__(
        self,
        n_paths: int,
        horizon: int,
        band_levels: Sequence[float],
        exact_bands: bool,
    ) -> None:
        self.n_paths = n_paths
        self.horizon = horizon
        self.band_levels = tuple(float(level) for level in band_levels)
        self.terminal = np.empty(n_paths)
        self.horizon_return = np.empty(n_paths)
        self.max_drawdown = np.empty(n_paths)
        self.exact_bands = exact_bands
        # Day-major so each day's values are contiguous for the percentile pass.
        self.store: FloatArray | None = np.empty((horizon + 1, n_paths)) if exact_bands else None
        self.histogram: _HistogramBands | None = None

    def add(
        self,
        start: int,
        values: FloatArray,
        horizon_return: FloatArray,
        max_drawdown: FloatArray,
    ) -> None:
        """Record paths ``start .. start + k``; ``values`` is day-major, (horizon + 1) × k.

        Not thread-safe: the simulation calls it from one thread, chunk by chunk in order.
        """
        stop = start + values.shape[1]
        self.terminal[start:stop] = values[-1]
        self.horizon_return[start:stop] = horizon_return
        self.max_drawdown[start:stop] = max_drawdown
        if self.store is not None:
            self.store[:, start:stop] = values
            return
        if self.histogram is None:
            self.histogram = _HistogramBands(values)
        self.histogram.add(values)

    @property
    def paths(self) -> FloatArray | None:
        """All paths (n_paths × (horizon + 1)) when they were stored, else None."""
        return None if self.store is None else self.store.T

    def bands(self) -> FloatArray:
        """Percentiles ``band_levels`` of each day's values, len(levels) × (horizon + 1)."""
        levels = np.asarray(self.band_levels)
        if self.store is not None:
            result = np.empty((levels.size, self.horizon + 1))
            for first in range(0, self.horizon + 1, _PERCENTILE_ROW_BLOCK):
                last = min(first + _PERCENTILE_ROW_BLOCK, self.horizon + 1)
                result[:, first:last] = np.percentile(self.store[first:last], levels, axis=1)
            return result
        assert self.histogram is not None
        return self.histogram.quantiles(levels / 100.0)


class _HistogramBands:
    """Per-day streaming percentiles from fixed-bin histograms (the large-n_paths fallback).

    The bins of day d cover [lo_d - s_d, hi_d + s_d] with s_d = hi_d - lo_d, where lo_d and hi_d
    are the first chunk's minimum and maximum on that day, split into ``HISTOGRAM_BINS`` equal
    bins, plus an underflow and an overflow bin bounded by the running minimum and maximum. A
    percentile is read off the cumulative counts with linear interpolation inside its bin, so
    its error is at most one bin width, 3 s_d / 4096 (under 0.1 % of the first chunk's range),
    unless it falls in an under/overflow bin (far tails only).
    """

    def __init__(self, first_values: FloatArray) -> None:
        low = first_values.min(axis=1)
        high = first_values.max(axis=1)
        spread = high - low
        # A day where every path has the same value still needs a non-empty bin range.
        spread = np.where(spread > 0.0, spread, np.maximum(np.abs(low), 1.0) * 1e-9)
        self.low = low - spread
        self.width = 3.0 * spread / HISTOGRAM_BINS
        self.days = first_values.shape[0]
        # Bin 0 is underflow, bins 1..HISTOGRAM_BINS are regular, the last is overflow.
        self.counts = np.zeros((self.days, HISTOGRAM_BINS + 2), dtype=np.int64)
        self.minimum = np.full(self.days, np.inf)
        self.maximum = np.full(self.days, -np.inf)

    def add(self, values: FloatArray) -> None:
        position = np.floor((values - self.low[:, None]) / self.width[:, None])
        bins = np.clip(position, -1, HISTOGRAM_BINS).astype(np.int64) + 1
        flat = bins + (np.arange(self.days) * (HISTOGRAM_BINS + 2))[:, None]
        counts = np.bincount(flat.ravel(), minlength=self.counts.size)
        minimum = values.min(axis=1)
        maximum = values.max(axis=1)
        self.counts += counts.reshape(self.counts.shape)
        np.minimum(self.minimum, minimum, out=self.minimum)
        np.maximum(self.maximum, maximum, out=self.maximum)

    def quantiles(self, probabilities: FloatArray) -> FloatArray:
        cumulative = np.cumsum(self.counts, axis=1)
        total = cumulative[:, -1].astype(np.float64)
        # Bin edges per day: underflow spans [min, low], overflow [high, max].
        regular = self.low[:, None] + self.width[:, None] * np.arange(HISTOGRAM_BINS + 1)
        edges = np.concatenate([self.minimum[:, None], regular, self.maximum[:, None]], axis=1)
        edges[:, 0] = np.minimum(edges[:, 0], edges[:, 1])
        edges[:, -1] = np.maximum(edges[:, -1], edges[:, -2])
        result = np.empty((probabilities.size, self.days))
        rows = np.arange(self.days)
        for k, probability in enumerate(probabilities):
            rank = probability * total
            # First bin whose cumulative count reaches the rank (searchsorted, row by row).
            bin_index = np.sum(cumulative < rank[:, None], axis=1)
            bin_index = np.minimum(bin_index, HISTOGRAM_BINS + 1)
            below = np.where(bin_index > 0, cumulative[rows, np.maximum(bin_index - 1, 0)], 0)
            inside = self.counts[rows, bin_index]
            fraction = np.where(inside > 0, (rank - below) / np.maximum(inside, 1), 0.0)
            left = edges[rows, bin_index]
            right = edges[rows, bin_index + 1]
            result[k] = left + np.clip(fraction, 0.0, 1.0) * (right - left)
        return result


class Summary(TypedDict):
    """The scalar statistics of :class:`compute.monte_carlo.SimulationResult`."""

    terminal_mean: float
    terminal_median: float
    terminal_percentiles: dict[int, float]
    horizon_return_mean: float
    var_95: float
    cvar_95: float
    var_99: float
    cvar_99: float
    prob_loss: float
    max_drawdown_mean: float
    max_drawdown_percentiles: dict[int, float]


def summarise(statistics: PathStatistics) -> Summary:
    """Terminal, VaR/CVaR, loss-probability and drawdown statistics (exact)."""
    terminal = statistics.terminal
    returns = statistics.horizon_return
    drawdown = statistics.max_drawdown
    terminal_levels = np.percentile(terminal, TERMINAL_PERCENTILES)
    drawdown_levels = np.percentile(drawdown, DRAWDOWN_PERCENTILES)
    var_95, cvar_95 = _var_cvar(returns, 0.95)
    var_99, cvar_99 = _var_cvar(returns, 0.99)
    return {
        "terminal_mean": float(np.mean(terminal)),
        "terminal_median": float(np.median(terminal)),
        "terminal_percentiles": {
            level: float(value)
            for level, value in zip(TERMINAL_PERCENTILES, terminal_levels, strict=True)
        },
        "horizon_return_mean": float(np.mean(returns)),
        "var_95": var_95,
        "cvar_95": cvar_95,
        "var_99": var_99,
        "cvar_99": cvar_99,
        "prob_loss": float(np.mean(returns < 0.0)),
        "max_drawdown_mean": float(np.mean(drawdown)),
        "max_drawdown_percentiles": {
            level: float(value)
            for level, value in zip(DRAWDOWN_PERCENTILES, drawdown_levels, strict=True)
        },
    }


def _var_cvar(returns: FloatArray, confidence: float) -> tuple[float, float]:
    """VaR = -q_{1-c}(R) (linear interpolation); CVaR = -mean(R | R <= q_{1-c}(R))."""
    quantile = float(np.percentile(returns, 100.0 * (1.0 - confidence)))
    tail = returns[returns <= quantile]
    return -quantile, -float(np.mean(tail))


def max_drawdown(values: FloatArray) -> FloatArray:
    """Largest peak-to-trough fall, as a fraction of the peak, of each row of ``values``."""
    peaks = np.maximum.accumulate(values, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0.0, 1.0 - values / peaks, 0.0)
    result: FloatArray = falls.max(axis=1)
    return result
