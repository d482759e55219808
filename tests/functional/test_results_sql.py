"""Run results in the local lake: Glue tables from the template, docs/SQL.md's results queries.

Data: runs of two tenants of our own (``rsqlt-…``), written with ``write_results`` into the
local stack's bucket and deleted afterwards. Other tests may write results of other tenants
to the same tables, so every assertion looks at our tenants only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

from analyses.results import result_datasets, result_key, result_tables, write_results
from analyses.runner import execute, load_inputs
from core.analysis import analysis
from core.models import Run, RunStatus
from core.settings import settings
from ingest.schemas import CURATED_DATASETS
from local.sql import LakeSql

pytestmark = pytest.mark.functional

DOC = Path(__file__).resolve().parents[2] / "docs" / "SQL.md"
ALPHA, BETA = "rsqlt-alpha", "rsqlt-beta"
TENANTS = (ALPHA, BETA)
DAY = date(2024, 12, 2)


def _examples() -> dict[str, str]:
    """docs/SQL.md's ```sql blocks by title (first line, ``-- title``)."""
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return {block.splitlines()[0].removeprefix("-- "): block for block in blocks}


def _example(prefix: str) -> str:
    matches = [sql for title, sql in _examples().items() if title.startswith(prefix)]
    assert len(matches) == 1, f"one example titled {prefix!r}… expected, found {len(matches)}"
    return matches[0]


def _returns(seed: int, tickers: tuple[str, ...]) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    out = {}
    for i, ticker in enumerate(tickers):
        noise = rng.normal(0.0, 0.01 * (i + 1), 60)
        out[ticker] = [float(x) for x in noise - noise.mean() + 0.0004 * (i + 1)]
    return out


# ------------------------------------------------------------------ the test data
@dataclass
class Written:
    """What the module wrote: each run, its tables, and every key (deleted afterwards)."""

    runs: dict[str, tuple[Run, str, dict[str, pa.Table]]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)

    def table(self, run_id: str, dataset: str) -> pa.Table:
        return self.runs[run_id][2][dataset]


@dataclass(frozen=True)
class _Spec:
    run_id: str
    tenant: str
    portfolio_id: str | None
    run_type: str
    body: dict[str, Any]
    created: datetime
    as_of: date | None = None
    status: RunStatus = RunStatus.SUCCEEDED


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _specs() -> list[_Spec]:
    abc, xy = ("RSA", "RSB", "RSC"), ("RSX", "RSY")
    sim = {"nPaths": 200, "seed": 11}
    return [
        # alpha / p-rsqlt-1: two risk-parity runs (the later one is the latest), an HRP run,
        # then a failed HRP run (indexed, no weights), a frontier and four simulations.
        _Spec(
            "r-rsqlt-rp-old",
            ALPHA,
            "p-rsqlt-1",
            "risk-parity",
            {"returns": _returns(1, abc)},
            _at(DAY, 9),
        ),
        _Spec(
            "r-rsqlt-rp-new",
            ALPHA,
            "p-rsqlt-1",
            "risk-parity",
            {"returns": _returns(2, abc)},
            _at(DAY + timedelta(days=1), 9),
        ),
        _Spec(
            "r-rsqlt-hrp",
            ALPHA,
            "p-rsqlt-1",
            "hrp",
            {"returns": _returns(3, abc)},
            _at(DAY, 10),
        ),
        _Spec(
            "r-rsqlt-hrp-failed",
            ALPHA,
            "p-rsqlt-1",
            "hrp",
            {"returns": _returns(4, abc)},
            _at(DAY + timedelta(days=3), 10),
            status=RunStatus.FAILED,
        ),
        _Spec(
            "r-rsqlt-frontier",
            ALPHA,
            "p-rsqlt-1",
            "efficient-frontier",
            {"returns": _returns(5, abc), "nPoints": 7},
            _at(DAY, 11),
        ),
        _Spec(
            "r-rsqlt-sim-1",
            ALPHA,
            "p-rsqlt-1",
            "simulate",
            {"returns": _returns(6, abc), "horizonDays": 20, **sim},
            _at(DAY, 12),
            as_of=date(2024, 11, 29),
        ),
        _Spec(
            "r-rsqlt-sim-2",
            ALPHA,
            "p-rsqlt-1",
            "simulate",
            {"returns": _returns(7, abc), "horizonDays": 20, **sim},
            _at(DAY, 13),
            as_of=DAY,
        ),
        _Spec(
            "r-rsqlt-sim-3",
            ALPHA,
            "p-rsqlt-1",
            "simulate",  # same as_of, later
            {"returns": _returns(8, abc), "horizonDays": 20, "keepPaths": True, **sim},
            _at(DAY, 14),
            as_of=DAY,
        ),
        _Spec(
            "r-rsqlt-sim-4",
            ALPHA,
            "p-rsqlt-1",
            "simulate",
            {"returns": _returns(9, abc), "horizonDays": 20, **sim},
            _at(DAY + timedelta(days=1), 8),
            as_of=DAY + timedelta(days=1),
        ),
        # analyze and inline (no portfolio) runs: not a portfolio's VaR or weights.
        _Spec(
            "r-rsqlt-analyze",
            ALPHA,
            "p-rsqlt-1",
            "analyze",
            {"paths": [[1.0, 0.9, 0.8], [1.0, 1.1, 1.2]]},
            _at(DAY, 15),
        ),
        _Spec(
            "r-rsqlt-inline",
            ALPHA,
            None,
            "risk-parity",
            {"returns": _returns(10, abc)},
            _at(DAY + timedelta(days=2), 9),
        ),
        # beta / p-rsqlt-2: another tenant, another horizon.
        _Spec(
            "r-rsqlt-beta-rp",
            BETA,
            "p-rsqlt-2",
            "risk-parity",
            {"returns": _returns(11, xy)},
            _at(DAY, 9),
        ),
        _Spec(
            "r-rsqlt-beta-sim",
            BETA,
            "p-rsqlt-2",
            "simulate",
            {"returns": _returns(12, xy), "horizonDays": 10, **sim},
            _at(DAY, 16),
            as_of=DAY,
        ),
        # Backtests: alpha's portfolio twice (the later is its latest), an inline one (no
        # portfolio) and beta's portfolio, on 60 rows: 20-row train windows, 10-row tests.
        _Spec(
            "r-rsqlt-bt-old",
            ALPHA,
            "p-rsqlt-1",
            "backtest",
            {"returns": _returns(14, abc), **BACKTEST},
            _at(DAY, 17),
        ),
        _Spec(
            "r-rsqlt-bt-new",
            ALPHA,
            "p-rsqlt-1",
            "backtest",
            {"returns": _returns(15, abc), **BACKTEST, "benchmark": "RSA"},
            _at(DAY + timedelta(days=1), 17),
        ),
        _Spec(
            "r-rsqlt-bt-inline",
            ALPHA,
            None,
            "backtest",
            {"returns": _returns(16, abc), **BACKTEST},
            _at(DAY, 18),
        ),
        _Spec(
            "r-rsqlt-bt-beta",
            BETA,
            "p-rsqlt-2",
            "backtest",
            {"returns": _returns(17, xy), **BACKTEST, "costsBps": 25},
            _at(DAY, 17),
        ),
    ]


BACKTEST: dict[str, Any] = {
    "trainDays": 20,
    "rebalance": 10,
    "strategies": ["equal-weight", "inverse-volatility", "min-variance"],
}

PARTIAL = _Spec(
    "r-rsqlt-partial",
    BETA,
    "p-rsqlt-3",
    "hrp",
    {"returns": _returns(13, ("RSX", "RSY"))},
    _at(DAY + timedelta(days=1), 7),
)


def _run(spec: _Spec) -> tuple[Run, BaseModel]:
    entry = analysis(spec.run_type)
    request = entry.request.model_validate(spec.body)
    inputs = load_inputs(request, None, "unused") if entry.reads_returns else None
    result = execute(entry, request, inputs)
    run = Run(
        id=spec.run_id,
        portfolio_id=spec.portfolio_id,
        type=spec.run_type,
        parameters={},
        status=spec.status,
        data_window=inputs.window if inputs else None,
        created_at=spec.created,
        finished_at=spec.created + timedelta(seconds=2),
    )
    return run, result


@pytest.fixture(scope="module")
def written(local_stack: Any) -> Iterator[Written]:
    s3, bucket = local_stack.client("s3"), local_stack.bucket
    out = Written()
    for spec in _specs():
        run, result = _run(spec)
        out.keys += write_results(run, spec.tenant, result, bucket=bucket, s3=s3, as_of=spec.as_of)
        tables = result_tables(run, spec.tenant, result, spec.as_of)
        out.runs[run.id] = (run, spec.tenant, tables)
    # A run whose attempt stopped after its weights: no run_index row.
    run, result = _run(PARTIAL)
    weights = result_tables(run, PARTIAL.tenant, result)["optimization_weights"]
    key = result_key("optimization_weights", PARTIAL.created.date(), PARTIAL.tenant, run.id)
    sink = pa.BufferOutputStream()
    pq.write_table(weights, sink, compression="zstd")
    s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue().to_pybytes())
    out.keys.append(key)
    yield out
    for key in out.keys:
        s3.delete_object(Bucket=bucket, Key=key)


@pytest.fixture(scope="module")
def lake(local_stack: Any, written: Written) -> Iterator[LakeSql]:
    engine = LakeSql(local_stack.session, settings().glue_database, local_stack.endpoint_url)
    yield engine
    engine.close()


def _ours(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["tenant"] in TENANTS]


def _for(sql: str, tenant: str, run_id: str, day: date = DAY) -> str:
    """An example with its placeholder tenant, run id and run_date replaced by ours."""
    sql = sql.replace("'acme'", f"'{tenant}'")
    sql = re.sub(r"'r-example[\w-]*'", f"'{run_id}'", sql)
    return sql.replace("run_date = '2024-12-02'", f"run_date = '{day.isoformat()}'")


# ------------------------------------------------------------------ catalog and layout
def test_local_glue_tables_equal_the_templates(local_stack: Any) -> None:
    """Provisioning creates every table the template declares, curated ones included, as
    declared: nothing is registered at run time."""
    glue = local_stack.client("glue")
    database = settings().glue_database
    declared = {
        props["TableInput"]["Name"]: props["TableInput"]
        for props in local_stack.template.resources_of("AWS::Glue::Table").values()
    }
    expected: dict[str, tuple[str, list[tuple[str, str]], list[dict[str, str]]]] = {
        name: (dataset.prefix, dataset.glue_columns(), [{"Name": "run_date", "Type": "string"}])
        for name, dataset in result_datasets().items()
    }
    expected |= {
        dataset.table: (dataset.prefix, dataset.glue_columns(), [{"Name": "year", "Type": "int"}])
        for dataset in CURATED_DATASETS
    }
    assert sorted(declared) == sorted(expected)
    for name, table_input in declared.items():
        prefix, columns, partition_keys = expected[name]
        table = glue.get_table(DatabaseName=database, Name=name)["Table"]
        storage = table["StorageDescriptor"]
        assert storage["Location"] == f"s3://{local_stack.bucket}/{prefix}"
        assert storage["Columns"] == table_input["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == columns
        assert table["PartitionKeys"] == partition_keys
        assert table["Parameters"] == table_input["Parameters"]
        assert storage["SerdeInfo"] == table_input["StorageDescriptor"]["SerdeInfo"]


def test_objects_are_one_per_run_and_dataset_index_last(local_stack: Any, written: Written) -> None:
    s3 = local_stack.client("s3")
    run, tenant, tables = written.runs["r-rsqlt-sim-3"]
    keys = [result_key(name, DAY, tenant, run.id) for name in tables]
    assert keys[-1] == f"results/run_index/run_date=2024-12-02/{ALPHA}-r-rsqlt-sim-3.parquet"
    for key in keys:
        assert s3.head_object(Bucket=local_stack.bucket, Key=key)["ContentLength"] > 0


def test_the_tables_read_back_through_sql(lake: LakeSql, written: Written) -> None:
    run_index = _ours(lake.query("SELECT * FROM run_index").to_pylist())
    assert {row["run_id"] for row in run_index} == set(written.runs)
    row = next(r for r in run_index if r["run_id"] == "r-rsqlt-rp-new")
    assert row["run_date"] == "2024-12-03"
    assert row["as_of"] == date(2024, 12, 3)  # inline returns: the run's day
    assert row["created_at"] == datetime(2024, 12, 3, 9)  # Athena's timestamp: naive UTC
    assert (row["status"], row["tickers"], row["observations"]) == ("succeeded", 3, 60)
    paths = lake.query(
        f"SELECT count(*) AS n, max(path) AS last_path, max(day) AS last_day "
        f"FROM simulation_paths WHERE tenant = '{ALPHA}' AND run_date = '2024-12-02'"
    ).to_pylist()
    assert paths == [{"n": 200 * 21, "last_path": 199, "last_day": 20}]


# ------------------------------------------------------------------ docs/SQL.md's examples
def test_the_doc_has_the_results_examples_the_issue_asks_for() -> None:
    for prefix in (
        "Latest weights per portfolio",
        "VaR (95 %) of every portfolio over time",
        "Frontier of one run",
        "Fan chart of one simulation",
        "Runs with partial results",
    ):
        assert ";" not in _example(prefix)


def test_best_sharpe_per_portfolio_over_the_last_year(lake: LakeSql, written: Written) -> None:
    rows = _ours(lake.query(_example("Best Sharpe per portfolio")).to_pylist())
    expected = []
    for tenant, portfolio, run_id in (
        (ALPHA, "p-rsqlt-1", "r-rsqlt-bt-new"),  # not the older run, not the inline one
        (BETA, "p-rsqlt-2", "r-rsqlt-bt-beta"),
    ):
        returns = written.table(run_id, "backtest_returns").to_pylist()
        sharpe = {}
        for strategy in {r["strategy"] for r in returns} - {"benchmark"}:
            days = sorted((r for r in returns if r["strategy"] == strategy), key=lambda r: r["day"])
            last = np.array([r["return"] for r in days[-252:]])
            sharpe[strategy] = last.mean() / last.std(ddof=1) * np.sqrt(252)
        best = max(sharpe, key=lambda k: sharpe[k])
        expected.append((tenant, portfolio, best, sharpe[best]))
    assert [(r["tenant"], r["portfolio_id"], r["best_strategy"]) for r in rows] == [
        e[:3] for e in expected
    ]
    assert [r["best_sharpe"] for r in rows] == pytest.approx([e[3] for e in expected], rel=1e-9)
    # The benchmark (RSA's own returns) is never a strategy.
    assert all(r["best_strategy"] != "benchmark" for r in rows)


def test_turnover_cost_by_strategy(lake: LakeSql, written: Written) -> None:
    rows = _ours(lake.query(_example("Turnover cost by strategy")).to_pylist())
    totals: dict[tuple[str, str], list[float]] = {}
    runs = ("r-rsqlt-bt-old", "r-rsqlt-bt-new", "r-rsqlt-bt-inline", "r-rsqlt-bt-beta")
    for run_id in runs:
        tenant = written.runs[run_id][1]
        weights = written.table(run_id, "backtest_weights").to_pylist()
        seen = {(w["strategy"], w["rebalance_day"]): w for w in weights}
        for (strategy, _), w in seen.items():
            total = totals.setdefault((tenant, strategy), [0.0, 0.0, 0.0])
            total[0] += 1
            total[1] += w["turnover"]
            total[2] += w["cost"]
    got = {(r["tenant"], r["strategy"]): r for r in rows}
    assert set(got) == set(totals)
    for key, (count, turnover, cost) in totals.items():
        assert got[key]["rebalances"] == count
        assert got[key]["turnover"] == pytest.approx(turnover, rel=1e-12)
        assert got[key]["costs"] == pytest.approx(cost, rel=1e-12)
        assert got[key]["costs"] > 0  # the first rebalance buys in from cash
    # 25 bp for beta, 10 bp for alpha: costs are turnover × rate.
    assert got[(BETA, "equal-weight")]["cost_per_unit_turnover"] == pytest.approx(25e-4)
    assert got[(ALPHA, "min-variance")]["cost_per_unit_turnover"] == pytest.approx(10e-4)
    assert got[(ALPHA, "equal-weight")]["runs"] == 3


def test_backtest_metrics_side_by_side(lake: LakeSql, written: Written) -> None:
    sql = _for(_example("Backtest metrics side by side"), ALPHA, "r-rsqlt-bt-new")
    rows = {r["strategy"]: r for r in lake.query(sql).to_pylist()}
    metrics = written.table("r-rsqlt-bt-new", "backtest_metrics").to_pylist()
    assert set(rows) == {"equal-weight", "inverse-volatility", "min-variance", "benchmark"}
    for m in metrics:
        if m["metric"] in {"cagr", "volatility", "sharpe", "max_drawdown"}:
            assert rows[m["strategy"]][m["metric"]] == m["value"]
    assert rows["benchmark"]["information_ratio"] is None  # not against itself
    assert rows["equal-weight"]["information_ratio"] is not None


def test_latest_weights_per_portfolio(lake: LakeSql, written: Written) -> None:
    rows = _ours(lake.query(_example("Latest weights per portfolio")).to_pylist())
    latest = {
        (ALPHA, "p-rsqlt-1", "risk-parity"): "r-rsqlt-rp-new",
        (ALPHA, "p-rsqlt-1", "hrp"): "r-rsqlt-hrp",  # the later HRP run failed
        (ALPHA, "p-rsqlt-1", "efficient-frontier"): "r-rsqlt-frontier",
        (BETA, "p-rsqlt-2", "risk-parity"): "r-rsqlt-beta-rp",
    }  # not: the inline run (no portfolio), the partial run (no run_index), simulations
    expected = []
    for (tenant, portfolio, run_type), run_id in sorted(latest.items()):
        weights = written.table(run_id, "optimization_weights").to_pylist()
        for weight in sorted(weights, key=lambda w: w["asset"]):
            expected.append(
                {
                    "tenant": tenant,
                    "portfolio_id": portfolio,
                    "run_type": run_type,
                    "run_id": run_id,
                    "as_of": weight["as_of"],
                    "asset": weight["asset"],
                    "weight": weight["weight"],
                    "risk_contribution": weight["risk_contribution"],
                }
            )
    assert rows == expected
    assert all(
        row["risk_contribution"] is not None for row in rows if row["run_type"] == "risk-parity"
    )


def test_var_of_every_portfolio_over_time(lake: LakeSql, written: Written) -> None:
    rows = _ours(lake.query(_example("VaR (95 %)")).to_pylist())

    def stats(run_id: str) -> dict[str, Any]:
        [row] = written.table(run_id, "simulation_stats").to_pylist()
        return row

    def point(run_id: str, simulations: int) -> dict[str, Any]:
        row = stats(run_id)
        keys = ("tenant", "portfolio_id", "horizon_days", "as_of", "var_95", "cvar_95")
        return {**{key: row[key] for key in keys}, "simulations": simulations}

    assert rows == [
        point("r-rsqlt-sim-1", 1),  # alpha, 20 days, as of 2024-11-29
        point("r-rsqlt-sim-3", 2),  # alpha, 20 days, as of 2024-12-02: the later of two
        point("r-rsqlt-sim-4", 1),  # alpha, 20 days, as of 2024-12-03
        point("r-rsqlt-beta-sim", 1),  # beta, 10 days
    ]
    assert [row["as_of"] for row in rows] == [
        date(2024, 11, 29),
        DAY,
        date(2024, 12, 3),
        DAY,
    ]
    assert stats("r-rsqlt-sim-3")["var_95"] != stats("r-rsqlt-sim-2")["var_95"]


def test_frontier_of_one_run(lake: LakeSql, written: Written) -> None:
    rows = lake.query(_for(_example("Frontier of one run"), ALPHA, "r-rsqlt-frontier")).to_pylist()
    frontier = written.table("r-rsqlt-frontier", "frontier_points").to_pylist()
    assert [row["point"] for row in rows] == list(range(7))
    for row in rows:
        weights = [f for f in frontier if f["point"] == row["point"]]
        top = max(weights, key=lambda f: f["weight"])
        assert row == {
            "point": row["point"],
            "expected_return": top["expected_return"],
            "volatility": top["volatility"],
            "sharpe": top["sharpe"],
            "top_asset": top["asset"],
            "top_weight": top["weight"],
        }
    volatilities = [row["volatility"] for row in rows]
    assert volatilities[0] == min(volatilities)  # from the minimum-variance end
    # Another tenant's filter finds nothing of this run.
    other = lake.query(_for(_example("Frontier of one run"), BETA, "r-rsqlt-frontier"))
    assert other.num_rows == 0


def test_fan_chart_of_one_simulation(lake: LakeSql, written: Written) -> None:
    sql = _for(_example("Fan chart of one simulation"), ALPHA, "r-rsqlt-sim-3")
    rows = lake.query(sql).to_pylist()
    bands = written.table("r-rsqlt-sim-3", "simulation_bands").to_pylist()
    assert len(rows) == 21
    for row in rows:
        for level in (5, 25, 50, 75, 95):
            [band] = [b for b in bands if b["day"] == row["day"] and b["level"] == level]
            assert row[f"p{level}"] == band["value"]
    assert rows[0]["p5"] == rows[0]["p95"] == 1.0  # every path starts at the initial value
    assert all(row["p5"] <= row["p50"] <= row["p95"] for row in rows)


def test_runs_with_partial_results(lake: LakeSql, written: Written) -> None:
    rows = _ours(lake.query(_example("Runs with partial results")).to_pylist())
    assert rows == [
        {"run_date": "2024-12-03", "tenant": BETA, "run_id": "r-rsqlt-partial", "weight_rows": 2}
    ]


def test_stratigos_sql_runs_the_frontier_example(
    local_stack: Any,
    lake: LakeSql,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same example through the command (`stratigos sql`), which finds the stack by its
    state file in the working directory."""
    from local.sql import main

    state = tmp_path / ".stratigos" / "local.json"
    state.parent.mkdir()
    state.write_text(json.dumps(asdict(local_stack.state())))
    monkeypatch.chdir(tmp_path)
    sql = _for(_example("Frontier of one run"), ALPHA, "r-rsqlt-frontier")
    assert main([sql, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == lake.query(sql).to_pylist()  # numbers and text: JSON keeps them
    assert len(printed) == 7
