"""The content types the platform writes to S3 and answers with, spelled once."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "BINARY_CONTENT_TYPE",
    "CSV_CONTENT_TYPE",
    "HTML_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "PNG_CONTENT_TYPE",
    "REPORT_FILE_TYPES",
]

JSON_CONTENT_TYPE: Final = "application/json"
HTML_CONTENT_TYPE: Final = "text/html; charset=utf-8"
PNG_CONTENT_TYPE: Final = "image/png"
CSV_CONTENT_TYPE: Final = "text/csv"
#: Anything else: downloaded, never rendered by the browser.
BINARY_CONTENT_TYPE: Final = "application/octet-stream"

#: A rendered report's files by suffix (``.html``, ``.png``): how they are stored and linked.
REPORT_FILE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {".html": HTML_CONTENT_TYPE, ".png": PNG_CONTENT_TYPE}
)
