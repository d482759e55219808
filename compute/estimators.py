"""Annualised estimators of expected returns and covariance from a T×N matrix of simple returns.

Rows are periods (days), columns are assets. Every function accepts ``periods_per_year`` (252
for daily data) and returns annualised numbers: covariances are scaled by ``periods_per_year``
(the i.i.d. square-root-of-time rule), means as described in :func:`mean_returns`.

NaN policy
----------
A row with a NaN in any column is dropped before estimation (listwise deletion): every
estimator then sees the same complete days, so the covariance stays positive semi-definite,
which pairwise deletion does not guarantee. Infinite values raise
:class:`~compute.exceptions.InvalidInputError`, as do fewer than two complete rows or fewer than
two columns. For :func:`ewma_covariance` the half-life counts complete rows.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from compute._validation import clean_returns, positive_number
from compute.exceptions import InvalidInputError

__all__ = [
    "ewma_covariance",
    "ledoit_wolf_covariance",
    "ledoit_wolf_shrinkage",
    "mean_returns",
    "sample_covariance",
]

MeanMethod = Literal["arithmetic", "geometric"]


def sample_covariance(returns: Any, periods_per_year: float = 252) -> NDArray[np.float64]:
    r"""Unbiased sample covariance, annualised.

    .. math:: \hat\Sigma = \frac{p}{T-1} \sum_{t=1}^{T} (r_t - \bar r)(r_t - \bar r)^\top

    with :math:`p` = ``periods_per_year``. Singular when N >= T; use
    :func:`ledoit_wolf_covariance` there.

    Parameters
    ----------
    returns
        T×N simple returns (rows = periods). Rows with a NaN are dropped.
    periods_per_year
        Periods in a year, 252 for trading days.

    Returns
    -------
    ndarray
        N×N annualised covariance.
    """
    matrix = clean_returns(returns)
    scale = positive_number(periods_per_year, "periods_per_year")
    centred = matrix - matrix.mean(axis=0)
    cov: NDArray[np.float64] = (centred.T @ centred) * (scale / (matrix.shape[0] - 1))
    return _symmetrise(cov)


def ledoit_wolf_shrinkage(returns: Any) -> float:
    r"""The Ledoit-Wolf (2004) shrinkage intensity towards the scaled identity.

    With :math:`X` the demeaned T×N returns, :math:`S = X^\top X / T`, :math:`m = \mathrm{tr}(S)/N`,

    .. math::
        d^2 = \lVert S - mI \rVert_F^2 / N, \qquad
        b^2 = \min\Big(d^2,\ \frac{1}{N T^2} \sum_t \lVert x_t x_t^\top - S \rVert_F^2\Big),
        \qquad \delta = b^2 / d^2 .

    Reference: O. Ledoit and M. Wolf, "A well-conditioned estimator for large-dimensional
    covariance matrices", J. Multivariate Analysis 88 (2004) 365-411, Lemma 3.2 - 3.4. This is
    the same estimate as scikit-learn's ``LedoitWolf`` (the whole-matrix, unblocked form).
    """
    matrix = clean_returns(returns)
    return _ledoit_wolf(matrix)[1]


def ledoit_wolf_covariance(returns: Any, periods_per_year: float = 252) -> NDArray[np.float64]:
    r"""Ledoit-Wolf shrinkage covariance towards the scaled identity, annualised.

    .. math:: \hat\Sigma = p\,\big[(1-\delta) S + \delta\, m I\big]

    where :math:`S` is the maximum-likelihood covariance (divide by T), :math:`m = \mathrm{tr}(S)/N`
    the average variance (the target is :math:`mI`, "constant variance, zero correlation") and
    :math:`\delta` from :func:`ledoit_wolf_shrinkage`. Positive definite whenever
    :math:`\delta > 0` and :math:`m > 0`, in particular when N > T, where the sample covariance is
    singular.

    Raises
    ------
    InvalidInputError
        If every asset has zero variance (the target is then zero).
    """
    matrix = clean_returns(returns)
    scale = positive_number(periods_per_year, "periods_per_year")
    shrunk, _ = _ledoit_wolf(matrix)
    return _symmetrise(shrunk * scale)


def ewma_covariance(
    returns: Any, halflife: float, periods_per_year: float = 252
) -> NDArray[np.float64]:
    r"""Exponentially weighted covariance, annualised.

    Row :math:`t` of :math:`T` (oldest first) gets weight :math:`\alpha_t \propto
    \lambda^{T-1-t}` with decay :math:`\lambda = 2^{-1/h}` for half-life :math:`h` rows; the
    weights are normalised to sum to one. The mean is the weighted mean and the estimate uses
    the reliability-weights bias correction

    .. math:: \hat\Sigma = \frac{p}{1 - \sum_t \alpha_t^2} \sum_t \alpha_t (r_t - \bar r_\alpha)
              (r_t - \bar r_\alpha)^\top ,

    which equals pandas' ``ewm(halflife=h, adjust=True).cov(bias=False)`` at the last row and
    tends to :func:`sample_covariance` as :math:`h \to \infty`.
    """
    matrix = clean_returns(returns)
    scale = positive_number(periods_per_year, "periods_per_year")
    half_life = positive_number(halflife, "halflife")
    n_rows = matrix.shape[0]
    # Ages 0 for the newest row; built in log space so long histories do not underflow to 0/0.
    ages = np.arange(n_rows - 1, -1, -1, dtype=np.float64)
    weights = np.exp(-math.log(2.0) * ages / half_life)
    weights /= weights.sum()
    mean = weights @ matrix
    centred = matrix - mean
    correction = 1.0 - float(weights @ weights)
    if correction <= 0.0:
        raise InvalidInputError(
            "halflife is too short: the newest row carries all the weight, so the "
            "exponentially weighted covariance is undefined"
        )
    cov: NDArray[np.float64] = (centred.T * weights) @ centred * (scale / correction)
    return _symmetrise(cov)


def mean_returns(
    returns: Any, periods_per_year: float = 252, method: MeanMethod = "arithmetic"
) -> NDArray[np.float64]:
    r"""Annualised expected returns per asset.

    ``"arithmetic"``: :math:`p\,\bar r` (the mean simple return times periods per year; for daily
    data this is, to first order, the continuously compounded drift that
    :func:`compute.monte_carlo.simulate` takes as ``mu``).

    ``"geometric"``: the compound annual growth rate
    :math:`\big(\prod_t (1 + r_t)\big)^{p/T} - 1`, computed in log space. Returns below -1 are
    invalid for this method; a return of exactly -1 gives -1.
    """
    matrix = clean_returns(returns)
    scale = positive_number(periods_per_year, "periods_per_year")
    if method == "arithmetic":
        result: NDArray[np.float64] = matrix.mean(axis=0) * scale
        return result
    if method == "geometric":
        if np.any(matrix < -1.0):
            raise InvalidInputError("geometric mean needs every return >= -1 (a loss <= 100%)")
        with np.errstate(divide="ignore"):
            log_growth = np.log1p(matrix).sum(axis=0)
        geometric: NDArray[np.float64] = np.expm1(log_growth * (scale / matrix.shape[0]))
        return geometric
    raise InvalidInputError(f"method must be 'arithmetic' or 'geometric', got {method!r}")


def _ledoit_wolf(matrix: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Per-period shrunk covariance and the shrinkage intensity (see ledoit_wolf_shrinkage)."""
    n_rows, n_assets = matrix.shape
    centred = matrix - matrix.mean(axis=0)
    sample = (centred.T @ centred) / n_rows
    target_variance = float(np.trace(sample)) / n_assets
    if target_variance <= 0.0:
        raise InvalidInputError("every asset has zero variance; the covariance is zero")
    dispersion = float(np.sum((sample - target_variance * np.eye(n_assets)) ** 2)) / n_assets
    row_norms_sq = np.einsum("ij,ij->i", centred, centred)
    # sum_t ||x_t x_t' - S||_F^2 = sum_t ||x_t||^4 - T ||S||_F^2, so no T×N×N tensor is needed.
    spread = (float(row_norms_sq @ row_norms_sq) / n_rows - float(np.sum(sample**2))) / (
        n_assets * n_rows
    )
    spread = min(max(spread, 0.0), dispersion)
    shrinkage = 0.0 if dispersion == 0.0 else spread / dispersion
    shrunk = (1.0 - shrinkage) * sample
    shrunk[np.diag_indices_from(shrunk)] += shrinkage * target_variance
    return shrunk, shrinkage


def _symmetrise(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Remove the rounding asymmetry of X'X products so downstream checks see exact symmetry."""
    symmetric: NDArray[np.float64] = 0.5 * (matrix + matrix.T)
    return symmetric
