"""Benchmarks of :mod:`compute` against its floor and its peers; prints markdown tables.

    python bench/compute.py               # everything; peers when installed (pip install .[bench])
    python bench/compute.py --no-peers    # ours only
    python bench/compute.py --quick       # small sizes, fewer Monte Carlo paths

Data: synthetic daily returns, T = 1,000 days, from a market factor, 10 sectors and
idiosyncratic noise (seeded). Every optimiser sees the same inputs: the annualised arithmetic
mean and the Ledoit-Wolf covariance (skfolio, which estimates its own inputs, gets the same
Ledoit-Wolf estimator on the daily returns; the problems are scale-invariant). Times are the
fastest of several runs after a warm-up call (the minimum is the least disturbed by other load
on a shared machine); slow peer calls (over 20 s in total) are timed once. "ratio" is our time
over the peer's (below 1 means we are faster) and "max |Δw|" the largest weight difference.
Frontier points of a peer are compared with our efficient portfolio at the same expected return.

Monte Carlo runs in a fresh subprocess so its peak RSS is its own; the floor is the time numpy
alone takes to draw the same number of standard normal variates (in 2**20-sized batches, one
thread).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _support
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
T_DAYS = 1_000
FRONTIER_POINTS = 50
NOTES: list[str] = []
TARGETS_MS = {
    ("risk budgeting", 500): 30.0,
    ("HRP", 500): 50.0,
    ("frontier (50 pts)", 200): 500.0,
}


@dataclass
class Row:
    """One benchmark line: our time and, per peer, (time, max weight difference) or a note."""

    method: str
    n_assets: int
    ours_s: float
    peers: dict[str, tuple[float, float] | str] = field(default_factory=dict)


def make_returns(n_assets: int, n_days: int = T_DAYS, seed: int = 0) -> np.ndarray:
    return _support.make_returns(n_assets, n_days, seed)


def max_diff(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(ours, dtype=float) - np.asarray(theirs, dtype=float))))


def frontier_diff(line: Any, returns: np.ndarray, weights: np.ndarray) -> float:
    """Largest difference between a peer's frontier points and ours at the same return."""
    low, high = line.return_range
    targets = np.clip(returns, low, high)
    return max_diff(line.at_returns(targets), weights)


# ----- peers -----------------------------------------------------------------------------------


def pypfopt_peer(
    returns: np.ndarray, mu: np.ndarray, cov: np.ndarray, line: Any, repeats: int
) -> dict[str, tuple[float, float] | str]:
    try:
        import pandas as pd
        from pypfopt import CLA, EfficientFrontier, HRPOpt
    except ImportError:
        print("PyPortfolioOpt: not installed")
        return {}
    n = mu.size
    names = [f"a{i}" for i in range(n)]
    mu_s, cov_df = pd.Series(mu, index=names), pd.DataFrame(cov, index=names, columns=names)
    frame = pd.DataFrame(returns, columns=names)
    results: dict[str, tuple[float, float] | str] = {"risk budgeting": "n/a"}

    def hrp() -> np.ndarray:
        weights = HRPOpt(frame).optimize("single")
        return np.array([weights[name] for name in names])

    def min_vol() -> np.ndarray:
        ef = EfficientFrontier(mu_s, cov_df, weight_bounds=(0, 1))
        ef.min_volatility()
        return np.asarray(ef.weights)

    def max_sharpe() -> np.ndarray:
        ef = EfficientFrontier(mu_s, cov_df, weight_bounds=(0, 1))
        ef.max_sharpe(risk_free_rate=0.0)
        return np.asarray(ef.weights)

    low, high = line.return_range
    # The top of the range is a corner that interior-point solvers only approach.
    targets = np.linspace(low, high - 1e-6 * (high - low), FRONTIER_POINTS)

    def frontier_loop() -> tuple[np.ndarray, np.ndarray]:
        """One solve per target, as PyPortfolioOpt's docs do; failed targets are skipped."""
        rows, solved = [], []
        for target in targets:
            ef = EfficientFrontier(mu_s, cov_df, weight_bounds=(0, 1))
            try:
                ef.efficient_return(target)
            except Exception:  # the solver's failure on one target
                continue
            rows.append(np.asarray(ef.weights))
            solved.append(target)
        return np.asarray(solved), np.vstack(rows) if rows else np.zeros((0, n))

    def cla_frontier() -> tuple[np.ndarray, np.ndarray]:
        cla = CLA(mu_s, cov_df, weight_bounds=(0, 1))
        peer_returns, _, peer_weights = cla.efficient_frontier(points=FRONTIER_POINTS)
        return np.asarray(peer_returns), np.hstack(peer_weights).T

    from compute import hrp_weights, min_variance
    from compute import max_sharpe as our_max_sharpe

    for label, function, ours in (
        ("HRP", hrp, lambda: hrp_weights(returns)),
        ("min variance", min_vol, lambda: min_variance(cov)),
        ("max Sharpe", max_sharpe, lambda: our_max_sharpe(mu, cov)),
    ):
        try:
            seconds, weights = _support.timed(function, repeats)
            results[label] = (seconds, max_diff(ours(), weights))
        except Exception as exc:  # a peer's failure is reported, not fatal
            results[label] = f"failed: {type(exc).__name__}"
            NOTES.append(f"PyPortfolioOpt {label} at N={n}: {type(exc).__name__}: {exc}"[:200])
    try:
        seconds, (solved, weights) = _support.timed(frontier_loop, 1, budget_s=0.0)
        if solved.size < targets.size:
            NOTES.append(
                f"PyPortfolioOpt frontier at N={n}: the solver failed on "
                f"{targets.size - solved.size} of {targets.size} targets (timed anyway; Δw on "
                "the solved ones)"
            )
        results["frontier (50 pts)"] = (
            (seconds, max_diff(line.at_returns(solved), weights)) if solved.size else "failed"
        )
    except Exception as exc:
        results["frontier (50 pts)"] = f"failed: {type(exc).__name__}"
    try:
        seconds, (peer_returns, peer_weights) = _support.timed(cla_frontier, repeats)
        results["frontier via CLA"] = (seconds, frontier_diff(line, peer_returns, peer_weights))
    except Exception as exc:
        results["frontier via CLA"] = f"failed: {type(exc).__name__}"
        NOTES.append(f"PyPortfolioOpt CLA at N={n}: {type(exc).__name__}: {exc}"[:200])
    return results


def riskfolio_peer(
    returns: np.ndarray, mu: np.ndarray, cov: np.ndarray, line: Any, repeats: int
) -> dict[str, tuple[float, float] | str]:
    try:
        import pandas as pd
        import riskfolio as rp
    except ImportError:
        print("Riskfolio-Lib: not installed")
        return {}
    n = mu.size
    names = [f"a{i}" for i in range(n)]
    frame = pd.DataFrame(returns, columns=names)

    def portfolio() -> Any:
        port = rp.Portfolio(returns=frame)
        port.mu = pd.DataFrame([mu], columns=names)
        port.cov = pd.DataFrame(cov, index=names, columns=names)
        return port

    def weights_of(table: Any) -> np.ndarray:
        if table is None:
            raise RuntimeError("solver returned no weights")
        return np.asarray(table.loc[names, "weights"], dtype=float)

    def risk_parity() -> np.ndarray:
        return weights_of(portfolio().rp_optimization(model="Classic", rm="MV", rf=0, hist=True))

    def hrp() -> np.ndarray:
        port = rp.HCPortfolio(returns=frame)
        table = port.optimization(
            model="HRP", codependence="pearson", rm="MV", linkage="single", leaf_order=False
        )
        return weights_of(table)

    def min_var() -> np.ndarray:
        return weights_of(portfolio().optimization(model="Classic", rm="MV", obj="MinRisk"))

    def max_sharpe() -> np.ndarray:
        return weights_of(portfolio().optimization(model="Classic", rm="MV", obj="Sharpe"))

    def frontier() -> np.ndarray:
        table = portfolio().efficient_frontier(model="Classic", rm="MV", points=FRONTIER_POINTS)
        return np.asarray(table.loc[names].to_numpy(dtype=float).T)

    from compute import hrp_weights, min_variance, risk_budget_weights
    from compute import max_sharpe as our_max_sharpe

    results: dict[str, tuple[float, float] | str] = {}
    for label, function, ours in (
        ("risk budgeting", risk_parity, lambda: risk_budget_weights(cov)),
        ("HRP", hrp, lambda: hrp_weights(returns)),
        ("min variance", min_var, lambda: min_variance(cov)),
        ("max Sharpe", max_sharpe, lambda: our_max_sharpe(mu, cov)),
    ):
        try:
            seconds, weights = _support.timed(function, repeats)
            results[label] = (seconds, max_diff(ours(), weights))
        except Exception as exc:
            results[label] = f"failed: {type(exc).__name__}"
    try:
        seconds, weights = _support.timed(frontier, 1, budget_s=0.0)
        results["frontier (50 pts)"] = (seconds, frontier_diff(line, weights @ mu, weights))
    except Exception as exc:
        results["frontier (50 pts)"] = f"failed: {type(exc).__name__}"
    return results


def skfolio_peer(
    returns: np.ndarray, mu: np.ndarray, cov: np.ndarray, line: Any, repeats: int
) -> dict[str, tuple[float, float] | str]:
    try:
        from skfolio.cluster import HierarchicalClustering, LinkageMethod
        from skfolio.moments import LedoitWolf
        from skfolio.optimization import (
            HierarchicalRiskParity,
            MeanRisk,
            ObjectiveFunction,
            RiskBudgeting,
        )
        from skfolio.prior import EmpiricalPrior
        from skfolio.seriation import HierarchicalSeriation
    except ImportError:
        print("skfolio: not installed")
        return {}

    def prior() -> Any:
        return EmpiricalPrior(covariance_estimator=LedoitWolf())

    def risk_parity() -> np.ndarray:
        return np.asarray(RiskBudgeting(prior_estimator=prior()).fit(returns).weights_)

    def hrp() -> np.ndarray:
        # Single linkage, leaves in linkage order (no optimal leaf ordering), as in the paper.
        seriation = HierarchicalSeriation(
            hierarchical_clustering_estimator=HierarchicalClustering(
                linkage_method=LinkageMethod.SINGLE
            ),
            optimal_ordering=False,
        )
        model = HierarchicalRiskParity(seriation_estimator=seriation)
        return np.asarray(model.fit(returns).weights_)

    def min_var() -> np.ndarray:
        return np.asarray(MeanRisk(prior_estimator=prior()).fit(returns).weights_)

    def max_sharpe() -> np.ndarray:
        model = MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RATIO, prior_estimator=prior()
        )
        return np.asarray(model.fit(returns).weights_)

    def frontier() -> np.ndarray:
        model = MeanRisk(efficient_frontier_size=FRONTIER_POINTS, prior_estimator=prior())
        return np.asarray(model.fit(returns).weights_)

    from compute import hrp_weights, min_variance, risk_budget_weights
    from compute import max_sharpe as our_max_sharpe

    results: dict[str, tuple[float, float] | str] = {}
    for label, function, ours in (
        ("risk budgeting", risk_parity, lambda: risk_budget_weights(cov)),
        ("HRP", hrp, lambda: hrp_weights(returns)),
        ("min variance", min_var, lambda: min_variance(cov)),
        ("max Sharpe", max_sharpe, lambda: our_max_sharpe(mu, cov)),
    ):
        try:
            seconds, weights = _support.timed(function, repeats)
            results[label] = (seconds, max_diff(ours(), weights))
        except Exception as exc:
            results[label] = f"failed: {type(exc).__name__}"
    try:
        seconds, weights = _support.timed(frontier, 1, budget_s=0.0)
        results["frontier (50 pts)"] = (seconds, frontier_diff(line, weights @ mu, weights))
    except Exception as exc:
        results["frontier (50 pts)"] = f"failed: {type(exc).__name__}"
    return results


# ----- ours ------------------------------------------------------------------------------------


def our_rows(n_assets: int, repeats: int, peers: bool) -> list[Row]:
    from compute import (
        critical_line,
        efficient_frontier,
        efficient_return,
        efficient_risk,
        hrp_weights,
        ledoit_wolf_covariance,
        max_sharpe,
        mean_returns,
        min_variance,
        risk_budget_weights,
    )

    returns = make_returns(n_assets)
    mu = mean_returns(returns)
    cov = ledoit_wolf_covariance(returns)
    line = critical_line(mu, cov)
    middle_return = float(np.mean(line.return_range))
    middle_vol = float(np.mean(line.volatility_range))
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("Ledoit-Wolf covariance", lambda: ledoit_wolf_covariance(returns)),
        ("risk budgeting", lambda: risk_budget_weights(cov)),
        ("HRP", lambda: hrp_weights(returns)),
        ("min variance", lambda: min_variance(cov)),
        ("max Sharpe", lambda: max_sharpe(mu, cov)),
        ("efficient return", lambda: efficient_return(mu, cov, middle_return)),
        ("efficient risk", lambda: efficient_risk(mu, cov, middle_vol)),
        ("frontier (50 pts)", lambda: efficient_frontier(mu, cov, FRONTIER_POINTS)),
    ]
    rows = [Row(label, n_assets, _support.timed(function, repeats)[0]) for label, function in cases]
    frontier_row = next(row for row in rows if row.method == "frontier (50 pts)")
    cla_row = Row("frontier via CLA", n_assets, frontier_row.ours_s)
    rows.append(cla_row)
    if peers:
        for peer_name, peer in (
            ("PyPortfolioOpt", pypfopt_peer),
            ("Riskfolio-Lib", riskfolio_peer),
            ("skfolio", skfolio_peer),
        ):
            print(f"  N={n_assets}: running {peer_name} ...", file=sys.stderr, flush=True)
            for label, outcome in peer(returns, mu, cov, line, repeats).items():
                for row in rows:
                    if row.method == label:
                        row.peers[peer_name] = outcome
    return rows


def print_optimizer_table(rows: list[Row], peer_names: list[str]) -> None:
    header = "| method | N | ours (ms) |" + "".join(
        f" {name} (ms) | ratio | max \\|Δw\\| |" for name in peer_names
    )
    print(header)
    print("|---|---:|---:|" + "---:|---:|---:|" * len(peer_names))
    for row in rows:
        cells = [row.method, str(row.n_assets), f"{row.ours_s * 1e3:.2f}"]
        for name in peer_names:
            outcome = row.peers.get(name, "–")
            if isinstance(outcome, tuple):
                seconds, difference = outcome
                cells += [
                    f"{seconds * 1e3:.1f}",
                    f"{row.ours_s / seconds:.3f}",
                    f"{difference:.1e}",
                ]
            else:
                cells += [outcome, "", ""]
        print("| " + " | ".join(cells) + " |")


# ----- Monte Carlo -----------------------------------------------------------------------------

_MC_SCRIPT = """
import json, sys, time
import numpy as np
sys.path.insert(0, {root!r})
n_paths, horizon, n_assets, workers = {n_paths}, {horizon}, {n_assets}, {workers}
if workers == 0:
    rng = np.random.default_rng(0)
    total, batch = n_paths * horizon * n_assets, 2**20
    out = np.empty(batch)
    start = time.perf_counter()
    for _ in range(total // batch):
        rng.standard_normal(out=out)
    rng.standard_normal(total % batch)
    seconds = time.perf_counter() - start
else:
    from compute import ledoit_wolf_covariance, mean_returns, simulate
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0004, 0.01, (1000, 1)) + rng.normal(0, 0.012, (1000, n_assets))
    mu, cov = mean_returns(returns), ledoit_wolf_covariance(returns)
    weights = np.full(n_assets, 1.0 / n_assets)
    start = time.perf_counter()
    result = simulate(weights, mu, cov, horizon_days=horizon, n_paths=n_paths, seed=1,
                      rebalance="{rebalance}", max_workers=workers)
    seconds = time.perf_counter() - start
    assert result.bands_exact
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent process.
with open("/proc/self/status") as status:
    peak_mb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak_mb}}))
"""


def run_monte_carlo(
    n_paths: int, horizon: int, n_assets: int, workers: int, rebalance: str = "none"
) -> dict[str, float]:
    code = _MC_SCRIPT.format(
        root=str(ROOT),
        n_paths=n_paths,
        horizon=horizon,
        n_assets=n_assets,
        workers=workers,
        rebalance=rebalance,
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def print_monte_carlo_table(n_paths: int, horizon: int, n_assets: int) -> None:
    floor = run_monte_carlo(n_paths, horizon, n_assets, workers=0)
    cpus = os.cpu_count() or 1
    print(
        f"| Monte Carlo, {n_paths:,} paths × {horizon} days × {n_assets} assets "
        "| time (s) | × floor | peak RSS (MB) |"
    )
    print("|---|---:|---:|---:|")
    print(
        f"| floor: numpy draws {n_paths * horizon * n_assets:,} normals (1 thread) "
        f"| {floor['seconds']:.2f} | 1.00 | {floor['peak_mb']:.0f} |"
    )
    for workers, rebalance in ((min(cpus, 4), "none"), (min(cpus, 4), "monthly"), (1, "none")):
        run = run_monte_carlo(n_paths, horizon, n_assets, workers, rebalance)
        label = f"simulate, gbm, rebalance={rebalance}, {workers} thread(s)"
        print(
            f"| {label} | {run['seconds']:.2f} | {run['seconds'] / floor['seconds']:.2f} "
            f"| {run['peak_mb']:.0f} |"
        )


# ----- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 200, 500])
    parser.add_argument("--no-peers", action="store_true", help="time compute only")
    parser.add_argument("--quick", action="store_true", help="small sizes and 10,000 paths")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mc-paths", type=int, default=100_000)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import scipy

    sizes = [20, 100] if args.quick else args.sizes
    mc_paths = 10_000 if args.quick else args.mc_paths
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}; T = {T_DAYS} days\n"
    )
    peer_names = [] if args.no_peers else ["PyPortfolioOpt", "Riskfolio-Lib", "skfolio"]
    rows: list[Row] = []
    for n_assets in sizes:
        print(f"N={n_assets} ...", file=sys.stderr, flush=True)
        rows += our_rows(n_assets, args.repeats, not args.no_peers)
    print_optimizer_table(rows, peer_names)
    print()
    for note in NOTES:
        print(f"- {note}")
    for (method, n_assets), target_ms in TARGETS_MS.items():
        row = next((r for r in rows if r.method == method and r.n_assets == n_assets), None)
        if row is not None:
            verdict = "met" if row.ours_s * 1e3 <= target_ms else "MISSED"
            print(
                f"- target {method} N={n_assets} <= {target_ms:g} ms: "
                f"{row.ours_s * 1e3:.1f} ms, {verdict}"
            )
    print()
    print_monte_carlo_table(mc_paths, 252, 50)


if __name__ == "__main__":
    main()
