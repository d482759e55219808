"""The ticker universe of the synthetic price generator.

The symbols and company names are those of real US-listed companies so that demo
portfolios read naturally, and the listing / delisting dates are modelled on real
corporate events (IPOs, spin-offs, acquisitions) -- but **every price produced from
this universe is synthetic**.  Nothing here is market data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from itertools import zip_longest
from typing import Final

__all__ = [
    "SECTORS",
    "SECTOR_PROFILES",
    "UNIVERSE",
    "SectorProfile",
    "TickerInfo",
    "is_synthetic_symbol",
    "synthetic_symbol",
    "universe",
]

_TICKER_RE: Final = re.compile(r"^[A-Z]{1,5}(\.[A-Z])?$")
_SYNTHETIC_RE: Final = re.compile(r"^Q[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class TickerInfo:
    """One security of the universe.

    Attributes
    ----------
    ticker : str
        Exchange symbol: 1-5 uppercase letters, optionally a share-class suffix
        (``"BRK.B"``).
    name : str
        Company name.
    sector : str
        GICS-like sector, one of :data:`SECTORS`.
    listed : datetime.date or None
        First trading day (inclusive).  ``None`` means listed before the start of
        any generated history.
    delisted : datetime.date or None
        Delisting date (exclusive): the security trades on days ``d`` with
        ``d < delisted``.  ``None`` means still listed.
    """

    ticker: str
    name: str
    sector: str
    listed: date | None = None
    delisted: date | None = None

    def trades_on(self, day: date) -> bool:
        """Return whether the security is listed on ``day``.

        Parameters
        ----------
        day : datetime.date
            Any date (the trading calendar is not consulted).

        Returns
        -------
        bool
            ``listed <= day < delisted`` with open bounds for ``None``.
        """
        if self.listed is not None and day < self.listed:
            return False
        return not (self.delisted is not None and day >= self.delisted)


@dataclass(frozen=True, slots=True)
class SectorProfile:
    """Ranges from which per-stock parameters of a sector are drawn.

    Attributes
    ----------
    beta : tuple of float
        ``(low, high)`` uniform range of the market beta.
    vol : tuple of float
        ``(low, high)`` uniform range of the total annualised volatility.
    factor_vol : float
        Annualised volatility of the sector factor (orthogonal to the market).
    """

    beta: tuple[float, float]
    vol: tuple[float, float]
    factor_vol: float


#: Annualised parameter ranges per sector (see docs/SAMPLE_DATA.md).
SECTOR_PROFILES: Final[dict[str, SectorProfile]] = {
    "Information Technology": SectorProfile((1.00, 1.40), (0.24, 0.45), 0.12),
    "Communication Services": SectorProfile((0.90, 1.30), (0.24, 0.45), 0.10),
    "Consumer Discretionary": SectorProfile((1.00, 1.40), (0.24, 0.50), 0.10),
    "Consumer Staples": SectorProfile((0.50, 0.80), (0.18, 0.26), 0.08),
    "Health Care": SectorProfile((0.60, 1.00), (0.20, 0.40), 0.09),
    "Financials": SectorProfile((0.90, 1.30), (0.20, 0.35), 0.11),
    "Industrials": SectorProfile((0.90, 1.20), (0.20, 0.35), 0.08),
    "Energy": SectorProfile((0.80, 1.30), (0.26, 0.45), 0.20),
    "Materials": SectorProfile((0.90, 1.20), (0.22, 0.35), 0.10),
    "Utilities": SectorProfile((0.35, 0.65), (0.18, 0.24), 0.10),
    "Real Estate": SectorProfile((0.60, 0.95), (0.20, 0.32), 0.11),
}

#: The eleven GICS-like sectors, in canonical order.
SECTORS: Final[tuple[str, ...]] = tuple(SECTOR_PROFILES)

_D = date
# Per sector: (ticker, name, listed, delisted); the best-known names first.
_BY_SECTOR: Final[dict[str, tuple[tuple[str, str, date | None, date | None], ...]]] = {
    "Information Technology": (
        ("AAPL", "Apple Inc.", None, None),
        ("MSFT", "Microsoft Corp.", None, None),
        ("NVDA", "NVIDIA Corp.", None, None),
        ("XLNX", "Xilinx Inc.", None, _D(2022, 2, 14)),
        ("AVGO", "Broadcom Inc.", None, None),
        ("CRWD", "CrowdStrike Holdings Inc.", _D(2019, 6, 12), None),
        ("ORCL", "Oracle Corp.", None, None),
        ("CRM", "Salesforce Inc.", None, None),
        ("ADBE", "Adobe Inc.", None, None),
        ("CSCO", "Cisco Systems Inc.", None, None),
        ("INTC", "Intel Corp.", None, None),
        ("SNOW", "Snowflake Inc.", _D(2020, 9, 16), None),
        ("TXN", "Texas Instruments Inc.", None, None),
    ),
    "Communication Services": (
        ("GOOGL", "Alphabet Inc. Class A", None, None),
        ("META", "Meta Platforms Inc.", None, None),
        ("NFLX", "Netflix Inc.", None, None),
        ("TWTR", "Twitter Inc.", None, _D(2022, 10, 28)),
        ("DIS", "The Walt Disney Co.", None, None),
        ("SNAP", "Snap Inc.", _D(2017, 3, 2), None),
        ("TMUS", "T-Mobile US Inc.", None, None),
        ("VZ", "Verizon Communications Inc.", None, None),
        ("T", "AT&T Inc.", None, None),
        ("CMCSA", "Comcast Corp.", None, None),
        ("ATVI", "Activision Blizzard Inc.", None, _D(2023, 10, 13)),
        ("EA", "Electronic Arts Inc.", None, None),
    ),
    "Consumer Discretionary": (
        ("AMZN", "Amazon.com Inc.", None, None),
        ("TSLA", "Tesla Inc.", None, None),
        ("HD", "The Home Depot Inc.", None, None),
        ("ABNB", "Airbnb Inc.", _D(2020, 12, 10), None),
        ("MCD", "McDonald's Corp.", None, None),
        ("TIF", "Tiffany & Co.", None, _D(2021, 1, 7)),
        ("NKE", "Nike Inc.", None, None),
        ("SBUX", "Starbucks Corp.", None, None),
        ("LOW", "Lowe's Companies Inc.", None, None),
        ("BKNG", "Booking Holdings Inc.", None, None),
        ("RIVN", "Rivian Automotive Inc.", _D(2021, 11, 10), None),
        ("TJX", "The TJX Companies Inc.", None, None),
        ("GM", "General Motors Co.", None, None),
    ),
    "Consumer Staples": (
        ("PG", "The Procter & Gamble Co.", None, None),
        ("KO", "The Coca-Cola Co.", None, None),
        ("WMT", "Walmart Inc.", None, None),
        ("PEP", "PepsiCo Inc.", None, None),
        ("KVUE", "Kenvue Inc.", _D(2023, 5, 4), None),
        ("COST", "Costco Wholesale Corp.", None, None),
        ("PM", "Philip Morris International Inc.", None, None),
        ("MO", "Altria Group Inc.", None, None),
        ("CL", "Colgate-Palmolive Co.", None, None),
        ("MDLZ", "Mondelez International Inc.", None, None),
        ("KMB", "Kimberly-Clark Corp.", None, None),
        ("GIS", "General Mills Inc.", None, None),
    ),
    "Health Care": (
        ("JNJ", "Johnson & Johnson", None, None),
        ("UNH", "UnitedHealth Group Inc.", None, None),
        ("PFE", "Pfizer Inc.", None, None),
        ("CELG", "Celgene Corp.", None, _D(2019, 11, 21)),
        ("LLY", "Eli Lilly and Co.", None, None),
        ("MRNA", "Moderna Inc.", _D(2018, 12, 7), None),
        ("MRK", "Merck & Co. Inc.", None, None),
        ("ABBV", "AbbVie Inc.", None, None),
        ("AGN", "Allergan plc", None, _D(2020, 5, 11)),
        ("TMO", "Thermo Fisher Scientific Inc.", None, None),
        ("ABT", "Abbott Laboratories", None, None),
        ("GEHC", "GE HealthCare Technologies Inc.", _D(2023, 1, 4), None),
        ("AMGN", "Amgen Inc.", None, None),
    ),
    "Financials": (
        ("JPM", "JPMorgan Chase & Co.", None, None),
        ("BRK.B", "Berkshire Hathaway Inc. Class B", None, None),
        ("V", "Visa Inc. Class A", None, None),
        ("GS", "The Goldman Sachs Group Inc.", None, None),
        ("MA", "Mastercard Inc.", None, None),
        ("COIN", "Coinbase Global Inc.", _D(2021, 4, 14), None),
        ("BAC", "Bank of America Corp.", None, None),
        ("WFC", "Wells Fargo & Co.", None, None),
        ("MS", "Morgan Stanley", None, None),
        ("C", "Citigroup Inc.", None, None),
        ("BLK", "BlackRock Inc.", None, None),
        ("AXP", "American Express Co.", None, None),
        ("SCHW", "The Charles Schwab Corp.", None, None),
    ),
    "Industrials": (
        ("CAT", "Caterpillar Inc.", None, None),
        ("BA", "The Boeing Co.", None, None),
        ("HON", "Honeywell International Inc.", None, None),
        ("UBER", "Uber Technologies Inc.", _D(2019, 5, 10), None),
        ("UNP", "Union Pacific Corp.", None, None),
        ("GE", "General Electric Co.", None, None),
        ("CARR", "Carrier Global Corp.", _D(2020, 4, 3), None),
        ("LMT", "Lockheed Martin Corp.", None, None),
        ("RTX", "RTX Corp.", None, None),
        ("DE", "Deere & Co.", None, None),
        ("OTIS", "Otis Worldwide Corp.", _D(2020, 4, 3), None),
        ("UPS", "United Parcel Service Inc.", None, None),
        ("MMM", "3M Co.", None, None),
    ),
    "Energy": (
        ("XOM", "Exxon Mobil Corp.", None, None),
        ("CVX", "Chevron Corp.", None, None),
        ("COP", "ConocoPhillips", None, None),
        ("APC", "Anadarko Petroleum Corp.", None, _D(2019, 8, 8)),
        ("SLB", "Schlumberger Ltd.", None, None),
        ("EOG", "EOG Resources Inc.", None, None),
        ("OXY", "Occidental Petroleum Corp.", None, None),
        ("PSX", "Phillips 66", None, None),
        ("MPC", "Marathon Petroleum Corp.", None, None),
        ("VLO", "Valero Energy Corp.", None, None),
        ("HAL", "Halliburton Co.", None, None),
        ("KMI", "Kinder Morgan Inc.", None, None),
    ),
    "Materials": (
        ("LIN", "Linde plc", None, None),
        ("SHW", "The Sherwin-Williams Co.", None, None),
        ("APD", "Air Products and Chemicals Inc.", None, None),
        ("DOW", "Dow Inc.", _D(2019, 4, 2), None),
        ("MON", "Monsanto Co.", None, _D(2018, 6, 7)),
        ("ECL", "Ecolab Inc.", None, None),
        ("FCX", "Freeport-McMoRan Inc.", None, None),
        ("CTVA", "Corteva Inc.", _D(2019, 6, 3), None),
        ("NEM", "Newmont Corp.", None, None),
        ("DD", "DuPont de Nemours Inc.", None, None),
        ("NUE", "Nucor Corp.", None, None),
        ("IP", "International Paper Co.", None, None),
    ),
    "Utilities": (
        ("NEE", "NextEra Energy Inc.", None, None),
        ("DUK", "Duke Energy Corp.", None, None),
        ("SO", "The Southern Co.", None, None),
        ("CEG", "Constellation Energy Corp.", _D(2022, 2, 2), None),
        ("D", "Dominion Energy Inc.", None, None),
        ("AEP", "American Electric Power Co. Inc.", None, None),
        ("EXC", "Exelon Corp.", None, None),
        ("SRE", "Sempra", None, None),
        ("XEL", "Xcel Energy Inc.", None, None),
        ("PCG", "PG&E Corp.", None, None),
        ("ED", "Consolidated Edison Inc.", None, None),
        ("PEG", "Public Service Enterprise Group Inc.", None, None),
    ),
    "Real Estate": (
        ("PLD", "Prologis Inc.", None, None),
        ("AMT", "American Tower Corp.", None, None),
        ("EQIX", "Equinix Inc.", None, None),
        ("CCI", "Crown Castle Inc.", None, None),
        ("SPG", "Simon Property Group Inc.", None, None),
        ("PSA", "Public Storage", None, None),
        ("O", "Realty Income Corp.", None, None),
        ("WELL", "Welltower Inc.", None, None),
        ("DLR", "Digital Realty Trust Inc.", None, None),
        ("AVB", "AvalonBay Communities Inc.", None, None),
        ("EQR", "Equity Residential", None, None),
        ("VTR", "Ventas Inc.", None, None),
    ),
}


def _interleave() -> tuple[TickerInfo, ...]:
    """Round-robin over the sectors so that any prefix spans all sectors."""
    columns = [
        [TickerInfo(t, n, sector, lo, hi) for t, n, lo, hi in rows]
        for sector, rows in _BY_SECTOR.items()
    ]
    return tuple(info for row in zip_longest(*columns) for info in row if info is not None)


#: The built-in universe in canonical order: a round-robin over :data:`SECTORS`, the
#: best-known names first, so that ``universe(n)`` for small ``n`` spans all sectors.
UNIVERSE: Final[tuple[TickerInfo, ...]] = _interleave()

_BY_TICKER: Final[dict[str, TickerInfo]] = {info.ticker: info for info in UNIVERSE}

assert len(_BY_TICKER) == len(UNIVERSE), "duplicate ticker in the universe"
assert all(_TICKER_RE.match(t) for t in _BY_TICKER), "malformed ticker in the universe"
assert not any(_SYNTHETIC_RE.match(t) for t in _BY_TICKER), "universe clashes with Q***"


def synthetic_symbol(k: int) -> str:
    """Return the ``k``-th synthetic symbol (``QAAA``, ``QAAB``, ...).

    Parameters
    ----------
    k : int
        Zero-based index, ``0 <= k < 26**3``.

    Returns
    -------
    str
        A four-letter symbol starting with ``Q``.
    """
    if not 0 <= k < 26**3:
        raise ValueError(f"synthetic symbol index out of range: {k}")
    letters = []
    for _ in range(3):
        k, rem = divmod(k, 26)
        letters.append(chr(ord("A") + rem))
    return "Q" + "".join(reversed(letters))


def is_synthetic_symbol(ticker: str) -> bool:
    """Return whether ``ticker`` is a synthetic symbol (``Q`` + three letters).

    Parameters
    ----------
    ticker : str
        Symbol to test.

    Returns
    -------
    bool
        ``True`` for symbols produced by :func:`synthetic_symbol`.
    """
    return _SYNTHETIC_RE.match(ticker) is not None


def _synthetic_info(ticker: str) -> TickerInfo:
    k = 0
    for ch in ticker[1:]:
        k = 26 * k + ord(ch) - ord("A")
    sector = SECTORS[k % len(SECTORS)]
    return TickerInfo(ticker, f"Synthetic Co. {ticker}", sector)


def universe(n: int | None = None) -> tuple[TickerInfo, ...]:
    """Return the ticker universe in canonical order.

    Parameters
    ----------
    n : int, optional
        Number of securities.  ``None`` returns the built-in :data:`UNIVERSE`; a
        smaller ``n`` returns its first ``n`` entries (spanning all sectors); a larger
        ``n`` appends synthetic always-listed securities ``QAAA``, ``QAAB``, ... with
        sectors assigned round-robin -- handy for benchmarks at scale.

    Returns
    -------
    tuple of TickerInfo
        The securities.
    """
    if n is None:
        return UNIVERSE
    if isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if n <= len(UNIVERSE):
        return UNIVERSE[:n]
    extra = tuple(_synthetic_info(synthetic_symbol(k)) for k in range(n - len(UNIVERSE)))
    return UNIVERSE + extra


def lookup(tickers: list[str]) -> tuple[TickerInfo, ...]:
    """Resolve symbols to :class:`TickerInfo`, keeping order and dropping duplicates.

    Parameters
    ----------
    tickers : list of str
        Symbols of :data:`UNIVERSE` or synthetic symbols (``Q`` + three letters).

    Returns
    -------
    tuple of TickerInfo
        One entry per distinct symbol, in first-seen order.

    Raises
    ------
    KeyError
        If a symbol is neither in the universe nor synthetic.
    """
    out: dict[str, TickerInfo] = {}
    unknown: list[str] = []
    for ticker in tickers:
        if ticker in out:
            continue
        info = _BY_TICKER.get(ticker)
        if info is None and is_synthetic_symbol(ticker):
            info = _synthetic_info(ticker)
        if info is None:
            unknown.append(ticker)
        else:
            out[ticker] = info
    if unknown:
        raise KeyError(
            f"unknown ticker(s) {unknown}: use symbols of sample_data.UNIVERSE "
            "or synthetic symbols such as 'QAAA'"
        )
    return tuple(out.values())
