"""The local stack against template.yaml, through moto's server over HTTP."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import pytest
from stack_client import fetch

from core.bus import DetailType, EventBus, Source
from core.exceptions import ForbiddenError
from core.settings import settings
from core.tenancy import TenantResolver
from local.apigateway import api_key_id

pytestmark = pytest.mark.functional


def _last_call(stack: Any, function: str) -> Any:
    calls = stack.runtime.calls(function)
    assert calls, f"{function} was never invoked"
    return calls[-1]


# ------------------------------------------------------------------ resources = template
def test_tables_equal_the_template(local_stack: Any) -> None:
    dynamodb = local_stack.client("dynamodb")
    declared = local_stack.template.resources_of("AWS::DynamoDB::Table")
    assert len(declared) == 5
    for props in declared.values():
        table = dynamodb.describe_table(TableName=props["TableName"])["Table"]
        assert table["KeySchema"] == props["KeySchema"]
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(
            props["AttributeDefinitions"], key=str
        )
        assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
        indexes = {
            index["IndexName"]: (index["KeySchema"], index["Projection"])
            for index in table.get("GlobalSecondaryIndexes", [])
        }
        assert indexes == {
            index["IndexName"]: (index["KeySchema"], index["Projection"])
            for index in props.get("GlobalSecondaryIndexes", [])
        }
        ttl = dynamodb.describe_time_to_live(TableName=props["TableName"])
        ttl = ttl["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl["TimeToLiveStatus"] == "ENABLED"
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"
        backups = dynamodb.describe_continuous_backups(TableName=props["TableName"])
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_rules_equal_the_template(local_stack: Any) -> None:
    events = local_stack.client("events")
    stack_name = local_stack.template.context.stack_name
    for rule in local_stack.template.rules():
        described = events.describe_rule(
            Name=f"{stack_name}-{rule.rule_name}", EventBusName=rule.bus_name
        )
        if rule.kind == "Schedule":
            assert described["ScheduleExpression"] == rule.schedule
        else:
            assert json.loads(described["EventPattern"]) == rule.pattern
            targets = events.list_targets_by_rule(
                Rule=described["Name"], EventBusName=rule.bus_name
            )["Targets"]
            assert len(targets) == 1
            assert ":sqs:" in targets[0]["Arn"]


def test_bus_queue_glue_and_buckets_exist_as_declared(local_stack: Any) -> None:
    template = local_stack.template
    events = local_stack.client("events")
    assert events.describe_event_bus(Name=template.physical_name("EventBus"))["Name"]
    sqs = local_stack.client("sqs")
    assert sqs.get_queue_url(QueueName=template.physical_name("DeadLetterQueue"))["QueueUrl"]
    glue = local_stack.client("glue")
    assert glue.get_database(Name=settings().glue_database)["Database"]["Name"] == "stratigos_local"
    s3 = local_stack.client("s3")
    for logical, props in template.resources_of("AWS::S3::Bucket").items():
        name = props["BucketName"]
        encryption = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
        assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values()), logical
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        assert [r["ID"] for r in rules] == [
            r["Id"] for r in props["LifecycleConfiguration"]["Rules"]
        ]
    data = settings().bucket
    assert s3.get_bucket_versioning(Bucket=data)["Status"] == "Enabled"
    # moto does not echo EventBridgeConfiguration back from GetBucketNotificationConfiguration;
    # that S3 events do reach EventBridge is shown by the Object Created test below.


# ------------------------------------------------------------------ API routes
def test_every_route_reaches_its_handler(local_stack: Any) -> None:
    for route in local_stack.template.routes():
        path = route.path.replace("{id}", "p-123")
        before = len(local_stack.runtime.calls(route.function))
        body = b"{}" if route.method in ("POST", "PUT") else None
        status, headers, payload = fetch(
            local_stack.api_url + path, route.method, headers={"x-api-key": "dev-key"}, data=body
        )
        calls = local_stack.runtime.calls(route.function)
        assert len(calls) == before + 1, f"{route.method} {route.path} missed {route.function}"
        call = calls[-1]
        assert call.ok
        assert call.trigger == f"Api:{route.event}"
        assert call.event["resource"] == route.path
        assert call.event["httpMethod"] == route.method
        assert status < 500 or status == 501, (route.path, status, payload)
        assert headers["Content-Type"].startswith("application/json")
        if status >= 400:
            error = json.loads(payload)["error"]
            assert set(error) == {"code", "message", "details"}


def test_proxy_event_carries_key_id_path_and_query(local_stack: Any) -> None:
    fetch(
        local_stack.api_url + "/portfolios/p-9/runs?limit=2&limit=3",
        "GET",
        headers={"x-api-key": "other-key"},
    )
    event = _last_call(local_stack, "RunsFunction").event
    assert event["pathParameters"] == {"id": "p-9"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["2", "3"]}
    assert event["requestContext"]["identity"]["apiKeyId"] == api_key_id("other-key")
    assert event["requestContext"]["resourcePath"] == "/portfolios/{id}/runs"


@pytest.mark.parametrize(
    ("headers", "path", "status", "code"),
    [
        ({}, "/portfolios", 403, "FORBIDDEN"),
        ({"x-api-key": "wrong"}, "/portfolios", 403, "FORBIDDEN"),
        ({"x-api-key": "dev-key"}, "/nope", 404, "NOT_FOUND"),
        ({"x-api-key": "dev-key"}, "/portfolios/a/b/c", 404, "NOT_FOUND"),
    ],
)
def test_gateway_refusals_use_the_envelope(
    local_stack: Any, headers: dict[str, str], path: str, status: int, code: str
) -> None:
    before = len(local_stack.runtime.calls())
    got, _, payload = fetch(local_stack.api_url + path, "GET", headers=headers)
    assert got == status
    assert json.loads(payload)["error"]["code"] == code
    assert len(local_stack.runtime.calls()) == before  # refused before any function ran


def test_openapi_route_needs_no_key(local_stack: Any) -> None:
    fetch(local_stack.api_url + "/openapi.json")
    assert _last_call(local_stack, "ApiDocsFunction").trigger == "Api:GetOpenApi"


def test_oversized_request_is_refused_by_the_gateway(local_stack: Any) -> None:
    status, _, payload = fetch(
        local_stack.api_url + "/portfolios",
        "POST",
        headers={"x-api-key": "dev-key"},
        data=b"x" * (10 * 1024 * 1024 + 1),
    )
    assert status == 413
    assert json.loads(payload)["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_keys_map_to_tenants_through_the_keys_table(local_stack: Any) -> None:
    resolver = TenantResolver(settings().api_keys_table)
    assert resolver.tenant_for_key_id(api_key_id("dev-key")) == "demo"
    assert resolver.tenant_for_key_id(api_key_id("other-key")) == "acme"
    with pytest.raises(ForbiddenError):
        resolver.tenant_for_key_id("unassigned-key-id")


# ------------------------------------------------------------------ events
def test_object_under_raw_prices_reaches_ingest_as_aws_shaped_event(
    local_stack: Any, load_event: Any
) -> None:
    key = f"raw/prices/{uuid.uuid4().hex}.csv"
    s3 = local_stack.client("s3")
    put = s3.put_object(Bucket=local_stack.bucket, Key=key, Body=b"date,ticker,close\n")
    ignored = f"tmp/{uuid.uuid4().hex}"
    s3.put_object(Bucket=local_stack.bucket, Key=ignored, Body=b"ignored")
    local_stack.wait_idle()
    calls = [
        c
        for c in local_stack.runtime.calls("IngestFunction")
        if c.event["detail"]["object"]["key"] == key
    ]
    assert len(calls) == 1
    event = calls[0].event
    reference = load_event("s3_object_created")
    assert set(event) == set(reference)
    assert set(event["detail"]) == set(reference["detail"])
    assert set(event["detail"]["object"]) == set(reference["detail"]["object"])
    assert event["detail-type"] == "Object Created"
    assert event["source"] == "aws.s3"
    assert event["detail"]["bucket"]["name"] == local_stack.bucket
    assert event["detail"]["object"]["etag"] == put["ETag"].strip('"')
    assert event["detail"]["object"]["version-id"] == put["VersionId"]
    assert event["detail"]["object"]["size"] == len(b"date,ticker,close\n")
    # (Other tests hand-deliver events for keys under tmp/, so look for this one only.)
    assert not [
        c
        for c in local_stack.runtime.calls("IngestFunction")
        if c.event["detail"]["object"]["key"] == ignored
    ]


def test_every_bus_rule_reaches_its_handler(local_stack: Any) -> None:
    bus = EventBus(settings().event_bus)
    for rule in local_stack.template.rules():
        if rule.kind != "EventBridgeRule" or rule.bus_name == "default":
            continue
        source = Source(rule.pattern["source"][0])
        detail_type = DetailType(rule.pattern["detail-type"][0])
        marker = uuid.uuid4().hex
        bus.put(source, detail_type, {"marker": marker})
        local_stack.wait_idle()
        # The consumers do real work: a marker-only detail may fail and be retried, but
        # the rule delivered it exactly once.
        calls = [
            c
            for c in local_stack.runtime.calls(rule.function)
            if c.event.get("detail", {}).get("marker") == marker and c.attempt == 1
        ]
        assert len(calls) == 1, rule.rule_name
        assert calls[0].trigger == f"EventBridgeRule:{rule.rule_name}"
        assert calls[0].event["detail-type"] == str(detail_type)
        assert calls[0].event["source"] == str(source)


def test_schedule_fires_on_tick(fresh_stack: Any, load_event: Any) -> None:
    event = fresh_stack.tick("Nightly")
    fresh_stack.wait_idle()
    calls = [c for c in fresh_stack.runtime.calls("FanOutFunction") if c.event["id"] == event["id"]]
    assert len(calls) == 1
    assert set(calls[0].event) == set(load_event("scheduled_event"))
    assert calls[0].event["detail-type"] == "Scheduled Event"
    with pytest.raises(KeyError, match="Nightly"):
        fresh_stack.tick("Hourly")


def _swap_handler(stack: Any, function: str, handler: str) -> Any:
    spec = stack.runtime.functions[function]
    stack.runtime.functions[function] = replace(spec, handler=handler)
    return spec


def test_failing_consumer_is_retried_then_dead_lettered(local_stack: Any) -> None:
    original = _swap_handler(local_stack, "RenderFunction", "stratigos_test_handlers.always_fails")
    try:
        marker = uuid.uuid4().hex
        EventBus(settings().event_bus).put(Source.COMPUTE, DetailType.RUN_COMPLETED, {"m": marker})
        local_stack.wait_idle()
    finally:
        local_stack.runtime.functions["RenderFunction"] = original
    calls = [
        c
        for c in local_stack.runtime.calls("RenderFunction")
        if c.event.get("detail", {}).get("m") == marker
    ]
    assert [c.attempt for c in calls] == [1, 2, 3]  # 1 + MaximumRetryAttempts (2)
    assert all(not c.ok for c in calls)
    sqs = local_stack.client("sqs")
    url = sqs.get_queue_url(QueueName=local_stack.template.physical_name("DeadLetterQueue"))
    records = []
    for _ in range(5):
        messages = sqs.receive_message(
            QueueUrl=url["QueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        records += [json.loads(m["Body"]) for m in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=url["QueueUrl"], ReceiptHandle=message["ReceiptHandle"])
    mine = [r for r in records if r["requestPayload"]["detail"].get("m") == marker]
    assert len(mine) == 1
    assert mine[0]["requestContext"]["condition"] == "RetriesExhausted"
    assert mine[0]["requestContext"]["approximateInvokeCount"] == 3
    assert "poison event" in mine[0]["responsePayload"]["errorMessage"]


def test_transient_failure_is_retried_without_dead_letter(local_stack: Any) -> None:
    original = _swap_handler(local_stack, "ReturnsFunction", "stratigos_test_handlers.fails_once")
    dead_before = len(local_stack.dispatcher.dead_lettered)
    try:
        marker = uuid.uuid4().hex
        EventBus(settings().event_bus).put(Source.INGEST, DetailType.PRICES_CURATED, {"m": marker})
        local_stack.wait_idle()
    finally:
        local_stack.runtime.functions["ReturnsFunction"] = original
    calls = [
        c
        for c in local_stack.runtime.calls("ReturnsFunction")
        if c.event.get("detail", {}).get("m") == marker
    ]
    assert [(c.attempt, c.ok) for c in calls] == [(1, False), (2, True)]
    assert len(local_stack.dispatcher.dead_lettered) == dead_before


def test_presigned_url_opens_over_plain_http(local_stack: Any) -> None:
    s3 = local_stack.client("s3")
    key = "reports/demo/runs/r-1/report.html"
    html = b"<!doctype html><title>Report</title><h1>Report</h1>"
    s3.put_object(Bucket=local_stack.bucket, Key=key, Body=html, ContentType="text/html")
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": local_stack.bucket,
            "Key": key,
            "ResponseContentDisposition": 'attachment; filename="report.html"',
        },
        ExpiresIn=900,
    )
    assert url.startswith(local_stack.endpoint_url + "/")
    assert "X-Amz-Expires=900" in url  # moto does not enforce expiry; we check what we ask
    status, headers, body = fetch(url)
    assert status == 200
    assert body == html
    assert headers["Content-Type"] == "text/html"
    assert "report.html" in headers["Content-Disposition"]
