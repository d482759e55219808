"""What several analyses share: performance models, the weights table, the estimates.

numpy and ``compute`` are imported inside the functions: the registry is read by the CRUD
functions, which never load them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from core.analysis import (
    AS_OF,
    CREATED_AT,
    PORTFOLIO_ID,
    RUN_ID,
    RUN_TYPE,
    TENANT,
    Column,
    ResultTable,
    Rows,
)
from core.exceptions import UnprocessableError
from core.models import ResultModel

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "MIN_OBSERVATIONS",
    "OPTIMIZATION_WEIGHTS",
    "Performance",
    "WeightedPerformance",
    "Weights",
    "by_ticker",
    "estimates",
    "performance",
    "weights_rows",
]

# Fewer days than this estimate no covariance worth the name (2 days give a rank-1 sample).
MIN_OBSERVATIONS: Final = 3

Weights = dict[str, float]


class Performance(ResultModel):
    """Annualised expected return, volatility and Sharpe ratio of a set of weights."""

    expected_return: float
    volatility: float
    sharpe: float


class WeightedPerformance(Performance):
    weights: Weights


OPTIMIZATION_WEIGHTS: Final = ResultTable(
    "optimization_weights",
    "Run results: weights per asset of risk-parity, HRP, the efficient frontier's "
    "max-Sharpe portfolio and simulated portfolios (long form).",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        RUN_TYPE,
        AS_OF,
        CREATED_AT,
        Column("asset", "string"),
        Column("weight", "double"),
        Column("risk_contribution", "double", nullable=True),
    ),
)


def weights_rows(weights: Mapping[str, float], contributions: Mapping[str, float] | None) -> Rows:
    """One ``optimization_weights`` row per asset."""
    assets = list(weights)
    return {
        OPTIMIZATION_WEIGHTS.name: {
            "asset": assets,
            "weight": [float(weights[a]) for a in assets],
            "risk_contribution": [
                None if contributions is None else float(contributions[a]) for a in assets
            ],
        }
    }


def by_ticker(tickers: list[str], values: Any) -> dict[str, float]:
    """``{ticker: value}`` of a vector in the run's ticker order."""
    import numpy as np

    return {t: float(v) for t, v in zip(tickers, np.asarray(values, float), strict=True)}


def performance(weights: NDArray[np.float64], mu: Any, cov: Any) -> Performance:
    """Annualised return ``w'μ``, volatility ``√(w'Σw)`` and Sharpe ratio (no risk-free)."""
    import numpy as np

    variance = float(weights @ cov @ weights)
    ret = float(weights @ mu)
    vol = float(np.sqrt(max(variance, 0.0)))
    return Performance(expected_return=ret, volatility=vol, sharpe=ret / vol if vol > 0 else 0.0)


def estimates(request: Any, returns: NDArray[np.float64]) -> tuple[Any, Any]:
    """Annualised mean returns and covariance of a run's returns (the request's estimator).

    Raises
    ------
    UnprocessableError
        Fewer than :data:`MIN_OBSERVATIONS` days, or a singular covariance.
    """
    from compute.estimators import (
        ewma_covariance,
        ledoit_wolf_covariance,
        mean_returns,
        sample_covariance,
    )
    from compute.exceptions import NotPositiveDefiniteError

    if returns.shape[0] < MIN_OBSERVATIONS:
        raise UnprocessableError(
            f"Too few observations: {returns.shape[0]} days of returns; every analysis needs at "
            f"least {MIN_OBSERVATIONS} to estimate a covariance (a year, 252, is typical).",
            [f"limit: observations >= {MIN_OBSERVATIONS}"],
        )
    ppy = request.periods_per_year
    try:
        if request.estimator == "sample":
            cov = sample_covariance(returns, periods_per_year=ppy)
        elif request.estimator == "ewma":
            cov = ewma_covariance(returns, request.halflife, periods_per_year=ppy)
        else:
            cov = ledoit_wolf_covariance(returns, periods_per_year=ppy)
    except NotPositiveDefiniteError:
        raise UnprocessableError(
            f"The {request.estimator} covariance of these {returns.shape[0]} observations of "
            f"{returns.shape[1]} assets is singular: some assets move in lockstep, or the "
            "sample is too short.",
            ["give more observations, or drop assets that duplicate others"],
        ) from None
    return mean_returns(returns, periods_per_year=ppy), cov
