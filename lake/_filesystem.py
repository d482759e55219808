"""The one place a pyarrow S3 filesystem is built, from the same settings boto3 uses."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import boto3
import pyarrow.fs as pafs

__all__ = ["s3_filesystem"]

_DEFAULT_REGION = "us-east-1"


def s3_filesystem(
    session: boto3.session.Session | None = None, endpoint_url: str | None = None
) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem with a boto3 session's credentials, region and endpoint.

    Parameters
    ----------
    session
        Whose region and credentials (resolved by boto3's chain, then frozen) to use.
        ``None``: the process's default session (environment, instance role).
    endpoint_url
        ``http://127.0.0.1:PORT`` for the local stack; default ``AWS_ENDPOINT_URL``, which
        boto3 itself honours, so both libraries reach the same S3.

    Returns
    -------
    pyarrow.fs.S3FileSystem
        Credentials are a snapshot: temporary ones are not refreshed, so build one per use
        (a query, a Lambda invocation), not per process.
    """
    session = session or boto3.session.Session()
    options: dict[str, Any] = {
        "region": session.region_name or os.environ.get("AWS_REGION") or _DEFAULT_REGION
    }
    credentials = session.get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options.update(
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            session_token=frozen.token,
        )
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        options.update(endpoint_override=parts.netloc, scheme=parts.scheme or "https")
    return pafs.S3FileSystem(**options)
