"""The numerics' choice sets, spelled once: the request models of the analyses take them
from here, and the functions check against them. Plain typing: no numpy on import.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "LINKAGE_METHODS",
    "REBALANCE_FREQUENCIES",
    "SIMULATION_METHODS",
    "LinkageMethod",
    "RebalanceFrequency",
    "SimulationMethod",
]

LinkageMethod = Literal["single", "complete", "average", "ward"]
SimulationMethod = Literal["gbm", "bootstrap"]
RebalanceFrequency = Literal["none", "daily", "monthly", "quarterly", "annually"]

LINKAGE_METHODS: Final[tuple[str, ...]] = get_args(LinkageMethod)
SIMULATION_METHODS: Final[tuple[str, ...]] = get_args(SimulationMethod)
REBALANCE_FREQUENCIES: Final[tuple[str, ...]] = get_args(RebalanceFrequency)
