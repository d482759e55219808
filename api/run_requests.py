"""On-demand runs: ``POST /optimization/*`` and ``POST /monte-carlo/*``.

Served by OptimizationFunction and SimulationFunction (same code, different memory and
timeout in the template).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.exceptions import NotImplementedYetError
from core.rest import logger, rest_resolver

__all__ = ["app", "handler"]

app = rest_resolver()
_PENDING = "On-demand runs are not implemented yet (tracked in the api/ issue)."


@app.post("/optimization/risk-parity")
def risk_parity_run() -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.post("/optimization/hrp")
def hrp_run() -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.post("/optimization/efficient-frontier")
def efficient_frontier_run() -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.post("/monte-carlo/simulate")
def simulate_run() -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.post("/monte-carlo/analyze")
def analyze_run() -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: OptimizationFunction, SimulationFunction)."""
    return app.resolve(event, context)
