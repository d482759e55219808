"""Where rendered reports live: ``reports/{tenant}/runs/{run}/…`` and ``…/portfolios/{id}/…``.

A report is its files plus ``manifest.json``, written last: a report whose manifest is
missing is not (yet) there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.aws import client as aws_client
from core.content_types import BINARY_CONTENT_TYPE, JSON_CONTENT_TYPE, REPORT_FILE_TYPES
from core.lake import REPORT_MANIFEST, report_prefix

__all__ = ["ReportStore", "report_prefix"]


class ReportStore:
    """Writes a report's files under its prefix, the manifest last."""

    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = s3 or aws_client("s3")

    def write(self, prefix: str, files: dict[str, bytes], title: str) -> dict[str, Any]:
        for name, body in files.items():
            suffix = name[name.rfind(".") :]
            self._s3.put_object(
                Bucket=self.bucket,
                Key=prefix + name,
                Body=body,
                ContentType=REPORT_FILE_TYPES.get(suffix, BINARY_CONTENT_TYPE),
            )
        manifest = {
            "title": title,
            "files": sorted(files),
            "renderedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._s3.put_object(
            Bucket=self.bucket,
            Key=prefix + REPORT_MANIFEST,
            Body=json.dumps(manifest).encode(),
            ContentType=JSON_CONTENT_TYPE,
        )
        return manifest
