"""Command line: ``python -m sample_data``.

Examples
--------
Write the default universe subset as CSV::

    python -m sample_data --tickers 120 --start 2014-01-02 --end 2024-12-31 \\
        --seed 7 --format csv --out prices.csv --extra-columns

Explicit symbols (comma separated) and Parquet::

    python -m sample_data --tickers AAPL,MSFT,BRK.B --format parquet --out p.parquet

Rebuild the committed sample::

    python -m sample_data --write-sample sample_data/files
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sample_data._calendar import CALENDARS
from sample_data._io import write_csv, write_parquet
from sample_data._sample import write_sample
from sample_data.generator import (
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
    ModelParams,
    generate_prices,
)


def _tickers(value: str) -> int | list[str]:
    """Parse ``--tickers``: a count or comma-separated symbols."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise argparse.ArgumentTypeError("expected a count or comma-separated symbols")
    return symbols


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sample_data",
        description=(
            "Generate SYNTHETIC daily prices (long form: date,ticker,close"
            "[,open,high,low,volume]), deterministic by seed."
        ),
    )
    parser.add_argument(
        "--tickers",
        type=_tickers,
        default=None,
        help="number of tickers (first N of the universe) or comma-separated symbols "
        "(default: the whole built-in universe)",
    )
    parser.add_argument("--start", default=DEFAULT_START.isoformat(), help="first day (ISO)")
    parser.add_argument("--end", default=DEFAULT_END.isoformat(), help="last day (ISO)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (>= 0)")
    parser.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default=None,
        help="output format (default: from the --out suffix, else csv)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output file")
    parser.add_argument(
        "--extra-columns", action="store_true", help="add open, high, low and volume"
    )
    parser.add_argument("--calendar", choices=CALENDARS, default="nyse", help="trading calendar")
    parser.add_argument(
        "--missing-rate",
        type=float,
        default=ModelParams().missing_rate,
        help="fraction of (ticker, day) observations dropped",
    )
    parser.add_argument(
        "--write-sample",
        type=Path,
        default=None,
        metavar="DIR",
        help="rebuild the committed sample files into DIR and exit",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit status.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.write_sample is not None:
        for path in write_sample(args.write_sample):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
        return 0
    if args.out is None:
        parser.error("--out is required (or use --write-sample DIR)")
    out: Path = args.out
    fmt: str = args.format or ("parquet" if out.suffix.lower() == ".parquet" else "csv")
    began = time.perf_counter()
    try:
        table = generate_prices(
            args.tickers,
            args.start,
            args.end,
            seed=args.seed,
            extra_columns=args.extra_columns,
            calendar=args.calendar,
            params=ModelParams(missing_rate=args.missing_rate),
        )
    except (KeyError, ValueError) as exc:
        parser.error(str(exc.args[0]) if exc.args else str(exc))
    writer = write_parquet if fmt == "parquet" else write_csv
    writer(table, out)
    n_tickers = len(set(table.column("ticker").to_pylist()))
    elapsed = time.perf_counter() - began
    print(f"wrote {table.num_rows} rows ({n_tickers} tickers) to {out} in {elapsed:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
