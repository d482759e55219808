"""Hierarchical risk parity (López de Prado, 2016): cluster, quasi-diagonalise, bisect.

:func:`compute.hrp.hierarchical_risk_parity` clusters the assets on the correlation
distance ``√(½(1 − ρᵢⱼ))``, orders them by the dendrogram's leaves and splits the weight
recursively in inverse proportion to each half's variance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from compute.choices import LinkageMethod
from core.analysis import Analysis, DemoRun, Endpoint, ReportSection, Rows
from core.models import ResultModel, ReturnsRequest

__all__ = ["ANALYSIS", "HrpRequest", "HrpResult"]


class HrpRequest(ReturnsRequest):
    linkage: LinkageMethod = "single"


class HrpResult(ResultModel):
    """``hrp``: hierarchical risk parity weights, the quasi-diagonal order and the tree."""

    weights: Weights
    order: list[str] = Field(description="Tickers in the dendrogram's leaf order.")
    linkage_matrix: list[list[float]] = Field(description="SciPy linkage matrix, (N−1) × 4.")
    metrics: Performance


def compute(request: HrpRequest, inputs: Any, weights: Weights | None) -> HrpResult:
    """HRP weights of the run's returns, with the performance under its covariance."""
    import numpy as np

    from compute.hrp import hierarchical_risk_parity

    mu, cov = estimates(request, inputs.returns)
    tickers = inputs.tickers
    hrp = hierarchical_risk_parity(inputs.returns, linkage=request.linkage)
    return HrpResult(
        weights=by_ticker(tickers, hrp.weights),
        order=[tickers[i] for i in hrp.order],
        linkage_matrix=np.asarray(hrp.linkage_matrix, float).tolist(),
        metrics=performance(hrp.weights, mu, cov),
    )


def rows(result: HrpResult) -> Rows:
    return weights_rows(result.weights, None)


def report(view: Any, result: Mapping[str, Any], own: Weights | None, tickers: list[str]) -> None:
    """The cluster tree with the allocation, weights (beside the portfolio's), metrics."""
    from reports import charts
    from reports.page import Chart, metrics_table, performance_summary, weights_table

    weights = result["weights"]
    metrics = result.get("metrics") or {}
    names = tickers if len(tickers) == len(weights) else list(weights)
    view.charts.append(
        Chart(
            "dendrogram.png",
            "Cluster tree and allocation",
            "The hierarchical clustering of the assets' correlations (height: cluster distance) "
            "with the HRP weight of each asset below, in the tree's leaf order.",
            lambda: charts.dendrogram_chart(
                result.get("linkageMatrix") or [], names, weights, "HRP cluster tree"
            ),
        )
    )
    view.charts.append(
        Chart(
            "weights.png",
            "Weights",
            "HRP weights" + (" beside the portfolio's own weights." if own else "."),
            lambda: charts.weights_chart(weights, "HRP weights", own),
        )
    )
    view.tables.append(metrics_table("Metrics", [("HRP", metrics)]))
    order = [t for t in result.get("order") or [] if t in weights] or None
    view.tables.append(
        weights_table([("Weight", weights)] + ([("Portfolio", own)] if own else []), order)
    )
    if order:
        view.tables[-1].note = "Assets in the cluster tree's order."
    view.summary = performance_summary(metrics)


ANALYSIS = Analysis(
    name="hrp",
    label="Hierarchical risk parity",
    request=HrpRequest,
    result=HrpResult,
    endpoint=Endpoint(
        path="/optimization/hrp",
        operation="Hrp",
        function="OptimizationFunction",
        summary="Hierarchical risk parity weights",
        example={"linkage": "single"},
    ),
    compute=compute,
    tables=(OPTIMIZATION_WEIGHTS,),
    rows=rows,
    report=ReportSection(report, key_chart="dendrogram.png"),
    default_parameters={},
    demo=DemoRun(
        {"linkage": "average"}, column="HRP", weights=lambda result: result.get("weights") or {}
    ),
)
