"""ingest.handlers reads S3's EventBridge "Object Created" event through Powertools' data class."""

from __future__ import annotations

import copy
from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

from ingest.curate import SourceObject
from ingest.handlers import source_object
from local.dispatcher import adapt_event


def test_the_aws_event_names_the_object(load_event: Any) -> None:
    event = S3EventBridgeNotificationEvent(load_event("s3_object_created"))
    assert source_object(event) == SourceObject(
        bucket="example-bucket",
        key="raw/prices/vendor-2024-12-02.csv",
        version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        etag="b1946ac92492d2347c6235b4d2611184",
    )


def test_the_local_stack_delivers_moto_events_in_aws_shape(load_event: Any) -> None:
    moto = load_event("s3_object_created_moto")
    source = source_object(S3EventBridgeNotificationEvent(adapt_event(copy.deepcopy(moto), "m")))
    assert source.etag == moto["detail"]["object"]["eTag"]  # moto's eTag, AWS's etag
    assert source.key == moto["detail"]["object"]["key"]
    assert source.version_id == moto["detail"]["object"]["version-id"]
    assert source.bucket == moto["detail"]["bucket"]["name"]


def test_an_unversioned_object_without_an_etag(load_event: Any) -> None:
    raw = load_event("s3_object_created")
    del raw["detail"]["object"]["version-id"]
    del raw["detail"]["object"]["etag"]
    source = source_object(S3EventBridgeNotificationEvent(raw))
    assert (source.version_id, source.etag) == (None, None)
    assert source.identity == "unversioned"
