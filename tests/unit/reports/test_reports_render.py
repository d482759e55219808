"""reports.render: real run results (analyses.runner.execute) rendered to PNG and HTML."""

from __future__ import annotations

import base64
import re
import struct
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from analyses.analyze import AnalyzeRequest
from analyses.efficient_frontier import EfficientFrontierRequest
from analyses.hrp import HrpRequest
from analyses.risk_parity import RiskParityRequest
from analyses.runner import Inputs, execute
from analyses.simulate import SimulateRequest
from core.analysis import analysis
from core.models import DataWindow, Portfolio, Run, RunError, RunStatus
from reports import RenderedReport, render_portfolio_report, render_run_report

TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "META", "BRK.B"]
WEIGHTS = {"AAPL": 0.25, "MSFT": 0.25, "GOOGL": 0.2, "AMZN": 0.1, "META": 0.1, "BRK.B": 0.1}
# More assets (bench/reports.py --assets 20): these after TICKERS, weights declining.
MORE_TICKERS = [
    *TICKERS,
    *[
        "JPM",
        "V",
        "JNJ",
        "WMT",
        "PG",
        "XOM",
        "UNH",
        "HD",
        "NVDA",
        "KO",
        "PEP",
        "CVX",
        "MRK",
        "ABBV",
        "LLY",
        "COST",
        "AVGO",
        "ORCL",
        "TMO",
        "MCD",
    ],
]
CREATED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
EVIL = "<script>alert(1)</script>"


# ------------------------------------------------------------------ real runs
def tickers(n_assets: int = 6) -> list[str]:
    """The first ``n_assets`` tickers (6: the tests' own; up to 26 for the benchmark)."""
    if not 2 <= n_assets <= len(MORE_TICKERS):
        raise ValueError(f"2 to {len(MORE_TICKERS)} assets, not {n_assets}")
    return MORE_TICKERS[:n_assets]


def weights(n_assets: int = 6) -> dict[str, float]:
    """WEIGHTS for 6 assets; otherwise weights declining linearly, summing to 1."""
    if n_assets == len(TICKERS):
        return dict(WEIGHTS)
    raw = {t: float(n_assets - i) for i, t in enumerate(tickers(n_assets))}
    total = sum(raw.values())
    return {t: v / total for t, v in raw.items()}


def make_portfolio(name: str = "Core equities", n_assets: int = 6) -> dict[str, Any]:
    return Portfolio(
        id="p-1",
        name=name,
        description="Large caps & friends",
        assets=weights(n_assets),
        version=3,
        created_at=CREATED,
        updated_at=CREATED,
    ).model_dump(mode="json", by_alias=True)


def _run(
    run_type: str,
    parameters: dict[str, Any],
    result: BaseModel | dict[str, Any],
    n: int,
    *,
    name: str = "",
    created: datetime = CREATED,
    names: list[str] | None = None,
) -> Run:
    return Run(
        id=f"r-{name or run_type}",
        portfolio_id="p-1",
        type=run_type,
        parameters=parameters,
        status=RunStatus.SUCCEEDED,
        result=result,
        data_window=DataWindow(
            source="lake",
            tickers=names or TICKERS,
            observations=n,
            start=date(2021, 5, 3),
            end=date(2024, 4, 30),
            objects=["returns/year=2024/part.parquet@v1"],
        ),
        created_at=created,
        finished_at=created.replace(second=2),
    )


@cache
def _runs(n_assets: int = 6) -> dict[str, Run]:
    names, own = tickers(n_assets), weights(n_assets)
    rng = np.random.default_rng(0)
    market = rng.normal(0.0004, 0.01, (500, 1))
    returns = market * rng.uniform(0.6, 1.4, n_assets) + rng.normal(0.0002, 0.012, (500, n_assets))
    window = DataWindow(source="inline", tickers=names, observations=500)
    inputs = Inputs(returns, names, window)
    base = {"portfolioId": "p-1"}
    cases: list[tuple[str, str, Any, dict[str, Any]]] = [
        ("risk-parity", "risk-parity", RiskParityRequest, {}),
        ("hrp", "hrp", HrpRequest, {"linkage": "ward"}),
        (
            "efficient-frontier",
            "efficient-frontier",
            EfficientFrontierRequest,
            {"nPoints": 20},
        ),
        (
            "simulate",
            "simulate",
            SimulateRequest,
            {"nPaths": 2000, "seed": 7, "horizonDays": 63},
        ),
        (
            "simulate-paths",
            "simulate",
            SimulateRequest,
            {"nPaths": 500, "seed": 7, "horizonDays": 63, "keepPaths": True},
        ),
    ]
    runs: dict[str, Run] = {}
    for name, run_type, model, params in cases:
        entry = analysis(run_type)
        assert entry.request is model
        request = model.model_validate({**base, **params})
        result = execute(entry, request, inputs, own)
        # the kept-paths simulation is older: the portfolio report shows the other one
        created = CREATED.replace(hour=11) if name == "simulate-paths" else CREATED
        runs[name] = _run(
            run_type, {**base, **params}, result, 500, name=name, created=created, names=names
        )
    paths = np.cumprod(1 + rng.normal(0.0003, 0.01, (300, 41)), axis=1).tolist()
    analyze = execute(analysis("analyze"), AnalyzeRequest(paths=paths), None)
    runs["analyze"] = _run("analyze", {"paths": "300 paths"}, analyze, 0).model_copy(
        update={"data_window": None}
    )
    runs["failed"] = Run(
        id="r-failed",
        portfolio_id="p-1",
        type="hrp",
        parameters=base,
        status=RunStatus.FAILED,
        error=RunError(code="NOT_FOUND", message="No returns in the lake for these tickers."),
        created_at=CREATED,
        finished_at=CREATED,
    )
    return runs


def make_runs(n_assets: int = 6) -> dict[str, dict[str, Any]]:
    """Every run type, succeeded, plus a failed run: the API's JSON shape."""
    return {k: r.model_dump(mode="json", by_alias=True) for k, r in _runs(n_assets).items()}


# ------------------------------------------------------------------ helpers
def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (which must come first)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_text_keys(data: bytes) -> list[bytes]:
    """Keywords of the PNG's tEXt chunks."""
    keys, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"tEXt":
            keys.append(data[pos + 8 : pos + 8 + length].split(b"\0")[0])
        pos += 12 + length
    return keys


def assert_self_contained(report: RenderedReport) -> str:
    html = report.html.decode("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html.lower()
    # The one <link> is the inline empty icon (no request for /favicon.ico).
    assert re.findall(r"<link[^>]*>", html, flags=re.IGNORECASE) == [
        '<link rel="icon" href="data:,">'
    ]
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', html)
    assert len(sources) == len(report.images) == html.count("<img")
    for src in sources:
        assert src.startswith("data:image/png;base64,")
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in sources}
    assert embedded == set(report.images.values())
    for name in report.images:
        assert f'data-asset="{name}"' in html
    assert "@page { size: A4" in html
    assert "@media print" in html
    assert "max-width: 100%" in html
    return html


@pytest.fixture(scope="module")
def reports(
    runs: dict[str, dict[str, Any]], portfolio: dict[str, Any]
) -> dict[str, RenderedReport]:
    return {name: render_run_report(run, portfolio) for name, run in runs.items()}


# ------------------------------------------------------------------ tests
EXPECTED_IMAGES = {
    "risk-parity": {"weights.png", "risk-contributions.png"},
    "hrp": {"dendrogram.png", "weights.png"},
    "efficient-frontier": {"frontier.png", "weights.png"},
    "simulate": {"fan.png", "terminal.png", "drawdown.png"},
    "simulate-paths": {"fan.png", "terminal.png", "drawdown.png"},
    "analyze": {"fan.png", "terminal.png", "drawdown.png"},
    "failed": set(),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_IMAGES))
def test_each_run_type_renders_a_self_contained_page(
    reports: dict[str, RenderedReport], name: str
) -> None:
    report = reports[name]
    assert set(report.images) == EXPECTED_IMAGES[name]
    html = assert_self_contained(report)
    assert f"<title>{report.title}</title>" in html
    for data in report.images.values():
        assert png_size(data) in {(1200, 675), (1200, 900)}
        assert b"Software" not in png_text_keys(data)
        assert len(data) > 10_000  # drawn, not blank


def test_frontier_png_and_marked_points(
    reports: dict[str, RenderedReport], runs: dict[str, dict[str, Any]]
) -> None:
    report = reports["efficient-frontier"]
    assert png_size(report.images["frontier.png"]) == (1200, 675)
    result = runs["efficient-frontier"]["result"]
    html = report.html.decode()
    assert (
        "minimum-variance and maximum-Sharpe portfolios and the portfolio&#39;s own point" in html
    )
    for key in ("minVariance", "maxSharpe", "portfolio"):
        assert f"{result[key]['expectedReturn'] * 100:.2f}%" in html
        assert f"{result[key]['volatility'] * 100:.2f}%" in html
    assert html.count("<tr>") >= len(result["points"])


def test_metrics_are_formatted_as_percentages(
    reports: dict[str, RenderedReport], runs: dict[str, dict[str, Any]]
) -> None:
    for name in ("risk-parity", "hrp"):
        html = reports[name].html.decode()
        metrics = runs[name]["result"]["metrics"]
        assert f"{metrics['expectedReturn'] * 100:.2f}%" in html
        assert f"{metrics['volatility'] * 100:.2f}%" in html
        assert f"{metrics['sharpe']:.2f}" in html
        for ticker, weight in runs[name]["result"]["weights"].items():
            assert ticker in html
            assert f"{weight * 100:.2f}%" in html
    stats = runs["simulate"]["result"]["statistics"]
    html = reports["simulate"].html.decode()
    for key in ("var95", "cvar95", "var99", "cvar99", "probLoss", "maxDrawdownMean"):
        assert f"{stats[key] * 100:.2f}%" in html


def test_page_shows_parameters_window_and_portfolio(reports: dict[str, RenderedReport]) -> None:
    html = reports["simulate"].html.decode()
    for text in (
        "Parameters",
        "nPaths",
        "2000",
        "horizonDays",
        "Data window",
        "2021-05-03",
        "2024-04-30",
        "returns/year=2024/part.parquet@v1",
        "Core equities",
        "Large caps &amp; friends",
        "2024-05-01 12:30:00 UTC",
        "63 trading days",
    ):
        assert text in html, text


def test_terminal_chart_without_paths_says_so(reports: dict[str, RenderedReport]) -> None:
    without = reports["simulate"].html.decode()
    assert "paths were not kept, so this is not a histogram" in without
    with_paths = reports["simulate-paths"].html.decode()
    assert "Histogram of the 500 simulated terminal values" in with_paths
    assert "not a histogram" not in with_paths
    assert (
        reports["simulate"].images["terminal.png"]
        != reports["simulate-paths"].images["terminal.png"]
    )


def test_failed_run_renders_an_explanatory_page(reports: dict[str, RenderedReport]) -> None:
    report = reports["failed"]
    html = assert_self_contained(report)
    assert report.images == {}
    assert "This run failed" in html
    assert "NOT_FOUND" in html
    assert "No returns in the lake for these tickers." in html


@pytest.mark.parametrize(
    ("status", "result", "text"),
    [
        ("running", None, "This run is running"),
        ("succeeded", None, "recorded no result"),
        ("succeeded", {"weights": "garbage"}, "could not be read"),
    ],
)
def test_unusable_runs_render_a_notice(
    runs: dict[str, dict[str, Any]], status: str, result: Any, text: str
) -> None:
    run = {**runs["risk-parity"], "status": status, "result": result}
    report = render_run_report(run)
    assert text in assert_self_contained(report)
    assert report.images == {}


def test_script_name_is_shown_as_text(runs: dict[str, dict[str, Any]]) -> None:
    evil = make_portfolio(EVIL)
    for report in (
        render_run_report(runs["risk-parity"], evil),
        render_portfolio_report(evil, list(runs.values())),
    ):
        html = assert_self_contained(report)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert EVIL in report.title


def test_rendering_is_deterministic(
    runs: dict[str, dict[str, Any]], portfolio: dict[str, Any]
) -> None:
    for name in ("efficient-frontier", "simulate"):
        first = render_run_report(runs[name], portfolio)
        second = render_run_report(runs[name], portfolio)
        assert first == second
    assert render_portfolio_report(portfolio, list(runs.values())) == render_portfolio_report(
        portfolio, list(reversed(list(runs.values())))
    )


def test_portfolio_report_puts_latest_runs_side_by_side(
    runs: dict[str, dict[str, Any]], portfolio: dict[str, Any]
) -> None:
    older = {**runs["risk-parity"], "id": "r-old", "createdAt": "2023-01-01T00:00:00Z"}
    report = render_portfolio_report(portfolio, [older, *runs.values()])
    assert set(report.images) == {
        "risk-parity-risk-contributions.png",
        "hrp-dendrogram.png",
        "efficient-frontier-frontier.png",
        "simulate-fan.png",
        "analyze-fan.png",
    }
    html = assert_self_contained(report)
    assert "r-old" not in html
    # the latest succeeded hrp run wins over the (equally new) failed one
    assert "r-hrp" in html
    assert "r-failed" not in html
    metrics = runs["risk-parity"]["result"]["metrics"]
    assert f"{metrics['expectedReturn'] * 100:.2f}%" in html
    assert f"{runs['simulate']['result']['statistics']['var95'] * 100:.2f}%" in html
    positions = [
        html.index(label)
        for label in ("Risk parity", "Hierarchical risk parity", "Efficient frontier")
    ]
    assert positions == sorted(positions)


def test_portfolio_report_without_runs(portfolio: dict[str, Any]) -> None:
    report = render_portfolio_report(portfolio, [])
    assert report.images == {}
    assert "no runs yet" in assert_self_contained(report)


def test_many_assets_and_long_inline_parameters() -> None:
    tickers = [f"T{i:03d}" for i in range(80)]
    weights = dict.fromkeys(tickers, 1 / 80)
    n = len(tickers)
    linkage = [
        [float(i), float(n + i - 1) if i else 1.0, 0.1 * (i + 1), float(i + 2)]
        for i in range(n - 1)
    ]
    linkage[0] = [0.0, 1.0, 0.05, 2.0]
    for i in range(1, n - 1):
        linkage[i] = [float(i + 1), float(n + i - 1), 0.05 * (i + 1), float(i + 2)]
    run = _run(
        "hrp",
        {"returns": {t: [0.0] * 300 for t in tickers}},
        {
            "weights": weights,
            "order": tickers,
            "linkageMatrix": linkage,
            "metrics": {"expectedReturn": 0.08, "volatility": 0.16, "sharpe": 0.5},
        },
        300,
    ).model_dump(mode="json", by_alias=True)
    run["dataWindow"]["tickers"] = tickers
    report = render_run_report(run)
    html = assert_self_contained(report)
    assert "300 values" in html
    assert png_size(report.images["dendrogram.png"]) == (1200, 900)
