"""Settings: the one place that reads the environment.

Every name here is set on the Lambda functions by ``template.yaml`` (``Globals.Function.
Environment``) and, locally, by the local stack from that same template, so code never
hard-codes a resource name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Self

from core.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_MAX_INGEST_FILE_BYTES",
    "TENANT_CACHE_SECONDS",
    "Settings",
    "max_ingest_file_bytes",
    "settings",
]

#: The largest vendor file ingest reads. The largest expected (5,000 tickers × 1 year) is
#: ~72 MB of CSV; the file is spooled to the function's 512 MB of /tmp, so 256 MiB leaves
#: room, and a bigger object is refused (with a quarantine report) before it is downloaded.
DEFAULT_MAX_INGEST_FILE_BYTES = 256 * 1024 * 1024

#: How long a warm container trusts an API key id → tenant mapping it has read (seconds).
#: A key unmapped or reassigned in the keys table takes effect within this time.
TENANT_CACHE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Settings:
    """Resource names and platform options for one deployment (cloud or local)."""

    stack_name: str
    bucket: str
    portfolios_table: str
    runs_table: str
    ticker_index_table: str
    idempotency_table: str
    api_keys_table: str
    event_bus: str
    glue_database: str
    athena_workgroup: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Self:
        """Read ``STRATIGOS_<FIELD>`` for every field; missing ones raise ConfigurationError."""
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        missing: list[str] = []
        for field in fields(cls):
            name = env_name(field.name)
            value = env.get(name, "")
            if not value:
                missing.append(name)
            values[field.name] = value
        if missing:
            raise ConfigurationError(
                "Missing environment variables: " + ", ".join(sorted(missing)),
            )
        return cls(**values)


def env_name(field_name: str) -> str:
    """The environment variable behind a settings field (``bucket`` → ``STRATIGOS_BUCKET``)."""
    return "STRATIGOS_" + field_name.upper()


def settings() -> Settings:
    """The current settings, read from the environment (cheap; not cached so tests can repoint)."""
    return Settings.from_env()


def max_ingest_file_bytes(environ: dict[str, str] | None = None) -> int:
    """The ingest size limit: ``STRATIGOS_MAX_INGEST_FILE_BYTES`` or the default (optional).

    Raises
    ------
    ConfigurationError
        When the variable is set but is not a positive whole number.
    """
    env = os.environ if environ is None else environ
    text = env.get(env_name("max_ingest_file_bytes"), "").strip()
    if not text:
        return DEFAULT_MAX_INGEST_FILE_BYTES
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigurationError(
            f"{env_name('max_ingest_file_bytes')} must be a positive whole number, not {text!r}"
        )
    return int(text)
