"""The mean-CVaR efficient frontier: the least tail loss for each expected return.

:func:`compute.tail_risk.mean_cvar_frontier` solves Rockafellar & Uryasev's linear programme
over the run's daily returns (each day a scenario) from the minimum-CVaR portfolio (its first
point) to the highest expected return the bounds allow, evenly spaced in return; a portfolio's
mandate (``constraints``: bounds, groups, turnover from its own weights, trading costs) holds
at every point.

Units: ``expectedReturn`` is annualised (``periodsPerYear`` × the mean daily return, less
the one-off ``costs`` of trading to the weights when the mandate has ``costsBps``: one
rebalance a year); ``cvarDaily`` and ``varDaily`` are one-day losses, positive fractions of
value (CVaR: the mean loss on the worst ``1 − beta`` of days; VaR: the boundary of that tail),
not annualised (a tail loss does not scale with √time). The optimiser spreads the trading cost
over a year of holding: each day's loss bears ``costs / periodsPerYear`` of it, so the points
are evenly spaced in the net annual return.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from analyses._common import Weights, by_ticker
from analyses._tail_risk import (
    TailRiskRequest,
    check_observations,
    compute_errors,
    current_weights,
    level,
    limits_of,
    mandate_keywords_of,
    mandate_lines,
    spread_costs,
    work_of,
)
from core.analysis import (
    AS_OF,
    CREATED_AT,
    PORTFOLIO_ID,
    RUN_ID,
    TENANT,
    Analysis,
    Column,
    Endpoint,
    ReportSection,
    ResultTable,
    Rows,
)
from core.models import ResultModel

__all__ = [
    "ANALYSIS",
    "CVAR_FRONTIER_POINTS",
    "CVaRFrontierRequest",
    "CVaRFrontierResult",
    "CVaRPoint",
]


class CVaRFrontierRequest(TailRiskRequest):
    n_points: int = Field(
        default=20, ge=2, le=100, description="Frontier portfolios, from the minimum-CVaR one."
    )


class CVaRPoint(ResultModel):
    """A portfolio on the mean-CVaR axes."""

    expected_return: float = Field(
        description="Annualised: periodsPerYear × mean daily return, less costs (one "
        "rebalance a year)."
    )
    cvar_daily: float = Field(
        description="One-day CVaR at beta: the mean loss on the worst 1 − beta of days (a "
        "positive fraction of value; not annualised)."
    )
    var_daily: float = Field(description="One-day VaR at beta: the tail's boundary loss.")
    weights: Weights
    turnover: float | None = Field(
        default=None,
        description="Σ|w − the portfolio's own weights| (portfolio runs).",
        exclude_if=lambda value: value is None,
    )
    costs: float | None = Field(
        default=None,
        description="The one-off cost of trading to these weights from the portfolio's, a "
        "fraction of value (the mandate's costsBps).",
        exclude_if=lambda value: value is None,
    )


class CVaRFrontierResult(ResultModel):
    """``cvar-frontier``: mean-CVaR efficient portfolios from the minimum-CVaR one, under
    the portfolio's mandate, and the portfolio's own weights on the same axes."""

    points: list[CVaRPoint] = Field(description="Increasing expected return; the first is minCvar.")
    min_cvar: CVaRPoint
    portfolio: CVaRPoint | None = Field(
        default=None,
        description="The portfolio's own weights (portfolio runs only; no trade, no cost).",
        exclude_if=lambda value: value is None,
    )
    beta: float
    periods_per_year: int
    observations: int = Field(description="Days of returns: the scenarios.")
    mandate: list[str] = Field(description="The constraints every point keeps to.")


CVAR_FRONTIER_POINTS = ResultTable(
    "cvar_frontier_points",
    "Run results: mean-CVaR frontier points, one row per point and asset (point 0 is the "
    "minimum-CVaR portfolio).",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        Column("point", "bigint"),
        Column("beta", "double"),
        Column("expected_return", "double"),
        Column("cvar_daily", "double"),
        Column("var_daily", "double"),
        Column("asset", "string"),
        Column("weight", "double"),
        AS_OF,
        CREATED_AT,
    ),
)


def _value_at_risk(losses: Any, beta: float) -> float:
    """The boundary of the worst ``(1 − beta)·T`` losses (compute.tail_risk's VaR)."""
    import math

    import numpy as np

    size = (1.0 - beta) * losses.size
    k = min(max(math.ceil(size - 1e-9 * size), 1), losses.size)
    return float(np.sort(losses)[::-1][k - 1])


def compute(
    request: CVaRFrontierRequest, inputs: Any, weights: Weights | None
) -> CVaRFrontierResult:
    """The frontier under the request's bounds and the portfolio's mandate, its minimum-CVaR
    end, and the portfolio's own point."""
    import numpy as np

    from compute.tail_risk import cvar, mean_cvar_frontier

    returns = inputs.returns
    check_observations(returns)
    tickers: list[str] = inputs.tickers
    keywords = mandate_keywords_of(request, inputs, weights)
    ppy = request.periods_per_year
    with compute_errors("CVaR frontier"):
        frontier = mean_cvar_frontier(
            returns, n_points=request.n_points, beta=request.beta, **spread_costs(keywords, ppy)
        )
    mu = returns.mean(axis=0)
    held = current_weights(tickers, weights)
    current = None if held is None else np.asarray(held)
    rates = keywords["costs"][1] if "costs" in keywords else None

    def point(w: Any, risk: float, var: float) -> CVaRPoint:
        traded = None if current is None else np.abs(w - current)
        cost = None if rates is None or traded is None else float(rates @ traded)
        return CVaRPoint(
            expected_return=float(mu @ w) * ppy - (cost or 0.0),
            cvar_daily=float(risk),
            var_daily=float(var),
            weights=by_ticker(tickers, w),
            turnover=None if traded is None else float(traded.sum()),
            costs=cost,
        )

    points = [
        point(w, c, v)
        for w, c, v in zip(frontier.weights, frontier.cvar, frontier.value_at_risk, strict=True)
    ]
    own = None
    if current is not None:
        own = CVaRPoint(
            expected_return=float(mu @ current) * ppy,
            cvar_daily=cvar(current, returns, request.beta),
            var_daily=_value_at_risk(-(returns @ current), request.beta),
            weights=by_ticker(tickers, current),
            turnover=0.0,
        )
    return CVaRFrontierResult(
        points=points,
        min_cvar=points[0],
        portfolio=own,
        beta=request.beta,
        periods_per_year=ppy,
        observations=int(returns.shape[0]),
        mandate=mandate_lines(keywords, tickers),
    )


def rows(result: CVaRFrontierResult) -> Rows:
    """Every point, one row per asset (point 0: the minimum-CVaR portfolio)."""
    columns: dict[str, list[Any]] = {c.name: [] for c in CVAR_FRONTIER_POINTS.data_columns}
    for index, p in enumerate(result.points):
        for asset, weight in p.weights.items():
            columns["point"].append(index)
            columns["beta"].append(result.beta)
            columns["expected_return"].append(p.expected_return)
            columns["cvar_daily"].append(p.cvar_daily)
            columns["var_daily"].append(p.var_daily)
            columns["asset"].append(asset)
            columns["weight"].append(float(weight))
    return {CVAR_FRONTIER_POINTS.name: columns}


def _risk_table(title: str, named: list[tuple[str, Mapping[str, Any]]], beta: float) -> Any:
    from reports.page import Table, num, pct

    return Table(
        title,
        [
            "",
            "Expected return (ann.)",
            f"CVaR {level(beta)} (1 day)",
            f"VaR {level(beta)} (1 day)",
            "Turnover",
        ],
        [
            [
                name,
                pct(p.get("expectedReturn")),
                pct(p.get("cvarDaily")),
                pct(p.get("varDaily")),
                num(p.get("turnover")) if p.get("turnover") is not None else "–",
            ]
            for name, p in named
        ],
    )


def report(view: Any, result: Mapping[str, Any], own: Weights | None, tickers: list[str]) -> None:
    """The frontier (CVaR against return) with the minimum-CVaR portfolio and the portfolio
    marked, the minimum-CVaR weights, the points and the mandate."""
    from reports import charts
    from reports.page import Chart, Table, pct, weights_table

    points = result.get("points") or []
    beta = float(result.get("beta") or 0.95)
    best = result.get("minCvar") or {}
    named = [("Minimum CVaR", best), ("Portfolio", result.get("portfolio"))]
    present = [(name, p) for name, p in named if p]
    view.charts.append(
        Chart(
            "cvar-frontier.png",
            "Mean-CVaR frontier",
            f"{len(points)} portfolios of least one-day CVaR at {level(beta)} (the mean loss on "
            f"the worst {level(1 - beta)} of days) for each annualised expected return"
            + (", under the portfolio's mandate" if len(result.get("mandate") or []) > 1 else "")
            + ", with the minimum-CVaR portfolio"
            + (" and the portfolio's own weights" if result.get("portfolio") else "")
            + " marked.",
            lambda: charts.cvar_frontier_chart(
                [(p["cvarDaily"], p["expectedReturn"]) for p in points],
                [(name, p["cvarDaily"], p["expectedReturn"]) for name, p in present],
                "Mean-CVaR frontier",
                beta=beta,
            ),
        )
    )
    if best.get("weights"):
        view.charts.append(
            Chart(
                "weights.png",
                "Minimum-CVaR weights",
                "Weights of the minimum-CVaR portfolio"
                + (" beside the portfolio's own weights." if own else "."),
                lambda: charts.weights_chart(best["weights"], "Minimum-CVaR weights", own),
            )
        )
    view.tables.append(_risk_table("Marked portfolios", present, beta))
    columns = [("Minimum CVaR", best.get("weights") or {})]
    if len(points) > 1:
        columns.append(("Highest return", points[-1].get("weights") or {}))
    view.tables.append(weights_table(columns + ([("Portfolio", own)] if own else [])))
    view.tables.append(
        _risk_table("Frontier points", [(str(i + 1), p) for i, p in enumerate(points)], beta)
    )
    lines = result.get("mandate") or []
    if lines:
        view.tables.append(Table("Mandate", ["Constraint"], [[line] for line in lines]))
    view.summary = {
        "Expected return": pct(best.get("expectedReturn")),
        f"CVaR {level(beta)} (1 day)": pct(best.get("cvarDaily")),
        f"VaR {level(beta)} (1 day)": pct(best.get("varDaily")),
    }


def _solves(request: CVaRFrontierRequest) -> int:
    """The first point is a cold solve, the highest return another; the others warm-start
    from the point before (measured: ten points cost about one cold solve)."""
    return 2 + request.n_points // 10


ANALYSIS = Analysis(
    name="cvar-frontier",
    label="Mean-CVaR frontier",
    request=CVaRFrontierRequest,
    result=CVaRFrontierResult,
    endpoint=Endpoint(
        path="/optimization/cvar-frontier",
        operation="CvarFrontier",
        function="OptimizationFunction",
        summary="Mean-CVaR efficient frontier (historical scenarios, exact LP), under the "
        "portfolio's mandate",
        example={"nPoints": 10, "beta": 0.9, "maxWeight": 0.8},
    ),
    compute=compute,
    tables=(CVAR_FRONTIER_POINTS,),
    rows=rows,
    report=ReportSection(report, key_chart="cvar-frontier.png"),
    work=work_of(_solves),
    limits=limits_of("CVaR frontier", _solves),
    thinned=("points",),
)
