"""The efficient-frontier analysis under a portfolio's mandate and views (synthetic Inputs).

The numerics (the critical line under linear constraints, Black-Litterman) are checked in
tests/unit/compute; here, what the analysis does with them: the mandate shapes every portfolio
of the run while the unconstrained frontier stays beside it, the request's bounds give way to
the mandate's, costs make the mandate's returns net, views replace the estimates, and the rows
and the report tell the two frontiers apart.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest

from analyses._common import estimates
from analyses.efficient_frontier import (
    ANALYSIS,
    FRONTIER_POINTS,
    MANDATE,
    UNCONSTRAINED,
    EfficientFrontierRequest,
    FrontierResult,
    rows,
)
from analyses.mandates import posterior_estimates
from analyses.runner import Inputs
from compute.frontier import efficient_frontier, efficient_return
from compute.views import implied_returns
from core.exceptions import UnprocessableError
from core.models import DataWindow, PortfolioConstraints, PortfolioViews, Run, RunStatus
from reports import render_run_report
from tests.unit.reports.test_reports_render import assert_self_contained, png_size

TICKERS = ["AAA", "BBB", "CCC", "DDD", "EEE"]
OWN = {"AAA": 0.3, "BBB": 0.2, "CCC": 0.2, "DDD": 0.15, "EEE": 0.15}
TECH = ["DDD", "EEE"]  # the best earners: an unconstrained max-Sharpe portfolio loads them
# A group limit the unconstrained frontier's upper half breaks.
TECH_CAP = {"groups": [{"name": "tech", "assets": TECH, "max": 0.25}]}
N_POINTS = 12


def _returns() -> Any:
    rng = np.random.default_rng(3)
    scale = np.array([1.0, 1.3, 1.6, 2.0, 2.4])
    drift = np.array([0.0002, 0.0003, 0.0002, 0.0009, 0.0011])
    return rng.normal(0.0, 0.01, (500, 5)) * scale + drift


def _inputs(constraints: dict[str, Any] | None = None, views: dict[str, Any] | None = None) -> Any:
    window = DataWindow(source="lake", tickers=TICKERS, observations=500)
    return replace(
        Inputs(_returns(), TICKERS, window),
        constraints=None
        if constraints is None
        else PortfolioConstraints.model_validate(constraints),
        views=None if views is None else PortfolioViews.model_validate(views),
    )


def _request(**fields: Any) -> EfficientFrontierRequest:
    return EfficientFrontierRequest.model_validate(
        {"portfolioId": "p-1", "nPoints": N_POINTS, **fields}
    )


def _run(inputs: Any, own: dict[str, float] | None = OWN, **fields: Any) -> FrontierResult:
    result = ANALYSIS.compute(_request(**fields), inputs, own)
    assert isinstance(result, FrontierResult)
    return result


def _vector(weights: dict[str, float]) -> Any:
    return np.array([weights[t] for t in TICKERS])


def _tech(weights: dict[str, float]) -> float:
    return sum(weights[t] for t in TECH)


def _estimates() -> tuple[Any, Any]:
    return estimates(_request(), _returns())


# ------------------------------------------------------------------ without a mandate
def test_without_a_mandate_or_views_the_frontier_is_the_requests() -> None:
    result = _run(_inputs(), maxWeight=0.5)
    wire = result.model_dump(mode="json", by_alias=True)
    assert wire["mandate"] is False
    for absent in ("unconstrainedPoints", "unconstrainedMaxSharpe", "priorReturns"):
        assert absent not in wire
    mu, cov = _estimates()
    expected = efficient_frontier(mu, cov, N_POINTS, (0.0, 0.5))
    np.testing.assert_allclose([p.expected_return for p in result.points], expected.returns)
    # A portfolio run measures each point's turnover from the portfolio's weights; no costs.
    for point, weights in zip(result.points, expected.weights, strict=True):
        assert point.turnover == pytest.approx(np.abs(weights - _vector(OWN)).sum(), abs=1e-12)
        assert point.cost is None
    table = rows(result)[FRONTIER_POINTS.name]
    assert set(table["frontier"]) == {MANDATE}
    assert len(table["point"]) == N_POINTS * len(TICKERS)
    # An inline run (no portfolio weights) has no turnover either.
    inline = _run(_inputs(), own=None)
    assert all(p.turnover is None for p in inline.points)
    assert "turnover" not in inline.model_dump(mode="json", by_alias=True)["points"][0]


# ------------------------------------------------------------------ the mandate
def test_a_binding_group_limit_shows_in_every_weight_of_the_mandates_portfolios() -> None:
    result = _run(_inputs(TECH_CAP))
    assert result.mandate is True
    assert result.unconstrained_points is not None
    assert result.unconstrained_max_sharpe is not None
    # Without the mandate the best portfolio holds more tech than the limit allows...
    assert _tech(result.unconstrained_max_sharpe.weights) > 0.25 + 1e-3
    assert max(_tech(p.weights) for p in result.unconstrained_points) > 0.25 + 1e-3
    # ...under it, no portfolio of the run does, and the limit binds.
    for point in result.points:
        assert _tech(point.weights) <= 0.25 + 1e-8
        assert sum(point.weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert _tech(result.max_sharpe.weights) == pytest.approx(0.25, abs=1e-8)
    assert _tech(result.min_variance.weights) <= 0.25 + 1e-8
    assert _tech(result.points[-1].weights) == pytest.approx(0.25, abs=1e-8)


def test_the_unconstrained_frontier_is_never_worse_than_the_mandates() -> None:
    """One-sided: at every return the mandate reaches, the frontier without it is at most as
    volatile; its best Sharpe ratio is at least the mandate's; it reaches as high a return.
    (The sampled points themselves lie at different returns: their Sharpe ratios compare
    nothing.)"""
    result = _run(_inputs({"maxWeight": 0.6, **TECH_CAP}))
    assert result.unconstrained_points is not None
    assert result.unconstrained_max_sharpe is not None
    mu, cov = _estimates()
    for point in result.points:
        free = efficient_return(mu, cov, point.expected_return, (0.0, 1.0))
        assert float(np.sqrt(free @ cov @ free)) <= point.volatility + 1e-10
    assert result.unconstrained_max_sharpe.sharpe >= result.max_sharpe.sharpe - 1e-10
    top = max(p.expected_return for p in result.unconstrained_points)
    assert top >= max(p.expected_return for p in result.points) - 1e-12
    assert result.unconstrained_points[0].volatility <= result.points[0].volatility + 1e-12


def test_the_mandates_bounds_take_precedence_over_the_requests() -> None:
    result = _run(_inputs({"maxWeight": 0.3}), maxWeight=0.9)
    assert result.unconstrained_points is not None
    assert all(max(p.weights.values()) <= 0.3 + 1e-9 for p in result.points)
    assert max(result.max_sharpe.weights.values()) <= 0.3 + 1e-9
    # The comparison frontier keeps the request's bounds.
    assert max(max(p.weights.values()) for p in result.unconstrained_points) > 0.3 + 1e-3
    assert all(max(p.weights.values()) <= 0.9 + 1e-9 for p in result.unconstrained_points)
    # Per-asset bounds of the mandate too.
    floor = _run(_inputs({"assets": {"AAA": {"min": 0.2}}}))
    assert all(p.weights["AAA"] >= 0.2 - 1e-9 for p in floor.points)


def test_costs_make_the_mandates_returns_net_and_turnover_stays_within_its_limit() -> None:
    mandate = {**TECH_CAP, "turnover": 0.5, "costsBps": 50}
    result = _run(_inputs(mandate))
    mu, _ = _estimates()
    own = _vector(OWN)
    for point in result.points:
        w = _vector(point.weights)
        traded = np.abs(w - own)
        assert point.turnover == pytest.approx(traded.sum(), abs=1e-12)
        assert point.turnover <= 0.5 + 1e-8
        assert point.cost == pytest.approx(0.005 * traded.sum(), abs=1e-12)
        assert point.expected_return == pytest.approx(float(w @ mu) - point.cost, abs=1e-10)
    best = _vector(result.max_sharpe.weights)
    assert np.abs(best - own).sum() <= 0.5 + 1e-8
    assert result.max_sharpe.expected_return == pytest.approx(
        float(best @ mu) - 0.005 * np.abs(best - own).sum(), abs=1e-12
    )
    # The unconstrained frontier knows no costs: gross returns, its cost left out.
    assert result.unconstrained_points is not None
    assert all(p.cost is None for p in result.unconstrained_points)
    free = result.unconstrained_points[-1]
    assert free.expected_return == pytest.approx(float(_vector(free.weights) @ mu), abs=1e-12)


def test_a_mandate_no_weights_meet_is_a_422_naming_the_conflict() -> None:
    crowded = {
        "groups": [
            {"name": "tech", "assets": TECH, "min": 0.7},
            {"name": "old", "assets": ["AAA", "BBB"], "min": 0.5},
        ]
    }
    with pytest.raises(UnprocessableError) as caught:
        _run(_inputs(crowded))
    assert "group 'tech' >= 0.7" in caught.value.message
    assert any("group 'old' >= 0.5" in detail for detail in caught.value.details)


# ------------------------------------------------------------------ views
VIEWS = {
    "items": [{"asset": "CCC", "return": 0.3}, {"long": ["AAA"], "short": ["EEE"], "return": 0.05}]
}


def test_views_give_every_portfolio_the_posterior_estimates() -> None:
    result = _run(_inputs(views=VIEWS))
    assert result.mandate is False
    assert result.prior_returns is not None
    assert result.posterior_returns is not None
    mu, cov = _estimates()
    views = PortfolioViews.model_validate(VIEWS)
    post_mu, post_cov = posterior_estimates(views, TICKERS, mu, cov, OWN)
    np.testing.assert_allclose(_vector(result.posterior_returns), post_mu, rtol=0, atol=1e-15)
    implied = implied_returns(cov, _vector(OWN), views.risk_aversion)
    np.testing.assert_allclose(_vector(result.prior_returns), implied, rtol=0, atol=1e-15)
    # The view on CCC pulls its return up from the prior.
    assert result.posterior_returns["CCC"] > result.prior_returns["CCC"] + 0.01
    expected = efficient_frontier(post_mu, post_cov, N_POINTS, (0.0, 1.0))
    np.testing.assert_allclose([p.expected_return for p in result.points], expected.returns)
    np.testing.assert_allclose([p.volatility for p in result.points], expected.volatilities)
    # The historical prior is the sample mean.
    historical = _run(_inputs(views={**VIEWS, "prior": "historical"}))
    assert historical.prior_returns is not None
    np.testing.assert_allclose(_vector(historical.prior_returns), mu, rtol=0, atol=1e-15)


def test_views_and_a_mandate_together() -> None:
    result = _run(_inputs(TECH_CAP, VIEWS))
    assert result.mandate is True
    assert result.posterior_returns is not None
    assert result.unconstrained_points is not None
    assert all(_tech(p.weights) <= 0.25 + 1e-8 for p in result.points)
    mu, cov = _estimates()
    post_mu, _ = posterior_estimates(PortfolioViews.model_validate(VIEWS), TICKERS, mu, cov, OWN)
    top = result.unconstrained_points[-1]
    assert top.expected_return == pytest.approx(float(_vector(top.weights) @ post_mu), abs=1e-12)


# ------------------------------------------------------------------ rows
def test_rows_tell_the_two_frontiers_apart() -> None:
    result = _run(_inputs({**TECH_CAP, "costsBps": 10}))
    assert {c.name for c in FRONTIER_POINTS.data_columns} >= {"frontier", "turnover", "cost"}
    table = rows(result)[FRONTIER_POINTS.name]
    n = len(TICKERS)
    assert table["frontier"] == [MANDATE] * (N_POINTS * n) + [UNCONSTRAINED] * (N_POINTS * n)
    assert table["point"] == [p for p in range(N_POINTS) for _ in TICKERS] * 2
    assert table["asset"] == TICKERS * (2 * N_POINTS)
    first = result.points[0]
    assert table["turnover"][0] == first.turnover
    assert table["cost"][0] == first.cost
    assert table["cost"][N_POINTS * n] is None  # unconstrained points pay no costs
    assert all(t is not None for t in table["turnover"])
    # optimization_weights keeps the mandate's max-Sharpe portfolio.
    weights = rows(result)["optimization_weights"]
    assert weights["weight"] == [result.max_sharpe.weights[a] for a in weights["asset"]]


# ------------------------------------------------------------------ the report
def _report(result: FrontierResult, name: str = "Core") -> Any:
    created = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    run = Run(
        id="r-mandate",
        portfolio_id="p-1",
        type="efficient-frontier",
        parameters={"portfolioId": "p-1", "nPoints": N_POINTS},
        status=RunStatus.SUCCEEDED,
        result=result,
        data_window=DataWindow(
            source="lake",
            tickers=TICKERS,
            observations=500,
            start=date(2022, 5, 2),
            end=date(2024, 4, 30),
        ),
        created_at=created,
        finished_at=created,
    )
    portfolio = {
        "id": "p-1",
        "name": name,
        "description": "",
        "assets": OWN,
        "version": 1,
        "createdAt": created.isoformat(),
        "updatedAt": created.isoformat(),
    }
    return render_run_report(run.model_dump(mode="json", by_alias=True), portfolio)


def test_the_report_draws_both_frontiers_and_the_views() -> None:
    result = _run(_inputs({**TECH_CAP, "costsBps": 10}, VIEWS))
    report = _report(result, name="<script>alert(1)</script>")
    assert set(report.images) == {"frontier.png", "views.png", "weights.png"}
    for image in report.images.values():
        assert png_size(image) == (1200, 675)
    html = assert_self_contained(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Maximum Sharpe (unconstrained)" in html
    assert "Prior and posterior expected returns" in html
    assert result.posterior_returns is not None
    assert f"{result.posterior_returns['CCC'] * 100:.2f}%" in html
    assert "under the portfolio&#39;s mandate (solid)" in html
    assert "Turnover" in html
    # Without the mandate and views: the one frontier, no views chart.
    plain = _report(_run(_inputs()))
    assert set(plain.images) == {"frontier.png", "weights.png"}
    assert plain.images["frontier.png"] != report.images["frontier.png"]
    assert "unconstrained" not in plain.html.decode()
