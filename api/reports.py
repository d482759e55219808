"""Presigned report links: ``/runs/{id}/report``, ``/portfolios/{id}/report``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.exceptions import NotImplementedYetError
from core.rest import logger, rest_resolver

__all__ = ["app", "handler"]

app = rest_resolver()
_PENDING = "Report links are not implemented yet (tracked in the reports/ issue)."


@app.get("/runs/<run_id>/report")
def get_run_report(run_id: str) -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.get("/portfolios/<portfolio_id>/report")
def get_portfolio_report(portfolio_id: str) -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: ReportLinksFunction)."""
    return app.resolve(event, context)
