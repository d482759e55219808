"""Write the skfolio walk-forward golden file that ``tests/unit/compute/test_backtest.py`` reads.

skfolio is not a project dependency, so the file is generated once in a separate environment
and committed::

    python3.11 -m venv /tmp/peers && /tmp/peers/bin/pip install skfolio numpy scipy
    PYTHONPATH=. /tmp/peers/bin/python -m tests.support.make_skfolio_golden

It stores the seeded input returns and, for every case, skfolio's
``cross_val_predict(estimator, X, cv=WalkForward(test_size, train_size, expand_train=...),
portfolio_params={"weight_drift": ...})`` returns, with full-precision floats (JSON floats
round-trip exactly).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

GOLDEN = (
    Path(__file__).resolve().parents[1] / "unit" / "compute" / "data" / "skfolio_walk_forward.json"
)
SEED = 17
N_DAYS, N_ASSETS = 150, 5
# (train_size, test_size, expand_train): the last one leaves a partial test window to drop.
WINDOWS = ((40, 10, False), (25, 20, True), (30, 17, False))
ESTIMATORS = ("equal-weight", "inverse-volatility")


def make_returns() -> NDArray[np.float64]:
    """Daily returns with a market factor and large moves, so drift matters visibly."""
    rng = np.random.default_rng(SEED)
    market = rng.normal(0.0005, 0.015, (N_DAYS, 1))
    betas = np.linspace(0.5, 1.5, N_ASSETS)
    idio = rng.normal(0.0, 1.0, (N_DAYS, N_ASSETS)) * np.linspace(0.01, 0.04, N_ASSETS)
    returns: NDArray[np.float64] = market * betas + idio
    return returns


def skfolio_returns(
    returns: NDArray[np.float64],
    strategy: str,
    *,
    train_size: int,
    test_size: int,
    expand_train: bool,
    weight_drift: bool,
) -> list[float]:
    """skfolio's cross-validated (walk-forward) daily portfolio returns."""
    from skfolio.model_selection import WalkForward, cross_val_predict
    from skfolio.optimization import EqualWeighted, InverseVolatility

    estimator = EqualWeighted() if strategy == "equal-weight" else InverseVolatility()
    cv = WalkForward(test_size=test_size, train_size=train_size, expand_train=expand_train)
    prediction = cross_val_predict(
        estimator, returns, cv=cv, portfolio_params={"weight_drift": weight_drift}
    )
    return [float(value) for value in np.asarray(prediction.returns, dtype=np.float64)]


def build() -> dict[str, Any]:
    import skfolio

    returns = make_returns()
    cases = [
        {
            "strategy": strategy,
            "train_size": train_size,
            "test_size": test_size,
            "expand_train": expand_train,
            "weight_drift": weight_drift,
            "returns": skfolio_returns(
                returns,
                strategy,
                train_size=train_size,
                test_size=test_size,
                expand_train=expand_train,
                weight_drift=weight_drift,
            ),
        }
        for strategy in ESTIMATORS
        for train_size, test_size, expand_train in WINDOWS
        for weight_drift in (False, True)
    ]
    return {
        "generator": "tests/support/make_skfolio_golden.py",
        "skfolio": str(skfolio.__version__),
        "numpy": np.__version__,
        "seed": SEED,
        "input": returns.tolist(),
        "cases": cases,
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
