"""Where rendered reports live: ``reports/{tenant}/runs/{run}/…`` and ``…/portfolios/{id}/…``.

A report is its files plus ``manifest.json``, written last: a report whose manifest is
missing is not (yet) there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from core.aws import client as aws_client
from core.content_types import BINARY_CONTENT_TYPE, JSON_CONTENT_TYPE, REPORT_FILE_TYPES
from core.lake import REPORT_MANIFEST, report_prefix

__all__ = ["ReportStore", "report_prefix"]


class ReportStore:
    """Writes a report's files under its prefix, the manifest last; reads one file back."""

    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = s3 or aws_client("s3")

    def write(
        self, prefix: str, files: dict[str, bytes], title: str, inputs: str | None = None
    ) -> dict[str, Any]:
        """Write ``files`` under ``prefix``, then the manifest (with ``inputs`` when given)."""
        for name, body in files.items():
            suffix = name[name.rfind(".") :]
            self._s3.put_object(
                Bucket=self.bucket,
                Key=prefix + name,
                Body=body,
                ContentType=REPORT_FILE_TYPES.get(suffix, BINARY_CONTENT_TYPE),
            )
        manifest: dict[str, Any] = {
            "title": title,
            "files": sorted(files),
            "renderedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if inputs is not None:
            manifest["inputs"] = inputs
        self._s3.put_object(
            Bucket=self.bucket,
            Key=prefix + REPORT_MANIFEST,
            Body=json.dumps(manifest).encode(),
            ContentType=JSON_CONTENT_TYPE,
        )
        return manifest

    def read(self, prefix: str, name: str) -> bytes | None:
        """The file ``name`` of the report under ``prefix``; ``None`` when it is not there.

        Used to reuse a run report's charts in its portfolio's report. A file is readable
        once its own ``put_object`` returned (S3 writes are atomic per object), even while
        the rest of that report is still being written.
        """
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=prefix + name)["Body"].read()
        except ClientError as error:
            # A missing key answers NoSuchKey (404). AccessDenied is raised: RenderFunction's
            # role must be allowed s3:GetObject on reports/* (else "missing" for ever).
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(body)

    def manifest(self, prefix: str) -> dict[str, Any] | None:
        """The report's manifest; ``None`` when it has none (not rendered, or unreadable)."""
        body = self.read(prefix, REPORT_MANIFEST)
        if body is None:
            return None
        try:
            loaded = json.loads(body)
        except ValueError:
            return None
        return loaded if isinstance(loaded, dict) else None
