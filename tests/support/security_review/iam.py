"""IAM: every statement a function's role gets (SAM policy templates expanded with AWS's
definitions, plus what SAM attaches itself), and the rules they must keep: no wildcards, no
``Resource: "*"`` AWS does not force, S3 only under prefixes, only the template's tables,
nothing sensitive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stack import Template

from ._common import Finding, arns_of, as_tuple, functions_of, matches, s3_prefix


@dataclass(frozen=True)
class Grant:
    """One Allow statement of a function's role, intrinsics resolved."""

    function: str
    source: str  # "inline", a SAM policy template name, or what SAM attaches by itself
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- SAM policies
# AWS's published definitions (aws/serverless-application-model,
# samtranslator/policy_templates_data/policy_templates.json) of the templates this
# project may use; ``{p}``/``{r}``/``{a}`` are partition, region and account.
_DDB_TABLE = "arn:{p}:dynamodb:{r}:{a}:table/{TableName}"
_DDB_INDEX = "arn:{p}:dynamodb:{r}:{a}:table/{TableName}/index/*"
_S3_BUCKET = "arn:{p}:s3:::{BucketName}"
_S3_OBJECTS = "arn:{p}:s3:::{BucketName}/*"
SAM_POLICY_TEMPLATES: Mapping[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    "DynamoDBCrudPolicy": (
        (
            (
                "dynamodb:GetItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
                "dynamodb:ConditionCheckItem",
            ),
            (_DDB_TABLE, _DDB_INDEX),
        ),
    ),
    "DynamoDBReadPolicy": (
        (
            (
                "dynamodb:GetItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
            ),
            (_DDB_TABLE, _DDB_INDEX),
        ),
    ),
    "DynamoDBWritePolicy": (
        (
            ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"),
            (_DDB_TABLE, _DDB_INDEX),
        ),
    ),
    "S3ReadPolicy": (
        (
            (
                "s3:GetObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetObjectVersion",
                "s3:GetLifecycleConfiguration",
            ),
            (_S3_BUCKET, _S3_OBJECTS),
        ),
    ),
    "S3WritePolicy": (
        (
            ("s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"),
            (_S3_BUCKET, _S3_OBJECTS),
        ),
    ),
    "S3CrudPolicy": (
        (
            (
                "s3:GetObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:PutObjectAcl",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:DeleteObject",
            ),
            (_S3_BUCKET, _S3_OBJECTS),
        ),
    ),
    "EventBridgePutEventsPolicy": (
        (("events:PutEvents",), ("arn:{p}:events:{r}:{a}:event-bus/{EventBusName}",)),
    ),
    "SQSSendMessagePolicy": ((("sqs:SendMessage*",), ("arn:{p}:sqs:{r}:{a}:{QueueName}",)),),
    "SQSPollerPolicy": (
        (
            (
                "sqs:ChangeMessageVisibility",
                "sqs:ChangeMessageVisibilityBatch",
                "sqs:DeleteMessage",
                "sqs:DeleteMessageBatch",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ),
            ("arn:{p}:sqs:{r}:{a}:{QueueName}",),
        ),
    ),
    "SNSPublishMessagePolicy": ((("sns:Publish",), ("arn:{p}:sns:{r}:{a}:{TopicName}",)),),
    "CloudWatchPutMetricPolicy": ((("cloudwatch:PutMetricData",), ("*",)),),
}

# Actions for which AWS offers no resource-level permissions, so ``Resource: "*"`` is the
# only possible form (Service Authorization Reference, "Actions, resources, and condition
# keys" for AWS X-Ray and Amazon CloudWatch: these actions list no resource types).
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
RESOURCE_STAR_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
        "cloudwatch:PutMetricData",  # scope it with a cloudwatch:namespace condition
    }
)
# Wildcards inside an action name that AWS's own policy templates use.
ALLOWED_WILDCARD_ACTIONS = frozenset({"sqs:SendMessage*"})  # SendMessage + SendMessageBatch

# What SAM attaches to every function role by itself (not in ``Policies``):
# AWSLambdaBasicExecutionRole always, AWSXrayWriteOnlyAccess with ``Tracing: Active``.
# The logs actions accept resource scoping, but the managed policy grants "*"; the function's
# log group is declared in the template (retention set), so the grant writes only there in
# practice. Accepted and listed in docs/SECURITY.md; replacing SAM's role is not worth it.
_BASIC_EXECUTION = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
_XRAY_WRITE_ONLY = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
)
MANAGED_SOURCES = frozenset({"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"})

# Never in a function's role, whatever the resource.
SENSITIVE_ACTIONS = (
    "iam:*",
    "sts:*",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:DeleteBucket",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "lambda:*",
    "events:PutRule",
    "events:PutTargets",
    "events:DeleteRule",
    "glue:DeleteDatabase",
    "glue:DeleteTable",
)

_S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject")
WRITE_ACTIONS = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:PutObjectAcl",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "events:PutEvents",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:BatchCreatePartition",
)


def _expand_template(
    template: Template, function: str, name: str, params: Mapping[str, Any]
) -> list[Grant]:
    ctx = template.context
    values = {"p": ctx.partition, "r": ctx.region, "a": ctx.account_id, **params}
    return [
        Grant(
            function=function,
            source=name,
            actions=actions,
            resources=tuple(r.format(**values) for r in resources),
        )
        for actions, resources in SAM_POLICY_TEMPLATES[name]
    ]


def function_grants(template: Template, function: str) -> tuple[list[Grant], list[Finding]]:
    """Every Allow a function's role gets, and the policies that could not be read.

    Parameters
    ----------
    template : Template
        The resolved template.
    function : str
        The function's logical id.
    """
    resource = template.resources[function]
    props = resource.get("Properties", {})
    defaults = template.doc.get("Globals", {}).get("Function", {})
    grants: list[Grant] = [
        Grant(function, "AWSLambdaBasicExecutionRole", _BASIC_EXECUTION, ("*",)),
    ]
    findings: list[Finding] = []
    if props.get("Tracing", defaults.get("Tracing")) == "Active":
        grants.append(Grant(function, "AWSXrayWriteOnlyAccess", _XRAY_WRITE_ONLY, ("*",)))
    on_failure = props.get("EventInvokeConfig", {}).get("DestinationConfig", {})
    destination = on_failure.get("OnFailure", {})
    if destination.get("Type") == "SQS":
        # SAM adds sqs:SendMessage on an SQS on-failure destination.
        arn = str(template.resolve(destination["Destination"]))
        grants.append(Grant(function, "EventInvokeConfig", ("sqs:SendMessage",), (arn,)))
    if "Role" in props:
        findings.append(Finding(function, "iam-role", "a custom Role is not reviewed"))
    policies = props.get("Policies", [])
    if isinstance(policies, (str, dict)):
        policies = [policies]
    for policy in template.resolve(policies):
        if isinstance(policy, str):
            findings.append(
                Finding(function, "iam-managed-policy", f"managed policy {policy} is not allowed")
            )
            continue
        for name, body in policy.items():
            if name == "Version":
                continue
            if name == "Statement":
                statements = body if isinstance(body, list) else [body]
                for statement in statements:
                    if statement.get("Effect") != "Allow":
                        continue
                    if "NotAction" in statement or "NotResource" in statement:
                        findings.append(
                            Finding(function, "iam-not", "NotAction/NotResource is not allowed")
                        )
                    grants.append(
                        Grant(
                            function=function,
                            source="inline",
                            actions=as_tuple(statement.get("Action")),
                            resources=as_tuple(statement.get("Resource")),
                            condition=statement.get("Condition", {}),
                        )
                    )
            elif name in SAM_POLICY_TEMPLATES:
                grants += _expand_template(template, function, name, body or {})
            else:
                findings.append(
                    Finding(
                        function,
                        "iam-unknown-template",
                        f"policy template {name} is not encoded here (add AWS's definition)",
                    )
                )
    return grants, findings


def iam_findings(template: Template) -> list[Finding]:
    """Wildcards, unscoped S3 or DynamoDB access, and sensitive actions in function roles."""
    findings: list[Finding] = []
    buckets = arns_of(template, "AWS::S3::Bucket")
    tables = arns_of(template, "AWS::DynamoDB::Table")
    table_arns = {a for t in tables.values() for a in (t, t + "/index/*")}
    for function in functions_of(template):
        grants, unread = function_grants(template, function)
        findings += unread
        for grant in grants:
            where = f"{grant.source} statement ({', '.join(grant.actions)})"
            for action in grant.actions:
                name = action.partition(":")[2]
                if action == "*" or ("*" in name and action not in ALLOWED_WILDCARD_ACTIONS):
                    findings.append(
                        Finding(function, "iam-action-wildcard", f"{action} in {where}")
                    )
                if matches(action, SENSITIVE_ACTIONS) or (
                    "*" in action and any(matches(s, [action]) for s in SENSITIVE_ACTIONS)
                ):
                    findings.append(
                        Finding(function, "iam-sensitive", f"{action} is never needed ({where})")
                    )
            if "*" in grant.resources:
                unscoped = [a for a in grant.actions if a not in RESOURCE_STAR_ACTIONS]
                if grant.source in MANAGED_SOURCES:
                    unscoped = [a for a in unscoped if not a.startswith("logs:")]
                if unscoped:
                    findings.append(
                        Finding(
                            function,
                            "iam-resource-star",
                            f'Resource "*" for {", ".join(unscoped)} ({grant.source})',
                        )
                    )
                if "cloudwatch:PutMetricData" in grant.actions and "cloudwatch:namespace" not in (
                    json.dumps(grant.condition)
                ):
                    findings.append(
                        Finding(
                            function,
                            "iam-resource-star",
                            "cloudwatch:PutMetricData without a cloudwatch:namespace condition",
                        )
                    )
            for resource in grant.resources:
                if resource == "*":
                    continue
                if resource.startswith("arn:aws:s3:::") or ":s3:::" in resource:
                    prefix = s3_prefix(resource, buckets.values())
                    is_bucket = resource in buckets.values()
                    if prefix is None and not is_bucket:
                        findings.append(
                            Finding(function, "iam-s3-bucket", f"{resource} is not our bucket")
                        )
                    object_actions = [a for a in grant.actions if a in _S3_OBJECT_ACTIONS]
                    if (
                        prefix is not None
                        and object_actions
                        and (prefix in ("*", "") or (not prefix.rstrip("*").endswith("/")))
                    ):
                        findings.append(
                            Finding(
                                function,
                                "iam-s3-prefix",
                                f"{', '.join(object_actions)} on {resource}: scope it to a "
                                "prefix (…/<prefix>/*)",
                            )
                        )
                    if (
                        is_bucket
                        and "s3:ListBucket" in grant.actions
                        and ("s3:prefix" not in json.dumps(grant.condition))
                    ):
                        findings.append(
                            Finding(
                                function,
                                "iam-s3-list",
                                f"s3:ListBucket on {resource} without an s3:prefix condition",
                            )
                        )
                if ":dynamodb:" in resource and resource not in table_arns:
                    findings.append(
                        Finding(
                            function,
                            "iam-dynamodb-table",
                            f"{resource} is not one of the template's tables",
                        )
                    )
    return findings
