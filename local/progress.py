"""A dependency-free progress bar for the CLI (stderr, redrawn in place on a terminal)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["ProgressBar"]


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
