"""``GET /openapi.json``: the API's own description, served without a key (ApiDocsFunction)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.exceptions import NotImplementedYetError
from core.rest import logger, rest_resolver

__all__ = ["app", "handler"]

app = rest_resolver()


@app.get("/openapi.json")
def openapi_document() -> dict[str, Any]:
    raise NotImplementedYetError(
        "The OpenAPI document is not published yet (tracked in the api/ issue)."
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: ApiDocsFunction)."""
    return app.resolve(event, context)
