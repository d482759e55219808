"""Risk budgeting: closed forms, budgets met to 1e-9 on random matrices, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from compute_test_data import random_covariance
from hypothesis import given, settings
from hypothesis import strategies as st

from compute import (
    InvalidInputError,
    NotPositiveDefiniteError,
    risk_budget,
    risk_budget_weights,
    risk_contributions,
)


@pytest.mark.parametrize("rho", [-0.9, -0.3, 0.0, 0.5, 0.95])
def test_two_assets_equal_risk_is_inverse_volatility(rho: float) -> None:
    # For two assets RC_1 = RC_2 reduces to w1 sigma1 = w2 sigma2 whatever the correlation.
    s1, s2 = 0.1, 0.3
    cov = np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])
    weights = risk_budget_weights(cov)
    np.testing.assert_allclose(weights, [s2 / (s1 + s2), s1 / (s1 + s2)], atol=1e-12)


def test_two_assets_with_budgets_hand_derived() -> None:
    # Uncorrelated: RC_i ∝ w_i^2 s_i^2, so w_i ∝ sqrt(b_i) / s_i.
    cov = np.diag([0.04, 0.09])
    weights = risk_budget_weights(cov, [0.8, 0.2])
    expected = np.array([np.sqrt(0.8) / 0.2, np.sqrt(0.2) / 0.3])
    np.testing.assert_allclose(weights, expected / expected.sum(), atol=1e-12)


def test_budgets_are_relative_and_normalised() -> None:
    cov = random_covariance(np.random.default_rng(0), 6)
    np.testing.assert_allclose(
        risk_budget_weights(cov, [1, 2, 3, 4, 5, 6]),
        risk_budget_weights(cov, np.array([1, 2, 3, 4, 5, 6]) / 21),
        atol=1e-13,
    )


def test_weights_do_not_depend_on_covariance_scale() -> None:
    cov = random_covariance(np.random.default_rng(1), 8)
    np.testing.assert_allclose(
        risk_budget_weights(cov), risk_budget_weights(cov / 252.0), atol=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(2, 60),
    condition=st.floats(2.0, 1e4),
    equal=st.booleans(),
)
def test_risk_contributions_equal_budgets(
    seed: int, n_assets: int, condition: float, equal: bool
) -> None:
    rng = np.random.default_rng(seed)
    cov = random_covariance(rng, n_assets, condition)
    budgets = None if equal else rng.uniform(0.01, 1.0, n_assets)
    result = risk_budget(cov, budgets)
    target = np.full(n_assets, 1 / n_assets) if budgets is None else budgets / budgets.sum()
    assert np.all(result.weights > 0)
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-14)
    contributions = risk_contributions(result.weights, cov)
    np.testing.assert_allclose(contributions, target, rtol=0, atol=1e-9)
    assert result.max_error <= 1e-9
    assert result.iterations <= 50


def test_negative_correlations_and_a_large_problem() -> None:
    rng = np.random.default_rng(2)
    cov = random_covariance(rng, 300, 1e3)
    signs = rng.choice([-1.0, 1.0], 300)
    cov = cov * np.outer(signs, signs)  # flips correlations, keeps PD
    result = risk_budget(cov)
    assert result.max_error <= 1e-12
    np.testing.assert_allclose(risk_contributions(result.weights, cov), 1 / 300, atol=1e-12)


def test_result_to_dict_is_json_safe() -> None:
    result = risk_budget(random_covariance(np.random.default_rng(3), 4))
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["weights"] == pytest.approx(result.weights.tolist())
    assert payload["iterations"] == result.iterations


def test_risk_parity_errors_are_typed() -> None:
    cov = random_covariance(np.random.default_rng(4), 3)
    with pytest.raises(InvalidInputError, match="budgets must all be > 0"):
        risk_budget_weights(cov, [0.5, 0.5, 0.0])
    with pytest.raises(InvalidInputError, match="budgets must all be > 0"):
        risk_budget_weights(cov, [0.5, 0.6, -0.1])
    with pytest.raises(InvalidInputError, match="length 3"):
        risk_budget_weights(cov, [0.5, 0.5])
    with pytest.raises(InvalidInputError, match="NaN"):
        risk_budget_weights(np.where(np.eye(3) > 0, np.nan, cov))
    with pytest.raises(InvalidInputError, match="at least 2 assets"):
        risk_budget_weights([[0.04]])
    with pytest.raises(InvalidInputError, match="square"):
        risk_budget_weights(np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match="symmetric"):
        risk_budget_weights([[0.04, 0.01], [0.0, 0.04]])
    singular = np.array([[0.04, 0.04], [0.04, 0.04]])
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite"):
        risk_budget_weights(singular)
    indefinite = np.array([[0.04, 0.1], [0.1, 0.04]])
    with pytest.raises(NotPositiveDefiniteError):
        risk_budget_weights(indefinite)
