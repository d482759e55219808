"""Every route of the API, declared once.

Each :class:`Route` names its method and path, the template function that serves it, its
request and response models and what the documentation says of it. From this one
declaration:

* the handlers register their routes (:func:`bind`), so a handler cannot serve a path the
  declaration does not name;
* ``api.openapi`` builds the OpenAPI document (``api/openapi.json``) and docs/API.md;
* ``api.openapi`` writes the ``Type: Api`` events of template.yaml's functions
  (``python -m api.openapi``; a test fails when the template, document or docs are stale).

Imports only the stdlib, Powertools and ``core.models`` (CRUD cold starts load it anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, create_model

from core.analysis import Analysis
from core.analysis import analyses as registered_analyses
from core.models import (
    MAX_ID_LENGTH,
    RESOURCE_ID_PATTERN,
    Frequency,
    PortfolioCreate,
    PortfolioPage,
    PortfolioResource,
    PortfolioUpdate,
    ReportLinks,
    Run,
    RunPage,
    RunRequestsAccepted,
    run_of,
)

__all__ = ["Param", "Route", "bind", "route", "routes", "routes_of"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter."""

    name: str
    where: str  # path | query | header
    description: str
    schema: dict[str, Any]
    required: bool = False
    example: str | None = None


@dataclass(frozen=True)
class Route:
    """One route of the API.

    Attributes
    ----------
    name : str
        The template's event name and the OpenAPI ``operationId`` (PascalCase).
    function : str
        The template function (logical id) that serves it.
    run_type : str, optional
        For the run routes: the run type they submit.
    cache_ttl : int, optional
        Seconds API Gateway caches the answer (shared data only; keyed by the query
        parameters); ``None``: never cached.
    """

    method: str
    path: str
    name: str
    function: str
    summary: str
    tag: str
    success: int
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = (400, 403, 404)
    example: dict[str, Any] | None = None
    public: bool = False
    extra_success: dict[int, str] = field(default_factory=dict)
    run_type: str | None = None
    cache_ttl: int | None = None
    description: str = ""

    @property
    def powertools_path(self) -> str:
        """The path in Powertools' syntax (``{id}`` → ``<id>``)."""
        return self.path.replace("{", "<").replace("}", ">")


_ID = Param(
    "id",
    "path",
    "Resource id (1-64 of letters, digits, '-', '_').",
    {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": RESOURCE_ID_PATTERN},
    required=True,
)
_LIMIT = Param(
    "limit",
    "query",
    "Page size (1-100).",
    {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
)
_TOKEN = Param(
    "nextToken",
    "query",
    "Opaque token from the previous page.",
    {"type": "string", "maxLength": 2048},
)
_PREFER = Param(
    "Prefer",
    "header",
    "`respond-async` always answers 202 and runs in the background.",
    {"type": "string"},
)
_IF_MATCH = Param(
    "If-Match",
    "header",
    'The ETag you read (e.g. `"3"`): the write happens only if the portfolio is still at '
    "that version, else 412. Without it (and without `version`) the write is unconditional.",
    {"type": "string", "maxLength": 64},
)
_MD_QUERY = (
    Param(
        "tickers",
        "query",
        "Comma-separated exchange symbols (1-200).",
        {"type": "string"},
        required=True,
        example="AAPL,MSFT",
    ),
    *(
        Param(name, "query", text, {"type": "string", "format": "date"}, True, example)
        for name, text, example in (
            ("start", "First day, ISO date.", "2024-01-01"),
            ("end", "Last day, ISO date.", "2024-12-31"),
        )
    ),
    Param(
        "frequency",
        "query",
        "daily, weekly or monthly.",
        {"type": "string", "enum": list(get_args(Frequency)), "default": "daily"},
        example="weekly",
    ),
)
_RUN_ERRORS = (400, 403, 404, 413, 415, 422)
_ASYNC = {202: "Accepted; poll Location"}
# The plan's own example (section 13.4), less the portfolio id a reader does not have.
_INLINE = {"returns": {"AAPL": [0.01, 0.02, -0.004], "MSFT": [0.02, 0.01, 0.003]}}
_TECH = {
    "name": "Tech Concentrated",
    "description": "Technology-focused portfolio with high concentration",
    "assets": {"AAPL": 0.25, "MSFT": 0.25, "GOOGL": 0.2, "AMZN": 0.2, "META": 0.1},
}
_MARKET_DATA_TTL = 300

# The routes that are not an analysis's; routes() adds one per analysis after these.
_STATIC: tuple[Route, ...] = (
    Route(
        "GET",
        "/portfolios",
        "ListPortfolios",
        "PortfoliosFunction",
        "List your portfolios",
        "portfolios",
        200,
        response=PortfolioPage,
        params=(_LIMIT, _TOKEN),
        errors=(400, 403),
    ),
    Route(
        "POST",
        "/portfolios",
        "CreatePortfolio",
        "PortfoliosFunction",
        "Create a portfolio; its analyses are requested at once",
        "portfolios",
        201,
        PortfolioCreate,
        PortfolioResource,
        errors=(400, 403, 413, 415, 422),
        example={"portfolio": _TECH},
    ),
    Route(
        "GET",
        "/portfolios/{id}",
        "GetPortfolio",
        "PortfoliosFunction",
        "Read a portfolio (its ETag is its version)",
        "portfolios",
        200,
        response=PortfolioResource,
        params=(_ID,),
    ),
    Route(
        "PUT",
        "/portfolios/{id}",
        "UpdatePortfolio",
        "PortfoliosFunction",
        "Replace a portfolio; its analyses are requested again",
        "portfolios",
        200,
        PortfolioUpdate,
        PortfolioResource,
        params=(_ID, _IF_MATCH),
        errors=(400, 403, 404, 409, 412, 413, 415, 422),
        example={"portfolio": {**_TECH, "assets": {"AAPL": 0.5, "MSFT": 0.5}}},
    ),
    Route(
        "POST",
        "/portfolios/{id}/runs",
        "RecomputePortfolio",
        "PortfoliosFunction",
        "Recompute the portfolio's analyses now, on the data the lake holds",
        "runs",
        202,
        response=RunRequestsAccepted,
        params=(_ID,),
        errors=(400, 403, 404),
    ),
    Route(
        "GET",
        "/runs/{id}",
        "GetRun",
        "RunsFunction",
        "Read a run",
        "runs",
        200,
        response=Run,
        params=(_ID,),
    ),
    Route(
        "GET",
        "/portfolios/{id}/runs",
        "ListPortfolioRuns",
        "RunsFunction",
        "List a portfolio's runs, newest first",
        "runs",
        200,
        response=RunPage,
        params=(_ID, _LIMIT, _TOKEN),
    ),
    Route(
        "GET",
        "/runs/{id}/report",
        "GetRunReport",
        "ReportLinksFunction",
        "Presigned links (15 minutes) to a run's HTML report and its PNG charts",
        "reports",
        200,
        response=ReportLinks,
        params=(_ID,),
        errors=(400, 403, 404, 409),
    ),
    Route(
        "GET",
        "/portfolios/{id}/report",
        "GetPortfolioReport",
        "ReportLinksFunction",
        "Presigned links (15 minutes) to a portfolio's report: its latest runs side by side",
        "reports",
        200,
        response=ReportLinks,
        params=(_ID,),
        errors=(400, 403, 404, 409),
    ),
    *(
        Route(
            "GET",
            f"/market-data/{dataset}",
            name,
            "MarketDataFunction",
            summary,
            "market data",
            200,
            params=_MD_QUERY,
            errors=(400, 403, 404, 422),
            cache_ttl=_MARKET_DATA_TTL,
        )
        for dataset, name, summary in (
            ("prices", "GetPrices", "Closes for tickers over a date range"),
            ("returns", "GetReturns", "Simple and log returns for tickers over a date range"),
        )
    ),
    Route(
        "GET",
        "/openapi.json",
        "GetOpenApi",
        "ApiDocsFunction",
        "This document",
        "meta",
        200,
        errors=(),
        public=True,
    ),
    # Last: the docs' examples run in declaration order and delete the portfolio at the end.
    Route(
        "DELETE",
        "/portfolios/{id}",
        "DeletePortfolio",
        "PortfoliosFunction",
        "Delete a portfolio",
        "portfolios",
        204,
        params=(
            _ID,
            _IF_MATCH,
            Param(
                "version",
                "query",
                "The version you read: a stale one answers 409 (or send If-Match).",
                {"type": "integer", "minimum": 1},
            ),
        ),
        errors=(400, 403, 404, 409, 412),
    ),
)

_ANALYSES_AFTER = "RecomputePortfolio"  # where the run routes sit in declaration order


def analysis_route(entry: Analysis) -> Route:
    """The route submitting ``entry``: ``POST``, 201 when done within the synchronous
    budget, 202 (``Prefer: respond-async``, or too large) handed to the run worker."""
    endpoint = entry.endpoint
    return Route(
        "POST",
        endpoint.path,
        endpoint.operation,
        endpoint.function,
        endpoint.summary,
        "runs",
        201,
        entry.request,
        run_of(entry),
        params=(_PREFER,),
        errors=_RUN_ERRORS,
        # Analyses of returns show the plan's inline returns with their own parameters.
        example={**_INLINE, **endpoint.example} if entry.reads_returns else endpoint.example,
        extra_success=_ASYNC,
        run_type=entry.name,
    )


def routes() -> tuple[Route, ...]:
    """Every route of the API, in declaration order: the static routes, with one route per
    registered analysis (``core.analysis``) after ``POST /portfolios/{id}/runs``.

    The run routes answer a ``Run`` whose ``result`` is typed by the analysis; ``GET
    /runs/{id}`` and the run lists type it as any registered analysis's result.
    """
    typed_run = run_of()
    typed_page = _run_page(typed_run)
    out: list[Route] = []
    for declared in _STATIC:
        if declared.response is Run:
            out.append(replace(declared, response=typed_run))
        elif declared.response is RunPage:
            out.append(replace(declared, response=typed_page))
        else:
            out.append(declared)
        if declared.name == _ANALYSES_AFTER:
            out += [analysis_route(entry) for entry in registered_analyses()]
    return tuple(out)


@lru_cache(maxsize=8)
def _run_page(run: type[Run]) -> type[RunPage]:
    page: type[RunPage] = create_model("RunPage", __base__=RunPage, items=(list[run], ...))  # type: ignore[valid-type]
    return page


def route(name: str) -> Route:
    """The route declared under ``name`` (KeyError when there is none).

    A static route comes as declared (its run models untyped: binding needs no more), so a
    function binding its routes builds no model of the analyses.
    """
    for declared in _STATIC:
        if declared.name == name:
            return declared
    found = {entry.endpoint.operation: entry for entry in registered_analyses()}
    return analysis_route(found[name])


def routes_of(function: str) -> tuple[Route, ...]:
    """The routes a template function serves, in declaration order (typed as in
    :func:`routes`)."""
    return tuple(r for r in routes() if r.function == function)


def bind(app: Any, name: str) -> Callable[[F], F]:
    """Register the decorated handler on ``app`` for the declared route ``name``."""
    declared = route(name)
    registered: Callable[[F], F] = app.route(declared.powertools_path, declared.method)
    return registered
