"""The local stack's data directory: a write-ahead journal of every write moto applies.

``stratigos local up`` keeps moto's state (the lake, the tables, the queues, the dead
letters) across restarts, even after ``kill -9``, by journalling requests:

* :class:`JournalingApp` wraps moto's WSGI application. A request that changes something
  (S3 ``PUT``/``POST``/``DELETE``; a JSON or query API operation that is not a read:
  ``Get…``, ``List…``, ``Describe…``, ``Query``, ``Scan``, ``Receive…``) is appended to
  ``requests.jsonl`` *before* moto applies it, then applied, then — when moto made up
  values (:mod:`local._moto_facts`) or refused it — followed by an outcome line. Writes
  are applied one at a time, in journal order, so the journal's order is the order moto
  saw; reads are never held up. Each line is one ``write(2)`` to a file opened
  ``O_APPEND``: once the call returns the line is in the kernel's page cache, which a
  killed process cannot lose. So whatever a client was answered — or could have read — is
  in the journal (a power cut needs ``fsync``; that is not attempted).
* :func:`replay` hands the journal back to a fresh moto, in order, in-process (no HTTP),
  skipping writes moto refused, with the facts recorded the first time.
* :class:`DataDirectory` holds the journal and a lock, so one stack writes it at a time.

Receives (and visibility changes) are not journalled: after a restart every message not
deleted is visible again at once, as after its visibility timeout.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from local import _moto_facts

__all__ = [
    "JOURNAL_NAME",
    "DataDirectory",
    "DataDirectoryError",
    "DataDirectoryInUseError",
    "Journal",
    "JournalError",
    "JournalingApp",
    "ReplayReport",
    "is_write",
    "replay",
]

JOURNAL_NAME: Final = "requests.jsonl"
LOCK_NAME: Final = "lock"
_FORMAT: Final = 1
_READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# Operations of the JSON and query protocols that change nothing worth keeping. Receives
# and visibility changes do change a queue, but only until a restart makes every message
# visible again.
_READ_OPERATIONS: Final = (
    "Get",
    "List",
    "Describe",
    "Query",
    "Scan",
    "BatchGet",
    "TransactGet",
    "Receive",
    "Search",
    "Test",
    "ChangeMessageVisibility",
)
_ENVIRON_KEYS: Final = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "RAW_URI",
    "REQUEST_URI",
    "CONTENT_TYPE",
    "SERVER_PROTOCOL",
)
# Per-request noise, and what the journal replaces (the body is stored whole).
_DROPPED_HEADERS: Final = frozenset(
    {
        "HTTP_TRANSFER_ENCODING",
        "HTTP_CONNECTION",
        "HTTP_AMZ_SDK_INVOCATION_ID",
        "HTTP_AMZ_SDK_REQUEST",
        "HTTP_ACCEPT_ENCODING",
    }
)
_PRESERVED_NAMES: Final = "moto.preserved_header_names"
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "[::1]"})


class JournalError(Exception):
    """The journal cannot be read back (not written by this version, or damaged)."""


class DataDirectoryError(Exception):
    """The data directory cannot be used (one line, for the command line)."""


class DataDirectoryInUseError(DataDirectoryError):
    """Another ``stratigos local up`` holds the data directory."""


# ---------------------------------------------------------------- which requests are writes
def _form_action(environ: dict[str, Any], body: bytes | None) -> str | None:
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    if "Action" in query:
        return query["Action"][0]
    if body and "x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
        form = parse_qs(body.decode("latin-1"))
        if "Action" in form:
            return form["Action"][0]
    return None


def operation_of(environ: dict[str, Any], body: bytes | None = None) -> str:
    """The API operation a request calls: ``X-Amz-Target``'s, the query protocol's
    ``Action``, or (REST: S3) its method and path."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rpartition(".")[2]
    action = _form_action(environ, body)
    if action:
        return action
    return f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"


def is_write(environ: dict[str, Any], body: bytes | None = None) -> bool:
    """Whether a request may change moto's state (and so is journalled)."""
    if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
        return False
    operation = operation_of(environ, body)
    if " " in operation:  # REST
        return environ.get("REQUEST_METHOD", "GET").upper() not in _READ_METHODS
    return not operation.startswith(_READ_OPERATIONS)


def _needs_body_to_classify(environ: dict[str, Any]) -> bool:
    return not environ.get("HTTP_X_AMZ_TARGET") and "x-www-form-urlencoded" in environ.get(
        "CONTENT_TYPE", ""
    )


def _read_body(environ: dict[str, Any]) -> bytes:
    """The whole request body; the environ then reads it from memory."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = False
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return bytes(body)


# ---------------------------------------------------------------- the journal file
def _entry(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    recorded = {
        key: value
        for key, value in environ.items()
        if isinstance(value, str)
        and (key in _ENVIRON_KEYS or (key.startswith("HTTP_") and key not in _DROPPED_HEADERS))
    }
    entry: dict[str, Any] = {"env": recorded}
    names = environ.get(_PRESERVED_NAMES)
    if names:
        entry["names"] = names
    try:
        entry["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        entry["body64"] = base64.b64encode(body).decode("ascii")
    return entry


def _body_of(entry: dict[str, Any]) -> bytes:
    if "body64" in entry:
        return base64.b64decode(entry["body64"])
    return str(entry.get("body", "")).encode("utf-8")


class Journal:
    """``requests.jsonl``: one JSON object a line, appended by one process at a time.

    Lines: a header (``{"journal": 1, …}``), then per write ``{"n": seq, "env": …,
    "body"|"body64": …}`` and, when moto made up values or refused the write, ``{"done":
    seq, "status": …, "facts": […]}`` right after it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()  # writes are applied one at a time, in journal order
        self._fd: int | None = None
        self._seq = 0

    # reading ---------------------------------------------------------------
    def _lines(self) -> Iterator[dict[str, Any]]:
        """Every complete line; a torn last line (a crash mid-write) is cut off."""
        if not self.path.exists():
            return
        offset = 0
        number = 0
        with self.path.open("rb") as handle:
            for raw in handle:
                number += 1
                start, offset = offset, offset + len(raw)
                try:
                    record = json.loads(raw) if raw.endswith(b"\n") else None
                except ValueError:
                    record = None
                if isinstance(record, dict):
                    yield record
                    continue
                if handle.read(1):
                    raise JournalError(
                        f"{self.path}: line {number} is damaged; the journal cannot be "
                        "replayed past it (start empty with --fresh)"
                    )
                handle.close()
                with self.path.open("r+b") as cut:  # the write that was never answered
                    cut.truncate(start)
                return

    def writes(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        """Each journalled write with its outcome line (None: applied, nothing made up)."""
        pending: dict[str, Any] | None = None
        for record in self._lines():
            if "journal" in record:
                if record["journal"] != _FORMAT:
                    raise JournalError(
                        f"{self.path} is journal format {record['journal']}, this version "
                        f"reads {_FORMAT} (start empty with --fresh)"
                    )
                continue
            if "done" in record:
                if pending is not None and record["done"] == pending.get("n"):
                    yield pending, record
                    pending = None
                continue
            if pending is not None:
                yield pending, None
            pending = record
            self._seq = max(self._seq, int(record.get("n", 0)))
        if pending is not None:
            yield pending, None

    # writing ---------------------------------------------------------------
    def open(self) -> None:
        """Start appending (after :meth:`writes` was read to its end)."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if new:
            from moto import __version__ as moto_version

            self._append({"journal": _FORMAT, "moto": moto_version, "created": time.time()})

    def close(self) -> None:
        """Stop appending; a request still being served after this is refused (500)."""
        with self.lock:  # not while a write is between its journal line and moto
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _append(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise JournalError(f"{self.path} is closed: the local stack is stopping")
        data = memoryview(json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n")
        while data:  # one write(2) for all but enormous lines
            data = data[os.write(self._fd, data) :]

    def append_write(self, entry: dict[str, Any]) -> int:
        """Journal a write before it is applied (hold :attr:`lock`); returns its number."""
        self._seq += 1
        self._append({"n": self._seq, **entry})
        return self._seq

    def append_outcome(self, seq: int, status: int, facts: list[_moto_facts.Fact]) -> None:
        self._append({"done": seq, "status": status, "facts": facts})


# ---------------------------------------------------------------- WSGI
def _status_code(status: str) -> int:
    return int(status.split(" ", 1)[0])


def _call(
    app: Callable[..., Iterable[bytes]], environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to completion: status, headers, the whole body."""
    answer: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], b"".join(chunks)


class JournalingApp:
    """moto's WSGI app, journalling each write before applying it (once :attr:`recording`).

    Until then (while the journal is replayed) requests go straight to moto.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], journal: Journal) -> None:
        self.app = app
        self.journal = journal
        self.recording = False
        _moto_facts.install()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not self.recording:
            return self.app(environ, start_response)
        body = _read_body(environ) if _needs_body_to_classify(environ) else None
        if not is_write(environ, body):
            return self.app(environ, start_response)
        if body is None:
            body = _read_body(environ)
        entry = _entry(environ, body)
        with self.journal.lock:
            seq = self.journal.append_write(entry)
            with _moto_facts.capturing() as facts:
                try:
                    status, headers, content = _call(self.app, environ)
                except BaseException:
                    self.journal.append_outcome(seq, 500, [])
                    raise
            code = _status_code(status)
            if facts or code >= 300:
                self.journal.append_outcome(seq, code, facts)
        start_response(status, headers)
        return [content]


# ---------------------------------------------------------------- replay
@dataclass
class ReplayReport:
    """What a restart found in the journal."""

    writes: int = 0
    refused: int = 0  # refused the first time too: skipped
    diverged: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _replay_environ(entry: dict[str, Any], host: str) -> dict[str, Any]:
    body = _body_of(entry)
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_NAME": host.rpartition(":")[0],
        "SERVER_PORT": host.rpartition(":")[2],
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        **entry["env"],
        "CONTENT_LENGTH": str(len(body)),
    }
    recorded_host = str(environ.get("HTTP_HOST", ""))
    if not recorded_host or recorded_host.rpartition(":")[0] in _LOOPBACK:
        environ["HTTP_HOST"] = host  # the port moto listens on now
    if "names" in entry:
        environ[_PRESERVED_NAMES] = entry["names"]
    return environ


def replay(app: Callable[..., Iterable[bytes]], journal: Journal, host: str) -> ReplayReport:
    """Apply ``journal``'s writes to ``app`` (a fresh moto), in order, in this thread."""
    _moto_facts.install()
    report = ReplayReport()
    started = time.perf_counter()
    for entry, outcome in journal.writes():
        if outcome is not None and int(outcome.get("status", 200)) >= 300:
            report.refused += 1
            continue
        environ = _replay_environ(entry, host)
        with _moto_facts.replaying(outcome["facts"] if outcome else []) as facts:
            status, _, _ = _call(app, environ)
        report.writes += 1
        code = _status_code(status)
        if code >= 300 or facts.unused or (outcome is not None and facts.missing):
            report.diverged.append(
                f"write {entry.get('n')} ({operation_of(environ, _body_of(entry))}): "
                f"{status}" + (f", unused {facts.unused}" if facts.unused else "")
            )
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------- the directory
class DataDirectory:
    """A stack's data directory: the journal, and a lock held while the stack runs.

    The lock (``flock``) goes with the process, so a killed stack never leaves it held.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = Journal(path / JOURNAL_NAME)
        self._lock_fd: int | None = None

    def acquire(self) -> None:
        """Take the directory (create it if need be).

        Raises
        ------
        DataDirectoryInUseError
            Another running stack holds it.
        DataDirectoryError
            It cannot be created or written.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise DataDirectoryError(
                f"the data directory {self.path} cannot be used: {error.strerror or error}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DataDirectoryInUseError(
                    f"the data directory {self.path} is in use by another `stratigos local "
                    f"up` (pid {holder}); stop it, or choose another with --data-dir DIR",
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._lock_fd = fd

    def clear(self) -> None:
        """Forget everything kept (``--fresh``)."""
        self.journal.path.unlink(missing_ok=True)

    def release(self) -> None:
        self.journal.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    @property
    def empty(self) -> bool:
        path = self.journal.path
        return not path.exists() or path.stat().st_size == 0
