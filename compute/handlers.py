"""Lambda entries of the compute room: fan-out to portfolios, and run execution.

``fan_out`` receives ``MarketDataUpdated`` and the nightly schedule; ``run_requested``
receives ``RunRequested``. The numerics themselves live in the sibling modules.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["fan_out", "run_requested"]

logger = Logger()


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def fan_out(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """FanOutFunction: market data changed, or the nightly schedule fired."""
    logger.warning(
        "fan-out trigger received; recompute is not implemented yet",
        extra={"detail_type": event.detail_type, "source": event.source},
    )
    return {"status": "not_implemented", "detailType": event.detail_type}


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def run_requested(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """RunWorkerFunction: execute one requested run."""
    logger.warning("RunRequested received; run execution is not implemented yet")
    return {"status": "not_implemented", "detailType": event.detail_type}
