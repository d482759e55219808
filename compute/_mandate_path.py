r"""The efficient frontier under a linear mandate: one parametric active-set pass.

The efficient portfolios solve, for risk tolerance :math:`\lambda \ge 0`,

.. math:: \min_w\ \tfrac12 w^\top\Sigma w - \lambda\Big(\mu^\top w - \sum_i c_i |w_i - w^0_i|\Big)
          \quad\text{s.t.}\quad \mathbf 1^\top w = 1,\ \ l \le w \le u,\ \
          r^-_j \le a_j^\top w \le r^+_j,\ \ \sum_i |w_i - w^0_i| \le L .

Why this method rather than slack variables. The costs and the turnover make the problem
piecewise linear at :math:`w^0`; lifting :math:`w - w^0 = p - m` with :math:`p, m \ge 0` would
triple the variables and leave the Hessian singular in :math:`(p, m)`. Instead every asset keeps
one variable whose domain :math:`[l_i, u_i]` is cut at its *kink* :math:`w^0_i` into pieces.
A free asset lives on one piece, where the cost and the turnover are linear with sign
:math:`s_i = \pm 1`; it becomes *fixed* when it reaches a piece's end (a bound or the kink), and
a fixed asset is freed when its reduced gradient leaves the subdifferential there. The free
block of :math:`\Sigma` stays positive definite, so every segment is one small KKT solve.

On a segment with free set :math:`F`, fixed values :math:`w_B` and active rows :math:`C`
(the budget, the binding group and inequality rows and, when binding, the turnover row with
coefficients :math:`s_F`),

.. math:: \Sigma_{FF} w_F + C^\top\nu = \lambda q_F - \Sigma_{FB} w_B, \qquad C w_F = d,
          \qquad q_i = \mu_i - c_i s_i,

so :math:`w_F` and :math:`\nu` are affine in :math:`\lambda` (a Schur complement on the
Cholesky factor of :math:`\Sigma_{FF}`). The segment ends at the first *event*: a free asset
reaches the end of its piece, an inactive row (or the turnover) becomes binding, a binding
inequality's multiplier reaches zero, or a fixed asset's reduced gradient changes sign. Each
event adds or removes one constraint; a constraint added this way changes at a nonzero rate, so
it is linearly independent of the active ones, and the KKT systems stay nonsingular.

The path starts at :math:`\lambda = 0` from the minimum-variance portfolio, solved exactly by a
primal active-set method (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithm 16.3)
started from a strictly feasible point (a linear programme maximising the smallest slack,
solved by HiGHS); it ends when no event remains (the maximum-return portfolio). Between turning
points the weights and the net return are affine in :math:`\lambda`, as on Markowitz's critical
line, which this generalises (Best, *Portfolio Optimization*, Chapman & Hall 2010, ch. 7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from compute import _critical_line, _linear_program
from compute.exceptions import ConvergenceError, InfeasibleError
from compute.mandates import Mandate, check_feasible

FloatArray = NDArray[np.float64]

_SLOPE_TOL = 1e-11
_MULTIPLIER_TOL = 1e-10
_SNAP_TOL = 1e-9
_STEP_TOL = 1e-12
# A row of the working set whose Schur pivot is below this fraction of its diagonal depends on
# the others (to rounding).
_DEPENDENCE_TOL = 1e-10
# Step components below this (absolute, on weights of order one) are rounding: zero.
_ABSOLUTE_STEP_FLOOR = 1e-14
# Rank-one updates of the free block's inverse between two fresh factorisations.
_UPDATES_PER_FACTOR = 40
# Active rows missed by less than this are left alone (a projection costs a least squares).
_PROJECTION_TOL = 1e-14


@dataclass(frozen=True)
class MandatePath:
    """Turning points of the mandate's efficient path, by increasing risk tolerance."""

    lambdas: FloatArray
    weights: FloatArray


def trace(mu: FloatArray, cov: FloatArray, mandate: Mandate) -> MandatePath:
    """Turning points from the minimum-variance portfolio to the maximum net return."""
    solver = _PathSolver(mu, cov, mandate)
    solver.solve_min_variance()
    lambdas = [0.0]
    weights = [solver.weights.copy()]
    solver.follow_path(lambdas, weights)
    return MandatePath(lambdas=np.asarray(lambdas), weights=np.vstack(weights))


def min_variance(cov: FloatArray, mandate: Mandate) -> FloatArray:
    """The minimum-variance portfolio under the mandate (the path's first point)."""
    solver = _PathSolver(np.zeros(cov.shape[0]), cov, mandate)
    solver.solve_min_variance()
    return solver.weights.copy()


@dataclass
class _Segment:
    """The affine solution on the current working set: value = offset + lambda * slope."""

    free: NDArray[np.int64]
    w_offset: FloatArray  # full length N (fixed values on the fixed assets)
    w_slope: FloatArray  # full length N (zero on the fixed assets)
    nu_offset: FloatArray  # one per active row: budget, self.active's order, turnover
    nu_slope: FloatArray
    shift: float  # the constant taken off q (see _PathSolver._objective_vector)


class _PathSolver:
    """Working state: which assets are free (and on which piece), which rows bind."""

    def __init__(self, mu: FloatArray, cov: FloatArray, mandate: Mandate) -> None:
        self.mu = mu
        self.cov = cov
        self.mandate = mandate
        n = cov.shape[0]
        self.n = n
        self.lower = mandate.lower
        self.upper = mandate.upper
        matrix, row_lower, row_upper, _ = mandate.linear_rows()
        self.rows = matrix
        self.row_lower = row_lower
        self.row_upper = row_upper
        self.row_equal = row_upper - row_lower <= 0.0
        self.current = mandate.current_weights
        self.rates = mandate.cost_rates if mandate.cost_rates is not None else np.zeros(n)
        self.turnover_limit = mandate.turnover_limit
        self.kinked = self.current is not None and (
            self.turnover_limit is not None or bool(np.any(self.rates > 0.0))
        )
        # The kink of each asset, where it lies strictly inside the box (NaN otherwise).
        self.kink = np.full(n, np.nan)
        if self.kinked and self.current is not None:
            inside = (self.current > self.lower) & (self.current < self.upper)
            self.kink[inside] = self.current[inside]
        self.is_free = np.zeros(n, dtype=bool)
        self.free_order: list[int] = []
        self.inverse = np.zeros((0, 0))
        self.updates = 0
        self.weights = self.lower.copy()
        self.piece_low = self.lower.copy()
        self.piece_high = self.upper.copy()
        # Active general rows: index -> +1 (at its upper side) or -1 (at its lower side).
        self.active: dict[int, int] = {}
        self.turnover_active = False
        self.scale = float(np.max(np.diag(cov)))
        self.mu_scale = float(np.max(np.abs(mu - mu[0]))) + float(np.max(self.rates))
        self.iteration_limit = 40 * n + 200

    # ----- pieces and signs ------------------------------------------------------------------
    def _sides(self) -> FloatArray:
        """s_i of every free asset's piece (0 for fixed assets or without kinks)."""
        if not self.kinked or self.current is None:
            return np.zeros(self.n)
        middle = 0.5 * (self.piece_low + self.piece_high)
        side = np.where(middle >= self.current, 1.0, -1.0)
        return np.where(self.is_free, side, 0.0)

    def _sides_moving(self, up: bool) -> FloatArray:
        """s of the piece each asset enters when it moves up (or down) from its value."""
        if not self.kinked or self.current is None:
            return np.zeros(self.n)
        if up:
            return np.where(self.weights >= self.current, 1.0, -1.0)
        return np.where(self.weights <= self.current, -1.0, 1.0)

    def _piece_for(self, asset: int, up: bool) -> tuple[float, float]:
        """The piece an asset fixed at its value enters when moving up or down."""
        value = float(self.weights[asset])
        points = [float(self.lower[asset]), float(self.upper[asset])]
        if not np.isnan(self.kink[asset]):
            points.insert(1, float(self.kink[asset]))
        if up:
            above = [p for p in points if p > value]
            return value, (above[0] if above else value)
        below = [p for p in points if p < value]
        return (below[-1] if below else value), value

    def _fix(self, asset: int, value: float) -> None:
        if self.is_free[asset]:
            self._remove_free(asset)
        self.is_free[asset] = False
        self.weights[asset] = value
        self.piece_low[asset] = value
        self.piece_high[asset] = value

    def _free(self, asset: int, up: bool) -> None:
        low, high = self._piece_for(asset, up)
        if not self.is_free[asset]:
            self._add_free(asset)
        self.is_free[asset] = True
        self.piece_low[asset] = low
        self.piece_high[asset] = high

    # ----- the inverse of the free block, kept by rank-one updates ---------------------------
    def _refactor(self) -> None:
        self.updates = 0
        if not self.free_order:
            self.inverse = np.zeros((0, 0))
            return
        block = self.cov[np.ix_(self.free_order, self.free_order)]
        self.inverse = scipy.linalg.cho_solve(
            scipy.linalg.cho_factor(block, lower=True, check_finite=False),
            np.eye(len(self.free_order)),
            check_finite=False,
        )

    def _add_free(self, asset: int) -> None:
        """Border the inverse with one asset (O(|F|^2)); refactorise when the pivot is tiny or
        after :data:`_UPDATES_PER_FACTOR` updates."""
        grown = _critical_line.bordered_inverse(self.inverse, self.cov, self.free_order, asset)
        self.free_order.append(asset)
        self.updates += 1
        if grown is None or self.updates > _UPDATES_PER_FACTOR:
            self._refactor()
        else:
            self.inverse = grown

    def _remove_free(self, asset: int) -> None:
        """Drop one asset from the inverse (O(|F|^2))."""
        position = self.free_order.index(asset)
        self.free_order.pop(position)
        self.updates += 1
        if self.updates > _UPDATES_PER_FACTOR:
            self._refactor()
        else:
            self.inverse = _critical_line.reduced_inverse(self.inverse, position)

    # ----- the segment -------------------------------------------------------------------------
    def _objective_vector(self) -> tuple[FloatArray, float]:
        """q = mu - c s less a free asset's q, and that shift: the budget absorbs a constant
        shift, and tied means then cancel exactly instead of to rounding error."""
        q = self.mu - self.rates * self._sides()
        free = np.flatnonzero(self.is_free)
        shift = float(q[free[0]]) if free.size else 0.0
        shifted: FloatArray = q - shift
        return shifted, shift

    def _active_matrix(self, free: NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
        """Active rows restricted to the free assets (budget first, then general rows, then
        turnover) and their right-hand sides net of the fixed assets."""
        fixed_weights = np.where(self.is_free, 0.0, self.weights)
        rows = [np.ones(free.size)]
        targets = [1.0 - float(fixed_weights.sum())]
        for j, sign in self.active.items():
            rows.append(self.rows[j, free])
            bound = self.row_upper[j] if sign > 0 else self.row_lower[j]
            targets.append(float(bound) - float(self.rows[j] @ fixed_weights))
        if self.turnover_active and self.current is not None and self.turnover_limit is not None:
            sides = self._sides()
            rows.append(sides[free])
            held = ~self.is_free
            fixed_trades = float(np.sum(np.abs(self.weights[held] - self.current[held])))
            targets.append(
                self.turnover_limit - fixed_trades + float(sides[free] @ self.current[free])
            )
        return np.vstack(rows), np.asarray(targets)

    def _drop_rows(self, positions: list[int]) -> None:
        """Remove active rows by their position in :meth:`_active_matrix` (0, the budget,
        is never among them: it is the first row kept)."""
        general = list(self.active)
        for position in positions:
            if 1 <= position <= len(general):
                del self.active[general[position - 1]]
            elif position == len(general) + 1 and self.turnover_active:
                self.turnover_active = False

    def _segment(self) -> _Segment:
        free = np.asarray(self.free_order, dtype=np.int64)
        q, shift = self._objective_vector()
        fixed_weights = np.where(self.is_free, 0.0, self.weights)
        cross = (self.cov @ fixed_weights)[free]
        active, targets = self._active_matrix(free)
        rhs = np.column_stack([q[free], cross, active.T])
        # The running inverse carries the rounding of its updates: one step of iterative
        # refinement on the residuals restores the digits.
        solved = self.inverse @ rhs
        solved += self.inverse @ (rhs - self.cov[np.ix_(free, free)] @ solved)
        k_q, k_cross, k_active = solved[:, 0], solved[:, 1], solved[:, 2:]
        schur = active @ k_active
        dependent = _dependent_rows(schur)
        if dependent:
            # Rounding let a constraint join that the others already imply on the free
            # assets (a zero-length step "blocked" by it, say). It holds with equality and
            # its value cannot change while the others bind: leave it out of the working set.
            self._drop_rows(dependent)
            return self._segment()
        multipliers = _solve_small(
            schur, np.column_stack([-(active @ k_cross) - targets, active @ k_q])
        )
        nu_offset, nu_slope = multipliers[:, 0], multipliers[:, 1]
        w_free_offset = -k_cross - k_active @ nu_offset
        w_free_slope = k_q - k_active @ nu_slope
        w_offset = fixed_weights.copy()
        w_offset[free] = w_free_offset
        w_slope = np.zeros(self.n)
        w_slope[free] = w_free_slope
        return _Segment(free, w_offset, w_slope, nu_offset, nu_slope, shift)

    def _reduced_gradients(
        self, segment: _Segment
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Affine (offset, slope) in lambda of the fixed assets' violations when moving up and
        when moving down (positive: the objective falls that way, so the asset should move).

        On the piece with sign s the Lagrangian's derivative is
        r(s) = (Σw)_i - lambda (mu_i - shift - c_i s) + nu_budget + sum_j nu_j a_ji + nu_T s,
        with the multipliers of the shifted system (see :meth:`_objective_vector`).
        """
        base_offset = self.cov @ segment.w_offset
        base_slope = self.cov @ segment.w_slope - (self.mu - segment.shift)
        multiplier_offset = np.full(self.n, float(segment.nu_offset[0]))
        multiplier_slope = np.full(self.n, float(segment.nu_slope[0]))
        for position, j in enumerate(self.active, start=1):
            multiplier_offset += segment.nu_offset[position] * self.rows[j]
            multiplier_slope += segment.nu_slope[position] * self.rows[j]
        turnover_offset = turnover_slope = 0.0
        if self.turnover_active:
            turnover_offset = float(segment.nu_offset[-1])
            turnover_slope = float(segment.nu_slope[-1])
        results: list[FloatArray] = []
        for up in (True, False):
            sides = self._sides_moving(up)
            offset = base_offset + multiplier_offset + turnover_offset * sides
            slope = base_slope + multiplier_slope + (self.rates + turnover_slope) * sides
            sign = -1.0 if up else 1.0
            results += [sign * offset, sign * slope]
        return results[0], results[1], results[2], results[3]

    # ----- phase 1: minimum variance -----------------------------------------------------------
    def _start(self) -> None:
        """A feasible start near the answer: the point of the mandate closest (in L1) to the
        minimum-variance portfolio under the bounds alone, a linear programme whose vertex
        answer holds most assets at the bounds that portfolio holds them at (so the
        active-set iterations that follow only correct it)."""
        mandate = self.mandate
        program, n_cols = mandate.lifted_program()
        n = self.n
        guide = _critical_line.min_variance_weights(self.cov, self.lower, self.upper)
        # Columns [x, e, f] with w - e + f = guide and e, f >= 0: min sum(e + f).
        width = n_cols + 2 * n
        distance = np.zeros((n, width))
        distance[:, :n] = np.eye(n)
        distance[:, n_cols : n_cols + n] = -np.eye(n)
        distance[:, n_cols + n :] = np.eye(n)
        cost = np.zeros(width)
        cost[n_cols:] = 1.0
        lp = _linear_program.LinearProgram(
            cost=cost,
            matrix=np.vstack(
                [np.hstack([program.matrix, np.zeros((program.matrix.shape[0], 2 * n))]), distance]
            ),
            row_lower=np.concatenate([program.row_lower, guide]),
            row_upper=np.concatenate([program.row_upper, guide]),
            col_lower=np.concatenate([program.col_lower, np.zeros(2 * n)]),
            col_upper=np.concatenate([program.col_upper, np.full(2 * n, np.inf)]),
        )
        try:
            solution = _linear_program.solve(lp, what="mandate start")
        except InfeasibleError:
            check_feasible(mandate)  # raises, naming the conflicting constraints
            raise
        weights = np.clip(solution.x[:n], self.lower, self.upper)
        # Assets within rounding of a piece end are fixed there; the rest are free.
        for i in range(n):
            points = [self.lower[i], self.upper[i]]
            if not np.isnan(self.kink[i]):
                points.append(self.kink[i])
            near = [p for p in points if abs(weights[i] - p) <= _SNAP_TOL]
            self.weights[i] = weights[i]
            if near or self.upper[i] <= self.lower[i]:
                self._fix(i, float(near[0]) if near else float(self.lower[i]))
            else:
                self.weights[i] = weights[i]
                low, high = self.lower[i], self.upper[i]
                if not np.isnan(self.kink[i]):
                    if weights[i] > self.kink[i]:
                        low = self.kink[i]
                    else:
                        high = self.kink[i]
                self.is_free[i] = True
                self.piece_low[i], self.piece_high[i] = low, high
        self.free_order = [int(i) for i in np.flatnonzero(self.is_free)]
        self._refactor()
        # Rows binding at the start join the working set while they stay independent.
        free = np.flatnonzero(self.is_free)
        basis = [np.ones(free.size)] if free.size else []
        values = self.rows @ self.weights
        for j in range(self.rows.shape[0]):
            at_upper = abs(values[j] - self.row_upper[j]) <= _SNAP_TOL
            at_lower = abs(values[j] - self.row_lower[j]) <= _SNAP_TOL
            if (at_upper or at_lower) and _independent(basis, self.rows[j, free]):
                basis.append(self.rows[j, free])
                self.active[j] = 1 if at_upper else -1
        if self.turnover_limit is not None and self.current is not None:
            trades = float(np.sum(np.abs(self.weights - self.current)))
            if abs(trades - self.turnover_limit) <= _SNAP_TOL:
                row = self._sides()[free]
                if _independent(basis, row):
                    self.turnover_active = True
        self._project()

    def _project(self) -> None:
        """Make the free weights meet the active rows exactly (they are off by rounding)."""
        free = np.flatnonzero(self.is_free)
        if free.size == 0:
            return
        active, targets = self._active_matrix(free)
        residual = targets - active @ self.weights[free]
        if float(np.max(np.abs(residual))) <= _PROJECTION_TOL:
            return
        correction = active.T @ np.linalg.lstsq(active @ active.T, residual, rcond=None)[0]
        self.weights[free] = np.clip(
            self.weights[free] + correction, self.piece_low[free], self.piece_high[free]
        )

    def solve_min_variance(self) -> None:
        self._start()
        for _ in range(self.iteration_limit):
            if not np.any(self.is_free):
                if self._release_pair():
                    continue
                return
            segment = self._segment()
            free = segment.free
            step = segment.w_offset[free] - self.weights[free]
            if float(np.max(np.abs(step))) > _STEP_TOL and self._step_towards(free, step):
                continue
            if not self._release_one(segment, 0.0):
                return
        raise ConvergenceError(
            f"minimum variance under the mandate did not converge in {self.iteration_limit} "
            "iterations"
        )

    def _step_towards(self, free: NDArray[np.int64], step: FloatArray) -> bool:
        """Move the free weights (in ``free``'s order) along ``step`` as far as the pieces and
        the inactive rows allow; True if a constraint blocked the step (it joins the working
        set)."""
        current = self.weights[free]
        # Components of the step below rounding of its size are zero: a constraint they would
        # "block" is one the working set already holds fixed (its rate of change is 0).
        floor = max(_SLOPE_TOL * float(np.max(np.abs(step))), _ABSOLUTE_STEP_FLOOR)
        step = np.where(np.abs(step) > floor, step, 0.0)
        full_step = np.zeros(self.n)
        full_step[free] = step
        length, blocker = 1.0, None
        with np.errstate(divide="ignore", invalid="ignore"):
            to_low = np.where(step < 0, (self.piece_low[free] - current) / step, np.inf)
            to_high = np.where(step > 0, (self.piece_high[free] - current) / step, np.inf)
        ratios = np.maximum(np.minimum(to_low, to_high), 0.0)
        if ratios.size and float(np.min(ratios)) < length:
            position = int(np.argmin(ratios))
            length = float(ratios[position])
            hit_low = to_low[position] <= to_high[position]
            blocker = ("asset", int(free[position]), hit_low)
        values = self.rows @ self.weights
        changes = self.rows @ full_step
        change_floor = floor * (1.0 + np.abs(self.rows).sum(axis=1))
        for j in range(self.rows.shape[0]):
            if j in self.active or abs(changes[j]) <= change_floor[j]:
                continue
            if changes[j] > 0 and np.isfinite(self.row_upper[j]):
                ratio = max((self.row_upper[j] - values[j]) / changes[j], 0.0)
                if ratio < length:
                    length, blocker = ratio, ("row", j, True)
            elif changes[j] < 0 and np.isfinite(self.row_lower[j]):
                ratio = max((self.row_lower[j] - values[j]) / changes[j], 0.0)
                if ratio < length:
                    length, blocker = ratio, ("row", j, False)
        if (
            not self.turnover_active
            and self.turnover_limit is not None
            and self.current is not None
        ):
            trades = float(np.sum(np.abs(self.weights - self.current)))
            change = float(self._sides() @ full_step)
            if change > floor * self.n:
                ratio = max((self.turnover_limit - trades) / change, 0.0)
                if ratio < length:
                    length, blocker = ratio, ("turnover", -1, True)
        self.weights[free] = current + length * step
        if blocker is None:
            return False
        kind, index, flag = blocker
        if kind == "asset":
            self._fix(index, float(self.piece_low[index] if flag else self.piece_high[index]))
        elif kind == "row":
            self.active[index] = 1 if flag else -1
        else:
            self.turnover_active = True
        self._project()
        return True

    def _release_one(self, segment: _Segment, lam: float) -> bool:
        """At the working set's minimum: drop the most violated multiplier; False if none is
        violated (the point is optimal)."""
        worst, action = self._multiplier_tolerance(segment), None
        for position, (j, sign) in enumerate(self.active.items(), start=1):
            if self.row_equal[j]:
                continue
            value = sign * (segment.nu_offset[position] + lam * segment.nu_slope[position])
            if -value > worst:
                worst, action = -value, ("row", j)
        if self.turnover_active:
            value = segment.nu_offset[-1] + lam * segment.nu_slope[-1]
            if -value > worst:
                worst, action = -value, ("turnover", -1)
        up_offset, up_slope, down_offset, down_slope = self._reduced_gradients(segment)
        for up, offset, slope in ((True, up_offset, up_slope), (False, down_offset, down_slope)):
            violation = np.where(self._can_move(up), offset + lam * slope, -np.inf)
            i = int(np.argmax(violation))
            if violation[i] > worst:
                worst, action = float(violation[i]), ("asset", i if up else -1 - i)
        if action is None:
            return False
        kind, index = action
        if kind == "row":
            del self.active[index]
        elif kind == "turnover":
            self.turnover_active = False
        else:
            self._free(index if index >= 0 else -1 - index, index >= 0)
        return True

    def _can_move(self, up: bool) -> NDArray[np.bool_]:
        fixed = ~self.is_free
        room = self.weights < self.upper if up else self.weights > self.lower
        result: NDArray[np.bool_] = fixed & room
        return result

    def _multiplier_tolerance(self, segment: _Segment) -> float:
        return _MULTIPLIER_TOL * (
            self.scale + float(np.max(np.abs(segment.nu_offset))) + self.mu_scale
        )

    def _release_pair(self) -> bool:
        """Every asset fixed (a vertex): free the pair whose gradients the budget multiplier
        cannot reconcile (False when the vertex is optimal)."""
        gradient = self.cov @ self.weights
        up = np.where(self._can_move(True), -gradient, -np.inf)  # need nu >= -g (moving up)
        down = np.where(self._can_move(False), -gradient, np.inf)  # need nu <= -g (moving down)
        i, k = int(np.argmax(up)), int(np.argmin(down))
        if up[i] <= down[k] + _MULTIPLIER_TOL * self.scale or i == k:
            return False
        self._free(i, True)
        self._free(k, False)
        return True

    # ----- phase 2: the path -------------------------------------------------------------------
    def follow_path(self, lambdas: list[float], weights: list[FloatArray]) -> None:
        lam = 0.0
        last: tuple[str, int, bool] | None = None
        for _ in range(self.iteration_limit):
            if not np.any(self.is_free):
                return
            segment = self._segment()
            event_lambda, event = self._next_event(segment, lam, last)
            if event is None or not np.isfinite(event_lambda):
                return
            lam = max(lam, event_lambda)
            free = segment.free
            self.weights[free] = np.clip(
                segment.w_offset[free] + lam * segment.w_slope[free],
                self.piece_low[free],
                self.piece_high[free],
            )
            kind, index, flag = event
            if kind == "asset":
                self._fix(index, float(self.piece_low[index] if flag else self.piece_high[index]))
            elif kind == "row":
                self.active[index] = 1 if flag else -1
            elif kind == "turnover":
                self.turnover_active = True
            elif kind == "drop-row":
                del self.active[index]
            elif kind == "drop-turnover":
                self.turnover_active = False
            else:  # release
                self._free(index, flag)
            last = event
            self._project()
            lambdas.append(lam)
            weights.append(self.weights.copy())
        raise ConvergenceError(
            f"the mandate's efficient path did not finish within {self.iteration_limit} "
            "turning points"
        )

    def _next_event(
        self, segment: _Segment, lam: float, last: tuple[str, int, bool] | None
    ) -> tuple[float, tuple[str, int, bool] | None]:
        free = segment.free
        offset, slope = segment.w_offset, segment.w_slope
        slope_floor = _SLOPE_TOL * (self.mu_scale + 1.0) * max(1.0, float(np.max(np.abs(slope))))
        best, event = np.inf, None

        def consider(when: float, what: tuple[str, int, bool]) -> None:
            nonlocal best, event
            undo = None if last is None else _undo(last)
            same_direction = what[0] not in ("asset", "release") or (
                undo is not None and what[2] == undo[2]
            )
            if undo is not None and what[:2] == undo[:2] and when <= lam and same_direction:
                return
            if when < best:
                best, event = max(when, lam), what

        # Free assets reaching a piece end.
        with np.errstate(divide="ignore", invalid="ignore"):
            s = slope[free]
            to_low = np.where(s < -slope_floor, (self.piece_low[free] - offset[free]) / s, np.inf)
            to_high = np.where(s > slope_floor, (self.piece_high[free] - offset[free]) / s, np.inf)
        for position in np.argsort(np.minimum(to_low, to_high))[:2]:
            when = float(min(to_low[position], to_high[position]))
            if np.isfinite(when):
                consider(
                    when,
                    ("asset", int(free[position]), bool(to_low[position] <= to_high[position])),
                )
        # Inactive rows becoming binding.
        row_offset = self.rows @ offset
        row_slope = self.rows @ slope
        row_floor = slope_floor * (1.0 + np.abs(self.rows).sum(axis=1))
        for j in range(self.rows.shape[0]):
            if j in self.active:
                continue
            if row_slope[j] > row_floor[j] and np.isfinite(self.row_upper[j]):
                consider(
                    float((self.row_upper[j] - row_offset[j]) / row_slope[j]), ("row", j, True)
                )
            elif row_slope[j] < -row_floor[j] and np.isfinite(self.row_lower[j]):
                consider(
                    float((self.row_lower[j] - row_offset[j]) / row_slope[j]), ("row", j, False)
                )
        # The turnover becoming binding.
        if (
            not self.turnover_active
            and self.turnover_limit is not None
            and self.current is not None
        ):
            sides = self._sides()
            held = ~self.is_free
            fixed_trades = float(np.sum(np.abs(self.weights[held] - self.current[held])))
            trade_offset = fixed_trades + float(sides[free] @ (offset[free] - self.current[free]))
            trade_slope = float(sides[free] @ slope[free])
            if trade_slope > slope_floor:
                consider((self.turnover_limit - trade_offset) / trade_slope, ("turnover", -1, True))
        # Binding inequalities whose multiplier reaches zero.
        multiplier_floor = _SLOPE_TOL * (self.mu_scale + self.scale + 1.0)
        for position, (j, sign) in enumerate(self.active.items(), start=1):
            if self.row_equal[j]:
                continue
            nu_offset = sign * segment.nu_offset[position]
            nu_slope = sign * segment.nu_slope[position]
            if nu_slope < -multiplier_floor:
                consider(float(-nu_offset / nu_slope), ("drop-row", j, False))
        if self.turnover_active and segment.nu_slope[-1] < -multiplier_floor:
            consider(
                float(-segment.nu_offset[-1] / segment.nu_slope[-1]), ("drop-turnover", -1, False)
            )
        # Fixed assets whose reduced gradient changes sign.
        up_offset, up_slope, down_offset, down_slope = self._reduced_gradients(segment)
        for up, v_offset, v_slope in (
            (True, up_offset, up_slope),
            (False, down_offset, down_slope),
        ):
            movable = self._can_move(up)
            with np.errstate(divide="ignore", invalid="ignore"):
                crossing = np.where(
                    movable & (v_slope > multiplier_floor), -v_offset / v_slope, np.inf
                )
            i = int(np.argmin(crossing))
            if np.isfinite(crossing[i]):
                consider(float(crossing[i]), ("release", i, up))
        return best, event


def _undo(last: tuple[str, int, bool]) -> tuple[str, int, bool]:
    """The event that would undo ``last`` at the same lambda (rounding noise cycling).

    An asset that reached the low end of its piece (moving down) is undone by freeing it
    upwards, and the mirror image; freeing it onwards across a kink that costs nothing is not
    an undo, and must stay allowed.
    """
    kind, index, flag = last
    opposite = {
        "asset": "release",
        "release": "asset",
        "row": "drop-row",
        "drop-row": "row",
        "turnover": "drop-turnover",
        "drop-turnover": "turnover",
    }
    if kind in ("asset", "release"):
        return opposite[kind], index, flag
    return opposite[kind], index, True


def _dependent_rows(schur: FloatArray) -> list[int]:
    """Positions of the active rows that depend on earlier ones (empty when the Schur
    complement ``C K C'`` is safely positive definite), found by a Cholesky factorisation that
    skips a row whose pivot falls below rounding of its diagonal."""
    try:
        factor = np.linalg.cholesky(schur)
        pivots = np.diag(factor) ** 2
        if bool(np.all(pivots > _DEPENDENCE_TOL * np.diag(schur))):
            return []
    except np.linalg.LinAlgError:
        pass
    kept: list[int] = []
    dependent: list[int] = []
    for row in range(schur.shape[0]):
        trial = [*kept, row]
        block = schur[np.ix_(trial, trial)]
        try:
            pivot = np.linalg.cholesky(block)[-1, -1] ** 2
        except np.linalg.LinAlgError:
            pivot = 0.0
        if pivot > _DEPENDENCE_TOL * schur[row, row]:
            kept.append(row)
        else:
            dependent.append(row)
    return dependent


def _solve_small(matrix: FloatArray, rhs: FloatArray) -> FloatArray:
    """Solve the small Schur system (positive definite while the active rows are independent,
    which the events keep; a singular one means rounding broke that)."""
    try:
        solution: FloatArray = np.asarray(np.linalg.solve(matrix, rhs), dtype=np.float64)
    except np.linalg.LinAlgError as error:
        raise ConvergenceError(
            "the mandate's active constraints became linearly dependent (degenerate mandate)"
        ) from error
    return solution


def _independent(basis: list[FloatArray], row: FloatArray) -> bool:
    """Whether ``row`` is linearly independent of ``basis`` (to a relative 1e-9)."""
    if row.size == 0 or float(np.max(np.abs(row))) == 0.0:
        return False
    if not basis:
        return True
    stacked = np.vstack(basis)
    coefficients = np.linalg.lstsq(stacked.T, row, rcond=None)[0]
    residual = row - stacked.T @ coefficients
    return float(np.max(np.abs(residual))) > 1e-9 * float(np.max(np.abs(row)))
