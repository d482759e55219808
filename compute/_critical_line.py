r"""Exact long-only / bounded mean-variance path: an active-set start plus the critical line.

The efficient portfolios are the solutions of the parametric quadratic programme

.. math:: \min_w\ \tfrac12 w^\top \Sigma w - \lambda \mu^\top w
          \quad\text{s.t.}\quad \mathbf 1^\top w = 1,\ \ l \le w \le u

for risk tolerance :math:`\lambda \ge 0`. With a positive definite :math:`\Sigma` the solution
is unique and piecewise linear in :math:`\lambda`; it changes direction only at *turning
points*, where an asset reaches one of its bounds or a bounded asset's multiplier changes sign
(Markowitz's critical line algorithm).

Unlike the textbook CLA, which starts at the maximum-return corner (:math:`\lambda = \infty`)
and needs a tie-breaking rule when several assets share the largest mean, the path here starts
at :math:`\lambda = 0`: the minimum-variance portfolio, solved exactly with a primal active-set
method (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithm 16.3). It then raises
:math:`\lambda` event by event until no event remains; the last turning point is the
maximum-return portfolio of least variance. Ties in :math:`\mu` need no special case because
every finite-:math:`\lambda` problem has a unique solution.

On a segment with free set :math:`F` and the other assets :math:`B` held at their bounds,

.. math::
    \Sigma_{FF} w_F - \gamma \mathbf 1 = \lambda \mu_F - \Sigma_{FB} w_B, \qquad
    \mathbf 1^\top w_F = 1 - \mathbf 1^\top w_B ,

so :math:`w_F = a + \lambda b` and :math:`\gamma = \gamma_a + \lambda \gamma_b`. A bounded asset's
multiplier :math:`g_i = (\Sigma w)_i - \lambda \mu_i - \gamma` must be :math:`\ge 0` at its lower
bound and :math:`\le 0` at its upper bound. The inverse :math:`\Sigma_{FF}^{-1}` is kept up to
date with rank-one updates when an asset enters or leaves :math:`F` (refactorised when its
residual grows), so each event costs :math:`O(N^2)`.

References: H. Markowitz, "The optimization of a quadratic function subject to linear
constraints", Naval Research Logistics Quarterly 3 (1956); A. Niedermayer and D. Niedermayer,
"Applying Markowitz's critical line algorithm" (2010); D. Bailey and M. López de Prado, "An
open-source implementation of the critical-line algorithm for portfolio optimization",
Algorithms 6 (2013) 169-196.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from compute.exceptions import ConvergenceError, InfeasibleError, InvalidInputError

FloatArray = NDArray[np.float64]

# Status codes of an asset.
_FREE = 0
_AT_LOWER = -1
_AT_UPPER = 1

# Relative tolerances. Slopes and steps below these are rounding noise: treating them as zero
# keeps degenerate cases (ties in mu, zero multipliers) from producing spurious events.
_MULTIPLIER_TOL = 1e-11
_SLOPE_TOL = 1e-11
_RESIDUAL_TOL = 1e-13
_REFINEMENT_STEPS = 3
# Rounds of the working-set guess before the exact active-set iterations.
_GUESS_ROUNDS = 12


@dataclass(frozen=True)
class TurningPoints:
    """Turning points of the efficient path, ordered by increasing risk tolerance."""

    lambdas: FloatArray
    weights: FloatArray


def resolve_bounds(bounds: Any, n_assets: int) -> tuple[FloatArray, FloatArray]:
    """Per-asset ``(lower, upper)`` arrays from a pair of scalars or length-N arrays.

    ``None`` means unbounded on that side. Infinite bounds are replaced by the bound the budget
    constraint already implies (``w_i <= 1 - sum_{j != i} l_j`` and the mirror image), which
    leaves the feasible set unchanged; if a bound is still infinite the frontier is unbounded.
    """
    try:
        lower_raw, upper_raw = bounds
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            "bounds must be a pair (lower, upper) of scalars or length-N arrays"
        ) from exc
    lower = _bound_array(lower_raw, n_assets, -np.inf, "lower bound")
    upper = _bound_array(upper_raw, n_assets, np.inf, "upper bound")
    crossed = np.flatnonzero(lower > upper)
    if crossed.size:
        i = int(crossed[0])
        raise InfeasibleError(
            f"lower bound {lower[i]:g} exceeds upper bound {upper[i]:g} for asset {i}",
            lower=float(lower[i]),
            upper=float(upper[i]),
        )
    lower_sum = float(np.sum(lower))
    upper_sum = float(np.sum(upper))
    if not lower_sum <= 1.0 + 1e-12 or not upper_sum >= 1.0 - 1e-12:
        raise InfeasibleError(
            "no fully invested portfolio fits the bounds: weights must sum to 1 but the bounds "
            f"allow sums in [{lower_sum:g}, {upper_sum:g}]",
            lower=lower_sum,
            upper=upper_sum,
        )
    upper = np.minimum(upper, 1.0 - _sum_of_others(lower))
    lower = np.maximum(lower, 1.0 - _sum_of_others(upper))
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
        raise InvalidInputError(
            "bounds leave the weights unbounded (an infinite lower bound together with an "
            "infinite upper bound on another asset); use finite bounds such as (-10, 10)"
        )
    # Tightening can create lower > upper by rounding only when the box is a single point.
    upper = np.maximum(upper, lower)
    return lower, upper


def trace_path(
    mu: FloatArray, cov: FloatArray, lower: FloatArray, upper: FloatArray
) -> TurningPoints:
    """Turning points from the minimum-variance portfolio (lambda = 0) to maximum return."""
    solver = _ActiveSet(cov, lower, upper)
    solver.solve_min_variance()
    lambdas = [0.0]
    weights = [solver.weights.copy()]
    solver.follow_path(mu, lambdas, weights)
    return TurningPoints(lambdas=np.asarray(lambdas), weights=np.vstack(weights))


def min_variance_weights(cov: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """The minimum-variance portfolio within the bounds (the path's first point)."""
    solver = _ActiveSet(cov, lower, upper)
    solver.solve_min_variance()
    return solver.weights.copy()


class _ActiveSet:
    """Working state shared by the min-variance active-set solve and the path tracing."""

    def __init__(self, cov: FloatArray, lower: FloatArray, upper: FloatArray) -> None:
        self.cov = cov
        self.lower = lower
        self.upper = upper
        n_assets = cov.shape[0]
        self.n_assets = n_assets
        self.fixed = upper - lower <= 0.0
        self.status = np.full(n_assets, _FREE, dtype=np.int8)
        self.status[self.fixed] = _AT_LOWER
        self.weights = lower.copy()
        self.free: list[int] = []
        self.inverse = np.zeros((0, 0))
        self.variance_scale = float(np.max(np.diag(cov)))
        self.iteration_limit = 20 * n_assets + 100

    # ----- the inverse of the free block ----------------------------------------------------

    def _refactor(self) -> None:
        if not self.free:
            self.inverse = np.zeros((0, 0))
            return
        block = self.cov[np.ix_(self.free, self.free)]
        self.inverse = scipy.linalg.cho_solve(
            scipy.linalg.cho_factor(block, lower=True, check_finite=False),
            np.eye(len(self.free)),
            check_finite=False,
        )

    def _add_free(self, asset: int) -> None:
        self.status[asset] = _FREE
        grown = bordered_inverse(self.inverse, self.cov, self.free, asset)
        self.free.append(asset)
        if grown is None:
            self._refactor()
        else:
            self.inverse = grown

    def _remove_free(self, position: int, status: int) -> None:
        asset = self.free.pop(position)
        self.status[asset] = status
        self.weights[asset] = self.lower[asset] if status == _AT_LOWER else self.upper[asset]
        self.inverse = reduced_inverse(self.inverse, position)

    # ----- phase 1: minimum variance -------------------------------------------------------

    def _initial_point(self) -> None:
        """A feasible start with a guessed working set.

        The guess: minimise the variance with only the budget constraint on the current free
        set, hold every asset that lands outside its box at the bound it crossed, and repeat
        (a few Cholesky solves of shrinking blocks). The exact active-set iterations that
        follow only correct the guess, which saves most of their one-asset-at-a-time steps.
        """
        all_free = np.where(self.fixed, _AT_LOWER, _FREE).astype(np.int8)
        guess = all_free.copy()
        best = all_free
        for _ in range(_GUESS_ROUNDS):
            free = np.flatnonzero(guess == _FREE)
            if free.size == 0 or not self._fill(guess):
                break
            best = guess.copy()
            held = np.where(guess == _AT_UPPER, self.upper, self.lower)
            held[free] = 0.0
            cross = (self.cov @ held)[free]
            factor = scipy.linalg.cho_factor(
                self.cov[np.ix_(free, free)], lower=True, check_finite=False
            )
            ones_solve = scipy.linalg.cho_solve(factor, np.ones(free.size), check_finite=False)
            cross_solve = scipy.linalg.cho_solve(factor, cross, check_finite=False)
            gamma = (1.0 - float(held.sum()) + float(cross_solve.sum())) / float(ones_solve.sum())
            candidate = gamma * ones_solve - cross_solve
            below = candidate < self.lower[free]
            above = candidate > self.upper[free]
            if not (np.any(below) or np.any(above)):
                break
            guess[free[below]] = _AT_LOWER
            guess[free[above]] = _AT_UPPER
        self._fill(best)
        self.status = best
        self.free = [int(i) for i in np.flatnonzero(best == _FREE)]
        self._refactor()

    def _fill(self, status: NDArray[np.int8]) -> bool:
        """Set bounded assets at their bounds and spread the rest of the budget over the free
        ones proportionally to their ranges; False if that cannot sum to one."""
        free = status == _FREE
        if not np.any(free):
            return False
        weights = np.where(status == _AT_UPPER, self.upper, self.lower)
        remaining = 1.0 - float(np.sum(weights))
        room = float(np.sum(self.upper[free] - self.lower[free]))
        if remaining < -1e-12 or remaining > room + 1e-12:
            return False
        share = 0.0 if room <= 0.0 else min(max(remaining / room, 0.0), 1.0)
        weights[free] = self.lower[free] + share * (self.upper[free] - self.lower[free])
        self.weights = weights
        return True

    def solve_min_variance(self) -> None:
        if np.all(self.fixed):
            self.weights = self.lower.copy()
            return
        self._initial_point()
        for _ in range(self.iteration_limit):
            if self._take_step(self._equality_step()):
                continue  # a bound blocked the step and joined the working set
            # At the minimum for the current working set: check the bounded multipliers.
            free = np.asarray(self.free)
            gradient = self.cov @ self.weights
            ones_solve = self.inverse.sum(axis=1)
            gamma = float(ones_solve @ gradient[free]) / float(ones_solve.sum())
            multipliers = gradient - gamma
            violation = np.where(
                self.status == _AT_LOWER,
                -multipliers,
                np.where(self.status == _AT_UPPER, multipliers, 0.0),
            )
            violation[self.fixed] = 0.0
            worst = int(np.argmax(violation))
            if violation[worst] <= _MULTIPLIER_TOL * self.variance_scale:
                return
            self._add_free(worst)
        raise ConvergenceError(
            f"minimum-variance active set did not converge in {self.iteration_limit} iterations"
        )

    def _equality_step(self) -> FloatArray:
        """Step p on the free assets to the minimum of w'Σw with the working set held:
        Σ_FF p - γ1 = -g_F, 1'p = 0."""
        free = np.asarray(self.free)
        gradient = (self.cov @ self.weights)[free]
        step, _ = self._solve_kkt(self.cov[np.ix_(free, free)], -gradient, 0.0)
        return step

    def _solve_kkt(
        self, block: FloatArray, rhs: FloatArray, budget: float
    ) -> tuple[FloatArray, float]:
        """Solve Σ_FF x - γ1 = rhs, 1'x = budget with the running inverse K of Σ_FF.

        x = K(rhs + γ1) with γ = (budget - 1'K rhs) / 1'K1, then iterative refinement on the
        residuals: the running inverse carries rounding from its updates, and on
        ill-conditioned blocks one solve alone loses the budget and stationarity digits.
        Refactorises once if refinement does not converge.
        """
        x = np.zeros(rhs.size)
        gamma = 0.0
        for attempt in range(2):
            ones_solve = self.inverse.sum(axis=1)
            denominator = float(ones_solve.sum())
            residual, budget_residual = rhs - block @ x + gamma, budget - float(x.sum())
            for _ in range(_REFINEMENT_STEPS):
                residual_solve = self.inverse @ residual
                correction = (budget_residual - float(residual_solve.sum())) / denominator
                x = x + residual_solve + correction * ones_solve
                gamma += correction
                residual, budget_residual = rhs - block @ x + gamma, budget - float(x.sum())
                size = float(np.max(np.abs(rhs))) + self.variance_scale * float(np.sum(np.abs(x)))
                if float(np.max(np.abs(residual))) <= _RESIDUAL_TOL * size and abs(
                    budget_residual
                ) <= _RESIDUAL_TOL * (abs(budget) + float(np.sum(np.abs(x)))):
                    return x, gamma
            if attempt == 0:
                self._refactor()
        return x, gamma

    def _take_step(self, step: FloatArray) -> bool:
        """Move along ``step`` as far as the bounds allow; True if a bound blocked it (that
        asset then leaves the free set)."""
        free = np.asarray(self.free)
        current = self.weights[free]
        with np.errstate(divide="ignore", invalid="ignore"):
            to_lower = np.where(step < 0.0, (self.lower[free] - current) / step, np.inf)
            to_upper = np.where(step > 0.0, (self.upper[free] - current) / step, np.inf)
        ratios = np.minimum(to_lower, to_upper)
        position = int(np.argmin(ratios))
        length = float(ratios[position])
        if length >= 1.0:
            self.weights[free] = current + step
            return False
        self.weights[free] = current + max(length, 0.0) * step
        status = _AT_LOWER if to_lower[position] <= to_upper[position] else _AT_UPPER
        self._remove_free(position, status)
        return True

    # ----- phase 2: the critical line ------------------------------------------------------

    def follow_path(self, mu: FloatArray, lambdas: list[float], weights: list[FloatArray]) -> None:
        """Raise lambda from 0 event by event, appending each turning point."""
        lam = 0.0
        last_changed = -1
        mu_scale = float(np.max(np.abs(mu - mu[0]))) if mu.size else 0.0
        for _ in range(self.iteration_limit):
            segment = self._segment(mu)
            if segment is None:
                return
            offset, slope, multiplier_offset, multiplier_slope = segment
            free = np.asarray(self.free)
            bounded = np.flatnonzero((self.status != _FREE) & ~self.fixed)
            # Slopes below these floors are rounding noise (their natural sizes are
            # |inverse| * spread(mu) and spread(mu) + |cov| * |slope|).
            slope_floor = _SLOPE_TOL * mu_scale * _abs_row_sum(self.inverse)
            multiplier_floor = _SLOPE_TOL * (
                mu_scale + self.variance_scale * float(np.sum(np.abs(slope)))
            )
            # Candidate events: a free asset reaching a bound ...
            with np.errstate(divide="ignore", invalid="ignore"):
                hit_lower = np.where(
                    slope < -slope_floor, (self.lower[free] - offset) / slope, np.inf
                )
                hit_upper = np.where(
                    slope > slope_floor, (self.upper[free] - offset) / slope, np.inf
                )
                # ... or a bounded asset's multiplier changing sign.
                at_lower = self.status[bounded] == _AT_LOWER
                leaving = (at_lower & (multiplier_slope < -multiplier_floor)) | (
                    ~at_lower & (multiplier_slope > multiplier_floor)
                )
                crossing = np.where(leaving, -multiplier_offset / multiplier_slope, np.inf)
            hits = np.minimum(hit_lower, hit_upper)
            # The asset that changed at the previous turning point may not change back at the
            # same lambda: that would be rounding noise cycling between the two states.
            hits[(free == last_changed) & (hits <= lam)] = np.inf
            crossing[(bounded == last_changed) & (crossing <= lam)] = np.inf
            event_lambda = np.inf
            event: tuple[str, int] | None = None
            if hits.size and float(np.min(hits)) < event_lambda:
                event_lambda = float(np.min(hits))
                event = ("hit", int(np.argmin(hits)))
            if crossing.size and float(np.min(crossing)) < event_lambda:
                event_lambda = float(np.min(crossing))
                event = ("release", int(bounded[int(np.argmin(crossing))]))
            if event is None or not np.isfinite(event_lambda):
                return
            lam = max(lam, event_lambda)
            self.weights[free] = np.clip(offset + lam * slope, self.lower[free], self.upper[free])
            kind, index = event
            if kind == "hit":
                status = _AT_LOWER if hit_lower[index] <= hit_upper[index] else _AT_UPPER
                last_changed = int(free[index])
                self._remove_free(index, status)
            else:
                last_changed = index
                self._add_free(index)
            lambdas.append(lam)
            weights.append(self.weights.copy())
        raise ConvergenceError(
            f"critical line did not finish within {self.iteration_limit} turning points"
        )

    def _segment(
        self, mu: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray] | None:
        """w_F = offset + lambda*slope on the current segment and the bounded multipliers
        g_B = multiplier_offset + lambda*multiplier_slope; None if nothing is free."""
        if not self.free:
            return None
        free = np.asarray(self.free)
        bounded = np.flatnonzero((self.status != _FREE) & ~self.fixed)
        # Shifting mu by a constant does not change the path (the budget absorbs it); shifting
        # by a free asset's mean makes tied means cancel exactly instead of to rounding error.
        centred_mu = mu - mu[free[0]]
        held_weights = self.weights.copy()
        held_weights[free] = 0.0
        budget = 1.0 - float(np.sum(held_weights))
        # Full-length products with Σ instead of fancy-indexed blocks: no N×N copies per event.
        cross = (self.cov @ held_weights)[free]
        block = self.cov[np.ix_(free, free)]
        slope, gamma_slope = self._solve_kkt(block, centred_mu[free], 0.0)
        offset, gamma_offset = self._solve_kkt(block, -cross, budget)
        if bounded.size:
            directions = np.zeros((self.n_assets, 2))
            directions[:, 0] = held_weights
            directions[free, 0] = offset
            directions[free, 1] = slope
            products = self.cov @ directions
            multiplier_offset = products[bounded, 0] - gamma_offset
            multiplier_slope = products[bounded, 1] - centred_mu[bounded] - gamma_slope
        else:
            multiplier_offset = np.zeros(0)
            multiplier_slope = np.zeros(0)
        return offset, slope, multiplier_offset, multiplier_slope


def bordered_inverse(
    inverse: FloatArray, cov: FloatArray, free: list[int], asset: int
) -> FloatArray | None:
    """The inverse of ``cov[free + [asset]]`` from ``inverse`` of ``cov[free]``, bordered in
    O(|F|^2) (the Schur complement of the new diagonal entry); ``None`` when that pivot is
    too small for the update to keep its accuracy (lost digits in the running inverse, or a
    near-singular block): the caller refactorises."""
    if not free:
        return np.array([[1.0 / cov[asset, asset]]])
    column = cov[free, asset]
    projected = inverse @ column
    schur = float(cov[asset, asset] - column @ projected)
    if schur <= 1e-12 * cov[asset, asset]:
        return None
    size = len(free) + 1
    grown = np.empty((size, size))
    grown[:-1, :-1] = inverse + np.outer(projected, projected) / schur
    grown[:-1, -1] = -projected / schur
    grown[-1, :-1] = -projected / schur
    grown[-1, -1] = 1.0 / schur
    return grown


def reduced_inverse(inverse: FloatArray, position: int) -> FloatArray:
    """The inverse of a matrix without its row and column ``position``, from the inverse of
    the whole one in O(n^2)."""
    keep = np.r_[0:position, position + 1 : inverse.shape[0]]
    column = inverse[keep, position]
    pivot = inverse[position, position]
    reduced: FloatArray = inverse[np.ix_(keep, keep)] - np.outer(column, column) / pivot
    return reduced


def _abs_row_sum(matrix: FloatArray) -> float:
    return float(np.max(np.abs(matrix).sum(axis=1))) if matrix.size else 0.0


def _bound_array(value: Any, n_assets: int, default: float, name: str) -> FloatArray:
    if value is None:
        return np.full(n_assets, default)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric or None: {exc}") from exc
    if array.ndim == 0:
        array = np.full(n_assets, float(array))
    if array.shape != (n_assets,):
        raise InvalidInputError(
            f"{name} must be a scalar or have length {n_assets}, got shape {array.shape}"
        )
    if np.any(np.isnan(array)):
        raise InvalidInputError(f"{name} contains NaN")
    wrong_infinity = np.inf if default < 0 else -np.inf
    if np.any(array == wrong_infinity):
        raise InvalidInputError(f"{name} cannot be {wrong_infinity}")
    result: FloatArray = array.copy()
    return result


def _sum_of_others(values: FloatArray) -> FloatArray:
    """sum_{j != i} values_j for each i, exact about infinities (inf - inf would be NaN)."""
    infinite = ~np.isfinite(values)
    finite_sum = float(np.sum(values[~infinite]))
    others = finite_sum - np.where(infinite, 0.0, values)
    n_infinite = int(np.sum(infinite))
    if n_infinite == 0:
        return others
    sign = float(np.sign(values[infinite][0]))
    # An asset sees an infinite sum of others unless it is the only infinite one.
    result: FloatArray = np.where(infinite & (n_infinite == 1), others, sign * np.inf)
    result = np.where(~infinite, sign * np.inf, result)
    return result
