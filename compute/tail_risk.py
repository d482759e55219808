r"""Tail-risk optimisation: CVaR and CDaR minimised exactly as linear programmes (HiGHS).

``returns`` is a T × N matrix of simple per-period returns (rows = periods, not annualised);
each row is one historical scenario with equal probability 1/T. With
:math:`m = (1-\beta)T` periods in the tail (the fractional tail: :math:`m` need not be an
integer; within 1e-9 of one it is rounded to it):

**CVaR** (Rockafellar & Uryasev, "Optimization of conditional value-at-risk", Journal of Risk 2
(2000) 21-41; "Conditional value-at-risk for general loss distributions", Journal of Banking &
Finance 26 (2002) 1443-1471) of the per-period losses :math:`L_t = -r_t^\top w + \kappa`:

.. math:: \mathrm{CVaR}_\beta(w) = \min_\alpha\ \alpha + \frac1m \sum_{t=1}^T \max(L_t-\alpha, 0)
          = \frac1m\Big(\sum_{i<k} L_{(i)} + (m-k+1)\,L_{(k)}\Big),\quad k=\lceil m\rceil,

the mean of the worst :math:`m` losses (:math:`L_{(1)} \ge L_{(2)} \ge \dots`), the
:math:`k`-th worst counted fractionally; the minimising :math:`\alpha` is the VaR
:math:`L_{(k)}`. :func:`cvar` evaluates it by sorting; :func:`min_cvar` solves

.. math:: \min_{w,\alpha,z}\ \alpha + \kappa(w) + \frac1m\sum_t z_t \quad\text{s.t.}\quad
          z_t \ge -r_t^\top w - \alpha,\ z_t \ge 0,\ w \in \text{mandate}.

**CDaR** (Chekhlov, Uryasev & Zabarankin, "Drawdown measure in portfolio optimization",
International Journal of Theoretical and Applied Finance 8 (2005) 13-58) on uncompounded
cumulative returns :math:`C_t = \sum_{s\le t} r_s^\top w - \kappa` (:math:`C_0 = 0`), as
Riskfolio-Lib's ``rm="CDaR"``: the drawdowns :math:`D_t = \max_{0\le s\le t} C_s - C_t`
(:math:`t = 1..T`; the peak includes the start, :math:`C_0 = 0`) and
:math:`\mathrm{CDaR}_\beta = \min_\alpha \alpha + \frac1m\sum_t \max(D_t-\alpha, 0)`.
:func:`min_cdar` solves, with Riskfolio-Lib's drawdown variables,

.. math:: \min\ \alpha + \frac1m\sum_t z_t \quad\text{s.t.}\quad
          d_t \ge d_{t-1} - r_t^\top w\ (d_0 = 0),\ d_t \ge 0,\ z_t \ge d_t - \alpha,\ z_t \ge 0.

Every optimiser takes the mandate of :mod:`compute.mandates` (``bounds``, ``groups``,
``inequalities``, ``turnover``, ``costs``): its rows come from
:meth:`~compute.mandates.Mandate.lifted_program`, over :math:`x = [w, p, m]` with trades
:math:`w - p + m = w^0`, and the LP appends :math:`\alpha` and the scenario columns.

**Costs** :math:`\kappa(w) = \sum_i c_i |w_i - w^0_i|` are paid once, at the rebalance, and
charged in full to the period that follows it, which is the period every scenario describes: a
CVaR scenario's loss is :math:`-r_t^\top w + \kappa` (so the net CVaR is the gross one plus
:math:`\kappa`, CVaR being translation equivariant), the expected net return per period is
:math:`\mu^\top w - \kappa` (:math:`\mu` the sample mean of ``returns``, as in
:meth:`~compute.mandates.Mandate.net_returns`), and a CDaR path starts with the cost (its first
period returns :math:`r_1^\top w - \kappa`). To spread the cost over a holding horizon of
:math:`H` periods instead, pass the rates divided by :math:`H`. ``target_return`` is a floor
on the expected net return.

HiGHS's dual simplex ends at an optimal vertex; the reported risk is the LP's objective, which
equals :func:`cvar` (or :func:`cdar`) at the returned weights to ~1e-15 (tested to 1e-10). The
LP takes returns and costs in units of the power of two that brings the largest return into
[0.5, 1) (an exact division, undone exactly on the objective), so its entries share one scale
and HiGHS's own scaling and presolve, which only slow these programmes down, are off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compute import _linear_program
from compute._validation import clean_returns, finite_number, positive_int, vector_of_length
from compute.exceptions import InfeasibleError, InvalidInputError
from compute.mandates import Mandate, check_feasible, resolve_mandate

__all__ = [
    "CVaRFrontier",
    "TailRiskResult",
    "cdar",
    "cvar",
    "mean_cvar_frontier",
    "min_cdar",
    "min_cvar",
]

FloatArray = NDArray[np.float64]
Groups = Mapping[str, tuple[Sequence[int] | Any, float | None, float | None]]
_LONG_ONLY = (0.0, 1.0)
# A tail size this close (relative) to an integer is that integer: (1 - 0.95) * 100 is 5.
_TAIL_SNAP = 1e-9
# Targets this close (relative) above the maximum return are that maximum.
_TARGET_TOLERANCE = 1e-10


@dataclass(frozen=True)
class TailRiskResult:
    """A tail-risk optimum.

    Attributes
    ----------
    weights
        Length N, fully invested.
    measure
        ``"CVaR"`` or ``"CDaR"``.
    risk
        The minimised CVaR or CDaR (the LP's objective; per period, as a positive loss).
    value_at_risk
        The level :math:`\\alpha` at the optimum: VaR of the net losses (CVaR) or DaR of the
        drawdowns (CDaR), the :math:`\\lceil(1-\\beta)T\\rceil`-th worst.
    expected_return, net_expected_return
        :math:`\\mu^\\top w` per period, and the same net of ``cost``.
    cost
        :math:`\\sum_i c_i |w_i - w^0_i|` (0 without costs).
    beta
        The confidence level.
    """

    weights: FloatArray
    measure: str
    risk: float
    value_at_risk: float
    expected_return: float
    net_expected_return: float
    cost: float
    beta: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (lists and floats)."""
        return {
            "weights": self.weights.tolist(),
            "measure": self.measure,
            "risk": self.risk,
            "value_at_risk": self.value_at_risk,
            "expected_return": self.expected_return,
            "net_expected_return": self.net_expected_return,
            "cost": self.cost,
            "beta": self.beta,
        }


@dataclass(frozen=True)
class CVaRFrontier:
    """Mean-CVaR efficient portfolios, evenly spaced in expected net return.

    Attributes
    ----------
    returns
        Expected net returns per period (length ``n_points``), increasing from the
        minimum-CVaR portfolio's to the maximum attainable.
    cvar, value_at_risk
        Each point's minimised CVaR (its LP objective) and VaR.
    weights
        ``n_points`` × N.
    beta
        The confidence level.
    """

    returns: FloatArray
    cvar: FloatArray
    value_at_risk: FloatArray
    weights: FloatArray
    beta: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (lists and floats)."""
        return {
            "returns": self.returns.tolist(),
            "cvar": self.cvar.tolist(),
            "value_at_risk": self.value_at_risk.tolist(),
            "weights": self.weights.tolist(),
            "beta": self.beta,
        }


def cvar(weights: Any, returns: Any, beta: float = 0.95, *, cost: float = 0.0) -> float:
    """Historical CVaR of the portfolio's per-period losses :math:`-r_t^\\top w + \\text{cost}`,
    with the fractional tail (see the module docstring), by sorting: exact, O(T log T).

    Raises
    ------
    InvalidInputError
        Bad shapes or values, ``beta`` outside (0, 1), a non-finite ``cost``.
    """
    matrix = clean_returns(returns)
    level = _beta(beta)
    w = vector_of_length(weights, "weights", matrix.shape[1])
    losses = finite_number(cost, "cost") - matrix @ w
    return _tail(losses, _tail_size(level, losses.size))[0]


def cdar(weights: Any, returns: Any, beta: float = 0.95, *, cost: float = 0.0) -> float:
    """Historical CDaR of the uncompounded drawdowns (see the module docstring), the cost paid
    in the first period; by sorting, exact.

    Raises
    ------
    InvalidInputError
        Bad shapes or values, ``beta`` outside (0, 1), a non-finite ``cost``.
    """
    matrix = clean_returns(returns)
    level = _beta(beta)
    w = vector_of_length(weights, "weights", matrix.shape[1])
    drawdowns = _drawdowns(matrix @ w, finite_number(cost, "cost"))
    return _tail(drawdowns, _tail_size(level, drawdowns.size))[0]


def min_cvar(
    returns: Any,
    beta: float = 0.95,
    bounds: Any = _LONG_ONLY,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
    target_return: float | None = None,
) -> TailRiskResult:
    """The fully invested portfolio of least CVaR within the mandate (an exact LP).

    Parameters
    ----------
    returns
        T × N simple returns per period (rows with a NaN are dropped).
    beta
        Confidence level in (0, 1): the tail is the worst ``(1 - beta) * T`` periods.
    bounds
        ``(lower, upper)`` per-asset bounds, scalars or length-N arrays; long-only by default.
    groups, inequalities, turnover, costs
        The mandate (see :mod:`compute.mandates`); costs are charged as the module docstring
        says.
    target_return
        A floor on the expected net return per period; ``None`` (or ``-inf``) for none. At or
        below the minimum-CVaR portfolio's return it does not bind.

    Raises
    ------
    InvalidInputError
        Bad shapes or values, ``beta`` outside (0, 1), a NaN target, a malformed mandate.
    MandateInfeasibleError
        No fully invested portfolio meets the mandate; ``conflicts`` names an irreducible
        conflicting set of its constraints.
    InfeasibleError
        ``target_return`` exceeds the highest expected net return within the mandate; the
        error's ``lower``/``upper`` are the minimum-CVaR portfolio's return and that maximum.
    """
    problem = _Problem.build(
        returns,
        beta,
        bounds,
        groups=groups,
        inequalities=inequalities,
        turnover=turnover,
        costs=costs,
    )
    floor = -math.inf if target_return is None else _target(target_return)
    model = _cvar_model(problem)
    if floor == math.inf:
        check_feasible(problem.mandate)
        _raise_above_maximum(problem, floor)
    if floor > -math.inf:
        problem.set_floor(model, floor)
    try:
        solution = model.solve()
    except InfeasibleError:
        check_feasible(problem.mandate)
        if floor == -math.inf:
            raise
        # The mandate is feasible, so the floor is above the highest return, or at it up to
        # rounding: then the floor backs off to just below that return.
        high = _raise_above_maximum(problem, floor)
        slack = _TARGET_TOLERANCE * max(1.0, abs(high))
        problem.set_floor(model, high - slack)
        solution = model.solve()
    return _cvar_result(problem, solution)


def mean_cvar_frontier(
    returns: Any,
    n_points: int = 20,
    beta: float = 0.95,
    bounds: Any = _LONG_ONLY,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
) -> CVaRFrontier:
    """``n_points`` mean-CVaR efficient portfolios, from the minimum-CVaR portfolio (the first
    point is :func:`min_cvar`'s answer) to the highest expected net return, evenly spaced in
    return.

    Each point is the LP of :func:`min_cvar` with its return floor; one HiGHS model is kept and
    re-solved from the previous point's optimal basis (a warm start), so a point costs a few
    dual simplex iterations. When the minimum-CVaR portfolio already has the highest return,
    every point is that portfolio.

    Raises
    ------
    InvalidInputError, MandateInfeasibleError
        As for :func:`min_cvar`; ``n_points`` below 2.
    """
    count = positive_int(n_points, "n_points", minimum=2)
    problem = _Problem.build(
        returns,
        beta,
        bounds,
        groups=groups,
        inequalities=inequalities,
        turnover=turnover,
        costs=costs,
    )
    model = _cvar_model(problem)
    first = _cvar_result(problem, _solved(model, problem))
    low = first.net_expected_return
    high = max(_max_net_return(problem), low)
    results = [first]
    for target in np.linspace(low, high, count)[1:]:
        if target <= low:
            results.append(first)
            continue
        problem.set_floor(model, float(target))
        try:
            solution = model.solve()
        except InfeasibleError:
            # The top target is the highest return, infeasible only by rounding: back off.
            slack = _TARGET_TOLERANCE * max(1.0, abs(high))
            problem.set_floor(model, float(target) - slack)
            solution = model.solve()
        results.append(_cvar_result(problem, solution))
    return CVaRFrontier(
        returns=np.array([r.net_expected_return for r in results]),
        cvar=np.array([r.risk for r in results]),
        value_at_risk=np.array([r.value_at_risk for r in results]),
        weights=np.vstack([r.weights for r in results]),
        beta=problem.beta,
    )


def min_cdar(
    returns: Any,
    beta: float = 0.95,
    bounds: Any = _LONG_ONLY,
    *,
    groups: Groups | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
) -> TailRiskResult:
    """The fully invested portfolio of least CDaR within the mandate (an exact LP; the
    formulation of Riskfolio-Lib's ``rm="CDaR"``, see the module docstring).

    The rows of ``returns`` are a path in time order (a row with a NaN is dropped, which joins
    its neighbours). Costs are paid in the path's first period.

    Raises
    ------
    InvalidInputError, MandateInfeasibleError
        As for :func:`min_cvar`.
    """
    problem = _Problem.build(
        returns,
        beta,
        bounds,
        groups=groups,
        inequalities=inequalities,
        turnover=turnover,
        costs=costs,
    )
    model = _cdar_model(problem)
    solution = _solved(model, problem)
    weights = problem.weights_of(solution.x)
    cost = problem.mandate.cost_of(weights)
    drawdowns = _drawdowns(problem.returns @ weights, cost)
    risk = solution.objective * problem.unit
    return problem.result("CDaR", weights, risk, _tail(drawdowns, problem.tail)[1])


# ------------------------------------------------------------------ the linear programmes
@dataclass(frozen=True)
class _Problem:
    """Checked data shared by the optimisers."""

    returns: FloatArray
    mu: FloatArray
    beta: float
    tail: float
    unit: float
    mandate: Mandate
    base: _linear_program.LinearProgram
    n_x: int

    @classmethod
    def build(
        cls,
        returns: Any,
        beta: float,
        bounds: Any,
        *,
        groups: Groups | None,
        inequalities: tuple[Any, Any] | None,
        turnover: tuple[Any, float] | None,
        costs: tuple[Any, Any] | None,
    ) -> _Problem:
        matrix = clean_returns(returns)
        level = _beta(beta)
        mandate = resolve_mandate(
            matrix.shape[1],
            bounds,
            groups=groups,
            inequalities=inequalities,
            turnover=turnover,
            costs=costs,
        )
        base, n_x = mandate.lifted_program()
        largest = float(np.max(np.abs(matrix)))
        return cls(
            returns=matrix,
            mu=matrix.mean(axis=0),
            beta=level,
            tail=_tail_size(level, matrix.shape[0]),
            # The power of two that brings the largest return into [0.5, 1): dividing by it
            # is exact, and the LP's entries then share one scale.
            unit=math.ldexp(1.0, math.frexp(largest)[1]) if largest > 0.0 else 1.0,
            mandate=mandate,
            base=base,
            n_x=n_x,
        )

    @property
    def n_periods(self) -> int:
        return int(self.returns.shape[0])

    @property
    def n_mandate_rows(self) -> int:
        return int(self.base.matrix.shape[0])

    @property
    def target_row(self) -> int:
        """The return floor's row in the CVaR model: after the mandate's and the T loss rows."""
        return self.n_mandate_rows + self.n_periods

    def set_floor(self, model: _linear_program.Model, floor: float) -> None:
        """Set the CVaR model's return floor (in units of :attr:`unit`)."""
        model.set_row_bounds(self.target_row, floor / self.unit, math.inf)

    def trade_costs(self) -> FloatArray:
        """The cost rates over the lifted columns ``[w, p, m]`` (zero on ``w``)."""
        costs = np.zeros(self.n_x)
        rates = self.mandate.cost_rates
        if self.n_x > self.mandate.n_assets and rates is not None:
            n = self.mandate.n_assets
            costs[n : 2 * n] = rates
            costs[2 * n :] = rates
        return costs

    def weights_of(self, x: FloatArray) -> FloatArray:
        """The weights of an LP point, rounding errors outside the bounds clipped."""
        n = self.mandate.n_assets
        weights: FloatArray = np.clip(x[:n], self.mandate.lower, self.mandate.upper)
        return weights

    def result(
        self, measure: str, weights: FloatArray, risk: float, level: float
    ) -> TailRiskResult:
        cost = self.mandate.cost_of(weights)
        gross = float(self.mu @ weights)
        return TailRiskResult(
            weights=weights,
            measure=measure,
            risk=float(risk),
            value_at_risk=float(level),
            expected_return=gross,
            net_expected_return=gross - cost,
            cost=cost,
            beta=self.beta,
        )


def _solved(model: _linear_program.Model, problem: _Problem) -> _linear_program.LinearSolution:
    """The model's optimum; when there is none, the mandate's conflicting constraints are
    named (:class:`~compute.mandates.MandateInfeasibleError`), found only on this path."""
    try:
        return model.solve()
    except InfeasibleError:
        check_feasible(problem.mandate)
        raise


def _cvar_model(problem: _Problem) -> _linear_program.Model:
    """The CVaR LP over ``[x, alpha, z_1..z_T]``, returns and costs in units of
    ``problem.unit`` (so are alpha, z and the objective).

    Rows: the mandate's, then ``r_t'w + alpha + z_t >= 0`` (t = 1..T), then the return floor
    ``mu'w - c'(p + m) >= target`` (free until a target is set).
    """
    T, n_x, k = problem.n_periods, problem.n_x, problem.n_mandate_rows
    n = problem.mandate.n_assets
    costs = problem.trade_costs() / problem.unit
    block = np.zeros((k + T + 1, n_x))
    block[:k] = problem.base.matrix
    block[k : k + T, :n] = problem.returns / problem.unit
    block[k + T] = -costs
    block[k + T, :n] = problem.mu / problem.unit
    starts, indices, values = _linear_program.column_wise(block)
    scenario = np.arange(k, k + T)
    # alpha: 1 in every loss row; z_t: 1 in loss row t.
    starts = np.concatenate([starts, starts[-1] + T + np.arange(T + 1)])
    indices = np.concatenate([indices, scenario, scenario])
    values = np.concatenate([values, np.ones(2 * T)])
    cost = np.concatenate([costs, [1.0], np.full(T, 1.0 / problem.tail)])
    return _linear_program.Model(
        cost=cost,
        columns=(starts, indices, values),
        n_rows=k + T + 1,
        row_lower=np.concatenate([problem.base.row_lower, np.zeros(T), [-np.inf]]),
        row_upper=np.concatenate([problem.base.row_upper, np.full(T + 1, np.inf)]),
        col_lower=np.concatenate([problem.base.col_lower, [-np.inf], np.zeros(T)]),
        col_upper=np.concatenate([problem.base.col_upper, np.full(T + 1, np.inf)]),
        what="min-CVaR",
        presolve=False,
        scale=False,
    )


def _cvar_result(problem: _Problem, solution: _linear_program.LinearSolution) -> TailRiskResult:
    weights = problem.weights_of(solution.x)
    losses = problem.mandate.cost_of(weights) - problem.returns @ weights
    risk = solution.objective * problem.unit
    return problem.result("CVaR", weights, risk, _tail(losses, problem.tail)[1])


def _cdar_model(problem: _Problem) -> _linear_program.Model:
    """The CDaR LP over ``[x, alpha, d_1..d_T, z_1..z_T]``, returns and costs in units of
    ``problem.unit``.

    Rows: the mandate's, then ``d_t - d_{t-1} + r_t'w >= 0`` (t = 1..T, ``d_0 = 0``; the first
    also ``- c'(p + m)``), then ``z_t - d_t + alpha >= 0``.
    """
    T, n_x, k = problem.n_periods, problem.n_x, problem.n_mandate_rows
    n = problem.mandate.n_assets
    costs = problem.trade_costs() / problem.unit
    block = np.zeros((k + 2 * T, n_x))
    block[:k] = problem.base.matrix
    block[k : k + T, :n] = problem.returns / problem.unit
    block[k, n:] -= costs[n:]
    starts, indices, values = _linear_program.column_wise(block)
    drawdown_rows = np.arange(k, k + T)
    tail_rows = drawdown_rows + T
    # alpha: 1 in every tail row. d_t: +1 in drawdown row t, -1 in drawdown row t+1 (t < T)
    # and -1 in tail row t. z_t: 1 in tail row t.
    d_indices = np.column_stack([drawdown_rows, drawdown_rows + 1, tail_rows])
    d_values = np.tile([1.0, -1.0, -1.0], (T, 1))
    d_mask = np.ones((T, 3), dtype=bool)
    d_mask[-1, 1] = False  # d_T has no next drawdown row
    d_counts = d_mask.sum(axis=1)
    alpha_end = starts[-1] + T
    starts = np.concatenate([starts, [alpha_end], alpha_end + np.cumsum(d_counts)])
    starts = np.concatenate([starts, starts[-1] + np.arange(1, T + 1)])
    indices = np.concatenate([indices, tail_rows, d_indices[d_mask], tail_rows])
    values = np.concatenate([values, np.ones(T), d_values[d_mask], np.ones(T)])
    cost = np.concatenate([np.zeros(n_x), [1.0], np.zeros(T), np.full(T, 1.0 / problem.tail)])
    return _linear_program.Model(
        cost=cost,
        columns=(starts, indices, values),
        n_rows=k + 2 * T,
        row_lower=np.concatenate([problem.base.row_lower, np.zeros(2 * T)]),
        row_upper=np.concatenate([problem.base.row_upper, np.full(2 * T, np.inf)]),
        col_lower=np.concatenate([problem.base.col_lower, [-np.inf], np.zeros(2 * T)]),
        col_upper=np.concatenate([problem.base.col_upper, np.full(2 * T + 1, np.inf)]),
        what="min-CDaR",
        presolve=False,
        scale=False,
    )


def _raise_above_maximum(problem: _Problem, floor: float) -> float:
    """Raise :class:`InfeasibleError` when ``floor`` exceeds the highest expected net return
    (beyond rounding); otherwise return that highest return."""
    high = _max_net_return(problem)
    if floor <= high + _TARGET_TOLERANCE * max(1.0, abs(high)):
        return high
    low = _cvar_result(problem, _cvar_model(problem).solve()).net_expected_return
    raise InfeasibleError(
        f"target_return {floor:g} exceeds the maximum expected net return {high:g} "
        "attainable within the mandate; the mean-CVaR frontier spans returns "
        f"[{low:g}, {high:g}] (a target at or below {low:g} answers the minimum-CVaR "
        "portfolio)",
        lower=low,
        upper=high,
    )


def _max_net_return(problem: _Problem) -> float:
    """The highest expected net return :math:`\\mu^\\top w - \\kappa(w)` within the mandate."""
    objective = problem.trade_costs()
    objective[: problem.mandate.n_assets] = -problem.mu
    program = _linear_program.LinearProgram(
        cost=objective,
        matrix=problem.base.matrix,
        row_lower=problem.base.row_lower,
        row_upper=problem.base.row_upper,
        col_lower=problem.base.col_lower,
        col_upper=problem.base.col_upper,
    )
    return -_linear_program.solve(program, what="maximum net return").objective


# ------------------------------------------------------------------ exact evaluation
def _tail(values: FloatArray, size: float) -> tuple[float, float]:
    """(mean of the worst ``size`` values counting the boundary one fractionally, the
    boundary value): the CVaR and VaR of losses, or the CDaR and DaR of drawdowns."""
    worst = np.sort(values)[::-1]
    k = min(max(math.ceil(size), 1), worst.size)
    boundary = float(worst[k - 1])
    total = float(np.sum(worst[: k - 1])) + (size - (k - 1)) * boundary
    return total / size, boundary


def _drawdowns(portfolio_returns: FloatArray, cost: float) -> FloatArray:
    """Uncompounded drawdowns :math:`D_t` (t = 1..T) from a peak that includes the start."""
    cumulative = np.cumsum(portfolio_returns) - cost
    peak = np.maximum(np.maximum.accumulate(cumulative), 0.0)
    drawdowns: FloatArray = peak - cumulative
    return drawdowns


def _tail_size(beta: float, n_periods: int) -> float:
    """:math:`(1-\\beta)T`, an integer when it is one up to rounding."""
    size = (1.0 - beta) * n_periods
    nearest = round(size)
    if nearest >= 1 and abs(size - nearest) <= _TAIL_SNAP * size:
        return float(nearest)
    return size


def _beta(value: Any) -> float:
    try:
        level = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"beta must be a number in (0, 1), got {value!r}") from exc
    if not 0.0 < level < 1.0:
        raise InvalidInputError(f"beta must lie in (0, 1), got {value!r}")
    return level


def _target(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"target_return must be a number, got {value!r}") from exc
    if math.isnan(number):
        raise InvalidInputError("target_return is NaN")
    return number
