r"""Exact mean-variance optimisation with per-asset bounds and a fully invested budget.

Every function answers a point of the efficient frontier: a solution of

.. math:: \min_w\ w^\top \Sigma w \quad\text{s.t.}\quad \mu^\top w \ge r,\ \
          \mathbf 1^\top w = 1,\ \ l \le w \le u

for some return floor :math:`r` (:func:`efficient_return` takes :math:`r` itself; as in
PyPortfolioOpt and Riskfolio-Lib the target is a floor, so a target at or below the
minimum-variance return answers the minimum-variance portfolio). :func:`critical_line`
computes the frontier once and exactly: the minimum-variance portfolio by a primal active-set
method, then Markowitz's critical line up to the maximum-return portfolio (see
:mod:`compute._critical_line` for the method and references). Between two turning points the
efficient weights are an affine function of the target return, so every point of the frontier
is an exact interpolation of two turning points, and :func:`efficient_frontier` needs no
further optimisation. :func:`efficient_risk` (a volatility cap) and :func:`max_sharpe` pick
their point on the same turning points in closed form.

``bounds`` is a pair ``(lower, upper)``; each side is a scalar for every asset, a length-N array,
or ``None`` (unbounded on that side, allowed as long as the budget keeps the weights bounded).
The default ``(0, 1)`` is long-only.

Degenerate cases: when the minimum-variance portfolio already has the highest attainable
return (for instance when all means are equal) the frontier is a single point; then
:func:`efficient_frontier` returns ``n_points`` identical rows and :func:`efficient_return`
answers that portfolio for every target up to its return. Ties among means need no special
handling.

``cov`` must be positive definite (a singular sample covariance raises
:class:`~compute.exceptions.NotPositiveDefiniteError`; shrink it with
:func:`compute.estimators.ledoit_wolf_covariance`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compute import _critical_line, _mandate_path
from compute._validation import (
    check_covariance,
    cholesky_or_raise,
    number_or_infinity,
    positive_int,
    vector_of_length,
)
from compute.exceptions import InfeasibleError, InvalidInputError
from compute.mandates import Mandate, resolve_mandate

__all__ = [
    "CriticalLine",
    "EfficientFrontier",
    "PortfolioPerformance",
    "critical_line",
    "efficient_frontier",
    "efficient_return",
    "efficient_risk",
    "max_sharpe",
    "min_variance",
    "portfolio_performance",
]

FloatArray = NDArray[np.float64]
Bounds = tuple[Any, Any]
Groups = Mapping[str, tuple[Any, float | None, float | None]]
_LONG_ONLY: Bounds = (0.0, 1.0)
# Targets this close (relative) to an end of the frontier are snapped onto it.
_TARGET_TOLERANCE = 1e-10


@dataclass(frozen=True)
class PortfolioPerformance:
    """Expected return, volatility and Sharpe ratio of a portfolio."""

    expected_return: float
    volatility: float
    sharpe: float

    def to_dict(self) -> dict[str, float]:
        """JSON-safe representation."""
        return {
            "expected_return": self.expected_return,
            "volatility": self.volatility,
            "sharpe": self.sharpe,
        }


@dataclass(frozen=True)
class EfficientFrontier:
    """Points of the efficient frontier, evenly spaced in expected return.

    Attributes
    ----------
    returns, volatilities, sharpe
        Length ``n_points``; increasing returns from the minimum-variance to the maximum-return
        portfolio; ``sharpe = (returns - risk_free_rate) / volatilities``.
    weights
        ``n_points`` × N.
    risk_free_rate
        The rate used for ``sharpe``.
    """

    returns: FloatArray
    volatilities: FloatArray
    sharpe: FloatArray
    weights: FloatArray
    risk_free_rate: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (lists and floats)."""
        return {
            "returns": self.returns.tolist(),
            "volatilities": self.volatilities.tolist(),
            "sharpe": self.sharpe.tolist(),
            "weights": self.weights.tolist(),
            "risk_free_rate": self.risk_free_rate,
        }


@dataclass(frozen=True)
class CriticalLine:
    """The efficient frontier's turning points, from minimum variance to maximum return.

    Attributes
    ----------
    weights
        K × N turning-point portfolios with strictly increasing expected returns (K >= 1).
    returns, volatilities
        Their expected returns and volatilities.
    risk_tolerances
        The :math:`\\lambda` of :math:`\\min \\tfrac12 w^\\top\\Sigma w - \\lambda\\mu^\\top w` at
        which each turning point starts (0 for the minimum-variance portfolio).
    mu, cov, lower, upper
        The problem data (bounds after resolution to per-asset arrays).
    mandate
        The mandate beyond the bounds (``None``: bounds only). With costs, ``returns`` are
        net of them: :math:`\\mu^\\top w - \\sum_i c_i |w_i - w^0_i|`.
    """

    weights: FloatArray
    returns: FloatArray
    volatilities: FloatArray
    risk_tolerances: FloatArray
    mu: FloatArray
    cov: FloatArray
    lower: FloatArray
    upper: FloatArray
    mandate: Mandate | None = None

    def net_returns(self, weights: FloatArray) -> FloatArray:
        """Expected returns of rows of ``weights``, net of the mandate's costs."""
        if self.mandate is None:
            gross: FloatArray = weights @ self.mu
            return gross
        return self.mandate.net_returns(weights, self.mu)

    @property
    def return_range(self) -> tuple[float, float]:
        """(minimum-variance return, maximum return) — the efficient targets."""
        return float(self.returns[0]), float(self.returns[-1])

    @property
    def volatility_range(self) -> tuple[float, float]:
        """(minimum volatility, volatility of the maximum-return portfolio)."""
        return float(self.volatilities[0]), float(self.volatilities[-1])

    def at_returns(self, targets: FloatArray) -> FloatArray:
        """Efficient weights (len(targets) × N) for targets inside :attr:`return_range`."""
        if self.returns.size == 1:
            return np.repeat(self.weights, targets.size, axis=0)
        # Turning point k and k+1 bracket the target; the weights are affine in the return
        # between them, so linear interpolation is exact.
        segment = np.clip(np.searchsorted(self.returns, targets, side="right") - 1, 0, None)
        segment = np.minimum(segment, self.returns.size - 2)
        start = self.returns[segment]
        fraction = np.clip((targets - start) / (self.returns[segment + 1] - start), 0.0, 1.0)
        weights: FloatArray = self.weights[segment] + fraction[:, None] * (
            self.weights[segment + 1] - self.weights[segment]
        )
        return weights

    def efficient_return(self, target_return: float) -> FloatArray:
        """Minimum-variance weights whose expected return is at least ``target_return``.

        A target at or below the minimum-variance return answers the minimum-variance
        portfolio; one above the maximum return raises :class:`InfeasibleError` (see
        :func:`efficient_return`).
        """
        low, high = self.return_range
        target = number_or_infinity(target_return, "target_return")
        slack = _TARGET_TOLERANCE * max(1.0, abs(low), abs(high))
        if target > high + slack:
            raise InfeasibleError(
                f"target_return {target:g} exceeds the maximum expected return {high:g} "
                "attainable within the bounds; the efficient frontier spans returns "
                f"[{low:g}, {high:g}] (a target at or below {low:g} answers the "
                "minimum-variance portfolio)",
                lower=low,
                upper=high,
            )
        if target <= low:
            floor: FloatArray = self.weights[0].copy()
            return floor
        weights: FloatArray = self.at_returns(np.array([min(target, high)]))[0]
        return weights

    def efficient_risk(self, target_volatility: float) -> FloatArray:
        """Highest-return weights whose volatility is at most ``target_volatility``.

        A target at or above the maximum-return portfolio's volatility answers that portfolio;
        one below the minimum volatility raises :class:`InfeasibleError` (see
        :func:`efficient_risk`).
        """
        low, high = self.volatility_range
        target = number_or_infinity(target_volatility, "target_volatility")
        if target < low * (1.0 - _TARGET_TOLERANCE):
            raise InfeasibleError(
                f"target_volatility {target:g} is below the minimum attainable volatility "
                f"{low:g} within the bounds; feasible targets are >= {low:g} (at or above "
                f"{high:g}, the maximum-return portfolio's volatility, the answer is that "
                "portfolio)",
                lower=low,
                upper=None,
            )
        if target >= high or target <= low:
            corner: FloatArray = self.weights[-1 if target >= high else 0].copy()
            return corner
        k = int(np.searchsorted(self.volatilities, target, side="right")) - 1
        start, direction = self.weights[k], self.weights[k + 1] - self.weights[k]
        # Variance along the segment is c0 + 2 c1 t + c2 t^2, increasing on [0, 1].
        c0 = float(start @ self.cov @ start)
        c1 = float(start @ self.cov @ direction)
        c2 = float(direction @ self.cov @ direction)
        fraction = _increasing_quadratic_root(c0 - target * target, c1, c2)
        weights: FloatArray = start + fraction * direction
        return weights

    def max_sharpe(self, risk_free_rate: float = 0.0) -> FloatArray:
        """Weights of the highest Sharpe ratio :math:`(\\mu^\\top w - r_f) / \\sigma(w)`."""
        rate = float(risk_free_rate)
        low, high = self.return_range
        if not math.isfinite(rate) or high <= rate:
            raise InfeasibleError(
                f"max_sharpe needs a portfolio whose expected return exceeds risk_free_rate "
                f"{rate:g}; the efficient returns span [{low:g}, {high:g}]",
                lower=low,
                upper=high,
            )
        # Candidates: every turning point and, on every segment w_k + t d_k (t in [0, 1]), the
        # stationary point of (e + g t) / sqrt(v0 + 2 v1 t + v2 t^2), where the derivative's
        # numerator g v0 - e v1 + t (g v1 - e v2) is linear in t. The (net) return is affine
        # on a segment, so e and g come from the turning points' returns.
        weights = self.weights
        risk = weights @ self.cov
        candidates = [weights]
        if weights.shape[0] > 1:
            start, direction = weights[:-1], np.diff(weights, axis=0)
            risk_direction = np.diff(risk, axis=0)
            excess = self.returns[:-1] - rate
            gain = np.diff(self.returns)
            v0 = np.sum(start * risk[:-1], axis=1)
            v1 = np.sum(start * risk_direction, axis=1)
            v2 = np.sum(direction * risk_direction, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                fraction = (excess * v1 - gain * v0) / (gain * v1 - excess * v2)
            fraction = np.clip(np.nan_to_num(fraction, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
            candidates.append(start + fraction[:, None] * direction)
        pool = np.vstack(candidates)
        excess_pool = self.net_returns(pool) - rate
        volatility_pool = np.sqrt(np.maximum(np.sum((pool @ self.cov) * pool, axis=1), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            sharpe = np.where(volatility_pool > 0.0, excess_pool / volatility_pool, -np.inf)
        result: FloatArray = pool[int(np.argmax(sharpe))].copy()
        return result

    def frontier(self, n_points: int, risk_free_rate: float = 0.0) -> EfficientFrontier:
        """``n_points`` efficient portfolios evenly spaced in return."""
        low, high = self.return_range
        targets = np.linspace(low, high, n_points)
        weights = self.at_returns(targets)
        returns = self.net_returns(weights)
        volatilities = np.sqrt(np.maximum(((weights @ self.cov) * weights).sum(axis=1), 0.0))
        rate = float(risk_free_rate)
        return EfficientFrontier(
            returns=returns,
            volatilities=volatilities,
            sharpe=(returns - rate) / volatilities,
            weights=weights,
            risk_free_rate=rate,
        )


def critical_line(
    mu: Any,
    cov: Any,
    bounds: Bounds = _LONG_ONLY,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
) -> CriticalLine:
    """Compute the efficient frontier's turning points once (see the module docstring).

    ``groups``, ``inequalities``, ``turnover`` and ``costs`` are the mandate of
    :mod:`compute.mandates`; with any of them the path is traced by the parametric active-set
    method of :mod:`compute._mandate_path`, and returns are net of costs.

    Raises
    ------
    InvalidInputError
        Mismatched shapes, non-finite values, fewer than two assets, malformed bounds or
        mandate.
    NotPositiveDefiniteError
        ``cov`` is singular or indefinite.
    InfeasibleError
        The bounds admit no fully invested portfolio; the message names the range of sums.
    compute.mandates.MandateInfeasibleError
        No portfolio meets the mandate; ``conflicts`` names the constraints that clash.
    """
    covariance = check_covariance(cov)
    n_assets = covariance.shape[0]
    means = vector_of_length(mu, "mu", n_assets)
    cholesky_or_raise(covariance)
    mandate = resolve_mandate(
        n_assets, bounds, groups=groups, inequalities=inequalities, turnover=turnover, costs=costs
    )
    kept_mandate: Mandate | None = None
    if mandate.is_box_only:
        path = _critical_line.trace_path(means, covariance, mandate.lower, mandate.upper)
        path_weights, path_lambdas = path.weights, path.lambdas
        returns = path_weights @ means
    else:
        kept_mandate = mandate
        mandate_path = _mandate_path.trace(means, covariance, mandate)
        path_weights, path_lambdas = mandate_path.weights, mandate_path.lambdas
        returns = mandate.net_returns(path_weights, means)
    # Keep turning points whose return strictly increases: equal returns mean equal weights.
    keep = [0]
    tolerance = 1e-13 * max(1.0, float(np.max(np.abs(means))))
    for k in range(1, returns.size):
        if returns[k] > returns[keep[-1]] + tolerance:
            keep.append(k)
    weights = path_weights[keep]
    variances = ((weights @ covariance) * weights).sum(axis=1)
    return CriticalLine(
        weights=weights,
        returns=returns[keep],
        volatilities=np.sqrt(np.maximum(variances, 0.0)),
        risk_tolerances=path_lambdas[keep],
        mu=means,
        cov=covariance,
        lower=mandate.lower,
        upper=mandate.upper,
        mandate=kept_mandate,
    )


def min_variance(
    cov: Any,
    bounds: Bounds = _LONG_ONLY,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
) -> FloatArray:
    """Minimum-variance fully invested weights within ``bounds`` and the mandate (exact
    active-set QP; costs do not enter the variance).

    Raises
    ------
    InvalidInputError, NotPositiveDefiniteError, InfeasibleError, MandateInfeasibleError
        As for :func:`critical_line`.
    """
    covariance = check_covariance(cov)
    cholesky_or_raise(covariance)
    mandate = resolve_mandate(
        covariance.shape[0],
        bounds,
        groups=groups,
        inequalities=inequalities,
        turnover=turnover,
        costs=costs,
    )
    if mandate.is_box_only:
        return _critical_line.min_variance_weights(covariance, mandate.lower, mandate.upper)
    return _mandate_path.min_variance(covariance, mandate)


def max_sharpe(
    mu: Any,
    cov: Any,
    risk_free_rate: float = 0.0,
    bounds: Bounds = _LONG_ONLY,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
) -> FloatArray:
    """Weights of the highest Sharpe ratio within ``bounds`` (the tangency portfolio).

    The Sharpe ratio is quasi-concave along the frontier; on each critical-line segment its
    maximiser has a closed form, so the result is exact.

    Raises
    ------
    InfeasibleError
        No portfolio's expected return exceeds ``risk_free_rate`` (the message gives the
        frontier's return range), or the bounds are infeasible.
    """
    return critical_line(
        mu, cov, bounds, groups=groups, inequalities=inequalities, turnover=turnover, costs=costs
    ).max_sharpe(risk_free_rate)


def efficient_return(
    mu: Any,
    cov: Any,
    target_return: float,
    bounds: Bounds = _LONG_ONLY,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
) -> FloatArray:
    r"""Minimum-variance weights whose expected return is at least ``target_return``.

    Solves

    .. math:: \min_w\ w^\top \Sigma w \quad\text{s.t.}\quad \mu^\top w \ge r,\ \
              \mathbf 1^\top w = 1,\ \ l \le w \le u

    exactly, by interpolating the critical line's turning points. The target is a floor, as in
    PyPortfolioOpt and Riskfolio-Lib: at or below the minimum-variance portfolio's return it
    does not bind and the answer is :func:`min_variance`; inside the efficient range
    ``[r_min_variance, r_max]`` the answer's return equals the target.

    Parameters
    ----------
    mu
        Expected returns, length N.
    cov
        N × N positive definite covariance matrix.
    target_return
        The floor :math:`r` on the expected return :math:`\mu^\top w`; ``-inf`` means no
        floor.
    bounds
        ``(lower, upper)`` per-asset bounds (see the module docstring); long-only by default.

    Returns
    -------
    numpy.ndarray
        The efficient weights, length N, summing to 1.

    Raises
    ------
    InfeasibleError
        ``target_return`` exceeds the maximum expected return attainable within the bounds;
        the message names the frontier's return range ``[r_min_variance, r_max]``, which the
        error carries as ``lower``/``upper``. Also raised when the bounds are infeasible.
    InvalidInputError
        ``target_return`` is NaN or not a number; bad ``mu``, ``cov`` or ``bounds``.
    NotPositiveDefiniteError
        ``cov`` is singular or indefinite.
    """
    return critical_line(
        mu, cov, bounds, groups=groups, inequalities=inequalities, turnover=turnover, costs=costs
    ).efficient_return(target_return)


def efficient_risk(
    mu: Any,
    cov: Any,
    target_volatility: float,
    bounds: Bounds = _LONG_ONLY,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
) -> FloatArray:
    r"""Highest-return weights whose volatility is at most ``target_volatility``.

    Solves

    .. math:: \max_w\ \mu^\top w \quad\text{s.t.}\quad w^\top \Sigma w \le \sigma^2,\ \
              \mathbf 1^\top w = 1,\ \ l \le w \le u

    exactly: on the critical-line segment that brackets ``target_volatility`` the variance is
    a quadratic in the interpolation parameter, solved in closed form. The target is a cap, as
    in PyPortfolioOpt and Riskfolio-Lib: at or above the maximum-return portfolio's volatility
    it does not bind and the answer is that portfolio.

    Parameters
    ----------
    mu
        Expected returns, length N.
    cov
        N × N positive definite covariance matrix.
    target_volatility
        The cap :math:`\sigma` on the volatility :math:`\sqrt{w^\top \Sigma w}`; ``inf``
        means no cap.
    bounds
        ``(lower, upper)`` per-asset bounds (see the module docstring); long-only by default.

    Returns
    -------
    numpy.ndarray
        The efficient weights, length N, summing to 1.

    Raises
    ------
    InfeasibleError
        ``target_volatility`` is below the minimum volatility attainable within the bounds,
        which the message names and the error carries as ``lower`` (``upper`` is ``None``:
        every larger target is feasible). Also raised when the bounds are infeasible.
    InvalidInputError
        ``target_volatility`` is NaN or not a number; bad ``mu``, ``cov`` or ``bounds``.
    NotPositiveDefiniteError
        ``cov`` is singular or indefinite.
    """
    return critical_line(
        mu, cov, bounds, groups=groups, inequalities=inequalities, turnover=turnover, costs=costs
    ).efficient_risk(target_volatility)


def efficient_frontier(
    mu: Any,
    cov: Any,
    n_points: int = 50,
    bounds: Bounds = _LONG_ONLY,
    risk_free_rate: float = 0.0,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
) -> EfficientFrontier:
    """``n_points`` efficient portfolios, evenly spaced in return from minimum variance to
    maximum return, all from one critical-line pass.

    ``risk_free_rate`` only enters the ``sharpe`` column.
    """
    count = positive_int(n_points, "n_points", minimum=2)
    return critical_line(
        mu, cov, bounds, groups=groups, inequalities=inequalities, turnover=turnover, costs=costs
    ).frontier(count, risk_free_rate)


def portfolio_performance(
    weights: Any, mu: Any, cov: Any, risk_free_rate: float = 0.0
) -> PortfolioPerformance:
    """Expected return :math:`\\mu^\\top w`, volatility :math:`\\sqrt{w^\\top\\Sigma w}` and
    Sharpe ratio of given weights.

    Raises
    ------
    InvalidInputError
        Bad shapes or values, or a zero volatility (the Sharpe ratio is undefined).
    """
    covariance = check_covariance(cov)
    n_assets = covariance.shape[0]
    w = vector_of_length(weights, "weights", n_assets)
    means = vector_of_length(mu, "mu", n_assets)
    variance = float(w @ covariance @ w)
    if variance <= 0.0:
        raise InvalidInputError("portfolio volatility is zero; the Sharpe ratio is undefined")
    expected = float(means @ w)
    volatility = math.sqrt(variance)
    return PortfolioPerformance(
        expected_return=expected,
        volatility=volatility,
        sharpe=(expected - float(risk_free_rate)) / volatility,
    )


def _increasing_quadratic_root(constant: float, linear: float, quadratic: float) -> float:
    """Root in [0, 1] of constant + 2 linear t + quadratic t^2 (increasing on [0, 1])."""
    if quadratic <= 0.0:
        root = 0.0 if linear <= 0.0 else -constant / (2.0 * linear)
    else:
        discriminant = max(linear * linear - quadratic * constant, 0.0)
        root = (-linear + math.sqrt(discriminant)) / quadratic
    return min(max(root, 0.0), 1.0)
