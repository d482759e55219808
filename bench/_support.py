"""What the bench scripts share: synthetic factor returns and the timing rule.

Imported by its plain name (``from _support import …``): a script's own folder is first on
``sys.path`` when it runs, and bench/ is not a package (its ``compute.py`` would shadow ours).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["make_returns", "timed"]


def make_returns(n_assets: int, n_days: int, seed: int = 0) -> np.ndarray:
    """Daily simple returns of a market factor, 10 sectors and idiosyncratic noise (seeded)."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.010, (n_days, 1))
    sectors = rng.normal(0.0, 0.007, (n_days, 10))
    membership = rng.integers(0, 10, n_assets)
    betas = rng.uniform(0.6, 1.4, n_assets)
    alphas = rng.normal(0.0002, 0.0003, n_assets)
    idio = rng.normal(0.0, 1.0, (n_days, n_assets)) * rng.uniform(0.008, 0.02, n_assets)
    returns: np.ndarray = alphas + market * betas + sectors[:, membership] + idio
    return returns


def timed(function: Callable[[], Any], repeats: int, budget_s: float = 20.0) -> tuple[float, Any]:
    """Fastest wall time of ``repeats`` calls after one warm-up call (just one if slow)."""
    start = time.perf_counter()
    result = function()
    first = time.perf_counter() - start
    if first * repeats > budget_s:
        return first, result
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result
