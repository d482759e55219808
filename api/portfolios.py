"""Portfolio CRUD: ``/portfolios`` and ``/portfolios/{id}`` (PortfoliosFunction).

The plan's dialect (section 4.2): requests ``{"portfolio": {…}}``, answers ``{"id",
"portfolio": {…}, "version", "createdAt", "updatedAt"}``. Concurrency by HTTP's
convention: reads carry ``ETag``; ``If-Match`` on PUT/DELETE answers 412 when stale, a
``version`` (body of PUT, query of DELETE) answers 409; with neither, the write is
unconditional but atomic.

Imports neither numpy, pandas nor pyarrow: this is a CRUD cold start. A portfolio with
``constraints`` is checked for feasibility (a linear programme: numpy and HiGHS, from the
numeric layer), loaded only then.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

import analyses as _registers_analyses  # noqa: F401  (the analyses a run or portfolio names)
from analyses.mandates import mandate_problems
from core.bus import DetailType, EventBus, Source
from core.exceptions import PreconditionFailedError, StaleVersionError, UnprocessableError
from core.models import (
    Portfolio,
    PortfolioCreate,
    PortfolioFields,
    PortfolioPage,
    PortfolioResource,
    PortfolioUpdate,
    RequestedRun,
    RunRequestsAccepted,
    RunStatus,
    unrunnable_analyses,
)
from core.recompute import recompute_requests
from core.repositories import PortfolioRepository, new_id
from core.rest import (
    etag,
    if_match,
    json_body,
    json_response,
    logger,
    path_id,
    query_int,
    request_tenant,
    rest_resolver,
)
from core.routes import bind
from core.settings import settings

__all__ = ["app", "handler"]

app = rest_resolver()


def _repository() -> PortfolioRepository:
    config = settings()
    return PortfolioRepository(config.portfolios_table, config.ticker_index_table)


def _answer(
    status: int, portfolio: Portfolio, headers: dict[str, str] | None = None
) -> Response[Any]:
    return json_response(
        status,
        PortfolioResource.of(portfolio),
        {"ETag": etag(portfolio.version), **(headers or {})},
    )


def _request_analyses(
    tenant: str, portfolio: Portfolio, *, trigger: str, version: str
) -> RunRequestsAccepted:
    """Ask the run worker for each of the portfolio's analyses (``RunRequested``), on the
    data the lake holds; the runs appear under ``/portfolios/{id}/runs``."""
    requests = recompute_requests(
        tenant, portfolio.id, portfolio.analyses, version=version, trigger=trigger
    )
    EventBus(settings().event_bus).put_many(Source.API, DetailType.RUN_REQUESTED, requests)
    return RunRequestsAccepted(
        portfolio_id=portfolio.id,
        runs=[
            RequestedRun(
                id=r["runId"],
                type=str(r["analysis"]["type"]),
                status=RunStatus.QUEUED,
                location=f"/runs/{r['runId']}",
            )
            for r in requests
        ],
    )


def _refusal(fields: PortfolioFields) -> UnprocessableError | None:
    """Why the portfolio cannot be stored (422), or None: analyses that could never run, or
    constraints no weights can meet."""
    problems = unrunnable_analyses(fields)
    if problems:
        return UnprocessableError(
            "The portfolio's analyses could never run; fix them or drop them (analyses: []).",
            problems[:20],
        )
    # Only a portfolio with constraints loads numerics (a linear programme, HiGHS).
    conflicts = mandate_problems(fields)
    if conflicts:
        return UnprocessableError(
            f"The portfolio's constraints admit no weights: {'; '.join(conflicts[:20])}.",
            conflicts[:60],
        )
    return None


def _runnable(fields: PortfolioFields) -> PortfolioFields:
    refusal = _refusal(fields)
    if refusal is not None:
        raise refusal
    return fields


def _expected_version(body_version: int | None) -> tuple[int | None, bool]:
    """The version a write is conditioned on, and whether it came from ``If-Match``."""
    required = if_match(app)
    if required is not None:
        return required, True
    return body_version, False


def _precondition_failed(error: StaleVersionError) -> PreconditionFailedError:
    return PreconditionFailedError(
        "The portfolio has changed since the ETag you sent.",
        [f'current ETag is "{error.current}"; read it again and retry'],
    )


@bind(app, "ListPortfolios")
def list_portfolios() -> Response[Any]:
    tenant = request_tenant(app)
    limit = query_int(app, "limit", 50, 1, 100)
    token = app.current_event.get_query_string_value("nextToken", default_value=None)
    items, next_token = _repository().list(tenant, limit, token)
    page = PortfolioPage(items=[PortfolioResource.of(p) for p in items], next_token=next_token)
    return json_response(200, page)


@bind(app, "CreatePortfolio")
def create_portfolio() -> Response[Any]:
    tenant = request_tenant(app)
    data = json_body(app, PortfolioCreate)
    portfolio = _repository().create(tenant, _runnable(data.portfolio))
    # Computed at once, not only when its data next changes or at night.
    _request_analyses(tenant, portfolio, trigger="portfolio", version=f"v{portfolio.version}")
    return _answer(201, portfolio, {"Location": f"/portfolios/{portfolio.id}"})


@bind(app, "GetPortfolio")
def get_portfolio(id: str) -> Response[Any]:
    tenant = request_tenant(app)
    return _answer(200, _repository().get(tenant, path_id(id, "portfolio id")))


@bind(app, "UpdatePortfolio")
def update_portfolio(id: str) -> Response[Any]:
    tenant = request_tenant(app)
    portfolio_id = path_id(id, "portfolio id")
    data = json_body(app, PortfolioUpdate)
    expected, from_header = _expected_version(data.version)
    try:
        refusal = _refusal(data.portfolio)
        if refusal is not None:
            _repository().get(tenant, portfolio_id)  # a missing one is 404 before 422
            raise refusal
        updated = _repository().update(tenant, portfolio_id, data.portfolio, expected)
    except StaleVersionError as error:
        if from_header:
            raise _precondition_failed(error) from None
        raise
    _request_analyses(tenant, updated, trigger="portfolio", version=f"v{updated.version}")
    return _answer(200, updated)


@bind(app, "DeletePortfolio")
def delete_portfolio(id: str) -> Response[Any]:
    tenant = request_tenant(app)
    portfolio_id = path_id(id, "portfolio id")
    version = query_int(app, "version", 0, 1, 2**31)
    expected, from_header = _expected_version(version or None)
    try:
        _repository().delete(tenant, portfolio_id, expected)
    except StaleVersionError as error:
        if from_header:
            raise _precondition_failed(error) from None
        raise
    return Response(status_code=204, body=None)


@bind(app, "RecomputePortfolio")
def recompute_portfolio(id: str) -> Response[Any]:
    tenant = request_tenant(app)
    portfolio = _repository().get(tenant, path_id(id, "portfolio id"))
    # A fresh version each time: "recompute now" asks for new runs, even of unchanged data
    # (whose results are then identical to the last ones, bit for bit).
    accepted = _request_analyses(tenant, portfolio, trigger="on-demand", version=new_id("d"))
    return json_response(202, accepted, {"Location": f"/portfolios/{portfolio.id}/runs"})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: PortfoliosFunction)."""
    return app.resolve(event, context)
