"""The REST resolver every API-facing function shares: envelope errors, no leaks, one logger."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from pydantic import BaseModel

from core.content_types import JSON_CONTENT_TYPE
from core.envelope import JSON_HEADERS, error_body
from core.exceptions import (
    PayloadTooLargeError,
    StratigosError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from core.models import MAX_ID_LENGTH, RESOURCE_ID_PATTERN
from core.settings import settings
from core.tenancy import tenant_resolver
from core.validation import ModelT, parse_model

__all__ = [
    "MAX_BODY_BYTES",
    "etag",
    "if_match",
    "json_body",
    "json_response",
    "logger",
    "path_id",
    "query_int",
    "request_tenant",
    "rest_resolver",
]

logger = Logger()


def _envelope(status: int, code: str, message: str, details: list[str]) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=JSON_CONTENT_TYPE,
        body=json.dumps(error_body(code, message, details)),
        headers={k: v for k, v in JSON_HEADERS.items() if k != "Content-Type"},
    )


_SECURITY_HEADERS = {k: v for k, v in JSON_HEADERS.items() if k != "Content-Type"}


def _security_headers(app: APIGatewayRestResolver, next_middleware: Any) -> Response[Any]:
    """Every answer of every route carries the security headers (errors get them from
    ``_envelope``), whatever the route returned: a model, a dict or a Response."""
    response: Response[Any] = next_middleware(app)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def rest_resolver() -> APIGatewayRestResolver:
    """A Powertools REST resolver whose every failure answers in the error envelope."""
    app = APIGatewayRestResolver()
    app.use(middlewares=[_security_headers])

    @app.exception_handler(StratigosError)  # type: ignore[untyped-decorator]
    def _typed_error(error: StratigosError) -> Response[Any]:
        # 501 and 503 (transient: ask again) say something true and safe; any other 5xx
        # is logged in full and answered generically.
        if error.status >= 500 and error.status not in (501, 503):
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


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves duplicate names undefined; parsers disagree on which one wins, so a
    # body that spells one twice ({"AAPL": 0.5, "AAPL": 0.5}) is refused, not guessed.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:100]!r}")
        out[key] = value
    return out


def json_body(app: APIGatewayRestResolver, model: type[ModelT]) -> ModelT:
    """The request body as ``model``: JSON only, ≤ 1 MB, no NaN/Infinity, no unknown fields."""
    event = app.current_event
    content_type = event.headers.get("content-type", "")  # case-insensitive in Powertools v3
    if (content_type or "").split(";")[0].strip().lower() != JSON_CONTENT_TYPE:
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
        data = json.loads(
            text or "null", parse_constant=_reject_constant, object_pairs_hook=_unique_keys
        )
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
    # ASCII digits only: int() also takes "١" (Arabic-Indic one), "0_1" and " 1 ".
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise ValidationError(f"{name} must be an integer.", [f"{name}={raw[:40]!r}"])
    value = int(raw)
    if not low <= value <= high:
        raise ValidationError(f"{name} must be between {low} and {high}.", [f"{name}={value}"])
    return value


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    """A JSON answer (pydantic models dumped camelCase); the middleware adds the rest."""
    payload = body.model_dump(mode="json", by_alias=True) if isinstance(body, BaseModel) else body
    return Response(
        status_code=status,
        content_type=JSON_CONTENT_TYPE,
        body=json.dumps(payload, separators=(",", ":"), allow_nan=False),
        headers=dict(headers or {}),
    )


_RESOURCE_ID = re.compile(RESOURCE_ID_PATTERN)


def path_id(value: str, what: str = "id") -> str:
    """A resource id from the path: the body's rule (``core.models.RESOURCE_ID_PATTERN``),
    400 otherwise, never cut."""
    if not _RESOURCE_ID.fullmatch(value):
        raise ValidationError(
            f"A {what} has 1 to {MAX_ID_LENGTH} letters, digits, '-' or '_'.",
            [f"{what}={value[:80]!r}" + ("…" if len(value) > 80 else "")],
        )
    return value


def etag(version: int) -> str:
    """The strong entity tag of a versioned resource (RFC 9110, 8.8.3)."""
    return f'"{version}"'


def if_match(app: APIGatewayRestResolver) -> int | None:
    """The version an ``If-Match`` header requires, or None when the header is absent or ``*``.

    Only tags shaped like the ones this API issues (``"N"``) are understood. A weak
    ``W/"N"`` never matches (If-Match compares strongly), so it asks for version 0, which no
    portfolio has (412). A list of several tags is refused: a portfolio has one current
    version. Anything else is a 400.
    """
    raw = app.current_event.headers.get("if-match")
    if raw is None:
        return None
    tags = [tag.strip() for tag in raw.split(",") if tag.strip()]
    if tags == ["*"]:
        return None
    bad = ValidationError(
        'If-Match must be the ETag you read (e.g. "3") or *.', [f"If-Match: {raw[:80]}"]
    )
    if len(tags) != 1:
        raise bad
    tag = tags[0]
    weak = tag.startswith("W/")
    tag = tag.removeprefix("W/")
    if len(tag) < 3 or tag[0] != '"' or tag[-1] != '"':
        raise bad
    number = tag[1:-1]
    if not (number.isascii() and number.isdigit()) or len(number) > 12:
        raise bad
    # If-Match compares strongly (RFC 9110, 13.1.1): a weak tag never matches (412).
    return 0 if weak else int(number)


def request_tenant(app: APIGatewayRestResolver) -> str:
    """The tenant of the caller's API key (403 when the key is not mapped to one)."""
    resolver = tenant_resolver(settings().api_keys_table)
    return resolver.tenant_for_request(app.current_event.raw_event.get("requestContext") or {})
