"""Portfolio CRUD: ``/portfolios`` and ``/portfolios/{id}`` (PortfoliosFunction).

Imports neither numpy, pandas nor pyarrow: this is a CRUD cold start.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.exceptions import ValidationError
from core.models import PortfolioCreate, PortfolioPage, PortfolioUpdate
from core.repositories import PortfolioRepository
from core.rest import json_body, json_response, logger, query_int, request_tenant, rest_resolver
from core.settings import settings

__all__ = ["app", "handler"]

app = rest_resolver()


def _repository() -> PortfolioRepository:
    config = settings()
    return PortfolioRepository(config.portfolios_table, config.ticker_index_table)


def _id_ok(portfolio_id: str) -> str:
    # Ids are ours (p-<16 hex>); the OpenAPI document bounds them at 64 characters.
    if len(portfolio_id) > 64:
        raise ValidationError("A portfolio id has at most 64 characters.")
    return portfolio_id


@app.get("/portfolios")
def list_portfolios() -> Response[Any]:
    tenant = request_tenant(app)
    limit = query_int(app, "limit", 50, 1, 100)
    token = app.current_event.get_query_string_value("nextToken", default_value=None)
    items, next_token = _repository().list(tenant, limit, token)
    return json_response(200, PortfolioPage(items=items, next_token=next_token))


@app.post("/portfolios")
def create_portfolio() -> Response[Any]:
    tenant = request_tenant(app)
    data = json_body(app, PortfolioCreate)
    portfolio = _repository().create(tenant, data)
    return json_response(201, portfolio, {"Location": f"/portfolios/{portfolio.id}"})


@app.get("/portfolios/<portfolio_id>")
def get_portfolio(portfolio_id: str) -> Response[Any]:
    tenant = request_tenant(app)
    return json_response(200, _repository().get(tenant, _id_ok(portfolio_id)))


@app.put("/portfolios/<portfolio_id>")
def update_portfolio(portfolio_id: str) -> Response[Any]:
    tenant = request_tenant(app)
    data = json_body(app, PortfolioUpdate)
    return json_response(200, _repository().update(tenant, _id_ok(portfolio_id), data))


@app.delete("/portfolios/<portfolio_id>")
def delete_portfolio(portfolio_id: str) -> Response[Any]:
    tenant = request_tenant(app)
    version = query_int(app, "version", 0, 0, 2**31)
    if version == 0:
        raise ValidationError(
            "Give the version you are deleting.", ["?version=N (as read); a stale one answers 409"]
        )
    _repository().delete(tenant, _id_ok(portfolio_id), version)
    return Response(status_code=204, body=None)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: PortfoliosFunction)."""
    return app.resolve(event, context)
