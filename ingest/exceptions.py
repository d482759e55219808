"""Typed errors of the ingest room.

A vendor file is either validated row by row (bad rows go to ``quarantine/`` with a
reason each, see :mod:`ingest.validation`) or refused as a whole with a
:class:`FileRejectedError` whose :attr:`~IngestError.code` is one of
:class:`FileRejectCode`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = ["FileRejectCode", "FileRejectedError", "IngestError"]


class FileRejectCode(StrEnum):
    """Stable codes of a whole-file refusal (they appear in logs and reports)."""

    EMPTY_FILE = "EMPTY_FILE"
    """Zero bytes."""
    NO_HEADER = "NO_HEADER"
    """A CSV with bytes but no header row (only blank lines or a BOM)."""
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    """Neither Parquet magic bytes nor a ``.csv``/``.parquet`` name."""
    UNPARSEABLE = "UNPARSEABLE"
    """Not readable as the detected format."""
    INVALID_ENCODING = "INVALID_ENCODING"
    """A CSV that is not valid UTF-8."""
    MISSING_COLUMN = "MISSING_COLUMN"
    """A required column (``date``, ``ticker``, ``close``) is absent."""
    DUPLICATE_COLUMN = "DUPLICATE_COLUMN"
    """Two header names are equal once normalised."""
    TOO_MANY_COLUMNS = "TOO_MANY_COLUMNS"
    """More columns than the reader accepts."""
    BAD_COLUMN_TYPE = "BAD_COLUMN_TYPE"
    """A Parquet price column whose type cannot hold the value (list, struct, bool…)."""
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    """Bigger than the ingest limit (refused before it is downloaded)."""
    UNSAFE_KEY = "UNSAFE_KEY"
    """An object key with a ``.``/``..`` segment or a control character (not read)."""
    BAD_CORRECTIONS = "BAD_CORRECTIONS"
    """A corrections file (``raw/prices/_corrections/``) with a bad header or row: it is
    all or nothing, so none of it is stored."""


class IngestError(Exception):
    """Base of the ingest room's errors.

    Parameters
    ----------
    message : str
        Human-readable explanation (safe to log and to put in a report).
    code : str, optional
        Stable machine-readable code; defaults to the class's :attr:`code`.

    Attributes
    ----------
    code : str
        Stable machine-readable code.
    message : str
        Human-readable explanation.
    """

    code: str = "INGEST_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = str(code)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe ``{"code", "message"}`` for a report or a log line."""
        return {"code": self.code, "message": self.message}


class FileRejectedError(IngestError):
    """The whole file is refused; no row of it is curated.

    ``code`` is a :class:`FileRejectCode` value.
    """

    code: str = "FILE_REJECTED"

    def __init__(self, code: FileRejectCode, message: str) -> None:
        super().__init__(message, code=code)
