"""Monte Carlo: deterministic limits, GBM moments, reproducibility, bands, bootstrap, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from compute_test_data import random_covariance

from compute import InvalidInputError, NotPositiveDefiniteError, analyze, simulate
from compute.monte_carlo import TRADING_DAYS_PER_MONTH

MU = np.array([0.05, 0.10, -0.02])
WEIGHTS = np.array([0.5, 0.3, 0.2])
ZERO = np.zeros((3, 3))


def test_zero_volatility_buy_and_hold_is_deterministic() -> None:
    result = simulate(WEIGHTS, MU, ZERO, horizon_days=252, n_paths=300, seed=1)
    expected = float(WEIGHTS @ np.exp(MU))
    assert result.terminal_mean == pytest.approx(expected, rel=1e-12)
    for value in result.terminal_percentiles.values():
        assert value == pytest.approx(expected, rel=1e-12)
    assert result.var_95 == pytest.approx(-(expected - 1), rel=1e-10)
    assert result.cvar_99 == pytest.approx(-(expected - 1), rel=1e-10)
    assert result.prob_loss == 0.0
    # Day d of every band: sum_i w_i exp(mu_i d / 252).
    days = np.arange(253) / 252
    path = np.exp(np.outer(days, MU)) @ WEIGHTS
    for band in result.bands:
        np.testing.assert_allclose(band, path, rtol=1e-12)
    # The falling asset is a small part: the portfolio still never falls here.
    assert result.max_drawdown_mean == pytest.approx(0.0, abs=1e-12)


def test_zero_volatility_daily_rebalancing_compounds_the_mix() -> None:
    result = simulate(WEIGHTS, MU, ZERO, horizon_days=100, n_paths=10, rebalance="daily")
    expected = float(WEIGHTS @ np.exp(MU / 252)) ** 100
    assert result.terminal_median == pytest.approx(expected, rel=1e-12)


def test_zero_volatility_falling_asset_gives_a_known_drawdown_and_loss() -> None:
    mu = np.array([-0.2, -0.2])
    result = simulate([0.5, 0.5], mu, np.zeros((2, 2)), horizon_days=252, n_paths=50, seed=3)
    loss = 1 - math.exp(-0.2)
    assert result.var_95 == pytest.approx(loss, rel=1e-12)
    assert result.prob_loss == 1.0
    assert result.max_drawdown_percentiles[50] == pytest.approx(loss, rel=1e-12)


def test_contributions_and_withdrawals_without_risk() -> None:
    flat = np.zeros(2)
    months = 252 // TRADING_DAYS_PER_MONTH
    saved = simulate([0.5, 0.5], flat, np.zeros((2, 2)), n_paths=5, contribution=0.1)
    assert saved.terminal_mean == pytest.approx(1 + 0.1 * months, rel=1e-12)
    # Deposits are not profit: the horizon return and drawdown stay zero.
    assert saved.horizon_return_mean == pytest.approx(0.0, abs=1e-12)
    assert saved.prob_loss == 0.0
    assert saved.max_drawdown_mean == pytest.approx(0.0, abs=1e-12)
    # Withdrawing more than there is empties the portfolio and stops there.
    drained = simulate([0.5, 0.5], flat, np.zeros((2, 2)), n_paths=5, contribution=-0.3)
    assert drained.terminal_mean == 0.0
    assert drained.bands[0, 3 * TRADING_DAYS_PER_MONTH] == pytest.approx(0.1)
    assert drained.bands[0, 4 * TRADING_DAYS_PER_MONTH] == 0.0
    assert drained.horizon_return_mean == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("rebalance", ["none", "daily", "monthly"])
def test_gbm_mean_within_sampling_error(rebalance: str) -> None:
    rng = np.random.default_rng(0)
    cov = random_covariance(rng, 4)
    mu = np.array([0.08, 0.03, 0.12, 0.05])
    weights = np.array([0.4, 0.3, 0.2, 0.1])
    result = simulate(
        weights,
        mu,
        cov,
        horizon_days=126,
        n_paths=40_000,
        seed=7,
        rebalance=rebalance,
        keep_paths=True,
    )
    if rebalance == "none":
        # E[S_T] = S_0 exp(mu T) for each asset; buy and hold is their mix.
        expected = float(weights @ np.exp(mu * 126 / 252))
    elif rebalance == "daily":
        expected = float(weights @ np.exp(mu / 252)) ** 126
    else:
        month = float(weights @ np.exp(mu * 21 / 252))
        expected = month**6
    assert result.paths is not None
    standard_error = float(np.std(result.paths[:, -1])) / math.sqrt(40_000)
    assert abs(result.terminal_mean - expected) < 4 * standard_error


def test_gbm_log_returns_have_the_right_covariance() -> None:
    cov = np.array([[0.04, 0.018], [0.018, 0.09]])
    mu = np.array([0.05, 0.08])
    # Two single-asset portfolios with the same seed see the same draws.
    first = simulate([1.0, 0.0], mu, cov, horizon_days=1, n_paths=50_000, seed=5, keep_paths=True)
    second = simulate([0.0, 1.0], mu, cov, horizon_days=1, n_paths=50_000, seed=5, keep_paths=True)
    assert first.paths is not None
    assert second.paths is not None
    logs = np.log(np.column_stack([first.paths[:, 1], second.paths[:, 1]]))
    # Within 5 standard errors of each entry (Gaussian: Var(s_ij) = (Σ_ii Σ_jj + Σ_ij²)/n),
    # so the check holds for any stream of draws, not only this seed's.
    standard_errors = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / (50_000 - 1))
    assert np.all(np.abs(np.cov(logs, rowvar=False) * 252 - cov) <= 5 * standard_errors)
    np.testing.assert_allclose(
        logs.mean(axis=0) * 252, mu - np.diag(cov) / 2, atol=4 * np.sqrt(0.09 / 252 / 50_000) * 252
    )


def test_same_seed_same_numbers_whatever_the_threads() -> None:
    cov = random_covariance(np.random.default_rng(1), 3)
    kwargs = {"horizon_days": 60, "n_paths": 20_000, "seed": 42, "rebalance": "monthly"}
    one = simulate(WEIGHTS, MU, cov, max_workers=1, **kwargs)
    two = simulate(WEIGHTS, MU, cov, max_workers=2, **kwargs)
    again = simulate(WEIGHTS, MU, cov, **kwargs)
    for other in (two, again):
        np.testing.assert_array_equal(one.bands, other.bands)
        assert one.to_dict() == other.to_dict()
    different = simulate(WEIGHTS, MU, cov, **{**kwargs, "seed": 43})
    assert different.terminal_mean != one.terminal_mean
    # A run without a seed reports the entropy that reproduces it.
    unseeded = simulate(WEIGHTS, MU, cov, horizon_days=5, n_paths=100)
    assert unseeded.seed_entropy is not None
    replay = simulate(WEIGHTS, MU, cov, horizon_days=5, n_paths=100, seed=unseeded.seed_entropy)
    assert replay.terminal_mean == unseeded.terminal_mean


def test_analyze_reproduces_the_simulation_statistics() -> None:
    cov = random_covariance(np.random.default_rng(2), 3)
    result = simulate(WEIGHTS, MU, cov, horizon_days=40, n_paths=3000, seed=9, keep_paths=True)
    assert result.paths is not None
    assert result.paths.shape == (3000, 41)
    again = analyze(result.paths)
    for name in ("terminal_mean", "var_95", "cvar_95", "var_99", "cvar_99", "prob_loss"):
        assert getattr(again, name) == pytest.approx(getattr(result, name), rel=1e-12)
    np.testing.assert_allclose(again.bands, result.bands, rtol=1e-12)
    assert again.terminal_percentiles == pytest.approx(result.terminal_percentiles)
    assert again.max_drawdown_mean == pytest.approx(result.max_drawdown_mean, rel=1e-12)


def test_analyze_hand_computed() -> None:
    paths = np.array(
        [
            [1.0, 1.2, 0.9, 1.1],  # return +10 %, drawdown 25 %
            [1.0, 0.8, 0.9, 0.7],  # return -30 %, drawdown 30 %
            [2.0, 2.0, 2.2, 2.4],  # return +20 %, no drawdown
        ]
    )
    result = analyze(paths)
    assert result.terminal_mean == pytest.approx((1.1 + 0.7 + 2.4) / 3)
    assert result.prob_loss == pytest.approx(1 / 3)
    assert result.max_drawdown_mean == pytest.approx((0.25 + 0.3 + 0) / 3)
    returns = np.array([0.1, -0.3, 0.2])
    assert result.var_95 == pytest.approx(-np.percentile(returns, 5))
    assert result.cvar_95 == pytest.approx(0.3)
    np.testing.assert_allclose(result.bands[2], np.median(paths, axis=0))


def test_histogram_bands_approximate_the_exact_ones() -> None:
    cov = random_covariance(np.random.default_rng(3), 3)
    kwargs = {"horizon_days": 30, "n_paths": 30_000, "seed": 11}
    exact = simulate(WEIGHTS, MU, cov, **kwargs)
    streamed = simulate(WEIGHTS, MU, cov, max_band_memory_bytes=0, **kwargs)
    assert exact.bands_exact
    assert not streamed.bands_exact
    spread = exact.bands[-1] - exact.bands[0]
    # Error bound: one bin, 3 × (first chunk's range) / 4096, well under 1 % of the 5-95 spread.
    assert np.all(np.abs(streamed.bands - exact.bands)[:, 1:] <= 0.01 * spread[1:])
    assert streamed.terminal_percentiles == exact.terminal_percentiles
    assert streamed.var_99 == exact.var_99


def test_bootstrap_of_constant_history_is_deterministic() -> None:
    history = np.tile([0.001, -0.002], (50, 1))
    result = simulate(
        [0.5, 0.5],
        None,
        None,
        horizon_days=20,
        n_paths=100,
        method="bootstrap",
        historical_returns=history,
        rebalance="daily",
        seed=1,
    )
    assert result.terminal_mean == pytest.approx((1 + 0.5 * 0.001 - 0.5 * 0.002) ** 20)


def test_stationary_bootstrap_keeps_blocks() -> None:
    # Returns alternate +x, -x: long blocks keep the alternation (value near 1 every second
    # day), i.i.d. draws (block_size=1) do not.
    history = np.tile([[0.05, 0.05], [-0.05, -0.05]], (100, 1))
    common = {"horizon_days": 50, "n_paths": 2000, "method": "bootstrap", "seed": 3}
    blocky = simulate([0.5, 0.5], None, None, historical_returns=history, block_size=1000, **common)
    iid = simulate([0.5, 0.5], None, None, historical_returns=history, block_size=1, **common)
    assert blocky.terminal_percentiles[95] - blocky.terminal_percentiles[5] < 0.2
    assert iid.terminal_percentiles[95] - iid.terminal_percentiles[5] > 0.4


def test_bootstrap_mean_matches_history() -> None:
    rng = np.random.default_rng(4)
    history = rng.normal(0.0005, 0.01, (500, 2))
    result = simulate(
        [0.5, 0.5],
        None,
        None,
        horizon_days=21,
        n_paths=20_000,
        method="bootstrap",
        historical_returns=history,
        block_size=5,
        rebalance="daily",
        seed=2,
    )
    expected = (1 + float(history.mean(axis=0) @ [0.5, 0.5])) ** 21
    assert result.terminal_mean == pytest.approx(expected, rel=3e-3)


def test_result_to_dict_is_json_safe() -> None:
    cov = random_covariance(np.random.default_rng(5), 3)
    result = simulate(WEIGHTS, MU, cov, horizon_days=10, n_paths=50, seed=1, keep_paths=True)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["terminal_percentiles"]["50"] == pytest.approx(result.terminal_median)
    assert len(payload["bands"]) == 5
    assert len(payload["bands"][0]) == 11
    assert len(payload["paths"]) == 50
    assert result.to_dict(include_paths=False)["paths"] is None
    assert simulate(WEIGHTS, MU, cov, horizon_days=10, n_paths=50).paths is None


def test_monte_carlo_errors_are_typed() -> None:
    cov = random_covariance(np.random.default_rng(6), 3)
    with pytest.raises(InvalidInputError, match="sum to 1"):
        simulate([0.5, 0.5, 0.5], MU, cov)
    with pytest.raises(InvalidInputError, match="3 assets"):
        simulate(WEIGHTS, MU, cov[:2, :2])
    with pytest.raises(InvalidInputError, match="length 3"):
        simulate(WEIGHTS, MU[:2], cov)
    with pytest.raises(NotPositiveDefiniteError, match="semi-definite"):
        simulate(WEIGHTS, MU, [[0.04, 0.1, 0.0], [0.1, 0.04, 0.0], [0.0, 0.0, 0.04]])
    with pytest.raises(NotPositiveDefiniteError, match="negative variance"):
        simulate(WEIGHTS, MU, np.diag([0.04, 0.04, -0.01]))
    with pytest.raises(InvalidInputError, match="NaN"):
        simulate(WEIGHTS, MU, np.full((3, 3), np.nan))
    with pytest.raises(InvalidInputError, match="rebalance"):
        simulate(WEIGHTS, MU, cov, rebalance="weekly")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="method"):
        simulate(WEIGHTS, MU, cov, method="garch")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="historical_returns"):
        simulate(WEIGHTS, MU, cov, method="bootstrap")
    with pytest.raises(InvalidInputError, match="n_paths"):
        simulate(WEIGHTS, MU, cov, n_paths=0)
    with pytest.raises(InvalidInputError, match="horizon_days"):
        simulate(WEIGHTS, MU, cov, horizon_days=0)
    with pytest.raises(InvalidInputError, match="initial_value"):
        simulate(WEIGHTS, MU, cov, initial_value=0.0)
    with pytest.raises(InvalidInputError, match="at least 2 assets"):
        simulate([1.0], [0.05], [[0.04]])
    with pytest.raises(InvalidInputError, match="band_levels"):
        simulate(WEIGHTS, MU, cov, band_levels=(5, 150))
    with pytest.raises(InvalidInputError, match="keep_paths"):
        simulate(WEIGHTS, MU, cov, n_paths=10**7, horizon_days=252 * 20, keep_paths=True)
    with pytest.raises(InvalidInputError, match="positive value"):
        analyze([[0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(InvalidInputError, match="T >= 1"):
        analyze([[1.0], [1.0]])
    with pytest.raises(InvalidInputError, match="2-dimensional"):
        analyze([1.0, 1.1])
