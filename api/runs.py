"""Run status and results: ``/runs/{id}`` and ``/portfolios/{id}/runs`` (RunsFunction).

Imports neither numpy, pandas nor pyarrow.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

import analyses as _registers_analyses  # noqa: F401  (the analyses a run or portfolio names)
from core.lifecycle import as_reported
from core.models import RunPage
from core.repositories import PortfolioRepository, RunRepository
from core.rest import json_response, logger, path_id, query_int, request_tenant, rest_resolver
from core.routes import bind
from core.run_results import answerable
from core.settings import settings

__all__ = ["app", "handler"]

app = rest_resolver()


@bind(app, "GetRun")
def get_run(id: str) -> Response[Any]:
    tenant = request_tenant(app)
    run = RunRepository(settings().runs_table).get(tenant, path_id(id, "run id"))
    return json_response(200, answerable(as_reported(run), settings().bucket))


@bind(app, "ListPortfolioRuns")
def list_portfolio_runs(id: str) -> Response[Any]:
    tenant = request_tenant(app)
    config = settings()
    portfolio_id = path_id(id, "portfolio id")
    PortfolioRepository(config.portfolios_table, config.ticker_index_table).get(
        tenant, portfolio_id
    )  # 404 for another tenant's (or no) portfolio
    limit = query_int(app, "limit", 50, 1, 100)
    token = app.current_event.get_query_string_value("nextToken", default_value=None)
    items, next_token = RunRepository(config.runs_table).list_for_portfolio(
        tenant, portfolio_id, limit, token
    )
    return json_response(200, RunPage(items=[as_reported(r) for r in items], next_token=next_token))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: RunsFunction)."""
    return app.resolve(event, context)
