"""CVaR and CDaR: exact evaluation by hand, LP optima certified without trusting the solver.

Optimality checks are one-sided: our optimum is no worse than any feasible portfolio we can
name (equal weight, every vertex, random mixes, small feasible perturbations: the objectives
are convex, so a local minimum is global) and no worse than Riskfolio-Lib's answer; the LP's
objective equals the exact sorted evaluation at the answer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compute_test_data import random_returns
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compute import InfeasibleError, InvalidInputError
from compute.mandates import MandateInfeasibleError, resolve_mandate
from compute.tail_risk import (
    CVaRFrontier,
    TailRiskResult,
    cdar,
    cvar,
    mean_cvar_frontier,
    min_cdar,
    min_cvar,
)

GOLDEN = Path(__file__).parent / "data" / "riskfolio_tail_risk.json"
EXACT = 1e-10


def _returns(seed: int, n_days: int = 120, n_assets: int = 5) -> np.ndarray:
    return random_returns(np.random.default_rng(seed), n_days, n_assets)


def _one_asset(series: list[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A two-column matrix whose portfolio [1, 0] returns ``series``."""
    column = np.asarray(series, dtype=float)
    return np.column_stack([column, np.zeros_like(column)]), np.array([1.0, 0.0])


def _ru_minimum(losses: np.ndarray, beta: float) -> float:
    """Rockafellar-Uryasev's min over alpha, by trying every breakpoint (the function is convex
    and piecewise linear with kinks at the losses)."""
    tail = (1.0 - beta) * losses.size
    return min(a + np.maximum(losses - a, 0.0).sum() / tail for a in losses)


def _feasible_directions(n_assets: int, rng: np.random.Generator, count: int) -> np.ndarray:
    """Random directions that keep the budget: zero-sum vectors."""
    directions = rng.normal(size=(count, n_assets))
    return directions - directions.mean(axis=1, keepdims=True)


def _assert_no_better_nearby(
    function: Any, weights: np.ndarray, optimum: float, rng: np.random.Generator
) -> None:
    """Small budget-keeping moves inside [0, 1] never lower the (convex) objective."""
    for direction in _feasible_directions(weights.size, rng, 200):
        for step in (1e-3, 1e-2, 1e-1):
            trial = weights + step * direction / np.abs(direction).sum()
            if np.all(trial >= 0.0) and np.all(trial <= 1.0):
                assert function(trial) >= optimum - 1e-12


# ------------------------------------------------------------------ exact evaluation
def test_cvar_is_the_mean_of_the_worst_two_of_twenty_at_beta_090() -> None:
    series = np.random.default_rng(1).normal(0.0, 0.01, 20)
    returns, weights = _one_asset(series)
    worst = np.sort(-series)[::-1]
    assert cvar(weights, returns, 0.9) == pytest.approx((worst[0] + worst[1]) / 2, abs=1e-15)


def test_cvar_counts_the_boundary_loss_fractionally() -> None:
    # T = 10, beta = 0.75: a tail of 2.5 periods, the worst two and half of the third.
    series = [0.01, -0.05, 0.02, -0.03, 0.0, -0.01, 0.04, -0.02, 0.03, 0.005]
    returns, weights = _one_asset(series)
    expected = (0.05 + 0.03 + 0.5 * 0.02) / 2.5
    assert cvar(weights, returns, 0.75) == pytest.approx(expected, abs=1e-15)
    # A tail shorter than one period is the worst loss.
    assert cvar(weights, returns, 0.95) == pytest.approx(0.05, abs=1e-15)


@pytest.mark.parametrize("beta", [0.5, 0.75, 0.9, 0.95, 0.99, 0.333])
def test_cvar_equals_the_rockafellar_uryasev_minimum(beta: float) -> None:
    returns = _returns(3, n_days=97)
    weights = np.full(5, 0.2)
    losses = -(returns @ weights)
    assert cvar(weights, returns, beta) == pytest.approx(_ru_minimum(losses, beta), abs=1e-15)


def test_cvar_cost_shifts_every_loss() -> None:
    returns = _returns(4)
    weights = np.full(5, 0.2)
    assert cvar(weights, returns, 0.9, cost=0.003) == pytest.approx(
        cvar(weights, returns, 0.9) + 0.003, abs=1e-15
    )


def test_cdar_drawdowns_by_hand() -> None:
    # Cumulative 0.1, 0.05, 0, 0.2: drawdowns 0, 0.05, 0.1, 0.
    returns, weights = _one_asset([0.1, -0.05, -0.05, 0.2])
    assert cdar(weights, returns, 0.5) == pytest.approx((0.1 + 0.05) / 2, abs=1e-15)
    assert cdar(weights, returns, 0.75) == pytest.approx(0.1, abs=1e-15)
    # The peak includes the start: a path that opens with a loss is in drawdown at once.
    returns, weights = _one_asset([-0.1, 0.05])
    assert cdar(weights, returns, 0.5) == pytest.approx(0.1, abs=1e-15)
    assert cdar(weights, returns, 0.25) == pytest.approx((0.1 + 0.5 * 0.05) / 1.5, abs=1e-15)
    # A cost is paid in the first period: every cumulative return drops by it.
    returns, weights = _one_asset([0.02, 0.01])
    assert cdar(weights, returns, 0.5, cost=0.03) == pytest.approx((0.01 + 0.0) / 1, abs=1e-15)


# ------------------------------------------------------------------ min_cvar
@pytest.mark.parametrize(("seed", "beta"), [(10, 0.95), (11, 0.9), (12, 0.75), (13, 0.99)])
def test_min_cvar_is_no_worse_than_any_portfolio_we_can_name(seed: int, beta: float) -> None:
    returns = _returns(seed, n_days=150, n_assets=6)
    result = min_cvar(returns, beta)
    assert isinstance(result, TailRiskResult)
    w = result.weights
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(w >= 0.0)
    assert result.risk == pytest.approx(cvar(w, returns, beta), abs=EXACT)
    losses = -(returns @ w)
    tail = math.ceil((1.0 - beta) * losses.size - 1e-9)
    assert result.value_at_risk == np.sort(losses)[::-1][tail - 1]
    assert result.expected_return == pytest.approx(returns.mean(axis=0) @ w, abs=1e-15)
    assert result.net_expected_return == result.expected_return
    assert result.cost == 0.0
    candidates = [np.full(6, 1 / 6), *np.eye(6)]
    candidates += list(np.random.default_rng(seed).dirichlet(np.ones(6) * 0.5, 200))
    for candidate in candidates:
        assert result.risk <= cvar(candidate, returns, beta) + 1e-12
    _assert_no_better_nearby(
        lambda v: cvar(v, returns, beta), w, result.risk, np.random.default_rng(seed)
    )


@pytest.mark.parametrize("scale", [1e-5, 1.0, 30.0])
def test_min_cvar_and_cdar_on_mixed_and_extreme_scales(scale: float) -> None:
    # A cash-like asset (returns ~1e-6 of the others') beside volatile ones, all scaled: the
    # LP works in a power-of-two unit of the largest return, so the answer scales exactly.
    rng = np.random.default_rng(21)
    returns = np.column_stack([rng.normal(1e-7, 1e-8, 200), rng.normal(0.001, 0.05, (200, 3))])
    for optimise, evaluate in ((min_cvar, cvar), (min_cdar, cdar)):
        base = optimise(returns, 0.9)
        scaled = optimise(returns * scale, 0.9)
        assert scaled.risk == pytest.approx(
            evaluate(scaled.weights, returns * scale, 0.9), abs=EXACT * scale
        )
        assert scaled.risk == pytest.approx(base.risk * scale, rel=1e-9, abs=1e-15 * scale)
        for candidate in [np.full(4, 0.25), *np.eye(4)]:
            assert scaled.risk <= evaluate(candidate, returns * scale, 0.9) + 1e-12 * scale


def test_zero_returns_have_zero_risk() -> None:
    returns = np.zeros((30, 3))
    assert min_cvar(returns, 0.9).risk == 0.0
    assert min_cdar(returns, 0.9).risk == 0.0
    frontier = mean_cvar_frontier(returns, 3, 0.9)
    np.testing.assert_array_equal(frontier.cvar, np.zeros(3))


def test_min_cvar_two_assets_matches_a_fine_grid() -> None:
    returns = _returns(20, n_days=60, n_assets=2)
    result = min_cvar(returns, 0.9)
    grid = np.linspace(0.0, 1.0, 20001)
    values = [cvar([s, 1.0 - s], returns, 0.9) for s in grid]
    assert result.risk <= min(values) + 1e-12
    # CVaR averages losses, each with slope |r_1t - r_2t| in s: the grid's best is close.
    slope = float(np.max(np.abs(returns[:, 0] - returns[:, 1])))
    assert result.risk >= min(values) - slope * (grid[1] - grid[0])


def test_min_cvar_honours_a_binding_group_limit() -> None:
    returns = _returns(30, n_assets=6)
    free = min_cvar(returns, 0.9)
    group = np.argsort(free.weights)[-2:]
    cap = 0.5 * float(free.weights[group].sum())
    limited = min_cvar(returns, 0.9, groups={"top": (group.tolist(), None, cap)})
    assert limited.weights[group].sum() == pytest.approx(cap, abs=1e-9)
    assert limited.risk >= free.risk - 1e-12
    assert limited.risk == pytest.approx(cvar(limited.weights, returns, 0.9), abs=EXACT)


def test_min_cvar_honours_inequality_rows() -> None:
    returns = _returns(31, n_assets=5)
    free = min_cvar(returns, 0.95)
    # w_0 - w_1 <= -0.1 and w_2 <= 0.05.
    A = np.array([[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]])
    b = np.array([-0.1, 0.05])
    result = min_cvar(returns, 0.95, inequalities=(A, b))
    assert np.all(A @ result.weights <= b + 1e-9)
    assert result.risk >= free.risk - 1e-12


def test_min_cvar_with_zero_turnover_keeps_the_current_weights() -> None:
    returns = _returns(32, n_assets=5)
    current = np.array([0.1, 0.3, 0.2, 0.25, 0.15])
    result = min_cvar(returns, 0.9, turnover=(current, 0.0))
    np.testing.assert_allclose(result.weights, current, atol=1e-9)
    assert result.risk == pytest.approx(cvar(current, returns, 0.9), abs=1e-9)


def test_min_cvar_turnover_limit_binds() -> None:
    returns = _returns(33, n_assets=5)
    current = np.full(5, 0.2)
    free = min_cvar(returns, 0.9)
    limit = 0.5 * float(np.abs(free.weights - current).sum())
    result = min_cvar(returns, 0.9, turnover=(current, limit))
    assert np.abs(result.weights - current).sum() == pytest.approx(limit, abs=1e-9)
    assert result.risk == pytest.approx(cvar(result.weights, returns, 0.9), abs=EXACT)


def test_min_cvar_charges_costs_in_the_loss() -> None:
    returns = _returns(34, n_assets=5)
    current = np.array([0.4, 0.3, 0.1, 0.1, 0.1])
    result = min_cvar(returns, 0.9, costs=(current, 0.002))
    expected_cost = 0.002 * float(np.abs(result.weights - current).sum())
    assert result.cost == pytest.approx(expected_cost, abs=1e-15)
    assert result.net_expected_return == pytest.approx(
        result.expected_return - result.cost, abs=1e-15
    )
    assert result.risk == pytest.approx(
        cvar(result.weights, returns, 0.9, cost=result.cost), abs=EXACT
    )
    # Net CVaR no worse than staying put (no cost) or than the cost-free optimum plus its cost.
    free = min_cvar(returns, 0.9)
    assert result.risk <= cvar(current, returns, 0.9) + 1e-12
    free_cost = 0.002 * float(np.abs(free.weights - current).sum())
    assert result.risk <= cvar(free.weights, returns, 0.9, cost=free_cost) + 1e-12
    # Prohibitive costs: staying put is best.
    stay = min_cvar(returns, 0.9, costs=(current, 1.0))
    np.testing.assert_allclose(stay.weights, current, atol=1e-9)


def test_infeasible_mandate_names_the_conflicts() -> None:
    returns = _returns(35, n_assets=5)
    groups = {"a": ([0, 1], 0.7, None), "b": ([2, 3], 0.5, None), "c": ([4], None, 0.2)}
    with pytest.raises(MandateInfeasibleError) as caught:
        min_cvar(returns, 0.9, groups=groups)
    conflicts = caught.value.conflicts
    assert any("'a'" in name for name in conflicts)
    assert any("'b'" in name for name in conflicts)
    assert not any("'c'" in name for name in conflicts)
    with pytest.raises(MandateInfeasibleError):
        min_cdar(returns, 0.9, groups=groups)
    with pytest.raises(MandateInfeasibleError):
        mean_cvar_frontier(returns, 5, 0.9, groups=groups)
    for target in (0.0, math.inf):
        with pytest.raises(MandateInfeasibleError):
            min_cvar(returns, 0.9, groups=groups, target_return=target)


def test_target_return_is_a_floor() -> None:
    returns = _returns(36, n_assets=5)
    lowest = min_cvar(returns, 0.9)
    mu = returns.mean(axis=0)
    below = min_cvar(returns, 0.9, target_return=lowest.net_expected_return - 1.0)
    np.testing.assert_allclose(below.weights, lowest.weights, atol=1e-12)
    target = 0.5 * (lowest.net_expected_return + float(mu.max()))
    floored = min_cvar(returns, 0.9, target_return=target)
    assert floored.net_expected_return == pytest.approx(target, abs=1e-12)
    assert floored.risk >= lowest.risk
    top = min_cvar(returns, 0.9, target_return=float(mu.max()))
    assert top.net_expected_return == pytest.approx(float(mu.max()), abs=1e-12)
    with pytest.raises(InfeasibleError) as caught:
        min_cvar(returns, 0.9, target_return=float(mu.max()) + 1e-4)
    assert caught.value.upper == pytest.approx(float(mu.max()), abs=1e-15)
    assert caught.value.lower == pytest.approx(lowest.net_expected_return, abs=1e-15)
    assert not isinstance(caught.value, MandateInfeasibleError)
    with pytest.raises(InfeasibleError):
        min_cvar(returns, 0.9, target_return=math.inf)
    assert min_cvar(returns, 0.9, target_return=-math.inf).risk == lowest.risk
    with pytest.raises(InvalidInputError):
        min_cvar(returns, 0.9, target_return=math.nan)


def test_target_return_is_net_of_costs() -> None:
    returns = _returns(37, n_assets=5)
    current = np.full(5, 0.2)
    costs = (current, 0.001)
    # The error of an unattainable target names the attainable net returns.
    with pytest.raises(InfeasibleError) as caught:
        min_cvar(returns, 0.9, costs=costs, target_return=1.0)
    low, high = caught.value.lower, caught.value.upper
    assert low is not None
    assert high is not None
    assert high < float(returns.mean(axis=0).max())  # reaching the best asset costs
    target = 0.5 * (low + high)
    result = min_cvar(returns, 0.9, costs=costs, target_return=target)
    assert result.net_expected_return == pytest.approx(target, abs=1e-12)
    top = min_cvar(returns, 0.9, costs=costs, target_return=high)
    assert top.net_expected_return == pytest.approx(high, abs=1e-12)
    assert result.risk == pytest.approx(
        cvar(result.weights, returns, 0.9, cost=result.cost), abs=EXACT
    )


# ------------------------------------------------------------------ frontier
def test_mean_cvar_frontier_runs_from_min_cvar_to_max_return() -> None:
    returns = _returns(40, n_days=200, n_assets=6)
    frontier = mean_cvar_frontier(returns, 12, 0.95)
    assert isinstance(frontier, CVaRFrontier)
    assert frontier.weights.shape == (12, 6)
    assert np.all(np.diff(frontier.returns) > 0.0)
    assert np.all(np.diff(frontier.cvar) >= -1e-12)
    lowest = min_cvar(returns, 0.95)
    np.testing.assert_array_equal(frontier.weights[0], lowest.weights)
    assert frontier.cvar[0] == lowest.risk
    assert frontier.returns[-1] == pytest.approx(float(returns.mean(axis=0).max()), abs=1e-12)
    np.testing.assert_allclose(
        frontier.returns,
        np.linspace(frontier.returns[0], frontier.returns[-1], 12),
        rtol=0.0,
        atol=1e-12,
    )
    for k in range(12):
        assert frontier.cvar[k] == pytest.approx(
            cvar(frontier.weights[k], returns, 0.95), abs=EXACT
        )
        # Each point is the least CVaR at its return: a single asset or the equal-weight mix
        # with at least that return does no better.
        for candidate in [np.full(6, 1 / 6), *np.eye(6)]:
            if returns.mean(axis=0) @ candidate >= frontier.returns[k] - 1e-12:
                assert frontier.cvar[k] <= cvar(candidate, returns, 0.95) + 1e-12
    payload = json.loads(json.dumps(frontier.to_dict()))
    assert payload["beta"] == 0.95
    assert len(payload["cvar"]) == 12


def test_mean_cvar_frontier_with_a_mandate_and_costs() -> None:
    returns = _returns(41, n_days=150, n_assets=5)
    current = np.full(5, 0.2)
    frontier = mean_cvar_frontier(
        returns,
        6,
        0.9,
        groups={"g": ([0, 1], None, 0.5)},
        turnover=(current, 0.8),
        costs=(current, 0.001),
    )
    mandate = resolve_mandate(
        5, groups={"g": ([0, 1], None, 0.5)}, turnover=(current, 0.8), costs=(current, 0.001)
    )
    assert np.all(np.diff(frontier.returns) > 0.0)
    for k in range(6):
        weights = frontier.weights[k]
        assert mandate.violations(weights) == []
        cost = mandate.cost_of(weights)
        assert frontier.cvar[k] == pytest.approx(cvar(weights, returns, 0.9, cost=cost), abs=EXACT)


def test_degenerate_frontier_repeats_its_only_point() -> None:
    base = _returns(42, n_assets=1)[:, 0]
    returns = np.column_stack([base, base, base])
    frontier = mean_cvar_frontier(returns, 4, 0.9)
    assert frontier.returns.shape == (4,)
    np.testing.assert_allclose(frontier.cvar, frontier.cvar[0], atol=1e-15)


# ------------------------------------------------------------------ min_cdar
def test_min_cdar_hedged_pair_has_no_drawdown() -> None:
    # r_B = -r_A + 0.002: the 50/50 mix earns 0.001 every period and never draws down, while
    # either asset alone does.
    swings = np.random.default_rng(50).normal(0.0, 0.02, 80)
    returns = np.column_stack([swings, 0.002 - swings])
    result = min_cdar(returns, 0.9)
    assert result.measure == "CDaR"
    assert result.risk == pytest.approx(0.0, abs=1e-12)
    assert cdar(result.weights, returns, 0.9) == pytest.approx(0.0, abs=1e-12)
    assert cdar([1.0, 0.0], returns, 0.9) > 0.01
    assert cdar([0.0, 1.0], returns, 0.9) > 0.01
    # Every portfolio without drawdown has each period's return >= 0.
    assert np.all(returns @ result.weights >= -1e-12)


def test_min_cdar_two_assets_matches_a_fine_grid() -> None:
    returns = _returns(51, n_days=80, n_assets=2)
    result = min_cdar(returns, 0.8)
    grid = np.linspace(0.0, 1.0, 20001)
    values = np.array([cdar([s, 1.0 - s], returns, 0.8) for s in grid])
    assert result.risk <= values.min() + 1e-12
    # CDaR averages drawdowns, differences of sums of at most T returns: slope below
    # T max|r_1t - r_2t| in s.
    slope = 80 * float(np.max(np.abs(returns[:, 0] - returns[:, 1])))
    assert result.risk >= values.min() - slope * (grid[1] - grid[0])


@pytest.mark.parametrize(("seed", "beta"), [(52, 0.95), (53, 0.9)])
def test_min_cdar_is_no_worse_than_any_portfolio_we_can_name(seed: int, beta: float) -> None:
    returns = _returns(seed, n_days=150, n_assets=5)
    result = min_cdar(returns, beta)
    w = result.weights
    assert result.risk == pytest.approx(cdar(w, returns, beta), abs=EXACT)
    for candidate in [np.full(5, 0.2), *np.eye(5)]:
        assert result.risk <= cdar(candidate, returns, beta) + 1e-12
    _assert_no_better_nearby(
        lambda v: cdar(v, returns, beta), w, result.risk, np.random.default_rng(seed)
    )


def test_min_cdar_with_costs_and_turnover() -> None:
    returns = _returns(54, n_assets=5)
    current = np.array([0.5, 0.2, 0.1, 0.1, 0.1])
    result = min_cdar(returns, 0.9, turnover=(current, 0.4), costs=(current, 0.002))
    mandate = resolve_mandate(5, turnover=(current, 0.4), costs=(current, 0.002))
    assert mandate.violations(result.weights) == []
    assert result.cost == pytest.approx(mandate.cost_of(result.weights), abs=1e-15)
    assert result.risk == pytest.approx(
        cdar(result.weights, returns, 0.9, cost=result.cost), abs=EXACT
    )
    assert result.risk <= cdar(current, returns, 0.9) + 1e-12


# ------------------------------------------------------------------ Riskfolio-Lib
def _golden_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(GOLDEN.read_text())["cases"]
    return cases


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda case: case["name"])
def test_no_worse_than_riskfolio(case: dict[str, Any]) -> None:
    """Riskfolio-Lib (cvxpy, an interior-point solver) is approximate: ours is never worse and
    agrees to 1e-6; our evaluators agree with Riskfolio's on its weights."""
    returns = np.array(case["returns"])
    beta = case["beta"]
    ours = min_cvar(returns, beta)
    theirs = case["cvar"]
    assert cvar(theirs["weights"], returns, beta) == pytest.approx(theirs["risk"], abs=1e-14)
    assert ours.risk <= theirs["risk"] + 1e-7
    assert ours.risk == pytest.approx(theirs["risk"], abs=1e-6)
    ours_dd = min_cdar(returns, beta)
    theirs_dd = case["cdar"]
    assert cdar(theirs_dd["weights"], returns, beta) == pytest.approx(theirs_dd["risk"], abs=1e-14)
    assert ours_dd.risk <= theirs_dd["risk"] + 1e-7
    assert ours_dd.risk == pytest.approx(theirs_dd["risk"], abs=1e-6)


# ------------------------------------------------------------------ random mandates
@st.composite
def _mandates(draw: st.DrawFn) -> dict[str, Any]:
    n_assets = draw(st.integers(3, 6))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    current = rng.dirichlet(np.ones(n_assets))
    members = sorted(draw(st.sets(st.integers(0, n_assets - 1), min_size=1, max_size=n_assets - 1)))
    # The cap never cuts the current weights off, so the mandate is feasible.
    cap = max(draw(st.floats(0.1, 1.0)), float(current[members].sum()))
    options: dict[str, Any] = {"groups": {"g": (members, None, cap)}}
    if draw(st.booleans()):
        options["turnover"] = (current, draw(st.floats(0.0, 1.5)))
    if draw(st.booleans()):
        options["costs"] = (current, draw(st.floats(0.0, 0.01)))
    return {
        "returns": random_returns(rng, draw(st.integers(20, 80)), n_assets),
        "beta": draw(st.sampled_from([0.8, 0.9, 0.95])),
        "current": current,
        "options": options,
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mandates())
def test_random_mandates_are_met_and_objectives_exact(problem: dict[str, Any]) -> None:
    returns, beta, options = problem["returns"], problem["beta"], problem["options"]
    mandate = resolve_mandate(returns.shape[1], **options)
    current = problem["current"]
    for optimise, evaluate in ((min_cvar, cvar), (min_cdar, cdar)):
        result = optimise(returns, beta, **options)
        assert mandate.violations(result.weights) == []
        assert result.cost == pytest.approx(mandate.cost_of(result.weights), abs=1e-15)
        exact = evaluate(result.weights, returns, beta, cost=result.cost)
        assert result.risk == pytest.approx(exact, abs=EXACT)
        # Staying at the current weights is feasible and free.
        assert result.risk <= evaluate(current, returns, beta) + 1e-12


# ------------------------------------------------------------------ errors and output
@pytest.mark.parametrize("beta", [0.0, 1.0, 1.5, -0.1, math.nan, "high"])
def test_beta_outside_the_open_unit_interval_is_rejected(beta: Any) -> None:
    returns = _returns(60)
    with pytest.raises(InvalidInputError):
        cvar(np.full(5, 0.2), returns, beta)
    with pytest.raises(InvalidInputError):
        min_cvar(returns, beta)
    with pytest.raises(InvalidInputError):
        min_cdar(returns, beta)


def test_bad_shapes_are_rejected() -> None:
    returns = _returns(61)
    with pytest.raises(InvalidInputError):
        min_cvar(returns[:, 0])
    with pytest.raises(InvalidInputError):
        min_cvar(returns[:1])
    with pytest.raises(InvalidInputError):
        cvar(np.full(4, 0.25), returns)
    with pytest.raises(InvalidInputError):
        cvar(np.full(5, 0.2), returns, cost=math.inf)
    with pytest.raises(InvalidInputError):
        mean_cvar_frontier(returns, 1)
    with pytest.raises(InfeasibleError):
        min_cvar(returns, bounds=(0.0, 0.1))


def test_rows_with_nan_are_dropped() -> None:
    returns = _returns(62)
    holed = returns.copy()
    holed[7, 2] = np.nan
    kept = np.delete(returns, 7, axis=0)
    assert min_cvar(holed, 0.9).risk == min_cvar(kept, 0.9).risk
    assert cvar(np.full(5, 0.2), holed, 0.9) == cvar(np.full(5, 0.2), kept, 0.9)


def test_result_to_dict_is_json_safe() -> None:
    result = min_cvar(_returns(63), 0.9)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["measure"] == "CVaR"
    assert payload["risk"] == result.risk
    assert payload["weights"] == result.weights.tolist()
