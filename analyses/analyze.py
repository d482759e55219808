"""Statistics of value paths the caller gives (``POST /monte-carlo/analyze``).

:func:`compute.monte_carlo.analyze` summarises the paths as a simulation's are summarised
(terminal percentiles, VaR/CVaR, drawdowns, bands); the tables and the report section are
the simulation's.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from analyses.simulate import (
    SIMULATION_BANDS,
    SIMULATION_PATHS,
    SIMULATION_STATS,
    SimulationStatistics,
    simulation_report,
    simulation_rows,
    statistics_of,
)
from core.analysis import Analysis, Endpoint, ReportSection, Rows
from core.models import ApiModel, PathValue, ResourceId, ResultModel

__all__ = ["ANALYSIS", "AnalyzeRequest", "AnalyzeResult"]


class AnalyzeRequest(ApiModel):
    """``POST /monte-carlo/analyze``: statistics of given value paths."""

    portfolio_id: ResourceId | None = None
    paths: list[Annotated[list[PathValue], Field(min_length=2, max_length=2521)]] = Field(
        min_length=1, max_length=20_000, description="Value paths, T+1 values each."
    )

    @field_validator("paths")
    @classmethod
    def _rectangular(cls, paths: list[list[float]]) -> list[list[float]]:
        lengths = {len(p) for p in paths}
        if len(lengths) != 1 or lengths.pop() < 2:
            raise ValueError("every path needs the same number (>= 2) of values")
        return paths


class AnalyzeResult(ResultModel):
    """``analyze``: statistics of the given paths."""

    statistics: SimulationStatistics


def compute(request: AnalyzeRequest, inputs: Any, weights: Any) -> AnalyzeResult:
    """The paths' statistics (no returns are read; a portfolio only files the run)."""
    import numpy as np

    from compute.monte_carlo import analyze

    return AnalyzeResult(statistics=statistics_of(analyze(np.asarray(request.paths, float))))


def rows(result: AnalyzeResult) -> Rows:
    return simulation_rows(result.statistics, None)


ANALYSIS = Analysis(
    name="analyze",
    label="Path analysis",
    request=AnalyzeRequest,
    result=AnalyzeResult,
    endpoint=Endpoint(
        path="/monte-carlo/analyze",
        operation="Analyze",
        function="SimulationFunction",
        summary="Statistics of given value paths",
        example={"paths": [[1.0, 1.01, 1.03], [1.0, 0.98, 0.97]]},
    ),
    compute=compute,
    tables=(SIMULATION_STATS, SIMULATION_BANDS, SIMULATION_PATHS),
    rows=rows,
    report=ReportSection(
        lambda view, result, own, tickers: simulation_report(view, result, None, tickers),
        key_chart="fan.png",
    ),
    reads_returns=False,
    keeps_fresh=False,
    work=lambda request, assets: len(request.paths) * len(request.paths[0]),
)
