"""Benchmarks of :mod:`compute.views` against PyPortfolioOpt's Black-Litterman model; prints a
markdown table.

    PYTHONPATH=. python bench/views.py               # N = 20, 100, 500; K = 5 views
    PYTHONPATH=. python bench/views.py --no-peers    # ours only
    PYTHONPATH=. python bench/views.py --sizes 50    # other sizes

Run from the repository root (bench/ must not come first on ``sys.path``: bench/compute.py
would shadow the ``compute`` package). PyPortfolioOpt runs when it is installed
(``pip install .[bench]``); otherwise its columns show "n/a". To run it from a separate
environment that has PyPortfolioOpt, numpy and scipy:
``PYTHONPATH=/path/to/repo /tmp/pypfopt/bin/python bench/views.py``.

Data: the annualised sample covariance of synthetic daily returns over 10 years (T = 2,520,
seeded as in bench/compute.py; positive definite up to N = 500), a market-implied prior
π = δΣw with random market weights and δ = 2.5 (passed to both as ``pi``), and K = 5 views:
three absolute views and two relative (long-short) ones. ``default`` is Ω = τ·diag(PΣPᵀ);
``idzorek`` uses confidences 0.2, 0.5, 0.7, 0.9 and 1.0 (the last one a certain view). Ours is one
``black_litterman`` call (validation, Cholesky check of Σ, posterior returns and covariance);
PyPortfolioOpt's is ``BlackLittermanModel(...)`` plus ``bl_returns()`` and ``bl_cov()``.

Times are the fastest of ``--repeats`` runs after a warm-up run; "ratio" is our time over
PyPortfolioOpt's (below 1 means we are faster); "max |Δμ|" and "max |ΔΣ|" are the largest
differences between the posterior returns and covariances.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _blas  # noqa: F401  (before numpy: one BLAS thread, as deployed)
import _support
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The repository ahead of bench/ (whose compute.py would shadow the compute package).
sys.path.insert(0, str(ROOT))

N_DAYS = 252 * 10
N_VIEWS = 5
TAU = 0.05
RISK_AVERSION = 2.5
CONFIDENCES = (0.2, 0.5, 0.7, 0.9, 1.0)
OMEGAS = ("default", "idzorek")
MISSING = "n/a"


@dataclass
class Row:
    """One benchmark line: our time and PyPortfolioOpt's (time, max |Δμ|, max |ΔΣ|) or a note."""

    omega: str
    n_assets: int
    ours_s: float
    peer: tuple[float, float, float] | str = MISSING


def make_problem(n_assets: int) -> dict[str, np.ndarray]:
    """Annual sample covariance, market-implied prior and K = 5 mixed views (seeded)."""
    returns = _support.make_returns(n_assets, N_DAYS)
    cov = np.cov(returns, rowvar=False) * 252
    rng = np.random.default_rng(1)
    weights = rng.uniform(1.0, 100.0, n_assets)
    prior = RISK_AVERSION * cov @ (weights / weights.sum())
    picking = np.zeros((N_VIEWS, n_assets))
    assets = rng.choice(n_assets, 3 + 2 * 2, replace=False)
    for k in range(3):
        picking[k, assets[k]] = 1.0
    for k in range(2):
        picking[3 + k, assets[3 + 2 * k]] = 1.0
        picking[3 + k, assets[4 + 2 * k]] = -1.0
    views = rng.normal(0.05, 0.05, N_VIEWS)
    return {"cov": cov, "pi": prior, "P": picking, "Q": views}


def options(omega: str) -> dict[str, Any]:
    if omega == "idzorek":
        return {"omega": "idzorek", "view_confidences": list(CONFIDENCES)}
    return {"omega": "default"}


def pypfopt_run(
    problem: dict[str, np.ndarray], omega: str, ours: Any, repeats: int
) -> tuple[float, float, float] | str:
    try:
        from pypfopt import BlackLittermanModel
    except ImportError:
        return MISSING

    def run() -> tuple[np.ndarray, np.ndarray]:
        model = BlackLittermanModel(
            problem["cov"],
            pi=problem["pi"],
            P=problem["P"],
            Q=problem["Q"],
            tau=TAU,
            risk_aversion=RISK_AVERSION,
            **options(omega),
        )
        mu = np.asarray(model.bl_returns(), dtype=np.float64)
        return mu, np.asarray(model.bl_cov(), dtype=np.float64)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds, (mu, cov) = _support.timed(run, repeats)
    except Exception as exc:  # a peer's failure is reported, not fatal
        return f"failed: {type(exc).__name__}"
    return (
        seconds,
        float(np.max(np.abs(ours.mu - mu))),
        float(np.max(np.abs(ours.cov - cov))),
    )


def bench_one(n_assets: int, omega: str, repeats: int, peers: bool) -> Row:
    from compute import black_litterman

    problem = make_problem(n_assets)

    def run() -> Any:
        return black_litterman(
            problem["cov"],
            pi=problem["pi"],
            P=problem["P"],
            Q=problem["Q"],
            tau=TAU,
            risk_aversion=RISK_AVERSION,
            **options(omega),
        )

    seconds, result = _support.timed(run, repeats)
    row = Row(omega, n_assets, seconds)
    if peers:
        row.peer = pypfopt_run(problem, omega, result, repeats)
    return row


def print_table(rows: list[Row]) -> None:
    print(
        "| omega | N | K | ours (ms) | PyPortfolioOpt (ms) | ratio | max \\|Δμ\\| | max \\|ΔΣ\\| |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        cells = [row.omega, str(row.n_assets), str(N_VIEWS), f"{row.ours_s * 1e3:.3f}"]
        if isinstance(row.peer, tuple):
            seconds, d_mu, d_cov = row.peer
            cells += [
                f"{seconds * 1e3:.3f}",
                f"{row.ours_s / seconds:.2f}",
                f"{d_mu:.1e}",
                f"{d_cov:.1e}",
            ]
        else:
            cells += [row.peer, MISSING, MISSING, MISSING]
        print("| " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--no-peers", action="store_true", help="time compute only")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    import scipy

    try:
        import pypfopt

        peer_version = f"PyPortfolioOpt {pypfopt.__version__}"
        peers = not args.no_peers
    except ImportError:
        peer_version, peers = "PyPortfolioOpt not installed", False
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{peer_version}, {os.cpu_count()} CPUs, BLAS threads {threads}, {platform.machine()}; "
        f"K = {N_VIEWS} views, tau = {TAU}\n"
    )
    rows: list[Row] = []
    for n_assets in args.sizes:
        for omega in OMEGAS:
            print(f"N={n_assets} omega={omega} ...", file=sys.stderr, flush=True)
            rows.append(bench_one(n_assets, omega, args.repeats, peers))
    print_table(rows)


if __name__ == "__main__":
    main()
