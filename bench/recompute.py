"""From a price file landing to the last RunCompleted: 100 portfolios × 20 assets.

Sets up the local stack with three years of sample prices and N portfolios (default 100)
of 20 assets each, every portfolio keeping its default analyses fresh (risk parity, HRP,
a 20-point frontier, a 5,000-path simulation). Then lands the December file and measures
the time until the last run has completed, and prints where that time went, per function.

The local runtime runs each function in worker processes, one event at a time each, up
to its concurrency (one environment per core by default, as ``stratigos local up``), so
the local wall-clock is the work spread over this machine's cores; in AWS the runs fan out
to as many concurrent Lambdas as there are runs, so the bench also gives that critical
path: ingest + returns + fan-out + the slowest single run. Per function it prints the
invocations, the environments they ran in and their cold starts (Lambda's Init Duration).

Run: ``.venv/bin/python bench/recompute.py [--portfolios 100] [--assets 20]
[--concurrency N] [--runtime processes|inline]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.lambda_runtime import default_concurrency  # noqa: E402
from local.stack import LocalStack, LocalStackOptions  # noqa: E402
from sample_data import SAMPLE_TICKERS, sample_files  # noqa: E402


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        method="POST",
        data=json.dumps(body).encode(),
        headers={"x-api-key": "dev-key", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, default=100)
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="environments per function (default: cores)"
    )
    parser.add_argument(
        "--runtime",
        choices=["processes", "inline"],
        default="processes",
        help="inline: every call in this process, one at a time (the former runtime)",
    )
    args = parser.parse_args(argv)
    concurrency = args.concurrency or default_concurrency()
    history, december = sample_files()
    options = LocalStackOptions(
        api_port=0,
        state_file=None,
        environment_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
        concurrency=args.concurrency,
        runtime=args.runtime,
    )
    with LocalStack(options) as stack:
        s3 = stack.client("s3")
        s3.put_object(Bucket=stack.bucket, Key="raw/prices/history.csv", Body=history.read_bytes())
        stack.wait_idle()
        rng = random.Random(1)
        tickers = list(SAMPLE_TICKERS)
        for i in range(args.portfolios):
            held = rng.sample(tickers, min(args.assets, len(tickers)))
            _post(
                f"{stack.api_url}/portfolios",
                {"portfolio": {"name": f"bench {i}", "assets": {t: 1 / len(held) for t in held}}},
            )
        stack.wait_idle(timeout_s=3600)  # a created portfolio's analyses run at once
        before = len(stack.runtime.calls())
        parent_cpu = time.process_time()
        landed_at = time.time()
        s3.put_object(
            Bucket=stack.bucket, Key="raw/prices/december.parquet", Body=december.read_bytes()
        )
        stack.wait_idle(timeout_s=3600)
        parent_cpu = time.process_time() - parent_cpu
        calls = stack.runtime.calls()[before:]
    runs = [c for c in calls if c.function == "RunWorkerFunction"]
    last_done = max(c.started_at + c.duration_s for c in runs) if runs else landed_at
    renders = [c for c in calls if c.function == "RenderFunction"]
    last_report = max((c.started_at + c.duration_s for c in renders), default=last_done)
    ok = sum(1 for c in runs if c.ok and (c.result or {}).get("status") == "succeeded")
    per_function: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, float] = defaultdict(float)
    environments: dict[str, set[str]] = defaultdict(set)
    inits: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        per_function[call.function].append(call.duration_s)
        cpu[call.function] += call.cpu_s or 0.0
        environments[call.function].add(call.environment)
        if call.init_duration_s is not None:
            inits[call.function].append(call.init_duration_s)
    by_type: dict[str, list[float]] = defaultdict(list)
    for call in runs:
        by_type[call.event["detail"]["analysis"]["type"]].append(call.duration_s)

    print(f"\n## {args.portfolios} portfolios × {args.assets} assets, December file landed\n")
    print(f"runs requested and completed: {len(runs)} ({ok} succeeded)")
    if args.runtime == "inline":
        print(f"local runtime: inline, one call at a time, {os.cpu_count()} cores")
    else:
        print(f"local runtime: {concurrency} environments per function, {os.cpu_count()} cores")
    print(f"landing → last run completed, local: {last_done - landed_at:.1f} s")
    print(f"landing → last report rendered, local: {last_report - landed_at:.1f} s")
    rendered = sum(
        1 for c in renders if c.ok and (c.result or {}).get("portfolioReport", {}).get("rendered")
    )
    print(f"portfolio reports rendered: {rendered} (for {args.portfolios} portfolios)")
    critical = sum(
        max(per_function.get(name, [0.0]))
        for name in ("IngestFunction", "ReturnsFunction", "FanOutFunction", "RunWorkerFunction")
    )
    print(f"critical path in AWS (one Lambda per run, concurrently): ~{critical:.1f} s\n")
    print(
        f"CPU: the functions {sum(cpu.values()):.1f} s, the stack's own process (moto, the "
        f"dispatcher, the API) {parent_cpu:.1f} s\n"
    )
    print(
        "| function | invocations | total s | mean ms | max ms | CPU s | environments "
        "| cold starts |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, durations in sorted(per_function.items(), key=lambda kv: -sum(kv[1])):
        cold = inits.get(name, [])
        started = f"{len(cold)} × {1000 * statistics.mean(cold):.0f} ms" if cold else "0 (warm)"
        print(
            f"| {name} | {len(durations)} | {sum(durations):.2f} | "
            f"{1000 * statistics.mean(durations):.0f} | {1000 * max(durations):.0f} | "
            f"{cpu[name]:.1f} | {len(environments[name])} | {started} |"
        )
    print("\n| analysis | runs | mean ms | max ms |")
    print("|---|---:|---:|---:|")
    for name, durations in sorted(by_type.items()):
        print(
            f"| {name} | {len(durations)} | {1000 * statistics.mean(durations):.0f} | "
            f"{1000 * max(durations):.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
