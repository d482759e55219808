"""The curated closes around some (ticker, date) pairs: each one's previous and next close.

A return is derived from the ticker's previous available close *wherever it lies*, and a
day's move is judged against it, so both the returns recomputation and the plausibility
check need, for each changed or incoming ``(ticker, date)``, the ticker's nearest close
before and after it, which can sit years away (a ticker quoted in 2021 and next in 2025).

Reading stays proportional to what is needed: the partitions of the dates themselves, then,
for each ticker whose neighbour is not in them, a walk year by year (backwards for the
previous close, forwards for the next) over the years that have a partition (one listing),
stopping at the first year that holds the ticker, or at the lake's first/last year. Every
partition is read once, and only the wanted tickers' ``date, ticker, close`` are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from ingest.lake import PartitionStore

__all__ = ["CLOSES_SCHEMA", "PriceNeighbourhood", "read_price_neighbourhood"]

#: The columns a neighbourhood keeps.
CLOSES_SCHEMA: Final = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class PriceNeighbourhood:
    """Closes of some tickers, complete around some dates.

    Attributes
    ----------
    closes : pyarrow.Table
        :data:`CLOSES_SCHEMA` rows of the wanted tickers in every year read, in year
        order (not sorted by ticker: the callers order their own keys). For each wanted
        ``(ticker, date)``, the ticker's previous and
        next close in the lake (if any) are in it, and no lake close of that ticker lies
        between them and the date without being in it too.
    years_read : tuple[int, ...]
        The partitions read, ascending.
    """

    closes: pa.Table
    years_read: tuple[int, ...]


class _YearCache:
    """Partitions read so far (wanted tickers only) and each ticker's date span in them."""

    def __init__(self, store: PartitionStore, tickers: pa.Array) -> None:
        self._store = store
        self._tickers = tickers
        self.tables: dict[int, pa.Table] = {}
        self.spans: dict[int, dict[str, tuple[int, int]]] = {}

    def span(self, year: int) -> dict[str, tuple[int, int]]:
        """``ticker → (first day, last day)`` of the wanted tickers in ``year``'s partition."""
        if year not in self.spans:
            table, _ = self._store.read(year, columns=CLOSES_SCHEMA.names)
            if table is None:
                table = CLOSES_SCHEMA.empty_table()
            table = table.filter(pc.is_in(table["ticker"], value_set=self._tickers))
            table = table.select(CLOSES_SCHEMA.names).cast(CLOSES_SCHEMA)
            self.tables[year] = table
            days = pc.cast(table["date"], pa.int32())
            spans = pa.table({"ticker": table["ticker"], "day": days}).group_by("ticker")
            rows = spans.aggregate([("day", "min"), ("day", "max")]).to_pylist()
            self.spans[year] = {r["ticker"]: (r["day_min"], r["day_max"]) for r in rows}
        return self.spans[year]


def _wanted_spans(wanted: pa.Table) -> Iterator[tuple[str, int, int, int]]:
    """``(ticker, year, first day, last day)`` of the wanted dates, per ticker and year."""
    days = pc.cast(wanted["date"], pa.int32())
    keyed = pa.table({"ticker": wanted["ticker"], "year": pc.year(wanted["date"]), "day": days})
    grouped = keyed.group_by(["ticker", "year"]).aggregate([("day", "min"), ("day", "max")])
    for row in grouped.to_pylist():
        yield row["ticker"], row["year"], row["day_min"], row["day_max"]


def read_price_neighbourhood(store: PartitionStore, wanted: pa.Table) -> PriceNeighbourhood:
    """Read the curated closes that hold each wanted date's previous and next close.

    Parameters
    ----------
    store : PartitionStore
        The curated prices.
    wanted : pyarrow.Table
        ``ticker`` (string) and ``date`` (date32) columns: changed or incoming prices.

    Returns
    -------
    PriceNeighbourhood
        The closes of the wanted tickers in the partitions of the wanted dates and in the
        partitions that hold, per ticker and year of wanted dates, the previous close
        before the year's first wanted date and the next close after its last one (walking
        year by year over the partitions that exist). Between a year's first and last
        wanted date every close is in that year's partition, so each wanted date's
        neighbours are in the result.
    """
    if wanted.num_rows == 0:
        return PriceNeighbourhood(CLOSES_SCHEMA.empty_table(), ())
    tickers = pc.unique(wanted["ticker"].combine_chunks().cast(pa.string()))
    cache = _YearCache(store, tickers)
    existing = store.years()
    for ticker, year, first_day, last_day in _wanted_spans(wanted):
        own = cache.span(year).get(ticker) if year in existing else None
        if own is None or own[0] >= first_day:  # no earlier close in its own year
            for earlier in reversed([y for y in existing if y < year]):
                if ticker in cache.span(earlier):
                    break
        if own is None or own[1] <= last_day:  # no later close in its own year
            for later in [y for y in existing if y > year]:
                if ticker in cache.span(later):
                    break
    years = tuple(sorted(cache.tables))
    parts = [cache.tables[y] for y in years]
    closes = pa.concat_tables(parts) if parts else CLOSES_SCHEMA.empty_table()
    return PriceNeighbourhood(closes, years)
