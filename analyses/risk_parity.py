"""Risk parity (risk budgeting): weights whose risk contributions match the budgets.

The solve is :func:`compute.risk_parity.risk_budget` (Spinu's convex formulation, Newton's
method): minimise ``½ w'Σw − Σ bᵢ ln wᵢ`` and normalise, so that each asset's share of the
portfolio variance ``wᵢ(Σw)ᵢ / w'Σw`` equals its budget ``bᵢ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from analyses._common import (
    OPTIMIZATION_WEIGHTS,
    Performance,
    Weights,
    by_ticker,
    estimates,
    performance,
    weights_rows,
)
from core.analysis import Analysis, DemoRun, Endpoint, ReportSection, Rows
from core.exceptions import UnprocessableError
from core.models import ResultModel, ReturnsRequest, Ticker

__all__ = ["ANALYSIS", "RiskParityMetrics", "RiskParityRequest", "RiskParityResult"]


class RiskParityRequest(ReturnsRequest):
    budgets: dict[Ticker, Annotated[float, Field(gt=0, le=1e6)]] | None = Field(
        default=None, description="Risk budgets per ticker (normalised); equal when omitted."
    )


class RiskParityMetrics(Performance):
    iterations: int = Field(description="Newton iterations of the risk-budgeting solve.")
    max_budget_error: float = Field(description="Largest |risk share − budget| at the answer.")


class RiskParityResult(ResultModel):
    """``risk-parity``: weights whose risk contributions match the budgets."""

    weights: Weights
    risk_contributions: Weights = Field(description="Each asset's share of portfolio risk.")
    metrics: RiskParityMetrics


def _budgets(request: RiskParityRequest, tickers: list[str]) -> Any:
    import numpy as np

    if not request.budgets:
        return None
    unknown = sorted(set(request.budgets) - set(tickers))
    missing = sorted(set(tickers) - set(request.budgets))
    if unknown or missing:
        parts = [f"unknown {', '.join(unknown[:10])}" if unknown else ""]
        parts.append(f"missing {', '.join(missing[:10])}" if missing else "")
        raise UnprocessableError(
            "budgets must name every ticker of the run exactly once: "
            + "; ".join(p for p in parts if p),
            [f"unknown: {', '.join(unknown)}"] if unknown else [f"missing: {', '.join(missing)}"],
        )
    return np.array([request.budgets[t] for t in tickers])


def compute(request: RiskParityRequest, inputs: Any, weights: Weights | None) -> RiskParityResult:
    """Risk-budgeting weights of the run's covariance (equal budgets unless given)."""
    from compute.risk_parity import risk_budget

    mu, cov = estimates(request, inputs.returns)
    rb = risk_budget(cov, _budgets(request, inputs.tickers))
    return RiskParityResult(
        weights=by_ticker(inputs.tickers, rb.weights),
        risk_contributions=by_ticker(inputs.tickers, rb.risk_contributions),
        metrics=RiskParityMetrics(
            **performance(rb.weights, mu, cov).model_dump(),
            iterations=rb.iterations,
            max_budget_error=rb.max_error,
        ),
    )


def rows(result: RiskParityResult) -> Rows:
    return weights_rows(result.weights, result.risk_contributions)


def report(view: Any, result: Mapping[str, Any], own: Weights | None, tickers: list[str]) -> None:
    """Weights (beside the portfolio's), risk contributions, metrics."""
    from reports import charts
    from reports.page import Chart, metrics_table, num, performance_summary, weights_table

    weights, risk = result["weights"], result.get("riskContributions") or {}
    metrics = result.get("metrics") or {}
    view.charts.append(
        Chart(
            "weights.png",
            "Weights",
            "Risk-parity weights" + (" beside the portfolio's own weights." if own else "."),
            lambda: charts.weights_chart(weights, "Risk-parity weights", own),
        )
    )
    if risk:
        view.charts.append(
            Chart(
                "risk-contributions.png",
                "Risk contributions",
                "Each asset's share of portfolio volatility next to its weight; in risk parity "
                "the shares match the risk budgets.",
                lambda: charts.risk_contribution_chart(weights, risk, "Risk contributions"),
            )
        )
    table = metrics_table("Metrics", [("Risk parity", metrics)])
    table.rows[0] += [num(metrics.get("iterations")), f"{metrics.get('maxBudgetError', 0):.1e}"]
    table.header += ["Iterations", "Max budget error"]
    view.tables.append(table)
    columns = [("Weight", weights), ("Risk contribution", risk)]
    view.tables.append(weights_table(columns + ([("Portfolio", own)] if own else [])))
    view.summary = performance_summary(metrics)


ANALYSIS = Analysis(
    name="risk-parity",
    label="Risk parity",
    request=RiskParityRequest,
    result=RiskParityResult,
    endpoint=Endpoint(
        path="/optimization/risk-parity",
        operation="RiskParity",
        function="OptimizationFunction",
        summary="Risk parity / risk budgeting weights",
        example={},
    ),
    compute=compute,
    tables=(OPTIMIZATION_WEIGHTS,),
    rows=rows,
    report=ReportSection(report, key_chart="risk-contributions.png"),
    default_parameters={},
    demo=DemoRun(column="risk par", weights=lambda result: result.get("weights") or {}),
)
