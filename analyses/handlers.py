"""Lambda entries of the runs: on-demand runs, the run worker, the fan-out.

``run_api`` serves ``POST /optimization/*`` and ``POST /monte-carlo/*`` (Optimization and
Simulation functions): it validates, persists the run, and either computes it within the
synchronous budget (201) or hands it to the run worker through ``RunRequested`` (202 with
``Location``). ``run_requested`` is that worker. ``fan_out`` receives ``MarketDataUpdated``
and the nightly schedule. Every analysis is served through the registry
(``core.analysis``): its route, request model, computation, result tables. The fan-out is a
CRUD-class function: it reads the registry and the portfolios only (no numpy, no pyarrow).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

import analyses as _registers_analyses  # noqa: F401  (the built-in analyses, registered)
from core.analysis import Analysis, analyses, analysis
from core.aws import client as aws_client
from core.bus import DetailType, EventBus, Source
from core.content_types import JSON_CONTENT_TYPE
from core.exceptions import ConflictError, NotFoundError, StratigosError, UnprocessableError
from core.heap import freeze_after_first_call
from core.lake import RUN_REQUESTS_PREFIX, run_result_key
from core.lifecycle import RunLifecycle
from core.models import AnalysisSpec, Portfolio, Run, RunStatus
from core.recompute import recompute_requests, recompute_run_id
from core.repositories import PortfolioRepository, RunRepository, new_id
from core.rest import json_body, json_response, request_tenant, rest_resolver
from core.routes import bind
from core.run_results import answerable
from core.settings import Settings, settings

__all__ = ["fan_out", "recompute_run_id", "run_api", "run_app", "run_requested"]

logger = Logger()
# Results larger than this go to S3; the run item keeps a pointer (DynamoDB items ≤ 400 KB).
_INLINE_RESULT_BYTES = 300_000


def _now() -> datetime:
    return datetime.now(UTC)


def _parameters(request: Any) -> dict[str, Any]:
    """What the run was asked, minus bulky inline data (kept as a count)."""
    params: dict[str, Any] = request.model_dump(
        mode="json", by_alias=True, exclude={"returns", "paths"}, exclude_none=True
    )
    if getattr(request, "returns", None) is not None:
        params["inlineReturns"] = {"tickers": len(request.returns)}
    if getattr(request, "paths", None) is not None:
        params["inlinePaths"] = {"paths": len(request.paths), "values": len(request.paths[0])}
    return params


def _store_result(config: Settings, tenant: str, run: Run, typed: BaseModel) -> Run:
    result: dict[str, Any] = typed.model_dump(mode="json", by_alias=True)
    try:
        text = json.dumps(result, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise UnprocessableError(
            "The result is not finite: the inputs overflow double precision.",
            ["reduce initialValue, contribution, horizon or the input magnitudes"],
        ) from None
    if len(text) <= _INLINE_RESULT_BYTES:
        return run.with_result(typed)  # already the analysis's model: not validated again
    key = run_result_key(tenant, run.id)
    aws_client("s3").put_object(
        Bucket=config.bucket, Key=key, Body=text.encode(), ContentType=JSON_CONTENT_TYPE
    )
    # The item keeps what fits (all but the analysis's bulky fields, and every n-th entry of
    # its thinned ones); the whole result is read back from ``result_key`` when answered.
    entry = analysis(run.type)
    wire = {name: info.alias or name for name, info in entry.result.model_fields.items()}
    summary = {k: v for k, v in result.items() if k not in {wire[n] for n in entry.bulky}}
    for name in entry.thinned:
        values = summary.get(wire[name])
        if isinstance(values, list):
            summary[wire[name]] = values[:: max(1, len(values) // 20)]
    return run.with_result(summary).model_copy(update={"result_key": key})


def _results_writer(
    config: Settings, tenant: str, result: BaseModel, data_version: str | None
) -> Callable[[Run], object]:
    from analyses.results import write_results

    return lambda done: write_results(
        done, tenant, result, bucket=config.bucket, data_version=data_version
    )


def _complete(
    config: Settings,
    tenant: str,
    run: Run,
    request: Any,
    weights: dict[str, float] | None,
    *,
    data_version: str | None = None,
    portfolio: Portfolio | None = None,
) -> Run:
    """Execute a queued/running run and persist how it ended (never left running).

    ``portfolio``: the stored portfolio the run is of, whose constraints and views the
    analysis sees on its inputs."""
    from analyses.runner import execute, load_inputs
    from compute.exceptions import ComputeError
    from lake import LakeError  # the run functions' layers have pyarrow; the fan-out's not

    lifecycle = RunLifecycle(RunRepository(config.runs_table))
    entry = analysis(run.type)
    try:
        inputs = None
        if entry.reads_returns:
            inputs = load_inputs(request, list(weights) if weights else None, config.bucket)
            if portfolio is not None:
                inputs = replace(inputs, constraints=portfolio.constraints, views=portfolio.views)
            window = inputs.window.model_copy(update={"data_version": data_version})
            run = run.model_copy(update={"data_window": window})
        result = execute(entry, request, inputs, weights)
        computed = _store_result(config, tenant, run, result)
        # The Parquet results (run_index last: the commit marker) are durable before the run
        # item says succeeded and before RunCompleted is announced.
        writer = _results_writer(config, tenant, result, data_version)
        run = lifecycle.succeed(tenant, computed, before_recorded=writer)
    except (ClientError, BotoCoreError, LakeError, ConflictError):
        # An AWS call still failing after botocore's retries (a lake read refused or
        # unavailable included) is not the run's fault: the run
        # keeps its status and the caller's retry (Lambda's, or the worker the API hands it
        # to) runs it again, overwriting the same result keys. A conflict: another delivery
        # moved the run first.
        raise
    except StratigosError as error:
        run = lifecycle.fail(tenant, run, error.code, error.message)
    except ComputeError as error:
        run = lifecycle.fail(tenant, run, "COMPUTE_ERROR", str(error))
    except Exception as error:
        logger.exception("run failed unexpectedly", extra={"run_id": run.id})
        run = lifecycle.fail(tenant, run, "INTERNAL_ERROR", type(error).__name__)
    # Failures are announced too: the last run of a burst to end, failed or not, is the one
    # whose renderer refreshes the portfolio report (reports.coalesce).
    _announce(config, tenant, run)
    return run


def _announce(config: Settings, tenant: str, run: Run) -> None:
    """Publish ``RunCompleted``, succeeded or failed (the report renderer rewrites the same
    keys if it repeats)."""
    EventBus(config.event_bus).put(
        Source.COMPUTE,
        DetailType.RUN_COMPLETED,
        {
            "tenant": tenant,
            "runId": run.id,
            "portfolioId": run.portfolio_id,
            "type": run.type,
            "status": str(run.status),
        },
    )


def _hand_off(config: Settings, tenant: str, run: Run, request: Any) -> Response[Any]:
    """Give a stored, unfinished run to the run worker: claim check in S3 + RunRequested."""
    key = f"{RUN_REQUESTS_PREFIX}{tenant}/{run.id}.json"
    aws_client("s3").put_object(
        Bucket=config.bucket,
        Key=key,
        Body=request.model_dump_json(by_alias=True).encode(),
        ContentType=JSON_CONTENT_TYPE,
    )
    EventBus(config.event_bus).put(
        Source.API,
        DetailType.RUN_REQUESTED,
        {"tenant": tenant, "runId": run.id, "type": run.type, "requestKey": key},
    )
    return json_response(202, run, {"Location": f"/runs/{run.id}"})


def _submit(app: Any, entry: Analysis) -> Response[Any]:
    from analyses.runner import check_limits, is_quick
    from lake import LakeError

    config = settings()
    tenant = request_tenant(app)
    request: Any = json_body(app, entry.request)  # every run request has portfolio_id
    weights: dict[str, float] | None = None
    portfolio: Portfolio | None = None
    if request.portfolio_id is not None:
        try:
            portfolio = PortfolioRepository(config.portfolios_table, config.ticker_index_table).get(
                tenant, request.portfolio_id
            )
        except NotFoundError:
            raise NotFoundError(
                f"No portfolio {request.portfolio_id} (portfolioId).",
                [
                    "create one with POST /portfolios and use its id, or leave portfolioId "
                    "out to run on the inline returns alone"
                ],
            ) from None
        weights = portfolio.assets
    if not entry.reads_returns:
        weights = None  # it works on the data the request carries only
    # Inline returns, when given, are the run's data even with a portfolioId (which then
    # only attaches the run to the portfolio and lends it its weights).
    inline = getattr(request, "returns", None)
    assets = len(inline or weights or {}) or 1
    # Refuse an oversized request before a run is stored; lake runs are checked again once
    # their window is read (load_inputs).
    first, last = getattr(request, "start", None), getattr(request, "end", None)
    explicit = last - first if first and last else None
    check_limits(
        assets,
        len(next(iter(inline.values()))) if inline else 0,
        request,
        window_days=explicit.days + 1 if explicit else 0,
    )
    run = RunLifecycle(RunRepository(config.runs_table)).submit(
        tenant, new_id("r"), entry.name, _parameters(request), request.portfolio_id
    )
    prefer = app.current_event.headers.get("prefer", "")
    if "respond-async" not in (prefer or "").lower() and is_quick(entry, request, assets):
        try:
            run = _complete(config, tenant, run, request, weights, portfolio=portfolio)
        except (ClientError, BotoCoreError, LakeError):
            # AWS kept failing within the synchronous budget (possibly after some results
            # were written): the worker finishes the run, so it does not stay queued.
            logger.exception("synchronous run handed to the worker", extra={"run_id": run.id})
            return _hand_off(config, tenant, run, request)
        if run.status is RunStatus.FAILED and run.error:
            if run.error.code == "INTERNAL_ERROR":
                # Stored as failed; the caller gets the generic 500 envelope (no internals).
                raise StratigosError(f"run {run.id} failed unexpectedly")
            raise UnprocessableError(
                f"The run failed: {run.error.message}", [f"runId: {run.id}", run.error.code]
            )
        answer = answerable(run, config.bucket)  # statistics always; large paths linked
        return json_response(201, answer, {"Location": f"/runs/{run.id}"})
    # Too big for the synchronous budget: the run worker takes it (claim check in S3).
    return _hand_off(config, tenant, run, request)


def _submitter(app: Any, entry: Analysis) -> Callable[[], Response[Any]]:
    return lambda: _submit(app, entry)


_apps: dict[tuple[str, ...], Any] = {}


def run_app() -> Any:
    """The run routes' resolver: one route per registered analysis. Built once per set of
    analyses, so a plugin registered later is served and one unregistered is not."""
    key = tuple(entry.name for entry in analyses())
    if key not in _apps:
        app = rest_resolver()
        for entry in analyses():
            bind(app, entry.endpoint.operation)(_submitter(app, entry))
        _apps[key] = app
    return _apps[key]


run_app()  # the built-in analyses' routes, bound at import (the cold start)


@freeze_after_first_call
@logger.inject_lambda_context
def run_api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The run routes' functions (OptimizationFunction, SimulationFunction): on-demand runs."""
    response: dict[str, Any] = run_app().resolve(event, context)
    return response


# recompute_run_id lives in core.recompute (the CRUD function requests runs too); it is
# re-exported here for the callers that import it from the compute room.


def _recompute_request(detail: dict[str, Any]) -> tuple[AnalysisSpec, Any]:
    """The run request of a recompute: the analysis's parameters over its ``lookbackDays``.

    No dates come from the trigger: the window ends at the last date the lake holds for the
    portfolio's tickers (or on or before the request's ``asOf``, when one was pinned), so
    nightly, on-demand and event-driven runs of unchanged data read the same days.
    """
    spec = AnalysisSpec.model_validate(detail["analysis"])
    fields: dict[str, Any] = {**spec.parameters, "portfolioId": detail["portfolioId"]}
    if spec.lookback_days is not None:  # None: the analysis reads the whole history
        fields["lookbackDays"] = spec.lookback_days
    if detail.get("asOf"):
        fields["asOf"] = str(detail["asOf"])
    request: Any = analysis(spec.type).request.model_validate(fields)
    return spec, request


@freeze_after_first_call
@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def run_requested(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """RunWorkerFunction: execute one requested run.

    Two producers: the API (an async run it already stored; the request is a claim check in
    S3) and the fan-out (a recompute with a deterministic id, created here with a
    conditional write). Idempotent: a finished run, or one another delivery is already
    executing, is skipped.
    """
    config = settings()
    detail = dict(event.detail)
    tenant, run_id = str(detail["tenant"]), str(detail["runId"])
    lifecycle = RunLifecycle(RunRepository(config.runs_table))
    if "analysis" in detail:
        spec, request = _recompute_request(detail)
        run = lifecycle.submit(
            tenant,
            run_id,
            spec.type,
            {**_parameters(request), "trigger": detail.get("trigger")},
            request.portfolio_id,
        )
    else:
        run = lifecycle.runs.get(tenant, run_id)
    if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        # A delivery that crashed between saving the run and announcing it is only completed
        # by announcing now; a plain duplicate re-renders the same reports.
        _announce(config, tenant, run)
        return {"runId": run_id, "status": str(run.status), "skipped": True}
    if "analysis" not in detail:
        key = str(detail["requestKey"])
        if key != f"{RUN_REQUESTS_PREFIX}{tenant}/{run_id}.json":
            # Only the API puts this event, with this key; anything else is not read (a
            # claim check must never point the worker at another tenant's object).
            raise ValueError(f"RunRequested for {tenant}/{run_id} names another object")
        body = aws_client("s3").get_object(Bucket=config.bucket, Key=key)
        request = analysis(run.type).request.model_validate_json(body["Body"].read())
    weights = None
    portfolio: Portfolio | None = None
    if request.portfolio_id is not None:
        try:
            portfolio = PortfolioRepository(config.portfolios_table, config.ticker_index_table).get(
                tenant, request.portfolio_id
            )
            weights = portfolio.assets
        except NotFoundError:
            # Deleted after the run was accepted: retrying cannot help; end the run failed.
            gone = lifecycle.fail(
                tenant,
                run,
                "NOT_FOUND",
                f"Portfolio {request.portfolio_id} was deleted before the run.",
            )
            return {"runId": run_id, "status": str(gone.status)}
    if run.status is RunStatus.QUEUED:
        try:
            run = lifecycle.start(tenant, run)
        except ConflictError:
            return {"runId": run_id, "status": "duplicate", "skipped": True}
    run = _complete(
        config,
        tenant,
        run,
        request,
        weights,
        data_version=detail.get("dataVersion"),
        portfolio=portfolio,
    )
    return {"runId": run_id, "status": str(run.status)}


def _targets(event: EventBridgeEvent, portfolios: PortfolioRepository) -> set[tuple[str, str]]:
    if event.detail_type == str(DetailType.MARKET_DATA_UPDATED):
        holders: set[tuple[str, str]] = set()
        for ticker in event.detail.get("tickers", []):
            holders.update(portfolios.holders(str(ticker)))  # the index: a Query, not a scan
        return holders
    return set(portfolios.all_keys())  # the nightly schedule: every portfolio


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def fan_out(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """FanOutFunction: market data changed (the portfolios holding it), or nightly (all).

    Publishes one ``RunRequested`` per portfolio × analysis, in batches of 10, each with a
    deterministic id (tenant, portfolio, analysis, data version): a redelivered or repeated
    trigger requests the same runs, which the worker's conditional create makes no-ops. A
    portfolio that cannot be read does not stop the others: they are all published first,
    then the fan-out fails naming it, so Lambda retries it and finally dead-letters it.
    """
    config = settings()
    portfolios = PortfolioRepository(config.portfolios_table, config.ticker_index_table)
    # The trigger names the version (the run ids) only: no request carries a date from it,
    # so every run's window ends at the last date the lake holds for its tickers.
    if event.detail_type == str(DetailType.MARKET_DATA_UPDATED):
        version = str(event.detail.get("dataVersion") or "unversioned")
        trigger = "market-data"
    else:  # Scheduled Event: one recompute per night, however often it is delivered
        version = f"nightly-{event.time[:10]}"
        trigger = "nightly"
    requests: list[dict[str, Any]] = []
    # Deleted-since-indexed portfolios are simply absent; unreadable ones are poison.
    found, broken = portfolios.get_many(sorted(_targets(event, portfolios)))
    poison = [f"{tenant}/{pid}: {reason}" for (tenant, pid), reason in sorted(broken.items())]
    for (tenant, portfolio_id), portfolio in sorted(found.items()):
        requests += recompute_requests(
            tenant, portfolio_id, portfolio.analyses, version=version, trigger=trigger
        )
    EventBus(config.event_bus).put_many(Source.COMPUTE, DetailType.RUN_REQUESTED, requests)
    if poison:
        raise RuntimeError(f"{len(poison)} portfolio(s) could not be read: " + "; ".join(poison))
    return {"trigger": trigger, "dataVersion": version, "runsRequested": len(requests)}
