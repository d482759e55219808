"""What the SQL engines raise (both engines, and the command that sorts them into exit codes)."""

from __future__ import annotations

__all__ = ["EngineUnavailableError", "SqlError"]


class SqlError(Exception):
    """The engine rejected or failed a query; ``str(error)`` is the engine's own message."""


class EngineUnavailableError(Exception):
    """There is nothing to run the query on (no local stack, no credentials, no database)."""
