"""A whole dataset (every object under a location) as a ``pyarrow.dataset``, for engines that
scan it themselves (the local SQL engine's DuckDB)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from lake._errors import LakeError, from_boto, from_os_error, is_missing_os_error

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

__all__ = ["open_dataset"]


def open_dataset(
    location: str,
    filesystem: pafs.FileSystem,
    *,
    schema: pa.Schema | None = None,
    partitioning: pads.Partitioning | None = None,
    s3: Any | None = None,
) -> pads.Dataset | None:
    """The Parquet objects under ``location`` (listed now, read when scanned).

    Parameters
    ----------
    location
        ``s3://bucket/prefix`` (or ``bucket/prefix``).
    filesystem
        Where to list and read (:func:`lake.s3_filesystem`).
    schema
        The dataset's schema (e.g. the Glue table's); default: the files'.
    partitioning
        e.g. ``pyarrow.dataset.partitioning(..., flavor="hive")``.
    s3
        A boto3 S3 client, to ask S3 again when pyarrow's error does not say whether the
        location is absent, forbidden or unreachable.

    Returns
    -------
    pyarrow.dataset.Dataset or None
        ``None`` when nothing is stored under ``location`` yet.

    Raises
    ------
    LakeAccessDenied, LakeUnavailable, LakeError
        The listing failed for another reason than absence.
    """
    import pyarrow.dataset as pads

    path = re.sub(r"^s3a?://", "", location).rstrip("/")
    try:
        return pads.dataset(
            path,
            format="parquet",
            filesystem=filesystem,
            partitioning=partitioning,
            schema=schema,
        )
    except OSError as error:
        if is_missing_os_error(error):
            return None
        failure = from_os_error(error, path)
        if type(failure) is LakeError and s3 is not None and _nothing_under(s3, path):
            return None
        raise failure from error


def _nothing_under(s3: Any, path: str) -> bool:
    """Whether a boto3 listing finds nothing under ``bucket/prefix`` (raises what it meets)."""
    bucket, _, prefix = path.partition("/")
    try:
        answer = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1)
    except (ClientError, BotoCoreError) as error:
        raise from_boto(error, path) from error
    return not answer.get("Contents")
