"""Dependency-free progress lines for the CLI (stderr, redrawn in place on a terminal)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["ProgressBar", "WaitingLine"]


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class ProgressBar:
    """``ProgressBar(total, label)``; call it with byte counts (boto3's upload Callback)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 30):
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._tty = self.stream.isatty()

    def __call__(self, amount: int) -> None:
        with self._lock:
            self.done = min(self.total, self.done + amount)
            now = time.monotonic()
            if self._tty and (now - self._last_draw > 0.1 or self.done == self.total):
                self._last_draw = now
                self.stream.write("\r" + self.line())
                self.stream.flush()

    def line(self) -> str:
        fraction = self.done / self.total
        filled = int(fraction * self.width)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        return (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {fraction:6.1%} "
            f"{_size(self.done)}/{_size(self.total)} {_size(self.done / elapsed)}/s"
        )

    def finish(self) -> None:
        self.stream.write(("\r" if self._tty else "") + self.line() + "\n")
        self.stream.flush()


class WaitingLine:
    """``waiting for ingest of prices.csv … 3 s`` while something is awaited.

    On a terminal the line is redrawn in place (call :meth:`update` often); elsewhere (a
    pipe, a log) it is written when it starts and then every ``every_s`` seconds, so a
    log shows that the command is alive without a line per poll.
    """

    def __init__(self, stream: TextIO | None = None, every_s: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self._tty = self.stream.isatty()
        self._started = time.monotonic()
        self._last_written = -1.0
        self._shown = ""

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def update(self, what: str) -> None:
        """Show that ``what`` is still awaited."""
        elapsed = self.elapsed()
        line = f"waiting for {what} … {elapsed:.0f} s"
        if self._tty:
            self.stream.write("\r" + line.ljust(len(self._shown)))
            self._shown = line
        elif self._last_written < 0 or elapsed - self._last_written >= self.every_s:
            self.stream.write(line + "\n")
            self._last_written = elapsed
        self.stream.flush()

    def clear(self) -> None:
        """Take the line off a terminal (before other output is written)."""
        if self._tty and self._shown:
            self.stream.write("\r" + " " * len(self._shown) + "\r")
            self.stream.flush()
            self._shown = ""
