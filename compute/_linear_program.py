"""Linear programmes solved exactly by HiGHS (``highspy``): the tail-risk optimisers and the
mandates' feasibility checks use it.

HiGHS's dual simplex ends at a basic optimal solution, exact to its feasibility and optimality
tolerances (1e-9 here, tighter than the 1e-7 default); ``highspy`` is imported on first use so
modules that never solve an LP do not load it. :func:`solve` takes a dense
:class:`LinearProgram`; :class:`Model` takes a column-wise sparse matrix and re-solves after a
change of row bounds from the previous optimal basis (a warm start).

Reference: Q. Huangfu and J. A. J. Hall, "Parallelizing the dual revised simplex method",
Mathematical Programming Computation 10 (2018) 119-142.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compute.exceptions import ConvergenceError, InfeasibleError, InvalidInputError

FloatArray = NDArray[np.float64]

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LinearProgram:
    """``min c'x`` s.t. ``row_lower <= A x <= row_upper`` and ``col_lower <= x <= col_upper``.

    ``matrix`` is dense (rows × columns); infinite bounds mean no bound on that side.
    """

    cost: FloatArray
    matrix: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray


@dataclass(frozen=True)
class LinearSolution:
    """An optimal basic solution: the point, its objective and the rows' dual values."""

    x: FloatArray
    objective: float
    row_duals: FloatArray


def solve(program: LinearProgram, *, what: str = "linear programme") -> LinearSolution:
    """Solve ``program`` with HiGHS.

    Raises
    ------
    InfeasibleError
        No point satisfies the constraints.
    ConvergenceError
        The programme is unbounded or HiGHS stopped without an optimal solution.
    """
    return Model.from_program(program, what=what).solve()


class Model:
    """A HiGHS model kept between solves, for a sequence of programmes that differ in row
    bounds (a frontier's return floor): HiGHS keeps the last optimal basis, so each re-solve
    starts from it (a warm start) instead of from scratch.

    The constraint matrix is given column-wise (compressed sparse columns: ``starts`` of
    length columns + 1, row ``indices`` and ``values``), so large sparse programmes never
    exist as dense arrays.

    Parameters
    ----------
    presolve
        HiGHS's presolve; off pays when the programme has no redundancy to remove (each
        re-solve from a basis skips it anyway).
    scale
        HiGHS's scaling of the matrix; off pays when the caller has put the entries on a
        common scale already.
    """

    def __init__(
        self,
        *,
        cost: FloatArray,
        columns: tuple[Any, Any, Any],
        n_rows: int,
        row_lower: FloatArray,
        row_upper: FloatArray,
        col_lower: FloatArray,
        col_upper: FloatArray,
        what: str = "linear programme",
        presolve: bool = True,
        scale: bool = True,
    ) -> None:
        import highspy

        starts, indices, values = columns
        n_cols = int(np.size(starts)) - 1
        if np.shape(cost) != (n_cols,):
            raise InvalidInputError(f"{what}: cost has {np.size(cost)} entries, not {n_cols}")
        self.what = what
        self._cost = np.ascontiguousarray(cost, dtype=np.float64)
        self._highs = _new_highs()
        for option, value in (
            ("output_flag", False),
            ("primal_feasibility_tolerance", _TOLERANCE),
            ("dual_feasibility_tolerance", _TOLERANCE),
            ("random_seed", 0),
            ("threads", 1),
            ("presolve", "on" if presolve else "off"),
        ):
            self._highs.setOptionValue(option, value)
        if not scale:
            self._highs.setOptionValue("simplex_scale_strategy", 0)
        lp = highspy.HighsLp()
        lp.num_col_ = n_cols
        lp.num_row_ = n_rows
        lp.col_cost_ = self._cost
        lp.col_lower_ = _highs_bounds(col_lower)
        lp.col_upper_ = _highs_bounds(col_upper)
        lp.row_lower_ = _highs_bounds(row_lower)
        lp.row_upper_ = _highs_bounds(row_upper)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = n_cols
        lp.a_matrix_.num_row_ = n_rows
        lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(indices, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(values, dtype=np.float64)
        self._highs.passModel(lp)
        self.iterations = 0

    @classmethod
    def from_program(cls, program: LinearProgram, *, what: str = "linear programme") -> Model:
        """The model of a dense :class:`LinearProgram`."""
        return cls(
            cost=program.cost,
            columns=column_wise(program.matrix),
            n_rows=program.matrix.shape[0],
            row_lower=program.row_lower,
            row_upper=program.row_upper,
            col_lower=program.col_lower,
            col_upper=program.col_upper,
            what=what,
        )

    def set_row_bounds(self, row: int, lower: float, upper: float) -> None:
        """Change one row's bounds; the next :meth:`solve` starts from the current basis."""
        self._highs.changeRowBounds(int(row), float(lower), float(upper))

    def solve(self) -> LinearSolution:
        """Solve (or re-solve) the model; :attr:`iterations` counts this solve's simplex
        iterations.

        Raises
        ------
        InfeasibleError
            No point satisfies the constraints.
        ConvergenceError
            The programme is unbounded or HiGHS stopped without an optimal solution.
        """
        import highspy

        highs = self._highs
        highs.run()
        self.iterations = int(highs.getInfo().simplex_iteration_count)
        status = highs.getModelStatus()
        statuses = highspy.HighsModelStatus
        if status == statuses.kInfeasible:
            raise InfeasibleError(f"{self.what}: no point satisfies the constraints")
        if status == statuses.kModelEmpty:
            return LinearSolution(x=np.zeros(0), objective=0.0, row_duals=np.zeros(0))
        if status != statuses.kOptimal:
            raise ConvergenceError(
                f"{self.what}: HiGHS stopped with status {highs.modelStatusToString(status)}"
            )
        solution = highs.getSolution()
        x = np.asarray(solution.col_value, dtype=np.float64)
        return LinearSolution(
            x=x,
            objective=float(self._cost @ x),
            row_duals=np.asarray(solution.row_dual, dtype=np.float64),
        )


_BANNER_LOCK = threading.Lock()
_banner_shown = False


def _new_highs() -> Any:
    """A HiGHS instance. HiGHS writes a two-line banner to file descriptor 1 the first time a
    process constructs one, before any option can silence it; on Lambda that would be log
    noise on every cold start, and the local runtime's workers answer on stdout. The first
    construction therefore runs with descriptor 1 pointed at /dev/null (and C's buffered
    stdout flushed there)."""
    import highspy

    global _banner_shown  # noqa: PLW0603 - once per process, like the banner itself
    with _BANNER_LOCK:
        # highspy's Highs.__init__ has no return annotation.
        if _banner_shown:
            return highspy.Highs()  # type: ignore[no-untyped-call]
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as sink:
                os.dup2(sink.fileno(), 1)
                highs = highspy.Highs()  # type: ignore[no-untyped-call]
                # The banner sits in C's stdio buffer: flush it while it still goes nowhere.
                ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_shown = True
        return highs


def _highs_bounds(values: FloatArray) -> FloatArray:
    """HiGHS spells infinity as ±1e30 and treats anything beyond as infinite."""
    return np.clip(np.asarray(values, dtype=np.float64), -np.inf, np.inf)


def column_wise(matrix: FloatArray) -> tuple[Any, Any, Any]:
    """Compressed sparse column arrays (starts, row indices, values) of a dense matrix."""
    columns = np.asarray(matrix, dtype=np.float64).T
    nonzero = columns != 0.0
    starts = np.concatenate([[0], np.cumsum(nonzero.sum(axis=1))]).astype(np.int32)
    _, rows = np.nonzero(nonzero)
    return starts, rows.astype(np.int32), columns[nonzero]
