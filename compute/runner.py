"""Executing runs: inputs from the request or the lake, the numerics, a JSON-safe result.

An entry-side module (with ``compute.handlers``): it may import core and pyarrow; the
numerics it calls import only numpy and scipy.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from numpy.typing import NDArray

from core.aws import client as aws_client
from core.aws import is_missing_object
from core.exceptions import NotFoundError, UnprocessableError
from core.lake import RETURNS_PREFIX, partition_key
from core.models import (
    MAX_RUN_ASSETS,
    MAX_RUN_OBSERVATIONS,
    MAX_SIMULATION_CELLS,
    AnalyzeRequest,
    DataWindow,
    EfficientFrontierRequest,
    HrpRequest,
    RiskParityRequest,
    RunType,
    SimulateRequest,
)

__all__ = [
    "REQUEST_MODELS",
    "SYNC_CELL_BUDGET",
    "Inputs",
    "execute",
    "is_quick",
    "load_inputs",
]

REQUEST_MODELS: dict[RunType, type[Any]] = {
    RunType.RISK_PARITY: RiskParityRequest,
    RunType.HRP: HrpRequest,
    RunType.EFFICIENT_FRONTIER: EfficientFrontierRequest,
    RunType.SIMULATE: SimulateRequest,
    RunType.ANALYZE: AnalyzeRequest,
}
# Work answered synchronously (201) when below this: simulated cells (paths × days × assets)
# run at ~10⁸/s here, so 2·10⁷ is ~0.2 s, far inside API Gateway's 29 s.
SYNC_CELL_BUDGET = 20_000_000
_DEFAULT_WINDOW = timedelta(days=365 * 3)


@dataclass(frozen=True)
class Inputs:
    """A run's data: T × N simple returns and the window they came from."""

    returns: NDArray[np.float64]
    tickers: list[str]
    window: DataWindow


def _lake_returns(
    bucket: str, tickers: list[str], start: date, end: date, *, s3: Any, objects: list[str]
) -> tuple[NDArray[np.float64], list[date]]:
    """Wide T × N matrix of the tickers' daily simple returns; days missing any ticker dropped."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parts = []
    for year in range(start.year, end.year + 1):
        key = partition_key(RETURNS_PREFIX, year)
        try:
            body = s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if is_missing_object(error, s3, bucket, key):
                continue
            raise
        objects.append(f"{key}@{body.get('VersionId') or body['ETag'].strip(chr(34))}")
        table = pq.read_table(
            io.BytesIO(body["Body"].read()),
            columns=["date", "ticker", "simple_return"],
            filters=[("ticker", "in", tickers), ("date", ">=", start), ("date", "<=", end)],
        )
        parts.append(table)
    if not parts:
        raise NotFoundError(f"No returns in the lake for these tickers between {start} and {end}.")
    table = pa.concat_tables(parts)
    days = sorted(set(table["date"].to_pylist()))
    row = {d: i for i, d in enumerate(days)}
    col = {t: j for j, t in enumerate(tickers)}
    matrix = np.full((len(days), len(tickers)), np.nan)
    rows = np.array([row[d] for d in table["date"].to_pylist()], dtype=np.int64)
    cols = np.array([col[t] for t in table["ticker"].to_pylist()], dtype=np.int64)
    matrix[rows, cols] = pc.fill_null(table["simple_return"], np.nan).to_numpy()
    missing = [t for t in tickers if np.isnan(matrix[:, col[t]]).all()]
    if missing:
        raise UnprocessableError(
            "Some tickers have no returns in the requested window.",
            [f"no data: {', '.join(missing[:20])}"],
        )
    complete = ~np.isnan(matrix).any(axis=1)  # a common calendar: days every ticker traded
    return matrix[complete], [d for d, keep in zip(days, complete, strict=True) if keep]


def load_inputs(
    request: Any,
    tickers_of_portfolio: list[str] | None,
    bucket: str,
    s3: Any | None = None,
) -> Inputs:
    """The returns a run works on: inline, or the portfolio's tickers from the lake."""
    if request.returns is not None:
        tickers = list(request.returns)
        matrix = np.column_stack([np.asarray(request.returns[t], float) for t in tickers])
        window = DataWindow(source="inline", tickers=tickers, observations=matrix.shape[0])
    else:
        assert tickers_of_portfolio is not None
        tickers = sorted(tickers_of_portfolio)
        end = request.end or datetime.now(UTC).date()
        start = request.start or end - _DEFAULT_WINDOW
        objects: list[str] = []
        matrix, days = _lake_returns(
            bucket, tickers, start, end, s3=s3 or aws_client("s3"), objects=objects
        )
        window = DataWindow(
            source="lake",
            tickers=tickers,
            observations=matrix.shape[0],
            start=days[0] if days else start,
            end=days[-1] if days else end,
            objects=objects,
        )
    check_limits(len(tickers), matrix.shape[0], request)
    if matrix.shape[0] < 2:
        raise UnprocessableError(
            "Too few observations.", [f"{matrix.shape[0]} common days; at least 2 are needed"]
        )
    return Inputs(matrix, tickers, window)


def check_limits(assets: int, observations: int, request: Any = None) -> None:
    """422 naming the limit a run would break."""
    if assets > MAX_RUN_ASSETS:
        raise UnprocessableError(
            f"Too many assets for one run: {assets} > {MAX_RUN_ASSETS}.", ["limit: assets"]
        )
    if observations > MAX_RUN_OBSERVATIONS:
        raise UnprocessableError(
            f"Too many observations for one run: {observations} > {MAX_RUN_OBSERVATIONS}.",
            ["limit: observations"],
        )
    if isinstance(request, SimulateRequest):
        cells = request.n_paths * request.horizon_days * max(assets, 1)
        if cells > MAX_SIMULATION_CELLS:
            raise UnprocessableError(
                f"Simulation too large: paths × days × assets = {cells:,} > "
                f"{MAX_SIMULATION_CELLS:,}.",
                ["limit: paths x days x assets"],
            )
        if request.keep_paths and request.n_paths * request.horizon_days > 1_000_000:
            raise UnprocessableError(
                "keepPaths is limited to paths × days ≤ 1,000,000.", ["limit: kept path cells"]
            )


def is_quick(run_type: RunType, request: Any, assets: int) -> bool:
    """Whether a run fits the synchronous budget (the optimizers always do)."""
    if isinstance(request, SimulateRequest):
        return request.n_paths * request.horizon_days * max(assets, 1) <= SYNC_CELL_BUDGET
    if isinstance(request, AnalyzeRequest):
        return len(request.paths) * len(request.paths[0]) <= SYNC_CELL_BUDGET
    return True


def camel_keys(value: Any) -> Any:
    """snake_case dict keys → camelCase, recursively (the API speaks camelCase)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head, *rest = str(key).split("_")
            out[head + "".join(part.title() for part in rest)] = camel_keys(item)
        return out
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


def _covariance(request: Any, returns: NDArray[np.float64]) -> NDArray[np.float64]:
    from compute.estimators import ewma_covariance, ledoit_wolf_covariance, sample_covariance

    ppy = request.periods_per_year
    if request.estimator == "sample":
        return sample_covariance(returns, periods_per_year=ppy)
    if request.estimator == "ewma":
        return ewma_covariance(returns, request.halflife, periods_per_year=ppy)
    return ledoit_wolf_covariance(returns, periods_per_year=ppy)


def _by_ticker(tickers: list[str], values: Any) -> dict[str, float]:
    return {t: float(v) for t, v in zip(tickers, np.asarray(values, float), strict=True)}


def _performance(weights: NDArray[np.float64], mu: Any, cov: Any) -> dict[str, float]:
    variance = float(weights @ cov @ weights)
    ret = float(weights @ mu)
    vol = float(np.sqrt(max(variance, 0.0)))
    return {"expectedReturn": ret, "volatility": vol, "sharpe": ret / vol if vol > 0 else 0.0}


def execute(
    run_type: RunType,
    request: Any,
    inputs: Inputs | None,
    portfolio_weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run the numerics; a JSON-safe result with ``weights`` and ``metrics`` where they apply."""
    from compute.estimators import mean_returns

    if run_type is RunType.ANALYZE:
        from compute.monte_carlo import analyze

        stats = analyze(np.asarray(request.paths, float)).to_dict(include_paths=False)
        return {"statistics": camel_keys(stats)}
    assert inputs is not None
    returns, tickers = inputs.returns, inputs.tickers
    cov = _covariance(request, returns)
    mu = mean_returns(returns, periods_per_year=request.periods_per_year)
    if run_type is RunType.RISK_PARITY:
        from compute.risk_parity import risk_budget

        budgets = None
        if request.budgets:
            unknown = sorted(set(request.budgets) - set(tickers))
            missing = sorted(set(tickers) - set(request.budgets))
            if unknown or missing:
                raise UnprocessableError(
                    "budgets must name every ticker of the run exactly once: "
                    + "; ".join(
                        part
                        for part in (
                            f"unknown {', '.join(unknown[:10])}" if unknown else "",
                            f"missing {', '.join(missing[:10])}" if missing else "",
                        )
                        if part
                    ),
                    [f"unknown: {', '.join(unknown)}"]
                    if unknown
                    else [f"missing: {', '.join(missing)}"],
                )
            budgets = np.array([request.budgets[t] for t in tickers])
        rb = risk_budget(cov, budgets)
        return {
            "weights": _by_ticker(tickers, rb.weights),
            "riskContributions": _by_ticker(tickers, rb.risk_contributions),
            "metrics": {
                **_performance(rb.weights, mu, cov),
                "iterations": rb.iterations,
                "maxBudgetError": rb.max_error,
            },
        }
    if run_type is RunType.HRP:
        from compute.hrp import hierarchical_risk_parity

        hrp = hierarchical_risk_parity(returns, linkage=request.linkage)
        return {
            "weights": _by_ticker(tickers, hrp.weights),
            "order": [tickers[i] for i in hrp.order],
            "linkageMatrix": np.asarray(hrp.linkage_matrix, float).tolist(),
            "metrics": _performance(hrp.weights, mu, cov),
        }
    if run_type is RunType.EFFICIENT_FRONTIER:
        from compute.frontier import efficient_frontier, max_sharpe, min_variance

        bounds = (request.min_weight, request.max_weight)
        frontier = efficient_frontier(mu, cov, n_points=request.n_points, bounds=bounds)
        w_min = min_variance(cov, bounds=bounds)
        w_sharpe = max_sharpe(mu, cov, risk_free_rate=request.risk_free_rate, bounds=bounds)
        points = [
            {
                "expectedReturn": float(r),
                "volatility": float(v),
                "sharpe": float(s),
                "weights": _by_ticker(tickers, w),
            }
            for r, v, s, w in zip(
                frontier.returns,
                frontier.volatilities,
                frontier.sharpe,
                frontier.weights,
                strict=True,
            )
        ]
        result: dict[str, Any] = {
            "points": points,
            "minVariance": {"weights": _by_ticker(tickers, w_min), **_performance(w_min, mu, cov)},
            "maxSharpe": {
                "weights": _by_ticker(tickers, w_sharpe),
                **_performance(w_sharpe, mu, cov),
            },
            "metrics": {"points": len(points), "riskFreeRate": request.risk_free_rate},
        }
        if portfolio_weights:
            w = np.array([portfolio_weights.get(t, 0.0) for t in tickers])
            if w.sum() > 0:
                result["portfolio"] = {
                    "weights": _by_ticker(tickers, w / w.sum()),
                    **_performance(w / w.sum(), mu, cov),
                }
        return result
    if run_type is RunType.SIMULATE:
        from compute.monte_carlo import simulate

        if request.weights:
            unknown = sorted(set(request.weights) - set(tickers))
            if unknown:
                raise UnprocessableError("weights name tickers not in the run.", unknown[:20])
            raw = np.array([request.weights.get(t, 0.0) for t in tickers])
        elif portfolio_weights:
            raw = np.array([portfolio_weights.get(t, 0.0) for t in tickers])
        else:
            raw = np.ones(len(tickers))
        if raw.sum() <= 0:
            raise UnprocessableError("Weights must not all be zero.")
        weights = raw / raw.sum()
        sim = simulate(
            weights,
            mu,
            cov,
            horizon_days=request.horizon_days,
            n_paths=request.n_paths,
            seed=request.seed,
            method=request.method,
            historical_returns=returns if request.method == "bootstrap" else None,
            block_size=request.block_size,
            rebalance=request.rebalance,
            initial_value=request.initial_value,
            contribution=request.contribution,
            keep_paths=request.keep_paths,
            periods_per_year=request.periods_per_year,
        )
        return {
            "weights": _by_ticker(tickers, weights),
            "statistics": camel_keys(sim.to_dict(include_paths=request.keep_paths)),
        }
    raise ValueError(f"unknown run type {run_type}")
