"""Portfolio CRUD: ``/portfolios`` and ``/portfolios/{id}`` (PortfoliosFunction)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.exceptions import NotImplementedYetError
from core.rest import logger, rest_resolver

__all__ = ["app", "handler"]

app = rest_resolver()
_PENDING = "Portfolio CRUD is not implemented yet (tracked in the api/ issue)."


@app.get("/portfolios")
def list_portfolios() -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.post("/portfolios")
def create_portfolio() -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.get("/portfolios/<portfolio_id>")
def get_portfolio(portfolio_id: str) -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.put("/portfolios/<portfolio_id>")
def update_portfolio(portfolio_id: str) -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@app.delete("/portfolios/<portfolio_id>")
def delete_portfolio(portfolio_id: str) -> dict[str, Any]:
    raise NotImplementedYetError(_PENDING)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: PortfoliosFunction)."""
    return app.resolve(event, context)
