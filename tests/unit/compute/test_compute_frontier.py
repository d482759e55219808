"""Efficient frontier: closed forms, KKT conditions, SLSQP cross-checks, degenerate cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from compute_test_data import random_covariance
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from compute import (
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


def _assert_kkt(
    weights: np.ndarray,
    mu: np.ndarray,
    cov: np.ndarray,
    *,
    lower: np.ndarray,
    upper: np.ndarray,
    tol: float = 1e-8,
) -> None:
    """min w'Σw s.t. 1'w = 1, μ'w = r, l <= w <= u: there are λ, γ with g = Σw - λμ - γ1 zero
    on free assets, >= 0 at lower bounds, <= 0 at upper bounds, and λ >= 0 (efficient side)."""
    assert weights.sum() == pytest.approx(1.0, abs=1e-10)
    assert np.all(weights >= lower - 1e-10)
    assert np.all(weights <= upper + 1e-10)
    gradient = cov @ weights
    tol *= float(np.max(np.abs(gradient))) + float(np.max(np.diag(cov)))
    at_lower = weights <= lower + 1e-9
    at_upper = weights >= upper - 1e-9
    free = ~(at_lower | at_upper)
    movable = upper > lower  # fixed assets (l == u) may carry either sign
    # side = +1 where the multiplier must be >= 0 (at lower), -1 where <= 0 (at upper).
    side = np.where(at_lower & ~at_upper & movable, 1.0, 0.0) - np.where(
        at_upper & ~at_lower & movable, 1.0, 0.0
    )
    if free.sum() == 0:
        return  # a vertex: multipliers in a range; covered by the SLSQP comparisons
    if free.sum() >= 2 and np.ptp(mu[free]) > 1e-12:
        design = np.column_stack([mu[free], np.ones(free.sum())])
        (lam, gamma), *_ = np.linalg.lstsq(design, gradient[free], rcond=None)
        multipliers = gradient - lam * mu - gamma
        assert lam >= -tol
        assert np.all(np.abs(multipliers[free]) <= tol)
        assert np.all(side * multipliers >= -tol)
        return
    # Equal means on the free set leave λ unidentified there: the free gradient must be
    # constant, and some λ >= 0 must give every bounded multiplier its sign.
    reference_mu = float(mu[free][0])
    gamma = float(np.mean(gradient[free]))
    assert np.all(np.abs(gradient[free] - gamma) <= tol)
    residual = side * (gradient - gamma)
    slope = side * (mu - reference_mu)
    low, high = 0.0, np.inf
    for r, d in zip(residual[side != 0], slope[side != 0], strict=True):
        # need r - λ d >= -tol
        if d > 0:
            high = min(high, (r + tol) / d)
        elif d < 0:
            low = max(low, (r + tol) / d)
        else:
            assert r >= -tol
    assert low <= high * (1 + 1e-9) + 1e-12


def _slsqp_min_variance(
    mu: np.ndarray | None,
    cov: np.ndarray,
    bounds: list[tuple[float, float]],
    target: float | None = None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    n = cov.shape[0]
    constraints = [{"type": "eq", "fun": lambda w: w.sum() - 1.0}]
    if target is not None:
        constraints.append({"type": "eq", "fun": lambda w: mu @ w - target})
    x0 = np.array([(lo + hi) / 2 for lo, hi in bounds])
    x0 = x0 / x0.sum() if x0.sum() > 0 else np.full(n, 1 / n)
    if start is not None:
        x0 = start
    result = minimize(
        lambda w: w @ cov @ w,
        x0,
        jac=lambda w: 2 * cov @ w,
        bounds=bounds,
        constraints=constraints,
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    return np.asarray(result.x)


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
def test_frontier_points_match_slsqp(bounds: tuple[float, float], ties: bool) -> None:
    for seed in range(4):
        mu, cov = _problem(seed, 8, ties)
        line = critical_line(mu, cov, bounds)
        low, high = line.return_range
        for target in np.linspace(low, high, 6):
            weights = line.efficient_return(target)
            reference = _slsqp_min_variance(mu, cov, [bounds] * 8, target)
            assert weights @ mu == pytest.approx(target, abs=1e-10)
            # Exact solution: never worse than SLSQP from a neutral start (which can stall near
            # corners, hence the loose two-sided check), and SLSQP started from it cannot
            # improve it.
            variance = weights @ cov @ weights
            assert variance <= reference @ cov @ reference + 1e-12
            assert variance == pytest.approx(reference @ cov @ reference, rel=1e-3)
            polished = _slsqp_min_variance(mu, cov, [bounds] * 8, target, start=weights)
            assert variance <= polished @ cov @ polished + 1e-12


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
        bounds: tuple = (0.0, max(1.5 / n_assets, 0.3))
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
    # Turning points and the interpolated points are all efficient.
    for weights in np.vstack([line.weights, frontier.weights]):
        _assert_kkt(weights, mu, cov, lower=lower, upper=upper)
    assert np.all(np.diff(frontier.returns) >= -1e-12)
    assert np.all(np.diff(frontier.volatilities) >= -1e-12)
    # Variance is convex in the target return along the frontier.
    variances = frontier.volatilities**2
    if frontier.returns[-1] - frontier.returns[0] > 1e-9:
        assert np.all(np.diff(variances, 2) >= -1e-10)
    # Minimum variance really is the least variance, compared with SLSQP.
    reference = _slsqp_min_variance(None, cov, list(zip(lower, upper, strict=True)))
    assert line.weights[0] @ cov @ line.weights[0] <= reference @ cov @ reference + 1e-12
    # Max Sharpe beats every frontier point.
    if line.return_range[1] > 0.0:
        best = line.max_sharpe(0.0)
        best_sharpe = portfolio_performance(best, mu, cov).sharpe
        assert best_sharpe >= np.max(frontier.sharpe) - 1e-10


def test_max_sharpe_matches_slsqp_long_only() -> None:
    mu, cov = _problem(11, 10)
    rate = 0.02
    weights = max_sharpe(mu, cov, rate)
    result = minimize(
        lambda w: -(mu @ w - rate) / np.sqrt(w @ cov @ w),
        np.full(10, 0.1),
        bounds=[(0, 1)] * 10,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    ours = portfolio_performance(weights, mu, cov, rate).sharpe
    assert ours >= -result.fun - 1e-10
    assert ours == pytest.approx(-result.fun, rel=1e-7)


def test_efficient_risk_is_the_highest_return_within_the_volatility() -> None:
    mu, cov = _problem(12, 9)
    line = critical_line(mu, cov)
    low, high = line.volatility_range
    for target in np.linspace(low, high, 5)[1:-1]:
        weights = efficient_risk(mu, cov, target)
        assert np.sqrt(weights @ cov @ weights) == pytest.approx(target, rel=1e-10)
        frontier = line.frontier(400)
        within = frontier.volatilities <= target
        assert weights @ mu >= frontier.returns[within].max() - 1e-12
    np.testing.assert_allclose(efficient_risk(mu, cov, high * 2), line.weights[-1])
    np.testing.assert_allclose(efficient_risk(mu, cov, low), line.weights[0])


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
    with pytest.raises(InfeasibleError):
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
    with pytest.raises(InfeasibleError, match="return range") as info:
        efficient_return(mu, cov, high + 0.01)
    assert info.value.lower == pytest.approx(low)
    assert info.value.upper == pytest.approx(high)
    assert f"{high:g}" in str(info.value)
    with pytest.raises(InfeasibleError, match="return range"):
        efficient_return(mu, cov, low - 0.01)
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
