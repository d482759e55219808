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
    from compute.monte_carlo import SimulationResult, analyze, simulate
    from compute.risk_parity import (
        RiskBudgetResult,
        risk_budget,
        risk_budget_weights,
        risk_contributions,
    )

# Submodules are imported on first use (PEP 562) so a Lambda that only simulates does not pay
# for scipy.cluster, and one that only clusters does not pay for the Monte Carlo code.
_SUBMODULE_OF = {
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
    **dict.fromkeys(["SimulationResult", "analyze", "simulate"], "monte_carlo"),
    **dict.fromkeys(
        ["RiskBudgetResult", "risk_budget", "risk_budget_weights", "risk_contributions"],
        "risk_parity",
    ),
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
    "ComputeError",
    "ConvergenceError",
    "CriticalLine",
    "EfficientFrontier",
    "HRPResult",
    "InfeasibleError",
    "InvalidInputError",
    "NotPositiveDefiniteError",
    "PortfolioPerformance",
    "RiskBudgetResult",
    "SimulationResult",
    "analyze",
    "correlation_distance",
    "critical_line",
    "efficient_frontier",
    "efficient_return",
    "efficient_risk",
    "ewma_covariance",
    "hierarchical_risk_parity",
    "hrp_weights",
    "ledoit_wolf_covariance",
    "ledoit_wolf_shrinkage",
    "max_sharpe",
    "mean_returns",
    "min_variance",
    "portfolio_performance",
    "risk_budget",
    "risk_budget_weights",
    "risk_contributions",
    "sample_covariance",
    "simulate",
]
