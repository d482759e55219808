"""A toy analysis, defined in the tests only: equal weights and each asset's mean return.

It is what docs/DEVELOPMENT.md's "Adding an analysis" builds, and the plugin test registers
it and takes it through the local stack: API → run worker → Parquet → SQL → report. Nothing
shipped names it; everything learns of it from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from core.analysis import (
    AS_OF,
    CREATED_AT,
    PORTFOLIO_ID,
    RUN_ID,
    RUN_TYPE,
    TENANT,
    Analysis,
    Column,
    Endpoint,
    ReportSection,
    ResultTable,
    Rows,
)
from core.models import ResultModel, ReturnsRequest

__all__ = ["TOY", "TOY_TABLE", "ToyRequest", "ToyResult"]


class ToyRequest(ReturnsRequest):
    """The common returns input, and how many of the best assets the report highlights."""

    highlight: int = Field(default=2, ge=1, le=50)


class ToyResult(ResultModel):
    """Equal weights, and the annualised mean return of each asset."""

    weights: dict[str, float]
    mean_returns: dict[str, float] = Field(description="Annualised mean simple return.")
    best: list[str] = Field(description="The highlighted assets, best mean return first.")


TOY_TABLE = ResultTable(
    "toy_equal_weights",
    "Toy analysis (tests only): equal weights and mean returns per asset.",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        RUN_TYPE,
        AS_OF,
        CREATED_AT,
        Column("asset", "string"),
        Column("weight", "double"),
        Column("mean_return", "double"),
    ),
)


def compute(request: ToyRequest, inputs: Any, weights: Any) -> ToyResult:
    from compute.estimators import mean_returns

    mu = mean_returns(inputs.returns, periods_per_year=request.periods_per_year)
    means = {t: float(m) for t, m in zip(inputs.tickers, mu, strict=True)}
    best = sorted(means, key=lambda t: (-means[t], t))[: request.highlight]
    n = len(inputs.tickers)
    return ToyResult(weights=dict.fromkeys(inputs.tickers, 1.0 / n), mean_returns=means, best=best)


def rows(result: ToyResult) -> Rows:
    assets = list(result.weights)
    return {
        TOY_TABLE.name: {
            "asset": assets,
            "weight": [result.weights[a] for a in assets],
            "mean_return": [result.mean_returns[a] for a in assets],
        }
    }


def report(view: Any, result: Mapping[str, Any], own: Any, tickers: list[str]) -> None:
    from reports import charts
    from reports.page import Chart, Table, pct

    means = result["meanReturns"]
    view.charts.append(
        Chart(
            "toy-means.png",
            "Toy mean returns",
            "Annualised mean return of each asset.",
            lambda: charts.weights_chart(means, "Toy mean returns"),
        )
    )
    view.tables.append(
        Table(
            "Toy highlights",
            ["Asset", "Mean return"],
            [[t, pct(means[t])] for t in result["best"]],
        )
    )


TOY = Analysis(
    name="toy-equal-weight",
    label="Toy equal weight",
    request=ToyRequest,
    result=ToyResult,
    endpoint=Endpoint(
        path="/toy/equal-weight",
        operation="ToyEqualWeight",
        function="OptimizationFunction",
        summary="Toy: equal weights and mean returns",
        example={"highlight": 1},
    ),
    compute=compute,
    tables=(TOY_TABLE,),
    rows=rows,
    report=ReportSection(report, key_chart="toy-means.png"),
    # Not a default analysis: portfolios keep it fresh only when they list it.
    work=lambda request, assets: assets,
)
