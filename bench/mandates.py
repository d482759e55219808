"""Issue 18's benchmark: mandates on the frontier, minimum CVaR and Black-Litterman against the
peers; prints markdown tables and whether each target is met.

    PYTHONPATH=. python bench/mandates.py                 # all three sections
    PYTHONPATH=. python bench/mandates.py --only frontier # one of frontier, cvar, views

Run from the repository root with the peers installed (``pip install .[bench]``: cvxpy with
Clarabel, Riskfolio-Lib, PyPortfolioOpt); a missing peer shows "n/a". From a separate
environment that has them: ``PYTHONPATH=/path/to/repo /tmp/peers/bin/python bench/mandates.py``.

1. **Frontier under a mandate** — N = 200 assets (10 years of synthetic daily returns,
   seeded), bounds [0, 5 %], 10 sector groups each within [2 %, 20 %], a turnover limit of 0.5
   against random current weights, with and without 10 bp costs. Ours: one
   :func:`compute.frontier.efficient_frontier` call (50 points, the whole parametric pass).
   The peer: the same 50 problems ``min w'Σw`` s.t. net return ≥ each of our points' return,
   as one parametrised cvxpy problem solved by Clarabel (compiled once, the target a
   parameter; the time includes the compilation). "worst Δvar" is the largest relative excess
   of our variance over Clarabel's at any point where Clarabel's answer is feasible to 1e-10
   (it meets constraints to ~1e-8 and may buy variance with the violation): never positive
   beyond rounding, i.e. negative.
   Target: ≥ 20× faster.
2. **Minimum CVaR** — N = 100, T = 2,500 (and other sizes): ``bench/tail_risk.py``'s cases,
   ours (HiGHS) against Riskfolio-Lib ``rm="CVaR"``. Target: ≥ 5× faster and a CVaR no higher.
3. **Black-Litterman** — ``bench/views.py``'s cases against PyPortfolioOpt. Target: equal to
   1e-10.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import _blas  # noqa: F401  (before numpy: one BLAS thread, as deployed)
import _support
import numpy as np

_HERE = Path(__file__).resolve().parent
# The repository ahead of bench/ (whose compute.py would shadow the compute package).
sys.path.insert(0, str(_HERE.parent))

from compute import critical_line, efficient_frontier, sample_covariance  # noqa: E402
from compute.mandates import resolve_mandate  # noqa: E402

N_ASSETS = 200
N_SECTORS = 10
N_POINTS = 50
MAX_WEIGHT = 0.05
SECTOR_RANGE = (0.02, 0.20)
TURNOVER = 0.5
COST_RATE = 0.001
# A peer's answer counts as feasible within this (absolute, on weights and returns).
FEASIBLE = 1e-10


def _bench_module(name: str) -> ModuleType:
    """Another bench script as a module (bench/ is not a package, and must not shadow
    ``compute`` on ``sys.path``)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", _HERE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"bench/{name}.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class FrontierRow:
    case: str
    turning_points: int
    ours_s: float
    peer_s: float | None
    worst_excess: float | None
    points_compared: int


def frontier_problem(seed: int = 0) -> dict[str, Any]:
    returns = _support.make_returns(N_ASSETS, 2520, seed)
    rng = np.random.default_rng(seed + 1)
    sectors = np.arange(N_ASSETS) % N_SECTORS
    return {
        "mu": returns.mean(axis=0) * 252,
        "cov": sample_covariance(returns),
        "groups": {
            f"sector-{k}": (np.flatnonzero(sectors == k), *SECTOR_RANGE) for k in range(N_SECTORS)
        },
        "current": rng.dirichlet(np.ones(N_ASSETS)),
    }


def _cvxpy_frontier(
    problem: dict[str, Any], targets: np.ndarray, cost_rate: float
) -> tuple[float, np.ndarray] | None:
    try:
        import cvxpy as cp
    except ImportError:
        return None
    started = time.perf_counter()
    n = N_ASSETS
    weights = cp.Variable(n)
    target = cp.Parameter()
    factor = np.linalg.cholesky(problem["cov"])
    trades = cp.norm1(weights - problem["current"])
    constraints = [
        cp.sum(weights) == 1,
        weights >= 0,
        weights <= MAX_WEIGHT,
        trades <= TURNOVER,
        problem["mu"] @ weights - cost_rate * trades >= target,
    ]
    for members, low, high in problem["groups"].values():
        constraints += [cp.sum(weights[members]) >= low, cp.sum(weights[members]) <= high]
    program = cp.Problem(cp.Minimize(cp.sum_squares(factor.T @ weights)), constraints)
    answers = np.full((targets.size, n), np.nan)
    for k, value in enumerate(targets):
        target.value = float(value)
        program.solve(solver="CLARABEL")
        if program.status == "optimal" and weights.value is not None:
            answers[k] = np.asarray(weights.value)
    return time.perf_counter() - started, answers


def bench_frontier(with_costs: bool, peers: bool) -> FrontierRow:
    problem = frontier_problem()
    keywords: dict[str, Any] = {
        "groups": problem["groups"],
        "turnover": (problem["current"], TURNOVER),
    }
    if with_costs:
        keywords["costs"] = (problem["current"], COST_RATE)
    bounds = (0.0, MAX_WEIGHT)
    efficient_frontier(problem["mu"], problem["cov"], N_POINTS, bounds, **keywords)  # warm-up
    best = np.inf
    for _ in range(3):
        started = time.perf_counter()
        frontier = efficient_frontier(problem["mu"], problem["cov"], N_POINTS, bounds, **keywords)
        best = min(best, time.perf_counter() - started)
    mandate = resolve_mandate(N_ASSETS, bounds, **keywords)
    turning = critical_line(problem["mu"], problem["cov"], bounds, **keywords).weights.shape[0]
    ours_variance = frontier.volatilities**2
    peer_s = worst = None
    compared = 0
    if peers:
        result = _cvxpy_frontier(problem, frontier.returns, COST_RATE if with_costs else 0.0)
        if result is not None:
            peer_s, answers = result
            # Clarabel meets constraints to ~1e-8; a peer answer that breaks the mandate or the
            # return floor by more than 1e-10 may buy a lower variance with that, so only its
            # feasible answers are compared.
            feasible = np.array(
                [
                    bool(np.all(np.isfinite(w)))
                    and not mandate.violations(w, FEASIBLE)
                    and float(mandate.net_returns(w, problem["mu"])) >= floor - FEASIBLE
                    for w, floor in zip(answers, frontier.returns, strict=True)
                ]
            )
            compared = int(feasible.sum())
            peer_variance = np.einsum(
                "ki,ij,kj->k", answers[feasible], problem["cov"], answers[feasible]
            )
            worst = float(np.max((ours_variance[feasible] - peer_variance) / peer_variance))
    case = "groups + turnover" + (" + 10 bp costs" if with_costs else "")
    return FrontierRow(case, turning, best, peer_s, worst, compared)


def print_frontier(rows: list[FrontierRow]) -> None:
    print(
        f"### Frontier under a mandate: N = {N_ASSETS}, {N_SECTORS} sector groups, "
        f"turnover <= {TURNOVER}, {N_POINTS} points\n"
    )
    print(
        "| mandate | turning points | ours (s) | cvxpy+Clarabel (s) | speed-up | worst Δvar "
        "| peer feasible points |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        peer = "n/a" if row.peer_s is None else f"{row.peer_s:.3f}"
        ratio = "" if row.peer_s is None else f"{row.peer_s / row.ours_s:.1f}×"
        worst = "n/a" if row.worst_excess is None else f"{row.worst_excess:+.1e}"
        print(
            f"| {row.case} | {row.turning_points} | {row.ours_s:.3f} | {peer} | {ratio} "
            f"| {worst} | {row.points_compared} |"
        )
    print()
    for row in rows:
        if row.peer_s is None or row.worst_excess is None:
            continue
        fast = row.peer_s / row.ours_s
        print(
            f"- target {row.case}: >= 20x cvxpy: {fast:.1f}x, "
            f"{'met' if fast >= 20 else 'MISSED'}; never a higher variance: worst "
            f"{row.worst_excess:+.1e} relative, {'met' if row.worst_excess <= 1e-7 else 'MISSED'}"
        )
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["frontier", "cvar", "views"])
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}\n")
    peers = not args.no_peers
    if args.only in (None, "frontier"):
        print_frontier([bench_frontier(False, peers), bench_frontier(True, peers)])
    if args.only in (None, "cvar"):
        print("### Minimum CVaR and CDaR (bench/tail_risk.py)\n")
        _bench_module("tail_risk").main(["--no-peers"] if not peers else [])
        print()
    if args.only in (None, "views"):
        print("### Black-Litterman (bench/views.py)\n")
        _bench_module("views").main(["--no-peers"] if not peers else [])


if __name__ == "__main__":
    main()
