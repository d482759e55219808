"""``stratigos demo``: the whole chain on the local stack, end to end, then a summary.

Starts the local stack in this process, lands the committed sample files under
``raw/prices/`` (S3 raises "Object Created" through EventBridge), lets every event chain
run to its end, fires the nightly schedule, calls the API once per route group, and
prints what happened and where to look. Files are saved under ``demo-output/``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import analyses as _registers_analyses  # noqa: F401  (the built-in analyses)
from analyses import backtest, cvar_frontier, efficient_frontier
from core.analysis import Analysis, analyses
from core.content_types import JSON_CONTENT_TYPE
from local.lambda_runtime import EnvironmentRecord, Invocation
from local.stack import LocalStack, LocalStackOptions

__all__ = ["DemoReport", "run_demo"]


@dataclass
class DemoReport:
    """What the demo saw; ``ok`` decides the exit code."""

    landed: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    environments: list[EnvironmentRecord] = field(default_factory=list)
    api_calls: list[tuple[str, str, int, str]] = field(default_factory=list)
    objects_by_prefix: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    market_data: dict[str, Any] = field(default_factory=dict)
    sql: str = ""
    runs: dict[str, Any] = field(default_factory=dict)
    mandate: dict[str, Any] = field(default_factory=dict)
    recompute: dict[str, Any] = field(default_factory=dict)
    agreement: dict[str, Any] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def _http(
    url: str, key: str | None, method: str = "GET", body: Any = None, prefer: str = ""
) -> tuple[int, str]:
    headers = {"x-api-key": key} if key else {}
    data = None
    if body is not None:
        headers["Content-Type"] = JSON_CONTENT_TYPE
        data = json.dumps(body).encode()
    if prefer:
        headers["Prefer"] = prefer
    request = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        # url is the local API's http://127.0.0.1 address (stack.api_url).
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


DEMO_TICKERS = ("AAPL", "MSFT", "GOOGL", "AMZN", "META")


def _market_data(stack: LocalStack, key: str, echo: Any) -> dict[str, Any]:
    """Ask the local API for the seed portfolio's monthly closes and returns."""
    query = f"tickers={','.join(DEMO_TICKERS)}&start=2024-06-01&end=2024-12-31&frequency=monthly"
    answers: dict[str, Any] = {}
    for kind in ("prices", "returns"):
        status, body = _http(f"{stack.api_url}/market-data/{kind}?{query}", key)
        answers[kind] = {"status": status, "body": json.loads(body)}
    prices = answers["prices"]["body"]
    if answers["prices"]["status"] == 200:
        echo("")
        echo("Monthly closes from GET /market-data/prices (synthetic sample data)")
        first = prices["series"][DEMO_TICKERS[0]]["dates"]
        echo("  " + "ticker".ljust(8) + "".join(d[:7].rjust(10) for d in first))
        for ticker in DEMO_TICKERS:
            closes = prices["series"].get(ticker, {}).get("close", [])
            echo("  " + ticker.ljust(8) + "".join(f"{c:10.2f}" for c in closes))
    return answers


DEMO_SQL = {
    "annualised volatility from curated returns": """
SELECT ticker,
       count(*) AS days,
       round(stddev_samp(log_return) * sqrt(252), 4) AS annual_volatility
FROM returns
WHERE year BETWEEN 2022 AND 2024
GROUP BY ticker
ORDER BY annual_volatility DESC
LIMIT 5""".strip(),
    "the runs the event chain produced (results datasets)": """
SELECT run_type, status, count(*) AS runs, max(as_of) AS latest_as_of
FROM run_index
GROUP BY run_type, status
ORDER BY run_type""".strip(),
    "VaR and CVaR (95 %) of every simulation": """
SELECT s.portfolio_id, s.as_of, s.n_paths,
       round(s.var_95, 4) AS var_95, round(s.cvar_95, 4) AS cvar_95
FROM simulation_stats s
JOIN run_index r ON r.run_id = s.run_id AND r.status = 'succeeded'
ORDER BY s.created_at""".strip(),
    "the backtest's strategies side by side (its backtest_metrics rows)": """
SELECT m.strategy,
       round(max(CASE WHEN m.metric = 'cagr' THEN m.value END), 4) AS cagr,
       round(max(CASE WHEN m.metric = 'sharpe' THEN m.value END), 2) AS sharpe,
       round(max(CASE WHEN m.metric = 'max_drawdown' THEN m.value END), 4) AS max_drawdown,
       round(max(CASE WHEN m.metric = 'information_ratio' THEN m.value END), 3) AS info_ratio
FROM backtest_metrics m
JOIN run_index r ON r.run_id = m.run_id AND r.status = 'succeeded'
GROUP BY m.strategy
ORDER BY sharpe DESC, m.strategy""".strip(),
    "each mean-CVaR frontier's two ends (cvar_frontier_points: point 0 is the minimum CVaR)": """
SELECT c.portfolio_id, count(DISTINCT c.point) AS points,
       round(min(c.expected_return), 4) AS lowest_return,
       round(max(c.expected_return), 4) AS highest_return,
       round(min(c.cvar_daily), 4) AS least_cvar_daily,
       round(max(c.cvar_daily), 4) AS most_cvar_daily
FROM cvar_frontier_points c
JOIN run_index r ON r.run_id = c.run_id AND r.status = 'succeeded'
GROUP BY c.run_id, c.portfolio_id
ORDER BY c.portfolio_id""".strip(),
    "the backtest's turnover and costs per strategy (backtest_weights)": """
SELECT strategy, count(*) AS rebalances,
       round(sum(turnover), 3) AS turnover, round(sum(cost), 5) AS costs
FROM (SELECT DISTINCT run_id, strategy, rebalance_day, turnover, cost FROM backtest_weights) w
GROUP BY strategy
ORDER BY costs DESC, strategy""".strip(),
}


def _sql(stack: LocalStack, echo: Any) -> str:
    """The same SQL text Athena runs, on DuckDB over the local lake."""
    from core.settings import settings
    from local.sql import LakeSql, format_result

    assert stack.session is not None
    engine = LakeSql(stack.session, settings().glue_database, endpoint_url=stack.endpoint_url)
    outputs = []
    try:
        for title, query in DEMO_SQL.items():
            text = format_result(engine.query(query), "table")
            echo("")
            echo(f"SQL over the lake: {title} (DuckDB locally, the same text on Athena)")
            echo("  " + query.replace("\n", "\n  "))
            echo("  " + text.replace("\n", "\n  "))
            outputs.append(f"-- {title}\n{query}\n\n{text}\n")
    finally:
        engine.close()
    return "\n".join(outputs)


# The plan's own example request (section 4.2), verbatim.
SEED_PORTFOLIO: dict[str, Any] = {
    "portfolio": {
        "name": "Tech Concentrated",
        "description": "Technology-focused portfolio with high concentration",
        "assets": {"AAPL": 0.25, "MSFT": 0.25, "GOOGL": 0.20, "AMZN": 0.20, "META": 0.10},
    }
}


def _create_portfolio(stack: LocalStack, key: str, report: DemoReport, echo: Any) -> Any:
    status, text = _http(f"{stack.api_url}/portfolios", key, "POST", SEED_PORTFOLIO)
    portfolio = json.loads(text)
    if status != 201:
        report.problems.append(f"POST /portfolios answered {status}: {text[:200]}")
        raise RuntimeError("could not create the demo portfolio")
    kinds = ", ".join(a["type"] for a in portfolio["portfolio"]["analyses"])
    echo(
        f"created portfolio {portfolio['id']} ({portfolio['portfolio']['name']}); "
        f"computed at once, then kept fresh: {kinds}"
    )
    return portfolio


def _list_runs(stack: LocalStack, key: str, portfolio: Any) -> list[Any]:
    runs: list[Any] = []
    token = ""  # nosec B105
    while True:
        url = f"{stack.api_url}/portfolios/{portfolio['id']}/runs?limit=100"
        status, text = _http(url + (f"&nextToken={token}" if token else ""), key)
        page = json.loads(text)
        runs += page.get("items", [])
        token = page.get("nextToken") or ""
        if status != 200 or not token:
            return runs


def _land(stack: LocalStack, s3: Any, path: Path, report: DemoReport, echo: Any) -> None:
    object_key = f"raw/prices/{path.name}"
    s3.put_object(Bucket=stack.bucket, Key=object_key, Body=path.read_bytes())
    report.landed.append(object_key)
    echo(f"landed s3://{stack.bucket}/{object_key} ({path.stat().st_size:,} bytes)")


def _triggers_agree(stack: LocalStack, key: str, portfolio: Any, echo: Any) -> dict[str, Any]:
    """Whether each analysis's succeeded runs of the latest data agree, bit for bit, whatever
    triggered them (the landing, the nightly schedule, on demand)."""
    runs = [
        r
        for r in _list_runs(stack, key, portfolio)
        if r["status"] == "succeeded" and r["parameters"].get("trigger")
    ]
    window_end = max((r["dataWindow"]["end"] for r in runs if r.get("dataWindow")), default=None)
    results: dict[str, dict[str, str]] = {}  # analysis → trigger → its result, as JSON
    for r in runs:
        if (r.get("dataWindow") or {}).get("end") == window_end:
            answer = r["result"].get("weights", r["result"])
            results.setdefault(r["type"], {})[str(r["parameters"]["trigger"])] = json.dumps(
                answer, sort_keys=True
            )
    triggers = sorted({t for by_trigger in results.values() for t in by_trigger})
    identical = all(len(set(by_trigger.values())) == 1 for by_trigger in results.values())
    echo(
        f"{len(results)} analyses on data ending {window_end}, by trigger "
        f"({', '.join(triggers)}): " + ("identical to the last bit" if identical else "DIFFERENT")
    )
    return {"windowEnd": window_end, "triggers": triggers, "identical": identical}


def _recompute_summary(stack: LocalStack, key: str, portfolio: Any, echo: Any) -> dict[str, Any]:
    runs = _list_runs(stack, key, portfolio)
    echo("")
    echo(f"Runs of {portfolio['id']} (GET /portfolios/{{id}}/runs), newest first")
    for run in runs[:12]:
        trigger = run["parameters"].get("trigger") or "on demand"
        version = (run.get("dataWindow") or {}).get("dataVersion") or ""
        echo(
            f"  {run['id']}  {run['type']:<19} {run['status']:<10} {trigger:<12} "
            f"data {version[:16]}"
        )
    if len(runs) > 12:
        echo(f"  … {len(runs) - 12} more")
    return {"runs": len(runs), "statuses": dict(Counter(r["status"] for r in runs))}


def _portfolio_runs(stack: LocalStack, key: str, portfolio: Any, echo: Any) -> dict[str, Any]:
    """On-demand runs of every analysis with a demo run, on the demo portfolio, via the API."""
    base = stack.api_url
    out: dict[str, Any] = {}
    window = {"portfolioId": portfolio["id"], "start": "2022-01-01", "end": "2024-12-31"}
    shown = [a for a in analyses() if a.demo is not None]
    for entry in shown:
        assert entry.demo is not None
        prefer = "respond-async" if entry.demo.respond_async else ""
        body = {**window, **entry.demo.request}
        status, text = _http(base + entry.endpoint.path, key, "POST", body, prefer)
        out[entry.name] = {"status": status, "body": json.loads(text)}
    stack.wait_idle()  # the async runs finish in the run worker
    for name, answer in out.items():
        if answer["status"] == 202:
            status, text = _http(f"{base}/runs/{answer['body']['id']}", key)
            out[name] = {"status": status, "body": json.loads(text), "accepted": 202}
    echo("")
    echo(
        f"Runs for portfolio {portfolio['id']} ({portfolio['portfolio']['name']}), through the API"
    )
    columns = [a for a in shown if a.demo and a.demo.weights and a.demo.column]
    widths = [max(8, len(a.demo.column) + 2) for a in columns if a.demo]
    echo(
        "  "
        + "ticker".ljust(8)
        + "held".rjust(8)
        + "".join(a.demo.column.rjust(w) for a, w in zip(columns, widths, strict=True) if a.demo)
    )
    weights = {
        a.name: a.demo.weights(out[a.name]["body"].get("result") or {})
        for a in columns
        if a.demo and a.demo.weights
    }
    for ticker, held in SEED_PORTFOLIO["portfolio"]["assets"].items():
        echo(
            "  "
            + ticker.ljust(8)
            + f"{held:8.1%}"
            + "".join(
                f"{weights[a.name].get(ticker, float('nan')):{w}.1%}"
                for a, w in zip(columns, widths, strict=True)
            )
        )
    for entry in shown:
        result = out[entry.name]["body"].get("result")
        if entry.demo and entry.demo.summary and result:
            echo(f"  {entry.label}: {entry.demo.summary(result)}")
    return out


# A second portfolio, run under a mandate: ten large caps of five sectors with sector limits,
# a 50 % turnover limit from its own weights, 10 bp costs, and one view (Black-Litterman).
MANDATE_PORTFOLIO: dict[str, Any] = {
    "portfolio": {
        "name": "Sector Mandate",
        "description": "Ten large caps under a mandate: sector limits, turnover, costs, a view",
        "assets": {
            "AAPL": 0.12,
            "MSFT": 0.12,
            "NVDA": 0.08,
            "JPM": 0.10,
            "V": 0.10,
            "JNJ": 0.10,
            "UNH": 0.08,
            "PG": 0.10,
            "KO": 0.10,
            "XOM": 0.10,
        },
        "analyses": [],  # run on demand below only: the nightly ticks are done by then
        "constraints": {
            "maxWeight": 0.25,
            "groups": [
                {"name": "Technology", "assets": ["AAPL", "MSFT", "NVDA"], "max": 0.35},
                {"name": "Financials", "assets": ["JPM", "V"], "max": 0.25},
                {"name": "Defensive", "assets": ["JNJ", "UNH", "PG", "KO"], "min": 0.30},
            ],
            "turnover": 0.5,
            "costsBps": 10,
        },
        "views": {"items": [{"asset": "XOM", "return": 0.08, "confidence": 0.6}]},
    }
}
# What the demo runs on it, and with what (the window is the seed portfolio's).
MANDATE_RUNS: tuple[tuple[Analysis, dict[str, Any]], ...] = (
    (efficient_frontier.ANALYSIS, {"nPoints": 20}),
    (cvar_frontier.ANALYSIS, {"nPoints": 10}),
    (backtest.ANALYSIS, {"strategies": ["min-variance", "equal-weight"]}),
)


def _frontier_line(points: list[Any], best: Any) -> str:
    """A mean-variance frontier in one line: its two ends and its maximum-Sharpe portfolio."""
    if not points:
        return "no points"
    line = (
        f"{len(points)} points, return {points[0]['expectedReturn']:.1%} to "
        f"{points[-1]['expectedReturn']:.1%}/yr at volatility {points[0]['volatility']:.1%} to "
        f"{points[-1]['volatility']:.1%}"
    )
    if best:
        line += (
            f"; max Sharpe {best['sharpe']:.2f} ({best['expectedReturn']:.1%}/yr at "
            f"{best['volatility']:.1%})"
        )
    return line


def _cvar_line(result: Any) -> str:
    """A mean-CVaR frontier in one line: its two ends."""
    points = result.get("points") or []
    if not points:
        return "no points"
    level = f"{100 * result.get('beta', 0.95):.3g} %"
    return (
        f"{len(points)} points, return {points[0]['expectedReturn']:.1%} to "
        f"{points[-1]['expectedReturn']:.1%}/yr at one-day CVaR {level} "
        f"{points[0]['cvarDaily']:.2%} to {points[-1]['cvarDaily']:.2%}"
    )


def _mandate_runs(stack: LocalStack, key: str, report: DemoReport) -> dict[str, Any]:
    """The mandated portfolio, created, and its efficient frontier (with and without the
    mandate), its mean-CVaR frontier and a backtest under the mandate, run through the API
    (each answers at once; their reports render meanwhile). ``{}`` when it was refused."""
    base = stack.api_url
    status, text = _http(f"{base}/portfolios", key, "POST", MANDATE_PORTFOLIO)
    portfolio = json.loads(text)
    if status != 201:
        report.problems.append(f"POST /portfolios (mandate) answered {status}: {text[:200]}")
        return {}
    window = {"portfolioId": portfolio["id"], "start": "2022-01-01", "end": "2024-12-31"}
    out: dict[str, Any] = {"portfolio": portfolio}
    for entry, fields in MANDATE_RUNS:
        status, text = _http(base + entry.endpoint.path, key, "POST", {**window, **fields})
        out[f"mandate-{entry.name}"] = {"status": status, "body": json.loads(text)}
    return out


def _print_mandate(runs: dict[str, Any], echo: Any) -> None:
    """What the mandated portfolio's runs found: the mandate, the weights, one line per
    frontier, the backtest."""
    if not runs:
        return
    portfolio = runs["portfolio"]
    out = {
        name.removeprefix("mandate-"): answer
        for name, answer in runs.items()
        if name != "portfolio"
    }
    held = MANDATE_PORTFOLIO["portfolio"]["assets"]
    echo("")
    name = portfolio["portfolio"]["name"]
    echo(f"Under a mandate: portfolio {portfolio['id']} ({name}), through the API")
    views = MANDATE_PORTFOLIO["portfolio"]["views"]["items"]
    results = {name: answer["body"].get("result") or {} for name, answer in out.items()}
    frontier = results.get(efficient_frontier.ANALYSIS.name, {})
    tail = results.get(cvar_frontier.ANALYSIS.name, {})
    for line in tail.get("mandate") or []:
        echo(f"  mandate: {line}")
    for view in views:
        asset, level = view["asset"], view["confidence"]
        echo(f"  view: {asset} returns {view['return']:.0%}/yr (confidence {level:.0%})")
    best = tail.get("minCvar") or {}
    sharpe = frontier.get("maxSharpe") or {}
    echo("  " + "ticker".ljust(8) + "held".rjust(8) + "max Sharpe".rjust(12) + "min CVaR".rjust(10))
    for ticker, weight in held.items():
        echo(
            "  "
            + ticker.ljust(8)
            + f"{weight:8.1%}"
            + f"{(sharpe.get('weights') or {}).get(ticker, float('nan')):12.1%}"
            + f"{(best.get('weights') or {}).get(ticker, float('nan')):10.1%}"
        )
    if best:
        echo(
            f"  minimum-CVaR portfolio: {best['expectedReturn']:.1%}/yr, one-day CVaR 95 % "
            f"{best['cvarDaily']:.2%} (VaR {best['varDaily']:.2%}), turnover "
            f"{best.get('turnover', 0):.2f}, costs {best.get('costs', 0):.3%}"
        )
    echo(
        "  efficient frontier, mandate:    "
        + _frontier_line(frontier.get("points") or [], frontier.get("maxSharpe"))
    )
    if frontier.get("unconstrainedPoints"):
        echo(
            "  efficient frontier, no mandate: "
            + _frontier_line(
                frontier["unconstrainedPoints"], frontier.get("unconstrainedMaxSharpe")
            )
        )
    if tail:
        echo(f"  mean-CVaR frontier, mandate:   {_cvar_line(tail)}")
        echo(
            "  (the efficient frontiers' returns are the view's Black-Litterman posterior; the "
            "mean-CVaR frontier's the historical days, its scenarios)"
        )
    summary = backtest.ANALYSIS.demo.summary if backtest.ANALYSIS.demo else None
    tested = results.get(backtest.ANALYSIS.name)
    if tested and summary:
        echo(f"  backtest under the mandate:    {summary(tested)}")


def _download_reports(
    stack: LocalStack,
    key: str,
    portfolio: Any,
    runs: dict[str, Any],
    *,
    output_dir: Path,
    echo: Any,
) -> list[str]:
    """Fetch each report through its presigned links (as a client would) into demo-output/."""
    targets = [(f"/portfolios/{portfolio['id']}/report", "portfolio")]
    targets += [
        (f"/runs/{answer['body']['id']}/report", name)
        for name, answer in runs.items()
        if isinstance(answer.get("body"), dict) and answer["body"].get("status") == "succeeded"
    ]
    saved: list[str] = []
    for path, name in targets:
        status, text = _http(stack.api_url + path, key)
        if status != 200:
            saved.append(f"{path}: {status}")
            continue
        links = json.loads(text)
        folder = output_dir / "reports" / name
        folder.mkdir(parents=True, exist_ok=True)
        for link in [links["html"], *links["images"]]:
            # a presigned URL the local API just handed out (the local S3 endpoint)
            with urllib.request.urlopen(link["url"], timeout=30) as response:  # nosec B310
                (folder / link["name"]).write_bytes(response.read())
        saved.append(str(folder / "report.html"))
    echo("")
    echo("Reports (rendered on RunCompleted, fetched through 15-minute presigned links):")
    for item in saved:
        echo(f"  {item}")
    return saved


def _objects_by_prefix(stack: LocalStack) -> dict[str, int]:
    s3 = stack.client("s3")
    counts: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket):
        for obj in page.get("Contents", []):
            parts = obj["Key"].split("/")
            counts["/".join(parts[:2]) + "/" if len(parts) > 2 else parts[0]] += 1
    return dict(sorted(counts.items()))


def _dead_letter_count(stack: LocalStack) -> int:
    assert stack.provisioned is not None
    sqs = stack.client("sqs")
    total = 0
    for url in stack.provisioned.dead_letter_queues.values():
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        total += int(attributes["ApproximateNumberOfMessages"])
    return total


def run_demo(output_dir: Path = Path("demo-output"), echo: Any = print) -> DemoReport:
    """Run the demo chain and write ``summary.json`` and ``invocations.json``."""
    from sample_data import sample_files

    report = DemoReport()
    started = time.perf_counter()
    options = LocalStackOptions(
        api_port=0,
        state_file=None,
        environment_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
        prewarm=True,
    )
    with LocalStack(options) as stack:
        key = next(iter(stack.options.keys))
        echo(f"local stack up: AWS endpoint {stack.endpoint_url}, API {stack.api_url}")
        # 1. The history lands: ingest → returns → MarketDataUpdated (no portfolio yet).
        s3 = stack.client("s3")
        history, *latest = sample_files()
        _land(stack, s3, history, report, echo)
        stack.wait_idle()
        # 2. A portfolio (the plan's request, verbatim) is computed at once on that data.
        portfolio = _create_portfolio(stack, key, report, echo)
        stack.wait_idle()
        name = portfolio["portfolio"]["name"]
        created_runs = _list_runs(stack, key, portfolio)
        echo(f"creating it computed {len(created_runs)} runs of {name} on the data the lake holds")
        # 3. The December file lands: the holders of its tickers recompute (event-driven).
        for path in latest:
            _land(stack, s3, path, report, echo)
        stack.wait_idle()
        after_landing = _list_runs(stack, key, portfolio)
        echo(f"the landing recomputed {len(after_landing) - len(created_runs)} runs of {name}")
        # 4. The nightly schedule, twice: the second tick creates no duplicate runs; then a
        #    recompute on demand. Unchanged data: every trigger gives the same numbers.
        for tick in (1, 2):
            stack.tick("Nightly")
            stack.wait_idle()
            count = len(_list_runs(stack, key, portfolio))
            echo(f"fired the Nightly schedule ({tick}): {count} runs of {name}")
        status, _ = _http(f"{stack.api_url}/portfolios/{portfolio['id']}/runs", key, "POST", {})
        stack.wait_idle()
        echo(f"POST /portfolios/{{id}}/runs answered {status}: recomputed on demand")
        report.agreement = _triggers_agree(stack, key, portfolio, echo)
        if not report.agreement.get("identical"):
            report.problems.append("runs of the same data by different triggers disagree")
        report.recompute = _recompute_summary(stack, key, portfolio, echo)

        report.market_data = _market_data(stack, key, echo)
        # The mandated portfolio's runs first: their reports render while the seed's run.
        mandate = _mandate_runs(stack, key, report)
        report.runs = _portfolio_runs(stack, key, portfolio, echo)  # waits for every run
        _print_mandate(mandate, echo)
        report.mandate = {k: v for k, v in mandate.items() if k != "portfolio"}
        report.sql = _sql(stack, echo)
        report.reports = _download_reports(
            stack,
            key,
            portfolio,
            {**report.runs, **report.mandate},
            output_dir=output_dir,
            echo=echo,
        )

        for route in sorted(stack.template.routes(), key=lambda r: (r.path, r.method)):
            if route.method != "GET" or "{" in route.path or route.path.startswith("/market"):
                continue
            status, body = _http(
                stack.api_url + route.path, key if route.api_key_required else None
            )
            code = ""
            if status >= 400:
                code = json.loads(body).get("error", {}).get("code", "")
            report.api_calls.append((route.method, route.path, status, code))
        status, _ = _http(stack.api_url + "/portfolios", None)
        report.api_calls.append(("GET", "/portfolios (no key)", status, "FORBIDDEN"))

        report.invocations = stack.runtime.calls()
        report.environments = list(stack.runtime.environments)
        report.objects_by_prefix = _objects_by_prefix(stack)
        report.dead_letters = _dead_letter_count(stack)

    ingest_keys = {
        (call.event.get("detail") or {}).get("object", {}).get("key")
        for call in report.invocations
        if call.function == "IngestFunction" and isinstance(call.event, dict)
    }
    for landed in report.landed:
        if landed not in ingest_keys:
            report.problems.append(f"{landed} never reached IngestFunction")
    if report.dead_letters:
        report.problems.append(f"{report.dead_letters} event(s) in the dead-letter queue")
    for name, answer in {**report.runs, **report.mandate}.items():
        if answer.get("status") not in (200, 201):
            report.problems.append(f"{name} answered {answer.get('status')}")
        elif answer["body"].get("status") != "succeeded":
            report.problems.append(f"run {name} ended {answer['body'].get('status')}")
    report.problems += [f"report {item}" for item in report.reports if ": " in item]
    if report.recompute.get("statuses", {}).get("succeeded", 0) < 8:
        report.problems.append(f"recompute runs: {report.recompute}")
    for kind, answer in report.market_data.items():
        if answer.get("status") != 200:
            report.problems.append(f"GET /market-data/{kind} answered {answer.get('status')}")
    for call in report.invocations:
        if not call.ok:
            report.problems.append(f"{call.function} failed: {call.error}")
    if not any(c.function == "FanOutFunction" for c in report.invocations):
        report.problems.append("the Nightly schedule never reached FanOutFunction")
    report.seconds = time.perf_counter() - started
    _write(report, output_dir)
    _print(report, output_dir, echo)
    return report


def _write(report: DemoReport, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "ok": report.ok,
        "seconds": round(report.seconds, 2),
        "landed": report.landed,
        "invocations": dict(Counter(f"{c.function} <- {c.trigger}" for c in report.invocations)),
        "apiCalls": [
            {"method": m, "path": p, "status": s, "code": c} for m, p, s, c in report.api_calls
        ],
        "objectsByPrefix": report.objects_by_prefix,
        "deadLetters": report.dead_letters,
        "triggersAgree": report.agreement,
        "problems": report.problems,
    }
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (output_dir / "sql.txt").write_text(report.sql)
    runs = {**report.runs, **report.mandate}
    (output_dir / "runs.json").write_text(json.dumps(runs, indent=2, default=str) + "\n")
    (output_dir / "market_data.json").write_text(
        json.dumps(report.market_data, indent=2, default=str) + "\n"
    )
    calls = [
        {
            "function": c.function,
            "trigger": c.trigger,
            "attempt": c.attempt,
            "ok": c.ok,
            "seconds": round(c.duration_s, 4),
            "environment": c.environment,
            "init_seconds": None if c.init_duration_s is None else round(c.init_duration_s, 4),
            "error": c.error,
            "result": c.result if c.trigger.startswith(("EventBridgeRule", "Schedule")) else None,
            "event": c.event if not c.trigger.startswith("Api") else None,
        }
        for c in report.invocations
    ]
    (output_dir / "invocations.json").write_text(json.dumps(calls, indent=2, default=str) + "\n")


def _print(report: DemoReport, output_dir: Path, echo: Any) -> None:
    echo("")
    echo("Ingest")
    for call in report.invocations:
        result = call.result if isinstance(call.result, dict) else {}
        if call.function == "IngestFunction" and "rows_read" in result:
            echo(
                f"  {result['source_key']}: {result['rows_read']:,} rows read, "
                f"{result['rows_accepted']:,} curated, {result['rows_rejected']:,} quarantined, "
                f"{result['rows_changed']:,} changed -> {', '.join(result['partitions_written'])}"
            )
        if call.function == "ReturnsFunction" and "rows" in result:
            echo(
                f"  returns: {result['rows']:,} recomputed for {len(result['tickers'])} tickers "
                f"({result['first_date']} .. {result['last_date']})"
            )
    echo("")
    echo("What happened")
    echo("-------------")
    for (function, trigger), count in sorted(
        Counter((c.function, c.trigger) for c in report.invocations).items()
    ):
        outcomes = Counter(
            "ok" if c.ok else "error"
            for c in report.invocations
            if (c.function, c.trigger) == (function, trigger)
        )
        statuses = Counter(
            str(c.result.get("status"))
            for c in report.invocations
            if (c.function, c.trigger) == (function, trigger)
            and isinstance(c.result, dict)
            and "status" in c.result
        )
        detail = ", ".join(f"{k}: {v}" for k, v in sorted({**outcomes, **statuses}.items()))
        echo(f"  {function:<22} <- {trigger:<45} x{count}  ({detail})")
    echo("")
    echo("Execution environments (worker processes, one call at a time each; started")
    echo("when the stack starts, as provisioned concurrency, or when every one was busy)")
    calls = Counter(call.function for call in report.invocations)
    started: dict[str, list[float]] = {}
    for environment in report.environments:
        started.setdefault(environment.function, []).append(environment.init_s)
    for function in sorted(started):
        inits = started[function]
        mean = 1000 * sum(inits) / len(inits)
        echo(
            f"  {function:<22} {len(inits)} environment(s), init {mean:.0f} ms on average, "
            f"{calls.get(function, 0)} call(s)"
        )
    echo("")
    echo("API (through the local API Gateway)")
    for method, path, status, code in report.api_calls:
        echo(f"  {method:<6} {path:<28} -> {status} {code}")
    echo("")
    echo("Lake objects by prefix")
    for prefix, count in report.objects_by_prefix.items():
        echo(f"  {prefix:<28} {count}")
    echo(f"Dead-letter queue: {report.dead_letters} message(s)")
    echo("")
    echo(f"Details: {output_dir}/summary.json and {output_dir}/invocations.json")
    echo(f"Demo took {report.seconds:.1f} s: " + ("OK" if report.ok else "PROBLEMS"))
    for problem in report.problems:
        echo(f"  ! {problem}")
