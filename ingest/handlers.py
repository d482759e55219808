"""Lambda entries of the ingest room: landing, returns, and the market-data API.

``land`` receives S3 "Object Created" events for ``raw/prices/`` through EventBridge;
``returns`` receives ``PricesCurated`` from the platform bus; ``market_data`` serves
``GET /market-data/{prices,returns}``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.exceptions import NotImplementedYetError
from core.rest import rest_resolver

__all__ = ["land", "market_data", "returns"]

logger = Logger()
_market_data_app = rest_resolver()


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def land(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """IngestFunction: a vendor file landed under ``raw/prices/``."""
    obj = event.detail.get("object", {})
    logger.warning(
        "price file received; validation and curation are not implemented yet",
        extra={"bucket": event.detail.get("bucket", {}).get("name"), "key": obj.get("key")},
    )
    return {"status": "not_implemented", "key": obj.get("key"), "etag": obj.get("etag")}


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def returns(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """ReturnsFunction: prices changed for some tickers and dates."""
    logger.warning("PricesCurated received; returns are not implemented yet")
    return {"status": "not_implemented", "detailType": event.detail_type}


@_market_data_app.get("/market-data/prices")
def _prices() -> dict[str, Any]:
    raise NotImplementedYetError("Market data prices are not implemented yet (ingest/ issue).")


@_market_data_app.get("/market-data/returns")
def _returns() -> dict[str, Any]:
    raise NotImplementedYetError("Market data returns are not implemented yet (ingest/ issue).")


@logger.inject_lambda_context
def market_data(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """MarketDataFunction: ``GET /market-data/prices`` and ``/market-data/returns``."""
    return _market_data_app.resolve(event, context)
