"""Linear mandates in the mean-variance family: groups, inequalities, turnover and costs.

Optimality is proved without another solver's path:

- the first-order condition of a convex programme, checked by a linear programme: ``w*`` is
  optimal for ``min f`` over a convex set iff ``∇f(w*)'(x - w*) >= 0`` for every feasible ``x``
  (the KKT conditions in their dual form; the turnover and the costs are handled exactly in
  the LP by lifting ``w - w0 = p - m``). :func:`_assert_first_order` solves
  ``min ∇f(w*)'x`` over the feasible set with HiGHS and compares one-sided;
- :mod:`kkt`'s certificate (multipliers by nonnegative least squares) where the mandate is
  smooth (groups and inequalities);
- hand-derived cases with closed forms.
"""

from __future__ import annotations

from typing import Any

import kkt
import numpy as np
import pytest
from compute_test_data import random_covariance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compute import (
    InfeasibleError,
    InvalidInputError,
    critical_line,
    efficient_frontier,
    efficient_return,
    efficient_risk,
    max_sharpe,
    min_variance,
)
from compute._linear_program import LinearProgram, Model, column_wise, solve
from compute.mandates import Mandate, MandateInfeasibleError, check_feasible, resolve_mandate

# ∇f(w*)'x may undercut ∇f(w*)'w* by rounding only (variances ~1e-2, weights ~1).
FIRST_ORDER_TOL = 1e-9
FEASIBILITY_TOL = 1e-8


def _problem(seed: int, n_assets: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.08, 0.05, n_assets), random_covariance(rng, n_assets)


def _assert_first_order(
    cov: np.ndarray,
    mu: np.ndarray,
    mandate: Mandate,
    weights: np.ndarray,
    floor: float | None,
) -> None:
    """``weights`` minimises the variance over the mandate (and a net-return floor)."""
    assert mandate.violations(weights, FEASIBILITY_TOL) == []
    if floor is not None:
        assert mandate.net_returns(weights, mu) >= floor - FEASIBILITY_TOL
    gradient = 2.0 * cov @ weights
    try:
        lowest = _lowest_linearised(mandate, mu, gradient, floor)
    except InfeasibleError:
        # The top of the frontier: our return there is the highest, and the check's LP, held
        # to 1e-12, puts the highest a rounding below it, where the frontier may rise steeply
        # (a slope of 1e4 turns that rounding into 1e-8). There ours must be the least
        # variance of the highest returns: no worse than the LP's highest-return vertex.
        assert floor is not None
        top = _highest_net_return(mandate, mu)
        assert mandate.net_returns(weights, mu) >= mandate.net_returns(top, mu) - 1e-9
        assert weights @ cov @ weights <= top @ cov @ top + 1e-12
        return
    scale = max(1.0, float(np.abs(gradient).max()))
    assert float(gradient @ weights) <= lowest + FIRST_ORDER_TOL * scale


# HiGHS meets rows to an absolute 1e-9, and on a frontier whose whole return range is that
# small (a turnover limit of 1e-7, say) its optimum would undercut the exact one by what the
# tolerance buys. The check's rows are multiplied by this (an equivalent programme; HiGHS's own
# scaling off so it is not undone): the tolerance is then 1e-12 in the original units.
_ROW_SCALE = 1e3


def _highest_net_return(mandate: Mandate, mu: np.ndarray) -> np.ndarray:
    """A portfolio of the highest net return the mandate allows (a vertex, by HiGHS)."""
    n = mandate.n_assets
    program, n_cols = mandate.lifted_program()
    objective = np.zeros(n_cols)
    objective[:n] = -mu
    if n_cols > n and mandate.cost_rates is not None:
        objective[n:] = np.tile(mandate.cost_rates, 2)
    best = solve(
        LinearProgram(
            objective,
            program.matrix,
            program.row_lower,
            program.row_upper,
            program.col_lower,
            program.col_upper,
        )
    )
    weights: np.ndarray = best.x[:n]
    return weights


def _lowest_linearised(
    mandate: Mandate, mu: np.ndarray, gradient: np.ndarray, floor: float | None
) -> float:
    """``min ∇f'x`` over the mandate (and the net-return floor), by HiGHS."""
    n = mandate.n_assets
    program, n_cols = mandate.lifted_program()
    cost = np.zeros(n_cols)
    cost[:n] = gradient
    matrix, row_lower, row_upper = program.matrix, program.row_lower, program.row_upper
    if floor is not None:
        row = np.zeros(n_cols)
        row[:n] = mu
        if n_cols > n and mandate.cost_rates is not None:
            row[n : 2 * n] = -mandate.cost_rates
            row[2 * n :] = -mandate.cost_rates
        matrix = np.vstack([matrix, row])
        row_lower = np.append(row_lower, floor)
        row_upper = np.append(row_upper, np.inf)
    model = Model(
        cost=cost,
        columns=column_wise(matrix * _ROW_SCALE),
        n_rows=matrix.shape[0],
        row_lower=row_lower * _ROW_SCALE,
        row_upper=row_upper * _ROW_SCALE,
        col_lower=program.col_lower,
        col_upper=program.col_upper,
        presolve=False,
        scale=False,
    )
    return model.solve().objective


# ------------------------------------------------------------------ hand-derived cases
def test_a_binding_group_limit_on_two_assets_splits_by_inverse_variance() -> None:
    variances = np.array([0.04, 0.01, 0.09])
    cov = np.diag(variances)
    free = min_variance(cov)
    assert free[0] + free[1] > 0.5  # the limit below binds
    weights = min_variance(cov, groups={"pair": ([0, 1], None, 0.5)})
    # Inside the group the weights minimise w0² σ0² + w1² σ1² with w0 + w1 = 0.5.
    inverse = 1.0 / variances[:2]
    np.testing.assert_allclose(weights[:2], 0.5 * inverse / inverse.sum(), atol=1e-14)
    assert weights[2] == pytest.approx(0.5, abs=1e-14)


def test_zero_turnover_answers_the_current_weights() -> None:
    mu, cov = _problem(1, 6)
    current = np.array([0.1, 0.2, 0.3, 0.15, 0.05, 0.2])
    line = critical_line(mu, cov, turnover=(current, 0.0))
    np.testing.assert_allclose(line.weights, current[None, :], atol=1e-12)
    np.testing.assert_allclose(min_variance(cov, turnover=(current, 0.0)), current, atol=1e-12)
    np.testing.assert_allclose(max_sharpe(mu, cov, turnover=(current, 0.0)), current, atol=1e-12)


def test_costs_shift_the_frontier_down_by_exactly_the_cost() -> None:
    # From all-in-asset-0, trading costs c * sum|w - e0| = 2c (1 - w0): net returns are those of
    # mu + 2c e0 less 2c, so the frontier is the cost-free one of shifted means, 2c lower.
    mu, cov = _problem(2, 5)
    rate = 0.004
    current = np.eye(5)[0]
    with_costs = efficient_frontier(mu, cov, 20, costs=(current, rate))
    shifted = mu + 2.0 * rate * current
    reference = efficient_frontier(shifted, cov, 20)
    np.testing.assert_allclose(with_costs.returns, reference.returns - 2.0 * rate, atol=1e-12)
    np.testing.assert_allclose(with_costs.weights, reference.weights, atol=1e-9)
    # At fixed weights the net return is the gross less the cost.
    for weights, net in zip(with_costs.weights, with_costs.returns, strict=True):
        cost = rate * np.abs(weights - current).sum()
        assert net == pytest.approx(weights @ mu - cost, abs=1e-12)


def test_a_turnover_limit_caps_every_frontier_point() -> None:
    mu, cov = _problem(3, 8)
    current = np.full(8, 1 / 8)
    frontier = efficient_frontier(mu, cov, 30, turnover=(current, 0.4))
    trades = np.abs(frontier.weights - current).sum(axis=1)
    assert trades.max() <= 0.4 + 1e-10
    assert trades.max() == pytest.approx(0.4, abs=1e-9)  # it binds towards maximum return


def test_efficient_return_treats_its_target_as_a_floor_under_a_mandate() -> None:
    mu, cov = _problem(4, 6)
    groups = {"first": ([0, 1, 2], 0.2, 0.6)}
    line = critical_line(mu, cov, groups=groups)
    low, high = line.return_range
    np.testing.assert_allclose(
        efficient_return(mu, cov, low - 1.0, groups=groups), line.weights[0], atol=1e-14
    )
    middle = efficient_return(mu, cov, 0.5 * (low + high), groups=groups)
    assert middle @ mu == pytest.approx(0.5 * (low + high), abs=1e-12)
    with pytest.raises(InfeasibleError):
        efficient_return(mu, cov, high + 0.01, groups=groups)


def test_efficient_risk_and_max_sharpe_are_optimal_under_groups() -> None:
    mu, cov = _problem(5, 7)
    groups = {"a": ([0, 1], None, 0.3), "b": ([2, 3, 4], 0.3, None)}
    mandate = resolve_mandate(7, (0, 1), groups=groups)
    line = critical_line(mu, cov, groups=groups)
    middle_volatility = float(np.mean(line.volatility_range))
    capped = efficient_risk(mu, cov, middle_volatility, groups=groups)
    assert float(np.sqrt(capped @ cov @ capped)) == pytest.approx(middle_volatility, rel=1e-10)
    # The highest return under the cap is the variance minimiser at its return.
    _assert_first_order(cov, mu, mandate, capped, float(capped @ mu))
    tangency = max_sharpe(mu, cov, 0.01, groups=groups)
    problem = kkt.max_sharpe_problem(mu, cov, 0.01, mandate.lower, mandate.upper)
    sharpe = (tangency @ mu - 0.01) / np.sqrt(tangency @ cov @ tangency)
    for point in line.frontier(200).weights:  # no frontier point beats it (one-sided)
        assert (point @ mu - 0.01) / np.sqrt(point @ cov @ point) <= sharpe + 1e-12
    assert problem.lower.size == 7


def test_inequalities_a_w_le_b_hold() -> None:
    mu, cov = _problem(6, 5)
    matrix = np.array([[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 1.0]])
    rhs = np.array([0.0, 0.5])
    frontier = efficient_frontier(mu, cov, 25, inequalities=(matrix, rhs))
    assert (frontier.weights @ matrix.T <= rhs + 1e-12).all()
    mandate = resolve_mandate(5, (0, 1), inequalities=(matrix, rhs))
    for weights, floor in zip(frontier.weights, frontier.returns, strict=True):
        _assert_first_order(cov, mu, mandate, weights, float(floor))


# ------------------------------------------------------------------ infeasible mandates
def test_an_infeasible_mandate_names_the_conflicting_constraints() -> None:
    mu, cov = _problem(7, 6)
    groups = {
        "tech": ([0, 1], 0.7, None),
        "energy": ([2, 3], 0.5, None),
        "other": ([4], None, 0.9),
    }
    with pytest.raises(MandateInfeasibleError) as raised:
        critical_line(mu, cov, groups=groups)
    conflicts = raised.value.conflicts
    assert "group 'tech' >= 0.7" in conflicts
    assert "group 'energy' >= 0.5" in conflicts
    assert any(name.startswith("budget") for name in conflicts)
    assert not any("other" in name for name in conflicts)  # irreducible: not a bystander
    assert "tech" in str(raised.value)
    assert "energy" in str(raised.value)


def test_turnover_too_small_to_reach_the_bounds_is_refused() -> None:
    current = np.array([0.5, 0.5, 0.0])
    mandate = resolve_mandate(3, (0.0, 0.4), turnover=(current, 0.1))
    with pytest.raises(MandateInfeasibleError) as raised:
        check_feasible(mandate)
    assert set(raised.value.conflicts) == {"per-asset bounds", "turnover <= 0.1"}


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"groups": {"g": ([0, 9], 0.1, 0.2)}}, "asset indices"),
        ({"groups": {"g": ([0, 1], 0.3, 0.2)}}, "exceeds upper"),
        ({"groups": {"g": ([], 0.1, 0.2)}}, "no assets"),
        ({"turnover": (np.full(3, 1 / 3), -0.1)}, "turnover limit"),
        ({"turnover": (np.full(2, 0.5), 0.1)}, "length"),
        ({"costs": (np.full(3, 1 / 3), -0.01)}, "cost rates"),
        ({"inequalities": (np.ones((2, 4)), np.ones(2))}, "inequalities A"),
        ({"turnover": (np.full(3, 1 / 3), 0.1), "costs": (np.eye(3)[0], 0.01)}, "same current"),
    ],
)
def test_malformed_mandates_raise_typed_errors(keywords: dict[str, Any], message: str) -> None:
    mu, cov = _problem(8, 3)
    with pytest.raises(InvalidInputError, match=message):
        critical_line(mu, cov, **keywords)


# ------------------------------------------------------------------ properties
@st.composite
def _mandates(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    n_assets = draw(st.integers(3, 12))
    mu, cov = rng.normal(0.08, 0.05, n_assets), random_covariance(rng, n_assets)
    if draw(st.booleans()):
        mu[1] = mu[0]  # ties
    current = rng.dirichlet(np.ones(n_assets))
    keywords: dict[str, Any] = {"bounds": (0.0, float(rng.uniform(1.5 / n_assets, 1.0)))}
    groups = {}
    for k in range(draw(st.integers(0, 3))):
        members = rng.choice(n_assets, size=int(rng.integers(1, n_assets)), replace=False)
        low = float(rng.uniform(0.0, 0.3)) if rng.random() < 0.5 else None
        high = float(rng.uniform(0.3, 0.9)) if rng.random() < 0.7 or low is None else None
        groups[f"g{k}"] = (members, low, high)
    keywords["groups"] = groups
    if draw(st.booleans()):
        keywords["turnover"] = (current, float(rng.uniform(0.05, 1.5)))
    if draw(st.booleans()):
        keywords["costs"] = (current, float(rng.uniform(0.0, 0.03)))
    return mu, cov, keywords


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mandates())
def test_every_frontier_point_is_optimal_under_random_mandates(
    case: tuple[np.ndarray, np.ndarray, dict[str, Any]],
) -> None:
    mu, cov, keywords = case
    bounds = keywords.pop("bounds")
    mandate = resolve_mandate(mu.size, bounds, **keywords)
    try:
        check_feasible(mandate)
    except MandateInfeasibleError:
        with pytest.raises(MandateInfeasibleError) as raised:
            critical_line(mu, cov, bounds, **keywords)
        assert raised.value.conflicts  # named; nothing to optimise
        return
    frontier = efficient_frontier(mu, cov, 12, bounds, **keywords)
    assert np.all(np.diff(frontier.returns) >= -1e-12)
    assert np.all(np.diff(frontier.volatilities) >= -1e-12)
    for weights, net in zip(frontier.weights, frontier.returns, strict=True):
        _assert_first_order(cov, mu, mandate, weights, float(net))
    # The last point has the highest net return the mandate allows (an LP tells it).
    lifted, n_cols = mandate.lifted_program()
    objective = np.zeros(n_cols)
    objective[: mu.size] = -mu
    if n_cols > mu.size and mandate.cost_rates is not None:
        objective[mu.size :] = np.tile(mandate.cost_rates, 2)
    best = solve(
        LinearProgram(
            objective,
            lifted.matrix,
            lifted.row_lower,
            lifted.row_upper,
            lifted.col_lower,
            lifted.col_upper,
        )
    )
    assert frontier.returns[-1] >= -best.objective - 1e-9


@settings(max_examples=30, deadline=None)
@given(_mandates())
def test_min_variance_equals_the_paths_first_point(
    case: tuple[np.ndarray, np.ndarray, dict[str, Any]],
) -> None:
    mu, cov, keywords = case
    bounds = keywords.pop("bounds")
    mandate = resolve_mandate(mu.size, bounds, **keywords)
    try:
        weights = min_variance(cov, bounds, **keywords)
    except MandateInfeasibleError:
        return
    _assert_first_order(cov, mu, mandate, weights, None)
    line = critical_line(mu, cov, bounds, **keywords)
    first = line.weights[0]
    assert first @ cov @ first == pytest.approx(weights @ cov @ weights, rel=1e-10, abs=1e-14)


def test_current_weights_on_a_group_limit_with_a_turnover_limit() -> None:
    # Every asset starts fixed at its kink with the group's row binding: the first released
    # pair's step has a rounding-level component on the group's other asset, which once "blocked"
    # the step and left the group's row with no free asset (a singular Schur system).
    cov = np.array(
        [
            [0.00967380299429204, 0.00358243805359673, -0.00061647123012115, 0.00187070114907788],
            [0.00358243805359673, 0.02410698889706309, 0.0014006570704023, 0.00175649619472894],
            [-0.00061647123012115, 0.0014006570704023, 0.03754869461085435, 0.00286223013468326],
            [0.00187070114907788, 0.00175649619472894, 0.00286223013468326, 0.0484222920076368],
        ]
    )
    before = np.array(
        [0.355981067175718, 0.04401893282428221, 0.36048764857981086, 0.2395123514201893]
    )
    keywords: dict[str, Any] = {
        "groups": {"calm": ([0, 1], None, 0.4)},
        "turnover": (before, 0.5),
    }
    weights = min_variance(cov, (0.0, 0.45), **keywords)
    mandate = resolve_mandate(4, (0.0, 0.45), **keywords)
    _assert_first_order(cov, np.zeros(4), mandate, weights, None)
    assert weights[0] + weights[1] == pytest.approx(0.4, abs=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mandates(), st.one_of(st.just(0.0), st.floats(1e-3, 0.6)), st.integers(0, 10_000))
def test_rebalancing_from_weights_on_the_limits_stays_optimal(
    case: tuple[np.ndarray, np.ndarray, dict[str, Any]], limit: float, seed: int
) -> None:
    # A backtest rebalances from the last target, which sits on bounds and group limits: the
    # kinks then coincide with binding constraints (the degenerate starts).
    mu, cov, keywords = case
    bounds = keywords.pop("bounds")
    groups = keywords["groups"]
    rng = np.random.default_rng(seed)
    try:
        previous = min_variance(random_covariance(rng, mu.size), bounds, groups=groups)
    except MandateInfeasibleError:
        return
    rebalance: dict[str, Any] = {
        "groups": groups,
        "turnover": (previous, limit),
        "costs": (previous, 0.002),
    }
    mandate = resolve_mandate(mu.size, bounds, **rebalance)
    frontier = efficient_frontier(mu, cov, 8, bounds, **rebalance)
    for weights, net in zip(frontier.weights, frontier.returns, strict=True):
        _assert_first_order(cov, mu, mandate, weights, float(net))


def test_min_turnover_is_the_least_trade_back_into_the_mandate() -> None:
    from compute.mandates import min_turnover

    over = np.array([0.5, 0.5, 0.0])
    # Each of the first two must shed 0.1 into the third: 0.2 out and 0.2 in.
    assert min_turnover(resolve_mandate(3, (0.0, 0.4), costs=(over, 0.0))) == pytest.approx(0.4)
    grouped = resolve_mandate(3, (0, 1), groups={"pair": ([0, 1], None, 0.7)}, costs=(over, 0))
    assert min_turnover(grouped) == pytest.approx(0.6)
    inside = resolve_mandate(3, (0, 1), costs=(np.full(3, 1 / 3), 0.0))
    assert min_turnover(inside) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InvalidInputError, match="current weights"):
        min_turnover(resolve_mandate(3))
    with pytest.raises(MandateInfeasibleError):
        min_turnover(
            resolve_mandate(3, (0, 1), groups={"all": ([0, 1, 2], 1.5, None)}, costs=(over, 0))
        )
