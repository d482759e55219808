r"""Risk budgeting (equal risk contribution when the budgets are equal).

The long-only, fully invested portfolio whose risk contributions

.. math:: RC_i(w) = \frac{w_i (\Sigma w)_i}{w^\top \Sigma w}

equal given positive budgets :math:`b_i` (summing to one) is found from Spinu's convex
formulation

.. math:: \min_{y > 0}\ f(y) = \tfrac12 y^\top \Sigma y - \sum_i b_i \ln y_i ,

whose unique minimiser satisfies :math:`y_i (\Sigma y)_i = b_i`, so :math:`w = y / \sum_j y_j`
has exactly the budgeted contributions. The problem is strictly convex for positive definite
:math:`\Sigma`; it is solved by Newton's method (Hessian :math:`\Sigma + \mathrm{diag}(b / y^2)`,
one Cholesky factorisation per iteration) with a step that keeps :math:`y > 0` and an Armijo
backtracking line search, which converges quadratically in a handful of iterations.

Reference: F. Spinu, "An algorithm for computing risk parity weights", SSRN 2297383 (2013).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from compute._validation import (
    check_covariance,
    cholesky_or_raise,
    positive_int,
    positive_number,
    vector_of_length,
)
from compute.exceptions import ConvergenceError, InvalidInputError

__all__ = ["RiskBudgetResult", "risk_budget", "risk_budget_weights", "risk_contributions"]

_DEFAULT_TOLERANCE = 1e-12
_DEFAULT_MAX_ITERATIONS = 100
_ARMIJO_SLOPE = 1e-4
# The positivity-preserving step goes at most this fraction of the way to the boundary y_i = 0.
_FRACTION_TO_BOUNDARY = 0.95
_NEWTON_DECREMENT_SQ_FULL_STEP = 1e-6
_MIN_STEP_LENGTH = 1e-10
# The Hessian's factor is reused while the contribution error falls at least this much per
# iteration (a simplified-Newton, or chord, step: one O(N²) solve instead of an O(N³)
# factorisation); slower progress refactors it at the current point.
_CHORD_CONTRACTION = 0.1


@dataclass(frozen=True)
class RiskBudgetResult:
    """Outcome of :func:`risk_budget`.

    Attributes
    ----------
    weights
        Long-only weights summing to one.
    risk_contributions
        :math:`w_i (\\Sigma w)_i / (w^\\top \\Sigma w)`, summing to one.
    budgets
        The normalised budgets the contributions were matched to.
    volatility
        Portfolio volatility :math:`\\sqrt{w^\\top \\Sigma w}` (annualised if ``cov`` is).
    max_error
        :math:`\\max_i |RC_i - b_i|` at the solution.
    iterations
        Newton iterations used.
    """

    weights: NDArray[np.float64]
    risk_contributions: NDArray[np.float64]
    budgets: NDArray[np.float64]
    volatility: float
    max_error: float
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (lists and floats)."""
        return {
            "weights": self.weights.tolist(),
            "risk_contributions": self.risk_contributions.tolist(),
            "budgets": self.budgets.tolist(),
            "volatility": self.volatility,
            "max_error": self.max_error,
            "iterations": self.iterations,
        }


def risk_contributions(weights: Any, cov: Any) -> NDArray[np.float64]:
    r"""Fractional risk contributions :math:`w_i (\Sigma w)_i / (w^\top \Sigma w)`.

    Raises
    ------
    InvalidInputError
        On mismatched shapes, non-finite values or a zero portfolio variance.
    """
    covariance = check_covariance(cov)
    w = vector_of_length(weights, "weights", covariance.shape[0])
    marginal = covariance @ w
    variance = float(w @ marginal)
    if variance <= 0.0:
        raise InvalidInputError("portfolio variance is zero; risk contributions are undefined")
    contributions: NDArray[np.float64] = w * marginal / variance
    return contributions


def risk_budget(
    cov: Any,
    budgets: Any = None,
    *,
    tolerance: float = _DEFAULT_TOLERANCE,
    max_iterations: int = _DEFAULT_MAX_ITERATIONS,
    initial_weights: Any = None,
) -> RiskBudgetResult:
    """Risk-budgeting portfolio with diagnostics; see the module docstring for the method.

    Parameters
    ----------
    cov
        N×N positive definite covariance, N >= 2.
    budgets
        N positive risk budgets; normalised to sum to one. ``None`` means equal budgets
        (equal risk contribution, "risk parity").
    tolerance
        Stop when :math:`\\max_i |RC_i - b_i|` is at most this.
    max_iterations
        Newton iteration limit.
    initial_weights
        Optional positive starting point (length N), for instance the solution of a similar
        problem (a walk-forward backtest passes the previous fold's weights); only the number
        of iterations depends on it. ``None`` starts from the inverse-volatility point.

    Raises
    ------
    InvalidInputError
        Bad shapes, non-finite values, a budget <= 0.
    NotPositiveDefiniteError
        ``cov`` is singular or indefinite.
    ConvergenceError
        The tolerance was not met within ``max_iterations``.
    """
    covariance = check_covariance(cov)
    n_assets = covariance.shape[0]
    target = _normalised_budgets(budgets, n_assets)
    tol = positive_number(tolerance, "tolerance")
    iteration_limit = positive_int(max_iterations, "max_iterations")
    cholesky_or_raise(covariance)

    # Start from the inverse-volatility point (or the given one) scaled so that
    # y'Σy = sum(b) = 1, where the solution lives (the best scale along that ray); for a
    # diagonal Σ the inverse-volatility point is already the answer.
    if initial_weights is None:
        start = np.sqrt(target) / np.sqrt(np.diag(covariance))
    else:
        start = vector_of_length(initial_weights, "initial_weights", n_assets)
        if np.any(start <= 0.0):
            raise InvalidInputError("initial_weights must all be > 0")
    y = start / math.sqrt(float(start @ covariance @ start))

    def objective(point: NDArray[np.float64], marginal: NDArray[np.float64]) -> float:
        return 0.5 * float(point @ marginal) - float(target @ np.log(point))

    marginal = covariance @ y
    value = objective(y, marginal)
    factor: tuple[NDArray[np.float64], bool] | None = None
    previous_error = math.inf
    for iteration in range(iteration_limit + 1):
        error = _contribution_error(y, marginal, target)
        if error <= tol:
            return _result(y, covariance, target, iteration)
        if iteration == iteration_limit:
            break
        gradient = marginal - target / y
        if factor is None or error > _CHORD_CONTRACTION * previous_error:
            hessian = covariance.copy()
            hessian[np.diag_indices_from(hessian)] += target / (y * y)
            factor = scipy.linalg.cho_factor(
                hessian, lower=True, overwrite_a=True, check_finite=False
            )
        previous_error = error
        # Any positive definite matrix gives a descent direction: a stale factor is safe.
        step = scipy.linalg.cho_solve(factor, gradient, check_finite=False)
        decrease = float(gradient @ step)
        shrinking = step > 0.0
        length = 1.0
        if np.any(shrinking):
            length = min(1.0, _FRACTION_TO_BOUNDARY * float(np.min(y[shrinking] / step[shrinking])))
        # Inside the quadratic-convergence region (small Newton decrement) the full step is
        # taken: there the objective's decrease is below its rounding error, so an Armijo test
        # would reject good steps.
        while decrease > _NEWTON_DECREMENT_SQ_FULL_STEP:
            candidate = y - length * step
            if (
                objective(candidate, covariance @ candidate)
                <= (value - _ARMIJO_SLOPE * length * decrease)
                or length < _MIN_STEP_LENGTH
            ):
                break
            length *= 0.5
        y = y - length * step
        marginal = covariance @ y
        value = objective(y, marginal)
    raise ConvergenceError(
        f"risk budgeting did not reach tolerance {tol:g} in {iteration_limit} Newton iterations "
        f"(max contribution error {_contribution_error(y, marginal, target):.3g})"
    )


def risk_budget_weights(cov: Any, budgets: Any = None) -> NDArray[np.float64]:
    """Long-only weights summing to one whose risk contributions equal ``budgets``.

    Equal risk contributions when ``budgets`` is ``None``. See :func:`risk_budget` for the
    parameters, errors and diagnostics.
    """
    return risk_budget(cov, budgets).weights


def _normalised_budgets(budgets: Any, n_assets: int) -> NDArray[np.float64]:
    if budgets is None:
        return np.full(n_assets, 1.0 / n_assets)
    vector = vector_of_length(budgets, "budgets", n_assets)
    if np.any(vector <= 0.0):
        raise InvalidInputError(
            "budgets must all be > 0 (a zero budget means leaving the asset out)"
        )
    normalised: NDArray[np.float64] = vector / vector.sum()
    return normalised


def _contribution_error(
    y: NDArray[np.float64], marginal: NDArray[np.float64], target: NDArray[np.float64]
) -> float:
    contributions = y * marginal
    return float(np.max(np.abs(contributions / contributions.sum() - target)))


def _result(
    y: NDArray[np.float64],
    covariance: NDArray[np.float64],
    target: NDArray[np.float64],
    iterations: int,
) -> RiskBudgetResult:
    weights = y / y.sum()
    marginal = covariance @ weights
    variance = float(weights @ marginal)
    contributions = weights * marginal / variance
    return RiskBudgetResult(
        weights=weights,
        risk_contributions=contributions,
        budgets=target,
        volatility=math.sqrt(variance),
        max_error=float(np.max(np.abs(contributions - target))),
        iterations=iterations,
    )
