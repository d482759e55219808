"""Efficient frontier: closed forms, optimality certificates, degenerate cases.

Optimality is proved without trusting another solver (see tests/unit/compute/kkt.py): KKT
conditions at our answer, a local solver started from our answer that cannot improve it, and
one-sided comparisons with peers; never a two-sided comparison with another solver's answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import kkt
import numpy as np
import pytest
from compute_test_data import random_covariance
from hypothesis import given, settings
from hypothesis import strategies as st

from compute import (
    CriticalLine,
    InfeasibleError,
    InvalidInputError,
    NotPositiveDefiniteError,
    critical_line,
    efficient_frontier,
    efficient_return,
    efficient_risk,
    max_sharpe,
    min_variance,
    portfolio_performance,
)

WIDE = (-100.0, 100.0)


def _problem(seed: int, n_assets: int, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cov = random_covariance(rng, n_assets)
    mu = rng.normal(0.08, 0.05, n_assets)
    if ties:
        mu = np.round(mu, 1)
    return mu, cov


def _floor_problem(line: CriticalLine, target: float) -> kkt.Problem:
    """min w'Σw s.t. μ'w >= target, 1'w = 1 and the line's bounds."""
    problem = kkt.min_variance_problem(line.cov, line.lower, line.upper)
    return kkt.with_floor(problem, line.mu, target)


def _assert_optimal(
    problem: kkt.Problem, weights: np.ndarray, peers: Iterable[np.ndarray] = ()
) -> kkt.Certificate:
    """(a) KKT at our answer, (b) a local solver started from it cannot improve it, (c) no
    peer is better; (b) and (c) one-sided (see tests/unit/compute/kkt.py)."""
    certificate = kkt.certify(problem, weights)
    kkt.assert_no_better(certificate, kkt.local_solve(problem, weights))
    for peer in peers:
        kkt.assert_no_better(certificate, peer)
    return certificate


def _from_neutral_start(problem: kkt.Problem) -> np.ndarray:
    """A peer: the local solver from a start that knows nothing of our answer. Where it stops
    varies with the machine (it may stall near a corner); it is only ever compared one-sided."""
    return kkt.local_solve(problem, kkt.neutral_start(problem.lower, problem.upper))


def _feasible_direction(weights: np.ndarray, line: CriticalLine, rows: np.ndarray) -> np.ndarray:
    """A unit direction on the assets well inside their bounds that keeps ``rows @ w``."""
    inside = np.flatnonzero((weights > line.lower + 1e-3) & (weights < line.upper - 1e-3))
    assert inside.size > rows.shape[0]
    *_, vt = np.linalg.svd(rows[:, inside])
    direction = np.zeros(weights.size)
    direction[inside] = vt[-1] / np.max(np.abs(vt[-1]))
    return direction


def test_unconstrained_frontier_closed_form() -> None:
    mu, cov = _problem(0, 6)
    inv = np.linalg.inv(cov)
    ones = np.ones(6)
    a, b, c = ones @ inv @ ones, ones @ inv @ mu, mu @ inv @ mu
    d = a * c - b * b
    line = critical_line(mu, cov, WIDE)
    assert line.return_range[0] == pytest.approx(b / a, rel=1e-12)
    np.testing.assert_allclose(min_variance(cov, WIDE), inv @ ones / a, atol=1e-12)
    for target in np.linspace(b / a, b / a + 0.3, 7):
        expected = ((c - target * b) * (inv @ ones) + (target * a - b) * (inv @ mu)) / d
        weights = efficient_return(mu, cov, target, WIDE)
        np.testing.assert_allclose(weights, expected, atol=1e-10)
        variance = (a * target * target - 2 * b * target + c) / d
        assert weights @ cov @ weights == pytest.approx(variance, rel=1e-10)
    # Tangency portfolio: proportional to Σ^-1 (μ - r_f).
    rate = 0.01
    tangency = inv @ (mu - rate)
    tangency /= tangency.sum()
    np.testing.assert_allclose(max_sharpe(mu, cov, rate, WIDE), tangency, atol=1e-10)
    # efficient_risk inverts the hyperbola σ²(r).
    sigma = np.sqrt((a * 0.2**2 - 2 * b * 0.2 + c) / d)
    np.testing.assert_allclose(
        efficient_risk(mu, cov, sigma, WIDE), efficient_return(mu, cov, 0.2, WIDE), atol=1e-9
    )


@pytest.mark.parametrize(
    ("bounds", "ties"),
    [((0.0, 1.0), False), ((0.0, 1.0), True), ((-0.3, 0.6), False), ((0.02, 0.4), True)],
)
def test_frontier_points_are_optimal(bounds: tuple[float, float], ties: bool) -> None:
    for seed in range(4):
        mu, cov = _problem(seed, 8, ties)
        line = critical_line(mu, cov, bounds)
        low, high = line.return_range
        for target in np.linspace(low, high, 6):
            weights = line.efficient_return(target)
            assert weights @ mu == pytest.approx(target, abs=1e-10)
            problem = _floor_problem(line, target)
            _assert_optimal(problem, weights, peers=[_from_neutral_start(problem)])


def test_the_optimality_checks_reject_a_worse_answer() -> None:
    """Each check fails on a feasible answer 1e-4 away from the optimum."""
    mu, cov = _problem(1, 8)
    line = critical_line(mu, cov)
    target = float(np.mean(line.return_range))
    weights = line.efficient_return(target)
    problem = _floor_problem(line, target)
    kkt.certify(problem, weights)
    rows = np.vstack([np.ones(8), mu])
    worse = weights + 1e-4 * _feasible_direction(weights, line, rows)
    assert worse @ mu == pytest.approx(target, abs=1e-15)
    with pytest.raises(AssertionError, match="not stationary"):
        kkt.certify(problem, worse)
    certificate = kkt.kkt_multipliers(problem, worse)
    with pytest.raises(AssertionError, match="improves the objective"):
        kkt.assert_no_better(certificate, kkt.local_solve(problem, worse))  # (b)
    with pytest.raises(AssertionError, match="improves the objective"):
        kkt.assert_no_better(certificate, weights)  # (c)
    # An infeasible answer fails primal feasibility, and an infeasible candidate is no proof.
    with pytest.raises(AssertionError, match="budget violated"):
        kkt.certify(problem, weights * (1 + 1e-6))
    with pytest.raises(AssertionError, match="return floor violated"):
        kkt.certify(_floor_problem(line, target + 1e-6), weights)
    lighter = weights * (1 - 1e-3)  # less variance, but only by leaving the budget
    kkt.assert_no_better(kkt.certify(problem, weights), lighter)
    # The same for the maximum Sharpe ratio (its checks project candidates instead).
    sharpe_weights = line.max_sharpe(0.02)
    sharpe = kkt.max_sharpe_problem(mu, cov, 0.02, line.lower, line.upper)
    kkt.certify(sharpe, sharpe_weights)
    worse = sharpe_weights + 1e-4 * _feasible_direction(sharpe_weights, line, rows[:1])
    with pytest.raises(AssertionError, match="not stationary"):
        kkt.certify(sharpe, worse)
    with pytest.raises(AssertionError, match="improves the objective"):
        kkt.assert_no_better(kkt.kkt_multipliers(sharpe, worse), kkt.local_solve(sharpe, worse))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(2, 40),
    kind=st.sampled_from(["long_only", "box", "short", "per_asset", "ties"]),
)
def test_frontier_satisfies_kkt_everywhere(seed: int, n_assets: int, kind: str) -> None:
    mu, cov = _problem(seed, n_assets, ties=kind == "ties")
    rng = np.random.default_rng(seed + 1)
    if kind == "box":
        bounds: tuple[Any, Any] = (0.0, max(1.5 / n_assets, 0.3))
    elif kind == "short":
        bounds = (-0.5, 0.8)
    elif kind == "per_asset":
        lower = rng.uniform(0.0, 0.5 / n_assets, n_assets)
        upper = lower + rng.uniform(0.5 / n_assets, 1.0, n_assets)
        upper[0] = lower[0]  # a fixed asset
        upper[1] = max(upper[1], 1.0)
        bounds = (lower, upper)
    else:
        bounds = (0.0, 1.0)
    line = critical_line(mu, cov, bounds)
    lower, upper = line.lower, line.upper
    frontier = line.frontier(25)
    # Turning points and the interpolated points are all efficient: each solves the problem
    # with its own return as the floor (the floor's multiplier >= 0 is the efficient side).
    for weights in np.vstack([line.weights, frontier.weights]):
        kkt.certify(_floor_problem(line, float(weights @ mu)), weights)
    assert np.all(np.diff(frontier.returns) >= -1e-12)
    assert np.all(np.diff(frontier.volatilities) >= -1e-12)
    # Variance is convex in the target return along the frontier.
    variances = frontier.volatilities**2
    if frontier.returns[-1] - frontier.returns[0] > 1e-9:
        assert np.all(np.diff(variances, 2) >= -1e-10)
    # Minimum variance: KKT without a floor, and a local solver's answer from a neutral start
    # is no better (one-sided; up to 20 assets, where SLSQP is quick); a floor below its
    # return changes nothing.
    problem = kkt.min_variance_problem(cov, lower, upper)
    certificate = kkt.certify(problem, line.weights[0])
    if n_assets <= 20:
        kkt.assert_no_better(certificate, _from_neutral_start(problem))
    low, high = line.return_range
    np.testing.assert_array_equal(line.efficient_return(low - 1.0), line.weights[0])
    # efficient_risk inside the volatility range solves its own problem.
    low_vol, high_vol = line.volatility_range
    if high_vol - low_vol > 1e-9 * high_vol:
        volatility = low_vol + rng.uniform(0.05, 0.95) * (high_vol - low_vol)
        risky = line.efficient_risk(volatility)
        kkt.certify(kkt.efficient_risk_problem(mu, cov, volatility, lower, upper), risky)
    # Max Sharpe: KKT of the Sharpe ratio, and it beats every frontier point.
    if high > 0.0:
        best = line.max_sharpe(0.0)
        kkt.certify(kkt.max_sharpe_problem(mu, cov, 0.0, lower, upper), best)
        best_sharpe = portfolio_performance(best, mu, cov).sharpe
        assert best_sharpe >= np.max(frontier.sharpe) - 1e-10


@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-0.3, 0.6), (0.02, 0.4)])
@pytest.mark.parametrize("seed", [11, 12])
def test_max_sharpe_is_optimal(bounds: tuple[float, float], seed: int) -> None:
    mu, cov = _problem(seed, 10)
    rate = 0.02
    line = critical_line(mu, cov, bounds)
    weights = max_sharpe(mu, cov, rate, bounds)
    problem = kkt.max_sharpe_problem(mu, cov, rate, line.lower, line.upper)
    peers = [_from_neutral_start(problem), *line.weights, *line.frontier(100).weights]
    _assert_optimal(problem, weights, peers)


def test_efficient_risk_is_the_highest_return_within_the_volatility() -> None:
    mu, cov = _problem(12, 9)
    line = critical_line(mu, cov)
    low, high = line.volatility_range
    frontier = line.frontier(400)
    for target in np.linspace(low, high, 5)[1:-1]:
        weights = efficient_risk(mu, cov, target)
        assert np.sqrt(weights @ cov @ weights) == pytest.approx(target, rel=1e-10)
        problem = kkt.efficient_risk_problem(mu, cov, target, line.lower, line.upper)
        within = frontier.weights[frontier.volatilities <= target]
        _assert_optimal(problem, weights, peers=[_from_neutral_start(problem), *within])
    np.testing.assert_allclose(efficient_risk(mu, cov, high * 2), line.weights[-1])
    np.testing.assert_allclose(efficient_risk(mu, cov, low), line.weights[0])


@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-0.3, 0.6)])
def test_efficient_return_target_is_a_floor(bounds: tuple[float, float]) -> None:
    """As in PyPortfolioOpt and Riskfolio-Lib: return >= target. At or below the
    minimum-variance return the answer is the minimum-variance portfolio; above the maximum
    return, a typed error naming the frontier's range."""
    mu, cov = _problem(18, 6)
    line = critical_line(mu, cov, bounds)
    low, high = line.return_range
    minimum = min_variance(cov, bounds)
    for target in (low, low - 1e-12, low - 0.01, low - 10.0, -np.inf):
        weights = efficient_return(mu, cov, target, bounds)
        np.testing.assert_array_equal(weights, line.weights[0])
        np.testing.assert_allclose(weights, minimum, atol=1e-12)
        if np.isfinite(target):
            certificate = _assert_optimal(_floor_problem(line, target), weights)
            if target < low - 1e-9:
                assert certificate.multipliers[-1] == 0.0  # the floor does not bind
    # Just above the minimum-variance return the answer moves continuously off it.
    nudged = efficient_return(mu, cov, low + 1e-9 * (high - low), bounds)
    np.testing.assert_allclose(nudged, line.weights[0], atol=1e-6)
    assert nudged @ mu == pytest.approx(low + 1e-9 * (high - low), abs=1e-12)
    np.testing.assert_allclose(efficient_return(mu, cov, high, bounds), line.weights[-1])
    for beyond in (high + 0.01, np.inf):
        with pytest.raises(InfeasibleError, match="exceeds the maximum expected return") as info:
            efficient_return(mu, cov, beyond, bounds)
        assert info.value.lower == pytest.approx(low)
        assert info.value.upper == pytest.approx(high)
        assert f"[{low:g}, {high:g}]" in str(info.value)
    with pytest.raises(InvalidInputError, match="NaN"):
        efficient_return(mu, cov, float("nan"), bounds)
    with pytest.raises(InvalidInputError, match="must be a number"):
        efficient_return(mu, cov, "high", bounds)  # type: ignore[arg-type]


@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-0.3, 0.6)])
def test_efficient_risk_target_is_a_cap(bounds: tuple[float, float]) -> None:
    """The mirror image: volatility <= target. At or above the maximum-return portfolio's
    volatility the answer is that portfolio; below the minimum volatility, a typed error
    naming the minimum."""
    mu, cov = _problem(19, 6)
    line = critical_line(mu, cov, bounds)
    low, high = line.volatility_range
    for target in (high, high * (1 + 1e-12), high * 2, np.inf):
        weights = efficient_risk(mu, cov, target, bounds)
        np.testing.assert_array_equal(weights, line.weights[-1])
        if np.isfinite(target):
            problem = kkt.efficient_risk_problem(mu, cov, target, line.lower, line.upper)
            _assert_optimal(problem, weights)
    np.testing.assert_array_equal(efficient_risk(mu, cov, low, bounds), line.weights[0])
    for below in (low * 0.9, 0.0, -1.0, -np.inf):
        with pytest.raises(InfeasibleError, match="below the minimum attainable") as info:
            efficient_risk(mu, cov, below, bounds)
        assert info.value.lower == pytest.approx(low)
        assert info.value.upper is None
        assert f">= {low:g}" in str(info.value)
    with pytest.raises(InvalidInputError, match="NaN"):
        efficient_risk(mu, cov, float("nan"), bounds)


def test_long_only_max_return_corner_and_frontier_shape() -> None:
    mu, cov = _problem(13, 7)
    frontier = efficient_frontier(mu, cov, n_points=30, risk_free_rate=0.01)
    assert frontier.weights.shape == (30, 7)
    assert frontier.returns[-1] == pytest.approx(mu.max(), abs=1e-12)
    assert frontier.weights[-1, int(np.argmax(mu))] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(frontier.weights[0], min_variance(cov), atol=1e-12)
    np.testing.assert_allclose(
        frontier.sharpe, (frontier.returns - 0.01) / frontier.volatilities, rtol=1e-12
    )
    np.testing.assert_allclose(frontier.returns, np.linspace(*frontier.returns[[0, -1]], 30))
    payload = json.loads(json.dumps(frontier.to_dict()))
    assert len(payload["weights"]) == 30


def test_all_means_equal_collapses_to_one_point() -> None:
    _, cov = _problem(14, 5)
    mu = np.full(5, 0.07)
    line = critical_line(mu, cov)
    assert line.weights.shape == (1, 5)
    frontier = efficient_frontier(mu, cov, n_points=10)
    np.testing.assert_allclose(frontier.weights, np.repeat(line.weights, 10, axis=0))
    np.testing.assert_allclose(max_sharpe(mu, cov), min_variance(cov), atol=1e-14)
    np.testing.assert_allclose(efficient_return(mu, cov, 0.07), min_variance(cov), atol=1e-14)
    np.testing.assert_array_equal(efficient_return(mu, cov, 0.05), line.weights[0])
    np.testing.assert_array_equal(efficient_risk(mu, cov, 1.0), line.weights[0])
    with pytest.raises(InfeasibleError, match=r"\[0\.07, 0\.07\]"):
        efficient_return(mu, cov, 0.08)


def test_tied_largest_means_end_at_their_least_variance_mix() -> None:
    # Two assets share the top mean: the max-return end is their minimum-variance mix.
    cov = np.diag([0.04, 0.09, 0.01])
    mu = np.array([0.10, 0.10, 0.05])
    line = critical_line(mu, cov)
    np.testing.assert_allclose(line.weights[-1], [9 / 13, 4 / 13, 0.0], atol=1e-12)


def test_fixed_and_implied_bounds() -> None:
    mu, cov = _problem(15, 5)
    fixed = (np.array([0.2, 0, 0, 0, 0]), np.array([0.2, 1, 1, 1, 1]))
    for weights in critical_line(mu, cov, fixed).weights:
        assert weights[0] == 0.2
    # (0, None) means the same as (0, 1) once fully invested.
    np.testing.assert_allclose(
        critical_line(mu, cov, (0.0, None)).weights, critical_line(mu, cov).weights
    )


def test_infeasible_inputs_name_the_feasible_range() -> None:
    mu, cov = _problem(16, 4)
    with pytest.raises(InfeasibleError, match=r"\[1\.2, 2\]") as info:
        min_variance(cov, (0.3, 0.5))
    assert (info.value.lower, info.value.upper) == (pytest.approx(1.2), pytest.approx(2.0))
    with pytest.raises(InfeasibleError, match=r"\[0, 0\.8\]"):
        min_variance(cov, (0.0, 0.2))
    with pytest.raises(InfeasibleError, match="exceeds upper bound"):
        min_variance(cov, (np.array([0.5, 0, 0, 0]), np.array([0.4, 1, 1, 1])))
    line = critical_line(mu, cov)
    low, high = line.return_range
    with pytest.raises(InfeasibleError, match="maximum expected return") as info:
        efficient_return(mu, cov, high + 0.01)
    assert info.value.lower == pytest.approx(low)
    assert info.value.upper == pytest.approx(high)
    assert f"{high:g}" in str(info.value)
    with pytest.raises(InfeasibleError, match="minimum attainable volatility"):
        efficient_risk(mu, cov, line.volatility_range[0] * 0.9)
    with pytest.raises(InfeasibleError, match="exceeds risk_free_rate"):
        max_sharpe(mu, cov, risk_free_rate=high + 0.01)


def test_frontier_input_errors() -> None:
    mu, cov = _problem(17, 4)
    with pytest.raises(NotPositiveDefiniteError):
        min_variance(np.ones((4, 4)) * 0.04)
    with pytest.raises(InvalidInputError, match="length 4"):
        max_sharpe(mu[:3], cov)
    with pytest.raises(InvalidInputError, match="NaN"):
        efficient_frontier(np.where(mu > 0, np.nan, mu), cov)
    with pytest.raises(InvalidInputError, match="n_points"):
        efficient_frontier(mu, cov, n_points=1)
    with pytest.raises(InvalidInputError, match="pair"):
        min_variance(cov, 0.5)
    with pytest.raises(InvalidInputError, match="unbounded"):
        min_variance(cov, (None, None))
    with pytest.raises(InvalidInputError, match="length 4"):
        min_variance(cov, (np.zeros(3), 1.0))
    with pytest.raises(InvalidInputError, match="at least 2 assets"):
        min_variance([[0.04]])
    with pytest.raises(InvalidInputError, match="volatility is zero"):
        portfolio_performance(np.zeros(4), mu, cov)
