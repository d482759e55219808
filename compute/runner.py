"""Executing runs: inputs from the request or the lake, the numerics, a JSON-safe result.

An entry-side module (with ``compute.handlers``): it may import core and pyarrow; the
numerics it calls import only numpy and scipy.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from numpy.typing import NDArray

from compute.exceptions import NotPositiveDefiniteError
from core.aws import client as aws_client
from core.aws import is_missing_object
from core.exceptions import NotFoundError, UnprocessableError
from core.lake import RETURNS_PREFIX, partition_key, partition_year
from core.models import (
    AnalyzeRequest,
    DataWindow,
    EfficientFrontierRequest,
    HrpRequest,
    RiskParityRequest,
    RunType,
    SimulateRequest,
    run_limit_violations,
)

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "MIN_OBSERVATIONS",
    "REQUEST_MODELS",
    "SYNC_CELL_BUDGET",
    "Inputs",
    "execute",
    "is_quick",
    "load_inputs",
    "probe_years",
    "window_bounds",
    "window_years",
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
# Fewer days than this estimate no covariance worth the name (2 days give a rank-1 sample).
MIN_OBSERVATIONS = 3
DEFAULT_LOOKBACK_DAYS = 1095  # three years of calendar days


@dataclass(frozen=True)
class Inputs:
    """A run's data: T × N simple returns and the window they came from."""

    returns: NDArray[np.float64]
    tickers: list[str]
    window: DataWindow


# ------------------------------------------------------------------ the window (pure)
def probe_years(years: Iterable[int], as_of: date | None = None) -> list[int]:
    """The year partitions to search for the tickers' last date, newest first.

    Parameters
    ----------
    years
        The years whose returns partition exists (one listing of the dataset).
    as_of
        Years after ``as_of``'s are never searched.

    Returns
    -------
    list of int
        Existing years, newest first; reading stops at the first holding any of the tickers.
    """
    return sorted({y for y in years if as_of is None or y <= as_of.year}, reverse=True)


def window_bounds(
    end: date, *, start: date | None = None, lookback_days: int | None = None
) -> tuple[date, date]:
    """The window asked of the lake, given its last day.

    Parameters
    ----------
    end
        The window's last day: the request's ``end``, or the last date the lake holds for
        the tickers (on or before ``asOf``).
    start
        The request's ``start``; wins over ``lookback_days``.
    lookback_days
        Calendar days back from ``end``; default :data:`DEFAULT_LOOKBACK_DAYS`.

    Returns
    -------
    tuple of date
        ``(start, end)``, both inclusive.
    """
    days = DEFAULT_LOOKBACK_DAYS if lookback_days is None else lookback_days
    return (start if start is not None else end - timedelta(days=days)), end


def window_years(years: Iterable[int], start: date, end: date) -> list[int]:
    """The existing year partitions a window ``[start, end]`` reads, oldest first."""
    return sorted({y for y in years if start.year <= y <= end.year})


# ------------------------------------------------------------------ the lake (I/O)
def _partition_years(bucket: str, *, s3: Any) -> list[int]:
    """The years whose returns partition exists: one ListObjectsV2 under the dataset (one
    object per year, so one page for a millennium)."""
    years: list[int] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RETURNS_PREFIX):
        for item in page.get("Contents", []):
            year = partition_year(RETURNS_PREFIX, str(item["Key"]))
            if year is not None:
                years.append(year)
    return sorted(set(years))


class _Partitions:
    """The returns partitions one run reads, each fetched at most once and kept filtered to
    the run's tickers (and to days on or before ``until``)."""

    def __init__(self, bucket: str, tickers: list[str], *, s3: Any, until: date | None) -> None:
        self._bucket, self._tickers, self._s3, self._until = bucket, tickers, s3, until
        self._tables: dict[int, Any] = {}
        self._refs: dict[int, str] = {}

    @property
    def objects(self) -> list[str]:
        """The objects read, oldest year first, as ``key@versionId`` (or ``key@etag``)."""
        return [self._refs[year] for year in sorted(self._refs)]

    def read(self, year: int) -> Any | None:
        """The year's rows of the tickers (a pyarrow Table), or ``None`` when it has no
        object (a 403 is told apart from a missing object by a listing of that key)."""
        if year in self._tables:
            return self._tables[year]
        import pyarrow.parquet as pq

        key = partition_key(RETURNS_PREFIX, year)
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if is_missing_object(error, self._s3, self._bucket, key):
                self._tables[year] = None
                return None
            raise
        self._refs[year] = f"{key}@{body.get('VersionId') or body['ETag'].strip(chr(34))}"
        filters: list[tuple[str, str, Any]] = [("ticker", "in", self._tickers)]
        if self._until is not None:
            filters.append(("date", "<=", self._until))
        table = pq.read_table(
            io.BytesIO(body["Body"].read()),
            columns=["date", "ticker", "simple_return"],
            filters=filters,
        )
        self._tables[year] = table
        return table

    def last_date(self, years: Iterable[int]) -> date | None:
        """The last date any of the tickers has, searching ``years`` in the order given
        (newest first) and stopping at the first year that holds any of them."""
        import pyarrow.compute as pc

        for year in years:
            table = self.read(year)
            if table is not None and table.num_rows:
                last: date = pc.max(table["date"]).as_py()
                return last
        return None


def _named(tickers: list[str]) -> str:
    shown = ", ".join(tickers[:20])
    return shown + (f" and {len(tickers) - 20} more" if len(tickers) > 20 else "")


def _lake_returns(
    bucket: str,
    tickers: list[str],
    start: date,
    end: date,
    *,
    s3: Any,
    objects: list[str],
    years: Iterable[int] | None = None,
    partitions: _Partitions | None = None,
) -> tuple[NDArray[np.float64], list[date]]:
    """Wide T × N matrix of the tickers' daily simple returns; days missing any ticker dropped.

    Parameters
    ----------
    years
        The years whose partition exists (a listing); only those in ``[start, end]`` are
        read. ``None``: try every year of the window (a missing one is skipped).
    partitions
        The run's reader, when the last date was already searched with it (a year read
        then is not fetched again).
    objects
        Appended with every object the run read (``key@version``), oldest year first.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    reader = partitions or _Partitions(bucket, tickers, s3=s3, until=None)
    wanted = window_years(years, start, end) if years is not None else None
    parts = []
    for year in wanted if wanted is not None else range(start.year, end.year + 1):
        table = reader.read(year)
        if table is not None:
            keep = pc.and_(
                pc.greater_equal(table["date"], pa.scalar(start, pa.date32())),
                pc.less_equal(table["date"], pa.scalar(end, pa.date32())),
            )
            parts.append(table.filter(keep))
    objects.extend(reader.objects)
    if not parts:
        raise NotFoundError(
            f"No returns in the lake for {_named(tickers)} between {start} and {end}."
        )
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


def _lake_inputs(
    request: Any, tickers: list[str], bucket: str, s3: Any
) -> tuple[NDArray[np.float64], DataWindow]:
    """The window rule: the window ends at the request's ``end``, or else at the last date
    the lake holds for the tickers (on or before ``asOf``), whatever triggered the run; it
    starts at the request's ``start``, or else ``lookbackDays`` (default 1095) before."""
    as_of: date | None = getattr(request, "as_of", None)
    lookback: int | None = getattr(request, "lookback_days", None)
    years = _partition_years(bucket, s3=s3)
    partitions = _Partitions(bucket, tickers, s3=s3, until=request.end or as_of)
    end = request.end
    if end is None:
        end = partitions.last_date(probe_years(years, as_of))
        if end is None:
            raise NotFoundError(
                f"No returns in the lake for {_named(tickers)}"
                + (f" on or before asOf {as_of}." if as_of else "."),
                [f"tickers: {_named(tickers)}"],
            )
    start, end = window_bounds(end, start=request.start, lookback_days=lookback)
    # Bounded before anything is read (only years the lake holds are, in any case).
    check_limits(len(tickers), 0, request, window_days=(end - start).days + 1)
    objects: list[str] = []
    matrix, days = _lake_returns(
        bucket, tickers, start, end, s3=s3, objects=objects, years=years, partitions=partitions
    )
    window = DataWindow(
        source="lake",
        tickers=tickers,
        observations=matrix.shape[0],
        start=days[0] if days else start,
        end=days[-1] if days else end,
        as_of=as_of,
        lookback_days=None if request.start else (lookback or DEFAULT_LOOKBACK_DAYS),
        requested_start=start,
        requested_end=end,
        objects=objects,
    )
    return matrix, window


def load_inputs(
    request: Any,
    tickers_of_portfolio: list[str] | None,
    bucket: str,
    s3: Any | None = None,
) -> Inputs:
    """The returns a run works on: inline, or the portfolio's tickers from the lake.

    Parameters
    ----------
    request
        A run request (``_ReturnsInput``): inline ``returns``, or lake runs' optional
        ``start``/``end``/``asOf``/``lookbackDays``.
    tickers_of_portfolio
        The portfolio's tickers (lake runs).
    bucket, s3
        The data bucket and an S3 client (default: core.aws's).

    Returns
    -------
    Inputs
        The matrix, its tickers (sorted for lake runs) and the window, recorded on the run.
        A lake run's window ends at the last date the lake holds for its tickers (or on or
        before ``asOf``, or at an explicit ``end``), not at today: every trigger of
        unchanged data reads the same days.
    """
    if request.returns is not None:
        tickers = list(request.returns)
        matrix = np.column_stack([np.asarray(request.returns[t], float) for t in tickers])
        window = DataWindow(source="inline", tickers=tickers, observations=matrix.shape[0])
    else:
        assert tickers_of_portfolio is not None
        tickers = sorted(tickers_of_portfolio)
        matrix, window = _lake_inputs(request, tickers, bucket, s3 or aws_client("s3"))
    check_limits(len(tickers), matrix.shape[0], request)
    if matrix.shape[0] < 2:
        raise UnprocessableError(
            "Too few observations.", [f"{matrix.shape[0]} common days; at least 2 are needed"]
        )
    return Inputs(matrix, tickers, window)


def check_limits(
    assets: int, observations: int, request: Any = None, *, window_days: int = 0
) -> None:
    """422 naming the first limit a run would break (``core.models.run_limit_violations``)."""
    violations = run_limit_violations(assets, observations, request, window_days=window_days)
    if violations:
        message, limit = violations[0]
        raise UnprocessableError(message, [limit])


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

        stats = camel_keys(analyze(np.asarray(request.paths, float)).to_dict(include_paths=False))
        stats.pop("paths", None)
        return {"statistics": stats}
    assert inputs is not None
    returns, tickers = inputs.returns, inputs.tickers
    if returns.shape[0] < MIN_OBSERVATIONS:
        raise UnprocessableError(
            f"Too few observations: {returns.shape[0]} days of returns; every analysis needs at "
            f"least {MIN_OBSERVATIONS} to estimate a covariance (a year, 252, is typical).",
            [f"limit: observations >= {MIN_OBSERVATIONS}"],
        )
    try:
        cov = _covariance(request, returns)
    except NotPositiveDefiniteError:
        raise UnprocessableError(
            f"The {request.estimator} covariance of these {returns.shape[0]} observations of "
            f"{returns.shape[1]} assets is singular: some assets move in lockstep, or the "
            "sample is too short.",
            ["give more observations, or drop assets that duplicate others"],
        ) from None
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
        statistics = camel_keys(sim.to_dict(include_paths=False))
        statistics.pop("paths", None)
        out: dict[str, Any] = {"weights": _by_ticker(tickers, weights), "statistics": statistics}
        if request.keep_paths and sim.paths is not None:
            # Plan 5.3: the value paths are the result's ``trajectories``, one per path.
            out["trajectories"] = sim.paths.tolist()
        return out
    raise ValueError(f"unknown run type {run_type}")
