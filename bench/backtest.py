"""Benchmarks of :mod:`compute.backtest` against skfolio's walk-forward; prints a markdown table.

    PYTHONPATH=. python bench/backtest.py               # N = 20, 100, 500, every strategy
    PYTHONPATH=. python bench/backtest.py --no-peers    # ours only
    PYTHONPATH=. python bench/backtest.py --quick       # N = 20, 100 over 3 years

Run from the repository root (bench/ must not come first on ``sys.path``: bench/reports.py
would shadow the ``reports`` package). skfolio runs when it is installed
(``pip install .[bench]``); otherwise its columns show "—".

Data: synthetic daily returns over 10 years (T = 2,520) from a market factor, 10 sectors and
idiosyncratic noise (seeded, as in bench/compute.py). Monthly rebalancing: a 252-day rolling
train window and a 21-day test window, i.e. skfolio's ``WalkForward(test_size=21,
train_size=252)``, 108 folds. Each strategy is run by ``walk_forward`` and by skfolio's
``cross_val_predict`` on the same folds, cost-free and with constant weights (skfolio's
default), so the daily returns are comparable one to one. Covariance-based strategies use the
Ledoit-Wolf estimate on both sides (the sample covariance is singular at N = 500 > 252 rows);
HRP uses single linkage without optimal leaf ordering on both sides (our default, not
skfolio's). "target-volatility" caps the annualised volatility at 20 % (skfolio: MeanRisk
maximising the return with ``max_standard_deviation = 0.20 / sqrt(252)``). "fixed" has no
skfolio counterpart.

Times are the fastest of ``--repeats`` runs after a warm-up run (one run when that takes over
20 s; skfolio: at most two); "ratio" is our time over skfolio's (below 1 means we are
faster); "max |Δr|" is the largest difference between the two daily return series. "peak MB"
is the peak of Python-tracked allocations (tracemalloc, numpy included) during one of our runs,
beyond the T×N input itself.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _blas  # noqa: F401  (before numpy: one BLAS thread, as deployed)
import _support
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The repository ahead of bench/ (whose compute.py would shadow the compute package).
sys.path.insert(0, str(ROOT))

from compute.choices import BACKTEST_STRATEGIES as STRATEGIES  # noqa: E402

TRAIN, TEST = 252, 21
TARGET_VOLATILITY = 0.20
# Strategies that estimate a covariance get the Ledoit-Wolf one.
ESTIMATED = {"inverse-volatility", "min-variance", "max-sharpe", "risk-parity", "target-volatility"}
MISSING = "—"


@dataclass
class Row:
    """One benchmark line."""

    strategy: str
    n_assets: int
    folds: int
    ours_s: float
    peak_mb: float
    peer: tuple[float, float] | str = MISSING


def our_options(strategy: str, n_assets: int) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if strategy in ESTIMATED:
        options["estimator"] = "ledoit-wolf"
    if strategy == "target-volatility":
        options["target"] = TARGET_VOLATILITY
    if strategy == "fixed":
        options["weights"] = np.full(n_assets, 1.0 / n_assets)
    return options


def skfolio_estimator(strategy: str) -> Any:
    """skfolio's estimator for ``strategy``, or None when it has none."""
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.moments import LedoitWolf
    from skfolio.optimization import (
        EqualWeighted,
        HierarchicalRiskParity,
        InverseVolatility,
        MeanRisk,
        ObjectiveFunction,
        RiskBudgeting,
    )
    from skfolio.prior import EmpiricalPrior
    from skfolio.seriation import HierarchicalSeriation

    def prior() -> Any:
        return EmpiricalPrior(covariance_estimator=LedoitWolf())

    if strategy == "equal-weight":
        return EqualWeighted()
    if strategy == "inverse-volatility":
        return InverseVolatility(prior_estimator=prior())
    if strategy == "min-variance":
        return MeanRisk(prior_estimator=prior())
    if strategy == "max-sharpe":
        return MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RATIO, prior_estimator=prior()
        )
    if strategy == "risk-parity":
        return RiskBudgeting(prior_estimator=prior())
    if strategy == "hrp":
        seriation = HierarchicalSeriation(
            hierarchical_clustering_estimator=HierarchicalClustering(
                linkage_method=LinkageMethod.SINGLE
            ),
            optimal_ordering=False,
        )
        return HierarchicalRiskParity(seriation_estimator=seriation)
    if strategy == "target-volatility":
        return MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RETURN,
            max_standard_deviation=TARGET_VOLATILITY / math.sqrt(252),
            prior_estimator=prior(),
        )
    return None


def skfolio_run(strategy: str, returns: np.ndarray, ours: np.ndarray) -> tuple[float, float] | str:
    try:
        from skfolio.model_selection import WalkForward, cross_val_predict
    except ImportError:
        return MISSING
    estimator = skfolio_estimator(strategy)
    if estimator is None:
        return "n/a"
    cv = WalkForward(test_size=TEST, train_size=TRAIN)

    def run() -> np.ndarray:
        prediction = cross_val_predict(estimator, returns, cv=cv)
        return np.asarray(prediction.returns, dtype=np.float64)

    try:
        seconds, theirs = _support.timed(run, repeats=1)
    except Exception as exc:  # a peer's failure is reported, not fatal
        return f"failed: {type(exc).__name__}"
    return seconds, float(np.max(np.abs(ours - theirs)))


def bench_one(strategy: str, returns: np.ndarray, repeats: int, peers: bool) -> Row:
    from compute import ComputeError, walk_forward

    n_assets = returns.shape[1]
    options = our_options(strategy, n_assets)

    def run() -> Any:
        return walk_forward(returns, strategy, train_size=TRAIN, test_size=TEST, **options)

    try:
        seconds, result = _support.timed(run, repeats)
    except ComputeError as exc:
        print(f"  N={n_assets} {strategy}: ours failed: {exc}", file=sys.stderr)
        return Row(strategy, n_assets, 0, math.nan, math.nan, f"ours failed: {type(exc).__name__}")
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    row = Row(strategy, n_assets, result.weights.shape[0], seconds, peak / 2**20)
    if peers:
        print(f"  N={n_assets} {strategy}: skfolio ...", file=sys.stderr, flush=True)
        row.peer = skfolio_run(strategy, returns, result.returns)
    return row


def print_table(rows: list[Row]) -> None:
    print("| strategy | N | folds | ours (s) | peak MB | skfolio (s) | ratio | max \\|Δr\\| |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        cells = [
            row.strategy,
            str(row.n_assets),
            str(row.folds),
            f"{row.ours_s:.3f}",
            f"{row.peak_mb:.1f}",
        ]
        if isinstance(row.peer, tuple):
            seconds, difference = row.peer
            cells += [f"{seconds:.2f}", f"{row.ours_s / seconds:.4f}", f"{difference:.1e}"]
        else:
            cells += [row.peer, "", ""]
        print("| " + " | ".join(cells) + " |")


def print_targets(rows: list[Row]) -> None:
    def find(strategy: str, n_assets: int) -> Row | None:
        return next((r for r in rows if r.strategy == strategy and r.n_assets == n_assets), None)

    minimum = find("min-variance", 100)
    if minimum is not None and isinstance(minimum.peer, tuple):
        speedup = minimum.peer[0] / minimum.ours_s
        verdict = "met" if speedup >= 20 else "MISSED"
        print(f"- target min-variance N=100 >= 20x skfolio: {speedup:.0f}x, {verdict}")
    parity = find("risk-parity", 500)
    if parity is not None:
        verdict = "met" if parity.ours_s <= 2.0 else "MISSED"
        print(f"- target risk parity N=500 over 10 years <= 2 s: {parity.ours_s:.2f} s, {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--no-peers", action="store_true", help="time compute only")
    parser.add_argument("--quick", action="store_true", help="N = 20, 100 over 3 years")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import scipy

    sizes = [20, 100] if args.quick else args.sizes
    years = 3 if args.quick else args.years
    n_days = 252 * years
    try:
        import skfolio

        peer_version = f"skfolio {skfolio.__version__}"
        peers = not args.no_peers
    except ImportError:
        peer_version, peers = "skfolio not installed", False
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{peer_version}, {os.cpu_count()} CPUs, BLAS threads {threads}, {platform.machine()}; "
        f"T = {n_days} days, train {TRAIN}, test {TEST}\n"
    )
    rows: list[Row] = []
    for n_assets in sizes:
        returns = _support.make_returns(n_assets, n_days)
        for strategy in args.strategies:
            print(f"N={n_assets} {strategy} ...", file=sys.stderr, flush=True)
            rows.append(bench_one(strategy, returns, args.repeats, peers))
    print_table(rows)
    print()
    print_targets(rows)


if __name__ == "__main__":
    main()
