"""Create in the local moto server exactly what template.yaml declares.

Buckets (with encryption, public-access block, versioning, lifecycle, EventBridge
notifications and policy), DynamoDB tables (keys, GSIs, TTL, PITR), SQS queues, event
buses, the Glue database and its tables, and the Athena workgroup; then one SQS queue per
rule or schedule as the rule's target, so moto itself matches each rule's pattern.

A resource that already exists (a restart over a data directory replayed it) is kept as it
is, contents and configuration: provisioning creates only what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from core.aws import client as aws_client
from core.settings import env_name
from stack import RuleSpec, Template

__all__ = ["ProvisionedStack", "local_bucket_policy", "provision", "rule_queue_name"]


@dataclass(frozen=True)
class ProvisionedStack:
    """What provisioning created that the dispatcher needs: each rule's target queue URL."""

    rule_queues: dict[str, str]
    dead_letter_queues: dict[str, str]


def rule_queue_name(stack_name: str, rule: RuleSpec) -> str:
    """SQS queue standing in for the rule's Lambda target (SQS names ≤ 80 characters)."""
    return f"{stack_name}-target-{rule.rule_name}"[:80]


def _exists(read: Callable[..., Any], request: dict[str, Any], *missing: str) -> bool:
    """Whether ``read(**request)`` finds the resource (False: it failed with a ``missing``)."""
    try:
        read(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in missing:
            return False
        raise
    return True


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled")}
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return out


def _create_bucket(s3: Any, props: dict[str, Any], region: str) -> str:
    name = str(props["BucketName"])
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if "BucketEncryption" in props:
        # CloudFormation says ServerSideEncryptionByDefault where the S3 API says Apply….
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **(
                    {"BucketKeyEnabled": rule["BucketKeyEnabled"]}
                    if "BucketKeyEnabled" in rule
                    else {}
                ),
            }
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"],
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if "LifecycleConfiguration" in props:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={
                "Rules": [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
            },
        )
    notification = props.get("NotificationConfiguration", {})
    if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration={"EventBridgeConfiguration": {}},
        )
    return name


def local_bucket_policy(document: dict[str, Any]) -> dict[str, Any]:
    """The bucket policy minus its TLS-only denial.

    moto evaluates bucket policies, and the local endpoint is plain HTTP on loopback, so a
    ``aws:SecureTransport = false`` deny would refuse every local request. Everything else
    in the policy is applied as written.
    """
    statements = [
        statement
        for statement in document.get("Statement", [])
        if "aws:SecureTransport" not in json.dumps(statement.get("Condition", {}))
    ]
    return {**document, "Statement": statements}


def _create_table(dynamodb: Any, props: dict[str, Any]) -> str:
    name = str(props["TableName"])
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "SSESpecification" in props:
        request["SSESpecification"] = {"Enabled": bool(props["SSESpecification"]["SSEEnabled"])}
    dynamodb.create_table(**request)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    pitr = props.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    return name


def provision(
    template: Template,
    session: boto3.session.Session | None = None,
    api_keys: dict[str, str] | None = None,
) -> ProvisionedStack:
    """Create every resource of ``template`` in the endpoint ``session`` points at.

    Parameters
    ----------
    template : Template
        The resolved template.
    session : boto3 Session, optional
        Where to create (``AWS_ENDPOINT_URL`` says which server).
    api_keys : dict, optional
        ``{api key id: tenant}`` written to the template's API keys table.
    """
    s3 = aws_client("s3", session)
    dynamodb = aws_client("dynamodb", session)
    sqs = aws_client("sqs", session)
    events = aws_client("events", session)
    glue = aws_client("glue", session)
    athena = aws_client("athena", session)
    region = template.context.region

    existing_buckets: set[str] = set()
    for props in template.resources_of("AWS::S3::Bucket").values():
        name = str(props["BucketName"])
        if _exists(s3.head_bucket, {"Bucket": name}, "404", "NoSuchBucket"):
            existing_buckets.add(name)
        else:
            _create_bucket(s3, props, region)
    for props in template.resources_of("AWS::S3::BucketPolicy").values():
        policy = local_bucket_policy(props["PolicyDocument"])
        if policy["Statement"] and props["Bucket"] not in existing_buckets:
            s3.put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(policy))
    for props in template.resources_of("AWS::DynamoDB::Table").values():
        table_name = str(props["TableName"])
        if not _exists(
            dynamodb.describe_table, {"TableName": table_name}, "ResourceNotFoundException"
        ):
            _create_table(dynamodb, props)

    dead_letters: dict[str, str] = {}
    for logical, props in template.resources_of("AWS::SQS::Queue").items():
        attributes: dict[str, str] = {
            key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
            for key in ("MessageRetentionPeriod", "SqsManagedSseEnabled", "VisibilityTimeout")
            if key in props
        }
        dead_letters[template.get_att(logical, "Arn")] = _queue(sqs, props["QueueName"], attributes)

    for props in template.resources_of("AWS::Events::EventBus").values():
        bus = str(props["Name"])
        if not _exists(events.describe_event_bus, {"Name": bus}, "ResourceNotFoundException"):
            events.create_event_bus(Name=bus)
    for props in template.resources_of("AWS::Glue::Database").values():
        database = str(props["DatabaseInput"]["Name"])
        if not _exists(glue.get_database, {"Name": database}, "EntityNotFoundException"):
            glue.create_database(DatabaseInput=props["DatabaseInput"])
    for props in template.resources_of("AWS::Glue::Table").values():
        # CatalogId is the account, implicit locally.
        where = {"DatabaseName": props["DatabaseName"], "Name": props["TableInput"]["Name"]}
        if not _exists(glue.get_table, where, "EntityNotFoundException"):
            glue.create_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])
    for props in template.resources_of("AWS::Athena::WorkGroup").values():
        if "WorkGroup" in athena.get_work_group(WorkGroup=props["Name"]):
            continue
        config = props.get("WorkGroupConfiguration", {})
        athena.create_work_group(
            Name=props["Name"],
            Description=props.get("Description", ""),
            Configuration={"ResultConfiguration": config.get("ResultConfiguration", {})},
        )

    rule_queues: dict[str, str] = {}
    for rule in template.rules():
        url = _queue(sqs, rule_queue_name(template.context.stack_name, rule), {})
        rule_queues[rule.rule_name] = url
        name = f"{template.context.stack_name}-{rule.rule_name}"[:64]
        on_bus = {} if rule.kind == "Schedule" else {"EventBusName": rule.bus_name}
        if _exists(events.describe_rule, {"Name": name, **on_bus}, "ResourceNotFoundException"):
            continue
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        if rule.kind == "Schedule":
            # moto never fires schedules, and it treats a pattern-less rule as matching every
            # event, so the schedule gets no target: `stratigos local tick` fills its queue.
            events.put_rule(Name=name, ScheduleExpression=rule.schedule, State="ENABLED")
        else:
            events.put_rule(
                Name=name,
                EventBusName=rule.bus_name,
                EventPattern=json.dumps(rule.pattern),
                State="ENABLED",
            )
            events.put_targets(
                Rule=name,
                EventBusName=rule.bus_name,
                Targets=[{"Id": "local-dispatcher", "Arn": arn}],
            )

    if api_keys:
        table = template.shared_environment()[env_name("api_keys_table")]
        for key_id, tenant in api_keys.items():
            item = {"apiKeyId": {"S": key_id}, "tenantId": {"S": tenant}}
            kept = dynamodb.get_item(TableName=table, Key={"apiKeyId": item["apiKeyId"]})
            if kept.get("Item") != item:
                dynamodb.put_item(TableName=table, Item=item)
    return ProvisionedStack(rule_queues=rule_queues, dead_letter_queues=dead_letters)


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    """The URL of queue ``name``, created with ``attributes`` if it does not exist."""
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
