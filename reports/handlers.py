"""Lambda entry of the reports room: render a finished run's report (RenderFunction).

On ``RunCompleted`` it renders the run's report and the portfolio's (its latest run of
each type side by side) and stores both under the tenant's prefix. Rendering is
deterministic and the keys are fixed, so a redelivered event rewrites the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

import analyses as _registers_analyses  # noqa: F401  (the analyses a run or portfolio names)
from core.aws import client as aws_client
from core.exceptions import NotFoundError
from core.models import Run, RunStatus
from core.repositories import PortfolioRepository, RunRepository
from core.settings import settings

__all__ = ["render"]

logger = Logger()


def _document(run: Run, bucket: str) -> dict[str, Any]:
    """The run as JSON, with a result kept in S3 (too large for its item) inlined."""
    data: dict[str, Any] = run.model_dump(mode="json", by_alias=True)
    if run.result_key:
        body = aws_client("s3").get_object(Bucket=bucket, Key=run.result_key)["Body"].read()
        data["result"] = json.loads(body)
    return data


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context
def render(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """RenderFunction: a run completed; render its report and its portfolio's."""
    # matplotlib is imported here, not at module load: ~0.35 s paid only when rendering.
    from reports.render import render_portfolio_report, render_run_report
    from reports.storage import ReportStore, report_prefix

    config = settings()
    tenant, run_id = str(event.detail["tenant"]), str(event.detail["runId"])
    runs = RunRepository(config.runs_table)
    run = runs.get(tenant, run_id)
    store = ReportStore(config.bucket)
    portfolio = None
    if run.portfolio_id:
        try:
            portfolio = (
                PortfolioRepository(config.portfolios_table, config.ticker_index_table)
                .get(tenant, run.portfolio_id)
                .model_dump(mode="json", by_alias=True)
            )
        except NotFoundError:
            # Deleted since the run: the run's report still renders, the portfolio's has no
            # portfolio to show (and retrying would never find it).
            portfolio = None
    rendered = render_run_report(_document(run, config.bucket), portfolio)
    written = [report_prefix(tenant, "runs", run_id)]
    store.write(written[0], {"report.html": rendered.html, **rendered.images}, rendered.title)
    if portfolio is not None and run.portfolio_id:
        page, _ = runs.list_for_portfolio(tenant, run.portfolio_id, limit=100)
        latest: dict[str, dict[str, Any]] = {}
        for item in page:  # newest first: keep the first succeeded run of each type
            if item.status is RunStatus.SUCCEEDED and str(item.type) not in latest:
                latest[str(item.type)] = _document(item, config.bucket)
        summary = render_portfolio_report(portfolio, list(latest.values()))
        prefix = report_prefix(tenant, "portfolios", run.portfolio_id)
        store.write(prefix, {"report.html": summary.html, **summary.images}, summary.title)
        written.append(prefix)
    return {"runId": run_id, "reports": written}
