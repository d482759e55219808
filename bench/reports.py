"""Benchmarks of :mod:`reports.render`; prints a markdown table.

    python bench/reports.py            # 5 timed renders per report after a warm-up
    python bench/reports.py --repeat 2 --assets 20

Inputs: the real run results the unit tests build (``analyses.runner.execute`` on seeded
synthetic returns, 6 and 20 assets by default (``--assets``), 500 days; simulations 2,000
paths × 63 days, 500 kept paths).
Times are the fastest of the repeats, after one warm-up render (fonts cached, templates
compiled). The cold rows run in a fresh interpreter each: ``import reports.render`` alone (it
defers matplotlib and jinja2), and that import plus the first render of a risk-parity report
(what a cold RenderFunction pays on top of its own handler imports; ``reports.handlers`` is
another module and is not measured here).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This file is named like the package it measures: put the repository first on the path.
sys.path.insert(0, str(ROOT))
TESTS = ROOT / "tests" / "unit" / "reports" / "test_reports_render.py"


def _fixtures() -> Any:
    spec = importlib.util.spec_from_file_location("report_fixtures", TESTS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _best(fn: Any, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _fresh(code: str, repeat: int) -> float:
    """Fastest wall time of ``code`` in a new interpreter, minus an empty interpreter's."""

    def run(snippet: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", snippet], check=True, cwd=ROOT)
        return time.perf_counter() - start

    empty = min(run("pass") for _ in range(repeat))
    return min(run(code) for _ in range(repeat)) - empty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--assets", type=int, nargs="+", default=[6, 20], help="asset counts (2 to 26)"
    )
    args = parser.parse_args()
    fixtures = _fixtures()
    first_run = (fixtures.make_runs()["risk-parity"], fixtures.make_portfolio())
    print("| assets | report | charts | HTML size | PNG total | time |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in args.assets:
        _rows(n, fixtures.make_portfolio(n_assets=n), fixtures.make_runs(n), args.repeat)
    print()
    print("| cold, fresh interpreter | time |")
    print("|---|---:|")
    cold_import = _fresh("import reports.render", args.repeat)
    print(f"| `import reports.render` | {cold_import * 1000:,.0f} ms |")
    first = (
        "import json,sys; from reports.render import render_run_report; "
        f"run, p = json.load(open({str(_dump(*first_run))!r})); "
        "render_run_report(run, p)"
    )
    cold_first = _fresh(first, args.repeat)
    print(f"| import + first render (risk parity) | {cold_first * 1000:,.0f} ms |")


def _row(n: int, name: str, report: Any, seconds: float) -> None:
    png = sum(len(v) for v in report.images.values())
    print(
        f"| {n} | {name} | {len(report.images)} | {len(report.html) / 1024:,.0f} KiB "
        f"| {png / 1024:,.0f} KiB | {seconds * 1000:,.0f} ms |"
    )


def _rows(n: int, portfolio: dict[str, Any], runs: dict[str, dict[str, Any]], repeat: int) -> None:
    """One row per run report, then the portfolio report drawn and assembled."""
    from reports import render_portfolio_report, render_run_report

    images: dict[str, dict[str, bytes]] = {}
    for name, run in runs.items():
        report = render_run_report(run, portfolio)
        images[str(run["id"])] = report.images
        seconds = _best(lambda run=run: render_run_report(run, portfolio), repeat)
        _row(n, f"run: {name}", report, seconds)
    every = list(runs.values())
    # Every key chart drawn: what the handler does only for runs whose stored charts are
    # missing (it then renders their run reports, once).
    report = render_portfolio_report(portfolio, every)
    seconds = _best(lambda: render_portfolio_report(portfolio, every), repeat)
    _row(n, f"portfolio (latest of {len(every)} runs), charts drawn", report, seconds)

    # What RenderFunction does: the key charts are the run reports' PNGs (there read from S3).
    def stored(run: Any, chart: str) -> bytes | None:
        return images[str(run["id"])].get(chart)

    report = render_portfolio_report(portfolio, every, stored)
    seconds = _best(lambda: render_portfolio_report(portfolio, every, stored), repeat)
    _row(n, f"portfolio (latest of {len(every)} runs), charts reused", report, seconds)


def _dump(run: dict[str, Any], portfolio: dict[str, Any]) -> Path:
    import json
    import tempfile

    path = Path(tempfile.gettempdir()) / "stratigos-bench-report-run.json"
    path.write_text(json.dumps([run, portfolio]))
    return path


if __name__ == "__main__":
    main()
