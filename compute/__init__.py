"""Portfolio numerics on numpy and scipy only: estimators, risk budgeting, HRP, the exact
efficient frontier and Monte Carlo simulation.

Arrays go in (returns are T×N simple returns, rows = periods), arrays or frozen dataclasses
with a ``to_dict()`` come out, and bad input raises a :class:`ComputeError` subclass; no
function returns a silent NaN. See ``docs/COMPUTE.md`` for methods, formulas and benchmarks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compute.backtest import (
        BacktestResult,
        calendar_rebalance_rows,
        walk_forward,
        walk_forward_at,
    )
    from compute.estimators import (
        ewma_covariance,
        ledoit_wolf_covariance,
        ledoit_wolf_shrinkage,
        mean_returns,
        sample_covariance,
    )
    from compute.exceptions import (
        ComputeError,
        ConvergenceError,
        InfeasibleError,
        InvalidInputError,
        NotPositiveDefiniteError,
    )
    from compute.frontier import (
        CriticalLine,
        EfficientFrontier,
        PortfolioPerformance,
        critical_line,
        efficient_frontier,
        efficient_return,
        efficient_risk,
        max_sharpe,
        min_variance,
        portfolio_performance,
    )
    from compute.hrp import HRPResult, correlation_distance, hierarchical_risk_parity, hrp_weights
    from compute.mandates import (
        GroupLimit,
        Mandate,
        MandateInfeasibleError,
        check_feasible,
        min_turnover,
        resolve_mandate,
    )
    from compute.monte_carlo import SimulationResult, analyze, simulate
    from compute.performance import (
        DrawdownPeriod,
        drawdown,
        drawdown_periods,
        metrics,
        period_returns,
        rolling_sharpe,
        rolling_volatility,
    )
    from compute.risk_parity import (
        RiskBudgetResult,
        risk_budget,
        risk_budget_weights,
        risk_contributions,
    )
    from compute.tail_risk import (
        CVaRFrontier,
        TailRiskResult,
        cdar,
        cvar,
        mean_cvar_frontier,
        min_cdar,
        min_cvar,
    )
    from compute.views import BlackLittermanResult, black_litterman, implied_returns

# Submodules are imported on first use (PEP 562) so a Lambda that only simulates does not pay
# for scipy.cluster, and one that only clusters does not pay for the Monte Carlo code.
_SUBMODULE_OF = {
    **dict.fromkeys(
        ["BacktestResult", "calendar_rebalance_rows", "walk_forward", "walk_forward_at"],
        "backtest",
    ),
    **dict.fromkeys(
        [
            "ewma_covariance",
            "ledoit_wolf_covariance",
            "ledoit_wolf_shrinkage",
            "mean_returns",
            "sample_covariance",
        ],
        "estimators",
    ),
    **dict.fromkeys(
        [
            "ComputeError",
            "ConvergenceError",
            "InfeasibleError",
            "InvalidInputError",
            "NotPositiveDefiniteError",
        ],
        "exceptions",
    ),
    **dict.fromkeys(
        [
            "CriticalLine",
            "EfficientFrontier",
            "PortfolioPerformance",
            "critical_line",
            "efficient_frontier",
            "efficient_return",
            "efficient_risk",
            "max_sharpe",
            "min_variance",
            "portfolio_performance",
        ],
        "frontier",
    ),
    **dict.fromkeys(
        ["HRPResult", "correlation_distance", "hierarchical_risk_parity", "hrp_weights"],
        "hrp",
    ),
    **dict.fromkeys(
        [
            "GroupLimit",
            "Mandate",
            "MandateInfeasibleError",
            "check_feasible",
            "min_turnover",
            "resolve_mandate",
        ],
        "mandates",
    ),
    **dict.fromkeys(["SimulationResult", "analyze", "simulate"], "monte_carlo"),
    **dict.fromkeys(
        [
            "DrawdownPeriod",
            "drawdown",
            "drawdown_periods",
            "metrics",
            "period_returns",
            "rolling_sharpe",
            "rolling_volatility",
        ],
        "performance",
    ),
    **dict.fromkeys(
        ["RiskBudgetResult", "risk_budget", "risk_budget_weights", "risk_contributions"],
        "risk_parity",
    ),
    **dict.fromkeys(
        [
            "CVaRFrontier",
            "TailRiskResult",
            "cdar",
            "cvar",
            "mean_cvar_frontier",
            "min_cdar",
            "min_cvar",
        ],
        "tail_risk",
    ),
    **dict.fromkeys(["BlackLittermanResult", "black_litterman", "implied_returns"], "views"),
}


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module 'compute' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"compute.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BacktestResult",
    "BlackLittermanResult",
    "CVaRFrontier",
    "ComputeError",
    "ConvergenceError",
    "CriticalLine",
    "DrawdownPeriod",
    "EfficientFrontier",
    "GroupLimit",
    "HRPResult",
    "InfeasibleError",
    "InvalidInputError",
    "Mandate",
    "MandateInfeasibleError",
    "NotPositiveDefiniteError",
    "PortfolioPerformance",
    "RiskBudgetResult",
    "SimulationResult",
    "TailRiskResult",
    "analyze",
    "black_litterman",
    "calendar_rebalance_rows",
    "cdar",
    "check_feasible",
    "correlation_distance",
    "critical_line",
    "cvar",
    "drawdown",
    "drawdown_periods",
    "efficient_frontier",
    "efficient_return",
    "efficient_risk",
    "ewma_covariance",
    "hierarchical_risk_parity",
    "hrp_weights",
    "implied_returns",
    "ledoit_wolf_covariance",
    "ledoit_wolf_shrinkage",
    "max_sharpe",
    "mean_cvar_frontier",
    "mean_returns",
    "metrics",
    "min_cdar",
    "min_cvar",
    "min_turnover",
    "min_variance",
    "period_returns",
    "portfolio_performance",
    "resolve_mandate",
    "risk_budget",
    "risk_budget_weights",
    "risk_contributions",
    "rolling_sharpe",
    "rolling_volatility",
    "sample_covariance",
    "simulate",
    "walk_forward",
    "walk_forward_at",
]
