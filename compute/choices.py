"""The numerics' choice sets, spelled once: the request models of the analyses take them
from here, and the functions check against them. Plain typing: no numpy on import.

(``core.models.Estimator`` is the API's spelling of :data:`CovarianceEstimator`: core may not
import compute, so a unit test keeps the two equal.)
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "BACKTEST_STRATEGIES",
    "COVARIANCE_ESTIMATORS",
    "LINKAGE_METHODS",
    "PERIODS",
    "REBALANCE_CALENDARS",
    "REBALANCE_FREQUENCIES",
    "SIMULATION_METHODS",
    "BacktestStrategy",
    "CovarianceEstimator",
    "LinkageMethod",
    "Period",
    "RebalanceCalendar",
    "RebalanceFrequency",
    "SimulationMethod",
]

LinkageMethod = Literal["single", "complete", "average", "ward"]
SimulationMethod = Literal["gbm", "bootstrap"]
RebalanceFrequency = Literal["none", "daily", "monthly", "quarterly", "annually"]
CovarianceEstimator = Literal["sample", "ledoit-wolf", "ewma"]
# The strategies a walk-forward backtest refits on each train window (``compute.backtest``).
BacktestStrategy = Literal[
    "equal-weight",
    "inverse-volatility",
    "min-variance",
    "max-sharpe",
    "risk-parity",
    "hrp",
    "target-volatility",
    "fixed",
]
# Calendar rebalancing of a backtest: the first trading day of each month or quarter.
RebalanceCalendar = Literal["monthly", "quarterly"]
# The calendar periods of compounded returns (``compute.performance.period_returns``).
Period = Literal["monthly", "yearly"]

LINKAGE_METHODS: Final[tuple[str, ...]] = get_args(LinkageMethod)
SIMULATION_METHODS: Final[tuple[str, ...]] = get_args(SimulationMethod)
REBALANCE_FREQUENCIES: Final[tuple[str, ...]] = get_args(RebalanceFrequency)
COVARIANCE_ESTIMATORS: Final[tuple[str, ...]] = get_args(CovarianceEstimator)
BACKTEST_STRATEGIES: Final[tuple[str, ...]] = get_args(BacktestStrategy)
REBALANCE_CALENDARS: Final[tuple[str, ...]] = get_args(RebalanceCalendar)
PERIODS: Final[tuple[str, ...]] = get_args(Period)
