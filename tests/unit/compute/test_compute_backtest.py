"""Walk-forward backtests: skfolio's returns to 1e-12, folds, hand-computed costs, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compute_test_data import random_returns
from hypothesis import given, settings
from hypothesis import strategies as st

from compute import (
    BacktestResult,
    InfeasibleError,
    InvalidInputError,
    NotPositiveDefiniteError,
    calendar_rebalance_rows,
    efficient_risk,
    ewma_covariance,
    hrp_weights,
    ledoit_wolf_covariance,
    max_sharpe,
    mean_returns,
    min_variance,
    risk_budget,
    risk_budget_weights,
    sample_covariance,
    walk_forward,
    walk_forward_at,
)
from compute.backtest import STRATEGY_OPTIONS
from compute.choices import BACKTEST_STRATEGIES

GOLDEN = json.loads((Path(__file__).parent / "data" / "skfolio_walk_forward.json").read_text())
GOLDEN_INPUT = np.array(GOLDEN["input"])


def _case_id(case: dict[str, Any]) -> str:
    expand = "expand" if case["expand_train"] else "roll"
    drift = "drift" if case["weight_drift"] else "constant"
    return f"{case['strategy']}-{case['train_size']}-{case['test_size']}-{expand}-{drift}"


# ----- against skfolio -------------------------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=_case_id)
def test_equals_skfolio_cross_val_predict(case: dict[str, Any]) -> None:
    """Stored skfolio output (tests/support/make_skfolio_golden.py), to 1e-12."""
    result = walk_forward(
        GOLDEN_INPUT,
        case["strategy"],
        train_size=case["train_size"],
        test_size=case["test_size"],
        expand_train=case["expand_train"],
        weight_drift=case["weight_drift"],
    )
    expected = np.array(case["returns"])
    assert result.returns.shape == expected.shape
    np.testing.assert_allclose(result.returns, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result.returns, result.gross_returns)


def test_golden_file_covers_both_conventions_and_a_dropped_window() -> None:
    cases = GOLDEN["cases"]
    assert {c["strategy"] for c in cases} == {"equal-weight", "inverse-volatility"}
    assert {c["weight_drift"] for c in cases} == {False, True}
    assert {c["expand_train"] for c in cases} == {False, True}
    n_rows = GOLDEN_INPUT.shape[0]
    assert any((n_rows - c["train_size"]) % c["test_size"] for c in cases)
    # Drift changes the returns: the two conventions are really different series.
    by_key = {(_case_id(c)): np.array(c["returns"]) for c in cases}
    constant = by_key["inverse-volatility-40-10-roll-constant"]
    drifted = by_key["inverse-volatility-40-10-roll-drift"]
    assert np.max(np.abs(constant - drifted)) > 1e-4


@pytest.mark.parametrize("weight_drift", [False, True])
@pytest.mark.parametrize("expand_train", [False, True])
def test_equals_skfolio_live(weight_drift: bool, expand_train: bool) -> None:
    """The same comparison on other data, where skfolio is installed (pip install .[bench])."""
    pytest.importorskip("skfolio")
    from skfolio.model_selection import WalkForward, cross_val_predict
    from skfolio.optimization import EqualWeighted, InverseVolatility

    returns = random_returns(np.random.default_rng(5), 230, 7)
    cv = WalkForward(test_size=21, train_size=63, expand_train=expand_train)
    for name, estimator in (
        ("equal-weight", EqualWeighted()),
        ("inverse-volatility", InverseVolatility()),
    ):
        theirs = cross_val_predict(
            estimator, returns, cv=cv, portfolio_params={"weight_drift": weight_drift}
        )
        ours = walk_forward(
            returns,
            name,
            train_size=63,
            test_size=21,
            expand_train=expand_train,
            weight_drift=weight_drift,
        )
        np.testing.assert_allclose(ours.returns, np.asarray(theirs.returns), rtol=0, atol=1e-12)


# ----- folds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("expand_train", [False, True])
def test_folds_are_skfolios_walk_forward(expand_train: bool) -> None:
    returns = random_returns(np.random.default_rng(0), 50, 3)
    seen: list[np.ndarray] = []

    def record(train: np.ndarray) -> np.ndarray:
        seen.append(train.copy())
        return np.full(3, 1 / 3)

    result = walk_forward(returns, record, train_size=10, test_size=7, expand_train=expand_train)
    # (50 - 10) // 7 = 5 folds; rows 45-49 (a partial window) are dropped.
    assert len(seen) == 5
    for k, train in enumerate(seen):
        start = 0 if expand_train else 7 * k
        np.testing.assert_array_equal(train, returns[start : 7 * k + 10])
    np.testing.assert_array_equal(result.rebalance_rows, [0, 7, 14, 21, 28])
    np.testing.assert_array_equal(result.rows, np.arange(10, 45))
    assert result.returns.shape == result.gross_returns.shape == result.equity.shape == (35,)
    assert result.weights.shape == (5, 3)
    np.testing.assert_allclose(result.gross_returns, returns[10:45] @ np.full(3, 1 / 3))


def test_the_callable_sees_a_read_only_window() -> None:
    returns = random_returns(np.random.default_rng(1), 30, 2)

    def meddle(train: np.ndarray) -> np.ndarray:
        train[0, 0] = 99.0
        return np.array([0.5, 0.5])

    with pytest.raises(ValueError, match="read-only"):
        walk_forward(returns, meddle, train_size=10, test_size=5)


def test_calendar_folds_match_fixed_folds() -> None:
    returns = random_returns(np.random.default_rng(2), 12 + 4 * 9, 4)
    fixed = walk_forward(returns, "min-variance", train_size=12, test_size=9, weight_drift=True)
    at = walk_forward_at(
        returns,
        "min-variance",
        rebalance_rows=np.arange(12, 48, 9),
        train_size=12,
        weight_drift=True,
    )
    for name in ("returns", "gross_returns", "equity", "weights", "rebalance_rows", "rows"):
        np.testing.assert_array_equal(getattr(fixed, name), getattr(at, name))


def test_calendar_windows_have_uneven_lengths_and_run_to_the_end() -> None:
    returns = random_returns(np.random.default_rng(3), 40, 3)
    lengths: list[int] = []

    def record(train: np.ndarray) -> np.ndarray:
        lengths.append(train.shape[0])
        return np.full(3, 1 / 3)

    result = walk_forward_at(
        returns, record, rebalance_rows=[5, 9, 30], train_size=5, expand_train=True
    )
    assert lengths == [5, 9, 30]
    np.testing.assert_array_equal(result.rebalance_rows, [0, 4, 25])
    np.testing.assert_array_equal(result.rows, np.arange(5, 40))


def test_calendar_rebalance_rows_monthly_and_quarterly() -> None:
    dates = np.arange("2023-12-27", "2024-05-10", dtype="datetime64[D]")
    dates = dates[np.is_busday(dates)]
    monthly = calendar_rebalance_rows(dates, "monthly", train_size=2)
    assert [str(d) for d in dates[monthly]] == [
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
        "2024-04-01",
        "2024-05-01",
    ]
    assert monthly.dtype == np.int64
    quarterly = calendar_rebalance_rows(dates, "quarterly", train_size=2)
    assert [str(d) for d in dates[quarterly]] == ["2024-01-01", "2024-04-01"]
    # Period starts with fewer than train_size rows before them are skipped.
    late = calendar_rebalance_rows(dates, "monthly", train_size=int(monthly[2]))
    np.testing.assert_array_equal(late, monthly[2:])
    assert calendar_rebalance_rows(dates, "quarterly", train_size=len(dates)).size == 0
    # Strings and datetime64 of any unit are accepted; pre-1970 quarters group correctly.
    old = ["1969-09-30", "1969-10-01", "1969-12-31", "1970-01-02", "1970-03-31", "1970-04-01"]
    np.testing.assert_array_equal(calendar_rebalance_rows(old, "quarterly", 2), [3, 5])


# ----- costs and drift by hand -----------------------------------------------------------------

# Two folds of two test days each (train_size=2, test_size=2) on three assets.
HAND_RETURNS = np.array(
    [
        [0.00, 0.00, 0.00],
        [0.00, 0.00, 0.00],
        [0.10, -0.20, 0.00],
        [0.05, 0.10, -0.10],
        [-0.10, 0.20, 0.10],
        [0.00, 0.10, 0.05],
    ]
)
HAND_WEIGHTS = (np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.2, 0.6]))
HAND_COSTS = np.array([0.001, 0.002, 0.003])


def _alternating() -> Any:
    calls = iter(HAND_WEIGHTS)
    return lambda _train: next(calls)


def test_costs_charged_once_per_rebalance_without_drift() -> None:
    result = walk_forward(
        HAND_RETURNS,
        _alternating(),
        train_size=2,
        test_size=2,
        transaction_costs=HAND_COSTS,
    )
    # Gross: w . r_t with constant weights.
    w0, w1 = HAND_WEIGHTS
    gross = [0.05 - 0.06 + 0.0, 0.025 + 0.03 - 0.02, -0.02 + 0.04 + 0.06, 0.0 + 0.02 + 0.03]
    np.testing.assert_allclose(result.gross_returns, gross, rtol=0, atol=1e-15)
    # Fold 0 buys from cash: 0.5*0.001 + 0.3*0.002 + 0.2*0.003 = 0.0017.
    # Fold 1 trades |0.2-0.5|, |0.2-0.3|, |0.6-0.2|: 0.3*0.001 + 0.1*0.002 + 0.4*0.003 = 0.0017.
    np.testing.assert_allclose(result.costs, [0.0017, 0.0017], rtol=0, atol=1e-15)
    np.testing.assert_allclose(result.turnover, [1.0, 0.8], rtol=0, atol=1e-15)
    expected_net = np.array(gross) - [0.0017, 0.0, 0.0017, 0.0]
    np.testing.assert_allclose(result.returns, expected_net, rtol=0, atol=1e-15)
    np.testing.assert_allclose(result.equity, np.cumprod(1 + expected_net), rtol=1e-15)
    np.testing.assert_array_equal(result.weights, np.vstack([w0, w1]))


def test_costs_charged_once_per_rebalance_with_drift() -> None:
    previous = np.array([0.2, 0.2, 0.6])
    result = walk_forward(
        HAND_RETURNS,
        _alternating(),
        train_size=2,
        test_size=2,
        weight_drift=True,
        transaction_costs=0.01,
        previous_weights=previous,
    )
    # Fold 0 positions: 0.5*1.1*1.05 = 0.5775, 0.3*0.8*1.1 = 0.264, 0.2*1*0.9 = 0.18.
    v1, v2 = 0.55 + 0.24 + 0.2, 0.5775 + 0.264 + 0.18
    drifted = np.array([0.5775, 0.264, 0.18]) / v2
    # Fold 1 positions from w1: 0.2*0.9 = 0.18, 0.2*1.2 = 0.24, 0.6*1.1 = 0.66, then
    # 0.18, 0.264, 0.693.
    v3, v4 = 0.18 + 0.24 + 0.66, 0.18 + 0.264 + 0.693
    gross = [v1 - 1, v2 / v1 - 1, v3 - 1, v4 / v3 - 1]
    np.testing.assert_allclose(result.gross_returns, gross, rtol=0, atol=1e-15)
    turnover = [
        float(np.abs(HAND_WEIGHTS[0] - previous).sum()),
        float(np.abs(HAND_WEIGHTS[1] - drifted).sum()),
    ]
    np.testing.assert_allclose(result.turnover, turnover, rtol=0, atol=1e-15)
    np.testing.assert_allclose(result.costs, 0.01 * np.array(turnover), rtol=0, atol=1e-16)
    net = np.array(gross) - [result.costs[0], 0.0, result.costs[1], 0.0]
    np.testing.assert_allclose(result.returns, net, rtol=0, atol=1e-15)
    # Exactly one charge per fold, on its first test day.
    charged = np.flatnonzero(result.gross_returns != result.returns)
    np.testing.assert_array_equal(charged, result.rebalance_rows)


def test_zero_costs_and_unchanged_weights_cost_nothing() -> None:
    returns = random_returns(np.random.default_rng(4), 80, 4)
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    result = walk_forward(
        returns,
        "fixed",
        weights=weights,
        train_size=20,
        test_size=10,
        transaction_costs=0.05,
        previous_weights=weights,
    )
    np.testing.assert_array_equal(result.costs, 0.0)
    np.testing.assert_array_equal(result.turnover, 0.0)
    np.testing.assert_array_equal(result.returns, returns[20:] @ weights)


@pytest.mark.parametrize("cash", [0.0, 0.3])
def test_fixed_weight_buy_and_hold_is_the_price_path(cash: float) -> None:
    rng = np.random.default_rng(6)
    prices = 100 * np.cumprod(1 + rng.normal(0.0005, 0.02, (120, 4)), axis=0)
    returns = prices[1:] / prices[:-1] - 1
    weights = np.array([0.1, 0.2, 0.3, 0.4]) * (1 - cash)
    start = 9  # one fold: held from row 9 of the returns (bought at prices[9]) to the end
    result = walk_forward(
        returns,
        "fixed",
        weights=weights,
        train_size=start,
        test_size=returns.shape[0] - start,
        weight_drift=True,
    )
    value = cash + (prices[start + 1 :] / prices[start]) @ weights
    np.testing.assert_allclose(result.equity, value, rtol=1e-13)
    # The same through a calendar rebalance on that single row.
    at = walk_forward_at(
        returns,
        "fixed",
        weights=weights,
        rebalance_rows=[start],
        train_size=start,
        weight_drift=True,
    )
    np.testing.assert_allclose(at.equity, value, rtol=1e-13)


# ----- strategies ------------------------------------------------------------------------------


def test_every_named_strategy_has_its_options() -> None:
    assert set(STRATEGY_OPTIONS) == set(BACKTEST_STRATEGIES)


@pytest.mark.parametrize(
    ("strategy", "options", "reference"),
    [
        ("equal-weight", {}, lambda r: np.full(r.shape[1], 1 / r.shape[1])),
        (
            "inverse-volatility",
            {"estimator": "ledoit-wolf"},
            lambda r: (v := 1 / np.sqrt(np.diag(ledoit_wolf_covariance(r)))) / v.sum(),
        ),
        ("min-variance", {}, lambda r: min_variance(sample_covariance(r))),
        (
            "min-variance",
            {"estimator": "ewma", "halflife": 20, "bounds": (0.05, 0.5)},
            lambda r: min_variance(ewma_covariance(r, 20), (0.05, 0.5)),
        ),
        (
            "max-sharpe",
            {"risk_free_rate": -0.05, "periods_per_year": 12},
            lambda r: max_sharpe(mean_returns(r, 12), sample_covariance(r, 12), -0.05),
        ),
        ("risk-parity", {}, lambda r: risk_budget_weights(sample_covariance(r))),
        (
            "risk-parity",
            {"budgets": [1, 2, 3, 4, 5], "estimator": "ledoit-wolf"},
            lambda r: risk_budget_weights(ledoit_wolf_covariance(r), [1, 2, 3, 4, 5]),
        ),
        ("hrp", {}, hrp_weights),
        ("hrp", {"linkage": "ward"}, lambda r: hrp_weights(r, "ward")),
        (
            "target-volatility",
            {"target": 0.25},
            lambda r: efficient_risk(mean_returns(r), sample_covariance(r), 0.25),
        ),
        ("fixed", {"weights": [0.5, 0.5, 0, 0, 0]}, lambda r: np.array([0.5, 0.5, 0, 0, 0])),
    ],
)
def test_strategies_fit_each_train_window(
    strategy: str, options: dict[str, Any], reference: Any
) -> None:
    returns = random_returns(np.random.default_rng(7), 160, 5)
    result = walk_forward(returns, strategy, train_size=60, test_size=25, **options)
    assert result.weights.shape == (4, 5)
    # Risk parity starts each fold from the previous weights: equal to its 1e-12 tolerance.
    tolerance = 1e-10 if strategy == "risk-parity" else 1e-14
    for k in range(4):
        np.testing.assert_allclose(
            result.weights[k], reference(returns[25 * k : 25 * k + 60]), rtol=0, atol=tolerance
        )


def test_risk_budget_warm_start_converges_to_the_same_weights_faster() -> None:
    rng = np.random.default_rng(11)
    returns = random_returns(rng, 300, 60)
    first = risk_budget(ledoit_wolf_covariance(returns[:252]))
    cold = risk_budget(ledoit_wolf_covariance(returns[21:273]))
    warm = risk_budget(ledoit_wolf_covariance(returns[21:273]), initial_weights=first.weights)
    np.testing.assert_allclose(warm.weights, cold.weights, rtol=0, atol=1e-12)
    assert warm.max_error <= 1e-12
    assert warm.iterations < cold.iterations
    with pytest.raises(InvalidInputError, match="initial_weights must all be > 0"):
        risk_budget(np.eye(3), initial_weights=[0.5, 0.5, 0.0])
    with pytest.raises(InvalidInputError, match="initial_weights must have length 3"):
        risk_budget(np.eye(3), initial_weights=[0.5, 0.5])


def test_result_to_dict_is_json_safe() -> None:
    returns = random_returns(np.random.default_rng(8), 60, 3)
    result = walk_forward(
        returns, "inverse-volatility", train_size=20, test_size=10, transaction_costs=0.001
    )
    assert isinstance(result, BacktestResult)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["returns"] == pytest.approx(result.returns.tolist(), abs=0)
    assert payload["rebalance_rows"] == [0, 10, 20, 30]
    assert payload["rows"][0] == 20
    assert len(payload["weights"]) == 4


# ----- properties ------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_assets=st.integers(2, 8),
    strategy=st.sampled_from(
        ["equal-weight", "inverse-volatility", "min-variance", "risk-parity", "hrp"]
    ),
    train_size=st.integers(30, 60),
    test_size=st.integers(1, 30),
    expand_train=st.booleans(),
    weight_drift=st.booleans(),
    per_asset_costs=st.booleans(),
    start_in_cash=st.booleans(),
)
def test_net_below_gross_equity_positive_turnover_bounded(
    *,
    seed: int,
    n_assets: int,
    strategy: str,
    train_size: int,
    test_size: int,
    expand_train: bool,
    weight_drift: bool,
    per_asset_costs: bool,
    start_in_cash: bool,
) -> None:
    rng = np.random.default_rng(seed)
    returns = np.maximum(random_returns(rng, 150, n_assets) * 3, -0.9)
    costs = rng.uniform(0, 0.02, n_assets) if per_asset_costs else float(rng.uniform(0, 0.02))
    previous = None if start_in_cash else rng.dirichlet(np.ones(n_assets))
    result = walk_forward(
        returns,
        strategy,
        train_size=train_size,
        test_size=test_size,
        expand_train=expand_train,
        weight_drift=weight_drift,
        transaction_costs=costs,
        previous_weights=previous,
    )
    n_folds = (150 - train_size) // test_size
    assert result.weights.shape == (n_folds, n_assets)
    assert result.returns.size == n_folds * test_size
    assert np.all(result.returns <= result.gross_returns)
    assert np.all(result.equity > 0)
    np.testing.assert_allclose(result.equity, np.cumprod(1 + result.returns), rtol=1e-12)
    assert np.all(result.turnover >= 0)
    assert np.all(result.turnover <= 2 + 1e-12)
    np.testing.assert_allclose(result.weights.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(result.costs <= np.max(costs) * result.turnover + 1e-15)
    charged = result.gross_returns - result.returns
    np.testing.assert_allclose(charged[result.rebalance_rows], result.costs, atol=1e-15)
    assert np.sum(charged) == pytest.approx(np.sum(result.costs), abs=1e-14)


# ----- errors ----------------------------------------------------------------------------------

RETURNS = random_returns(np.random.default_rng(9), 60, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "momentum"}, "strategy must be one of"),
        ({"strategy": "min-variance", "target": 0.1}, r"takes the options \['estimator'"),
        ({"strategy": "equal-weight", "estimator": "sample"}, "takes the options none"),
        ({"strategy": "min-variance", "halflife": 10}, "halflife only applies to estimator"),
        ({"strategy": "min-variance", "estimator": "ewma"}, "needs halflife"),
        ({"strategy": "min-variance", "estimator": "shrunk"}, "estimator must be one of"),
        ({"strategy": "hrp", "linkage": "centroid"}, "linkage must be one of"),
        ({"strategy": "target-volatility"}, "needs target="),
        ({"strategy": "target-volatility", "target": -0.1}, "target must be a positive"),
        ({"strategy": "fixed"}, "needs weights="),
        ({"strategy": "fixed", "weights": [0.5, 0.5]}, "weights must have length 3"),
        ({"strategy": "risk-parity", "budgets": [1, 0, 1]}, "budgets must all be > 0"),
        ({"strategy": "max-sharpe", "risk_free_rate": np.nan}, "risk_free_rate must be finite"),
        ({"strategy": "min-variance", "bounds": ([0, 0], 1)}, "length 3"),
        ({"strategy": "min-variance", "periods_per_year": 0}, "periods_per_year"),
        ({"strategy": lambda r: np.ones(3) / 3, "bounds": (0, 1)}, "callable strategy takes"),
        ({"strategy": lambda r: np.ones(2) / 2}, r"shape \(2,\), expected \(3,\)"),
        ({"strategy": lambda r: np.full(3, np.nan)}, "NaN or infinite weights"),
        ({"train_size": 1}, "train_size must be >= 2"),
        ({"train_size": 10.0}, "train_size must be an integer"),
        ({"test_size": 0}, "test_size must be >= 1"),
        ({"train_size": 50, "test_size": 11}, "needs train_size \\+ test_size = 61 rows"),
        ({"transaction_costs": -0.001}, "transaction_costs must be finite and >= 0"),
        ({"transaction_costs": [0.1, 0.1]}, "transaction_costs must have length 3"),
        ({"transaction_costs": np.inf}, "transaction_costs must be finite"),
        ({"transaction_costs": "ten bp"}, "transaction_costs must be a number"),
        ({"previous_weights": [1.0]}, "previous_weights must have length 3"),
    ],
)
def test_bad_arguments_raise_typed_errors(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"strategy": "equal-weight", "train_size": 20, "test_size": 10}
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        walk_forward(RETURNS, **arguments)


@pytest.mark.parametrize(
    ("returns", "message"),
    [
        (np.where(np.arange(60)[:, None] == 3, np.nan, RETURNS), "NaN or infinite"),
        (np.where(np.arange(60)[:, None] == 3, -1.5, RETURNS), "below -1"),
        (RETURNS[:, 0], "2-dimensional"),
        (np.zeros((60, 0)), "no assets"),
    ],
)
def test_bad_returns(returns: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        walk_forward(returns, "equal-weight", train_size=20, test_size=10)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "non-empty"),
        ([[20, 30]], "1-D"),
        ([20.0, 30.0], "integers"),
        ([30, 20], "strictly increasing"),
        ([20, 20], "strictly increasing"),
        ([10, 30], "fewer than train_size = 20 rows"),
        ([20, 60], "past the last row"),
    ],
)
def test_bad_rebalance_rows(rows: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        walk_forward_at(RETURNS, "equal-weight", rebalance_rows=rows, train_size=20)


def test_bad_calendar_arguments() -> None:
    dates = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]")
    with pytest.raises(InvalidInputError, match="frequency must be one of"):
        calendar_rebalance_rows(dates, "weekly", 2)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        calendar_rebalance_rows(dates[::-1], "monthly", 2)
    with pytest.raises(InvalidInputError, match="NaT"):
        calendar_rebalance_rows(np.append(dates, np.datetime64("NaT")), "monthly", 2)
    with pytest.raises(InvalidInputError, match="1-dimensional"):
        calendar_rebalance_rows(dates.reshape(2, -1), "monthly", 2)
    with pytest.raises(InvalidInputError, match="must be dates"):
        calendar_rebalance_rows(["not a date"], "monthly", 2)
    with pytest.raises(InvalidInputError, match="train_size must be >= 2"):
        calendar_rebalance_rows(dates, "monthly", 0)


def test_strategy_failures_name_the_fold() -> None:
    returns = random_returns(np.random.default_rng(10), 80, 12)
    # Ten rows of twelve assets: the sample covariance is singular.
    with pytest.raises(NotPositiveDefiniteError, match=r"^fold 0 \(train rows 0-9, test rows"):
        walk_forward(returns, "min-variance", train_size=10, test_size=10)
    # Ledoit-Wolf is positive definite there.
    walk_forward(returns, "min-variance", train_size=10, test_size=10, estimator="ledoit-wolf")
    with pytest.raises(InfeasibleError, match=r"^fold 0 .*below the minimum") as caught:
        walk_forward(returns, "target-volatility", train_size=40, test_size=10, target=0.001)
    assert caught.value.lower is not None
    assert caught.value.lower > 0.001
    # Infeasible bounds fail before the first fold.
    with pytest.raises(InfeasibleError, match=r"^no fully invested portfolio fits the bounds"):
        walk_forward(returns, "min-variance", train_size=40, test_size=10, bounds=(0.1, 1))
    constant = returns.copy()
    constant[30:50, 2] = 0.0013  # a constant return: its variance is rounding, not exactly 0
    with pytest.raises(InvalidInputError, match=r"^fold 3 .*assets \[2\] have zero variance"):
        walk_forward(constant, "inverse-volatility", train_size=20, test_size=10)


def test_a_drifting_portfolio_that_goes_broke_is_an_error() -> None:
    returns = np.zeros((10, 2))
    returns[6, 1] = 1.5  # the shorted asset gains 150%: value 1 + 2 - 2.5 < 0
    with pytest.raises(InvalidInputError, match=r"fold 0 .*falls to -0\.5 at row 6"):
        walk_forward(
            returns, "fixed", weights=[2.0, -1.0], train_size=5, test_size=5, weight_drift=True
        )
    with pytest.raises(InvalidInputError, match=r"net return at row 6 is -1\.5 < -1"):
        walk_forward(returns, "fixed", weights=[2.0, -1.0], train_size=5, test_size=5)


def test_a_callables_own_errors_propagate_unchanged() -> None:
    def broken(_train: np.ndarray) -> np.ndarray:
        raise RuntimeError("model server down")

    with pytest.raises(RuntimeError, match=r"^model server down$"):
        walk_forward(RETURNS, broken, train_size=20, test_size=10)


def test_an_infeasible_fold_raises_or_holds_minimum_variance_as_asked() -> None:
    from compute import min_variance, sample_covariance

    rng = np.random.default_rng(5)
    returns = rng.normal(0.0, 0.01, (120, 4)) * np.array([1.0, 1.5, 2.0, 2.5])
    returns[:60] -= 0.004  # every asset loses on the first train window: no tangency portfolio
    with pytest.raises(InfeasibleError, match=r"^fold 0 \(train rows 0-59"):
        walk_forward(returns, "max-sharpe", train_size=60, test_size=20)
    result = walk_forward(
        returns, "max-sharpe", train_size=60, test_size=20, on_infeasible="min-variance"
    )
    # Exactly the folds where no asset's (so no long-only portfolio's) mean is above 0.
    hopeless = [k for k in range(3) if returns[20 * k : 20 * k + 60].mean(axis=0).max() <= 0]
    assert hopeless[0] == 0
    assert result.fallback_folds.tolist() == hopeless
    np.testing.assert_allclose(
        result.weights[0], min_variance(sample_covariance(returns[:60])), rtol=0, atol=1e-15
    )
    # A volatility cap below every fold's minimum: each fold holds its least volatile portfolio.
    capped = walk_forward(
        returns,
        "target-volatility",
        train_size=60,
        test_size=20,
        target=1e-4,
        on_infeasible="min-variance",
    )
    assert capped.fallback_folds.tolist() == [0, 1, 2]
    assert (
        walk_forward(
            returns,
            "max-sharpe",
            train_size=60,
            test_size=20,
            on_infeasible="min-variance",
            risk_free_rate=-1.0,
        ).fallback_folds.size
        == 0
    )
    with pytest.raises(InvalidInputError, match="on_infeasible must be one of"):
        walk_forward(returns, "max-sharpe", train_size=60, test_size=20, on_infeasible="cash")
    with pytest.raises(InvalidInputError, match="takes the options"):
        walk_forward(returns, "hrp", train_size=60, test_size=20, on_infeasible="min-variance")


# ----- mandates --------------------------------------------------------------------------------


def _favoured(seed: int = 21, rows: int = 260, n_assets: int = 5) -> Any:
    """Returns whose first two assets earn far more than the rest: a limit on them binds."""
    rng = np.random.default_rng(seed)
    returns = random_returns(rng, rows, n_assets)
    returns[:, :2] += 0.002
    return returns


_GROUP = {"favoured": ([0, 1], None, 0.3)}
_OPTIMISERS = [
    ("min-variance", {}),
    ("max-sharpe", {"risk_free_rate": -1.0}),
    ("target-volatility", {"target": 0.3, "on_infeasible": "min-variance"}),
]


def test_the_mean_variance_strategies_take_the_mandate_options() -> None:
    from compute.choices import BACKTEST_MANDATE_OPTIONS

    for strategy in ("min-variance", "max-sharpe", "target-volatility"):
        assert set(BACKTEST_MANDATE_OPTIONS) <= set(STRATEGY_OPTIONS[strategy])
    for strategy in ("equal-weight", "inverse-volatility", "risk-parity", "hrp", "fixed"):
        assert not set(BACKTEST_MANDATE_OPTIONS) & set(STRATEGY_OPTIONS[strategy])
    with pytest.raises(InvalidInputError, match="takes the options"):
        walk_forward(_favoured(), "hrp", train_size=60, test_size=50, groups=_GROUP)


@pytest.mark.parametrize(("strategy", "options"), _OPTIMISERS, ids=[s for s, _ in _OPTIMISERS])
@pytest.mark.parametrize("weight_drift", [False, True])
def test_a_group_limit_holds_at_every_rebalance(
    strategy: str, options: dict[str, Any], weight_drift: bool
) -> None:
    returns = _favoured()
    common: dict[str, Any] = {"train_size": 60, "test_size": 50, "weight_drift": weight_drift}
    free = walk_forward(returns, strategy, **common, **options)
    held = walk_forward(returns, strategy, **common, **options, groups=_GROUP)
    if strategy != "min-variance":  # the favoured assets are what the unconstrained one buys
        assert np.max(free.weights[:, :2].sum(axis=1)) > 0.3 + 1e-3
    assert np.all(held.weights[:, :2].sum(axis=1) <= 0.3 + 1e-8)
    np.testing.assert_allclose(held.weights.sum(axis=1), 1.0, rtol=0, atol=1e-9)
    assert np.all(held.weights >= -1e-9)
    # Each rebalance is the optimiser's answer under the group limit on its train window.
    if strategy == "min-variance":
        for k in range(held.weights.shape[0]):
            window = returns[50 * k : 50 * k + 60]
            expected = min_variance(sample_covariance(window), groups=_GROUP)
            np.testing.assert_allclose(held.weights[k], expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("weight_drift", [False, True])
def test_a_turnover_limit_holds_at_every_rebalance_after_the_first(weight_drift: bool) -> None:
    returns = _favoured(seed=4, rows=400)
    common: dict[str, Any] = {
        "train_size": 60,
        "test_size": 20,
        "weight_drift": weight_drift,
        "risk_free_rate": -1.0,
    }
    free = walk_forward(returns, "max-sharpe", **common)
    assert np.max(free.turnover[1:]) > 0.15 + 1e-3  # the limit below binds
    limited = walk_forward(returns, "max-sharpe", **common, turnover=0.15)
    # The first rebalance buys in from cash, unlimited; every later one trades at most 0.15
    # from the weights held just before it (drifted, with drift).
    np.testing.assert_allclose(limited.turnover[0], 1.0, rtol=0, atol=1e-9)
    assert np.all(limited.turnover[1:] <= 0.15 + 1e-8)
    assert np.max(limited.turnover[1:]) > 0.15 - 1e-6  # and it binds somewhere
    # From given previous weights the first rebalance is limited too.
    start = np.full(5, 0.2)
    begun = walk_forward(returns, "max-sharpe", **common, turnover=0.15, previous_weights=start)
    assert np.all(begun.turnover <= 0.15 + 1e-8)
    assert np.abs(begun.weights[0] - start).sum() <= 0.15 + 1e-8


def test_cost_rates_steer_the_optimiser_against_the_weights_before() -> None:
    returns = _favoured(seed=8, rows=400)
    common: dict[str, Any] = {"train_size": 60, "test_size": 20, "risk_free_rate": -1.0}
    free = walk_forward(returns, "max-sharpe", **common)
    costly = walk_forward(returns, "max-sharpe", **common, costs=0.02)
    # Trading is expensive: the optimiser trades less after buying in.
    assert costly.turnover[1:].sum() < free.turnover[1:].sum() - 1e-3
    # Each rebalance maximises the Sharpe ratio net of trading from the previous target
    # (constant weights: the weights before are the previous fold's).
    for k in (0, 1, 5):
        window = returns[20 * k : 20 * k + 60]
        before = np.zeros(5) if k == 0 else costly.weights[k - 1]
        expected = max_sharpe(
            mean_returns(window),
            sample_covariance(window),
            -1.0,
            costs=(before, np.full(5, 0.02)),
        )
        np.testing.assert_allclose(costly.weights[k], expected, rtol=0, atol=1e-9)
    # The rates only steer: what a rebalance is charged is transaction_costs (0 here).
    np.testing.assert_array_equal(costly.costs, 0.0)


def test_an_infeasible_fold_falls_back_to_minimum_variance_under_the_mandate() -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0, 0.01, (120, 4)) * np.array([1.0, 1.5, 2.0, 2.5])
    returns[:60] -= 0.004  # no tangency portfolio on the first train window
    group = {"pair": ([2, 3], 0.5, None)}
    result = walk_forward(
        returns,
        "max-sharpe",
        train_size=60,
        test_size=20,
        on_infeasible="min-variance",
        groups=group,
    )
    assert result.fallback_folds[0] == 0
    expected = min_variance(sample_covariance(returns[:60]), groups=group)
    np.testing.assert_allclose(result.weights[0], expected, rtol=0, atol=1e-9)
    assert result.weights[0][2:].sum() >= 0.5 - 1e-9


def test_a_mandate_no_weights_meet_fails_before_the_first_fold() -> None:
    from compute.mandates import MandateInfeasibleError

    groups = {"a": ([0, 1], 0.7, None), "b": ([2, 3], 0.6, None)}
    with pytest.raises(MandateInfeasibleError) as caught:
        walk_forward(_favoured(), "min-variance", train_size=60, test_size=50, groups=groups)
    assert not str(caught.value).startswith("fold")
    assert "group 'a' >= 0.7" in caught.value.conflicts
    with pytest.raises(InvalidInputError, match="group 'a'"):
        walk_forward(
            _favoured(), "min-variance", train_size=60, test_size=50, groups={"a": ([9], 0, 1)}
        )
    with pytest.raises(InvalidInputError, match="turnover limit"):
        walk_forward(_favoured(), "min-variance", train_size=60, test_size=50, turnover=-0.1)
    with pytest.raises(InvalidInputError, match="cost rates"):
        walk_forward(_favoured(), "min-variance", train_size=60, test_size=50, costs=-0.01)


def test_drift_out_of_a_group_limit_beyond_the_turnover_limit_trades_back_the_least() -> None:
    from compute.mandates import min_turnover, resolve_mandate

    returns = _favoured(seed=2, rows=200)
    returns[60:80, :2] += 0.02  # the favoured pair rallies: it drifts above its limit
    options: dict[str, Any] = {
        "weight_drift": True,
        "risk_free_rate": -1.0,
        "on_infeasible": "min-variance",
        "groups": _GROUP,
        "turnover": 0.0,
    }
    result = walk_forward(returns, "max-sharpe", train_size=60, test_size=20, **options)
    # Fold 1 starts over the limit: no weights within turnover 0 meet the group, so it trades
    # exactly the least turnover that restores the group, and says so.
    assert 1 in result.stretched_folds.tolist()
    assert np.all(result.weights[:, :2].sum(axis=1) <= 0.3 + 1e-9)
    start = int(result.rows[result.rebalance_rows[1]])
    held = result.weights[0] * np.prod(1.0 + returns[60:start], axis=0)
    held /= held.sum()
    least = min_turnover(resolve_mandate(5, (0, 1), groups=_GROUP, costs=(held, 0.0)))
    assert least > 0.0
    assert result.turnover[1] == pytest.approx(least, rel=1e-6)
    # Every other rebalance keeps to the limit (0: it holds what drift left when that is in).
    others = [k for k in range(1, result.turnover.size) if k not in result.stretched_folds]
    assert np.all(result.turnover[others] <= 1e-9)
