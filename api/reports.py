"""Presigned report links: ``/runs/{id}/report``, ``/portfolios/{id}/report``.

Links expire in 15 minutes, name one object of the caller's tenant each, and carry the
content type and a download filename. Imports neither numpy, pandas nor pyarrow.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

import analyses as _registers_analyses  # noqa: F401  (the analyses a run or portfolio names)
from core.aws import client as aws_client
from core.content_types import BINARY_CONTENT_TYPE, REPORT_FILE_TYPES
from core.exceptions import ConflictError, NoSuccessfulRunError, NotReadyError
from core.lake import REPORT_MANIFEST, report_prefix
from core.lifecycle import as_reported
from core.models import RunStatus
from core.repositories import PortfolioRepository, RunRepository
from core.rest import json_response, logger, path_id, request_tenant, rest_resolver
from core.routes import bind
from core.run_results import LINK_SECONDS
from core.settings import settings

__all__ = ["LINK_SECONDS", "app", "handler"]

app = rest_resolver()


class _NoReportError(Exception):
    """The report's manifest is not there (yet)."""


def _links(prefix: str, download_stem: str) -> dict[str, Any]:
    s3 = aws_client("s3")
    bucket = settings().bucket
    try:
        manifest = json.loads(
            s3.get_object(Bucket=bucket, Key=prefix + REPORT_MANIFEST)["Body"].read()
        )
    except ClientError as error:
        # A missing key answers 404, or 403 to a role without s3:ListBucket (ours).
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
            raise _NoReportError from None
        raise

    def link(name: str) -> dict[str, str]:
        suffix = name[name.rfind(".") :]
        filename = f"{download_stem}-{name}"
        url = s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": prefix + name,
                "ResponseContentType": REPORT_FILE_TYPES.get(suffix, BINARY_CONTENT_TYPE),
                # inline: opens in the browser; the filename is used when saving it.
                "ResponseContentDisposition": f'inline; filename="{filename}"',
            },
            ExpiresIn=LINK_SECONDS,
        )
        return {
            "name": name,
            "url": url,
            "contentType": REPORT_FILE_TYPES.get(suffix, ""),
            "filename": filename,
        }

    files = [str(name) for name in manifest.get("files", [])]
    expires = datetime.now(UTC) + timedelta(seconds=LINK_SECONDS)
    return {
        "title": manifest.get("title", ""),
        "renderedAt": manifest.get("renderedAt"),
        "expiresIn": LINK_SECONDS,
        "expiresAt": expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "html": link("report.html"),
        "images": [link(name) for name in files if name.endswith(".png")],
    }


@bind(app, "GetRunReport")
def get_run_report(id: str) -> Response[Any]:
    tenant = request_tenant(app)
    run = as_reported(RunRepository(settings().runs_table).get(tenant, path_id(id, "run id")))
    if run.status is RunStatus.FAILED:
        raise NoSuccessfulRunError(
            f"Run {run.id} failed; a report exists only for a succeeded run.",
            [f"{run.error.code}: {run.error.message}"] if run.error else [],
        )
    if run.status is not RunStatus.SUCCEEDED:
        raise NotReadyError(f"Run {run.id} is {run.status}; its report follows when it succeeds.")
    try:
        body = _links(report_prefix(tenant, "runs", run.id), run.id)
    except _NoReportError:
        raise NotReadyError(
            "The report is being rendered.", ["it is rendered shortly after the run finishes"]
        ) from None
    return json_response(200, {"runId": run.id, **body})


@bind(app, "GetPortfolioReport")
def get_portfolio_report(id: str) -> Response[Any]:
    tenant = request_tenant(app)
    config = settings()
    portfolio = PortfolioRepository(config.portfolios_table, config.ticker_index_table).get(
        tenant, path_id(id, "portfolio id")
    )
    try:
        body = _links(report_prefix(tenant, "portfolios", portfolio.id), portfolio.id)
    except _NoReportError:
        raise _why_no_report(tenant, portfolio.id) from None
    return json_response(200, {"portfolioId": portfolio.id, **body})


def _why_no_report(tenant: str, portfolio_id: str) -> ConflictError:
    """Tell "being rendered" (a run succeeded or is under way) from "never will be"."""
    runs, _ = RunRepository(settings().runs_table).list_for_portfolio(
        tenant, portfolio_id, limit=100
    )
    states = [as_reported(run) for run in runs]
    if any(run.status is not RunStatus.FAILED for run in states):
        return NotReadyError(
            "The portfolio's report is being rendered.",
            ["it follows its first successful run; ask again shortly"],
        )
    if not states:
        return NotReadyError(
            f"Portfolio {portfolio_id} has no runs yet.",
            ["its analyses are requested when it is created or updated"],
        )
    errors = sorted({f"{r.type}: {r.error.code}: {r.error.message}" for r in states if r.error})
    return NoSuccessfulRunError(
        f"Portfolio {portfolio_id} has no successful run: all {len(states)} failed, so no "
        "report will be rendered until one succeeds.",
        errors[:10],
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry (template: ReportLinksFunction)."""
    return app.resolve(event, context)
