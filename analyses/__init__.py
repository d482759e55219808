"""The analyses: one module each, registered in ``core.analysis`` on import.

Importing this package registers the built-in analyses (in this order: the order of the
API's run routes, of a portfolio's default analyses and of the portfolio report). Each
module holds an analysis's request and result models, its call into ``compute``, its result
tables and its report section, and ends in an ``ANALYSIS`` (``core.analysis.Analysis``).
Adding one is adding a module and a line here: docs/DEVELOPMENT.md, "Adding an analysis".

The package imports pydantic and core only; numpy, scipy, pyarrow and matplotlib are
imported by the analyses' functions when a run or a report needs them, so the CRUD
functions read the registry within their cold-start budget. The run-side modules
(``analyses.runner``, ``analyses.results``, ``analyses.handlers``) are not imported here.
"""

from __future__ import annotations

from analyses import (
    analyze,
    backtest,
    cvar_frontier,
    efficient_frontier,
    hrp,
    min_cdar,
    risk_parity,
    simulate,
)
from core.analysis import Analysis, analyses, analysis, register

__all__ = ["BUILT_IN", "Analysis", "analyses", "analysis", "register"]

BUILT_IN: tuple[Analysis, ...] = tuple(
    register(module.ANALYSIS, replace=True)
    for module in (
        risk_parity,
        hrp,
        efficient_frontier,
        simulate,
        analyze,
        backtest,
        cvar_frontier,
        min_cdar,
    )
)
