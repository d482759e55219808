r"""Hierarchical Risk Parity (López de Prado, 2016).

1. From the sample covariance :math:`\Sigma` of the returns take the correlation
   :math:`\rho` and the correlation distance :math:`d_{ij} = \sqrt{(1 - \rho_{ij}) / 2}`.
2. Cluster the assets with SciPy's hierarchical ``linkage`` of the condensed distance matrix
   (``single``, ``complete``, ``average`` or ``ward``).
3. Quasi-diagonalise: order the assets by the linkage's leaf order (``leaves_list``).
4. Recursive bisection: start with weight 1 on every asset and the whole ordered list as one
   cluster; split every cluster into its first and second half (``n // 2``); each half's
   variance is the variance of its inverse-variance portfolio
   :math:`w^{IVP} = \mathrm{diag}(\Sigma_c)^{-1} / \mathrm{tr}(\mathrm{diag}(\Sigma_c)^{-1})`,
   :math:`V_c = w^{IVP\top} \Sigma_c w^{IVP}`; the first half's weights are multiplied by
   :math:`\alpha = 1 - V_1 / (V_1 + V_2)` and the second half's by :math:`1 - \alpha`.

Reference: M. López de Prado, "Building diversified portfolios that outperform out of sample",
J. Portfolio Management 42(4) (2016) 59-69, and *Advances in Financial Machine Learning*
(2018), snippets 16.1-16.4. As in PyPortfolioOpt, Riskfolio-Lib and skfolio, the linkage is
computed on the condensed correlation distances themselves; the paper's extra step of a
Euclidean distance between the columns of :math:`d` is not applied.

NaN rows of ``returns`` are dropped (see :mod:`compute.estimators`). Weights are long-only and
sum to one; the scale of the returns (daily or annual) does not change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.cluster.hierarchy
import scipy.spatial.distance
from numpy.typing import NDArray

from compute._validation import clean_returns
from compute.choices import LINKAGE_METHODS, LinkageMethod
from compute.exceptions import InvalidInputError

__all__ = [
    "HRPResult",
    "LinkageMethod",
    "correlation_distance",
    "hierarchical_risk_parity",
    "hrp_weights",
]


@dataclass(frozen=True)
class HRPResult:
    """Outcome of :func:`hierarchical_risk_parity`.

    Attributes
    ----------
    weights
        Long-only weights summing to one, in the input's column order.
    order
        The quasi-diagonal order: column indices in the linkage's leaf order (the dendrogram's
        left-to-right order).
    linkage_matrix
        SciPy linkage matrix, (N - 1)×4: merged cluster ids, distance, size. Feed it to
        ``scipy.cluster.hierarchy.dendrogram`` to draw the tree.
    linkage
        The linkage method used.
    distance
        N×N correlation distance matrix :math:`\\sqrt{(1-\\rho)/2}`.
    """

    weights: NDArray[np.float64]
    order: NDArray[np.intp]
    linkage_matrix: NDArray[np.float64]
    linkage: LinkageMethod
    distance: NDArray[np.float64]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (lists, ints and floats)."""
        return {
            "weights": self.weights.tolist(),
            "order": [int(i) for i in self.order],
            "linkage_matrix": self.linkage_matrix.tolist(),
            "linkage": self.linkage,
            "distance": self.distance.tolist(),
        }


def correlation_distance(correlation: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""The metric :math:`d_{ij} = \sqrt{(1 - \rho_{ij}) / 2}` in :math:`[0, 1]`, zero diagonal."""
    distance = np.sqrt(np.clip((1.0 - correlation) * 0.5, 0.0, 1.0))
    np.fill_diagonal(distance, 0.0)
    result: NDArray[np.float64] = distance
    return result


def hierarchical_risk_parity(returns: Any, linkage: LinkageMethod = "single") -> HRPResult:
    """Hierarchical Risk Parity weights with the tree behind them.

    Parameters
    ----------
    returns
        T×N simple returns, T >= 2, N >= 2; rows with a NaN are dropped.
    linkage
        ``"single"`` (the paper's choice), ``"complete"``, ``"average"`` or ``"ward"``.

    Raises
    ------
    InvalidInputError
        Bad shapes, non-finite values, an unknown linkage, or an asset with zero variance
        (its correlation is undefined).
    """
    if linkage not in LINKAGE_METHODS:
        raise InvalidInputError(f"linkage must be one of {LINKAGE_METHODS}, got {linkage!r}")
    matrix = clean_returns(returns)
    centred = matrix - matrix.mean(axis=0)
    covariance = (centred.T @ centred) / (matrix.shape[0] - 1)
    variances = np.diag(covariance).copy()
    # A constant column has a rounding-level variance, not exactly 0: compare with its size.
    constant = variances <= (1e-10 * np.max(np.abs(matrix), axis=0)) ** 2
    if np.any(constant):
        flat = [int(i) for i in np.flatnonzero(constant)]
        raise InvalidInputError(
            f"assets {flat} have zero variance; their correlation is undefined for HRP"
        )
    inverse_vol = 1.0 / np.sqrt(variances)
    correlation = np.clip(covariance * np.outer(inverse_vol, inverse_vol), -1.0, 1.0)
    distance = correlation_distance(correlation)
    # Exact symmetry is needed by squareform; (d + d') / 2 removes the matmul's rounding.
    condensed = scipy.spatial.distance.squareform(0.5 * (distance + distance.T), checks=False)
    linkage_matrix = np.asarray(
        scipy.cluster.hierarchy.linkage(condensed, method=linkage), dtype=np.float64
    )
    order = np.asarray(scipy.cluster.hierarchy.leaves_list(linkage_matrix), dtype=np.intp)
    weights = _recursive_bisection(covariance, variances, order)
    return HRPResult(
        weights=weights,
        order=order,
        linkage_matrix=linkage_matrix,
        linkage=linkage,
        distance=distance,
    )


def hrp_weights(returns: Any, linkage: LinkageMethod = "single") -> NDArray[np.float64]:
    """Hierarchical Risk Parity weights (long-only, summing to one).

    See :func:`hierarchical_risk_parity` for the method, the tree and the errors.
    """
    return hierarchical_risk_parity(returns, linkage).weights


def _recursive_bisection(
    covariance: NDArray[np.float64], variances: NDArray[np.float64], order: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Split the ordered list into halves top-down, allocating by inverse cluster variance."""
    # With the covariance permuted into the quasi-diagonal order every cluster is a contiguous
    # slice, so cluster blocks are views rather than fancy-indexed copies.
    ordered_cov = covariance[np.ix_(order, order)]
    inverse_var = 1.0 / variances[order]
    ordered_weights = np.ones(order.size)
    clusters: list[tuple[int, int]] = [(0, order.size)]
    while clusters:
        next_level: list[tuple[int, int]] = []
        for start, stop in clusters:
            if stop - start < 2:
                continue
            middle = start + (stop - start) // 2
            left_var = _ivp_variance(ordered_cov, inverse_var, start, middle)
            right_var = _ivp_variance(ordered_cov, inverse_var, middle, stop)
            alpha = 1.0 - left_var / (left_var + right_var)
            ordered_weights[start:middle] *= alpha
            ordered_weights[middle:stop] *= 1.0 - alpha
            next_level.extend(((start, middle), (middle, stop)))
        clusters = next_level
    weights = np.empty(order.size)
    weights[order] = ordered_weights
    return weights


def _ivp_variance(
    ordered_cov: NDArray[np.float64], inverse_var: NDArray[np.float64], start: int, stop: int
) -> float:
    """Variance of the inverse-variance portfolio of the contiguous cluster [start, stop)."""
    ivp = inverse_var[start:stop] / inverse_var[start:stop].sum()
    return float(ivp @ ordered_cov[start:stop, start:stop] @ ivp)
