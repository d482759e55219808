"""The day-move rule: a close must be a plausible move from the ticker's previous close.

Field checks (:mod:`ingest._checks`) bound each price on its own, to [1e-6, 1e9]. This
module bounds the move between consecutive closes of a ticker, which needs the lake: the
*previous available close* may be in the file or in any year of ``curated/prices``.

Rule, per ticker, in date order over the closes the lake will hold after the landing (the
file's rows replacing the lake's on the same dates):

* an incoming close whose simple return against the previous available close is outside
  [:data:`MIN_DAY_MOVE`, :data:`MAX_DAY_MOVE`] = [−95 %, +1,000 %] is quarantined
  (``IMPLAUSIBLE_MOVE``), and the next close is then judged against the one before it;
* an incoming close that would make the *next* close already in the lake move outside
  that range is quarantined too (otherwise that close's return would become implausible),
  and on a correction the lake's old value stays;
* a corrections file can accept a move (a split): the move is also judged split-adjusted,
  ``close × ratio / previous − 1``, and either being plausible lets the close in
  (:mod:`ingest.corrections`).

Why these bounds: no listed stock loses 95 % or gains 1,000 % in a day outside a split, a
restructuring or a data error, and a split is exactly what a correction names; a looser
bound would let the classic vendor errors through (a price in cents instead of dollars is
×100, a dropped decimal point ×10 or more, a missing digit ÷10). The first close of a
ticker has no previous close and is judged by the price bounds only.

The common case costs one vectorised pass: only tickers with a suspicious move are walked
one close at a time, and the corrections object is read only then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ingest._checks import RejectReason

__all__ = ["MAX_DAY_MOVE", "MIN_DAY_MOVE", "implausible_moves", "is_plausible_move"]

MIN_DAY_MOVE: Final = -0.95
MAX_DAY_MOVE: Final = 10.0
_EPOCH: Final = date(1970, 1, 1)
_DAY_BITS: Final = 20
_DAY_OFFSET: Final = 1 << 19  # days since 1970 from 1900 on are > -2**19
_RULE: Final = (
    f"a day's move must be within [{MIN_DAY_MOVE:+.0%}, {MAX_DAY_MOVE:+,.0%}] unless a "
    "corrections file accepts it (docs/INGEST.md)"
)

SplitRatios = Mapping[tuple[str, int], float]


def is_plausible_move(move: float | npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Whether a simple return is within [:data:`MIN_DAY_MOVE`, :data:`MAX_DAY_MOVE`]."""
    moves = np.asarray(move, dtype=np.float64)
    return np.asarray((moves >= MIN_DAY_MOVE) & (moves <= MAX_DAY_MOVE), dtype=np.bool_)


def _keys(table: pa.Table, vocabulary: pa.Array) -> npt.NDArray[np.int64]:
    """One int64 per row: ticker code × 2²⁰ + day, so that sorting gives (ticker, date)."""
    codes = pc.index_in(table["ticker"], value_set=vocabulary).to_numpy(zero_copy_only=False)
    days = pc.cast(table["date"], pa.int32()).to_numpy(zero_copy_only=False)
    return (np.asarray(codes, np.int64) << _DAY_BITS) + np.asarray(days, np.int64) + _DAY_OFFSET


def _day_text(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).isoformat()


@dataclass
class _Close:
    """One close of a ticker's sequence: an incoming row (``position`` ≥ 0) or a lake row."""

    day: int
    close: float
    position: int = -1
    replaced: float | None = None  # the lake's value an incoming row replaces

    @property
    def incoming(self) -> bool:
        return self.position >= 0


class _TickerWalk:
    """The slow path for one ticker: its closes in date order, one at a time."""

    def __init__(self, ticker: str, ratios: Callable[[], SplitRatios]) -> None:
        self.ticker = ticker
        self._ratios = ratios
        self.accepted: list[_Close] = []
        self.rejected: dict[int, tuple[RejectReason, str]] = {}

    def _move(self, later: _Close, earlier: _Close) -> tuple[bool, float]:
        move = later.close / earlier.close - 1.0
        if bool(is_plausible_move(move)):
            return True, move
        ratio = self._ratios().get((self.ticker, later.day))
        adjusted = None if ratio is None else later.close * ratio / earlier.close - 1.0
        return adjusted is not None and bool(is_plausible_move(adjusted)), move

    def add_incoming(self, row: _Close) -> None:
        previous = self.accepted[-1] if self.accepted else None
        if previous is None:
            self.accepted.append(row)
            return
        plausible, move = self._move(row, previous)
        if plausible:
            self.accepted.append(row)
            return
        self.rejected[row.position] = (
            RejectReason.IMPLAUSIBLE_MOVE,
            f"close {row.close:g} on {_day_text(row.day)} moves {move:+.2%} from the previous "
            f"available close {previous.close:g} on {_day_text(previous.day)}; {_RULE}",
        )
        if row.replaced is not None:  # a refused correction: the lake keeps its value
            self.add_lake(_Close(row.day, row.replaced))

    def add_lake(self, row: _Close) -> None:
        # A close that stays in the lake: the incoming closes right before it must leave it
        # a plausible move (the move between two lake closes is the lake's own business).
        while self.accepted and self.accepted[-1].incoming:
            previous = self.accepted[-1]
            plausible, move = self._move(row, previous)
            if plausible:
                break
            self.accepted.pop()
            self.rejected[previous.position] = (
                RejectReason.IMPLAUSIBLE_MOVE,
                f"close {previous.close:g} on {_day_text(previous.day)} would make the next "
                f"available close, {row.close:g} on {_day_text(row.day)}, move {move:+.2%}; "
                f"{_RULE}",
            )
            if previous.replaced is not None:
                self.add_lake(_Close(previous.day, previous.replaced))
        self.accepted.append(row)


def implausible_moves(
    incoming: pa.Table, lake: pa.Table, ratios: Callable[[], SplitRatios]
) -> dict[int, tuple[RejectReason, str]]:
    """The incoming rows whose day move (in or out) is implausible, with their messages.

    Parameters
    ----------
    incoming : pyarrow.Table
        Validated rows (``date``, ``ticker``, ``close``), unique per ``(ticker, date)``.
    lake : pyarrow.Table
        The lake's closes around them (:func:`ingest.price_history.read_price_neighbourhood`).
    ratios : callable
        Returns the corrections' split ratios by ``(ticker, day)``; called at most once,
        and only when some move is out of bounds.

    Returns
    -------
    dict of int to (RejectReason, str)
        Position in ``incoming`` → ``IMPLAUSIBLE_MOVE`` and a message naming both closes.
    """
    if incoming.num_rows == 0:
        return {}
    vocabulary = pc.unique(
        pa.concat_arrays(
            [
                incoming["ticker"].combine_chunks().cast(pa.string()),
                lake["ticker"].combine_chunks().cast(pa.string()),
            ]
        )
    )
    in_keys, lake_keys = _keys(incoming, vocabulary), _keys(lake, vocabulary)
    in_close = np.asarray(incoming["close"].to_numpy(zero_copy_only=False), np.float64)
    lake_close = np.asarray(lake["close"].to_numpy(zero_copy_only=False), np.float64)
    # Lake closes the file's rows replace (a sorted search: the file's keys are unique).
    sorted_in = np.sort(in_keys)
    found = np.minimum(np.searchsorted(sorted_in, lake_keys), len(sorted_in) - 1)
    replaced = sorted_in[found] == lake_keys
    keys = np.concatenate([in_keys, lake_keys[~replaced]])
    closes = np.concatenate([in_close, lake_close[~replaced]])
    positions = np.concatenate(
        [np.arange(len(in_keys), dtype=np.int64), np.full(int((~replaced).sum()), -1, np.int64)]
    )
    order = np.argsort(keys, kind="stable")
    keys, closes, positions = keys[order], closes[order], positions[order]
    tickers = keys >> _DAY_BITS
    same = tickers[1:] == tickers[:-1]
    touches_file = (positions[1:] >= 0) | (positions[:-1] >= 0)
    with np.errstate(over="ignore"):
        moves = closes[1:] / closes[:-1] - 1.0
    suspicious = same & touches_file & ~is_plausible_move(moves)
    if not suspicious.any():
        return {}

    loaded: list[SplitRatios] = []

    def ratios_once() -> SplitRatios:
        if not loaded:
            loaded.append(ratios())
        return loaded[0]

    old_values = dict(zip(lake_keys[replaced].tolist(), lake_close[replaced].tolist(), strict=True))
    in_key_of = in_keys.tolist()
    names = vocabulary.to_pylist()
    starts = np.flatnonzero(np.r_[True, ~same])
    ends = np.r_[starts[1:], len(keys)]
    flagged = set(tickers[1:][suspicious].tolist())
    rejected: dict[int, tuple[RejectReason, str]] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        code = int(tickers[start])
        if code not in flagged:
            continue
        walk = _TickerWalk(str(names[code]), ratios_once)
        for index in range(start, end):
            day = int(keys[index] - (code << _DAY_BITS) - _DAY_OFFSET)
            position = int(positions[index])
            if position < 0:
                walk.add_lake(_Close(day, float(closes[index])))
                continue
            old = old_values.get(in_key_of[position])
            walk.add_incoming(_Close(day, float(closes[index]), position, old))
        rejected.update(walk.rejected)
    return rejected
