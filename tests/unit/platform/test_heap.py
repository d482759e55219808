"""core.heap: a handler's environment freezes what is alive after its first call, once."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from core import heap


@pytest.fixture
def fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(heap._state, "frozen", False)
    yield
    gc.unfreeze()


def test_the_first_call_freezes_and_later_ones_do_not(fresh_process_state: None) -> None:
    calls: list[int] = []

    @heap.freeze_after_first_call
    def handler(event: int, context: object) -> int:
        calls.append(event)
        return event * 2

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    assert handler(1, None) == 2
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc.unfreeze()
    assert handler(2, None) == 4
    assert gc.get_freeze_count() == 0  # not again: once per process
    assert calls == [1, 2]
    assert handler.__name__ == "handler"


def test_a_failing_first_call_still_freezes_and_raises(fresh_process_state: None) -> None:
    @heap.freeze_after_first_call
    def handler(event: object, context: object) -> None:
        raise ValueError("refused")

    gc.unfreeze()
    with pytest.raises(ValueError, match="refused"):
        handler({}, None)
    assert gc.get_freeze_count() > 0
