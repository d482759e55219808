"""Lambda entry of the reports room: render a finished run's report (RenderFunction).

On ``RunCompleted`` it renders the run's report and stores it under the tenant's prefix.
The portfolio's report (its latest succeeded run of each type side by side) is rendered
once per burst of runs, when none of the portfolio's runs is unfinished and the stored
report was not rendered from the same inputs (:mod:`reports.coalesce`), and it is
assembled from the runs' stored charts: no chart is drawn twice. Rendering is deterministic
and the keys are fixed, so a redelivered event rewrites the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

import analyses as _registers_analyses  # noqa: F401  (the analyses a run or portfolio names)
from core.aws import client as aws_client
from core.exceptions import NotFoundError
from core.heap import freeze_after_first_call
from core.models import AnalysisSpec, Run, RunStatus
from core.repositories import PortfolioRepository, RunRepository
from core.settings import settings

if TYPE_CHECKING:
    from reports.render import RenderedReport
    from reports.storage import ReportStore

__all__ = ["render"]

logger = Logger()
T = TypeVar("T")


def _or(default: T, read: Callable[[], T]) -> T:
    """``read()``, or ``default`` when S3 refuses it (AccessDenied: the role lacks
    s3:GetObject on reports/*). Reports then render as before assembly (charts drawn)
    rather than wait for a report they cannot see."""
    try:
        return read()
    except ClientError:
        logger.exception("reading a stored report failed; rendering without it")
        return default


def _document(run: Run, bucket: str) -> dict[str, Any]:
    """The run as JSON, with a result kept in S3 (too large for its item) inlined."""
    data: dict[str, Any] = run.model_dump(mode="json", by_alias=True)
    if run.result_key:
        body = aws_client("s3").get_object(Bucket=bucket, Key=run.result_key)["Body"].read()
        data["result"] = json.loads(body)
    return data


class _RunCharts:
    """The runs' rendered charts for the portfolio report (a ``reports.render.StoredChart``).

    The run just rendered in this invocation answers from memory; another run's chart is
    read back from its stored report. When that is missing (a run rendered before reports
    were assembled, or whose report write failed) the run's report is rendered and stored
    first, once, and its charts are used: the portfolio report never goes without a chart
    and never draws one itself.
    """

    def __init__(
        self,
        store: ReportStore,
        prefixes: Mapping[str, str],
        portfolio: dict[str, Any],
        rendered: Mapping[str, Mapping[str, bytes]],
    ) -> None:
        self._store = store
        self._prefixes = prefixes  # run id → its report's prefix (made where the tenant is read)
        self._portfolio = portfolio
        self._images: dict[str, Mapping[str, bytes]] = dict(rendered)
        self.reused = 0  # charts read back from a stored run report
        self.rerendered: list[str] = []  # prefixes of run reports rendered for want of charts

    def __call__(self, run: Mapping[str, Any], name: str) -> bytes | None:
        from reports.render import render_run_report

        run_id = str(run["id"])
        prefix = self._prefixes[run_id]
        images = self._images.get(run_id)
        if images is None:
            data = _or(None, lambda: self._store.read(prefix, name))
            if data is not None:
                self.reused += 1
                return data
            logger.info("stored chart missing: rendering the run's report", extra={"run": run_id})
            report = render_run_report(dict(run), self._portfolio)
            _write(self._store, prefix, report)
            self.rerendered.append(prefix)
            images = self._images[run_id] = report.images
        return images.get(name)


def _write(
    store: ReportStore, prefix: str, report: RenderedReport, inputs: str | None = None
) -> None:
    store.write(prefix, {"report.html": report.html, **report.images}, report.title, inputs)


@freeze_after_first_call
@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def render(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """RenderFunction: a run completed; render its report, and its portfolio's when due.

    Returns
    -------
    dict
        ``runId``; ``reports``, the prefixes written (the run's, any run report rendered for
        want of stored charts, then the portfolio's when rendered); ``portfolioReport``:
        ``rendered`` (bool), ``pending`` (ids of the portfolio's unfinished runs that hold
        it back), ``awaiting`` (ids of shown runs whose own report is still to come),
        ``upToDate`` (true when skipped because the stored report has the same
        inputs), ``chartsReused`` (charts read back from stored run reports).
    """
    # matplotlib is imported here, not at module load: ~0.35 s paid only when rendering.
    from reports.coalesce import (
        awaiting_reports,
        burst_ids,
        pending_runs,
        report_inputs,
        settle,
        unstarted_siblings,
    )
    from reports.render import render_portfolio_report, render_run_report
    from reports.storage import ReportStore, report_prefix

    config = settings()
    tenant, run_id = str(event.detail["tenant"]), str(event.detail["runId"])
    runs = RunRepository(config.runs_table)
    run = runs.get(tenant, run_id)
    store = ReportStore(config.bucket)
    portfolio = None
    analyses: list[AnalysisSpec] = []
    if run.portfolio_id:
        try:
            held = PortfolioRepository(config.portfolios_table, config.ticker_index_table).get(
                tenant, run.portfolio_id
            )
            portfolio, analyses = held.model_dump(mode="json", by_alias=True), held.analyses
        except NotFoundError:
            # Deleted since the run: the run's report still renders, the portfolio's has no
            # portfolio to show (and retrying would never find it).
            portfolio = None
    # Every succeeded run's RunCompleted renders its report (idempotent: same keys, same
    # bytes). A failed run has no report to link (GET /runs/{id}/report answers 409); its
    # RunCompleted only tells the portfolio report that the run has ended.
    document = _document(run, config.bucket)
    written: list[str] = []
    images: dict[str, Mapping[str, bytes]] = {}
    if run.status is RunStatus.SUCCEEDED:
        rendered = render_run_report(document, portfolio)
        written.append(report_prefix(tenant, "runs", run_id))
        _write(store, written[0], rendered)
        images[run_id] = rendered.images
    outcome: dict[str, Any] = {
        "rendered": False,
        "pending": [],
        "awaiting": [],
        "upToDate": False,
        "chartsReused": 0,
    }
    if portfolio is not None and run.portfolio_id:
        listed, _ = runs.list_for_portfolio(tenant, run.portfolio_id, limit=100)

        def reread(other: str) -> Run | None:
            try:
                return runs.get(tenant, other)  # consistent, unlike the index
            except NotFoundError:
                return None

        current = settle(listed, run, reread)
        # Runs of this burst the worker has not created yet are on their way too.
        outcome["pending"] = pending_runs(current) + unstarted_siblings(
            run, burst_ids(tenant, run, analyses), current
        )
        if outcome["pending"]:
            # Not the burst's last run: the one finishing last renders the portfolio report.
            logger.info("portfolio report deferred", extra={"pending": outcome["pending"]})
        else:
            latest: dict[str, Run] = {}
            for item in current:  # newest first: keep the first succeeded run of each type
                if item.status is RunStatus.SUCCEEDED and str(item.type) not in latest:
                    latest[str(item.type)] = item
            prefix = report_prefix(tenant, "portfolios", run.portfolio_id)
            inputs = report_inputs(portfolio, [item.id for item in latest.values()])
            run_prefixes = {
                item.id: report_prefix(tenant, "runs", item.id) for item in latest.values()
            }

            def has_report(other: str) -> bool:
                return _or(True, lambda: store.manifest(run_prefixes[other]) is not None)

            outcome["awaiting"] = awaiting_reports(latest.values(), run_id, has_report)
            if not latest:
                # Nothing succeeded yet (this run failed, and every other): no report, and
                # GET /portfolios/{id}/report keeps saying why (409 NO_SUCCESSFUL_RUN).
                logger.info("portfolio report not rendered: no run succeeded")
            elif outcome["awaiting"]:
                # Renders lag the runs: the renderer of the last of these renders it, with
                # every chart stored by then (none drawn twice).
                logger.info("portfolio report deferred", extra={"awaiting": outcome["awaiting"]})
            elif (_or(None, lambda: store.manifest(prefix)) or {}).get("inputs") == inputs:
                # Another renderer of this burst (renders lagging the runs) wrote it already.
                outcome["upToDate"] = True
            else:
                charts = _RunCharts(store, run_prefixes, portfolio, images)
                documents = [  # the run just rendered has its document (result maybe from S3)
                    document if item.id == run_id else _document(item, config.bucket)
                    for item in latest.values()
                ]
                summary = render_portfolio_report(portfolio, documents, stored=charts)
                written.extend(charts.rerendered)
                _write(store, prefix, summary, inputs)
                written.append(prefix)
                outcome.update(rendered=True, chartsReused=charts.reused)
    return {"runId": run_id, "reports": written, "portfolioReport": outcome}
