"""One Parquet object of the lake read through boto3: ranged GETs pinned to one version.

pyarrow asks for byte ranges (the footer, then the column chunks its filter keeps); each is
a ``GetObject`` with ``Range``, pinned to the version the first one saw (``VersionId``, or
``If-Match`` its ETag where the bucket is not versioned). So a partition replaced by an
ingest mid-read is never read half old, half new, and the version recorded is the one read.
Going through boto3 also gives the platform's retry policy and botocore's typed errors.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from core.aws import is_missing_object
from lake._errors import LakeError, LakeUnavailable, error_code, from_boto

__all__ = ["ObjectVersion", "RangedObject", "fetch"]

# The first request asks for the object's last 64 KiB: its footer (pyarrow's own default
# speculative footer read) and, for a small object, all of it. 1 request instead of HEAD + GET.
# The first GET of an object asks for this much of its end: the footer and, for the
# lake's usual files (a year of a few dozen tickers' returns: ~150 KB), all of it.
TAIL_BYTES: Final = 256 * 1024
# An object whose head (what the tail left) is no larger is read whole at the first read
# the tail cannot serve: fetching column chunks one ranged GET each made a run's read of
# four years ~15 requests where one or two per year do.
SMALL_HEAD_BYTES: Final = 1024 * 1024
_CONTENT_RANGE: Final = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


@dataclass(frozen=True)
class ObjectVersion:
    """The identity of one object as read.

    Attributes
    ----------
    key : str
        The object's key.
    version_id : str or None
        S3's version id (versioned buckets).
    etag : str
        The ETag as S3 sends it (quoted): what ``If-Match`` takes.
    size : int
        Bytes.
    """

    key: str
    version_id: str | None
    etag: str
    size: int

    @property
    def ref(self) -> str:
        """``key@versionId``, or ``key@etag`` (unquoted) where there is no version id."""
        return f"{self.key}@{self.version_id or self.etag.strip(chr(34))}"


def _get(s3: Any, bucket: str, key: str, **params: Any) -> dict[str, Any]:
    """``GetObject`` with lake errors; a missing object is ``NoSuchKey`` raised as is."""
    try:
        answer: dict[str, Any] = s3.get_object(Bucket=bucket, Key=key, **params)
        return answer
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            raise
        raise from_boto(error, f"{bucket}/{key}") from error
    except BotoCoreError as error:
        raise from_boto(error, f"{bucket}/{key}") from error


def _body(answer: dict[str, Any], target: str) -> bytes:
    try:
        data: bytes = answer["Body"].read()
    except BotoCoreError as error:  # the connection dropped or timed out mid-body
        raise from_boto(error, target) from error
    return data


def fetch(
    s3: Any, bucket: str, key: str, *, whole: bool = False
) -> tuple[ObjectVersion, int, bytes] | None:
    """The object's version, and its tail (or all of it): ``(version, offset, bytes)``.

    Returns
    -------
    tuple or None
        ``None`` when there is no such object. In AWS a missing object is a 403 for a role
        without an unconditional ``s3:ListBucket``: a listing of that very key tells it from
        a real refusal (:func:`core.aws.is_missing_object`).

    Raises
    ------
    LakeAccessDenied, LakeUnavailable, LakeError
    """
    target = f"{bucket}/{key}"
    try:
        answer = _get(s3, bucket, key, **({} if whole else {"Range": f"bytes=-{TAIL_BYTES}"}))
    except ClientError as error:  # only absence gets here
        del error
        return None
    except LakeError as error:
        cause = error.__cause__
        if isinstance(cause, ClientError) and error_code(cause) == "AccessDenied":
            try:
                missing = is_missing_object(cause, s3, bucket, key)
            except (ClientError, BotoCoreError) as listing:
                raise from_boto(listing, target) from listing
            if missing:
                return None
        raise
    data = _body(answer, target)
    match = _CONTENT_RANGE.fullmatch(str(answer.get("ContentRange", "")))
    size = int(match.group(3)) if match else len(data)
    offset = int(match.group(1)) if match else 0
    version = ObjectVersion(key, answer.get("VersionId"), str(answer["ETag"]), size)
    return version, offset, data


class RangedObject(io.RawIOBase):
    """A seekable read-only file over one object version (what ``pyarrow.PythonFile`` wraps).

    Parameters
    ----------
    s3
        The boto3 S3 client.
    bucket
        The bucket.
    version
        The version to read (every range is pinned to it).
    offset, tail
        Bytes already fetched (the object's tail, or all of it from offset 0).
    counted
        Called with the size of every range fetched (for read statistics).
    """

    def __init__(
        self,
        s3: Any,
        bucket: str,
        version: ObjectVersion,
        *,
        offset: int,
        tail: bytes,
        counted: Callable[[int], None],
    ) -> None:
        super().__init__()
        self._s3, self.bucket, self.version = s3, bucket, version
        # The lake error of a failed request: pyarrow reports it in its own words.
        self.failure: LakeError | None = None
        self._tail_offset, self._tail = offset, tail
        self._counted = counted
        self._position = 0
        self._lock = threading.Lock()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.version.size}
        self._position = max(0, base[whence] + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with self._lock:
            start = self._position
            stop = min(start + len(view), self.version.size)
            if stop <= start:
                return 0
            try:
                data = self._range(start, stop)
            except LakeError as error:
                self.failure = error
                raise
            view[: len(data)] = data
            self._position = start + len(data)
            return len(data)

    def _range(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)``: from the tail already fetched, or one pinned ranged GET
        (of the whole head when it is small: then every later read is served in memory)."""
        if start < self._tail_offset <= SMALL_HEAD_BYTES:
            self._tail = self._fetch(0, self._tail_offset) + self._tail
            self._tail_offset = 0
        if start >= self._tail_offset:
            return self._tail[start - self._tail_offset : stop - self._tail_offset]
        # pyarrow expects every byte it asks for: a range reaching into the tail gets its
        # head fetched and its end from the tail.
        held = self._tail[: max(0, stop - self._tail_offset)]
        return self._fetch(start, min(stop, self._tail_offset)) + held

    def _fetch(self, start: int, stop: int) -> bytes:
        pin = (
            {"VersionId": self.version.version_id}
            if self.version.version_id
            else {"IfMatch": self.version.etag}
        )
        target = f"{self.bucket}/{self.version.key}"
        try:
            answer = _get(
                self._s3, self.bucket, self.version.key, Range=f"bytes={start}-{stop - 1}", **pin
            )
        except ClientError as error:  # deleted since the first request: changed under us
            raise LakeUnavailable(f"s3://{target} was deleted while being read", target) from error
        data = _body(answer, target)
        self._counted(len(data))
        return data
