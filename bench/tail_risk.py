"""Benchmarks of :mod:`compute.tail_risk` against Riskfolio-Lib; prints a markdown table.

    PYTHONPATH=. python bench/tail_risk.py               # every case below
    PYTHONPATH=. python bench/tail_risk.py --no-peers    # ours only
    PYTHONPATH=. python bench/tail_risk.py --quick       # N = 50, T = 1,000 only

Run from the repository root. Riskfolio-Lib runs when it is installed (``pip install
riskfolio-lib``, or ``.[bench]``); otherwise its columns show "—".

Data: synthetic daily returns from a market factor, 10 sectors and idiosyncratic noise (seeded,
bench/_support.py). Cases, long-only and fully invested, beta = 0.95 (Riskfolio's
``alpha = 0.05``):

* **min-CVaR** at N = 50 / T = 1,000, N = 100 / T = 2,500 and N = 200 / T = 2,500: ours is
  ``min_cvar``; Riskfolio's is ``Portfolio(returns=df); port.assets_stats(); port.optimization(
  model="Classic", rm="CVaR", obj="MinRisk", rf=0, l=0, hist=True)`` with its default solver
  (cvxpy and CLARABEL), its time including building the problem.
* **min-CDaR**, the same sizes, ``rm="CDaR"`` against ``min_cdar``.
* **mean-CVaR frontier**, 20 points: ``mean_cvar_frontier(returns, 20)`` against
  ``port.efficient_frontier(model="Classic", rm="CVaR", points=20, rf=0, hist=True)``. The two
  frontiers place their points differently (ours evenly in return, Riskfolio's by CVaR caps),
  so the risk columns compare, at each of Riskfolio's 20 returns, our ``min_cvar`` with that
  return as a floor against Riskfolio's portfolio (their mean over the 20 points); "max Δ"
  is the largest ours − theirs (<= 0: never worse).

Times are the fastest of ``--repeats`` runs after a warm-up run (one run when that takes over
20 s). "ratio" is Riskfolio's time over ours (above 1 means we are faster). Both risk columns
are evaluated by our exact ``cvar``/``cdar`` on the weights, so they are comparable one to one.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _blas  # noqa: F401  (before numpy: one BLAS thread, as deployed)
import _support
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The repository ahead of bench/ (whose compute.py would shadow the compute package).
sys.path.insert(0, str(ROOT))

from compute.tail_risk import cdar, cvar, mean_cvar_frontier, min_cdar, min_cvar  # noqa: E402

BETA = 0.95
FRONTIER_POINTS = 20
SIZES = ((50, 1000), (100, 2500), (200, 2500))
MISSING = "—"


@dataclass
class Row:
    """One benchmark line."""

    case: str
    n_assets: int
    n_days: int
    ours_s: float
    our_risk: float
    peer_s: float | str = MISSING
    peer_risk: float = math.nan
    max_difference: float = math.nan


def riskfolio_portfolio(returns: np.ndarray) -> Any:
    import pandas as pd
    import riskfolio as rp

    frame = pd.DataFrame(returns, columns=[f"A{i}" for i in range(returns.shape[1])])
    portfolio = rp.Portfolio(returns=frame, alpha=1.0 - BETA)
    portfolio.assets_stats(method_mu="hist", method_cov="hist")
    return portfolio


def riskfolio_min(returns: np.ndarray, rm: str) -> np.ndarray:
    optimal = riskfolio_portfolio(returns).optimization(
        model="Classic", rm=rm, obj="MinRisk", rf=0, l=0, hist=True
    )
    if optimal is None:
        raise RuntimeError(f"Riskfolio found no min-{rm} solution")
    return np.asarray(optimal.to_numpy(), dtype=np.float64).ravel()


def riskfolio_frontier(returns: np.ndarray) -> np.ndarray:
    frontier = riskfolio_portfolio(returns).efficient_frontier(
        model="Classic", rm="CVaR", points=FRONTIER_POINTS, rf=0, hist=True
    )
    return np.asarray(frontier.to_numpy(), dtype=np.float64).T


def peer_timed(function: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray] | str:
    """Riskfolio's time and answer, or why it has none (a peer's failure is not fatal)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds, weights = _support.timed(function, repeats)
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return seconds, weights


def bench_min(
    measure: str, returns: np.ndarray, repeats: int, peers: bool
) -> Row:  # measure: CVaR or CDaR
    optimise = min_cvar if measure == "CVaR" else min_cdar
    evaluate = cvar if measure == "CVaR" else cdar
    seconds, result = _support.timed(lambda: optimise(returns, BETA), repeats)
    n_days, n_assets = returns.shape
    row = Row(f"min-{measure}", n_assets, n_days, seconds, result.risk)
    if peers:
        print(
            f"  N={n_assets} T={n_days} min-{measure}: Riskfolio ...", file=sys.stderr, flush=True
        )
        peer = peer_timed(lambda: riskfolio_min(returns, measure), max(1, repeats - 1))
        if isinstance(peer, str):
            row.peer_s = peer
        else:
            row.peer_s = peer[0]
            row.peer_risk = evaluate(peer[1], returns, BETA)
            row.max_difference = row.our_risk - row.peer_risk
    return row


def bench_frontier(returns: np.ndarray, repeats: int, peers: bool) -> Row:
    seconds, frontier = _support.timed(
        lambda: mean_cvar_frontier(returns, FRONTIER_POINTS, BETA), repeats
    )
    n_days, n_assets = returns.shape
    row = Row(
        f"mean-CVaR frontier ({FRONTIER_POINTS})",
        n_assets,
        n_days,
        seconds,
        float(np.mean(frontier.cvar)),
    )
    if not peers:
        return row
    print(f"  N={n_assets} T={n_days} frontier: Riskfolio ...", file=sys.stderr, flush=True)
    peer = peer_timed(lambda: riskfolio_frontier(returns), max(1, repeats - 1))
    if isinstance(peer, str):
        row.peer_s = peer
        return row
    row.peer_s, weights = peer
    mu = returns.mean(axis=0)
    theirs = np.array([cvar(w, returns, BETA) for w in weights])
    ours = np.array([min_cvar(returns, BETA, target_return=float(mu @ w)).risk for w in weights])
    row.our_risk, row.peer_risk = float(np.mean(ours)), float(np.mean(theirs))
    row.max_difference = float(np.max(ours - theirs))
    return row


def print_table(rows: list[Row]) -> None:
    print(
        "| case | N | T | ours (s) | Riskfolio (s) | ratio | our CVaR/CDaR | their CVaR/CDaR "
        "| max Δ |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        cells = [row.case, str(row.n_assets), f"{row.n_days:,}", f"{row.ours_s:.3f}"]
        if isinstance(row.peer_s, float):
            cells += [f"{row.peer_s:.2f}", f"{row.peer_s / row.ours_s:.1f}x"]
        else:
            cells += [row.peer_s, ""]
        cells.append(f"{row.our_risk:.10f}")
        if math.isnan(row.peer_risk):
            cells += ["", ""]
        else:
            cells += [f"{row.peer_risk:.10f}", f"{row.max_difference:.1e}"]
        print("| " + " | ".join(cells) + " |")


def print_targets(rows: list[Row]) -> None:
    target = next(
        (r for r in rows if r.case == "min-CVaR" and (r.n_assets, r.n_days) == (100, 2500)), None
    )
    if target is None or not isinstance(target.peer_s, float):
        return
    speedup = target.peer_s / target.ours_s
    verdict = "met" if speedup >= 5 and target.max_difference <= 0.0 else "MISSED"
    print(
        f"- target min-CVaR N=100 T=2,500 >= 5x Riskfolio-Lib with a CVaR no higher: "
        f"{speedup:.1f}x, CVaR ours - theirs {target.max_difference:.1e}, {verdict}"
    )
    worse = [r for r in rows if not math.isnan(r.max_difference) and r.max_difference > 0.0]
    for row in worse:
        print(f"- {row.case} N={row.n_assets}: ours exceeds Riskfolio by {row.max_difference:.1e}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--no-peers", action="store_true", help="time compute only")
    parser.add_argument("--quick", action="store_true", help="N = 50, T = 1,000 only")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = SIZES[:1] if args.quick else SIZES
    from importlib.metadata import version

    try:
        import riskfolio  # noqa: F401

        peer_version = f"Riskfolio-Lib {version('riskfolio-lib')}, cvxpy {version('cvxpy')}"
        peers = not args.no_peers
    except ImportError:
        peer_version, peers = "Riskfolio-Lib not installed", False
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"highspy {version('highspy')}, {peer_version}, {os.cpu_count()} CPUs, "
        f"BLAS threads {threads}, {platform.machine()}; beta = {BETA}\n"
    )
    rows: list[Row] = []
    for measure in ("CVaR", "CDaR"):
        for n_assets, n_days in sizes:
            print(f"N={n_assets} T={n_days} min-{measure} ...", file=sys.stderr, flush=True)
            returns = _support.make_returns(n_assets, n_days)
            rows.append(bench_min(measure, returns, args.repeats, peers))
    for n_assets, n_days in sizes[:2]:
        print(f"N={n_assets} T={n_days} frontier ...", file=sys.stderr, flush=True)
        returns = _support.make_returns(n_assets, n_days)
        rows.append(bench_frontier(returns, args.repeats, peers))
    print_table(rows)
    print()
    print_targets(rows)


if __name__ == "__main__":
    main()
