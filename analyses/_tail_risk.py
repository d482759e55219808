"""What the tail-risk analyses share (``cvar-frontier``, ``min-cdar``): the request's fields,
the mandate as ``compute.tail_risk`` keywords, the size of their linear programmes.

Both solve linear programmes over the run's daily returns (Rockafellar & Uryasev's CVaR, and
Chekhlov, Uryasev & Zabarankin's CDaR): one scenario variable per day, one row per day with
every asset in it, so a programme holds about T·N nonzeros (T days, N assets) and its simplex
time grows faster than that. :func:`work` tells a synchronous run from one for the worker, and
:func:`limits` refuses what the worker could not finish.

numpy and ``compute`` are imported inside the functions (the registry is read by the CRUD
functions, which never load them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from pydantic import Field, model_validator

from analyses._common import MIN_OBSERVATIONS, Weights
from core.exceptions import UnprocessableError
from core.models import DEFAULT_LOOKBACK_DAYS, FiniteFloat, ReturnsRequest

__all__ = [
    "CDAR_SOLVES",
    "DEFAULT_BETA",
    "TailRiskRequest",
    "check_observations",
    "compute_errors",
    "current_weights",
    "estimated_days",
    "level",
    "limits_of",
    "mandate_keywords_of",
    "mandate_lines",
    "spread_costs",
    "work_of",
]

DEFAULT_BETA: Final = 0.95
# The programmes' work (:func:`_units`), measured in docs/TAIL_RISK.md at 2-4·10⁹ units a
# second here: a cell of ``analyses.runner.SYNC_CELL_BUDGET`` (2·10⁷ cells are answered
# synchronously) is CELL_UNITS units, so a synchronous run solves in under ten seconds;
# MAX_UNITS is about two minutes of the run worker (its timeout is five).
CELL_UNITS: Final = 1000
MAX_UNITS: Final = 3 * 10**11
# The work of one minimum-CDaR solve, in cold CVaR solves (measured: its T drawdown rows,
# chained day to day, make the simplex take many more iterations).
CDAR_SOLVES: Final = 30


class TailRiskRequest(ReturnsRequest):
    """The window fields, the confidence level and per-asset bounds (a portfolio's mandate,
    when it has one, takes precedence)."""

    beta: FiniteFloat = Field(
        default=DEFAULT_BETA,
        ge=0.5,
        le=0.999,
        description="Confidence level β: the tail is the worst 1 − β of the days "
        "(0.95: the worst 5 %).",
    )
    min_weight: FiniteFloat = Field(
        default=0.0,
        ge=-1,
        le=1,
        description="Every asset's lower bound (negative: short); a portfolio's constraints "
        "take precedence.",
    )
    max_weight: FiniteFloat = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Every asset's upper bound; a portfolio's constraints take precedence.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> TailRiskRequest:
        if self.min_weight > self.max_weight:
            raise ValueError("minWeight must not exceed maxWeight")
        return self


def level(fraction: float) -> str:
    """A confidence level or tail share as the reports write it: 0.95 → "95 %"."""
    return f"{100 * float(fraction):.3g} %"


# ------------------------------------------------------------------ the mandate
def current_weights(tickers: Sequence[str], weights: Weights | None) -> list[float] | None:
    """The portfolio's own weights in the run's ticker order (normalised), or ``None``."""
    if not weights:
        return None
    held = [float(weights.get(t, 0.0)) for t in tickers]
    total = sum(held)
    return [w / total for w in held] if total > 0 else None


def mandate_keywords_of(
    request: TailRiskRequest, inputs: Any, weights: Weights | None
) -> dict[str, Any]:
    """The ``compute.tail_risk`` keywords of a run.

    A portfolio run with ``constraints`` keeps to its mandate (``analyses.mandates``): its
    per-asset ``bounds`` (which take precedence over the request's minWeight/maxWeight, as in
    the efficient frontier), ``groups``, ``turnover`` from the portfolio's own weights and
    ``costs`` (fractions of the amount traded). Otherwise the request's bounds alone.
    """
    constraints = inputs.constraints
    if constraints is None:
        return {"bounds": (request.min_weight, request.max_weight)}
    from analyses.mandates import mandate_keywords

    return dict(mandate_keywords(constraints, inputs.tickers, weights))


def spread_costs(keywords: dict[str, Any], periods: int) -> dict[str, Any]:
    """``keywords`` with the cost rates divided by ``periods``: one trade's cost spread over
    that many days of holding (``compute.tail_risk`` charges it to a single day otherwise)."""
    if "costs" not in keywords:
        return keywords
    current, rates = keywords["costs"]
    return {**keywords, "costs": (current, rates / periods)}


def mandate_lines(keywords: dict[str, Any], tickers: Sequence[str]) -> list[str]:
    """The constraints a run kept to, one line each, for the result and the report."""
    import numpy as np

    n = len(tickers)
    lower, upper = (np.broadcast_to(np.asarray(b, float), (n,)) for b in keywords["bounds"])
    lines = []
    if np.ptp(lower) == 0 and np.ptp(upper) == 0:
        lines.append(f"every weight in [{lower[0]:g}, {upper[0]:g}]")
    else:
        lines.append(f"weights in [{lower.min():g}, {upper.max():g}], some assets tighter")
    for name, (members, low, high) in (keywords.get("groups") or {}).items():
        sides = []
        if low is not None and math.isfinite(low):
            sides.append(f">= {low:g}")
        if high is not None and math.isfinite(high):
            sides.append(f"<= {high:g}")
        names = ", ".join(tickers[int(i)] for i in list(members)[:8])
        more = f" and {len(members) - 8} more" if len(members) > 8 else ""
        lines.append(f"group {name} ({names}{more}) {' and '.join(sides)}")
    turnover = keywords.get("turnover")
    if turnover is not None:
        lines.append(f"turnover <= {turnover[1]:g} from the portfolio's own weights")
    costs = keywords.get("costs")
    if costs is not None:
        rates = np.broadcast_to(np.asarray(costs[1], float), (n,))
        if np.ptp(rates) == 0:
            lines.append(f"costs {rates[0] * 1e4:g} bp of the amount traded")
        else:
            lines.append(
                f"costs {rates.min() * 1e4:g} to {rates.max() * 1e4:g} bp of the amount traded"
            )
    return lines


@contextmanager
def compute_errors(what: str) -> Iterator[None]:
    """``compute``'s errors as the 422s a client can act on."""
    from compute.exceptions import ComputeError, InfeasibleError
    from compute.mandates import MandateInfeasibleError

    try:
        yield
    except MandateInfeasibleError as error:
        raise UnprocessableError(
            f"{what}: no fully invested portfolio meets the portfolio's constraints "
            f"({'; '.join(error.conflicts)}).",
            [f"conflict: {c}" for c in error.conflicts],
        ) from None
    except InfeasibleError as error:
        raise UnprocessableError(
            f"{what}: no portfolio meets the constraints ({error}).",
            ["loosen minWeight/maxWeight or the portfolio's constraints"],
        ) from None
    except ComputeError as error:
        raise UnprocessableError(f"{what}: {error}", [type(error).__name__]) from None


def check_observations(returns: Any) -> None:
    """At least :data:`MIN_OBSERVATIONS` days: a tail of fewer is no tail."""
    if returns.shape[0] < MIN_OBSERVATIONS:
        raise UnprocessableError(
            f"Too few observations: {returns.shape[0]} days of returns; the tail-risk analyses "
            f"need at least {MIN_OBSERVATIONS} (a year, 252, is typical).",
            [f"limit: observations >= {MIN_OBSERVATIONS}"],
        )


# ------------------------------------------------------------------ size
def estimated_days(request: ReturnsRequest) -> int:
    """The rows a request will read, as far as the request tells (a lake run's window is
    only known once read: calendar days × 252/365)."""
    if request.returns is not None:
        return len(next(iter(request.returns.values())))
    if request.start is not None and request.end is not None:
        return max((request.end - request.start).days * 252 // 365, 1)
    lookback = request.lookback_days or DEFAULT_LOOKBACK_DAYS
    return lookback * 252 // 365


def _units(days: int, assets: int, solves: int) -> int:
    """The programmes' work: solves × nonzeros × rows, T·(N + 2) nonzeros over T rows per
    solve; ``solves`` counts in cold CVaR solves (a warm-started frontier point is a fraction
    of one, a CDaR solve many: its drawdown rows chain the days)."""
    return solves * days * (assets + 2) * days


def work_of(solves: Callable[[Any], int]) -> Callable[[Any, int], int]:
    """An analysis's ``work``: cells of ``analyses.runner.SYNC_CELL_BUDGET``."""

    def work(request: Any, assets: int) -> int:
        return _units(estimated_days(request), assets, solves(request)) // CELL_UNITS

    return work


def limits_of(
    what: str, solves: Callable[[Any], int]
) -> Callable[[Any, int], list[tuple[str, str]]]:
    """An analysis's ``limits``: a documented 422 above what the run worker can solve."""

    def limits(request: Any, assets: int) -> list[tuple[str, str]]:
        days = estimated_days(request)
        units = _units(days, assets, solves(request))
        if units <= MAX_UNITS:
            return []
        return [
            (
                f"{what} too large: {days:,} days × {assets:,} assets (linear programmes of "
                f"{days * (assets + 2):.2g} nonzeros, work ≈ {units:.2g} > {MAX_UNITS:.0e}) is "
                "more than the run worker can solve in its time. Shorten the window "
                "(lookbackDays or start), or use fewer assets"
                + (" or points." if solves(request) > 1 and what.endswith("frontier") else "."),
                "limit: tail-risk programme size",
            )
        ]

    return limits
