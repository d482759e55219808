"""Estimators: closed forms, the Ledoit-Wolf formula term by term, NaN policy, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from compute_test_data import random_returns
from hypothesis import given, settings
from hypothesis import strategies as st

from compute import (
    InvalidInputError,
    ewma_covariance,
    ledoit_wolf_covariance,
    ledoit_wolf_shrinkage,
    mean_returns,
    sample_covariance,
)


def _ledoit_wolf_reference(returns: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit & Wolf (2004), Lemmas 3.2-3.4, written out with an explicit loop over days."""
    n_days, n_assets = returns.shape
    x = returns - returns.mean(axis=0)
    sample = x.T @ x / n_days
    m = np.trace(sample) / n_assets
    d2 = np.sum((sample - m * np.eye(n_assets)) ** 2) / n_assets
    b2_bar = sum(np.sum((np.outer(row, row) - sample) ** 2) / n_assets for row in x) / n_days**2
    b2 = min(b2_bar, d2)
    delta = b2 / d2
    return (1 - delta) * sample + delta * m * np.eye(n_assets), delta


def test_sample_covariance_is_annualised_unbiased_covariance() -> None:
    returns = random_returns(np.random.default_rng(0), 300, 6)
    np.testing.assert_allclose(
        sample_covariance(returns), np.cov(returns, rowvar=False) * 252, rtol=1e-12
    )
    np.testing.assert_allclose(
        sample_covariance(returns, periods_per_year=12),
        np.cov(returns, rowvar=False) * 12,
        rtol=1e-12,
    )


def test_rows_with_nan_are_dropped_listwise() -> None:
    returns = random_returns(np.random.default_rng(1), 200, 5)
    holed = returns.copy()
    holed[[3, 50, 51], [0, 2, 4]] = np.nan
    complete = np.delete(returns, [3, 50, 51], axis=0)
    for estimator in (sample_covariance, ledoit_wolf_covariance):
        np.testing.assert_allclose(estimator(holed), estimator(complete), rtol=1e-12)
    np.testing.assert_allclose(
        ewma_covariance(holed, 30), ewma_covariance(complete, 30), rtol=1e-12
    )
    np.testing.assert_allclose(mean_returns(holed), mean_returns(complete), rtol=1e-12)


def test_ledoit_wolf_matches_the_paper_formula() -> None:
    returns = random_returns(np.random.default_rng(2), 60, 8)
    expected, delta = _ledoit_wolf_reference(returns)
    assert ledoit_wolf_shrinkage(returns) == pytest.approx(delta, rel=1e-10)
    np.testing.assert_allclose(ledoit_wolf_covariance(returns), expected * 252, rtol=1e-10)


def test_ledoit_wolf_matches_scikit_learn() -> None:
    covariance = pytest.importorskip("sklearn.covariance")
    returns = random_returns(np.random.default_rng(3), 120, 15)
    reference = covariance.LedoitWolf(block_size=10_000).fit(returns)
    np.testing.assert_allclose(
        ledoit_wolf_covariance(returns, periods_per_year=1), reference.covariance_, rtol=1e-9
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_days=st.integers(3, 40),
    n_assets=st.integers(2, 80),
)
def test_ledoit_wolf_is_positive_definite_even_when_assets_outnumber_days(
    seed: int, n_days: int, n_assets: int
) -> None:
    returns = random_returns(np.random.default_rng(seed), n_days, n_assets)
    shrunk = ledoit_wolf_covariance(returns)
    delta = ledoit_wolf_shrinkage(returns)
    assert 0.0 <= delta <= 1.0
    np.testing.assert_array_equal(shrunk, shrunk.T)
    assert np.min(np.linalg.eigvalsh(shrunk)) > 0.0
    # Shrinking towards m*I keeps the trace.
    assert np.trace(shrunk) == pytest.approx(
        np.trace(sample_covariance(returns)) * (n_days - 1) / n_days, rel=1e-9
    )


def test_ewma_weights_by_half_life() -> None:
    returns = np.array([[0.01, 0.02], [-0.01, 0.0], [0.03, -0.02], [0.0, 0.01]])
    halflife = 2.0
    ages = np.array([3.0, 2.0, 1.0, 0.0])
    weights = 0.5 ** (ages / halflife)
    weights /= weights.sum()
    mean = weights @ returns
    centred = returns - mean
    expected = (centred.T * weights) @ centred / (1 - np.sum(weights**2)) * 252
    np.testing.assert_allclose(ewma_covariance(returns, halflife), expected, rtol=1e-12)


def test_ewma_with_a_long_half_life_is_the_sample_covariance() -> None:
    returns = random_returns(np.random.default_rng(4), 250, 4)
    np.testing.assert_allclose(ewma_covariance(returns, 1e9), sample_covariance(returns), rtol=1e-6)


def test_ewma_matches_pandas() -> None:
    pandas = pytest.importorskip("pandas")
    returns = random_returns(np.random.default_rng(5), 100, 3)
    frame = pandas.DataFrame(returns)
    expected = frame.ewm(halflife=10.0).cov().to_numpy()[-3:, :] * 252
    np.testing.assert_allclose(ewma_covariance(returns, 10.0), expected, rtol=1e-10)


def test_mean_returns_arithmetic_and_geometric() -> None:
    returns = np.array([[0.10, -0.5], [-0.05, 1.0], [0.02, 0.0]])
    np.testing.assert_allclose(
        mean_returns(returns, periods_per_year=1), returns.mean(axis=0), rtol=1e-14
    )
    growth = np.prod(1 + returns, axis=0) ** (12 / 3) - 1
    np.testing.assert_allclose(
        mean_returns(returns, periods_per_year=12, method="geometric"), growth, rtol=1e-12
    )
    total_loss = np.array([[-1.0, 0.0], [0.5, 0.0]])
    assert mean_returns(total_loss, 1, "geometric")[0] == -1.0


def test_estimator_errors_are_typed() -> None:
    good = random_returns(np.random.default_rng(6), 10, 3)
    with pytest.raises(InvalidInputError, match="at least 2 assets"):
        sample_covariance(good[:, :1])
    with pytest.raises(InvalidInputError, match="at least 2 complete rows"):
        sample_covariance(good[:1])
    holed = good.copy()
    holed[1:, 0] = np.nan
    with pytest.raises(InvalidInputError, match="complete rows"):
        ledoit_wolf_covariance(holed)
    infinite = good.copy()
    infinite[0, 0] = math.inf
    with pytest.raises(InvalidInputError, match="infinite"):
        sample_covariance(infinite)
    with pytest.raises(InvalidInputError, match="2-dimensional"):
        sample_covariance(good[:, 0])
    with pytest.raises(InvalidInputError, match="halflife"):
        ewma_covariance(good, 0.0)
    with pytest.raises(InvalidInputError, match="periods_per_year"):
        mean_returns(good, periods_per_year=-1)
    with pytest.raises(InvalidInputError, match="method"):
        mean_returns(good, method="harmonic")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=">= -1"):
        mean_returns(good - 2.0, method="geometric")
    with pytest.raises(InvalidInputError, match="zero variance"):
        ledoit_wolf_covariance(np.ones((5, 3)))
