"""Parse untrusted input into pydantic models; failures become a 400 with clear details."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from core.exceptions import ValidationError
from core.models import TICKER_PATTERN

__all__ = ["ModelT", "parse_model"]

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


def parse_model(
    model: type[ModelT], data: Any, what: str = "request", *, from_json: bool = False
) -> ModelT:
    """Validate ``data`` as ``model``; raise :class:`ValidationError` naming each bad field.

    ``from_json``: ``data`` is JSON text from a client, validated strictly (no "1" for 1,
    no true for 1.0) and by the wire names (aliases) only.
    """
    try:
        if from_json:
            return model.model_validate_json(data, strict=True, by_alias=True, by_name=False)
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        details = []
        for problem in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in problem["loc"]) or what
            message = problem["msg"]
            if (problem.get("ctx") or {}).get("pattern") == TICKER_PATTERN:
                message = "not an exchange symbol (upper case, e.g. AAPL, BRK.B)"
            details.append(f"{where}: {message}")
        raise ValidationError(f"Invalid {what}.", details) from None
