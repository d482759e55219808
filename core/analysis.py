"""What an analysis is, and the registry of them.

An analysis (risk parity, HRP, the efficient frontier, a Monte Carlo simulation, …) is one
module of the ``analyses`` room ending in an :class:`Analysis`: its request and result
models, its call into ``compute``, its result tables, its report section and its API route.
``analyses`` registers its modules here on import; everything that handles runs iterates the
registry instead of naming run types: the routes and the OpenAPI document
(``core.routes.routes``), the portfolio's ``analyses`` choices (``core.models.AnalysisSpec``),
the fan-out, the run worker, the results writer (``analyses.results``), the renderer
(``reports.render``) and the demo.

The contract lives in ``core`` (the models validate run types against the registry) and
holds declarations only: nothing here imports numpy, pyarrow or matplotlib, and an analysis
module imports them inside its functions, so the CRUD functions can read the registry
within their cold-start budget.

See docs/DEVELOPMENT.md, "Adding an analysis".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel

from core.lake import RESULTS_PREFIX

__all__ = [
    "AS_OF",
    "CREATED_AT",
    "PORTFOLIO_ID",
    "RUN_ID",
    "RUN_TYPE",
    "TENANT",
    "Analysis",
    "Column",
    "DemoRun",
    "Endpoint",
    "ReportSection",
    "ResultTable",
    "Rows",
    "UnknownAnalysisError",
    "analyses",
    "analysis",
    "analysis_of_request",
    "register",
    "unregister",
]

# The Glue/Athena column types a result table may declare (the writer maps each to Arrow).
COLUMN_TYPES: Final = frozenset(
    {"string", "double", "bigint", "int", "boolean", "date", "timestamp"}
)


@dataclass(frozen=True)
class Column:
    """One column of a result table, in Athena's (Hive DDL) type names."""

    name: str
    type: str
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(
                f"column {self.name}: type {self.type!r} not in {sorted(COLUMN_TYPES)}"
            )


# The per-run columns the results writer fills on every row (tables list the ones they hold).
RUN_ID: Final = Column("run_id", "string")
TENANT: Final = Column("tenant", "string")
PORTFOLIO_ID: Final = Column("portfolio_id", "string", nullable=True)  # null: inline runs
RUN_TYPE: Final = Column("run_type", "string")
AS_OF: Final = Column("as_of", "date")
CREATED_AT: Final = Column("created_at", "timestamp")
RUN_COLUMN_NAMES: Final = frozenset(
    c.name for c in (RUN_ID, TENANT, PORTFOLIO_ID, RUN_TYPE, AS_OF, CREATED_AT)
)


@dataclass(frozen=True)
class ResultTable:
    """A results dataset: a Glue table over ``results/<name>/run_date=…/`` (template.yaml).

    Several analyses may write one table (every optimizer writes ``optimization_weights``);
    they declare the same object. ``run_date``, the partition, is a folder, not a column.
    """

    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def prefix(self) -> str:
        """``results/<name>/``: the table's location under the data bucket."""
        return f"{RESULTS_PREFIX}{self.name}/"

    def glue_columns(self) -> list[tuple[str, str]]:
        """``(name, Athena type)`` of each column, as the Glue table declares them."""
        return [(c.name, c.type) for c in self.columns]

    @property
    def data_columns(self) -> tuple[Column, ...]:
        """The columns an analysis fills (the others are the writer's per-run columns)."""
        return tuple(c for c in self.columns if c.name not in RUN_COLUMN_NAMES)


# An analysis's rows of one run: ``{table name: {column: values}}`` (lists or numpy arrays,
# one entry per row, the data columns only).
Rows = dict[str, Mapping[str, Sequence[Any] | Any]]


@dataclass(frozen=True)
class Endpoint:
    """The API route that submits the analysis (``POST``; 201 when done in the synchronous
    budget, 202 otherwise)."""

    path: str
    operation: str  # the OpenAPI operationId and the template's event name (PascalCase)
    function: str  # the template function serving it
    summary: str
    example: dict[str, Any]


@dataclass(frozen=True)
class ReportSection:
    """What a run's report shows of the analysis.

    ``build(view, result, own, tickers)`` appends tables and charts to ``view`` (a
    ``reports.RunView``) from the typed ``result``; ``own`` is the portfolio's weights (or
    ``None``), ``tickers`` the run's. ``key_chart`` names the chart the portfolio report
    keeps for it.
    """

    build: Callable[[Any, Any, dict[str, float] | None, list[str]], None]
    key_chart: str


@dataclass(frozen=True)
class Analysis:
    """One analysis: everything the platform needs to run, store, query and show it.

    Attributes
    ----------
    name
        The run type (``Run.type``; a portfolio's ``analyses[].type``), kebab-case.
    label
        Its name for people (reports, the demo).
    request, result
        Its request model (the route's body, and a recompute's parameters) and its typed
        result model (``Run.result`` of its runs, and the OpenAPI document's schema).
    endpoint
        The route submitting it.
    compute
        ``compute(request, inputs, weights) -> result``: the call into ``compute``.
        ``inputs`` are the run's returns (``analyses.runner.Inputs``; ``None`` when
        ``reads_returns`` is false), ``weights`` the portfolio's (portfolio runs).
    tables, rows
        The result tables it writes, and ``rows(result)`` (see :data:`Rows`).
    report
        Its report section; ``None``: the report shows parameters and window only.
    reads_returns
        Whether a run reads returns (inline or from the lake); false for analyses of data
        the request carries whole (``analyze``).
    keeps_fresh
        Whether a portfolio may list it in ``analyses`` (recomputed on new data, nightly).
    default_parameters
        When not ``None``: a portfolio created without ``analyses`` keeps this one fresh,
        with these parameters.
    work
        ``work(request, assets)``: the run's size in cells (paths × days × assets, …), to
        tell a synchronous run from one for the worker; ``None``: always synchronous.
    limits
        ``limits(request, assets)``: ``(message, "limit: …")`` for each documented limit
        the request breaks at that many assets (beyond the common ones).
    bulky
        Result fields left out of the run item when the whole result is too large for it
        (kept in S3 and read back when answered); ``thinned`` fields keep every n-th entry.
    linked
        The result field that carries a presigned link to the whole result when even that is
        too large to answer inline (``None``: the run item's summary is answered).
    demo
        How ``make demo`` runs it on its portfolio; ``None``: the demo leaves it out.
    extra_tickers
        ``extra_tickers(request)``: tickers a run reads besides its assets, on the same days
        (``analyses.runner.Inputs.extra``; a backtest's benchmark); ``None``: none.
    """

    name: str
    label: str
    request: type[BaseModel]
    result: type[BaseModel]
    endpoint: Endpoint
    compute: Callable[[Any, Any, dict[str, float] | None], BaseModel]
    tables: tuple[ResultTable, ...] = ()
    rows: Callable[[Any], Rows] | None = None
    report: ReportSection | None = None
    reads_returns: bool = True
    keeps_fresh: bool = True
    default_parameters: dict[str, Any] | None = None
    work: Callable[[Any, int], int] | None = None
    limits: Callable[[Any, int], list[tuple[str, str]]] | None = None
    bulky: tuple[str, ...] = ()
    thinned: tuple[str, ...] = ()
    linked: str | None = None
    demo: DemoRun | None = None
    extra_tickers: Callable[[Any], list[str]] | None = None


@dataclass(frozen=True)
class DemoRun:
    """How ``make demo`` runs the analysis on its portfolio, and what it prints of it.

    ``weights(result)`` gives its column (headed ``column``) in the demo's weights table;
    ``summary(result)`` a line of its own. Both read the result as the API answers it.
    """

    request: dict[str, Any] = field(default_factory=dict)
    respond_async: bool = False
    column: str = ""
    weights: Callable[[Mapping[str, Any]], Mapping[str, float]] | None = None
    summary: Callable[[Mapping[str, Any]], str] | None = None


class UnknownAnalysisError(KeyError):
    """No analysis is registered under that name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        known = ", ".join(a.name for a in analyses()) or "none (import analyses)"
        return f"unknown analysis {self.name!r}; registered: {known}"


_registry: dict[str, Analysis] = {}
_lock = threading.Lock()


def register(entry: Analysis, *, replace: bool = False) -> Analysis:
    """Add ``entry`` to the registry (after those registered before it).

    Raises
    ------
    ValueError
        Its name, route path or operation is taken (unless ``replace`` and it is the same
        name), or a table it declares differs from another analysis's table of that name.
    """
    with _lock:
        for other in _registry.values():
            if other.name == entry.name:
                if replace:
                    continue
                raise ValueError(f"analysis {entry.name!r} is registered already")
            if other.endpoint.path == entry.endpoint.path:
                raise ValueError(f"{entry.name}: path {entry.endpoint.path} is {other.name}'s")
            if other.endpoint.operation == entry.endpoint.operation:
                raise ValueError(f"{entry.name}: operation {entry.endpoint.operation} is taken")
            for mine in entry.tables:
                for theirs in other.tables:
                    if mine.name == theirs.name and mine != theirs:
                        raise ValueError(
                            f"{entry.name}: table {mine.name} differs from {other.name}'s"
                        )
        _registry[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove an analysis (tests registering their own); absent names are ignored."""
    with _lock:
        _registry.pop(name, None)


def analyses() -> tuple[Analysis, ...]:
    """Every registered analysis, in registration order."""
    return tuple(_registry.values())


def analysis(name: str) -> Analysis:
    """The analysis registered as ``name``.

    Raises
    ------
    UnknownAnalysisError
        None is.
    """
    try:
        return _registry[name]
    except KeyError:
        raise UnknownAnalysisError(name) from None


def analysis_of_request(request: BaseModel) -> Analysis | None:
    """The analysis whose request model ``request`` is an instance of (exact class)."""
    return next((a for a in _registry.values() if type(request) is a.request), None)
