"""Write the PyPortfolioOpt Black-Litterman golden file that
``tests/unit/compute/test_compute_views.py`` reads.

PyPortfolioOpt is not a project dependency, so the file is generated once in a separate
environment and committed; the script needs numpy and PyPortfolioOpt only (not this
repository's code)::

    python3.11 -m venv /tmp/pypfopt && /tmp/pypfopt/bin/pip install pyportfolioopt numpy
    /tmp/pypfopt/bin/python tests/support/make_pypfopt_golden.py

Every case stores its seeded inputs (covariance, prior or market caps, views, omega or view
confidences, tau, risk aversion) and PyPortfolioOpt's ``BlackLittermanModel(...).bl_returns()``
and ``.bl_cov()``, with full-precision floats (JSON floats round-trip exactly). ``pi`` null
means no prior (PyPortfolioOpt's zero prior); ``market_caps`` set means ``pi="market"``;
``P`` null means PyPortfolioOpt's identity default (a view on every asset).
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

GOLDEN = (
    Path(__file__).resolve().parents[1]
    / "unit"
    / "compute"
    / "data"
    / "pypfopt_black_litterman.json"
)
SEED = 20240611


@dataclass(frozen=True)
class Case:
    """One Black-Litterman problem: the prior, the views and how omega is built."""

    name: str
    n_assets: int
    n_views: int
    prior: str  # "pi", "market" or "none"
    views: str  # "absolute", "relative", "mixed" or "identity" (P omitted)
    omega: str  # "default", "idzorek", "matrix" or "diagonal"
    tau: float = 0.05
    risk_aversion: float = 1.0
    confidences: tuple[float, ...] = field(default=())


CASES = (
    Case("absolute-default-pi", 5, 1, "pi", "absolute", "default"),
    Case("relative-default-market", 10, 3, "market", "relative", "default", risk_aversion=2.5),
    Case(
        "mixed-idzorek-pi",
        15,
        4,
        "pi",
        "mixed",
        "idzorek",
        tau=0.025,
        confidences=(0.3, 0.85, 1.0, 0.0),
    ),
    Case("relative-matrix-pi", 20, 2, "pi", "relative", "matrix", tau=0.1),
    Case("relative-default-none", 30, 4, "none", "relative", "default"),
    Case(
        "absolute-idzorek-market",
        25,
        2,
        "market",
        "absolute",
        "idzorek",
        risk_aversion=3.0,
        confidences=(0.6, 0.15),
    ),
    Case("identity-diagonal-pi", 6, 6, "pi", "identity", "diagonal", tau=1.0),
    Case("no-views-default-pi", 8, 0, "pi", "relative", "default"),
)


def random_covariance(rng: np.random.Generator, n_assets: int) -> FloatArray:
    """Annual-scale positive definite covariance: a few factors plus idiosyncratic variance."""
    loadings = rng.normal(0.0, 1.0, (n_assets, max(2, n_assets // 3)))
    factor = loadings @ loadings.T / loadings.shape[1] + np.diag(rng.uniform(0.2, 1.0, n_assets))
    inverse_sd = 1.0 / np.sqrt(np.diag(factor))
    vols = rng.uniform(0.1, 0.4, n_assets)
    cov: FloatArray = factor * np.outer(inverse_sd, inverse_sd) * np.outer(vols, vols)
    return 0.5 * (cov + cov.T)


def picking_matrix(rng: np.random.Generator, case: Case) -> FloatArray | None:
    """K×N views: absolute (one asset), relative (long-short, rows sum to 0) or both."""
    if case.views == "identity":
        return None
    picking = np.zeros((case.n_views, case.n_assets))
    for k in range(case.n_views):
        absolute = case.views == "absolute" or (case.views == "mixed" and k % 2 == 0)
        if absolute:
            picking[k, rng.integers(case.n_assets)] = 1.0
        else:
            longs, shorts = np.split(rng.permutation(case.n_assets)[:4], 2)
            picking[k, longs] = rng.uniform(0.2, 1.0, 2)
            picking[k, longs] /= picking[k, longs].sum()
            picking[k, shorts] = -rng.uniform(0.2, 1.0, 2)
            picking[k, shorts] /= -picking[k, shorts].sum()
    return picking


def build_case(rng: np.random.Generator, case: Case) -> dict[str, Any]:
    import pandas as pd
    from pypfopt import BlackLittermanModel

    n = case.n_assets
    cov = random_covariance(rng, n)
    picking = picking_matrix(rng, case)
    views = rng.normal(0.05, 0.08, case.n_views if picking is not None else n)
    pi: FloatArray | None = rng.normal(0.06, 0.04, n) if case.prior == "pi" else None
    caps: FloatArray | None = rng.uniform(1.0, 500.0, n) if case.prior == "market" else None
    n_views = len(views)
    omega: Any = case.omega
    stored_omega: Any = case.omega
    if case.omega == "matrix":
        root = rng.normal(0.0, 0.03, (n_views, n_views))
        omega = root @ root.T + np.diag(rng.uniform(1e-4, 1e-3, n_views))
        stored_omega = omega.tolist()
    elif case.omega == "diagonal":
        diagonal = rng.uniform(1e-4, 1e-2, n_views)
        omega = np.diag(diagonal)
        stored_omega = diagonal.tolist()
    kwargs: dict[str, Any] = {}
    if caps is not None:
        kwargs["market_caps"] = pd.Series(caps)
    if case.omega == "idzorek":
        kwargs["view_confidences"] = list(case.confidences)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Running Black-Litterman with no prior."
        model = BlackLittermanModel(
            pd.DataFrame(cov),
            pi="market" if caps is not None else pi,
            Q=views,
            P=picking,
            omega=omega,
            tau=case.tau,
            risk_aversion=case.risk_aversion,
            **kwargs,
        )
        mu = np.asarray(model.bl_returns(), dtype=np.float64)
        posterior_cov = np.asarray(model.bl_cov(), dtype=np.float64)
    return {
        "name": case.name,
        "cov": cov.tolist(),
        "pi": None if pi is None else pi.tolist(),
        "market_caps": None if caps is None else caps.tolist(),
        "risk_aversion": case.risk_aversion,
        "P": None if picking is None else picking.tolist(),
        "Q": views.tolist(),
        "omega": stored_omega,
        "view_confidences": list(case.confidences) if case.omega == "idzorek" else None,
        "tau": case.tau,
        "pypfopt_omega": np.asarray(model.omega, dtype=np.float64).tolist(),
        "bl_returns": mu.tolist(),
        "bl_cov": posterior_cov.tolist(),
    }


def build() -> dict[str, Any]:
    import pypfopt

    rng = np.random.default_rng(SEED)
    return {
        "generator": "tests/support/make_pypfopt_golden.py",
        "pypfopt": str(pypfopt.__version__),
        "numpy": np.__version__,
        "seed": SEED,
        "cases": [build_case(rng, case) for case in CASES],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--output", type=Path, default=GOLDEN)
    args = parser.parse_args(argv)
    payload = build()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload) + "\n")
    print(f"wrote {len(payload['cases'])} cases to {args.output}")


if __name__ == "__main__":
    main()
