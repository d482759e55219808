"""The tail-risk analyses (``cvar-frontier``, ``min-cdar``): requests, results over synthetic
Inputs, the portfolio's mandate honoured, rows, report sections, size and limits.

The linear programmes themselves are checked in tests/unit/compute; here, what the analyses
add: the mandate's keywords (a binding group limit, turnover from the portfolio's own weights,
costs), the units (annualised returns, one-day CVaR), the portfolio's own point and drawdowns,
and the long-form rows the SQL examples read.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from analyses.cvar_frontier import ANALYSIS as CVAR_FRONTIER
from analyses.cvar_frontier import CVAR_FRONTIER_POINTS, CVaRFrontierRequest, CVaRFrontierResult
from analyses.cvar_frontier import rows as frontier_rows
from analyses.min_cdar import ANALYSIS as MIN_CDAR
from analyses.min_cdar import CDAR_WEIGHTS, MinCdarRequest, MinCdarResult
from analyses.min_cdar import rows as cdar_rows
from analyses.results import result_datasets, result_tables
from analyses.runner import SYNC_CELL_BUDGET, Inputs, is_quick
from compute.tail_risk import cdar, cvar, mean_cvar_frontier, min_cdar, min_cvar
from core.analysis import Analysis
from core.exceptions import UnprocessableError
from core.models import (
    AnalysisSpec,
    DataWindow,
    PortfolioConstraints,
    Run,
    RunStatus,
    default_analyses,
    run_limit_violations,
)
from reports.page import RunView

TICKERS = ["AAA", "BBB", "CCC", "DDD", "EEE"]
OWN = {"AAA": 0.3, "BBB": 0.25, "CCC": 0.2, "DDD": 0.15, "EEE": 0.1}
DAYS = 400
# The two calmest assets: the minimum-CVaR and minimum-CDaR portfolios want most of them.
CALM = ["AAA", "BBB"]
CALM_LIMIT = 0.3


def _weekdays(first: date, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _returns(seed: int = 5) -> Any:
    rng = np.random.default_rng(seed)
    scale = np.array([0.004, 0.006, 0.011, 0.015, 0.02])
    drift = np.array([0.0001, 0.0002, 0.0005, 0.0008, 0.001])
    market = rng.normal(0.0, 0.006, (DAYS, 1))
    return (
        drift + rng.standard_t(4, (DAYS, 5)) * scale / np.sqrt(2) + market * [0.2, 0.4, 1, 1.3, 1.6]
    )


def _inputs(constraints: dict[str, Any] | None = None, *, dated: bool = True) -> Inputs:
    window = DataWindow(source="lake" if dated else "inline", tickers=TICKERS, observations=DAYS)
    return Inputs(
        _returns(),
        TICKERS,
        window,
        _weekdays(date(2022, 1, 3), DAYS) if dated else None,
        constraints=None
        if constraints is None
        else PortfolioConstraints.model_validate(constraints),
    )


MANDATE: dict[str, Any] = {
    "maxWeight": 0.6,
    "groups": [{"name": "calm", "assets": CALM, "max": CALM_LIMIT}],
    "turnover": 0.8,
    "costsBps": 10,
}


def _frontier(
    fields: dict[str, Any] | None = None, inputs: Inputs | None = None, own: Any = OWN
) -> CVaRFrontierResult:
    request = CVaRFrontierRequest.model_validate({"portfolioId": "p-1", **(fields or {})})
    result = CVAR_FRONTIER.compute(request, inputs or _inputs(), own)
    assert isinstance(result, CVaRFrontierResult)
    return result


def _cdar(
    fields: dict[str, Any] | None = None, inputs: Inputs | None = None, own: Any = OWN
) -> MinCdarResult:
    request = MinCdarRequest.model_validate({"portfolioId": "p-1", **(fields or {})})
    result = MIN_CDAR.compute(request, inputs or _inputs(), own)
    assert isinstance(result, MinCdarResult)
    return result


def _vector(weights: dict[str, float]) -> Any:
    return np.array([weights[t] for t in TICKERS])


# ------------------------------------------------------------------ the requests
def test_a_portfolio_id_alone_is_a_whole_request_with_documented_defaults() -> None:
    frontier = CVaRFrontierRequest.model_validate({"portfolioId": "p-1"})
    assert (frontier.n_points, frontier.beta, frontier.min_weight, frontier.max_weight) == (
        20,
        0.95,
        0.0,
        1.0,
    )
    least = MinCdarRequest.model_validate({"portfolioId": "p-1"})
    assert (least.beta, least.min_weight, least.max_weight) == (0.95, 0.0, 1.0)


@pytest.mark.parametrize("model", [CVaRFrontierRequest, MinCdarRequest])
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"beta": 0.4}, "beta"),
        ({"beta": 1.0}, "beta"),
        ({"beta": "often"}, "beta"),
        ({"minWeight": 0.5, "maxWeight": 0.4}, "minWeight must not exceed maxWeight"),
        ({"maxWeight": 1.5}, "maxWeight"),
        ({"minWeight": -2}, "minWeight"),
        ({"returns": {"AAA": [0.01, 0.02]}}, "at least 2 tickers"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(
    model: type[Any], fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        model.model_validate({"portfolioId": "p-1", **fields})


@pytest.mark.parametrize("points", [1, 101])
def test_the_frontier_takes_2_to_100_points(points: int) -> None:
    with pytest.raises(ValidationError, match="nPoints"):
        CVaRFrontierRequest.model_validate({"portfolioId": "p-1", "nPoints": points})


def test_both_may_be_kept_fresh_but_neither_is_a_default() -> None:
    for entry in (CVAR_FRONTIER, MIN_CDAR):
        assert entry.keeps_fresh
        assert entry.default_parameters is None
        assert AnalysisSpec(type=entry.name, parameters={"beta": 0.9}).lookback_days == 1095
    assert {s.type for s in default_analyses()}.isdisjoint({"cvar-frontier", "min-cdar"})


# ------------------------------------------------------------------ the CVaR frontier
def test_the_frontier_without_a_mandate_is_computes_own() -> None:
    result = _frontier({"nPoints": 6, "beta": 0.9}, own=None)
    returns = _returns()
    exact = mean_cvar_frontier(returns, 6, 0.9)
    assert [p.cvar_daily for p in result.points] == pytest.approx(exact.cvar.tolist(), abs=1e-12)
    assert [p.expected_return for p in result.points] == pytest.approx(
        (exact.returns * 252).tolist(), abs=1e-10
    )
    for point, weights in zip(result.points, exact.weights, strict=True):
        assert _vector(point.weights) == pytest.approx(weights, abs=1e-12)
        # One-day CVaR, as compute.tail_risk.cvar evaluates it at the weights.
        assert point.cvar_daily == pytest.approx(cvar(weights, returns, 0.9), abs=1e-10)
        assert point.turnover is None
        assert point.costs is None
    assert result.min_cvar == result.points[0]
    best = min_cvar(returns, 0.9)
    assert result.min_cvar.cvar_daily == pytest.approx(best.risk, abs=1e-12)
    assert result.min_cvar.var_daily == pytest.approx(best.value_at_risk, abs=1e-12)
    assert (result.beta, result.periods_per_year, result.observations) == (0.9, 252, DAYS)
    assert result.portfolio is None
    assert result.mandate == ["every weight in [0, 1]"]
    returns_ = [p.expected_return for p in result.points]
    assert returns_ == sorted(returns_)
    risks = [p.cvar_daily for p in result.points]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(risks))


def test_the_request_bounds_hold_without_a_mandate() -> None:
    result = _frontier({"nPoints": 4, "maxWeight": 0.35})
    for point in result.points:
        assert max(point.weights.values()) <= 0.35 + 1e-9
        assert sum(point.weights.values()) == pytest.approx(1.0, abs=1e-9)


def test_the_portfolio_mandate_is_honoured_at_every_point() -> None:
    free = _frontier({"nPoints": 8})
    # Unconstrained, the least CVaR holds more of the calm pair than the mandate allows.
    assert sum(free.min_cvar.weights[t] for t in CALM) > CALM_LIMIT + 0.05
    result = _frontier({"nPoints": 8}, _inputs(MANDATE))
    own = _vector(OWN)
    for point in result.points:
        w = _vector(point.weights)
        assert sum(point.weights[t] for t in CALM) <= CALM_LIMIT + 1e-9
        assert w.max() <= 0.6 + 1e-9
        assert w.sum() == pytest.approx(1.0, abs=1e-9)
        assert point.turnover is not None
        assert point.turnover == pytest.approx(np.abs(w - own).sum(), abs=1e-12)
        assert point.turnover <= 0.8 + 1e-9
        assert point.costs == pytest.approx(10e-4 * point.turnover, abs=1e-12)
    # The group limit binds at the minimum-CVaR end.
    assert sum(result.min_cvar.weights[t] for t in CALM) == pytest.approx(CALM_LIMIT, abs=1e-7)
    assert result.min_cvar.cvar_daily > free.min_cvar.cvar_daily
    assert result.mandate == [
        "every weight in [0, 0.6]",
        f"group calm (AAA, BBB) <= {CALM_LIMIT:g}",
        "turnover <= 0.8 from the portfolio's own weights",
        "costs 10 bp of the amount traded",
    ]
    # Net of one rebalance's costs a year; the optimiser spreads them over the year's days.
    best = result.min_cvar
    assert best.costs is not None
    gross = float(_returns().mean(axis=0) @ _vector(best.weights)) * 252
    assert best.expected_return == pytest.approx(gross - best.costs, abs=1e-12)


def test_the_mandate_takes_precedence_over_the_request_bounds() -> None:
    result = _frontier({"nPoints": 3, "maxWeight": 0.21}, _inputs(MANDATE))
    assert max(max(p.weights.values()) for p in result.points) > 0.21 + 1e-3


def test_the_portfolio_own_point_is_on_the_same_axes() -> None:
    result = _frontier({"nPoints": 3, "beta": 0.975})
    own = _vector(OWN)
    assert result.portfolio is not None
    assert result.portfolio.weights == pytest.approx(OWN)
    assert result.portfolio.cvar_daily == pytest.approx(cvar(own, _returns(), 0.975), abs=1e-12)
    assert result.portfolio.expected_return == pytest.approx(
        float(_returns().mean(axis=0) @ own) * 252, abs=1e-12
    )
    assert result.portfolio.turnover == 0.0
    # The minimum-CVaR point is no riskier than the portfolio, and its VaR under its CVaR.
    assert result.min_cvar.cvar_daily <= result.portfolio.cvar_daily + 1e-12
    assert result.portfolio.var_daily <= result.portfolio.cvar_daily


def test_a_mandate_no_weights_meet_is_a_422_naming_the_conflict() -> None:
    impossible = {
        "groups": [
            {"name": "calm", "assets": CALM, "min": 0.7},
            {"name": "wild", "assets": ["DDD", "EEE"], "min": 0.5},
        ]
    }
    with pytest.raises(UnprocessableError, match="no fully invested portfolio") as caught:
        _frontier({"nPoints": 3}, _inputs(impossible))
    assert any("calm" in d for d in caught.value.details)
    assert any("wild" in d for d in caught.value.details)
    with pytest.raises(UnprocessableError, match="no fully invested portfolio"):
        _cdar({}, _inputs(impossible))


def test_frontier_rows_are_long_form_from_the_minimum_cvar_end() -> None:
    result = _frontier({"nPoints": 5})
    table = frontier_rows(result)[CVAR_FRONTIER_POINTS.name]
    assert set(table) == {c.name for c in CVAR_FRONTIER_POINTS.data_columns}
    assert len(table["asset"]) == 5 * len(TICKERS)
    assert table["point"][: len(TICKERS)] == [0] * len(TICKERS)
    first = dict(zip(table["asset"][:5], table["weight"][:5], strict=True))
    assert first == result.min_cvar.weights
    assert set(table["beta"]) == {0.95}
    assert table["cvar_daily"][0] == result.min_cvar.cvar_daily
    assert table["expected_return"][-1] == result.points[-1].expected_return


def test_too_few_days_is_a_422() -> None:
    window = DataWindow(source="inline", tickers=TICKERS, observations=2)
    inputs = Inputs(_returns()[:2], TICKERS, window)
    with pytest.raises(UnprocessableError, match="Too few observations"):
        _frontier({}, inputs)
    with pytest.raises(UnprocessableError, match="Too few observations"):
        _cdar({}, inputs)


# ------------------------------------------------------------------ the minimum CDaR
def test_min_cdar_is_computes_own_with_its_drawdowns() -> None:
    result = _cdar({"beta": 0.9})
    returns = _returns()
    exact = min_cdar(returns, 0.9)
    w = _vector(result.weights)
    assert w == pytest.approx(exact.weights, abs=1e-12)
    assert result.cdar == pytest.approx(exact.risk, abs=1e-12)
    assert result.cdar == pytest.approx(cdar(w, returns, 0.9), abs=1e-10)
    assert result.dar == pytest.approx(exact.value_at_risk, abs=1e-12)
    assert result.expected_return == pytest.approx(float(returns.mean(axis=0) @ w) * 252)
    assert [p.name for p in result.profiles] == ["min CDaR", "equal weight", "portfolio"]
    assert result.dates == _weekdays(date(2022, 1, 3), DAYS)
    assert set(result.drawdowns) == {"min CDaR", "equal weight", "portfolio"}
    for profile in result.profiles:
        series = np.array(result.drawdowns[profile.name])
        assert series.size == DAYS
        assert series.max() <= 0.0
        assert profile.max_drawdown == pytest.approx(-series.min())
        assert profile.average_drawdown == pytest.approx(-series.mean())
        assert profile.underwater_share == pytest.approx(float((series < 0).mean()))
        assert 0 < profile.longest_underwater_days <= DAYS
        assert profile.dar <= profile.cdar <= profile.max_drawdown + 1e-12
    # The uncompounded drawdowns of the weights, from a peak that includes the start.
    cumulative = np.cumsum(returns @ w)
    peak = np.maximum(np.maximum.accumulate(cumulative), 0.0)
    assert result.drawdowns["min CDaR"] == pytest.approx((cumulative - peak).tolist())
    assert result.max_drawdown == result.profiles[0].max_drawdown
    by_name = {p.name: p for p in result.profiles}
    assert by_name["equal weight"].cdar == pytest.approx(cdar(np.full(5, 0.2), returns, 0.9))
    assert by_name["portfolio"].cdar == pytest.approx(cdar(_vector(OWN), returns, 0.9))
    # Least CDaR: no worse than either long-only comparison.
    assert result.cdar <= min(by_name["equal weight"].cdar, by_name["portfolio"].cdar) + 1e-12
    assert result.turnover == pytest.approx(np.abs(w - _vector(OWN)).sum())
    assert result.costs is None


def test_min_cdar_honours_the_mandate() -> None:
    free = _cdar({})
    assert sum(free.weights[t] for t in CALM) > CALM_LIMIT + 0.05
    result = _cdar({}, _inputs(MANDATE))
    w = _vector(result.weights)
    assert sum(result.weights[t] for t in CALM) == pytest.approx(CALM_LIMIT, abs=1e-7)
    assert w.max() <= 0.6 + 1e-9
    assert result.turnover is not None
    assert result.turnover <= 0.8 + 1e-9
    assert result.costs is not None
    assert result.costs == pytest.approx(10e-4 * result.turnover)
    # The cost is paid on the path's first day.
    assert result.cdar == pytest.approx(cdar(w, _returns(), cost=result.costs), abs=1e-10)
    assert result.cdar > free.cdar
    assert len(result.mandate) == 4


def test_inline_returns_have_no_dates_and_no_portfolio_profile() -> None:
    result = _cdar({}, _inputs(dated=False), own=None)
    assert result.dates is None
    assert [p.name for p in result.profiles] == ["min CDaR", "equal weight"]
    assert result.turnover is None


def test_cdar_rows_repeat_the_run_measures_on_each_asset() -> None:
    result = _cdar({})
    table = cdar_rows(result)[CDAR_WEIGHTS.name]
    assert set(table) == {c.name for c in CDAR_WEIGHTS.data_columns}
    assert dict(zip(table["asset"], table["weight"], strict=True)) == result.weights
    for column, value in (
        ("beta", 0.95),
        ("cdar", result.cdar),
        ("dar", result.dar),
        ("max_drawdown", result.max_drawdown),
        ("expected_return", result.expected_return),
    ):
        assert table[column] == [value] * len(TICKERS)


# ------------------------------------------------------------------ reports
def _view() -> RunView:
    return RunView(id="r-1", type="x", label="x", status="succeeded", created="", finished="")


def test_the_frontier_report_draws_the_frontier_and_the_weights() -> None:
    result = _frontier({"nPoints": 5}, _inputs(MANDATE)).model_dump(mode="json", by_alias=True)
    view = _view()
    assert CVAR_FRONTIER.report is not None
    CVAR_FRONTIER.report.build(view, result, OWN, TICKERS)
    assert [c.name for c in view.charts] == ["cvar-frontier.png", "weights.png"]
    assert CVAR_FRONTIER.report.key_chart == "cvar-frontier.png"
    for chart in view.charts:
        assert chart.png.startswith(b"\x89PNG")
    titles = [t.title for t in view.tables]
    assert titles == ["Marked portfolios", "Weights", "Frontier points", "Mandate"]
    assert len(view.tables[2].rows) == 5
    assert view.tables[3].rows[1] == [f"group calm (AAA, BBB) <= {CALM_LIMIT:g}"]
    assert set(view.summary) == {"Expected return", "CVaR 95 % (1 day)", "VaR 95 % (1 day)"}


def test_the_cdar_report_draws_the_underwater_chart() -> None:
    result = _cdar({}).model_dump(mode="json", by_alias=True)
    view = _view()
    assert MIN_CDAR.report is not None
    MIN_CDAR.report.build(view, result, OWN, TICKERS)
    assert [c.name for c in view.charts] == ["underwater.png", "weights.png"]
    assert view.charts[0].png.startswith(b"\x89PNG")
    drawdowns = view.tables[0]
    assert drawdowns.title == "Drawdowns"
    assert [row[0] for row in drawdowns.rows] == ["Min CDaR", "Equal weight", "Portfolio"]
    assert view.notice == ""
    inline = _cdar({}, _inputs(dated=False), own=None).model_dump(mode="json", by_alias=True)
    view = _view()
    MIN_CDAR.report.build(view, inline, None, TICKERS)
    assert "no dates" in view.notice
    assert view.charts[0].png.startswith(b"\x89PNG")


# ------------------------------------------------------------------ size
def _limits(entry: Analysis) -> Callable[[Any, int], list[tuple[str, str]]]:
    assert entry.limits is not None
    return entry.limits


def _lake(entry: Any, assets: int, lookback: int | None = None, **fields: Any) -> Any:
    body = {"portfolioId": "p-1", **fields}
    if lookback is not None:
        body["lookbackDays"] = lookback
    return entry.request.model_validate(body)


@pytest.mark.parametrize("entry", [CVAR_FRONTIER, MIN_CDAR], ids=lambda e: e.name)
def test_a_portfolio_of_the_usual_size_answers_synchronously(entry: Any) -> None:
    request = _lake(entry, 30)  # three years (the default window) of 30 assets
    assert entry.work(request, 30) <= SYNC_CELL_BUDGET
    assert is_quick(entry, request, 30)
    assert entry.limits(request, 30) == []


@pytest.mark.parametrize(
    ("entry", "assets", "fields"),
    [(CVAR_FRONTIER, 500, {"nPoints": 50}), (MIN_CDAR, 300, {})],
    ids=["cvar-frontier", "min-cdar"],
)
def test_ten_years_of_hundreds_of_assets_go_to_the_worker(
    entry: Any, assets: int, fields: dict[str, Any]
) -> None:
    ten_years = _lake(entry, assets, lookback=3650, **fields)
    assert not is_quick(entry, ten_years, assets)
    assert entry.limits(ten_years, assets) == []


def test_what_the_worker_could_not_solve_is_refused() -> None:
    ten_years = _lake(MIN_CDAR, 2000, lookback=3650)
    # 2,000 assets: every run's own limit, and the minimum CDaR's programme size.
    assert [limit for _, limit in run_limit_violations(2000, 0, ten_years)] == [
        "limit: assets",
        "limit: tail-risk programme size",
    ]
    frontier = _lake(CVAR_FRONTIER, 2000, lookback=3650)
    assert "limit: assets" in [limit for _, limit in run_limit_violations(2000, 0, frontier)]
    refused = _limits(MIN_CDAR)(ten_years, 2000)
    assert [limit for _, limit in refused] == ["limit: tail-risk programme size"]
    assert "2,520 days × 2,000 assets" in refused[0][0]
    twenty_years = _lake(MIN_CDAR, 500, start="2005-01-01", end="2024-12-31")
    assert _limits(MIN_CDAR)(twenty_years, 500) != []
    forty_years = _lake(CVAR_FRONTIER, 500, start="1985-01-01", end="2024-12-31", nPoints=100)
    assert _limits(CVAR_FRONTIER)(forty_years, 500) != []
    assert _limits(CVAR_FRONTIER)(forty_years.model_copy(update={"n_points": 20}), 500) == []


def test_the_inline_size_is_the_rows_given() -> None:
    returns = {t: [0.001] * 50 for t in TICKERS}
    request = CVaRFrontierRequest.model_validate({"returns": returns})
    work = CVAR_FRONTIER.work
    assert work is not None
    assert work(request, 5) < work(
        CVaRFrontierRequest.model_validate({"returns": {t: [0.001] * 500 for t in TICKERS}}), 5
    )


# ------------------------------------------------------------------ the results writer
@pytest.mark.parametrize(
    ("entry", "table", "rows_per_asset"),
    [(CVAR_FRONTIER, CVAR_FRONTIER_POINTS, 4), (MIN_CDAR, CDAR_WEIGHTS, 1)],
    ids=["cvar-frontier", "min-cdar"],
)
def test_the_writer_fills_the_declared_tables(
    entry: Analysis, table: Any, rows_per_asset: int
) -> None:
    points = {"nPoints": 4} if entry is CVAR_FRONTIER else {}
    request = entry.request.model_validate({"portfolioId": "p-1", "beta": 0.9, **points})
    inputs = _inputs(MANDATE)
    result = entry.compute(request, inputs, OWN)
    run = Run(
        id="r-tail",
        portfolio_id="p-1",
        type=entry.name,
        parameters={},
        status=RunStatus.SUCCEEDED,
        data_window=inputs.window.model_copy(update={"end": date(2023, 7, 31)}),
        created_at=datetime(2024, 12, 2, 9, tzinfo=UTC),
        finished_at=datetime(2024, 12, 2, 9, 0, 1, tzinfo=UTC),
    )
    tables = result_tables(run, "acme", result)
    assert list(tables) == [table.name, "run_index"]
    written = tables[table.name]
    assert written.schema == result_datasets()[table.name].schema
    assert written.num_rows == rows_per_asset * len(TICKERS)
    assert set(written.column("run_id").to_pylist()) == {"r-tail"}
    assert set(written.column("portfolio_id").to_pylist()) == {"p-1"}
    assert set(written.column("as_of").to_pylist()) == {date(2023, 7, 31)}
    assert set(written.column("beta").to_pylist()) == {0.9}
