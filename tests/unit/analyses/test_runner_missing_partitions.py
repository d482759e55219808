"""A year with no returns partition, as S3 reports it to a role without ``s3:ListBucket``."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
from botocore.stub import Stubber

from analyses.runner import _lake_returns
from core.exceptions import NotFoundError
from core.lake import RETURNS_PREFIX, partition_key
from lake import LakeAccessDenied, LakeReader

BUCKET = "data"


def _s3() -> tuple[object, Stubber]:
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_a_403_for_a_partition_that_a_listing_does_not_show_is_a_missing_year() -> None:
    s3, stub = _s3()
    for year in (2023, 2024):
        key = partition_key(RETURNS_PREFIX, year)
        stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
        stub.add_response(
            "list_objects_v2",
            {"KeyCount": 0, "IsTruncated": False},
            {"Bucket": BUCKET, "Prefix": key, "MaxKeys": 1},
        )
    with stub, pytest.raises(NotFoundError, match="No returns in the lake"):
        _lake_returns(LakeReader(BUCKET, s3=s3), ["AAA"], date(2023, 6, 1), date(2024, 6, 1))
    stub.assert_no_pending_responses()


def test_a_403_for_a_partition_that_exists_is_a_real_refusal() -> None:
    s3, stub = _s3()
    key = partition_key(RETURNS_PREFIX, 2024)
    stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
    stub.add_response(
        "list_objects_v2",
        {"KeyCount": 1, "IsTruncated": False, "Contents": [{"Key": key, "Size": 10}]},
        {"Bucket": BUCKET, "Prefix": key, "MaxKeys": 1},
    )
    with stub, pytest.raises(LakeAccessDenied):
        _lake_returns(LakeReader(BUCKET, s3=s3), ["AAA"], date(2024, 1, 1), date(2024, 6, 1))


def test_a_404_is_a_missing_year_without_listing() -> None:
    s3, stub = _s3()
    stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
    with stub, pytest.raises(NotFoundError):
        _lake_returns(LakeReader(BUCKET, s3=s3), ["AAA"], date(2024, 1, 1), date(2024, 6, 1))
    stub.assert_no_pending_responses()
