"""The REST resolver every API-facing function shares: envelope errors, no leaks, one logger."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from core.envelope import JSON_HEADERS, error_body
from core.exceptions import StratigosError

__all__ = ["logger", "rest_resolver"]

logger = Logger()


def _envelope(status: int, code: str, message: str, details: list[str]) -> Response[Any]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(error_body(code, message, details)),
        headers={k: v for k, v in JSON_HEADERS.items() if k != "Content-Type"},
    )


def rest_resolver() -> APIGatewayRestResolver:
    """A Powertools REST resolver whose every failure answers in the error envelope."""
    app = APIGatewayRestResolver()

    @app.exception_handler(StratigosError)  # type: ignore[untyped-decorator]
    def _typed_error(error: StratigosError) -> Response[Any]:
        if error.status >= 500 and error.status != 501:
            logger.exception("request failed", extra={"code": error.code})
            return _envelope(500, "INTERNAL_ERROR", "The request could not be completed.", [])
        return _envelope(error.status, error.code, error.message, error.details)

    @app.not_found
    def _no_route(_: Exception) -> Response[Any]:
        return _envelope(404, "NOT_FOUND", "No such route.", [])

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(error: Exception) -> Response[Any]:
        # Never leak a stack trace, a table name or a path: log it, answer generically.
        logger.exception("unexpected error", extra={"error_type": type(error).__name__})
        return _envelope(500, "INTERNAL_ERROR", "The request could not be completed.", [])

    return app
