r"""Linear mandates: the constraints a real portfolio is run under, beyond per-asset bounds.

Every optimiser of :mod:`compute.frontier` and :mod:`compute.tail_risk` takes, keyword-only and
all optional:

``groups``
    mapping name → ``(asset_indices, lower, upper)``: :math:`l_g \le \sum_{i\in g} w_i \le u_g`
    (``None`` for no limit on that side);
``inequalities``
    ``(A, b)``: :math:`A w \le b`, A is M × N;
``turnover``
    ``(current_weights, limit)``: :math:`\sum_i |w_i - w^0_i| \le \text{limit}`;
``costs``
    ``(current_weights, rates)``: returns are net of :math:`\sum_i c_i |w_i - w^0_i|`
    (a rate per asset or one for all, as a fraction: 10 bp is 0.001).

With both ``turnover`` and ``costs`` the current weights must agree. :func:`resolve_mandate`
checks the data and :func:`check_feasible` proves that some fully invested portfolio meets the
mandate, or raises :class:`MandateInfeasibleError` naming an irreducible set of conflicting
constraints (every proper subset of it is feasible), found by the deletion filter of Chinneck
& Dravnieks, "Locating minimal infeasible constraint sets in linear programs", ORSA Journal on
Computing 3 (1991) 157-168, over linear programmes solved by HiGHS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compute import _critical_line, _linear_program
from compute._validation import as_float_array, number_or_infinity, require_finite, vector_of_length
from compute.exceptions import InfeasibleError, InvalidInputError

__all__ = [
    "GroupLimit",
    "Mandate",
    "MandateInfeasibleError",
    "check_feasible",
    "min_turnover",
    "resolve_mandate",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# Constraint values are met to this absolute tolerance (the LP solver's is 1e-9).
FEASIBILITY_TOLERANCE = 1e-8


class MandateInfeasibleError(InfeasibleError):
    """No fully invested portfolio meets the mandate.

    Attributes
    ----------
    conflicts
        Names of an irreducible set of constraints that cannot hold together (dropping any one
        of them makes the rest feasible), e.g. ``("budget", "group 'tech' >= 0.6",
        "group 'energy' >= 0.5", "bounds")``.
    """

    def __init__(self, message: str, *, conflicts: tuple[str, ...]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


@dataclass(frozen=True)
class GroupLimit:
    """``lower <= sum(w[members]) <= upper`` (infinite when a side is open)."""

    name: str
    members: IntArray
    lower: float
    upper: float

    def row(self, n_assets: int) -> FloatArray:
        """The group's indicator row over all assets."""
        row = np.zeros(n_assets)
        row[self.members] = 1.0
        return row

    def describe(self) -> str:
        """The limit as the error messages name it."""
        sides = []
        if math.isfinite(self.lower):
            sides.append(f">= {self.lower:g}")
        if math.isfinite(self.upper):
            sides.append(f"<= {self.upper:g}")
        return f"group {self.name!r} " + " and ".join(sides)


@dataclass(frozen=True)
class Mandate:
    """A resolved mandate: per-asset bounds plus the optional linear parts.

    Attributes
    ----------
    lower, upper
        Per-asset bounds, finite (as :func:`compute.frontier.critical_line` resolves them).
    groups
        The group limits.
    inequality_matrix, inequality_rhs
        ``A`` (M × N) and ``b`` of ``A w <= b``; M may be 0.
    current_weights
        ``w0`` of the turnover limit and the costs; ``None`` when neither is given.
    turnover_limit
        The cap on :math:`\\sum_i |w_i - w^0_i|`, or ``None``.
    cost_rates
        :math:`c_i` (length N, zeros when only a turnover limit is given), or ``None``.
    asset_names
        Names used in error messages (``asset 3`` by default).
    """

    lower: FloatArray
    upper: FloatArray
    groups: tuple[GroupLimit, ...] = ()
    inequality_matrix: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    inequality_rhs: FloatArray = field(default_factory=lambda: np.zeros(0))
    current_weights: FloatArray | None = None
    turnover_limit: float | None = None
    cost_rates: FloatArray | None = None
    asset_names: tuple[str, ...] = ()

    @property
    def n_assets(self) -> int:
        """N."""
        return int(self.lower.size)

    @property
    def is_box_only(self) -> bool:
        """True when only per-asset bounds constrain the weights (the plain critical line)."""
        return (
            not self.groups
            and self.inequality_matrix.shape[0] == 0
            and self.turnover_limit is None
            and (self.cost_rates is None or not np.any(self.cost_rates > 0.0))
        )

    def linear_rows(self) -> tuple[FloatArray, FloatArray, FloatArray, list[str]]:
        """The groups and inequalities as two-sided rows ``lower <= R w <= upper``.

        Returns ``(R, lower, upper, names)`` with one row per group, then one per inequality.
        """
        n = self.n_assets
        rows = [g.row(n) for g in self.groups]
        lows = [g.lower for g in self.groups]
        highs = [g.upper for g in self.groups]
        names = [g.describe() for g in self.groups]
        for k in range(self.inequality_matrix.shape[0]):
            rows.append(self.inequality_matrix[k])
            lows.append(-np.inf)
            highs.append(float(self.inequality_rhs[k]))
            names.append(f"inequality {k} (A[{k}] w <= {self.inequality_rhs[k]:g})")
        matrix = np.vstack(rows) if rows else np.zeros((0, n))
        return matrix, np.asarray(lows, dtype=float), np.asarray(highs, dtype=float), names

    def trades(self, weights: FloatArray) -> FloatArray:
        """:math:`|w - w^0|` per asset (zeros without current weights)."""
        if self.current_weights is None:
            return np.zeros_like(weights)
        traded: FloatArray = np.abs(weights - self.current_weights)
        return traded

    def turnover_of(self, weights: FloatArray) -> float:
        """:math:`\\sum_i |w_i - w^0_i|`."""
        return float(np.sum(self.trades(weights)))

    def cost_of(self, weights: FloatArray) -> float:
        """:math:`\\sum_i c_i |w_i - w^0_i|` (0 without costs)."""
        if self.cost_rates is None:
            return 0.0
        return float(self.cost_rates @ self.trades(weights))

    def net_returns(self, weights: FloatArray, mu: FloatArray) -> FloatArray:
        """Expected returns net of costs of each row of ``weights`` (K × N or N)."""
        gross = weights @ mu
        if self.cost_rates is None or self.current_weights is None:
            result: FloatArray = np.asarray(gross, dtype=float)
            return result
        net: FloatArray = gross - np.abs(weights - self.current_weights) @ self.cost_rates
        return net

    def violations(self, weights: Any, tolerance: float = FEASIBILITY_TOLERANCE) -> list[str]:
        """The constraints ``weights`` breaks by more than ``tolerance`` (empty when none)."""
        w = vector_of_length(weights, "weights", self.n_assets)
        broken = []
        if abs(float(w.sum()) - 1.0) > tolerance:
            broken.append(f"budget (sum {w.sum():.12g})")
        if np.any(w < self.lower - tolerance) or np.any(w > self.upper + tolerance):
            broken.append("bounds")
        matrix, lows, highs, names = self.linear_rows()
        values = matrix @ w
        for k, name in enumerate(names):
            if values[k] < lows[k] - tolerance or values[k] > highs[k] + tolerance:
                broken.append(f"{name} (value {values[k]:.12g})")
        if (
            self.turnover_limit is not None
            and self.turnover_of(w) > self.turnover_limit + tolerance
        ):
            broken.append(f"turnover <= {self.turnover_limit:g} (value {self.turnover_of(w):.12g})")
        return broken

    def lifted_program(
        self, objective: FloatArray | None = None
    ) -> tuple[_linear_program.LinearProgram, int]:
        """The mandate as a linear programme over ``x = [w, p, m]`` (``p, m`` only with
        current weights: :math:`w - p + m = w^0`, :math:`p, m \\ge 0`, so
        :math:`|w_i - w^0_i| \\le p_i + m_i` with equality at any optimum that charges trades).

        ``objective`` is the cost over ``x`` (zeros by default). Returns the programme and the
        number of its columns; callers append their own columns and rows to it.
        """
        n = self.n_assets
        traded = self.current_weights is not None
        n_cols = 3 * n if traded else n
        rows: list[FloatArray] = []
        lows: list[float] = []
        highs: list[float] = []

        def add(row: FloatArray, low: float, high: float) -> None:
            full = np.zeros(n_cols)
            full[: row.size] = row
            rows.append(full)
            lows.append(low)
            highs.append(high)

        add(np.ones(n), 1.0, 1.0)
        matrix, row_lows, row_highs, _ = self.linear_rows()
        for k in range(matrix.shape[0]):
            add(matrix[k], float(row_lows[k]), float(row_highs[k]))
        if traded and self.current_weights is not None:
            for i in range(n):
                row = np.zeros(3 * n)
                row[i], row[n + i], row[2 * n + i] = 1.0, -1.0, 1.0
                add(row, float(self.current_weights[i]), float(self.current_weights[i]))
            if self.turnover_limit is not None:
                row = np.zeros(3 * n)
                row[n:] = 1.0
                add(row, -np.inf, self.turnover_limit)
        col_lower = np.concatenate([self.lower, np.zeros(n_cols - n)])
        col_upper = np.concatenate([self.upper, np.full(n_cols - n, np.inf)])
        cost = np.zeros(n_cols) if objective is None else objective
        program = _linear_program.LinearProgram(
            cost=cost,
            matrix=np.vstack(rows),
            row_lower=np.asarray(lows),
            row_upper=np.asarray(highs),
            col_lower=col_lower,
            col_upper=col_upper,
        )
        return program, n_cols


def resolve_mandate(
    n_assets: int,
    bounds: Any = (0.0, 1.0),
    *,
    groups: Mapping[str, tuple[Sequence[int] | Any, float | None, float | None]] | None = None,
    inequalities: tuple[Any, Any] | None = None,
    turnover: tuple[Any, float] | None = None,
    costs: tuple[Any, Any] | None = None,
    asset_names: Sequence[str] | None = None,
) -> Mandate:
    """Check and resolve the mandate's parts (see the module docstring for their meaning).

    Raises
    ------
    InvalidInputError
        Malformed parts: unknown asset indices, NaN, negative rates or limits, a group with
        lower > upper, current weights of the wrong length or disagreeing between ``turnover``
        and ``costs``.
    InfeasibleError
        The per-asset bounds alone admit no fully invested portfolio.
    """
    lower, upper = _critical_line.resolve_bounds(bounds, n_assets)
    names = tuple(asset_names) if asset_names is not None else ()
    if names and len(names) != n_assets:
        raise InvalidInputError(f"asset_names has {len(names)} names for {n_assets} assets")
    group_limits = tuple(_group(name, spec, n_assets) for name, spec in (groups or {}).items())
    if inequalities is None:
        matrix, rhs = np.zeros((0, n_assets)), np.zeros(0)
    else:
        try:
            raw_matrix, raw_rhs = inequalities
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("inequalities must be a pair (A, b)") from exc
        matrix = np.atleast_2d(as_float_array(raw_matrix, "inequalities A", np.ndim(raw_matrix)))
        if matrix.ndim != 2 or matrix.shape[1] != n_assets:
            raise InvalidInputError(
                f"inequalities A must be M × {n_assets}, got shape {np.shape(raw_matrix)}"
            )
        require_finite(matrix, "inequalities A")
        rhs = vector_of_length(np.atleast_1d(raw_rhs), "inequalities b", matrix.shape[0])
    current: FloatArray | None = None
    limit: float | None = None
    rates: FloatArray | None = None
    if turnover is not None:
        current, limit = _turnover(turnover, n_assets)
    if costs is not None:
        cost_current, rates = _costs(costs, n_assets)
        if current is not None and not np.allclose(current, cost_current, rtol=0.0, atol=1e-12):
            raise InvalidInputError("turnover and costs must use the same current weights")
        current = cost_current
    if current is not None and rates is None:
        rates = np.zeros(n_assets)
    return Mandate(
        lower=lower,
        upper=upper,
        groups=group_limits,
        inequality_matrix=matrix,
        inequality_rhs=rhs,
        current_weights=current,
        turnover_limit=limit,
        cost_rates=rates,
        asset_names=names,
    )


def check_feasible(mandate: Mandate) -> None:
    """Raise :class:`MandateInfeasibleError` unless a fully invested portfolio meets the
    mandate; the error names an irreducible conflicting set of constraints."""
    if _feasible(mandate, _all_parts(mandate)):
        return
    parts = _all_parts(mandate)
    # Deletion filter: drop each part in turn; if the rest is still infeasible it is not needed.
    for part in list(parts):
        trial = [p for p in parts if p != part]
        if not _feasible(mandate, trial):
            parts = trial
    names = tuple(_part_name(mandate, part) for part in parts)
    raise MandateInfeasibleError(
        "no fully invested portfolio meets the mandate: "
        + "; ".join(names)
        + " cannot all hold together",
        conflicts=names,
    )


def min_turnover(mandate: Mandate) -> float:
    """The least :math:`\\sum_i |w_i - w^0_i|` that reaches the mandate's bounds, groups and
    inequalities from its current weights (its own turnover limit ignored): 0 when the
    current weights already meet them. A linear programme (HiGHS).

    A backtest uses it when drift has carried the held weights outside a limit by more than
    the turnover limit can bring back: the rebalance then trades this minimum instead.

    Raises
    ------
    InvalidInputError
        The mandate has no current weights.
    MandateInfeasibleError
        No fully invested portfolio meets the bounds, groups and inequalities.
    """
    if mandate.current_weights is None:
        raise InvalidInputError("min_turnover needs the mandate's current weights")
    untethered = replace(mandate, turnover_limit=None)
    n = mandate.n_assets
    objective = np.concatenate([np.zeros(n), np.ones(2 * n)])
    program, _ = untethered.lifted_program(objective)
    try:
        solution = _linear_program.solve(program, what="minimum turnover")
    except InfeasibleError:
        check_feasible(untethered)
        raise
    return max(solution.objective, 0.0)


# ------------------------------------------------------------------ private helpers
def _group(name: str, spec: Any, n_assets: int) -> GroupLimit:
    try:
        members_raw, low_raw, high_raw = spec
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"group {name!r} must be (asset_indices, lower, upper), got {spec!r}"
        ) from exc
    try:
        members = np.unique(np.asarray(list(members_raw), dtype=np.int64))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"group {name!r}: asset indices must be integers") from exc
    if members.size == 0:
        raise InvalidInputError(f"group {name!r} has no assets")
    if members[0] < 0 or members[-1] >= n_assets:
        raise InvalidInputError(f"group {name!r}: asset indices must lie in [0, {n_assets})")
    low = -math.inf if low_raw is None else number_or_infinity(low_raw, f"group {name!r} lower")
    high = math.inf if high_raw is None else number_or_infinity(high_raw, f"group {name!r} upper")
    if low > high:
        raise InvalidInputError(f"group {name!r}: lower {low:g} exceeds upper {high:g}")
    return GroupLimit(name=str(name), members=members, lower=low, upper=high)


def _current(value: Any, n_assets: int, what: str) -> FloatArray:
    weights = vector_of_length(value, f"{what} current weights", n_assets)
    return weights


def _turnover(spec: Any, n_assets: int) -> tuple[FloatArray, float]:
    try:
        current_raw, limit_raw = spec
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("turnover must be a pair (current_weights, limit)") from exc
    limit = number_or_infinity(limit_raw, "turnover limit")
    if not math.isfinite(limit) or limit < 0.0:
        raise InvalidInputError(f"turnover limit must be finite and >= 0, got {limit!r}")
    return _current(current_raw, n_assets, "turnover"), limit


def _costs(spec: Any, n_assets: int) -> tuple[FloatArray, FloatArray]:
    try:
        current_raw, rates_raw = spec
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("costs must be a pair (current_weights, rates)") from exc
    rates = np.asarray(rates_raw, dtype=np.float64)
    if rates.ndim == 0:
        rates = np.full(n_assets, float(rates))
    rates = vector_of_length(rates, "cost rates", n_assets)
    if np.any(rates < 0.0):
        raise InvalidInputError("cost rates must be >= 0")
    return _current(current_raw, n_assets, "costs"), rates


# A part of the mandate, for the deletion filter: ("budget",), ("bounds",), ("group", k),
# ("inequality", k) or ("turnover",).
_Part = tuple[str, int]


def _all_parts(mandate: Mandate) -> list[_Part]:
    parts: list[_Part] = [("budget", 0), ("bounds", 0)]
    parts += [("group", k) for k in range(len(mandate.groups))]
    parts += [("inequality", k) for k in range(mandate.inequality_matrix.shape[0])]
    if mandate.turnover_limit is not None:
        parts.append(("turnover", 0))
    return parts


def _part_name(mandate: Mandate, part: _Part) -> str:
    kind, k = part
    if kind == "budget":
        return "budget (weights sum to 1)"
    if kind == "bounds":
        return "per-asset bounds"
    if kind == "group":
        return mandate.groups[k].describe()
    if kind == "inequality":
        return f"inequality {k} (A[{k}] w <= {mandate.inequality_rhs[k]:g})"
    return f"turnover <= {mandate.turnover_limit:g}"


def _feasible(mandate: Mandate, parts: list[_Part]) -> bool:
    """Whether the given parts of the mandate (and nothing else) can hold together."""
    n = mandate.n_assets
    kept = set(parts)
    program, n_cols = mandate.lifted_program()
    row_lower = program.row_lower.copy()
    row_upper = program.row_upper.copy()
    col_lower = program.col_lower.copy()
    col_upper = program.col_upper.copy()
    # Row layout of lifted_program: budget, groups, inequalities, trade rows, turnover.
    if ("budget", 0) not in kept:
        row_lower[0], row_upper[0] = -np.inf, np.inf
    n_groups = len(mandate.groups)
    for k in range(n_groups):
        if ("group", k) not in kept:
            row_lower[1 + k], row_upper[1 + k] = -np.inf, np.inf
    for k in range(mandate.inequality_matrix.shape[0]):
        if ("inequality", k) not in kept:
            row_lower[1 + n_groups + k], row_upper[1 + n_groups + k] = -np.inf, np.inf
    if mandate.turnover_limit is not None and ("turnover", 0) not in kept:
        row_lower[-1], row_upper[-1] = -np.inf, np.inf
    if ("bounds", 0) not in kept:
        col_lower[:n], col_upper[:n] = -np.inf, np.inf
    trial = _linear_program.LinearProgram(
        cost=np.zeros(n_cols),
        matrix=program.matrix,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=col_lower,
        col_upper=col_upper,
    )
    try:
        _linear_program.solve(trial, what="mandate feasibility")
    except InfeasibleError:
        return False
    return True
