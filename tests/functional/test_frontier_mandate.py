"""A portfolio's mandate and views through the local stack: prices landed in the lake, a
portfolio created with constraints and views, its efficient frontier run over the API, the
group limit held by every portfolio of the run, both frontiers in frontier_points (SQL) and in
the report."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from stack_client import api_fetch, call, create_portfolio, rows_csv, unique_tickers

from core.settings import settings
from local.sql import LakeSql

pytestmark = pytest.mark.functional

DAYS = 160
TECH_CAP = 0.3


def _weekdays(count: int) -> list[date]:
    days, day = [], date.today() - timedelta(days=2 * count + 10)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


@pytest.fixture(scope="module")
def mandated(local_stack: Any) -> dict[str, Any]:
    """Prices of four fresh tickers (the last two earn most: the "tech" group an
    unconstrained frontier loads) and a portfolio of them with a tech cap and a view."""
    tickers = unique_tickers("M", 4)
    rng = np.random.default_rng(11)
    drift = np.array([0.0002, 0.0003, 0.0015, 0.0018])
    scale = np.array([0.008, 0.01, 0.014, 0.016])
    closes = 100.0 * np.cumprod(1.0 + drift + rng.normal(0.0, 1.0, (DAYS, 4)) * scale, axis=0)
    days = _weekdays(DAYS)
    rows = [
        (day.isoformat(), ticker, f"{closes[k, i]:.4f}")
        for k, day in enumerate(days)
        for i, ticker in enumerate(tickers)
    ]
    key = f"raw/prices/mandate-{uuid.uuid4().hex[:8]}.csv"
    local_stack.client("s3").put_object(Bucket=local_stack.bucket, Key=key, Body=rows_csv(rows))
    local_stack.wait_idle()
    tech = tickers[2:]
    portfolio = create_portfolio(
        local_stack,
        {
            "name": "Mandated frontier",
            "assets": dict.fromkeys(tickers, 0.25),
            "analyses": [],
            "constraints": {
                "maxWeight": 0.6,
                "groups": [{"name": "tech", "assets": tech, "max": TECH_CAP}],
                "costsBps": 10,
            },
            # The historical prior keeps the tech pair the best earners.
            "views": {"items": [{"asset": tickers[0], "return": 0.12}], "prior": "historical"},
        },
    )
    local_stack.wait_idle()
    answer = call(
        local_stack,
        "POST",
        "/optimization/efficient-frontier",
        body={"portfolioId": portfolio["id"], "nPoints": 8},
    )
    assert answer.status == 201, str(answer)
    local_stack.wait_idle()
    return {"tickers": tickers, "tech": tech, "portfolio": portfolio, "run": answer.json}


def _tech(weights: dict[str, float], tech: list[str]) -> float:
    return sum(weights[t] for t in tech)


def test_the_frontier_run_honours_the_group_limit(mandated: dict[str, Any]) -> None:
    run, tech = mandated["run"], mandated["tech"]
    assert run["status"] == "succeeded", run
    result = run["result"]
    assert result["mandate"] is True
    for point in result["points"]:
        assert _tech(point["weights"], tech) <= TECH_CAP + 1e-8
        assert max(point["weights"].values()) <= 0.6 + 1e-8
        assert point["cost"] == pytest.approx(0.001 * point["turnover"], abs=1e-12)
    for marked in ("minVariance", "maxSharpe"):
        assert _tech(result[marked]["weights"], tech) <= TECH_CAP + 1e-8
    # Without the mandate the frontier loads the tech pair beyond the cap.
    free = result["unconstrainedPoints"]
    assert len(free) == len(result["points"]) == 8
    assert max(_tech(p["weights"], tech) for p in free) > TECH_CAP + 1e-3
    # The view's Black-Litterman posterior, per ticker, beside its prior.
    first = mandated["tickers"][0]
    assert set(result["posteriorReturns"]) == set(mandated["tickers"])
    assert result["posteriorReturns"][first] > result["priorReturns"][first]


def test_frontier_points_hold_both_frontiers(local_stack: Any, mandated: dict[str, Any]) -> None:
    run_id = mandated["run"]["id"]
    engine = LakeSql(local_stack.session, settings().glue_database, local_stack.endpoint_url)
    try:
        table = engine.query(
            "SELECT frontier, count(DISTINCT point) AS points, max(cost) AS cost "
            f"FROM frontier_points WHERE run_id = '{run_id}' GROUP BY frontier ORDER BY frontier"
        ).to_pylist()
        tech = ", ".join(f"'{t}'" for t in mandated["tech"])
        worst = engine.query(
            "SELECT max(tech) AS tech FROM (SELECT point, sum(weight) AS tech "
            f"FROM frontier_points WHERE run_id = '{run_id}' AND frontier = 'mandate' "
            f"AND asset IN ({tech}) GROUP BY point)"
        ).to_pylist()
    finally:
        engine.close()
    assert [(r["frontier"], r["points"]) for r in table] == [("mandate", 8), ("unconstrained", 8)]
    assert table[0]["cost"] > 0
    assert table[1]["cost"] is None
    assert worst[0]["tech"] <= TECH_CAP + 1e-8


def test_the_report_draws_both_frontiers_and_the_views(
    local_stack: Any, mandated: dict[str, Any]
) -> None:
    status, _, body = api_fetch(f"{local_stack.api_url}/runs/{mandated['run']['id']}/report")
    assert status == 200, body
    links = json.loads(body)
    status, _, page = api_fetch(links["html"]["url"], key="")
    assert status == 200
    html = page.decode()
    assert "Maximum Sharpe (unconstrained)" in html
    assert "Prior and posterior expected returns" in html
    assert 'data-asset="views.png"' in html
