"""Synthetic daily equity prices for the Stratigos demo, tests and benchmarks.

Everything here is **synthetic**: the symbols and names are those of real companies
so that portfolios read naturally, but the prices come from a factor model with
GARCH volatility and Student-t shocks (see ``docs/SAMPLE_DATA.md``).

Examples
--------
>>> from sample_data import generate_prices, sample_files
>>> table = generate_prices(["AAPL", "MSFT"], "2024-01-02", "2024-03-28", seed=7)
>>> [p.name for p in sample_files()]
['prices_history.csv', 'prices_2024-12.parquet']
"""

from __future__ import annotations

from sample_data._calendar import Calendar, nyse_holidays, trading_days
from sample_data._io import read_prices, write_csv, write_parquet
from sample_data._sample import (
    SAMPLE_DIR,
    SAMPLE_END,
    SAMPLE_FILES,
    SAMPLE_HISTORY_END,
    SAMPLE_SEED,
    SAMPLE_START,
    SAMPLE_TICKERS,
    build_sample,
    sample_files,
    write_sample,
)
from sample_data._universe import SECTOR_PROFILES, SectorProfile
from sample_data.generator import (
    ANCHOR_DATE,
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
    EPOCH,
    EXTRA_COLUMNS,
    PRICE_COLUMNS,
    PRICE_DECIMALS,
    PRICE_SCHEMA,
    PRICE_SCHEMA_EXTRA,
    SECTORS,
    UNIVERSE,
    ModelParams,
    TickerInfo,
    generate_prices,
    to_wide,
    universe,
)

__all__ = [
    "ANCHOR_DATE",
    "DEFAULT_END",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "EPOCH",
    "EXTRA_COLUMNS",
    "PRICE_COLUMNS",
    "PRICE_DECIMALS",
    "PRICE_SCHEMA",
    "PRICE_SCHEMA_EXTRA",
    "SAMPLE_DIR",
    "SAMPLE_END",
    "SAMPLE_FILES",
    "SAMPLE_HISTORY_END",
    "SAMPLE_SEED",
    "SAMPLE_START",
    "SAMPLE_TICKERS",
    "SECTORS",
    "SECTOR_PROFILES",
    "UNIVERSE",
    "Calendar",
    "ModelParams",
    "SectorProfile",
    "TickerInfo",
    "build_sample",
    "generate_prices",
    "nyse_holidays",
    "read_prices",
    "sample_files",
    "to_wide",
    "trading_days",
    "universe",
    "write_csv",
    "write_parquet",
    "write_sample",
]
