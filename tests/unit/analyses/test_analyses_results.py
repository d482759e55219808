"""analyses.results: a run's results as the lake's Parquet tables, from real runner outputs."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, ValidationError

from analyses.results import (
    RUN_INDEX,
    arrow_schema,
    athena_type,
    result_datasets,
    result_key,
    result_tables,
    run_date,
    write_results,
)
from analyses.runner import Inputs, execute, load_inputs
from core.analysis import analysis
from core.models import DataWindow, Run, RunStatus
from stack import Template

TICKERS = ("AAA", "BBB", "CCC")
CREATED = datetime(2024, 12, 2, 23, 59, 58, 123456, tzinfo=UTC)
FINISHED = datetime(2024, 12, 3, 0, 0, 1, 987654, tzinfo=UTC)
RUN_KEYS = ("run_id", "tenant", "portfolio_id")
_TYPES = (
    "risk-parity",
    "hrp",
    "efficient-frontier",
    "simulate",
    "analyze",
    "backtest",
    "cvar-frontier",
    "min-cdar",
)


def _returns() -> dict[str, list[float]]:
    """80 days of three assets with positive mean returns (so a max-Sharpe point exists)."""
    rng = np.random.default_rng(7)
    returns = {}
    for i, ticker in enumerate(TICKERS):
        noise = rng.normal(0.0, 0.01 * (i + 1), 80)
        returns[ticker] = [float(x) for x in noise - noise.mean() + 0.0005 * (i + 1)]
    return returns


def _run_of(
    run_type: str,
    body: dict[str, Any],
    *,
    portfolio_id: str | None = "p-1",
) -> tuple[Run, BaseModel]:
    """A succeeded run of ``run_type`` on inline returns, and what execute() returned (the
    analysis's typed result)."""
    entry = analysis(run_type)
    request = entry.request.model_validate(body)
    inputs: Inputs | None = None
    if entry.reads_returns:
        inputs = load_inputs(request, None, "unused-bucket")
    result = execute(entry, request, inputs)
    assert type(result) is entry.result
    run = Run(
        id=f"r-{run_type}",
        portfolio_id=portfolio_id,
        type=run_type,
        parameters={},
        status=RunStatus.SUCCEEDED,
        data_window=inputs.window if inputs else None,
        created_at=CREATED,
        finished_at=FINISHED,
    )
    return run, result


def _wire(result: BaseModel) -> dict[str, Any]:
    """The result as the API answers it (camelCase), the shape the assertions read."""
    wire: dict[str, Any] = result.model_dump(mode="json", by_alias=True)
    return wire


def _column(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist()


def _weights(table: pa.Table) -> dict[str, float]:
    return dict(zip(_column(table, "asset"), _column(table, "weight"), strict=True))


def _check_common(tables: dict[str, pa.Table], run: Run, as_of: date) -> None:
    """Schemas as declared; every row names the run; run_index last."""
    assert list(tables)[-1] == "run_index"
    datasets = result_datasets()
    order = list(datasets)
    assert list(tables) == sorted(tables, key=order.index)
    for name, table in tables.items():
        assert table.schema == datasets[name].schema, name
        assert _column(table, "run_id") == [run.id] * table.num_rows
        assert _column(table, "tenant") == ["acme"] * table.num_rows
        assert _column(table, "portfolio_id") == [run.portfolio_id] * table.num_rows
        if "as_of" in table.column_names:
            assert _column(table, "as_of") == [as_of] * table.num_rows
            created = datetime(2024, 12, 2, 23, 59, 58, 123000, tzinfo=UTC)
            assert _column(table, "created_at") == [created] * table.num_rows
        if "run_type" in table.column_names:
            assert _column(table, "run_type") == [str(run.type)] * table.num_rows


# ------------------------------------------------------------------ per run type
def test_risk_parity_weights_and_risk_contributions() -> None:
    run, result = _run_of("risk-parity", {"returns": _returns()})
    wire = _wire(result)
    tables = result_tables(run, "acme", result)
    assert set(tables) == {"optimization_weights", "run_index"}
    _check_common(tables, run, date(2024, 12, 2))  # inline returns: as of the run's day
    weights = tables["optimization_weights"]
    assert weights.num_rows == len(TICKERS)
    assert _column(weights, "asset") == list(TICKERS)
    assert _column(weights, "weight") == [wire["weights"][t] for t in TICKERS]
    assert _column(weights, "risk_contribution") == [wire["riskContributions"][t] for t in TICKERS]
    assert sum(_column(weights, "weight")) == pytest.approx(1.0)


def test_hrp_weights_have_no_risk_contribution() -> None:
    run, result = _run_of("hrp", {"returns": _returns(), "linkage": "ward"})
    wire = _wire(result)
    tables = result_tables(run, "acme", result)
    assert set(tables) == {"optimization_weights", "run_index"}
    _check_common(tables, run, date(2024, 12, 2))
    weights = tables["optimization_weights"]
    assert _weights(weights) == wire["weights"]
    assert _column(weights, "risk_contribution") == [None] * len(TICKERS)


def test_efficient_frontier_points_long_form_and_max_sharpe_weights() -> None:
    run, result = _run_of("efficient-frontier", {"returns": _returns(), "nPoints": 6})
    wire = _wire(result)
    tables = result_tables(run, "acme", result, as_of=date(2024, 11, 29))
    assert set(tables) == {"optimization_weights", "frontier_points", "run_index"}
    _check_common(tables, run, date(2024, 11, 29))  # as_of given wins
    weights = tables["optimization_weights"]
    assert _weights(weights) == wire["maxSharpe"]["weights"]
    frontier = tables["frontier_points"]
    assert frontier.num_rows == 6 * len(TICKERS)
    assert _column(frontier, "point") == [p for p in range(6) for _ in TICKERS]
    assert _column(frontier, "asset") == list(TICKERS) * 6
    rows = frontier.to_pylist()
    for row in rows:
        point = wire["points"][row["point"]]
        assert row["expected_return"] == point["expectedReturn"]
        assert row["volatility"] == point["volatility"]
        assert row["sharpe"] == point["sharpe"]
        assert row["weight"] == point["weights"][row["asset"]]


def test_simulate_with_kept_paths() -> None:
    body = {"returns": _returns(), "nPaths": 120, "horizonDays": 15, "seed": 3, "keepPaths": True}
    run, result = _run_of("simulate", body)
    wire = _wire(result)
    tables = result_tables(run, "acme", result)
    assert list(tables) == [
        "optimization_weights",
        "simulation_stats",
        "simulation_bands",
        "simulation_paths",
        "run_index",
    ]
    _check_common(tables, run, date(2024, 12, 2))
    stats = wire["statistics"]
    assert _column(tables["optimization_weights"], "weight") == [
        wire["weights"][t] for t in TICKERS
    ]
    [row] = tables["simulation_stats"].to_pylist()
    assert (row["n_paths"], row["horizon_days"], row["method"]) == (120, 15, "gbm")
    assert row["initial_value"] == 1.0
    assert row["terminal_mean"] == stats["terminalMean"]
    assert row["terminal_median"] == stats["terminalMedian"]
    for level in (1, 5, 25, 50, 75, 95, 99):
        assert row[f"terminal_p{level}"] == stats["terminalPercentiles"][str(level)]
    assert (row["var_95"], row["cvar_95"]) == (stats["var95"], stats["cvar95"])
    assert (row["var_99"], row["cvar_99"]) == (stats["var99"], stats["cvar99"])
    assert row["prob_loss"] == stats["probLoss"]
    assert row["max_drawdown_mean"] == stats["maxDrawdownMean"]
    assert row["max_drawdown_p50"] == stats["maxDrawdownPercentiles"]["50"]
    assert row["max_drawdown_p95"] == stats["maxDrawdownPercentiles"]["95"]

    bands = tables["simulation_bands"]
    levels = stats["bandLevels"]
    assert bands.num_rows == len(levels) * 16
    for row in bands.to_pylist():
        index = levels.index(row["level"])
        assert row["value"] == stats["bands"][index][row["day"]]
    assert sorted(set(_column(bands, "level"))) == [5.0, 25.0, 50.0, 75.0, 95.0]

    paths = tables["simulation_paths"]
    assert paths.num_rows == 120 * 16
    values = np.asarray(wire["trajectories"])
    rows = paths.to_pylist()
    assert all(row["value"] == values[row["path"], row["day"]] for row in rows)
    assert {(row["path"], row["day"]) for row in rows} == {
        (p, d) for p in range(120) for d in range(16)
    }


def test_simulate_without_kept_paths_has_no_paths_table() -> None:
    body = {"returns": _returns(), "nPaths": 100, "horizonDays": 5, "seed": 1}
    run, result = _run_of("simulate", body)
    assert "simulation_paths" not in result_tables(run, "acme", result)


def test_analyze_stats_and_bands_without_weights() -> None:
    paths = [[1.0, 1.1, 1.2, 1.15], [1.0, 0.9, 0.95, 0.8], [1.0, 1.0, 1.05, 1.1]]
    run, result = _run_of("analyze", {"paths": paths}, portfolio_id=None)
    tables = result_tables(run, "acme", result)
    assert list(tables) == ["simulation_stats", "simulation_bands", "run_index"]
    _check_common(tables, run, date(2024, 12, 2))
    [row] = tables["simulation_stats"].to_pylist()
    assert (row["n_paths"], row["horizon_days"], row["method"]) == (3, 3, "given")
    assert row["prob_loss"] == pytest.approx(1 / 3)
    assert tables["simulation_bands"].num_rows == 5 * 4
    [index] = tables["run_index"].to_pylist()
    assert index["observations"] is None
    assert index["tickers"] is None


@pytest.mark.parametrize(
    ("run_type", "body"),
    [
        ("risk-parity", {"returns": _returns()}),
        ("hrp", {"returns": _returns()}),
        ("efficient-frontier", {"returns": _returns(), "nPoints": 4}),
        ("simulate", {"returns": _returns(), "nPaths": 100, "horizonDays": 4, "keepPaths": True}),
        ("analyze", {"paths": [[1.0, 1.1, 1.2], [1.0, 0.9, 0.95]]}),
    ],
)
def test_the_camel_case_dict_of_a_result_writes_the_same_tables(
    run_type: str, body: dict[str, Any]
) -> None:
    # The run item keeps the result as the API answers it; a rewrite from it must match.
    run, result = _run_of(run_type, body)
    typed = result_tables(run, "acme", result)
    from_dict = result_tables(run, "acme", _wire(result))
    assert list(from_dict) == list(typed)
    for name, table in typed.items():
        assert from_dict[name].equals(table), name


def test_run_index_is_the_last_dataset_with_its_declared_schema() -> None:
    datasets = result_datasets()
    assert list(datasets)[-1] == RUN_INDEX.name == "run_index"
    assert datasets["run_index"].schema == arrow_schema(RUN_INDEX)
    declared = {t.name for entry in (analysis(n) for n in _TYPES) for t in entry.tables}
    assert set(datasets) == declared | {"run_index"}


# ------------------------------------------------------------------ run_index, as_of, errors
def test_run_index_row_from_a_lake_window() -> None:
    run, result = _run_of("hrp", {"returns": _returns()})
    window = DataWindow(
        source="lake",
        tickers=list(TICKERS),
        observations=80,
        start=date(2024, 8, 1),
        end=date(2024, 11, 29),
    )
    run = run.model_copy(update={"data_window": window})
    tables = result_tables(run, "acme", result, data_version="v-42")
    _check_common(tables, run, date(2024, 11, 29))  # lake data: as of the window's end
    [row] = tables["run_index"].to_pylist()
    assert row == {
        "run_id": "r-hrp",
        "tenant": "acme",
        "portfolio_id": "p-1",
        "run_type": "hrp",
        "status": "succeeded",
        "as_of": date(2024, 11, 29),
        "created_at": datetime(2024, 12, 2, 23, 59, 58, 123000, tzinfo=UTC),
        "finished_at": datetime(2024, 12, 3, 0, 0, 1, 987000, tzinfo=UTC),
        "data_start": date(2024, 8, 1),
        "data_end": date(2024, 11, 29),
        "observations": 80,
        "tickers": 3,
        "data_version": "v-42",
    }


def test_a_failed_run_is_indexed_only_and_an_unfinished_one_refused() -> None:
    run, result = _run_of("risk-parity", {"returns": _returns()})
    failed = run.model_copy(update={"status": RunStatus.FAILED})
    tables = result_tables(failed, "acme", {})
    assert list(tables) == ["run_index"]
    assert _column(tables["run_index"], "status") == ["failed"]
    for status in (RunStatus.QUEUED, RunStatus.RUNNING):
        with pytest.raises(ValueError, match="finished"):
            result_tables(run.model_copy(update={"status": status}), "acme", result)


def test_a_result_missing_its_keys_is_an_error() -> None:
    run, _ = _run_of("risk-parity", {"returns": _returns()})
    # A camelCase dict is validated against the analysis's result model first.
    with pytest.raises(ValidationError, match="riskContributions"):
        result_tables(run, "acme", {"weights": {"AAA": 1.0}})


def test_naive_timestamps_are_utc_and_the_partition_is_the_utc_day() -> None:
    run, result = _run_of("hrp", {"returns": _returns()})
    naive = run.model_copy(update={"created_at": CREATED.replace(tzinfo=None)})
    assert run_date(naive) == run_date(run) == date(2024, 12, 2)
    assert result_tables(naive, "acme", result)["run_index"].equals(
        result_tables(run, "acme", result)["run_index"]
    )


def test_result_key() -> None:
    key = result_key("run_index", date(2024, 12, 2), "acme", "r-1")
    assert key == "results/run_index/run_date=2024-12-02/acme-r-1.parquet"
    with pytest.raises(ValueError, match="unknown"):
        result_key("runs", date(2024, 12, 2), "acme", "r-1")
    for tenant, run_id in (("a/b", "r-1"), ("acme", ""), ("..", "r-1")):
        with pytest.raises(ValueError, match="cannot name"):
            result_key("run_index", date(2024, 12, 2), tenant, run_id)


# ------------------------------------------------------------------ writing
class _RecordingS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts: list[str] = []

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        assert Bucket == "data-bucket"
        assert ContentType == "application/vnd.apache.parquet"
        self.objects[Key] = Body
        self.puts.append(Key)


def test_write_results_writes_zstd_parquet_index_last_and_a_retry_overwrites() -> None:
    body = {"returns": _returns(), "nPaths": 100, "horizonDays": 5, "seed": 1}
    run, result = _run_of("simulate", body)
    s3 = _RecordingS3()
    keys = write_results(run, "acme", result, bucket="data-bucket", s3=s3)
    expected = [
        f"results/{name}/run_date=2024-12-02/acme-r-simulate.parquet"
        for name in ("optimization_weights", "simulation_stats", "simulation_bands", "run_index")
    ]
    assert keys == s3.puts == expected
    tables = result_tables(run, "acme", result)
    for key, (name, table) in zip(keys, tables.items(), strict=True):
        parquet = pq.ParquetFile(io.BytesIO(s3.objects[key]))
        assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
        assert parquet.read().equals(table), name
    # A retried run writes the same keys again: overwritten, never duplicated.
    again = write_results(run, "acme", result, bucket="data-bucket", s3=s3)
    assert again == keys
    assert len(s3.objects) == len(keys)


# ------------------------------------------------------------------ the Glue tables
def test_athena_types() -> None:
    assert athena_type(pa.date32()) == "date"
    assert athena_type(pa.timestamp("ms", tz="UTC")) == "timestamp"
    assert athena_type(pa.string()) == "string"
    assert athena_type(pa.float64()) == "double"
    assert athena_type(pa.int64()) == "bigint"
    with pytest.raises(TypeError):
        athena_type(pa.int8())


def test_the_template_declares_one_glue_table_per_dataset() -> None:
    template = Template.load()
    bucket = template.physical_name("DataBucket")
    database = template.physical_name("LakeDatabase")
    tables = {
        props["TableInput"]["Name"]: props
        for props in template.resources_of("AWS::Glue::Table").values()
    }
    # The curated tables are there too (tests/unit/platform/test_glue_tables.py).
    datasets = result_datasets()
    assert set(datasets) <= set(tables)
    for name, dataset in datasets.items():
        props = tables[name]
        assert props["DatabaseName"] == database
        table = props["TableInput"]
        assert table["Description"] == dataset.description
        assert table["TableType"] == "EXTERNAL_TABLE"
        storage = table["StorageDescriptor"]
        assert storage["Location"] == f"s3://{bucket}/{dataset.prefix}"
        assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == dataset.glue_columns()
        assert table["PartitionKeys"] == [{"Name": "run_date", "Type": "string"}]
        assert "parquet" in storage["SerdeInfo"]["SerializationLibrary"].lower()
        parameters = table["Parameters"]
        assert parameters["classification"] == "parquet"
        assert parameters["projection.enabled"] == "true"
        assert parameters["projection.run_date.type"] == "date"
        assert parameters["projection.run_date.format"] == "yyyy-MM-dd"
        # ${!run_date} is Fn::Sub's escape: Athena gets the literal ${run_date}.
        assert parameters["storage.location.template"] == (
            f"s3://{bucket}/{dataset.prefix}run_date=${{run_date}}/"
        )
        # The writer's keys are under the location, in the projected partition's folder.
        key = result_key(name, date(2024, 12, 2), "acme", "r-1")
        folder = parameters["storage.location.template"].replace("${run_date}", "2024-12-02")
        assert f"s3://{bucket}/{key}".startswith(folder)
