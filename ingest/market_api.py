"""``GET /market-data/prices`` and ``/market-data/returns`` (MarketDataFunction).

Kept apart from the landing handlers so its cold start loads pyarrow but not awswrangler
and pandas (bench/coldstart.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.rest import logger, request_tenant, rest_resolver
from core.routes import bind
from core.settings import settings
from core.validation import parse_model
from ingest.market_data import MarketDataQuery, query_prices, query_returns

__all__ = ["handler"]

_app = rest_resolver()


def _query() -> MarketDataQuery:
    # Market data is shared, but a key mapped to no tenant reaches nothing (core.tenancy).
    request_tenant(_app)
    params = _app.current_event.query_string_parameters or {}
    return parse_model(MarketDataQuery, dict(params), what="query")


@bind(_app, "GetPrices")
def _prices() -> dict[str, Any]:
    body, stats = query_prices(_query(), settings().bucket)
    logger.info("prices read", extra={"read": stats.to_dict()})
    return body


@bind(_app, "GetReturns")
def _returns() -> dict[str, Any]:
    body, stats = query_returns(_query(), settings().bucket)
    logger.info("returns read", extra={"read": stats.to_dict()})
    return body


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: MarketDataFunction)."""
    return _app.resolve(event, context)
