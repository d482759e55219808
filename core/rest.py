"""The REST resolver every API-facing function shares: envelope errors, no leaks, one logger."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from typing import Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from core.envelope import JSON_HEADERS, error_body
from core.exceptions import (
    PayloadTooLargeError,
    StratigosError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from core.settings import settings
from core.tenancy import TenantResolver
from core.validation import ModelT, parse_model

__all__ = [
    "MAX_BODY_BYTES",
    "json_body",
    "json_response",
    "logger",
    "query_int",
    "request_tenant",
    "rest_resolver",
]

logger = Logger()


def _envelope(status: int, code: str, message: str, details: list[str]) -> Response[Any]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(error_body(code, message, details)),
        headers={k: v for k, v in JSON_HEADERS.items() if k != "Content-Type"},
    )


class _PerThreadRestResolver(APIGatewayRestResolver):
    """A REST resolver whose per-request state (event, Lambda context, route context) is per thread.

    Powertools keeps the current event on a class attribute shared by every resolver of the
    process (``BaseRouter.current_event``) and the route context on the instance. That is
    safe in Lambda, where an execution environment serves one request at a time, but the
    local stack serves concurrent requests on threads of one process: there, a request read
    another one's body, query and API key (so its tenant). Each thread keeps its own here.
    """

    def __init__(self) -> None:
        self._per_thread = threading.local()  # before super().__init__, which sets context
        super().__init__()

    @property  # type: ignore[override]
    def current_event(self) -> APIGatewayProxyEvent:
        return self._per_thread.event  # type: ignore[no-any-return]

    @current_event.setter
    def current_event(self, value: APIGatewayProxyEvent) -> None:
        self._per_thread.event = value

    @property
    def lambda_context(self) -> LambdaContext:
        return self._per_thread.lambda_context  # type: ignore[no-any-return]

    @lambda_context.setter
    def lambda_context(self, value: LambdaContext) -> None:
        self._per_thread.lambda_context = value

    @property
    def context(self) -> dict[str, Any]:
        if not hasattr(self._per_thread, "context"):
            self._per_thread.context = {}
        return self._per_thread.context  # type: ignore[no-any-return]

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._per_thread.context = value

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        # Powertools also stores the event on BaseRouter; this resolver reads its own copy.
        self.current_event = cast(APIGatewayProxyEvent, self._to_proxy_event(dict(event)))
        self.lambda_context = context
        return super().resolve(event, context)


def rest_resolver() -> APIGatewayRestResolver:
    """A Powertools REST resolver whose every failure answers in the error envelope."""
    app = _PerThreadRestResolver()

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


# ---------------------------------------------------------------- request helpers
MAX_BODY_BYTES = 1024 * 1024


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; numbers must be finite")


def json_body(app: APIGatewayRestResolver, model: type[ModelT]) -> ModelT:
    """The request body as ``model``: JSON only, ≤ 1 MB, no NaN/Infinity, no unknown fields."""
    event = app.current_event
    content_type = event.headers.get("content-type", "")  # case-insensitive in Powertools v3
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaTypeError(
            "Send the body as JSON.",
            [f"Content-Type must be application/json, not {content_type!r}"],
        )
    raw_body = event.body or ""
    raw = base64.b64decode(raw_body) if event.is_base64_encoded else raw_body.encode()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(
            f"Request body of {len(raw):,} bytes is over the {MAX_BODY_BYTES:,}-byte limit."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError("The body is not valid UTF-8.", [str(error)[:200]]) from None
    try:
        data = json.loads(text or "null", parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise ValidationError("Malformed JSON body.", [str(error)[:200]]) from None
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.")
    # Strict, by the documented camelCase names only: "1" is not a number, true is not 1.0.
    return parse_model(model, text, what="body", from_json=True)


def query_int(app: APIGatewayRestResolver, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high] (400 otherwise)."""
    raw = app.current_event.get_query_string_value(name, default_value=None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be an integer.", [f"{name}={raw!r}"]) from None
    if not low <= value <= high:
        raise ValidationError(f"{name} must be between {low} and {high}.", [f"{name}={value}"])
    return value


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    """A JSON answer (pydantic models dumped camelCase)."""
    payload = body.model_dump(mode="json", by_alias=True) if isinstance(body, BaseModel) else body
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(payload, separators=(",", ":"), allow_nan=False),
        headers={
            **{k: v for k, v in JSON_HEADERS.items() if k != "Content-Type"},
            **(headers or {}),
        },
    )


_tenants: dict[str, TenantResolver] = {}


def request_tenant(app: APIGatewayRestResolver) -> str:
    """The tenant of the caller's API key (403 when the key is not mapped to one)."""
    table = settings().api_keys_table
    resolver = _tenants.get(table)
    if resolver is None:
        resolver = _tenants[table] = TenantResolver(table)
    return resolver.tenant_for_request(app.current_event.raw_event.get("requestContext") or {})
