"""core: settings, typed errors and the error envelope, and AWS adapters shared by every room.

May import only the stdlib, boto3, pydantic and Powertools (it ships in every Lambda).
"""

from __future__ import annotations

from core.aws import client, client_config, is_local_endpoint
from core.bus import DetailType, EventBus, EventPublishError, Source
from core.envelope import JSON_HEADERS, error_body, error_response, json_response
from core.exceptions import (
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    NoSuccessfulRunError,
    NotFoundError,
    NotReadyError,
    PayloadTooLargeError,
    PreconditionFailedError,
    StaleVersionError,
    StratigosError,
    UnprocessableError,
    ValidationError,
)
from core.settings import Settings, env_name, settings
from core.tenancy import TenantResolver

__all__ = [
    "JSON_HEADERS",
    "ConfigurationError",
    "ConflictError",
    "DetailType",
    "EventBus",
    "EventPublishError",
    "ForbiddenError",
    "NoSuccessfulRunError",
    "NotFoundError",
    "NotReadyError",
    "PayloadTooLargeError",
    "PreconditionFailedError",
    "Settings",
    "Source",
    "StaleVersionError",
    "StratigosError",
    "TenantResolver",
    "UnprocessableError",
    "ValidationError",
    "client",
    "client_config",
    "env_name",
    "error_body",
    "error_response",
    "is_local_endpoint",
    "json_response",
    "settings",
]
