"""Typed errors shared by every room; each knows its HTTP status and envelope code."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "NotImplementedYetError",
    "PayloadTooLargeError",
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


class PayloadTooLargeError(StratigosError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaTypeError(StratigosError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class NotImplementedYetError(StratigosError):
    """A route the template declares whose logic has not landed yet."""

    status = 501
    code = "NOT_IMPLEMENTED"


class ConfigurationError(StratigosError):
    """The deployment is missing something it needs (never shown to API callers verbatim)."""

    status = 500
    code = "INTERNAL_ERROR"
