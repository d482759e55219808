"""Write the Riskfolio-Lib tail-risk golden file that
``tests/unit/compute/test_compute_tail_risk.py`` reads.

Riskfolio-Lib is not a project dependency, so the file is generated once in a separate
environment and committed; the script needs numpy, pandas and Riskfolio-Lib only (not this
repository's code)::

    python3.11 -m venv /tmp/rf && /tmp/rf/bin/pip install riskfolio-lib
    /tmp/rf/bin/python tests/support/make_riskfolio_golden.py

Every case stores its seeded daily returns (T × N), ``beta`` (Riskfolio's significance level
is ``alpha = 1 - beta``) and, for ``rm`` = ``"CVaR"`` and ``"CDaR"``, the weights of
``Portfolio(returns=df).optimization(model="Classic", rm=rm, obj="MinRisk", rf=0, l=0,
hist=True)`` (long-only, fully invested: Riskfolio's defaults) with their risk evaluated by
Riskfolio's own ``RiskFunctions.CVaR_Hist`` / ``CDaR_Abs``. Floats are full precision (JSON
floats round-trip exactly).
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

GOLDEN = (
    Path(__file__).resolve().parents[1] / "unit" / "compute" / "data" / "riskfolio_tail_risk.json"
)
SEED = 20250518


@dataclass(frozen=True)
class Case:
    """One problem: its size and confidence level."""

    name: str
    n_assets: int
    n_days: int
    beta: float


CASES = (
    Case("n5-t120-b95", 5, 120, 0.95),
    Case("n8-t250-b90", 8, 250, 0.90),
    Case("n10-t300-b95", 10, 300, 0.95),
    # (1 - 0.99) * 250 = 2.5 periods: a fractional tail.
    Case("n6-t250-b99", 6, 250, 0.99),
    Case("n10-t200-b80", 10, 200, 0.80),
)


def make_returns(rng: np.random.Generator, n_days: int, n_assets: int) -> FloatArray:
    """Daily simple returns: a market factor, two sectors, fat-tailed idiosyncratic noise."""
    market = rng.normal(0.0004, 0.011, (n_days, 1))
    sectors = rng.normal(0.0, 0.007, (n_days, 2))
    membership = rng.integers(0, 2, n_assets)
    betas = rng.uniform(0.5, 1.5, n_assets)
    alphas = rng.normal(0.0003, 0.0004, n_assets)
    idio = rng.standard_t(4, (n_days, n_assets)) * rng.uniform(0.006, 0.02, n_assets)
    returns: FloatArray = alphas + market * betas + sectors[:, membership] + idio
    return returns


def riskfolio_optimum(returns: FloatArray, beta: float, rm: str) -> dict[str, Any]:
    """Riskfolio's minimum-``rm`` weights and their risk by Riskfolio's own evaluation."""
    import pandas as pd
    import riskfolio as rp

    alpha = 1.0 - beta
    frame = pd.DataFrame(returns, columns=[f"A{i}" for i in range(returns.shape[1])])
    portfolio = rp.Portfolio(returns=frame, alpha=alpha)
    portfolio.assets_stats(method_mu="hist", method_cov="hist")
    optimal = portfolio.optimization(model="Classic", rm=rm, obj="MinRisk", rf=0, l=0, hist=True)
    weights = np.asarray(optimal.to_numpy(), dtype=np.float64).ravel()
    series = returns @ weights
    if rm == "CVaR":
        risk = rp.RiskFunctions.CVaR_Hist(series, alpha=alpha)
    else:
        risk = rp.RiskFunctions.CDaR_Abs(series, alpha=alpha)
    return {"weights": weights.tolist(), "risk": float(risk)}


def build() -> dict[str, Any]:
    from importlib.metadata import version

    rng = np.random.default_rng(SEED)
    cases = []
    for case in CASES:
        returns = make_returns(rng, case.n_days, case.n_assets)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cvar = riskfolio_optimum(returns, case.beta, "CVaR")
            cdar = riskfolio_optimum(returns, case.beta, "CDaR")
        cases.append(
            {
                "name": case.name,
                "beta": case.beta,
                "returns": returns.tolist(),
                "cvar": cvar,
                "cdar": cdar,
            }
        )
    return {
        "generator": "tests/support/make_riskfolio_golden.py",
        "riskfolio": version("riskfolio-lib"),
        "cvxpy": version("cvxpy"),
        "numpy": np.__version__,
        "seed": SEED,
        "cases": cases,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--output", type=Path, default=GOLDEN)
    args = parser.parse_args(argv)
    payload = build()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload) + "\n")
    print(f"wrote {len(payload['cases'])} cases to {args.output}")


if __name__ == "__main__":
    main()
