"""Ingest throughput and query pruning, on the local stack.

Prints two tables:

1. Landing a large vendor file (default 5,000 tickers × 1 year, 1.26 M rows): validation +
   merge + conditional write into ``curated/prices``, as rows/s and peak memory, next to a
   plain ``pyarrow.parquet.write_table`` of the same rows (the floor: no validation, no
   read-merge, no network).
2. The two common queries over ten years of prices (120 tickers × 10 years), for the
   lake's layout (one object per year, sorted by ticker, date) and for the two obvious
   alternatives (one object per ticker; one object per day): objects and bytes read, and
   time.

The moto server runs in a child process (``stratigos local up``), so the peak RSS printed
is the ingest code's own, not moto's copy of the bucket.

Run: ``.venv/bin/python bench/ingest.py [--tickers 5000] [--skip-layouts]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.aws import client as aws_client  # noqa: E402
from core.bus import EventBus  # noqa: E402
from core.settings import settings  # noqa: E402
from ingest.curate import SourceObject, land_price_file  # noqa: E402
from ingest.market_data import MarketDataQuery, query_prices  # noqa: E402
from ingest.validation import validate_prices  # noqa: E402
from lake import s3_filesystem  # noqa: E402
from local.stack import StackState  # noqa: E402
from sample_data import generate_prices, write_csv  # noqa: E402


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def _local_stack(workdir: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRATIGOS_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    process = subprocess.Popen(
        [sys.executable, "-m", "local.cli", "local", "up", "--port", "0"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state_file = workdir / ".stratigos" / "local.json"
    try:
        deadline = time.monotonic() + 60
        while not state_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("local stack did not start")
            time.sleep(0.2)
        state = StackState.read(state_file)
        with state.activated():
            yield state
    finally:
        process.terminate()
        process.wait(timeout=30)


def _upload(s3: Any, bucket: str, path: Path) -> SourceObject:
    key = f"tmp/bench/{path.name}"  # outside raw/prices/: the bench drives the landing
    s3.upload_file(str(path), bucket, key)
    head = s3.head_object(Bucket=bucket, Key=key)
    return SourceObject(bucket, key, head.get("VersionId"), head["ETag"])


def bench_landing(tickers: int, workdir: Path) -> list[dict[str, Any]]:
    path = workdir / f"prices-{tickers}x1y.csv"
    # Generated in a child process so this process's peak RSS is the landing's own.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sample_data",
            "--tickers",
            str(tickers),
            "--start",
            "2024-01-02",
            "--end",
            "2024-12-31",
            "--seed",
            "3",
            "--extra-columns",
            "--format",
            "csv",
            "--out",
            str(path),
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    size_mb = path.stat().st_size / 1e6
    config = settings()
    s3 = aws_client("s3")
    source = _upload(s3, config.bucket, path)

    rss_before = _peak_rss_mb()
    start = time.perf_counter()
    result = land_price_file(source, bus=EventBus(config.event_bus), s3=s3)
    landing_s = time.perf_counter() - start
    rss_landing = _peak_rss_mb()

    start = time.perf_counter()
    validated = validate_prices(path)
    validate_s = time.perf_counter() - start

    start = time.perf_counter()
    pq.write_table(validated.table, io.BytesIO(), compression="zstd")
    plain_s = time.perf_counter() - start
    rows = result.rows_accepted
    return [
        {
            "step": f"land {tickers:,} tickers × 1 year ({rows:,} rows, {size_mb:.0f} MB CSV)",
            "seconds": landing_s,
            "rows_per_s": rows / landing_s,
            "ratio": landing_s / plain_s,
            "peak_rss_mb": max(rss_landing, rss_before),
        },
        {
            "step": "  of which: validate (stream the CSV, check every rule)",
            "seconds": validate_s,
            "rows_per_s": rows / validate_s,
            "ratio": validate_s / plain_s,
            "peak_rss_mb": None,
        },
        {
            "step": "plain pyarrow.parquet.write_table of the same rows (floor)",
            "seconds": plain_s,
            "rows_per_s": rows / plain_s,
            "ratio": 1.0,
            "peak_rss_mb": None,
        },
    ]


def _dataset_query(bucket: str, prefix: str, expr: ds.Expression) -> tuple[int, int, float]:
    fs = s3_filesystem()
    dataset = ds.dataset(f"{bucket}/{prefix}", filesystem=fs, format="parquet", partitioning="hive")
    start = time.perf_counter()
    fragments = list(dataset.get_fragments(filter=expr))
    table = dataset.to_table(filter=expr, columns=["date", "ticker", "close"])
    seconds = time.perf_counter() - start
    size = sum(fs.get_file_info(f.path).size for f in fragments)
    del table
    return len(fragments), size, seconds


def bench_layouts(workdir: Path) -> list[dict[str, Any]]:
    table = generate_prices(120, "2015-01-02", "2024-12-31", seed=5)
    path = workdir / "prices-120x10y.csv"
    write_csv(table, path)
    config = settings()
    s3 = aws_client("s3")
    land_price_file(_upload(s3, config.bucket, path), bus=EventBus(config.event_bus), s3=s3)
    ticker = "MSFT"
    day = date(2022, 6, 1)
    everyone = sorted(set(table["ticker"].to_pylist()))
    rows = []
    for name, query in (
        (
            "one ticker, 10 years",
            MarketDataQuery(tickers=[ticker], start=date(2015, 1, 1), end=date(2024, 12, 31)),
        ),
        ("all tickers, one day", MarketDataQuery(tickers=everyone, start=day, end=day)),
    ):
        start = time.perf_counter()
        _, stats = query_prices(query, config.bucket)
        rows.append(
            {
                "layout": "year (lake's choice)",
                "query": name,
                "objects": stats.objects,
                "bytes": stats.bytes,
                "seconds": time.perf_counter() - start,
            }
        )
    # The alternatives, written with pyarrow's dataset writer for comparison.
    with_day = table.append_column("day", pc.cast(table["date"], pa.string()))
    for layout, column, source in (("ticker", "ticker", table), ("day", "day", with_day)):
        prefix = f"tmp/bench/layout-{layout}/"
        ds.write_dataset(
            source.select(["date", "ticker", "close"] + ([column] if column == "day" else [])),
            f"{config.bucket}/{prefix}",
            filesystem=s3_filesystem(),
            format="parquet",
            partitioning=ds.partitioning(pa.schema([(column, pa.string())]), flavor="hive"),
            existing_data_behavior="overwrite_or_ignore",
        )
        for name, expr in (
            ("one ticker, 10 years", ds.field("ticker") == ticker),
            (
                "all tickers, one day",
                ds.field("date") == pa.scalar(day, pa.date32())
                if column == "ticker"
                else ds.field("day") == day.isoformat(),
            ),
        ):
            objects, size, seconds = _dataset_query(config.bucket, prefix, expr)
            rows.append(
                {
                    "layout": f"{layout} partitions",
                    "query": name,
                    "objects": objects,
                    "bytes": size,
                    "seconds": seconds,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=5000)
    parser.add_argument("--skip-layouts", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, _local_stack(Path(tmp)):
        landing = bench_landing(args.tickers, Path(tmp))
        print("\n## Landing a large file\n")
        print("| step | seconds | rows/s | × plain write | peak RSS (MB) |")
        print("|---|---:|---:|---:|---:|")
        for row in landing:
            rss = f"{row['peak_rss_mb']:.0f}" if row["peak_rss_mb"] else ""
            print(
                f"| {row['step']} | {row['seconds']:.2f} | {row['rows_per_s']:,.0f} | "
                f"{row['ratio']:.1f} | {rss} |"
            )
        layouts: list[dict[str, Any]] = []
        if not args.skip_layouts:
            layouts = bench_layouts(Path(tmp))
            print("\n## The two common queries over 120 tickers × 10 years\n")
            print("| layout | query | objects read | bytes read | seconds |")
            print("|---|---|---:|---:|---:|")
            for row in layouts:
                print(
                    f"| {row['layout']} | {row['query']} | {row['objects']:,} | "
                    f"{row['bytes']:,} | {row['seconds']:.3f} |"
                )
        if args.json:
            args.json.write_text(json.dumps({"landing": landing, "layouts": layouts}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
