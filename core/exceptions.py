"""Typed errors shared by every room; each knows its HTTP status and envelope code."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "NoSuccessfulRunError",
    "NotFoundError",
    "NotReadyError",
    "PayloadTooLargeError",
    "PreconditionFailedError",
    "ServiceUnavailableError",
    "StaleVersionError",
    "StratigosError",
    "UnprocessableError",
    "UnsupportedMediaTypeError",
    "ValidationError",
]


class StratigosError(Exception):
    """Base of every error the platform answers on purpose.

    Attributes
    ----------
    status : int
        HTTP status the API answers with.
    code : str
        Stable machine-readable code in the error envelope.
    """

    status: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = [str(d) for d in details]


class ValidationError(StratigosError):
    status = 400
    code = "VALIDATION_ERROR"


class UnprocessableError(StratigosError):
    """Well-formed but refused, e.g. a run larger than a documented limit."""

    status = 422
    code = "UNPROCESSABLE"


class ForbiddenError(StratigosError):
    status = 403
    code = "FORBIDDEN"


class NotFoundError(StratigosError):
    status = 404
    code = "NOT_FOUND"


class ConflictError(StratigosError):
    status = 409
    code = "CONFLICT"


class NotReadyError(ConflictError):
    """The resource will exist shortly (e.g. a report being rendered): ask again."""

    code = "NOT_READY"


class NoSuccessfulRunError(ConflictError):
    """A report was asked of a portfolio none of whose runs succeeded: it never will be
    rendered until one does."""

    code = "NO_SUCCESSFUL_RUN"


class PayloadTooLargeError(StratigosError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaTypeError(StratigosError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class StaleVersionError(ConflictError):
    """An update or delete named a version that is no longer the stored one.

    Attributes
    ----------
    current : int
        The stored version (what the caller should read again).
    """

    def __init__(self, message: str, current: int, details: Sequence[str] = ()) -> None:
        super().__init__(message, details)
        self.current = current


class PreconditionFailedError(StratigosError):
    """``If-Match`` named a representation that is no longer current (RFC 9110, 13.1.1)."""

    status = 412
    code = "PRECONDITION_FAILED"


class ConfigurationError(StratigosError):
    """The deployment is missing something it needs (never shown to API callers verbatim)."""

    status = 500
    code = "INTERNAL_ERROR"


class ServiceUnavailableError(StratigosError):
    """A dependency failed transiently (throttling, timeouts, 5xx) past the retries: the
    request may succeed if asked again. Never used for absence (that is a 404)."""

    status = 503
    code = "SERVICE_UNAVAILABLE"
