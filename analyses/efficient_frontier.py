"""The long-only (bounded) efficient frontier, exactly: Markowitz's critical line.

:func:`compute.frontier.efficient_frontier` traces the frontier's corner portfolios (the
critical line algorithm) and samples it; the minimum-variance and maximum-Sharpe portfolios
are exact solutions of their own problems (``min w'Σw`` and ``max (w'μ − r_f)/√(w'Σw)``
under ``Σw = 1``, ``lo ≤ w ≤ hi``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from analyses._common import (
    OPTIMIZATION_WEIGHTS,
    WeightedPerformance,
    Weights,
    by_ticker,
    estimates,
    performance,
    weights_rows,
)
from core.analysis import (
    AS_OF,
    CREATED_AT,
    PORTFOLIO_ID,
    RUN_ID,
    TENANT,
    Analysis,
    Column,
    DemoRun,
    Endpoint,
    ReportSection,
    ResultTable,
    Rows,
)
from core.models import FiniteFloat, ResultModel, ReturnsRequest

__all__ = [
    "ANALYSIS",
    "FRONTIER_POINTS",
    "EfficientFrontierRequest",
    "FrontierMetrics",
    "FrontierPoint",
    "FrontierResult",
]


class EfficientFrontierRequest(ReturnsRequest):
    n_points: int = Field(default=50, ge=2, le=500)
    risk_free_rate: FiniteFloat = Field(default=0.0, ge=-1, le=1)
    min_weight: FiniteFloat = Field(default=0.0, ge=-1, le=1)
    max_weight: FiniteFloat = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _bounds(self) -> EfficientFrontierRequest:
        if self.min_weight > self.max_weight:
            raise ValueError("minWeight must not exceed maxWeight")
        return self


class FrontierPoint(WeightedPerformance):
    """One point of the efficient frontier."""


class FrontierMetrics(ResultModel):
    points: int
    risk_free_rate: float


class FrontierResult(ResultModel):
    """``efficient-frontier``: the frontier's points, its minimum-variance and maximum-Sharpe
    portfolios, and the portfolio's own weights on the same axes (portfolio runs)."""

    points: list[FrontierPoint]
    min_variance: WeightedPerformance
    max_sharpe: WeightedPerformance
    metrics: FrontierMetrics
    portfolio: WeightedPerformance | None = Field(
        default=None,
        description="The portfolio's own weights (portfolio runs only).",
        exclude_if=lambda value: value is None,
    )


FRONTIER_POINTS = ResultTable(
    "frontier_points",
    "Run results: efficient-frontier points, one row per point and asset.",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        Column("point", "bigint"),
        Column("expected_return", "double"),
        Column("volatility", "double"),
        Column("sharpe", "double"),
        Column("asset", "string"),
        Column("weight", "double"),
        AS_OF,
        CREATED_AT,
    ),
)


def _weighted(tickers: list[str], weights: Any, mu: Any, cov: Any) -> WeightedPerformance:
    return WeightedPerformance(
        weights=by_ticker(tickers, weights), **performance(weights, mu, cov).model_dump()
    )


def compute(
    request: EfficientFrontierRequest, inputs: Any, weights: Weights | None
) -> FrontierResult:
    """The frontier's points, its two marked portfolios, and the portfolio's own point."""
    import numpy as np

    from compute.frontier import efficient_frontier, max_sharpe, min_variance

    mu, cov = estimates(request, inputs.returns)
    tickers = inputs.tickers
    bounds = (request.min_weight, request.max_weight)
    frontier = efficient_frontier(mu, cov, n_points=request.n_points, bounds=bounds)
    w_min = min_variance(cov, bounds=bounds)
    w_sharpe = max_sharpe(mu, cov, risk_free_rate=request.risk_free_rate, bounds=bounds)
    points = [
        FrontierPoint(
            expected_return=float(r),
            volatility=float(v),
            sharpe=float(s),
            weights=by_ticker(tickers, w),
        )
        for r, v, s, w in zip(
            frontier.returns, frontier.volatilities, frontier.sharpe, frontier.weights, strict=True
        )
    ]
    own = None
    if weights:
        w = np.array([weights.get(t, 0.0) for t in tickers])
        if w.sum() > 0:
            own = _weighted(tickers, w / w.sum(), mu, cov)
    return FrontierResult(
        points=points,
        min_variance=_weighted(tickers, w_min, mu, cov),
        max_sharpe=_weighted(tickers, w_sharpe, mu, cov),
        metrics=FrontierMetrics(points=len(points), risk_free_rate=request.risk_free_rate),
        portfolio=own,
    )


def rows(result: FrontierResult) -> Rows:
    """The max-Sharpe weights (the frontier's recommended portfolio) and every point."""
    columns: dict[str, list[Any]] = {c.name: [] for c in FRONTIER_POINTS.data_columns}
    for index, point in enumerate(result.points):
        for asset, weight in point.weights.items():
            columns["point"].append(index)
            columns["expected_return"].append(point.expected_return)
            columns["volatility"].append(point.volatility)
            columns["sharpe"].append(point.sharpe)
            columns["asset"].append(asset)
            columns["weight"].append(float(weight))
    return {**weights_rows(result.max_sharpe.weights, None), FRONTIER_POINTS.name: columns}


def report(view: Any, result: Mapping[str, Any], own: Weights | None, tickers: list[str]) -> None:
    """The frontier with its marked portfolios, the max-Sharpe weights, the points."""
    from reports import charts
    from reports.page import (
        Chart,
        Table,
        metrics_table,
        num,
        pct,
        performance_summary,
        weights_table,
    )

    points = result.get("points") or []
    named = [
        ("Minimum variance", result.get("minVariance")),
        ("Maximum Sharpe", result.get("maxSharpe")),
        ("Portfolio", result.get("portfolio")),
    ]
    present = [(name, p) for name, p in named if p]
    view.charts.append(
        Chart(
            "frontier.png",
            "Efficient frontier",
            f"{len(points)} efficient portfolios (annualised volatility against expected return)"
            " with the minimum-variance and maximum-Sharpe portfolios"
            + (" and the portfolio's own point" if result.get("portfolio") else "")
            + " marked.",
            lambda: charts.frontier_chart(
                [(p["volatility"], p["expectedReturn"]) for p in points],
                [(name, p["volatility"], p["expectedReturn"]) for name, p in present],
                "Efficient frontier",
            ),
        )
    )
    best = result.get("maxSharpe")
    if best and best.get("weights"):
        view.charts.append(
            Chart(
                "weights.png",
                "Maximum-Sharpe weights",
                "Weights of the maximum-Sharpe portfolio"
                + (" beside the portfolio's own weights." if own else "."),
                lambda: charts.weights_chart(best["weights"], "Maximum-Sharpe weights", own),
            )
        )
    view.tables.append(metrics_table("Marked portfolios", present))
    view.tables.append(
        weights_table([(name, p.get("weights") or {}) for name, p in present if p.get("weights")])
    )
    view.tables.append(
        Table(
            "Frontier points",
            ["#", "Expected return (ann.)", "Volatility (ann.)", "Sharpe ratio"],
            [
                [
                    str(i + 1),
                    pct(p.get("expectedReturn")),
                    pct(p.get("volatility")),
                    num(p.get("sharpe")),
                ]
                for i, p in enumerate(points)
            ],
        )
    )
    view.summary = performance_summary(best or {})


ANALYSIS = Analysis(
    name="efficient-frontier",
    label="Efficient frontier",
    request=EfficientFrontierRequest,
    result=FrontierResult,
    endpoint=Endpoint(
        path="/optimization/efficient-frontier",
        operation="EfficientFrontier",
        function="OptimizationFunction",
        summary="Long-only (bounded) efficient frontier",
        example={"nPoints": 20},
    ),
    compute=compute,
    tables=(OPTIMIZATION_WEIGHTS, FRONTIER_POINTS),
    rows=rows,
    report=ReportSection(report, key_chart="frontier.png"),
    default_parameters={"nPoints": 20},
    thinned=("points",),
    demo=DemoRun(
        {"nPoints": 20},
        column="max Sharpe",
        weights=lambda result: (result.get("maxSharpe") or {}).get("weights") or {},
    ),
)
