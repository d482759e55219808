"""The numerics' choice sets, spelled once: the request models of the analyses take them
from here, and the functions check against them. Plain typing: no numpy on import.

(``core.models.Estimator`` is the API's spelling of :data:`CovarianceEstimator`: core may not
import compute, so a unit test keeps the two equal.)
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "BACKTEST_MANDATE_OPTIONS",
    "BACKTEST_STRATEGIES",
    "BACKTEST_STRATEGY_OPTIONS",
    "COVARIANCE_ESTIMATORS",
    "LINKAGE_METHODS",
    "ON_INFEASIBLE",
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

_ESTIMATION = ("estimator", "halflife", "periods_per_year")
# The linear mandate of the mean-variance strategies (``compute.mandates``): group limits,
# A w <= b, a turnover limit per rebalance and cost rates the optimiser nets out.
BACKTEST_MANDATE_OPTIONS: Final[tuple[str, ...]] = ("groups", "inequalities", "turnover", "costs")
# The keyword options of each named backtest strategy (``compute.backtest``); the backtest
# analysis derives its request's strategy fields from these.
BACKTEST_STRATEGY_OPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "equal-weight": (),
    "inverse-volatility": _ESTIMATION,
    "min-variance": (*_ESTIMATION, "bounds", *BACKTEST_MANDATE_OPTIONS),
    "max-sharpe": (
        *_ESTIMATION,
        "bounds",
        *BACKTEST_MANDATE_OPTIONS,
        "risk_free_rate",
        "on_infeasible",
    ),
    "risk-parity": (*_ESTIMATION, "budgets"),
    "hrp": ("linkage",),
    "target-volatility": (
        *_ESTIMATION,
        "bounds",
        *BACKTEST_MANDATE_OPTIONS,
        "target",
        "on_infeasible",
    ),
    "fixed": ("weights",),
}
# What max-sharpe and target-volatility do on a fold they cannot solve (``on_infeasible``).
ON_INFEASIBLE: Final[tuple[str, ...]] = ("raise", "min-variance")
