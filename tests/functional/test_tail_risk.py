"""The tail-risk analyses through the local stack: a portfolio under a mandate, its mean-CVaR
frontier and minimum CDaR by POST, their rows through docs/SQL.md's examples, their reports.

Five fresh tickers' prices (random walks) land as a vendor file would; the portfolio keeps the
minimum CDaR fresh (so its creation runs it in the run worker, mandate and all) and holds a
group limit the unconstrained optimum breaks, a turnover limit and trading costs.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stack_client import api_fetch, create_portfolio, expect_error, http_json, rows_csv
from stack_client import unique_tickers as fresh

from core.settings import settings

pytestmark = pytest.mark.functional

DOC = Path(__file__).resolve().parents[2] / "docs" / "SQL.md"
DAYS = 320  # weekdays of prices from 2023-01-02: 319 returns
CALM_LIMIT = 0.3
TENANT = "demo"  # the dev key's


def _example(prefix: str) -> str:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    matches = [b for b in blocks if b.splitlines()[0].removeprefix("-- ").startswith(prefix)]
    assert len(matches) == 1, prefix
    return matches[0]


def _prices(tickers: list[str]) -> bytes:
    """Random walks: the first two tickers calm (the least-risk optimum wants them)."""
    rng = np.random.default_rng(18)
    scale = np.array([0.004, 0.005, 0.012, 0.016, 0.02])
    market = rng.normal(0.0, 0.007, (DAYS, 1)) * np.array([0.2, 0.3, 1.0, 1.2, 1.5])
    closes = 100 * np.cumprod(1 + 0.0004 + rng.normal(0, 1, (DAYS, 5)) * scale + market, axis=0)
    rows, day, written = [], date(2023, 1, 2), 0
    while written < DAYS:
        if day.weekday() < 5:
            rows += [
                (day.isoformat(), t, f"{closes[written, i]:.4f}") for i, t in enumerate(tickers)
            ]
            written += 1
        day += timedelta(days=1)
    return rows_csv(rows)


@pytest.fixture(scope="module")
def landed(local_stack: Any) -> dict[str, Any]:
    stack = local_stack
    tickers = fresh("T", 5)
    key = f"raw/prices/tail-risk-{uuid.uuid4().hex[:8]}.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=_prices(tickers))
    stack.wait_idle()
    calm = tickers[:2]
    portfolio = create_portfolio(
        stack,
        {
            "name": "Tail-risk mandate",
            "assets": dict(zip(tickers, [0.3, 0.25, 0.2, 0.15, 0.1], strict=True)),
            "analyses": [{"type": "min-cdar", "parameters": {"beta": 0.9}}],
            "constraints": {
                "maxWeight": 0.6,
                "groups": [{"name": "calm", "assets": calm, "max": CALM_LIMIT}],
                "turnover": 0.8,
                "costsBps": 10,
            },
        },
    )
    stack.wait_idle()
    return {"stack": stack, "tickers": tickers, "calm": calm, "portfolio": portfolio}


def _post(stack: Any, path: str, body: dict[str, Any], **options: Any) -> Any:
    return api_fetch(f"{stack.api_url}/optimization/{path}", "POST", body, **options)


def _sql(stack: Any, example: str, run: dict[str, Any]) -> list[dict[str, Any]]:
    from local.sql import LakeSql

    text = example.replace("'acme'", f"'{TENANT}'")
    text = re.sub(r"'r-example[\w-]*'", f"'{run['id']}'", text)
    text = text.replace("run_date = '2024-12-02'", f"run_date = '{run['createdAt'][:10]}'")
    sql = LakeSql(stack.session, settings().glue_database, stack.endpoint_url)
    try:
        rows: list[dict[str, Any]] = sql.query(text).to_pylist()
    finally:
        sql.close()
    return rows


def _report(stack: Any, run_id: str) -> tuple[list[str], str]:
    stack.wait_idle()  # rendered on RunCompleted
    status, links = http_json(f"{stack.api_url}/runs/{run_id}/report")
    assert status == 200, links
    page = api_fetch(links["html"]["url"], key="").raw.decode()
    return [image["name"] for image in links["images"]], page


def test_the_cvar_frontier_keeps_the_mandate_to_sql_and_the_report(landed: dict[str, Any]) -> None:
    stack, pid, calm = landed["stack"], landed["portfolio"]["id"], landed["calm"]
    answer = _post(stack, "cvar-frontier", {"portfolioId": pid, "nPoints": 6})
    assert answer.status == 201, answer
    run = answer.json
    assert (run["type"], run["status"]) == ("cvar-frontier", "succeeded")
    result = run["result"]
    points = result["points"]
    assert len(points) == 6
    assert result["minCvar"] == points[0]
    assert result["observations"] == DAYS - 1 == run["dataWindow"]["observations"]
    assert result["mandate"] == [
        "every weight in [0, 0.6]",
        f"group calm ({', '.join(calm)}) <= {CALM_LIMIT:g}",
        "turnover <= 0.8 from the portfolio's own weights",
        "costs 10 bp of the amount traded",
    ]
    for point in points:
        assert sum(point["weights"][t] for t in calm) <= CALM_LIMIT + 1e-9
        assert max(point["weights"].values()) <= 0.6 + 1e-9
        assert point["turnover"] <= 0.8 + 1e-9
        assert point["costs"] == pytest.approx(point["turnover"] * 1e-3)
    # The group limit binds: the calm pair is what the least CVaR wants most.
    assert sum(points[0]["weights"][t] for t in calm) == pytest.approx(CALM_LIMIT, abs=1e-7)
    assert [p["expectedReturn"] for p in points] == sorted(p["expectedReturn"] for p in points)
    assert result["portfolio"]["turnover"] == 0.0

    rows = _sql(stack, _example("Mean-CVaR frontier of one run"), run)
    assert [r["point"] for r in rows] == list(range(6))
    for row, point in zip(rows, points, strict=True):
        top = max(point["weights"], key=lambda t: point["weights"][t])
        assert row["beta"] == 0.95
        assert row["expected_return"] == pytest.approx(point["expectedReturn"], rel=1e-12)
        assert row["cvar_daily"] == pytest.approx(point["cvarDaily"], rel=1e-12)
        assert row["var_daily"] == pytest.approx(point["varDaily"], rel=1e-12)
        assert (row["top_asset"], row["top_weight"]) == (top, pytest.approx(point["weights"][top]))

    images, page = _report(stack, run["id"])
    assert {"cvar-frontier.png", "weights.png"} <= set(images)
    for text in ("Mean-CVaR frontier", "Minimum CVaR", "Mandate", f"group calm ({calm[0]}"):
        assert text in page


def test_the_minimum_cdar_keeps_the_mandate_to_sql_and_the_report(landed: dict[str, Any]) -> None:
    stack, pid, calm = landed["stack"], landed["portfolio"]["id"], landed["calm"]
    # Kept fresh: created with the portfolio, computed by the run worker under the mandate.
    status, listed = http_json(f"{stack.api_url}/portfolios/{pid}/runs")
    assert status == 200
    kept = [r for r in listed["items"] if r["parameters"].get("trigger") == "portfolio"]
    assert [(r["type"], r["status"]) for r in kept] == [("min-cdar", "succeeded")], kept
    assert sum(kept[0]["result"]["weights"][t] for t in calm) <= CALM_LIMIT + 1e-9

    answer = _post(stack, "min-cdar", {"portfolioId": pid, "beta": 0.9})
    assert answer.status == 201, answer
    run = answer.json
    result = run["result"]
    assert sum(result["weights"][t] for t in calm) == pytest.approx(CALM_LIMIT, abs=1e-7)
    assert result["turnover"] <= 0.8 + 1e-9
    assert result["costs"] == pytest.approx(result["turnover"] * 1e-3)
    assert [p["name"] for p in result["profiles"]] == ["min CDaR", "equal weight", "portfolio"]
    assert result["cdar"] <= result["maxDrawdown"]
    assert result["weights"] == pytest.approx(kept[0]["result"]["weights"])  # the same days
    # GET /runs/{id} answers the drawdown series, one per profile and day.
    status, again = http_json(f"{stack.api_url}/runs/{run['id']}")
    assert status == 200
    assert again["result"] == result
    assert len(result["dates"]) == DAYS - 1
    assert {len(series) for series in result["drawdowns"].values()} == {DAYS - 1}
    assert -min(result["drawdowns"]["min CDaR"]) == pytest.approx(result["maxDrawdown"])

    rows = [
        r
        for r in _sql(stack, _example("Minimum CDaR of every portfolio over time"), run)
        if r["tenant"] == TENANT and r["portfolio_id"] == pid
    ]
    assert len(rows) == 1
    [row] = rows
    assert str(row["as_of"]) == run["dataWindow"]["end"]
    assert (row["beta"], row["runs"]) == (0.9, 2)  # the kept-fresh run and this one
    assert row["cdar"] == pytest.approx(result["cdar"], rel=1e-12)
    assert row["max_drawdown"] == pytest.approx(result["maxDrawdown"], rel=1e-12)

    images, page = _report(stack, run["id"])
    assert {"underwater.png", "weights.png"} <= set(images)
    for text in ("Drawdowns", "Equal weight", "CDaR 90 %", "Mandate"):
        assert text in page


def test_a_run_handed_to_the_worker_keeps_the_mandate(landed: dict[str, Any]) -> None:
    stack, pid, calm = landed["stack"], landed["portfolio"]["id"], landed["calm"]
    answer = _post(
        stack,
        "cvar-frontier",
        {"portfolioId": pid, "nPoints": 3},
        headers={"Prefer": "respond-async"},
    )
    assert answer.status == 202, answer
    stack.wait_idle()
    _status, run = http_json(f"{stack.api_url}/runs/{answer.json['id']}")
    assert run["status"] == "succeeded", run
    for point in run["result"]["points"]:
        assert sum(point["weights"][t] for t in calm) <= CALM_LIMIT + 1e-9


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("cvar-frontier", {"beta": 1.5}, "beta"),
        ("cvar-frontier", {"nPoints": 500}, "nPoints"),
        ("min-cdar", {"minWeight": 0.5, "maxWeight": 0.2}, "minWeight must not exceed maxWeight"),
        ("min-cdar", {"beta": "high"}, "beta"),
    ],
)
def test_bad_requests_are_refused_in_the_envelope(
    landed: dict[str, Any], path: str, body: dict[str, Any], says: str
) -> None:
    answer = _post(landed["stack"], path, {"portfolioId": landed["portfolio"]["id"], **body})
    assert says in str(expect_error(answer, 400, "VALIDATION_ERROR"))


def test_inline_returns_without_a_portfolio(local_stack: Any) -> None:
    rng = np.random.default_rng(4)
    returns = {t: [float(x) for x in rng.normal(0.0005, 0.01, 60)] for t in ("AAA", "BBB", "CCC")}
    frontier = _post(local_stack, "cvar-frontier", {"returns": returns, "nPoints": 4})
    assert frontier.status == 201, frontier
    assert "portfolio" not in frontier.json["result"]
    assert frontier.json["result"]["mandate"] == ["every weight in [0, 1]"]
    least = _post(local_stack, "min-cdar", {"returns": returns, "maxWeight": 0.5})
    assert least.status == 201, least
    assert least.json["result"]["dates"] is None
    assert max(least.json["result"]["weights"].values()) <= 0.5 + 1e-9
