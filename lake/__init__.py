"""The one reader of the lake's Parquet: pyarrow datasets and filters over boto3 requests.

Absent, forbidden and transient are told apart: a missing partition is no rows, a refused
read raises :class:`LakeAccessDenied`, a transient failure (after botocore's retries)
:class:`LakeUnavailable`; neither is ever taken for "no data". Keys come from ``core.lake``.
"""

from __future__ import annotations

from lake._datasets import open_dataset
from lake._errors import LakeAccessDenied, LakeError, LakeUnavailable
from lake._filesystem import s3_filesystem
from lake._objects import ObjectVersion
from lake._reader import LakeReader, ReadStats, row_filter

__all__ = [
    "LakeAccessDenied",
    "LakeError",
    "LakeReader",
    "LakeUnavailable",
    "ObjectVersion",
    "ReadStats",
    "open_dataset",
    "row_filter",
    "s3_filesystem",
]
