"""Daily returns for exactly the tickers and dates whose prices changed.

For a changed price of ticker *i* on day *d*, two returns change: the one *on* d (close_d /
close_prev − 1) and the one on the ticker's next available close after d (whose previous
close is close_d). Both are recomputed from the curated prices around them and merged into
``curated/returns``; every other return is left as it was.

.. math:: r^{simple}_t = P_t / P_{t^-} - 1, \\qquad r^{log}_t = \\ln(P_t / P_{t^-})

where :math:`t^-` is the ticker's previous available close in the lake, wherever it lies
(the day before, or years before: :mod:`ingest.price_history` finds it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.lake import PartitionStore, PartitionWrite, years_of
from ingest.price_history import read_price_neighbourhood
from ingest.schemas import PRICE_SCHEMA, PRICES_PREFIX, RETURNS_PREFIX, RETURNS_SCHEMA

__all__ = ["ReturnsUpdate", "affected_returns", "daily_returns", "update_returns"]


@dataclass
class ReturnsUpdate:
    """What one returns recomputation did."""

    rows: int = 0
    tickers: list[str] = field(default_factory=list)
    first_date: str | None = None
    last_date: str | None = None
    partitions_written: list[str] = field(default_factory=list)
    data_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def daily_returns(prices: pa.Table) -> pa.Table:
    """Returns between consecutive rows of each ticker (rows sorted by ticker, date).

    The first row of each ticker has no previous close and yields no return.
    """
    order = pc.sort_indices(prices, [("ticker", "ascending"), ("date", "ascending")])
    prices = prices.take(order)
    tickers = prices["ticker"].to_numpy(zero_copy_only=False)
    dates = prices["date"].to_numpy(zero_copy_only=False)
    close = prices["close"].to_numpy(zero_copy_only=False).astype(np.float64)
    if len(close) < 2:
        return RETURNS_SCHEMA.empty_table()
    same_ticker = tickers[1:] == tickers[:-1]
    idx = np.flatnonzero(same_ticker) + 1
    ratio = close[idx] / close[idx - 1]
    now = datetime.now(UTC)
    return pa.table(
        {
            "date": pa.array(dates[idx], pa.date32()),
            "ticker": pa.array(tickers[idx], pa.string()),
            "simple_return": pa.array(ratio - 1.0),
            "log_return": pa.array(np.log(ratio)),
            "prev_date": pa.array(dates[idx - 1], pa.date32()),
            "computed_at": pa.array([now] * len(idx), pa.timestamp("ms", tz="UTC")),
        },
        schema=RETURNS_SCHEMA,
    )


def affected_returns(prices: pa.Table, changed: pa.Table) -> pa.Table:
    """The returns a set of changed ``(ticker, date)`` prices touch, recomputed.

    ``prices`` must hold, for every changed ticker, its previous and next close around
    each changed date and every close in between (the caller reads them with
    :func:`ingest.price_history.read_price_neighbourhood`); closes of other spans may be
    missing, since only returns on or right after a changed date are kept.
    """
    returns = daily_returns(prices)
    if returns.num_rows == 0 or changed.num_rows == 0:
        return RETURNS_SCHEMA.empty_table()
    # A return is affected when its own date or its previous date is a changed price.
    keys = changed.select(["ticker", "date"]).group_by(["ticker", "date"]).aggregate([])
    on_date = returns.join(keys, keys=["ticker", "date"], join_type="left semi")
    by_prev = keys.rename_columns(["ticker", "prev_date"])
    after = returns.join(by_prev, keys=["ticker", "prev_date"], join_type="left semi")
    both = pa.concat_tables([on_date, after])
    # Drop the duplicates (a return can be affected through both of its prices).
    order = pc.sort_indices(both, [("ticker", "ascending"), ("date", "ascending")])
    both = both.take(order)
    tick = both["ticker"].to_numpy(zero_copy_only=False)
    day = both["date"].to_numpy(zero_copy_only=False)
    first = np.ones(len(tick), dtype=bool)
    first[1:] = (tick[1:] != tick[:-1]) | (day[1:] != day[:-1])
    return both.filter(pa.array(first))


def _merge_returns(current: pa.Table | None, incoming: pa.Table) -> pa.Table | None:
    """Incoming returns replace current ones with the same (ticker, date)."""
    if incoming.num_rows == 0:
        return None
    if current is None or current.num_rows == 0:
        return incoming
    current = current.cast(RETURNS_SCHEMA)
    # A redelivery recomputes the very same returns: leave the partition (and so its ETag,
    # which the data version is made of) as it is rather than rewrite it with a new
    # computed_at, or the repeated MarketDataUpdated would request a second set of runs.
    values = ["ticker", "date", "simple_return", "log_return", "prev_date"]
    changed = incoming.select(values).join(
        current.select(values), keys=values, join_type="left anti"
    )
    if changed.num_rows == 0:
        return None
    stale = current.join(
        incoming.select(["ticker", "date"]), keys=["ticker", "date"], join_type="left anti"
    )
    return pa.concat_tables([stale.select(RETURNS_SCHEMA.names), incoming])


def update_returns(changed: pa.Table, bucket: str, s3: Any | None = None) -> ReturnsUpdate:
    """Recompute and store the returns that the changed prices touch.

    Each returns partition is written from prices read *after* that partition was read (in
    the merge, again on every conflict retry): a concurrent update that wrote the returns
    in between makes the write conflict, and its prices are never newer than ours, so
    concurrent or out-of-order recomputations never leave returns of superseded prices.
    """
    update = ReturnsUpdate()
    if changed.num_rows == 0:
        return update
    prices_store = PartitionStore(bucket, PRICES_PREFIX, PRICE_SCHEMA, s3=s3)
    changed = changed.select(["ticker", "date"])

    def recompute() -> pa.Table:
        # The previous and next close of each changed date, however many years away.
        prices = read_price_neighbourhood(prices_store, changed).closes
        return affected_returns(prices, changed)

    fresh = recompute()
    if fresh.num_rows == 0:
        return update
    returns_store = PartitionStore(bucket, RETURNS_PREFIX, RETURNS_SCHEMA, s3=s3)
    writes: list[PartitionWrite] = []
    written: dict[int, pa.Table] = {}  # per year: the rows of the attempt that counted
    for year in years_of(fresh["date"]):

        def merge(current: pa.Table | None, year: int = int(year)) -> pa.Table | None:
            latest = recompute()
            rows = latest.filter(pc.equal(pc.year(latest["date"]), year))
            written[year] = rows
            return _merge_returns(current, rows)

        writes.append(returns_store.upsert(int(year), merge))
    fresh = pa.concat_tables(list(written.values()))
    update.rows = fresh.num_rows
    if fresh.num_rows == 0:
        return update
    update.tickers = sorted(set(fresh["ticker"].to_pylist()))
    update.first_date = pc.min(fresh["date"]).as_py().isoformat()
    update.last_date = pc.max(fresh["date"]).as_py().isoformat()
    update.partitions_written = [w.key for w in writes if w.written]
    digest = hashlib.sha256()
    for write in sorted(writes, key=lambda w: w.year):
        digest.update(f"{write.key}@{write.etag}".encode())
    update.data_version = digest.hexdigest()[:16]
    return update
