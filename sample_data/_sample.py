"""The small committed sample under ``sample_data/files/`` and how to rebuild it.

The sample tells a two-delivery story, landed in this order by the demo:

1. ``prices_history.csv`` -- about three years of history (2021-12-01 to
   2024-11-29) for :data:`SAMPLE_TICKERS`, with ``open,high,low,volume``;
2. ``prices_2024-12.parquet`` -- the next month's delivery (December 2024), close
   only, continuing the same price paths.

``GEHC`` lists on 2023-01-04, in the middle of the history; a few observations are
missing, as in any vendor feed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from sample_data._io import write_csv, write_parquet
from sample_data.generator import PRICE_COLUMNS, generate_prices

__all__ = [
    "SAMPLE_DIR",
    "SAMPLE_END",
    "SAMPLE_FILES",
    "SAMPLE_HISTORY_END",
    "SAMPLE_SEED",
    "SAMPLE_START",
    "SAMPLE_TICKERS",
    "build_sample",
    "sample_files",
    "write_sample",
]

#: Directory of the committed sample files.
SAMPLE_DIR: Final[Path] = Path(__file__).resolve().parent / "files"
SAMPLE_SEED: Final[int] = 7
SAMPLE_START: Final[date] = date(2021, 12, 1)
#: Last day of the history file; the monthly file covers the days after it.
SAMPLE_HISTORY_END: Final[date] = date(2024, 11, 29)
SAMPLE_END: Final[date] = date(2024, 12, 31)
#: The 30 sample tickers: the seed portfolio's five, then the others by sector.
SAMPLE_TICKERS: Final[tuple[str, ...]] = (
    # the example portfolio {"AAPL":0.25,"MSFT":0.25,"GOOGL":0.20,"AMZN":0.20,"META":0.10}
    "AAPL",
    "MSFT",
    "GOOGL",
    "AMZN",
    "META",
    "NVDA",  # Information Technology
    "NFLX",  # Communication Services
    "DIS",
    "HD",  # Consumer Discretionary
    "TSLA",
    "PG",  # Consumer Staples
    "KO",
    "WMT",
    "JNJ",  # Health Care
    "UNH",
    "PFE",
    "GEHC",  # listed 2023-01-04
    "JPM",  # Financials
    "BRK.B",
    "V",
    "GS",
    "CAT",  # Industrials
    "BA",
    "XOM",  # Energy
    "CVX",
    "LIN",  # Materials
    "SHW",
    "NEE",  # Utilities
    "AMT",  # Real Estate
    "PLD",
)
_HISTORY: Final = "prices_history.csv"
_MONTHLY: Final = "prices_2024-12.parquet"
#: The committed sample files, in the order the demo lands them.
SAMPLE_FILES: Final[tuple[Path, ...]] = (SAMPLE_DIR / _HISTORY, SAMPLE_DIR / _MONTHLY)


def build_sample() -> tuple[pa.Table, pa.Table]:
    """Generate the committed sample in memory.

    The whole range is generated once (with the extra columns) and split at
    :data:`SAMPLE_HISTORY_END`; the monthly part keeps the close only.

    Returns
    -------
    tuple of pyarrow.Table
        ``(history, monthly)`` exactly as written to :data:`SAMPLE_FILES`.
    """
    table = generate_prices(
        SAMPLE_TICKERS, SAMPLE_START, SAMPLE_END, seed=SAMPLE_SEED, extra_columns=True
    )
    split = pa.scalar(SAMPLE_HISTORY_END, type=pa.date32())
    history = table.filter(pc.less_equal(table.column("date"), split))
    monthly = table.filter(pc.greater(table.column("date"), split)).select(list(PRICE_COLUMNS))
    return history, monthly


def write_sample(out_dir: str | Path = SAMPLE_DIR) -> list[Path]:
    """Regenerate the committed sample files.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Destination directory (default: the package's ``files/`` directory).

    Returns
    -------
    list of pathlib.Path
        The written files, in landing order.
    """
    directory = Path(out_dir)
    history, monthly = build_sample()
    return [
        write_csv(history, directory / _HISTORY),
        write_parquet(monthly, directory / _MONTHLY),
    ]


def sample_files() -> list[Path]:
    """Return the committed sample files in the order the demo lands them.

    Returns
    -------
    list of pathlib.Path
        ``[prices_history.csv, prices_2024-12.parquet]`` (absolute paths).

    Raises
    ------
    FileNotFoundError
        If a file is missing (e.g. an install without package data); rebuild it with
        ``python -m sample_data --write-sample DIR``.
    """
    missing = [p for p in SAMPLE_FILES if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"sample file(s) missing: {[str(p) for p in missing]}; "
            "rebuild with `python -m sample_data --write-sample sample_data/files`"
        )
    return list(SAMPLE_FILES)
