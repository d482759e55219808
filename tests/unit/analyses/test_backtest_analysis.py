"""The backtest analysis: its request, its computation over Inputs, its rows and its limits.

The numerics (folds, drift, costs, metrics) are checked in tests/unit/compute; here, what the
analysis adds: the default strategies, the portfolio's weights held as a strategy and as the
benchmark, a ticker benchmark on the same rows, calendar rebalancing on the lake's dates,
the result's shape and the long-form rows the SQL examples read.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from analyses.backtest import (
    ANALYSIS,
    BACKTEST_METRICS,
    BACKTEST_RETURNS,
    BACKTEST_WEIGHTS,
    BENCHMARK,
    PORTFOLIO,
    BacktestRequest,
    BacktestRunResult,
    rows,
)
from analyses.runner import SYNC_CELL_BUDGET, Inputs, is_quick
from core.exceptions import UnprocessableError
from core.models import AnalysisSpec, DataWindow

TICKERS = ["AAA", "BBB", "CCC", "DDD"]
OWN = {"AAA": 0.4, "BBB": 0.3, "CCC": 0.2, "DDD": 0.1}


def _weekdays(first: date, count: int) -> list[date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _inputs(rows_: int = 700, *, dated: bool = True, seed: int = 3) -> Inputs:
    rng = np.random.default_rng(seed)
    scale = np.array([0.006, 0.009, 0.012, 0.015])
    returns = rng.normal(0.0003, 1.0, (rows_, 4)) * scale
    returns[:, 1] += 0.5 * returns[:, 0]
    window = DataWindow(source="lake" if dated else "inline", tickers=TICKERS, observations=rows_)
    dates = _weekdays(date(2021, 1, 4), rows_) if dated else None
    spy = rng.normal(0.0004, 0.01, rows_)
    return Inputs(returns, TICKERS, window, dates, {"SPY": spy})


def _run(fields: dict[str, Any], inputs: Inputs, own: dict[str, float] | None = OWN) -> Any:
    request = BacktestRequest.model_validate({"portfolioId": "p-1", **fields})
    return ANALYSIS.compute(request, inputs, own)


# ------------------------------------------------------------------ the request
def test_a_portfolio_id_alone_is_a_whole_request_with_documented_defaults() -> None:
    request = BacktestRequest.model_validate({"portfolioId": "p-1"})
    assert request.strategies is None
    assert (request.train_days, request.rebalance, request.costs_bps) == (252, "monthly", 10.0)
    assert (request.weight_drift, request.expand_train, request.benchmark) == (
        True,
        False,
        PORTFOLIO,
    )
    assert request.start is None
    assert request.lookback_days is None
    assert AnalysisSpec(type="backtest").lookback_days is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"strategies": [{"type": "hrp", "target": 0.1}]}, "hrp takes no target"),
        ({"strategies": [{"type": "target-volatility"}]}, "needs target"),
        ({"strategies": [{"type": "fixed", "weights": {"AAA": 0.5}}]}, "must sum to 1"),
        ({"strategies": ["hrp", "hrp"]}, "strategy names repeat: hrp"),
        ({"strategies": ["hrp", {"type": "hrp", "linkage": "ward"}]}, "repeat"),
        ({"strategies": [{"type": "hrp", "label": "benchmark"}]}, "names the benchmark"),
        ({"strategies": ["buy-the-dip"]}, "strategies"),
        ({"strategies": []}, "at least 1"),
        ({"rebalance": 0}, "rebalance"),
        ({"rebalance": "weekly"}, "rebalance"),
        ({"trainDays": 2}, "trainDays"),
        ({"costsBps": -1}, "costsBps"),
        ({"benchmark": "not a ticker"}, "benchmark"),
        ({"returns": {"AAA": [0.0] * 5, "BBB": [0.0] * 5}}, "needs dated returns"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BacktestRequest.model_validate({"portfolioId": "p-1", **fields})


def test_labels_tell_two_runs_of_one_strategy_apart() -> None:
    request = BacktestRequest.model_validate(
        {
            "portfolioId": "p-1",
            "strategies": ["hrp", {"type": "hrp", "linkage": "ward", "label": "hrp ward"}],
        }
    )
    assert request.strategies is not None
    assert len(request.strategies) == 2


# ------------------------------------------------------------------ the computation
def test_the_default_backtest_holds_the_portfolio_against_five_strategies() -> None:
    inputs = _inputs()
    result = _run({}, inputs)
    assert isinstance(result, BacktestRunResult)
    names = [s.name for s in result.strategies]
    assert names == [
        PORTFOLIO,
        "equal-weight",
        "inverse-volatility",
        "risk-parity",
        "hrp",
        "min-variance",
    ]
    assert result.benchmark == PORTFOLIO
    # The portfolio is the benchmark: the same series, a beta of 1 against itself.
    assert result.returns[BENCHMARK] == result.returns[PORTFOLIO]
    held = result.strategies[0]
    assert held.metrics.beta == pytest.approx(1.0)
    assert held.metrics.correlation == pytest.approx(1.0)
    assert held.final_weights == pytest.approx(OWN)
    # Monthly: the first trading day of each month after the 252-row train window.
    assert result.dates is not None
    assert result.start == result.dates[0]
    starts = [result.dates[r] for r in result.rebalance_rows]
    assert all(d.month != p.month for d, p in zip(starts[1:], starts, strict=False))
    assert starts[0] == date(2022, 1, 3)  # row 252 is 2021-12-20; the next month begins 01-03
    assert len(result.weights[PORTFOLIO]) == result.folds == len(result.turnover["hrp"])
    for s in result.strategies:
        assert s.costs == pytest.approx(s.turnover * 10e-4)  # 10 bp of everything traded
        assert s.total_return == pytest.approx(np.prod(1 + np.array(result.returns[s.name])) - 1)
        assert sum(s.final_weights.values()) == pytest.approx(1.0)


def test_a_ticker_benchmark_is_read_on_the_test_rows() -> None:
    inputs = _inputs()
    result = _run({"benchmark": "SPY", "rebalance": 21, "strategies": ["equal-weight"]}, inputs)
    assert result.benchmark == "SPY"
    assert result.returns[BENCHMARK] == list(inputs.extra["SPY"][252 : 252 + result.days])
    assert result.days == (700 - 252) // 21 * 21  # the last partial window is dropped
    assert result.benchmark_metrics is not None
    assert result.benchmark_metrics.beta is None
    assert result.strategies[0].metrics.information_ratio is not None
    assert ANALYSIS.extra_tickers is not None
    assert ANALYSIS.extra_tickers(BacktestRequest(portfolio_id="p", benchmark="SPY")) == ["SPY"]
    assert ANALYSIS.extra_tickers(BacktestRequest(portfolio_id="p")) == []


def test_inline_returns_rebalance_every_n_rows_without_dates_or_a_portfolio() -> None:
    inputs = _inputs(200, dated=False)
    result = _run({"trainDays": 60, "rebalance": 20, "benchmark": None}, inputs, own=None)
    assert next(s.name for s in result.strategies) == "equal-weight"  # no portfolio to hold
    assert result.dates is None
    assert result.start is None
    assert result.days == 140
    assert result.rebalance_rows == list(range(0, 140, 20))
    assert BENCHMARK not in result.returns
    assert result.benchmark is None
    # The default benchmark quietly stands down without a portfolio; asked for, it is a 422.
    assert _run({"trainDays": 60, "rebalance": 20}, inputs, own=None).benchmark is None
    with pytest.raises(UnprocessableError, match="needs a portfolioId"):
        _run({"trainDays": 60, "rebalance": 20, "benchmark": "portfolio"}, inputs, own=None)


def test_fixed_weights_of_unknown_tickers_and_too_short_histories_are_422s() -> None:
    inputs = _inputs(300)
    fixed = {"type": "fixed", "weights": {"AAA": 0.5, "ZZZ": 0.5}}
    with pytest.raises(UnprocessableError, match="ZZZ"):
        _run({"strategies": [fixed]}, inputs)
    with pytest.raises(UnprocessableError, match="Too few days to backtest: 300"):
        _run({"trainDays": 290, "rebalance": 21}, inputs)
    with pytest.raises(UnprocessableError, match="Too few days"):
        _run({"trainDays": 299}, _inputs(300))  # no month starts after the train window
    with pytest.raises(UnprocessableError, match="every ticker"):
        _run({"costsBps": {"AAA": 5.0}}, inputs)


def test_an_infeasible_fold_holds_minimum_variance_and_says_so() -> None:
    target = {"type": "target-volatility", "target": 0.0001, "label": "too calm"}
    result = _run({"strategies": [target, "min-variance"], "rebalance": 63}, _inputs())
    calm, least = result.strategies
    assert calm.fallback_rebalances == result.folds  # no fold has a portfolio that calm
    assert least.fallback_rebalances == 0
    assert result.returns["too calm"] == result.returns["min-variance"]
    view = _page(result)
    assert "too calm (" in view.tables[0].note


# ------------------------------------------------------------------ the rows
def test_rows_are_long_form_and_derive_equity_and_drawdown() -> None:
    result = _run({"strategies": ["equal-weight", "hrp"], "benchmark": "SPY"}, _inputs())
    tables = rows(result)
    assert set(tables) == {BACKTEST_RETURNS.name, BACKTEST_WEIGHTS.name, BACKTEST_METRICS.name}
    for table in (BACKTEST_RETURNS, BACKTEST_WEIGHTS, BACKTEST_METRICS):
        assert set(tables[table.name]) == {c.name for c in table.data_columns}
    series = tables[BACKTEST_RETURNS.name]
    assert len(series["strategy"]) == 3 * result.days  # two strategies and the benchmark
    hrp = [i for i, s in enumerate(series["strategy"]) if s == "hrp"]
    r = np.asarray(series["return"])[hrp]
    equity = np.asarray(series["equity"])[hrp]
    assert equity == pytest.approx(np.cumprod(1 + r))
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    assert np.asarray(series["drawdown"])[hrp] == pytest.approx(equity / peak - 1)
    assert [series["date"][i] for i in hrp] == result.dates
    weights = tables[BACKTEST_WEIGHTS.name]
    assert len(weights["asset"]) == 2 * result.folds * 4  # no weights for the benchmark
    first = [i for i, s in enumerate(weights["strategy"]) if s == "hrp"][:4]
    assert [weights["asset"][i] for i in first] == TICKERS
    assert sum(np.asarray(weights["weight"])[first]) == pytest.approx(1.0)
    assert weights["rebalance_date"][first[0]] == result.dates[0]
    metrics = tables[BACKTEST_METRICS.name]
    assert {"sharpe", "beta", "max_drawdown"} <= set(metrics["metric"])
    assert set(metrics["strategy"]) == {"equal-weight", "hrp", BENCHMARK}


# ------------------------------------------------------------------ size
def test_the_synchronous_budget_takes_ten_years_of_a_hundred_assets_not_five_hundred() -> None:
    request = BacktestRequest(portfolio_id="p-1")
    assert is_quick(ANALYSIS, request, 100)
    assert not is_quick(ANALYSIS, request, 500)
    assert ANALYSIS.work is not None
    assert ANALYSIS.work(request, 100) <= SYNC_CELL_BUDGET


# ------------------------------------------------------------------ the tearsheet
def _page(result: BacktestRunResult) -> Any:
    from reports.page import RunView

    view = RunView("r-1", "backtest", "Backtest", "succeeded", "", "")
    assert ANALYSIS.report is not None
    ANALYSIS.report.build(view, result.model_dump(mode="json", by_alias=True), OWN, TICKERS)
    return view


def test_the_tearsheet_has_every_chart_and_the_metrics_side_by_side() -> None:
    result = _run({"strategies": ["fixed", "equal-weight", "hrp"], "benchmark": "SPY"}, _inputs())
    view = _page(result)
    names = [chart.name for chart in view.charts]
    assert names == [
        "equity.png",
        "underwater.png",
        "monthly-returns.png",
        "rolling-sharpe.png",
        "rolling-volatility.png",
        "weights-hrp.png",  # fixed and equal weights hold still: no chart of theirs
        "turnover.png",
    ]
    for chart in view.charts:
        assert chart.png.startswith(b"\x89PNG")
    metrics, drawdowns, facts = view.tables
    assert metrics.header == ["", PORTFOLIO, "equal-weight", "hrp", "benchmark (SPY)"]
    sharpe = next(row for row in metrics.rows if row[0] == "Sharpe ratio")
    assert sharpe[3] == f"{result.strategies[2].metrics.sharpe:.2f}"
    assert drawdowns.title == f"Worst drawdowns — {PORTFOLIO}"
    assert 1 <= len(drawdowns.rows) <= 5
    assert facts.rows[0][1].startswith(f"{result.days:,} (2022-")
    assert set(view.summary) == {"CAGR", "Sharpe ratio", "Max drawdown"}
    assert view.notice == ""


def test_an_inline_tearsheet_says_its_days_are_counted_not_dated() -> None:
    result = _run({"trainDays": 60, "rebalance": 20}, _inputs(200, dated=False), own=None)
    view = _page(result)
    assert "no dates" in view.notice
    assert "monthly-returns.png" not in [chart.name for chart in view.charts]
    drawdowns = next(t for t in view.tables if t.title.startswith("Worst drawdowns"))
    assert all(row[0].startswith("day ") for row in drawdowns.rows)


def test_a_backtest_too_large_for_the_worker_is_refused_before_it_runs() -> None:
    from core.models import run_limit_violations

    daily = [{"type": "max-sharpe", "label": f"ms{i}"} for i in range(12)]
    request = BacktestRequest.model_validate(
        {"portfolioId": "p-1", "strategies": daily, "rebalance": 1}
    )
    [(message, limit)] = run_limit_violations(500, 0, request)
    assert limit == "limit: backtest work"
    assert "Rebalance less often" in message
    # The defaults at the largest run size fit (the worker takes them).
    assert run_limit_violations(500, 0, BacktestRequest(portfolio_id="p-1")) == []
    assert not is_quick(ANALYSIS, BacktestRequest(portfolio_id="p-1"), 500)


def test_the_choice_sets_are_spelled_once() -> None:
    """core may not import compute: the API's estimator names are checked equal here, and the
    request's strategy options follow compute's table."""
    from typing import get_args

    from compute.choices import BACKTEST_STRATEGY_OPTIONS, COVARIANCE_ESTIMATORS
    from core.models import Estimator

    assert get_args(Estimator) == COVARIANCE_ESTIMATORS
    for strategy, options in BACKTEST_STRATEGY_OPTIONS.items():
        takes_bounds = "bounds" in options
        spec = {"type": strategy, "maxWeight": 0.5}
        if strategy == "target-volatility":
            spec["target"] = 0.1
        if takes_bounds:
            BacktestRequest.model_validate({"portfolioId": "p", "strategies": [spec]})
        else:
            with pytest.raises(ValidationError, match="takes no max_weight"):
                BacktestRequest.model_validate({"portfolioId": "p", "strategies": [spec]})


# ------------------------------------------------------------------ the portfolio's mandate
def _mandated(constraints: dict[str, Any], rows_: int = 700) -> Inputs:
    from dataclasses import replace

    from core.models import PortfolioConstraints

    return replace(_inputs(rows_), constraints=PortfolioConstraints.model_validate(constraints))


# AAA and BBB are the least volatile: minimum variance holds far more than 0.4 of them.
_CALM_PAIR = {"groups": [{"name": "calm", "assets": ["AAA", "BBB"], "max": 0.4}]}


def test_the_portfolios_mandate_shapes_the_mean_variance_strategies_only() -> None:
    fields = {"strategies": ["min-variance", "max-sharpe", "hrp"], "rebalance": 63}
    free = _run(fields, _inputs())
    held = _run(fields, _mandated(_CALM_PAIR))
    assert max(sum(row[:2]) for row in free.weights["min-variance"]) > 0.4 + 1e-3
    for name in ("min-variance", "max-sharpe"):
        for row in held.weights[name]:
            assert sum(row[:2]) <= 0.4 + 1e-8
            assert abs(sum(row) - 1.0) <= 1e-9
    assert held.weights["hrp"] == free.weights["hrp"]  # no mandate for HRP
    # The mandate's bounds too.
    capped = _run(fields, _mandated({"maxWeight": 0.35}))
    for name in ("min-variance", "max-sharpe"):
        assert max(max(row) for row in capped.weights[name]) <= 0.35 + 1e-9


def test_the_mandates_turnover_and_costs_steer_the_rebalances() -> None:
    fields = {"strategies": ["max-sharpe"], "rebalance": 21, "riskFreeRate": -0.5}
    free = _run(fields, _inputs())
    assert max(free.turnover["max-sharpe"][1:]) > 0.1 + 1e-3
    held = _run(fields, _mandated({"turnover": 0.1, "costsBps": 25}))
    turnover = held.turnover["max-sharpe"]
    assert turnover[0] == pytest.approx(1.0)  # bought in from cash: not limited
    assert max(turnover[1:]) <= 0.1 + 1e-8
    # The mandate's costs are what each rebalance is charged, unless the request says.
    costs = held.costs["max-sharpe"]
    np.testing.assert_allclose(costs, np.asarray(turnover) * 25e-4, rtol=1e-12, atol=1e-15)
    asked = _run({**fields, "costsBps": 5}, _mandated({"turnover": 0.1, "costsBps": 25}))
    np.testing.assert_allclose(
        asked.costs["max-sharpe"], np.asarray(asked.turnover["max-sharpe"]) * 5e-4, rtol=1e-12
    )


def test_a_strategy_spec_replaces_or_leaves_out_the_mandate() -> None:
    strategies = [
        {"type": "min-variance", "label": "mandate"},
        {"type": "min-variance", "label": "free", "mandate": False},
        {"type": "min-variance", "label": "narrower", "maxWeight": 0.3},
        {"type": "max-sharpe", "label": "patient", "turnover": 0.05},
    ]
    # Constant weights: the weights before each rebalance (the previous target) meet the
    # bounds, so a small turnover limit always leaves a portfolio to hold.
    fields = {
        "strategies": strategies,
        "rebalance": 63,
        "riskFreeRate": -0.5,
        "weightDrift": False,
    }
    inputs = _mandated({"maxWeight": 0.45, **_CALM_PAIR, "turnover": 0.5})
    result = _run(fields, inputs)
    plain = _run({"strategies": ["min-variance"], "rebalance": 63, "weightDrift": False}, _inputs())
    assert result.weights["free"] == plain.weights["min-variance"]
    assert all(max(row) <= 0.45 + 1e-9 for row in result.weights["mandate"])
    # maxWeight replaces the mandate's bounds (here the tighter one binds); its groups still
    # hold.
    assert all(max(row) <= 0.3 + 1e-9 for row in result.weights["narrower"])
    assert any(max(row) > 0.3 + 1e-6 for row in result.weights["mandate"])
    assert all(sum(row[:2]) <= 0.4 + 1e-8 for row in result.weights["narrower"])
    assert max(result.turnover["patient"][1:]) <= 0.05 + 1e-8


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "hrp", "mandate": False}, "hrp takes no mandate"),
        ({"type": "risk-parity", "turnover": 0.1}, "risk-parity takes no turnover"),
        ({"type": "min-variance", "turnover": 3}, "turnover"),
    ],
)
def test_mandate_options_of_strategies_that_take_none_are_refused(
    spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        BacktestRequest.model_validate({"portfolioId": "p-1", "strategies": [spec]})


def test_a_mandate_a_rebalance_cannot_meet_is_a_422_naming_the_strategy() -> None:
    fields = {"strategies": ["min-variance"], "rebalance": 63}
    crowded = {
        "groups": [
            {"name": "calm", "assets": ["AAA", "BBB"], "min": 0.7},
            {"name": "wild", "assets": ["CCC", "DDD"], "min": 0.6},
        ]
    }
    with pytest.raises(UnprocessableError, match="Strategy min-variance could not be backtested"):
        _run(fields, _mandated(crowded))
