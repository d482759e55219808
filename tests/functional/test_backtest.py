"""Backtests through the local stack: POST /backtests, the run worker, SQL and the tearsheet.

One portfolio of three fresh tickers (and a fourth, its benchmark), landed as a vendor file
would be; the portfolio keeps a backtest fresh, and the API backtests it on demand, by the
plan's run shape. The bad paths come back as the standard envelope, and nothing is stored
for a request that was refused before its run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from stack_client import api_fetch, create_portfolio, expect_error, http_json, price_csv
from stack_client import unique_tickers as fresh

from core.settings import settings

pytestmark = pytest.mark.functional

DAYS = 400  # weekdays of prices from 2023-01-02 (to 2024-07-12): 399 returns
STRATEGIES = [
    "portfolio",
    "equal-weight",
    "inverse-volatility",
    "risk-parity",
    "hrp",
    "min-variance",
]


@pytest.fixture(scope="module")
def landed(local_stack: Any) -> Iterator[dict[str, Any]]:
    """Four tickers' prices in the lake and a portfolio of the first three keeping a
    backtest against the fourth fresh."""
    stack = local_stack
    tickers = fresh("B", 4)
    key = f"raw/prices/backtest-{uuid.uuid4().hex[:8]}.csv"
    body = price_csv(tickers, DAYS, date(2023, 1, 2), stride=5, modulus=17)
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    stack.wait_idle()
    assets = tickers[:3]
    portfolio = create_portfolio(
        stack,
        {
            "name": "Backtested",
            "assets": {assets[0]: 0.5, assets[1]: 0.3, assets[2]: 0.2},
            "analyses": [
                {"type": "backtest", "parameters": {"benchmark": tickers[3], "trainDays": 60}}
            ],
        },
    )
    stack.wait_idle()
    return {"stack": stack, "assets": assets, "benchmark": tickers[3], "portfolio": portfolio}


def _return_days() -> list[date]:
    """The days with a return: the price file's weekdays but the first."""
    days, day = [], date(2023, 1, 2)
    while len(days) < DAYS:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days[1:]


def _month_starts(days: list[date], train: int) -> list[int]:
    """Rows opening a month with at least ``train`` rows before them."""
    return [
        i
        for i in range(train, len(days))
        if (days[i].year, days[i].month) != (days[i - 1].year, days[i - 1].month)
    ]


def _backtest(stack: Any, body: dict[str, Any], **options: Any) -> Any:
    return api_fetch(f"{stack.api_url}/backtests", "POST", body, **options)


def test_a_backtest_from_the_api_to_sql_and_the_tearsheet(landed: dict[str, Any]) -> None:
    stack, pid, bench = landed["stack"], landed["portfolio"]["id"], landed["benchmark"]
    answer = _backtest(
        stack, {"portfolioId": pid, "trainDays": 60, "benchmark": bench, "costsBps": 5}
    )
    assert answer.status == 201, answer
    run = answer.json
    assert run["type"] == "backtest"
    assert run["status"] == "succeeded"
    assert answer.headers["Location"] == f"/runs/{run['id']}"
    result = run["result"]
    assert [s["name"] for s in result["strategies"]] == STRATEGIES
    assert result["benchmark"] == bench
    assert result["tickers"] == sorted(landed["assets"])
    # The whole history: 399 returns, monthly rebalances after the 60-day train window.
    window = run["dataWindow"]
    lake_days = _return_days()
    starts = _month_starts(lake_days, 60)
    assert (window["start"], window["end"]) == (str(lake_days[0]), str(lake_days[-1]))
    assert window["observations"] == DAYS - 1
    assert window.get("lookbackDays") is None
    days = result["days"]
    assert days == len(lake_days) - starts[0]
    assert result["start"] == result["dates"][0] == str(lake_days[starts[0]]) == "2023-04-03"
    assert len(result["dates"]) == days == len(result["returns"]["benchmark"])
    assert result["folds"] == len(result["rebalanceRows"]) == len(starts) == 16
    held = result["strategies"][0]
    assert held["finalWeights"] == pytest.approx(
        {landed["assets"][0]: 0.5, landed["assets"][1]: 0.3, landed["assets"][2]: 0.2}
    )
    assert held["costs"] == pytest.approx(held["turnover"] * 5e-4)
    assert {"beta", "informationRatio", "maxDrawdown", "winRate"} <= set(held["metrics"])

    # GET /runs/{id} answers the same run, bulky series included.
    status, again = http_json(f"{stack.api_url}/runs/{run['id']}")
    assert status == 200
    assert again["result"] == result

    # The three tables, through SQL.
    from local.sql import LakeSql

    sql = LakeSql(stack.session, settings().glue_database, stack.endpoint_url)
    try:
        metrics = sql.query(
            "SELECT strategy, value FROM backtest_metrics "  # nosec B608 - our run id
            f"WHERE run_id = '{run['id']}' AND metric = 'sharpe' ORDER BY strategy"
        ).to_pylist()
        series = sql.query(
            'SELECT count(*) AS n, min("return") AS worst, max(date) AS last '  # nosec B608
            f"FROM backtest_returns WHERE run_id = '{run['id']}' AND strategy = 'hrp'"
        ).to_pylist()
        weights = sql.query(
            "SELECT count(DISTINCT rebalance_date) AS rebalances, count(*) AS n "  # nosec B608
            f"FROM backtest_weights WHERE run_id = '{run['id']}' AND strategy = 'risk-parity'"
        ).to_pylist()
    finally:
        sql.close()
    sharpe = {s["name"]: s["metrics"]["sharpe"] for s in result["strategies"]}
    sharpe["benchmark"] = result["benchmarkMetrics"]["sharpe"]
    assert {m["strategy"]: m["value"] for m in metrics} == pytest.approx(sharpe)
    hrp = next(s for s in result["strategies"] if s["name"] == "hrp")
    assert series == [{"n": days, "worst": min(result["returns"]["hrp"]), "last": lake_days[-1]}]
    assert weights == [{"rebalances": 16, "n": 16 * 3}]
    assert hrp["metrics"]["worst"] == pytest.approx(min(result["returns"]["hrp"]))

    # The tearsheet, rendered on RunCompleted.
    stack.wait_idle()
    status, links = http_json(f"{stack.api_url}/runs/{run['id']}/report")
    assert status == 200, links
    names = [image["name"] for image in links["images"]]
    for chart in (
        "equity.png",
        "underwater.png",
        "monthly-returns.png",
        "rolling-sharpe.png",
        "rolling-volatility.png",
        "weights-hrp.png",
        "turnover.png",
    ):
        assert chart in names
    page = api_fetch(links["html"]["url"], key="").raw.decode()
    for text in ("Equity curves", "Monthly returns", "Information ratio", bench, "min-variance"):
        assert text in page


def test_the_portfolio_keeps_its_backtest_fresh_and_reports_it(landed: dict[str, Any]) -> None:
    stack, pid = landed["stack"], landed["portfolio"]["id"]
    status, listed = http_json(f"{stack.api_url}/portfolios/{pid}/runs")
    kept = [r for r in listed["items"] if r["parameters"].get("trigger") == "portfolio"]
    assert [(r["type"], r["status"]) for r in kept] == [("backtest", "succeeded")], kept
    status, links = http_json(f"{stack.api_url}/portfolios/{pid}/report")
    assert status == 200, links
    assert "backtest-equity.png" in [image["name"] for image in links["images"]]
    page = api_fetch(links["html"]["url"], key="").raw.decode()
    assert "CAGR" in page
    assert "Max drawdown" in page


def test_a_large_backtest_goes_to_the_worker(landed: dict[str, Any]) -> None:
    stack, pid = landed["stack"], landed["portfolio"]["id"]
    answer = _backtest(
        stack,
        {"portfolioId": pid, "trainDays": 120, "rebalance": 21, "strategies": ["hrp"]},
        headers={"Prefer": "respond-async"},
    )
    assert answer.status == 202, answer
    stack.wait_idle()
    _status, run = http_json(f"{stack.api_url}/runs/{answer.json['id']}")
    assert run["status"] == "succeeded", run
    assert [s["name"] for s in run["result"]["strategies"]] == ["hrp"]
    assert run["result"]["days"] == (DAYS - 1 - 120) // 21 * 21  # whole windows only


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        ({"strategies": ["moonshot"]}, 400, "VALIDATION_ERROR", "strategies"),
        ({"strategies": [{"type": "hrp", "target": 0.1}]}, 400, "VALIDATION_ERROR", "no target"),
        ({"rebalance": "weekly"}, 400, "VALIDATION_ERROR", "rebalance"),
        ({"benchmark": "NOSUCHTKR"}, 422, "UNPROCESSABLE", "NOSUCHTKR"),
        ({"trainDays": 2000}, 422, "UNPROCESSABLE", "Too few days to backtest"),
        (
            {"strategies": [{"type": "fixed", "weights": {"NOSUCHTKR": 1.0}}]},
            422,
            "UNPROCESSABLE",
            "tickers the run has no returns for: NOSUCHTKR",
        ),
        ({"costsBps": {"NOSUCHTKR": 5}}, 422, "UNPROCESSABLE", "must name every ticker"),
    ],
)
def test_bad_backtests_are_refused_in_the_envelope(
    landed: dict[str, Any], body: dict[str, Any], status: int, code: str, says: str
) -> None:
    stack, pid = landed["stack"], landed["portfolio"]["id"]
    answer = _backtest(stack, {"portfolioId": pid, **body})
    error = expect_error(answer, status, code)
    assert says in str(error), error


def test_inline_returns_backtest_without_a_portfolio(local_stack: Any) -> None:
    returns = {
        "AAA": [0.01, -0.02, 0.015, 0.003, -0.004, 0.02, -0.01, 0.005] * 5,
        "BBB": [-0.005, 0.01, 0.002, -0.012, 0.008, 0.001, 0.004, -0.003] * 5,
    }
    answer = _backtest(
        local_stack,
        {"returns": returns, "trainDays": 10, "rebalance": 5, "strategies": ["equal-weight"]},
    )
    assert answer.status == 201, answer
    result = answer.json["result"]
    assert result["dates"] is None
    assert result["days"] == 30
    assert result["benchmark"] is None
    refused = _backtest(local_stack, {"returns": returns, "trainDays": 10})
    assert "needs dated returns" in str(expect_error(refused, 400, "VALIDATION_ERROR"))
