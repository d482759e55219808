"""The long-only (bounded) efficient frontier, exactly: Markowitz's critical line.

:func:`compute.frontier.efficient_frontier` traces the frontier's corner portfolios (the
critical line algorithm) and samples it; the minimum-variance and maximum-Sharpe portfolios
are exact solutions of their own problems (``min w'Σw`` and ``max (w'μ − r_f)/√(w'Σw)``
under ``Σw = 1``, ``lo ≤ w ≤ hi``).

A portfolio's mandate and views (portfolio runs; ``analyses.runner.Inputs.constraints`` and
``.views``):

* **views**: the expected returns and covariance are the Black-Litterman posterior of the
  portfolio's views (``analyses.mandates.posterior_estimates``) for every portfolio of the
  run; the result gives the prior and posterior returns per ticker.
* **constraints**: the frontier (``points``) and its minimum-variance and maximum-Sharpe
  portfolios keep to the mandate: its per-asset bounds, which take precedence over the
  request's ``minWeight``/``maxWeight`` (those apply only without a mandate), its group limits,
  its turnover limit from the portfolio's own weights and its costs (then every return of the
  constrained portfolios is net of the cost of trading to them from the portfolio's weights).
  ``unconstrainedPoints`` is the same frontier under only the request's bounds (long only by
  default; no groups, turnover or costs, gross returns) and ``unconstrainedMaxSharpe`` its
  maximum-Sharpe portfolio, so the report can draw what the mandate costs. A mandate no weights
  can meet is a 422 naming the constraints in conflict.
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
from core.exceptions import UnprocessableError
from core.models import FiniteFloat, ResultModel, ReturnsRequest

__all__ = [
    "ANALYSIS",
    "FRONTIER_POINTS",
    "MANDATE",
    "UNCONSTRAINED",
    "EfficientFrontierRequest",
    "FrontierMetrics",
    "FrontierPoint",
    "FrontierResult",
]


# The ``frontier`` column of frontier_points: the run's frontier (``points``: the mandate's,
# or the request's bounds' without one) and, with a mandate, the frontier without it.
MANDATE = "mandate"
UNCONSTRAINED = "unconstrained"


class EfficientFrontierRequest(ReturnsRequest):
    n_points: int = Field(default=50, ge=2, le=500)
    risk_free_rate: FiniteFloat = Field(default=0.0, ge=-1, le=1)
    min_weight: FiniteFloat = Field(
        default=0.0,
        ge=-1,
        le=1,
        description="Every asset's lower bound; a portfolio's constraints take precedence.",
    )
    max_weight: FiniteFloat = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Every asset's upper bound; a portfolio's constraints take precedence.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> EfficientFrontierRequest:
        if self.min_weight > self.max_weight:
            raise ValueError("minWeight must not exceed maxWeight")
        return self


class FrontierPoint(WeightedPerformance):
    """One point of the efficient frontier."""

    turnover: float | None = Field(
        default=None,
        description="Σ|w − the portfolio's own weights| (portfolio runs).",
        exclude_if=lambda value: value is None,
    )
    cost: float | None = Field(
        default=None,
        description="The mandate's cost of trading to the point from the portfolio's weights "
        "(a fraction of its value; with costsBps). The mandate's points' returns are net of it.",
        exclude_if=lambda value: value is None,
    )


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
    mandate: bool = Field(
        default=False,
        description="Whether the portfolio's constraints shaped points, minVariance and "
        "maxSharpe (their bounds replacing minWeight/maxWeight).",
    )
    unconstrained_points: list[FrontierPoint] | None = Field(
        default=None,
        description="With a mandate: the frontier under only minWeight/maxWeight (no groups, "
        "turnover or costs), for comparison.",
        exclude_if=lambda value: value is None,
    )
    unconstrained_max_sharpe: WeightedPerformance | None = Field(
        default=None,
        description="With a mandate: the maximum-Sharpe portfolio of unconstrainedPoints.",
        exclude_if=lambda value: value is None,
    )
    prior_returns: dict[str, float] | None = Field(
        default=None,
        description="With views: the Black-Litterman prior's expected returns per ticker "
        "(annualised).",
        exclude_if=lambda value: value is None,
    )
    posterior_returns: dict[str, float] | None = Field(
        default=None,
        description="With views: the posterior expected returns every portfolio of the run "
        "is measured with.",
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
        Column("frontier", "string"),
        Column("turnover", "double", nullable=True),
        Column("cost", "double", nullable=True),
        AS_OF,
        CREATED_AT,
    ),
)


def _weighted(
    tickers: list[str], weights: Any, mu: Any, cov: Any, cost: float = 0.0
) -> WeightedPerformance:
    """The weights' performance; ``cost`` (of trading to them) comes off the return."""
    measured = performance(weights, mu, cov)
    if cost:
        net = measured.expected_return - cost
        vol = measured.volatility
        measured = measured.model_copy(
            update={"expected_return": net, "sharpe": net / vol if vol > 0 else 0.0}
        )
    return WeightedPerformance(weights=by_ticker(tickers, weights), **measured.model_dump())


def _points(tickers: list[str], frontier: Any, current: Any, rates: Any) -> list[FrontierPoint]:
    """The frontier's points, with their turnover from ``current`` and cost at ``rates``."""
    import numpy as np

    points = []
    for r, v, s, w in zip(
        frontier.returns, frontier.volatilities, frontier.sharpe, frontier.weights, strict=True
    ):
        traded = None if current is None else np.abs(w - current)
        points.append(
            FrontierPoint(
                expected_return=float(r),
                volatility=float(v),
                sharpe=float(s),
                weights=by_ticker(tickers, w),
                turnover=None if traded is None else float(traded.sum()),
                cost=None if traded is None or rates is None else float(rates @ traded),
            )
        )
    return points


def _infeasible(error: Any) -> UnprocessableError:
    conflicts = list(getattr(error, "conflicts", ()))
    return UnprocessableError(
        "No weights meet the portfolio's constraints on this run's assets: "
        + "; ".join(conflicts)
        + " cannot all hold together.",
        [f"constraints: {conflict}" for conflict in conflicts]
        or ["constraints: loosen the mandate"],
    )


def compute(
    request: EfficientFrontierRequest, inputs: Any, weights: Weights | None
) -> FrontierResult:
    """The frontier's points, its two marked portfolios, and the portfolio's own point; under
    the portfolio's mandate and with its views' posterior when it has them."""
    import numpy as np

    from compute.exceptions import InfeasibleError
    from compute.frontier import critical_line
    from compute.mandates import MandateInfeasibleError

    mu, cov = estimates(request, inputs.returns)
    tickers = inputs.tickers
    constraints = getattr(inputs, "constraints", None)
    views = getattr(inputs, "views", None)
    held = np.array([float((weights or {}).get(t, 0.0)) for t in tickers])
    current = held if weights else None
    prior: dict[str, float] | None = None
    posterior: dict[str, float] | None = None
    if views is not None:
        from analyses.mandates import posterior as blend

        blended = blend(views, tickers, mu, cov, weights)
        mu, cov = blended.mu, blended.cov
        prior = by_ticker(tickers, blended.prior)
        posterior = by_ticker(tickers, mu)
    request_bounds = (request.min_weight, request.max_weight)
    mandate: dict[str, Any] = {}
    if constraints is not None:
        from analyses.mandates import mandate_keywords

        mandate = mandate_keywords(constraints, tickers, weights)
    bounds = mandate.pop("bounds", request_bounds)
    rates = mandate["costs"][1] if "costs" in mandate else None
    rf = request.risk_free_rate
    try:
        # One pass of the (mandate's) critical line gives all three exactly.
        line = critical_line(mu, cov, bounds, **mandate)
    except MandateInfeasibleError as error:
        raise _infeasible(error) from None
    frontier = line.frontier(request.n_points, rf)
    w_min = line.weights[0]
    w_sharpe = line.max_sharpe(rf)

    def cost(w: Any) -> float:
        return 0.0 if rates is None or current is None else float(rates @ np.abs(w - current))

    free: list[FrontierPoint] | None = None
    free_sharpe: WeightedPerformance | None = None
    if constraints is not None:
        free_line = critical_line(mu, cov, request_bounds)
        free = _points(tickers, free_line.frontier(request.n_points, rf), current, None)
        try:
            free_sharpe = _weighted(tickers, free_line.max_sharpe(rf), mu, cov)
        except InfeasibleError:
            free_sharpe = None  # no portfolio above the risk-free rate without the mandate
    own = None
    if weights and held.sum() > 0:
        own = _weighted(tickers, held / held.sum(), mu, cov)
    points = _points(tickers, frontier, current, rates)
    return FrontierResult(
        points=points,
        min_variance=_weighted(tickers, w_min, mu, cov, cost(w_min)),
        max_sharpe=_weighted(tickers, w_sharpe, mu, cov, cost(w_sharpe)),
        metrics=FrontierMetrics(points=len(points), risk_free_rate=rf),
        portfolio=own,
        mandate=constraints is not None,
        unconstrained_points=free,
        unconstrained_max_sharpe=free_sharpe,
        prior_returns=prior,
        posterior_returns=posterior,
    )


def rows(result: FrontierResult) -> Rows:
    """The max-Sharpe weights (the frontier's recommended portfolio) and every point of both
    frontiers (``frontier``: ``mandate`` for ``points``, ``unconstrained`` for the others)."""
    columns: dict[str, list[Any]] = {c.name: [] for c in FRONTIER_POINTS.data_columns}
    for name, points in (
        (MANDATE, result.points),
        (UNCONSTRAINED, result.unconstrained_points or []),
    ):
        for index, point in enumerate(points):
            for asset, weight in point.weights.items():
                columns["point"].append(index)
                columns["expected_return"].append(point.expected_return)
                columns["volatility"].append(point.volatility)
                columns["sharpe"].append(point.sharpe)
                columns["asset"].append(asset)
                columns["weight"].append(float(weight))
                columns["frontier"].append(name)
                columns["turnover"].append(point.turnover)
                columns["cost"].append(point.cost)
    return {**weights_rows(result.max_sharpe.weights, None), FRONTIER_POINTS.name: columns}


def report(view: Any, result: Mapping[str, Any], own: Weights | None, tickers: list[str]) -> None:
    """The frontier with its marked portfolios (beside the unconstrained frontier under a
    mandate), the prior and posterior returns of views, the max-Sharpe weights, the points."""
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
    free = result.get("unconstrainedPoints") or []
    mandate = bool(result.get("mandate"))
    named = [
        ("Minimum variance", result.get("minVariance")),
        ("Maximum Sharpe", result.get("maxSharpe")),
        ("Portfolio", result.get("portfolio")),
        ("Maximum Sharpe (unconstrained)", result.get("unconstrainedMaxSharpe")),
    ]
    present = [(name, p) for name, p in named if p]
    if free:
        caption = (
            f"{len(points)} efficient portfolios under the portfolio's mandate (solid) beside "
            f"the {len(free)} of the frontier with only the request's bounds (dashed): "
            "annualised volatility against expected return"
            + (", the mandate's net of trading costs" if _costed(points) else "")
            + ", the maximum-Sharpe portfolio of each marked."
        )
    else:
        caption = (
            f"{len(points)} efficient portfolios (annualised volatility against expected "
            "return) with the minimum-variance and maximum-Sharpe portfolios"
            + (" and the portfolio's own point" if result.get("portfolio") else "")
            + " marked."
        )
    line = [(p["volatility"], p["expectedReturn"]) for p in points]
    dashed = [(p["volatility"], p["expectedReturn"]) for p in free] or None
    marks = [(name, p["volatility"], p["expectedReturn"]) for name, p in present]
    view.charts.append(
        Chart(
            "frontier.png",
            "Efficient frontier" + (" under the mandate" if mandate else ""),
            caption,
            lambda: charts.frontier_chart(line, marks, "Efficient frontier", unconstrained=dashed),
        )
    )
    prior = result.get("priorReturns") or {}
    posterior = result.get("posteriorReturns") or {}
    if prior and posterior:
        view.charts.append(
            Chart(
                "views.png",
                "Prior and posterior expected returns",
                "Each asset's annualised expected return before the portfolio's views (the "
                "Black-Litterman prior) and after them (the posterior every portfolio here is "
                "measured with).",
                lambda: charts.expected_returns_chart(
                    prior, posterior, "Prior vs posterior expected returns"
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
                + (" under the mandate" if mandate else "")
                + (" beside the portfolio's own weights." if own else "."),
                lambda: charts.weights_chart(best["weights"], "Maximum-Sharpe weights", own),
            )
        )
    view.tables.append(metrics_table("Marked portfolios", present))
    short = {"Maximum Sharpe (unconstrained)": "Unconstrained max Sharpe"}
    view.tables.append(
        weights_table(
            [
                (short.get(name, name), p.get("weights") or {})
                for name, p in present
                if p.get("weights")
            ]
        )
    )
    if prior and posterior:
        order = sorted(posterior, key=lambda t: (-posterior[t], t))
        view.tables.append(
            Table(
                "Expected returns",
                ["Asset", "Prior (ann.)", "Posterior (ann.)", "Change"],
                [
                    [
                        t,
                        pct(prior.get(t)),
                        pct(posterior.get(t)),
                        pct(posterior[t] - prior[t] if t in prior else None),
                    ]
                    for t in order
                ],
                "Black-Litterman: the prior blended with the portfolio's views.",
            )
        )
    traded = any(p.get("turnover") is not None for p in points)
    costed = _costed(points)
    header = ["#", "Expected return (ann.)", "Volatility (ann.)", "Sharpe ratio"]
    header += ["Turnover"] if traded else []
    header += ["Cost"] if costed else []
    view.tables.append(
        Table(
            "Frontier points" + (" under the mandate" if mandate else ""),
            header,
            [
                [
                    str(i + 1),
                    pct(p.get("expectedReturn")),
                    pct(p.get("volatility")),
                    num(p.get("sharpe")),
                    *([pct(p.get("turnover"))] if traded else []),
                    *([pct(p.get("cost"))] if costed else []),
                ]
                for i, p in enumerate(points)
            ],
            (
                "Turnover: Σ|w − the portfolio's own weights|; the expected returns are net of "
                "the cost of that trade."
                if costed
                else ("Turnover: Σ|w − the portfolio's own weights|." if traded else "")
            ),
        )
    )
    view.summary = performance_summary(best or {})


def _costed(points: list[Any]) -> bool:
    return any(p.get("cost") is not None for p in points)


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
    thinned=("points", "unconstrained_points"),
    demo=DemoRun(
        {"nPoints": 20},
        column="max Sharpe",
        weights=lambda result: (result.get("maxSharpe") or {}).get("weights") or {},
    ),
)
