"""A run's full results as Parquet datasets in the lake (Glue tables for Athena and DuckDB).

The run item in DynamoDB keeps the status and a summary; the full results are written here,
one object per run per dataset::

    results/<dataset>/run_date=YYYY-MM-DD/<tenant>-<run_id>.parquet

``run_date`` is the run's creation day (UTC), a Hive partition the Glue tables project
(template.yaml declares one table per dataset). The key is deterministic, so a retried run
overwrites its own objects and nothing is ever written twice; each object is one ``PutObject``,
so a reader sees all of a run's rows in a dataset or none. ``run_index`` is written last: it is
the commit marker, and a query that must not see a run half-written joins on it.

An entry-side module (with ``compute.handlers``): it may import core, pyarrow and numpy.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.aws import client as aws_client
from core.lake import RESULTS_PREFIX, athena_type_name
from core.models import Run, RunStatus, RunType

__all__ = [
    "RESULT_DATASETS",
    "ResultDataset",
    "athena_type",
    "result_key",
    "result_tables",
    "run_date",
    "write_results",
]

_DATE = pa.date32()
_TIMESTAMP = pa.timestamp("ms", tz="UTC")
_F64 = pa.float64()
_I64 = pa.int64()
_STR = pa.string()
# Percentiles of SimulationResult kept as columns (terminal value; maximum drawdown).
_TERMINAL_PERCENTILES: Final = (1, 5, 25, 50, 75, 95, 99)
_DRAWDOWN_PERCENTILES: Final = (50, 95)


def _field(name: str, data_type: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, data_type, nullable=nullable)


def _run_fields(*, run_type: bool = True, stamps: bool = True) -> list[pa.Field]:
    """The columns every dataset starts with (who and which run)."""
    fields = [
        _field("run_id", _STR),
        _field("tenant", _STR),
        _field("portfolio_id", _STR, nullable=True),  # null for inline-returns runs
    ]
    if run_type:
        fields.append(_field("run_type", _STR))
    if stamps:
        fields += [_field("as_of", _DATE), _field("created_at", _TIMESTAMP)]
    return fields


@dataclass(frozen=True)
class ResultDataset:
    """One results dataset: its Glue table name, Arrow schema and description.

    ``run_date`` (the partition) is not a column of the files: it is the folder name.
    """

    name: str
    schema: pa.Schema
    description: str

    @property
    def prefix(self) -> str:
        """``results/<name>/``: the Glue table's location under the data bucket."""
        return f"{RESULTS_PREFIX}{self.name}/"

    def glue_columns(self) -> list[tuple[str, str]]:
        """``(name, Athena type)`` of each column, as the Glue table declares them."""
        return [(field.name, athena_type(field.type)) for field in self.schema]


# Write order: run_index last (the commit marker).
RESULT_DATASETS: Final[dict[str, ResultDataset]] = {
    dataset.name: dataset
    for dataset in (
        ResultDataset(
            "optimization_weights",
            pa.schema(
                [
                    *_run_fields(),
                    _field("asset", _STR),
                    _field("weight", _F64),
                    _field("risk_contribution", _F64, nullable=True),
                ]
            ),
            "Run results: weights per asset of risk-parity, HRP, the efficient frontier's "
            "max-Sharpe portfolio and simulated portfolios (long form).",
        ),
        ResultDataset(
            "frontier_points",
            pa.schema(
                [
                    *_run_fields(run_type=False, stamps=False),
                    _field("point", _I64),
                    _field("expected_return", _F64),
                    _field("volatility", _F64),
                    _field("sharpe", _F64),
                    _field("asset", _STR),
                    _field("weight", _F64),
                    _field("as_of", _DATE),
                    _field("created_at", _TIMESTAMP),
                ]
            ),
            "Run results: efficient-frontier points, one row per point and asset.",
        ),
        ResultDataset(
            "simulation_stats",
            pa.schema(
                [
                    *_run_fields(),
                    _field("n_paths", _I64),
                    _field("horizon_days", _I64),
                    _field("method", _STR),
                    _field("initial_value", _F64),
                    _field("terminal_mean", _F64),
                    _field("terminal_median", _F64),
                    *(_field(f"terminal_p{p}", _F64, nullable=True) for p in _TERMINAL_PERCENTILES),
                    _field("var_95", _F64),
                    _field("cvar_95", _F64),
                    _field("var_99", _F64),
                    _field("cvar_99", _F64),
                    _field("prob_loss", _F64),
                    _field("max_drawdown_mean", _F64),
                    *(
                        _field(f"max_drawdown_p{p}", _F64, nullable=True)
                        for p in _DRAWDOWN_PERCENTILES
                    ),
                ]
            ),
            "Run results: Monte Carlo statistics (terminal value, VaR/CVaR, drawdown), "
            "one row per simulate or analyze run.",
        ),
        ResultDataset(
            "simulation_bands",
            pa.schema(
                [
                    *_run_fields(run_type=False, stamps=False),
                    _field("day", _I64),
                    _field("level", _F64),
                    _field("value", _F64),
                    _field("as_of", _DATE),
                    _field("created_at", _TIMESTAMP),
                ]
            ),
            "Run results: percentile bands (fan chart) of simulated values per day.",
        ),
        ResultDataset(
            "simulation_paths",
            pa.schema(
                [
                    *_run_fields(run_type=False, stamps=False),
                    _field("path", _I64),
                    _field("day", _I64),
                    _field("value", _F64),
                ]
            ),
            "Run results: simulated value paths, only for runs that asked to keep them.",
        ),
        ResultDataset(
            "run_index",
            pa.schema(
                [
                    *_run_fields(stamps=False),
                    _field("status", _STR),
                    _field("as_of", _DATE),
                    _field("created_at", _TIMESTAMP),
                    _field("finished_at", _TIMESTAMP, nullable=True),
                    _field("data_start", _DATE, nullable=True),
                    _field("data_end", _DATE, nullable=True),
                    _field("observations", _I64, nullable=True),
                    _field("tickers", _I64, nullable=True),
                    _field("data_version", _STR, nullable=True),
                ]
            ),
            "Run results: one row per run, written after its other results (commit marker).",
        ),
    )
}


def athena_type(data_type: pa.DataType) -> str:
    """The Athena (Hive DDL) type of an Arrow type used by the results datasets."""
    return athena_type_name(str(data_type))


def result_key(dataset: str, run_date: date, tenant: str, run_id: str) -> str:
    """``results/<dataset>/run_date=YYYY-MM-DD/<tenant>-<run_id>.parquet`` (one per run).

    Raises
    ------
    ValueError
        An unknown dataset, or a tenant or run id that is not a plain key segment.
    """
    if dataset not in RESULT_DATASETS:
        raise ValueError(f"unknown results dataset {dataset!r}")
    for label, value in (("tenant", tenant), ("run id", run_id)):
        if not value or "/" in value or value in (".", ".."):
            raise ValueError(f"{label} {value!r} cannot name an S3 object")
    folder = f"{RESULT_DATASETS[dataset].prefix}run_date={run_date.isoformat()}/"
    return f"{folder}{tenant}-{run_id}.parquet"


def _utc_ms(moment: datetime) -> datetime:
    """UTC and truncated to the millisecond (the datasets' timestamp unit)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class _RunColumns:
    """The per-run values repeated on every row of a run's tables."""

    run_id: str
    tenant: str
    portfolio_id: str | None
    run_type: str
    as_of: date
    created_at: datetime

    def repeated(self, schema: pa.Schema, rows: int) -> dict[str, pa.Array]:
        """Those of ``schema``'s columns that are per-run values, ``rows`` times each."""
        values = {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "portfolio_id": self.portfolio_id,
            "run_type": self.run_type,
            "as_of": self.as_of,
            "created_at": self.created_at,
        }
        return {
            name: pa.repeat(pa.scalar(value, schema.field(name).type), rows)
            for name, value in values.items()
            if name in schema.names
        }


def _table(dataset: str, run: _RunColumns, columns: Mapping[str, Any], rows: int) -> pa.Table:
    schema = RESULT_DATASETS[dataset].schema
    data = {**run.repeated(schema, rows), **columns}
    return pa.Table.from_pydict({name: data[name] for name in schema.names}, schema=schema)


def _weights_table(
    run: _RunColumns, weights: Mapping[str, float], contributions: Mapping[str, float] | None
) -> pa.Table:
    assets = list(weights)
    return _table(
        "optimization_weights",
        run,
        {
            "asset": assets,
            "weight": [float(weights[a]) for a in assets],
            "risk_contribution": [
                None if contributions is None else float(contributions[a]) for a in assets
            ],
        },
        len(assets),
    )


def _frontier_table(run: _RunColumns, points: Sequence[Mapping[str, Any]]) -> pa.Table:
    columns: dict[str, list[Any]] = {
        "point": [],
        "expected_return": [],
        "volatility": [],
        "sharpe": [],
        "asset": [],
        "weight": [],
    }
    for index, point in enumerate(points):
        for asset, weight in point["weights"].items():
            columns["point"].append(index)
            columns["expected_return"].append(float(point["expectedReturn"]))
            columns["volatility"].append(float(point["volatility"]))
            columns["sharpe"].append(float(point["sharpe"]))
            columns["asset"].append(asset)
            columns["weight"].append(float(weight))
    return _table("frontier_points", run, columns, len(columns["point"]))


def _percentile(values: Mapping[str, Any], level: int) -> float | None:
    # to_dict spells percentile keys as strings ("1", "5", …); JSON keeps them so.
    value = values.get(str(level))
    return None if value is None else float(value)


def _simulation_tables(
    run: _RunColumns, statistics: Mapping[str, Any], trajectories: Any = None
) -> dict[str, pa.Table]:
    terminal = statistics.get("terminalPercentiles") or {}
    drawdown = statistics.get("maxDrawdownPercentiles") or {}
    stats: dict[str, list[Any]] = {
        "n_paths": [int(statistics["nPaths"])],
        "horizon_days": [int(statistics["horizonDays"])],
        "method": [str(statistics["method"])],
        "initial_value": [float(statistics["initialValue"])],
        "terminal_mean": [float(statistics["terminalMean"])],
        "terminal_median": [float(statistics["terminalMedian"])],
        **{f"terminal_p{p}": [_percentile(terminal, p)] for p in _TERMINAL_PERCENTILES},
        "var_95": [float(statistics["var95"])],
        "cvar_95": [float(statistics["cvar95"])],
        "var_99": [float(statistics["var99"])],
        "cvar_99": [float(statistics["cvar99"])],
        "prob_loss": [float(statistics["probLoss"])],
        "max_drawdown_mean": [float(statistics["maxDrawdownMean"])],
        **{f"max_drawdown_p{p}": [_percentile(drawdown, p)] for p in _DRAWDOWN_PERCENTILES},
    }
    tables = {"simulation_stats": _table("simulation_stats", run, stats, 1)}

    levels = np.asarray(statistics.get("bandLevels") or [], dtype=np.float64)
    bands = np.asarray(statistics.get("bands") or [], dtype=np.float64)
    if levels.size and bands.size:
        bands = bands.reshape(levels.size, -1)  # level × day
        days = bands.shape[1]
        tables["simulation_bands"] = _table(
            "simulation_bands",
            run,
            {
                "day": np.tile(np.arange(days, dtype=np.int64), levels.size),
                "level": np.repeat(levels, days),
                "value": bands.ravel(),
            },
            bands.size,
        )

    paths = trajectories
    if paths:  # only when the run asked to keep them
        values = np.asarray(paths, dtype=np.float64)  # path × day
        n_paths, days = values.shape
        tables["simulation_paths"] = _table(
            "simulation_paths",
            run,
            {
                "path": np.repeat(np.arange(n_paths, dtype=np.int64), days),
                "day": np.tile(np.arange(days, dtype=np.int64), n_paths),
                "value": values.ravel(),
            },
            values.size,
        )
    return tables


def _index_table(run: Run, columns: _RunColumns, data_version: str | None) -> pa.Table:
    window = run.data_window
    return _table(
        "run_index",
        columns,
        {
            "status": [str(run.status)],
            "finished_at": [None if run.finished_at is None else _utc_ms(run.finished_at)],
            "data_start": [window.start if window else None],
            "data_end": [window.end if window else None],
            "observations": [window.observations if window else None],
            "tickers": [len(window.tickers) if window else None],
            "data_version": [data_version],
        },
        1,
    )


def run_date(run: Run) -> date:
    """The run's partition: the UTC day it was created."""
    return _utc_ms(run.created_at).date()


def result_tables(
    run: Run,
    tenant: str,
    result: Mapping[str, Any],
    as_of: date | None = None,
    *,
    data_version: str | None = None,
) -> dict[str, pa.Table]:
    """A finished run's rows per results dataset (pure: no I/O).

    Parameters
    ----------
    run
        The run as it will be saved: ``succeeded`` (or ``failed``) with ``finished_at``.
    tenant
        Its tenant (a column: the operating team queries across tenants).
    result
        What :func:`compute.runner.execute` returned for it (ignored for a failed run).
    as_of
        The day the results describe; default the data window's end, else (inline
        returns, analyze) the run's creation day (UTC).
    data_version
        Version of the market data the run read, when known (``run_index.data_version``).

    Returns
    -------
    dict
        ``{dataset: table}`` in write order, ``run_index`` last, holding only the datasets
        the run has rows for (a failed run: ``run_index`` only).

    Raises
    ------
    ValueError
        The run is not finished (``queued`` or ``running``).
    KeyError
        ``result`` lacks a key its run type always returns.
    """
    if run.status not in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        raise ValueError(f"run {run.id} is {run.status}: results are written for finished runs")
    window = run.data_window
    columns = _RunColumns(
        run_id=run.id,
        tenant=tenant,
        portfolio_id=run.portfolio_id,
        run_type=str(run.type),
        as_of=as_of or (window.end if window and window.end else run_date(run)),
        created_at=_utc_ms(run.created_at),
    )
    tables: dict[str, pa.Table] = {}
    if run.status is RunStatus.SUCCEEDED:
        if run.type is RunType.RISK_PARITY:
            tables["optimization_weights"] = _weights_table(
                columns, result["weights"], result["riskContributions"]
            )
        elif run.type is RunType.HRP:
            tables["optimization_weights"] = _weights_table(columns, result["weights"], None)
        elif run.type is RunType.EFFICIENT_FRONTIER:
            # The frontier's recommended portfolio is its max-Sharpe point.
            tables["optimization_weights"] = _weights_table(
                columns, result["maxSharpe"]["weights"], None
            )
            tables["frontier_points"] = _frontier_table(columns, result["points"])
        elif run.type is RunType.SIMULATE:
            tables["optimization_weights"] = _weights_table(columns, result["weights"], None)
        if run.type in (RunType.SIMULATE, RunType.ANALYZE):
            tables.update(
                _simulation_tables(columns, result["statistics"], result.get("trajectories"))
            )
    # Keep write order (RESULT_DATASETS) whatever order the tables were built in.
    ordered = {name: tables[name] for name in RESULT_DATASETS if name in tables}
    ordered["run_index"] = _index_table(run, columns, data_version)
    return ordered


def write_results(
    run: Run,
    tenant: str,
    result: Mapping[str, Any],
    *,
    bucket: str,
    s3: Any | None = None,
    as_of: date | None = None,
    data_version: str | None = None,
) -> list[str]:
    """Write a finished run's results datasets (zstd Parquet), ``run_index`` last.

    Each dataset is one object at :func:`result_key`, so a retried run overwrites what an
    earlier attempt wrote. Call it before the run item is saved as succeeded: a failure
    here leaves no ``run_index`` row, and readers joining on it never see the partial run.

    Parameters
    ----------
    run, tenant, result, as_of, data_version
        As for :func:`result_tables`.
    bucket
        The data bucket.
    s3
        A boto3 S3 client (default: a new one from the ambient session).

    Returns
    -------
    list of str
        The keys written, in write order (the ``run_index`` key last).
    """
    tables = result_tables(run, tenant, result, as_of, data_version=data_version)
    client = s3 or aws_client("s3")
    day = run_date(run)
    keys: list[str] = []
    for dataset, table in tables.items():
        key = result_key(dataset, day, tenant, run.id)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=buffer.getvalue(),
            ContentType="application/vnd.apache.parquet",
        )
        keys.append(key)
    return keys
