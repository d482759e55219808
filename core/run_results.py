"""A run's result as callers get it, when it was too large for the run's DynamoDB item.

The run worker keeps such a result whole in S3 (``core.lake.run_result_key``) and the item
keeps everything but the bulk (statistics, weights, metrics). Answering a run then inlines
the whole result when it fits a Lambda answer, and otherwise links the paths: a presigned,
15-minute GET of the tenant's own result object, never its storage key.
"""

from __future__ import annotations

import json
from typing import Any

from core.analysis import UnknownAnalysisError, analysis
from core.aws import client as aws_client
from core.content_types import JSON_CONTENT_TYPE
from core.models import Run

__all__ = ["LINK_SECONDS", "MAX_INLINED_RESULT_BYTES", "answerable"]

LINK_SECONDS = 900  # presigned links live at most 15 minutes
MAX_INLINED_RESULT_BYTES = 5 * 1024 * 1024  # Lambda answers are capped at 6 MB


def answerable(run: Run, bucket: str, s3: Any | None = None) -> Run:
    """``run`` with its whole result inlined, or, when too large to inline, with its
    analysis's ``linked`` field (a simulation's ``trajectoriesUrl``) set to a link to it."""
    if not run.result_key:
        return run
    s3 = s3 or aws_client("s3")
    stored = s3.get_object(Bucket=bucket, Key=run.result_key)  # one request: size and body
    if int(stored["ContentLength"]) <= MAX_INLINED_RESULT_BYTES:
        return run.with_result(json.loads(stored["Body"].read()))
    stored["Body"].close()  # too large to inline: link it, never read it here
    try:
        field = analysis(run.type).linked
    except UnknownAnalysisError:
        field = None
    if field is not None and run.result is not None:
        url = s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": run.result_key,
                "ResponseContentType": JSON_CONTENT_TYPE,
                "ResponseContentDisposition": f'attachment; filename="{run.id}-result.json"',
            },
            ExpiresIn=LINK_SECONDS,
        )
        linked = run.result.model_copy(update={field: url})
        return run.model_copy(update={"result": linked})
    return run
