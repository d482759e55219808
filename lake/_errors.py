"""What went wrong reading the lake: absent, forbidden or transient, told apart robustly.

Absence is not an error here (a missing partition is skipped by the reader); these are the
failures a caller must never take for "no data".
"""

from __future__ import annotations

import re
from typing import Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

__all__ = [
    "LakeAccessDenied",
    "LakeError",
    "LakeUnavailable",
    "from_boto",
    "from_os_error",
    "is_missing_os_error",
]


class LakeError(Exception):
    """A read of the lake failed (neither absence, nor one of the cases below: e.g. an
    object that is not Parquet, or a request the service refused as malformed).

    Attributes
    ----------
    target : str
        ``bucket/key`` (or ``bucket/prefix``) being read.
    """

    def __init__(self, message: str, target: str = "") -> None:
        super().__init__(message)
        self.target = target


class LakeAccessDenied(LakeError):  # noqa: N818 - the room's vocabulary: Lake + what happened
    """The lake refused the read (IAM, bucket policy, KMS, missing credentials): a deployment
    fault, never "no data"."""


class LakeUnavailable(LakeError):  # noqa: N818
    """A transient failure (throttling, timeout, 5xx, connection, an object replaced while
    being read) that outlived botocore's retries: try again later, never "no data"."""


# S3 error codes (the XML <Code>, or the HTTP status botocore puts there for bodiless HEADs).
_DENIED: Final = frozenset(
    {
        "AccessDenied",
        "403",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AccountProblem",
        "KMS.AccessDeniedException",
    }
)
_TRANSIENT: Final = frozenset(
    {
        "SlowDown",
        "503",
        "ServiceUnavailable",
        "InternalError",
        "500",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        # A pinned read (VersionId / If-Match) of an object replaced or deleted meanwhile.
        "PreconditionFailed",
        "412",
        "NoSuchVersion",
    }
)


def from_boto(error: BotoCoreError | ClientError, target: str) -> LakeError:
    """The lake error for a failed boto3 call on ``target`` (``bucket/key``).

    Absence (``NoSuchKey``) is the caller's to decide before calling this; here it is a
    plain :class:`LakeError`.
    """
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _DENIED or status == 403:
            return LakeAccessDenied(f"access denied reading s3://{target} ({code})", target)
        if code in _TRANSIENT or status >= 500 or status == 429:
            return LakeUnavailable(f"s3://{target} unavailable ({code or status})", target)
        return LakeError(f"reading s3://{target} failed ({code or status})", target)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return LakeAccessDenied(f"no credentials to read s3://{target}", target)
    # Timeouts (ReadTimeoutError, ConnectTimeoutError) and refused or dropped connections.
    if isinstance(error, ConnectionError | HTTPClientError):
        return LakeUnavailable(f"s3://{target} unreachable ({type(error).__name__})", target)
    return LakeError(f"reading s3://{target} failed ({type(error).__name__})", target)


# How pyarrow's S3 filesystem (the AWS C++ SDK) words its failures in OSError messages, e.g.
# "AWS Error ACCESS_DENIED during GetObject operation", "AWS Error UNKNOWN (HTTP status 403)
# during HeadObject operation: No response body.", "AWS Error NETWORK_CONNECTION ...".
_OS_DENIED: Final = re.compile(
    r"ACCESS_DENIED|HTTP status 403|INVALID_ACCESS_KEY_ID|SIGNATURE_DOES_NOT_MATCH"
    r"|EXPIRED_TOKEN|\bAccessDenied\b"
)
_OS_MISSING: Final = re.compile(
    r"NO_SUCH_KEY|NO_SUCH_BUCKET|RESOURCE_NOT_FOUND|HTTP status 404|Path does not exist"
)
_OS_TRANSIENT: Final = re.compile(
    r"SLOW_DOWN|THROTTLING|SERVICE_UNAVAILABLE|INTERNAL_FAILURE|NETWORK_CONNECTION"
    r"|REQUEST_TIMEOUT|REQUEST_TIME_TOO_SKEWED|HTTP status 5\d\d|HTTP status 429"
    r"|curlCode|[Tt]imed? ?out|Connection refused|Couldn't connect"
)


def is_missing_os_error(error: OSError) -> bool:
    """Whether pyarrow's ``error`` says "no such object/prefix" (and nothing worse)."""
    text = str(error)
    if _OS_DENIED.search(text) or _OS_TRANSIENT.search(text):
        return False
    return isinstance(error, FileNotFoundError) or bool(_OS_MISSING.search(text))


def from_os_error(error: OSError, target: str) -> LakeError:
    """The lake error for a failure pyarrow's S3 filesystem raised on ``target``.

    Denied wins over transient (a 403 retried is still a 403). An error matching none is a
    plain :class:`LakeError`: callers that must know (absent or forbidden?) ask S3 again with
    boto3 (see :func:`lake.open_dataset`).
    """
    text = str(error)
    if _OS_DENIED.search(text):
        return LakeAccessDenied(f"access denied reading s3://{target}: {text}", target)
    if _OS_TRANSIENT.search(text):
        return LakeUnavailable(f"s3://{target} unavailable: {text}", target)
    return LakeError(f"reading s3://{target} failed: {text}", target)


def error_code(error: ClientError) -> str:
    """The S3 error code of ``error`` (``NoSuchKey``, ``AccessDenied``, ``404``, …)."""
    return str(error.response.get("Error", {}).get("Code", ""))
