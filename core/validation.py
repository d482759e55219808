"""Parse untrusted input into pydantic models; failures become a 400 with clear details."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from core.exceptions import ValidationError

__all__ = ["ModelT", "parse_model"]

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


def parse_model(model: type[ModelT], data: Any, what: str = "request") -> ModelT:
    """Validate ``data`` as ``model``; raise :class:`ValidationError` naming each bad field."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        details = []
        for problem in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in problem["loc"]) or what
            details.append(f"{where}: {problem['msg']}")
        raise ValidationError(f"Invalid {what}.", details) from None
