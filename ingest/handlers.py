"""Lambda entries of the ingest room: landing a vendor file, and recomputing returns.

``land`` receives S3 "Object Created" events for ``raw/prices/`` through EventBridge
(Powertools' ``S3EventBridgeNotificationEvent``, AWS's shape: the local stack adapts moto's);
``returns`` receives ``PricesCurated`` from the platform bus (``GET /market-data/*`` is
served by :mod:`ingest.market_api`). Both consumers are idempotent through Powertools'
idempotency utility (records in the template's idempotency table): a redelivered event
returns the first delivery's result without touching the lake again.

Neither registers anything in Glue: template.yaml declares the ``prices`` and ``returns``
tables with partition projection, so a cold start loads no catalog client (no awswrangler).
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import (
    EventBridgeEvent,
    S3EventBridgeNotificationEvent,
    event_source,
)
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.aws import client as aws_client
from core.bus import DetailType, EventBus, Source
from core.settings import settings
from ingest.curate import SourceObject, land_price_file, read_manifest
from ingest.returns import update_returns

__all__ = ["land", "returns", "source_object"]

logger = Logger()
_IDEMPOTENCY_SECONDS = 7 * 24 * 3600


@functools.cache
def _idempotency(table: str) -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    # Built on first use, not at import: the table name comes from the environment.
    return (
        DynamoDBPersistenceLayer(table_name=table),
        IdempotencyConfig(expires_after_seconds=_IDEMPOTENCY_SECONDS),
    )


def source_object(event: S3EventBridgeNotificationEvent) -> SourceObject:
    """The object an S3 "Object Created" event names.

    ``version-id`` is absent for an object written while the bucket was unversioned, and
    the ETag is ``None`` when the event has none (Powertools answers ``""``).

    The key is used as the event spells it. Powertools' ``object.key`` URL-decodes it
    (``unquote_plus``), as S3 encodes keys in its notifications; moto's EventBridge events
    carry the key unencoded and the local stack does not encode it yet, so decoding here
    would read the literal key ``%2e%2e`` as ``..`` locally. Switch to ``obj.key`` together
    with that adaptation (local.dispatcher.adapt_event).
    """
    detail = event.detail
    obj = detail.object
    return SourceObject(
        bucket=detail.bucket.name,
        key=str(obj["key"]),
        version_id=obj.get("version-id"),
        etag=obj.etag or None,
    )


@event_source(data_class=S3EventBridgeNotificationEvent)
@logger.inject_lambda_context
def land(event: S3EventBridgeNotificationEvent, context: LambdaContext) -> dict[str, Any]:
    """IngestFunction: a vendor file landed under ``raw/prices/``."""
    config = settings()
    source = source_object(event)
    persistence, idempotency = _idempotency(config.idempotency_table)
    idempotency.register_lambda_context(context)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="identity", persistence_store=persistence, config=idempotency
    )
    def _land(identity: dict[str, Any]) -> dict[str, Any]:
        result = land_price_file(source, bus=EventBus(config.event_bus))
        return result.to_dict()

    outcome: dict[str, Any] = _land(
        identity={
            "bucket": source.bucket,
            "key": source.key,
            "version": source.version_id,
            "etag": source.etag,
        }
    )
    logger.info("price file landed", extra={"result": outcome})
    return outcome


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def returns(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """ReturnsFunction: prices changed for some tickers and dates (a manifest names them)."""
    config = settings()
    detail = dict(event.detail)
    persistence, idempotency = _idempotency(config.idempotency_table)
    idempotency.register_lambda_context(context)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="change", persistence_store=persistence, config=idempotency
    )
    def _returns(change: dict[str, Any]) -> dict[str, Any]:
        s3 = aws_client("s3")
        changed = read_manifest(s3, change["bucket"], change["manifestKey"])
        update = update_returns(changed, change["bucket"], s3=s3)
        if update.rows:
            EventBus(config.event_bus).put(
                Source.INGEST,
                DetailType.MARKET_DATA_UPDATED,
                {
                    "tickers": update.tickers,
                    "firstDate": update.first_date,
                    "lastDate": update.last_date,
                    "rows": update.rows,
                    "dataVersion": update.data_version,
                },
            )
        return update.to_dict()

    outcome: dict[str, Any] = _returns(
        change={"bucket": detail["bucket"], "manifestKey": detail["manifestKey"]}
    )
    logger.info("returns updated", extra={"result": outcome})
    return outcome
