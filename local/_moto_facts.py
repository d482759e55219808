"""What moto makes up while it applies a write, kept so that a replay makes up the same.

A replayed request must leave moto as the original left it, but moto invents some values
itself: S3 version ids and Last-Modified times, multipart upload ids, SQS message ids.
Everything else the platform keeps comes from the request (the journal's copy).

While a write is applied under :func:`capturing`, every such value is noted as a *fact*,
in order, per kind; the journal stores the facts with the write. Under :func:`replaying`
moto is handed the recorded facts back instead: the same version ids and times (the
ingest's "newest object wins" compares them, and events in the queues name them), the
same message ids.

An SQS ``DeleteMessage`` names its message by a receipt handle, which belongs to one
receive and means nothing after a restart (receives are not replayed). Capturing notes
the ids of the messages the handle deleted; replaying deletes those ids.

Outside either context (every other thread, every memory-only stack) the hooks do nothing
but call moto. They are installed once per process (:func:`install`).
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

__all__ = ["Fact", "ReplayedFacts", "capturing", "install", "replaying"]

Fact = list[Any]  # [kind, *values]: JSON as it is stored

_KEY, _MARKER, _UPLOAD, _MESSAGE, _DELETE = (
    "s3.key",
    "s3.marker",
    "s3.upload",
    "sqs.message",
    "sqs.delete",
)
_state = threading.local()
_install_lock = threading.Lock()
_installed = False


class ReplayedFacts:
    """The recorded facts of one write, handed out by kind in recorded order."""

    def __init__(self, facts: list[Fact]) -> None:
        self._pending: dict[str, deque[list[Any]]] = defaultdict(deque)
        for fact in facts:
            self._pending[str(fact[0])].append(list(fact[1:]))
        self.missing: list[str] = []  # kinds moto asked for that were not recorded

    def take(self, kind: str) -> list[Any] | None:
        queue = self._pending.get(kind)
        if queue:
            return queue.popleft()
        self.missing.append(kind)
        return None

    @property
    def unused(self) -> list[str]:
        return [kind for kind, queue in self._pending.items() for _ in queue]


@contextmanager
def capturing() -> Iterator[list[Fact]]:
    """Note, in this thread, what moto makes up while the block runs."""
    facts: list[Fact] = []
    previous = getattr(_state, "mode", None)
    _state.mode = ("capture", facts)
    try:
        yield facts
    finally:
        _state.mode = previous


@contextmanager
def replaying(facts: list[Fact]) -> Iterator[ReplayedFacts]:
    """Hand moto, in this thread, the recorded ``facts`` instead of new values."""
    replayed = ReplayedFacts(facts)
    previous = getattr(_state, "mode", None)
    _state.mode = ("replay", replayed)
    try:
        yield replayed
    finally:
        _state.mode = previous


def _mode() -> tuple[str, Any] | None:
    mode: tuple[str, Any] | None = getattr(_state, "mode", None)
    return mode


def _note(kind: str, *values: Any) -> None:
    mode = _mode()
    if mode is not None and mode[0] == "capture":
        mode[1].append([kind, *values])


def _recorded(kind: str) -> list[Any] | None:
    mode = _mode()
    if mode is None or mode[0] != "replay":
        return None
    taken: list[Any] | None = mode[1].take(kind)
    return taken


def _versioned_hook(kind: str, original: Callable[..., None]) -> Callable[..., None]:
    """FakeKey / FakeDeleteMarker: the version id and Last-Modified."""

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if _mode() is None:
            return
        recorded = _recorded(kind)
        if recorded is not None:
            self._version_id, modified = recorded
            self.last_modified = datetime.fromisoformat(modified)
        else:
            _note(kind, self._version_id, self.last_modified.isoformat())

    return init


def _upload_hook(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if _mode() is None:
            return
        recorded = _recorded(_UPLOAD)
        if recorded is not None:
            self.id = recorded[0]
        else:
            _note(_UPLOAD, self.id)

    return init


def _message_hook(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if _mode() is None:
            return
        recorded = _recorded(_MESSAGE)
        if recorded is not None:
            self.id = recorded[0]
        else:
            _note(_MESSAGE, self.id)

    return init


def _delete_hook(original: Callable[..., None]) -> Callable[..., None]:
    def delete_message(self: Any, receipt_handle: str) -> None:
        mode = _mode()
        if mode is None:
            original(self, receipt_handle)
            return
        if mode[0] == "replay":
            recorded = _recorded(_DELETE)
            if recorded is None:
                original(self, receipt_handle)  # not recorded: moto decides (it refuses)
                return
            ids = set(recorded[0])
            kept = []
            for message in self._messages:
                if message.id in ids:
                    self.pending_messages.discard(message)
                else:
                    kept.append(message)
            self._messages = kept
            return
        deleted = [m.id for m in self._messages if m.had_receipt_handle(receipt_handle)]
        original(self, receipt_handle)  # raises for an unknown handle: nothing noted
        _note(_DELETE, deleted)

    return delete_message


def install() -> None:
    """Hook moto's S3 and SQS models (once per process; inert outside the contexts)."""
    global _installed  # noqa: PLW0603 - once per process
    with _install_lock:
        if _installed:
            return
        from moto.s3 import models as s3_models
        from moto.sqs import models as sqs_models

        hooks: list[tuple[type, str, Callable[..., None]]] = [
            (s3_models.FakeKey, "__init__", _versioned_hook(_KEY, s3_models.FakeKey.__init__)),
            (
                s3_models.FakeDeleteMarker,
                "__init__",
                _versioned_hook(_MARKER, s3_models.FakeDeleteMarker.__init__),
            ),
            (
                s3_models.FakeMultipart,
                "__init__",
                _upload_hook(s3_models.FakeMultipart.__init__),
            ),
            (sqs_models.Message, "__init__", _message_hook(sqs_models.Message.__init__)),
            (
                sqs_models.Queue,
                "delete_message",
                _delete_hook(sqs_models.Queue.delete_message),
            ),
        ]
        for owner, name, hook in hooks:
            setattr(owner, name, hook)
        _installed = True
