"""``GET /openapi.json``: the API's own description, served without a key (ApiDocsFunction).

The document is generated from the pydantic models (``api.openapi``) and shipped as
``api/openapi.json``; this handler only reads it, so its cold start stays tiny.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.envelope import JSON_HEADERS

__all__ = ["handler"]


@functools.cache
def _document() -> str:
    # The committed document (api/openapi.py writes it; a test keeps it current).
    return Path(__file__).with_name("openapi.json").read_text()


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: ApiDocsFunction)."""
    return {
        "statusCode": 200,
        "headers": {**JSON_HEADERS, "Cache-Control": "public, max-age=300"},
        "body": _document(),
        "isBase64Encoded": False,
    }
