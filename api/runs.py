"""Run status and results: ``/runs/{id}`` and ``/portfolios/{id}/runs`` (RunsFunction)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.exceptions import NotImplementedYetError
from core.rest import logger, rest_resolver

__all__ = ["app", "handler"]

app = rest_resolver()
_PENDING = "Run reads are not implemented yet (tracked in the api/ issue)."


@app.get("/runs/<run_id>")
def get_run(run_id: str) -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.get("/portfolios/<portfolio_id>/runs")
def list_portfolio_runs(portfolio_id: str) -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: RunsFunction)."""
    return app.resolve(event, context)
