"""Optimality checks for the optimisers that depend on no other solver's path.

A test proves an answer optimal in three ways, none of which compares two-sided with another
solver's answer (that depends on where the other solver stops, which varies with the CPU and
the BLAS build):

(a) :func:`certify` — the KKT conditions at our answer: primal feasibility (budget, bounds,
    the problem's other constraints), stationarity (the objective's gradient is a combination
    of the active constraints' gradients), dual feasibility (the multipliers of inequalities
    and bounds have the right sign) and complementary slackness (only active constraints carry
    a multiplier). The multipliers are the nonnegative least-squares fit of the gradient by
    the active constraints' gradients; its residual is unique whatever algorithm finds it, so
    the check does not depend on the fitting algorithm's path. For a convex problem (and the
    pseudo-convex Sharpe ratio) KKT at a feasible point is sufficient for global optimality.
(b) :func:`local_solve` from our answer followed by :func:`assert_no_better`: a local solver
    started at our answer must not find a better point (one-sided).
(c) :func:`assert_no_better` with any peer's answer (a local solver from a neutral start, our
    own frontier points...): ours is no worse than the peer, one-sided.

In (b) and (c) the candidate's feasibility is accounted for rather than assumed: for a convex
problem the multipliers of (a) price each constraint violation (for any ``w``,
``f(w) >= f(w*) - sum_k |y_k| viol_k(w)`` by convexity and stationarity), so a slightly
infeasible candidate may be better by at most what its violations buy; for the Sharpe ratio,
whose constraints are only the budget and the bounds, the candidate is first projected onto
them exactly. A candidate better than that, by more than rounding, fails the test.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize, nnls

FloatArray = NDArray[np.float64]
Function = Callable[[FloatArray], float]
Gradient = Callable[[FloatArray], FloatArray]

# Relative tolerances: feasibility, activity of a constraint, stationarity, objective.
FEASIBILITY_TOL = 1e-10
ACTIVE_TOL = 1e-9
STATIONARITY_TOL = 1e-9
OBJECTIVE_TOL = 1e-12


@dataclass(frozen=True)
class Constraint:
    """``value(w) == 0`` (``equality``; affine) or ``value(w) >= 0`` (concave ``value``)."""

    name: str
    value: Function
    gradient: Gradient
    equality: bool = False


@dataclass(frozen=True)
class Problem:
    """``min objective(w)`` s.t. ``constraints`` and ``lower <= w <= upper``.

    ``convex`` says the objective is convex (the Lagrangian prices infeasibility); otherwise it
    must be pseudo-convex and the only constraint the budget, so candidates are projected.
    ``gradient_scale`` is the size of the terms that make up the gradient, against which the
    stationarity residual is measured (default: the gradient's largest entry; give it where
    the gradient itself can vanish at the optimum, as the Sharpe ratio's does).
    """

    objective: Function
    gradient: Gradient
    constraints: tuple[Constraint, ...]
    lower: FloatArray
    upper: FloatArray
    convex: bool = True
    gradient_scale: Function | None = None


@dataclass(frozen=True)
class Certificate:
    """KKT multipliers that prove ``weights`` optimal for ``problem``.

    Attributes
    ----------
    multipliers
        One per constraint (zero for an inactive inequality; >= 0 for every inequality).
    lower_multipliers, upper_multipliers
        Per asset, >= 0, nonzero only where the weight is at that bound.
    stationarity
        Largest residual of the stationarity equation relative to the size of its terms.
    """

    problem: Problem
    weights: FloatArray
    objective: float
    multipliers: FloatArray
    lower_multipliers: FloatArray
    upper_multipliers: FloatArray
    stationarity: float

    def slack(self, candidate: FloatArray) -> float:
        """How much lower than ours the objective of ``candidate`` may be (convex problems).

        By convexity and stationarity, ``f(w) >= f(w*) + sum_k y_k (c_k(w) - c_k(w*))`` (each
        bound counted as a constraint): the candidate's violations, and our own activity
        residuals (rounding level), priced by the multipliers. Zero for a feasible candidate
        when our active constraints hold exactly.
        """
        problem, ours = self.problem, self.weights
        total = float(self.lower_multipliers @ np.maximum(problem.lower - candidate, 0.0))
        total += float(self.upper_multipliers @ np.maximum(candidate - problem.upper, 0.0))
        total += float(self.lower_multipliers @ np.abs(ours - problem.lower))
        total += float(self.upper_multipliers @ np.abs(problem.upper - ours))
        for constraint, multiplier in zip(problem.constraints, self.multipliers, strict=True):
            value = constraint.value(candidate)
            violation = abs(value) if constraint.equality else max(-value, 0.0)
            total += abs(float(multiplier)) * (violation + abs(constraint.value(ours)))
        return total


def budget() -> Constraint:
    """``1'w = 1``."""
    return Constraint("budget", lambda w: float(np.sum(w)) - 1.0, np.ones_like, equality=True)


def return_floor(mu: FloatArray, target: float) -> Constraint:
    """``mu'w >= target``."""
    return Constraint("return floor", lambda w: float(mu @ w) - target, lambda w: mu.copy())


def variance_cap(cov: FloatArray, volatility: float) -> Constraint:
    """``w'Σw <= volatility²`` (concave as ``volatility² - w'Σw >= 0``)."""
    return Constraint(
        "variance cap",
        lambda w: volatility * volatility - float(w @ cov @ w),
        lambda w: -2.0 * (cov @ w),
    )


def min_variance_problem(cov: FloatArray, lower: FloatArray, upper: FloatArray) -> Problem:
    """``min w'Σw`` s.t. the budget and the bounds (add a floor with :func:`with_floor`)."""
    return Problem(
        objective=lambda w: float(w @ cov @ w),
        gradient=lambda w: 2.0 * (cov @ w),
        constraints=(budget(),),
        lower=lower,
        upper=upper,
    )


def with_floor(problem: Problem, mu: FloatArray, target: float) -> Problem:
    """``problem`` with the return floor ``mu'w >= target`` added."""
    return replace(problem, constraints=(*problem.constraints, return_floor(mu, target)))


def efficient_risk_problem(
    mu: FloatArray, cov: FloatArray, volatility: float, lower: FloatArray, upper: FloatArray
) -> Problem:
    """``max mu'w`` (as ``min -mu'w``) s.t. the budget, ``w'Σw <= volatility²`` and bounds."""
    return Problem(
        objective=lambda w: -float(mu @ w),
        gradient=lambda w: -mu.copy(),
        constraints=(budget(), variance_cap(cov, volatility)),
        lower=lower,
        upper=upper,
    )


def max_sharpe_problem(
    mu: FloatArray, cov: FloatArray, rate: float, lower: FloatArray, upper: FloatArray
) -> Problem:
    """``max (mu'w - rate)/sqrt(w'Σw)`` (as ``min`` of its negative) s.t. the budget and
    bounds; pseudo-convex where ``mu'w > rate``, so KKT is sufficient there."""

    def gradient(w: FloatArray) -> FloatArray:
        risk = cov @ w
        volatility = float(np.sqrt(w @ risk))
        excess = float(mu @ w) - rate
        result: FloatArray = -(mu / volatility - excess * risk / volatility**3)
        return result

    def gradient_scale(w: FloatArray) -> float:
        # With rate = 0 the ratio is scale-invariant and its gradient vanishes at an interior
        # optimum: measure the residual against the two terms instead.
        risk = cov @ w
        volatility = float(np.sqrt(w @ risk))
        excess = abs(float(mu @ w) - rate)
        return (
            float(np.max(np.abs(mu))) / volatility
            + excess * float(np.max(np.abs(risk))) / volatility**3
        )

    return Problem(
        objective=lambda w: -(float(mu @ w) - rate) / float(np.sqrt(w @ cov @ w)),
        gradient=gradient,
        constraints=(budget(),),
        lower=lower,
        upper=upper,
        convex=False,
        gradient_scale=gradient_scale,
    )


def certify(problem: Problem, weights: FloatArray, *, tol: float = STATIONARITY_TOL) -> Certificate:
    """Assert the KKT conditions at ``weights`` and return the multipliers.

    Raises ``AssertionError`` naming the condition that fails.
    """
    certificate = kkt_multipliers(problem, weights)
    assert certificate.stationarity <= tol, (
        f"not stationary: residual {certificate.stationarity:.3g} of the gradient's size "
        f"(tolerance {tol:g})"
    )
    return certificate


def kkt_multipliers(problem: Problem, weights: FloatArray) -> Certificate:
    """The best KKT multipliers at ``weights``, asserting every condition but stationarity
    (whose residual the result reports): for checking that the checks reject wrong answers.
    """
    w = np.asarray(weights, dtype=np.float64)
    lower, upper = problem.lower, problem.upper
    size = 1.0 + float(np.sum(np.abs(w)))
    # Primal feasibility.
    assert np.all(w >= lower - FEASIBILITY_TOL * size), "below a lower bound"
    assert np.all(w <= upper + FEASIBILITY_TOL * size), "above an upper bound"
    active: list[bool] = []
    for constraint in problem.constraints:
        value = constraint.value(w)
        scale = 1.0 + float(np.max(np.abs(constraint.gradient(w)))) * size
        if constraint.equality:
            assert abs(value) <= FEASIBILITY_TOL * scale, f"{constraint.name} violated: {value}"
        else:
            assert value >= -FEASIBILITY_TOL * scale, f"{constraint.name} violated: {value}"
        active.append(constraint.equality or value <= ACTIVE_TOL * scale)
    # Complementary slackness by construction: only active constraints get a column.
    movable = upper > lower
    at_lower = movable & (w - lower <= ACTIVE_TOL * (1.0 + np.abs(lower)))
    at_upper = movable & (upper - w <= ACTIVE_TOL * (1.0 + np.abs(upper))) & ~at_lower
    fixed = ~movable  # l == u: a free-signed multiplier
    n_assets = w.size
    columns: list[FloatArray] = []
    owners: list[tuple[str, int, float]] = []  # (kind, index, sign)
    for k, (constraint, is_active) in enumerate(zip(problem.constraints, active, strict=True)):
        if not is_active:
            continue
        column = np.asarray(constraint.gradient(w), dtype=np.float64)
        columns.append(column)
        owners.append(("constraint", k, 1.0))
        if constraint.equality:
            columns.append(-column)
            owners.append(("constraint", k, -1.0))
    identity = np.eye(n_assets)
    for i in np.flatnonzero(at_lower | fixed):
        columns.append(identity[i])
        owners.append(("lower", int(i), 1.0))
    for i in np.flatnonzero(at_upper | fixed):
        columns.append(-identity[i])
        owners.append(("upper", int(i), 1.0))
    gradient = np.asarray(problem.gradient(w), dtype=np.float64)
    if columns:
        matrix = np.column_stack(columns)
        solution, _ = nnls(matrix, gradient, maxiter=50 * matrix.shape[1])
    else:
        matrix = np.zeros((n_assets, 0))
        solution = np.zeros(0)
    residual = gradient - matrix @ solution
    term_size = float(np.max(np.abs(gradient)))
    if problem.gradient_scale is not None:
        term_size = max(term_size, problem.gradient_scale(w))
    if solution.size:
        term_size = max(term_size, float(np.max(solution * np.max(np.abs(matrix), axis=0))))
    stationarity = float(np.max(np.abs(residual))) / max(term_size, 1e-300)
    constraint_multipliers = np.zeros(len(problem.constraints))
    lower_multipliers = np.zeros(n_assets)
    upper_multipliers = np.zeros(n_assets)
    for (kind, index, sign), value in zip(owners, solution, strict=True):
        if kind == "constraint":
            constraint_multipliers[index] += sign * value
        elif kind == "lower":
            lower_multipliers[index] += value
        else:
            upper_multipliers[index] += value
    # Dual feasibility (nonnegative least squares keeps every sign-constrained multiplier >= 0).
    assert np.all(solution >= 0.0)
    for constraint, multiplier in zip(problem.constraints, constraint_multipliers, strict=True):
        assert constraint.equality or multiplier >= 0.0, f"{constraint.name} multiplier < 0"
    # Complementary slackness: a multiplier only where its constraint is active.
    inside = ~(at_lower | at_upper | fixed)
    assert np.all(lower_multipliers[inside | at_upper] == 0.0)
    assert np.all(upper_multipliers[inside | at_lower] == 0.0)
    for is_active, multiplier in zip(active, constraint_multipliers, strict=True):
        assert is_active or multiplier == 0.0
    return Certificate(
        problem=problem,
        weights=w,
        objective=problem.objective(w),
        multipliers=constraint_multipliers,
        lower_multipliers=lower_multipliers,
        upper_multipliers=upper_multipliers,
        stationarity=stationarity,
    )


def project_to_budget_box(point: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """The Euclidean projection onto ``{1'w = 1, lower <= w <= upper}`` (bisection on the
    shift ``t`` of ``clip(point - t, lower, upper)``, whose sum falls as ``t`` grows)."""
    inside = np.all(point >= lower) and np.all(point <= upper)
    if inside and abs(float(np.sum(point)) - 1.0) <= 1e-15 * point.size:
        return point.copy()  # already feasible (to rounding)
    low = float(np.min(point - upper))
    high = float(np.max(point - lower))
    for _ in range(100):  # enough to halve any double interval down to adjacent numbers
        middle = 0.5 * (low + high)
        if float(np.sum(np.clip(point - middle, lower, upper))) > 1.0:
            low = middle
        else:
            high = middle
    projected: FloatArray = np.clip(point - 0.5 * (low + high), lower, upper)
    return projected


def assert_no_better(
    certificate: Certificate, candidate: FloatArray, *, tol: float = OBJECTIVE_TOL
) -> None:
    """One-sided: ``candidate`` (from a local solver, a peer...) is not better than the
    certified answer by more than its constraint violations buy and ``tol`` (relative)."""
    problem = certificate.problem
    point = np.asarray(candidate, dtype=np.float64)
    if problem.convex:
        allowance = certificate.slack(point)
    else:
        assert [c.name for c in problem.constraints] == ["budget"], "projection needs budget only"
        point = project_to_budget_box(point, problem.lower, problem.upper)
        allowance = 0.0
    ours = certificate.objective
    theirs = problem.objective(point)
    margin = allowance + tol * max(1.0, abs(ours))
    assert theirs >= ours - margin, (
        f"a candidate improves the objective: {theirs!r} < ours {ours!r} (allowance {margin:.3g})"
    )


def neutral_start(lower: FloatArray, upper: FloatArray) -> FloatArray:
    """A feasible point that knows nothing of the answer: the projection of equal weights."""
    return project_to_budget_box(np.full(lower.size, 1.0 / lower.size), lower, upper)


def local_solve(problem: Problem, start: FloatArray) -> FloatArray:
    """SLSQP on ``problem`` from ``start``: only ever used one-sidedly (where it stops does not
    matter, only that it cannot beat a certified answer)."""
    constraints = [
        {
            "type": "eq" if c.equality else "ineq",
            "fun": c.value,
            "jac": c.gradient,
        }
        for c in problem.constraints
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = minimize(
            problem.objective,
            np.asarray(start, dtype=np.float64),
            jac=problem.gradient,
            bounds=list(zip(problem.lower, problem.upper, strict=True)),
            constraints=constraints,
            method="SLSQP",
            options={"ftol": 1e-15, "maxiter": 500},
        )
    point: FloatArray = np.asarray(result.x, dtype=np.float64)
    return point
