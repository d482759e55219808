"""Lambda entry of the reports room: render a finished run's report (RenderFunction)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["render"]

logger = Logger()


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def render(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """RenderFunction: a run completed; render its report."""
    logger.warning("RunCompleted received; rendering is not implemented yet")
    return {"status": "not_implemented", "detailType": event.detail_type}
