"""Random-problem builders shared by the compute tests (imported, not a conftest, so that
hypothesis tests can call them without function-scoped fixtures)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def random_covariance(
    rng: np.random.Generator, n_assets: int, condition: float = 50.0
) -> FloatArray:
    """An annual-scale positive definite covariance with a common factor and given spread of
    eigenvalues (volatilities around 10-40 %)."""
    loadings = rng.normal(0.0, 1.0, (n_assets, max(2, n_assets // 3)))
    factor = loadings @ loadings.T / loadings.shape[1]
    vols = rng.uniform(0.1, 0.4, n_assets)
    corr = factor + np.eye(n_assets) * (np.trace(factor) / n_assets) * (10.0 / condition)
    d = 1.0 / np.sqrt(np.diag(corr))
    corr = corr * np.outer(d, d)
    cov = corr * np.outer(vols, vols)
    return 0.5 * (cov + cov.T)


def random_returns(rng: np.random.Generator, n_days: int, n_assets: int) -> FloatArray:
    """Daily simple returns with a market factor and sector blocks."""
    market = rng.normal(0.0003, 0.01, (n_days, 1))
    sectors = rng.normal(0.0, 0.008, (n_days, 4))
    membership = rng.integers(0, 4, n_assets)
    idio = rng.normal(0.0, 0.012, (n_days, n_assets))
    betas = rng.uniform(0.5, 1.5, n_assets)
    returns: FloatArray = market * betas + sectors[:, membership] + idio
    return returns
