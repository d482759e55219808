"""The standard error envelope: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.content_types import JSON_CONTENT_TYPE
from core.exceptions import StratigosError

__all__ = ["JSON_HEADERS", "error_body", "error_response", "json_response"]

JSON_HEADERS: dict[str, str] = {
    "Content-Type": JSON_CONTENT_TYPE,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def error_body(code: str, message: str, details: Sequence[str] = ()) -> dict[str, Any]:
    """The envelope as a dict."""
    return {"error": {"code": code, "message": message, "details": list(details)}}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), allow_nan=False),
        "isBase64Encoded": False,
    }


def error_response(error: StratigosError) -> dict[str, Any]:
    """An API Gateway REST proxy response for a typed error."""
    return json_response(error.status, error_body(error.code, error.message, error.details))
