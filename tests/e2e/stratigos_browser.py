"""Open a page in headless Chromium (Debian's ``chromium``) and report what happened.

Drives Chromium over the DevTools protocol on ``--remote-debugging-pipe`` (file descriptors
3 and 4, NUL-separated JSON), so it needs nothing beyond the standard library: every
network request, console message and uncaught exception is recorded, the images are
checked after the load event, and a full-page screenshot is saved.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PageReport", "chromium_path", "inspect_page"]

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageReport:
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    images: list[tuple[bool, int]] = field(default_factory=list)
    title: str = ""


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd, self.read_fd = write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        return self.next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.read_fd], [], [], remaining)
            if ready:
                chunk = os.read(self.read_fd, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str = "",
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            self.events.append(message)
            if message.get("method") == method:
                return message


def _high_fd(fd: int) -> int:
    # Keep our pipe ends away from 3 and 4, which the child's ends are moved onto.
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


def inspect_page(url: str, screenshot: Path, chromium: str, timeout: float = 60.0) -> PageReport:
    """Load ``url``, wait for the load event, check images, screenshot, report."""
    to_child_r, to_child_w = (_high_fd(fd) for fd in os.pipe())
    from_child_r, from_child_w = (_high_fd(fd) for fd in os.pipe())

    def child_fds() -> None:
        os.dup2(to_child_r, 3)
        os.dup2(from_child_w, 4)

    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=child_fds,  # noqa: PLW1509 - the DevTools pipe must be fds 3 and 4
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        pipe = _Pipe(to_child_w, from_child_r)
        report = PageReport()
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
            session = pipe.call(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )["sessionId"]
            for domain in ("Page", "Runtime", "Network", "Log"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call("Page.navigate", {"url": url}, session=session)
            pipe.wait_event("Page.loadEventFired", timeout=timeout)
            images = pipe.call(
                "Runtime.evaluate",
                {
                    "expression": "JSON.stringify(Array.from(document.images)"
                    ".map(i => [i.complete, i.naturalWidth]))",
                    "returnByValue": True,
                },
                session=session,
            )
            report.images = [tuple(i) for i in json.loads(images["result"]["value"])]  # type: ignore[misc]
            title = pipe.call(
                "Runtime.evaluate",
                {"expression": "document.title", "returnByValue": True},
                session=session,
            )
            report.title = str(title["result"].get("value", ""))
            shot = pipe.call(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True},
                session=session,
                timeout=timeout,
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        finally:
            with contextlib.suppress(OSError):
                pipe.send("Browser.close")
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            os.close(to_child_w)
            os.close(from_child_r)
    for event in pipe.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            report.requests.append(str(params["request"]["url"]))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            report.console_errors.append(json.dumps(params.get("args", []))[:300])
        elif method == "Runtime.exceptionThrown":
            report.console_errors.append(json.dumps(params.get("exceptionDetails", {}))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            report.console_errors.append(str(params["entry"].get("text", ""))[:300])
    return report
