"""Security review of template.yaml and the handlers, as code (tests/unit/platform).

Every check returns :class:`Finding` objects naming the offending resource, so a test can
assert that the real template has none and that a synthetic bad one is flagged:

* :func:`iam_findings` - each function's ``Policies`` (inline statements and SAM policy
  templates, expanded with AWS's published definitions) plus what SAM attaches itself: no
  ``*`` or ``service:*`` action, no ``Resource: "*"`` except for actions AWS offers no
  resource scoping for, S3 object access only under named prefixes, ``s3:ListBucket`` only
  with an ``s3:prefix`` condition, DynamoDB only on the template's own tables, nothing
  sensitive (IAM, STS, KMS administration, bucket ACLs or policies, table deletion).
* :func:`storage_findings` - buckets encrypted, private, owner-enforced, TLS-only;
  DynamoDB tables with SSE and point-in-time recovery; SQS and SNS encrypted; every log
  group with a retention.
* :func:`api_findings` - every route requires an API key (``/openapi.json`` aside).
* :func:`cache_findings` - the stage's response cache serves shared market data only: no
  other method may be cached (whatever the template's parameters), the default method
  setting says ``CachingEnabled: false``, cached answers are encrypted and keyed by the
  caller's API key.
* :func:`tenant_findings` - static (``ast``) reading of each function's handler module:
  routes resolve the tenant with ``request_tenant`` and every tenant-scoped call takes it
  (or, in event consumers, the event's tenant), never a request field.

``python -m local.security_review`` prints the least-privilege table of docs/SECURITY.md.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.template import Template, resource_path

__all__ = [
    "ALLOWED_WILDCARD_ACTIONS",
    "RESOURCE_STAR_ACTIONS",
    "Finding",
    "Grant",
    "api_findings",
    "cache_findings",
    "function_grants",
    "iam_findings",
    "least_privilege_table",
    "main",
    "storage_findings",
    "tenant_findings",
    "tenant_findings_for_module",
]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Finding:
    """One failed check: which resource, which rule, and what is wrong."""

    resource: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: [{self.rule}] {self.message}"


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


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value or ())


def _matches(action: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


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
                            actions=_as_tuple(statement.get("Action")),
                            resources=_as_tuple(statement.get("Resource")),
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


def _functions(template: Template) -> list[str]:
    return [
        logical
        for logical, resource in template.resources.items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    ]


def _arns_of(template: Template, kind: str) -> dict[str, str]:
    return {
        logical: str(template.get_att(logical, "Arn")) for logical in template.resources_of(kind)
    }


def _s3_prefix(resource: str, bucket_arns: Iterable[str]) -> str | None:
    """The key prefix an object ARN names (``None`` when it is not one of our buckets)."""
    for bucket in bucket_arns:
        if resource.startswith(bucket + "/"):
            return resource[len(bucket) + 1 :]
    return None


def iam_findings(template: Template) -> list[Finding]:
    """Wildcards, unscoped S3 or DynamoDB access, and sensitive actions in function roles."""
    findings: list[Finding] = []
    buckets = _arns_of(template, "AWS::S3::Bucket")
    tables = _arns_of(template, "AWS::DynamoDB::Table")
    table_arns = {a for t in tables.values() for a in (t, t + "/index/*")}
    for function in _functions(template):
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
                if _matches(action, SENSITIVE_ACTIONS) or (
                    "*" in action and any(_matches(s, [action]) for s in SENSITIVE_ACTIONS)
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
                    prefix = _s3_prefix(resource, buckets.values())
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


# ---------------------------------------------------------------------------- storage, API
def _all_true(props: Mapping[str, Any], keys: Sequence[str]) -> bool:
    return all(props.get(k) is True or str(props.get(k)).lower() == "true" for k in keys)


def _denies_insecure_transport(policy: Mapping[str, Any], resources: set[str]) -> bool:
    for statement in policy.get("Statement", []):
        condition = json.dumps(statement.get("Condition", {}))
        if (
            statement.get("Effect") == "Deny"
            and statement.get("Principal") in ("*", {"AWS": "*"})
            and "aws:SecureTransport" in condition
            and '"false"' in condition.lower()
            and _matches("s3:GetObject", _as_tuple(statement.get("Action")))
            and resources <= set(_as_tuple(statement.get("Resource")))
        ):
            return True
    return False


def storage_findings(template: Template) -> list[Finding]:
    """Buckets, tables, queues, topics and log groups: encrypted, private, kept."""
    findings: list[Finding] = []
    policies = template.resources_of("AWS::S3::BucketPolicy")
    for logical, props in template.resources_of("AWS::S3::Bucket").items():
        name = template.physical_name(logical)
        arn = str(template.get_att(logical, "Arn"))
        encryption = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
        algorithms = [
            rule.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
            for rule in encryption or []
        ]
        if not algorithms or not all(
            a in ("AES256", "aws:kms", "aws:kms:dsse") for a in algorithms
        ):
            findings.append(Finding(logical, "s3-encryption", "no default encryption"))
        block = props.get("PublicAccessBlockConfiguration", {})
        flags = (
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        )
        if not _all_true(block, flags):
            findings.append(
                Finding(logical, "s3-public", "PublicAccessBlockConfiguration not all four true")
            )
        owners = [
            r.get("ObjectOwnership") for r in props.get("OwnershipControls", {}).get("Rules", [])
        ]
        if owners != ["BucketOwnerEnforced"]:
            findings.append(
                Finding(
                    logical, "s3-acl", "OwnershipControls must be BucketOwnerEnforced (no ACLs)"
                )
            )
        if "AccessControl" in props or "WebsiteConfiguration" in props:
            findings.append(Finding(logical, "s3-public", "AccessControl/website configured"))
        bucket_policies = [p for p in policies.values() if p.get("Bucket") == name]
        if not any(
            _denies_insecure_transport(p["PolicyDocument"], {arn, arn + "/*"})
            for p in bucket_policies
        ):
            findings.append(
                Finding(
                    logical,
                    "s3-tls",
                    "no bucket policy denying aws:SecureTransport=false on bucket and objects",
                )
            )
        for policy in bucket_policies:
            for statement in policy["PolicyDocument"].get("Statement", []):
                if statement.get("Effect") == "Allow" and statement.get("Principal") in (
                    "*",
                    {"AWS": "*"},
                ):
                    findings.append(Finding(logical, "s3-public", "bucket policy allows *"))
    for logical, props in template.resources_of("AWS::DynamoDB::Table").items():
        if not _all_true(props.get("SSESpecification", {}), ["SSEEnabled"]):
            findings.append(
                Finding(logical, "dynamodb-sse", "SSESpecification.SSEEnabled not true")
            )
        pitr = props.get("PointInTimeRecoverySpecification", {})
        if not _all_true(pitr, ["PointInTimeRecoveryEnabled"]):
            findings.append(Finding(logical, "dynamodb-pitr", "point-in-time recovery off"))
    for logical, props in template.resources_of("AWS::SQS::Queue").items():
        if not (_all_true(props, ["SqsManagedSseEnabled"]) or "KmsMasterKeyId" in props):
            findings.append(Finding(logical, "sqs-sse", "queue not encrypted at rest"))
    for logical, props in template.resources_of("AWS::SNS::Topic").items():
        if "KmsMasterKeyId" not in props:
            findings.append(Finding(logical, "sns-sse", "topic not encrypted at rest"))
    for logical, props in template.resources_of("AWS::Logs::LogGroup").items():
        if "RetentionInDays" not in props:
            findings.append(Finding(logical, "logs-retention", "log group kept forever"))
    log_groups = {
        str(p.get("LogGroupName")) for p in template.resources_of("AWS::Logs::LogGroup").values()
    }
    for function in _functions(template):
        expected = f"/aws/lambda/{template.physical_name(function)}"
        if expected not in log_groups:
            findings.append(
                Finding(function, "logs-retention", f"no declared log group {expected} (retention)")
            )
    for logical, props in template.resources_of("AWS::Athena::WorkGroup").items():
        config = props.get("WorkGroupConfiguration", {})
        option = config.get("ResultConfiguration", {}).get("EncryptionConfiguration", {})
        if not option.get("EncryptionOption") or not config.get("EnforceWorkGroupConfiguration"):
            findings.append(
                Finding(logical, "athena-encryption", "results not encrypted or not enforced")
            )
    return findings


# Routes that are public on purpose: the API's own description (no tenant data).
PUBLIC_ROUTES = frozenset({("GET", "/openapi.json")})


def api_findings(template: Template) -> list[Finding]:
    """Every route requires an API key; no wildcard CORS with credentials."""
    findings = [
        Finding(route.function, "api-key", f"{route.method} {route.path} needs no API key")
        for route in template.routes()
        if not route.api_key_required and (route.method, route.path) not in PUBLIC_ROUTES
    ]
    for logical, resource in template.resources.items():
        if resource["Type"] not in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
            continue
        cors = template.resolve(resource.get("Properties", {}).get("Cors"))
        if isinstance(cors, str):
            cors = {"AllowOrigin": cors}
        if isinstance(cors, dict):
            origin = str(cors.get("AllowOrigin", cors.get("AllowOrigins", "")))
            if "*" in origin and cors.get("AllowCredentials") in (True, "true", "'true'"):
                findings.append(Finding(logical, "api-cors", "CORS * with credentials"))
        if resource["Type"] == "AWS::Serverless::Api":
            auth = resource.get("Properties", {}).get("Auth", {})
            if not auth.get("ApiKeyRequired"):
                findings.append(
                    Finding(logical, "api-key", "Auth.ApiKeyRequired is not the default")
                )
    return findings


# ---------------------------------------------------------------------------- response cache
# Routes whose answer is the same for every tenant: the only ones the stage may cache.
SHARED_DATA_ROUTES = frozenset({("GET", "/market-data/prices"), ("GET", "/market-data/returns")})
# In every cached route's cache key: one cache per API key. The function's key -> tenant check
# then runs for every key, and no answer (an error included: API Gateway caches what the
# function returns, whatever its status) is ever served to another key.
PER_KEY_CACHE_PARAMETER = "method.request.header.x-api-key"


def _may_be_true(value: Any) -> bool:
    """Whether a template value is true for some parameter values (unknown: it may be)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            return _may_be_true(arg[1]) or _may_be_true(arg[2])
        if key == "Ref" and arg == "AWS::NoValue":
            return False
    return True


def _surely_true(value: Any) -> bool:
    """Whether a template value is true for every parameter value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        arg = value["Fn::If"]
        return isinstance(arg, list) and len(arg) == 3 and all(map(_surely_true, arg[1:]))
    return False


def cache_findings(template: Template) -> list[Finding]:
    """The REST API's response cache holds shared market data only, encrypted, per key.

    Read from the template as written, not as resolved: a setting counts as caching when it
    does for *some* parameter values (``!If``, ``!Ref``), so flipping ``ApiCacheEnabled`` can
    never cache a tenant route. A method setting that leaves ``CachingEnabled`` unset counts
    as caching GET methods (API Gateway's default once the stage has a cache).
    """
    findings: list[Finding] = []
    routes = {(route.method, route.path): route for route in template.routes()}
    for logical, resource in template.resources.items():
        if resource["Type"] != "AWS::Serverless::Api":
            continue
        props = resource.get("Properties", {})
        cluster = _may_be_true(props.get("CacheClusterEnabled"))
        settings = props.get("MethodSettings") or []
        if not isinstance(settings, list):
            findings.append(
                Finding(logical, "api-cache-setting", "MethodSettings is not a plain list")
            )
            continue
        default_off = False
        for entry in settings:
            path = resource_path(str(template.resolve(entry.get("ResourcePath", ""))))
            method = str(template.resolve(entry.get("HttpMethod", ""))).upper()
            caching = entry.get("CachingEnabled")
            may_cache = _may_be_true(caching) or (
                caching is None and cluster and method in ("GET", "*")
            )
            if (path, method) == ("/*", "*"):
                default_off = not may_cache
                if may_cache:
                    findings.append(
                        Finding(
                            logical,
                            "api-cache-tenant-route",
                            "the default method setting (/* *) may cache every method",
                        )
                    )
                continue
            if not may_cache:
                continue
            where = f"{method} {path}"
            if (method, path) not in routes:
                findings.append(
                    Finding(
                        logical,
                        "api-cache-route",
                        f"{where}: caching on no route of the template (a ResourcePath is "
                        "written /~1market-data~1prices; no wildcards but the default /* *)",
                    )
                )
            elif (method, path) not in SHARED_DATA_ROUTES:
                findings.append(
                    Finding(
                        logical,
                        "api-cache-tenant-route",
                        f"{where} may be cached (set CachingEnabled: false): only shared "
                        "market data may be, or one tenant's answer is served to another",
                    )
                )
            if not _surely_true(entry.get("CacheDataEncrypted")):
                findings.append(
                    Finding(
                        logical, "api-cache-encryption", f"{where}: CacheDataEncrypted not true"
                    )
                )
            route = routes.get((method, path))
            if route is not None and PER_KEY_CACHE_PARAMETER not in route.cache_key_parameters:
                findings.append(
                    Finding(
                        route.function,
                        "api-cache-key",
                        f"{where} is cached without {PER_KEY_CACHE_PARAMETER} in its cache key "
                        "(RequestParameters ... Caching: true)",
                    )
                )
        if cluster and not default_off:
            findings.append(
                Finding(
                    logical,
                    "api-cache-default",
                    "a cache cluster, and no default method setting (/* *) with "
                    "CachingEnabled: false: API Gateway would cache every GET method",
                )
            )
    return findings


# ---------------------------------------------------------------------------- least privilege
@dataclass(frozen=True)
class Access:
    """What a function's code touches, at the granularity its policies are reviewed.

    ``tables`` maps a table's logical id to ``"r"`` or ``"rw"``; ``objects`` maps an S3 key
    prefix of the data bucket to ``"r"``, ``"w"`` or ``"rw"``; ``listed`` are the prefixes
    ``s3:ListBucket`` may list (S3 answers 404 rather than 403 for a missing key only
    with it); ``events`` is ``events:PutEvents`` on the bus; ``glue`` is catalog upkeep.
    """

    tables: Mapping[str, str] = field(default_factory=dict)
    objects: Mapping[str, str] = field(default_factory=dict)
    listed: frozenset[str] = frozenset()
    events: bool = False
    glue: bool = False

    def rows(self) -> list[tuple[str, str]]:
        """``(what, access)`` pairs, sorted: for messages and the docs table."""
        out = [(f"table {t}", m) for t, m in self.tables.items()]
        out += [(f"s3 {p}*", m) for p, m in self.objects.items()]
        out += [(f"s3 list {p}*", "r") for p in self.listed]
        out += [("events PutEvents", "w")] if self.events else []
        out += [("glue catalog", "rw")] if self.glue else []
        return sorted(out)


_READ_ONLY_API = {"ApiKeysTable": "r"}
# Read from the handlers (module per function in the template's Handler). A change to what
# a handler touches changes this map and the template's Policies together.
NEEDS: Mapping[str, Access] = {
    # Portfolio CRUD keeps the ticker index in step and requests the portfolio's runs
    # (RunRequested on create, update and POST /portfolios/{id}/runs); no S3 at all.
    "PortfoliosFunction": Access(
        tables={**_READ_ONLY_API, "PortfoliosTable": "rw", "TickerIndexTable": "rw"},
        events=True,
    ),
    # Read only: runs, their portfolio (404 across tenants), a large result kept in S3.
    "RunsFunction": Access(
        tables={**_READ_ONLY_API, "RunsTable": "r", "PortfoliosTable": "r"},
        objects={"results/runs/": "r"},
    ),
    # Read only: presigning needs s3:GetObject on exactly the reports prefix.
    "ReportLinksFunction": Access(
        tables={**_READ_ONLY_API, "RunsTable": "r", "PortfoliosTable": "r"},
        objects={"reports/": "r"},
    ),
    "ApiDocsFunction": Access(),
    # Shared market data; the key table only to refuse keys mapped to no tenant.
    "MarketDataFunction": Access(
        tables=_READ_ONLY_API,
        objects={"curated/prices/": "r", "curated/returns/": "r"},
        listed=frozenset({"curated/prices/", "curated/returns/"}),
    ),
    "OptimizationFunction": Access(
        tables={**_READ_ONLY_API, "PortfoliosTable": "r", "RunsTable": "rw"},
        # results/runs/: a result too large for its item is inlined or linked when answered.
        objects={
            "curated/returns/": "r",
            "results/": "w",
            "results/runs/": "r",
            "tmp/run-requests/": "w",
        },
        listed=frozenset({"curated/returns/"}),
        events=True,
    ),
    "SimulationFunction": Access(
        tables={**_READ_ONLY_API, "PortfoliosTable": "r", "RunsTable": "rw"},
        # results/runs/: a result too large for its item is inlined or linked when answered.
        objects={
            "curated/returns/": "r",
            "results/": "w",
            "results/runs/": "r",
            "tmp/run-requests/": "w",
        },
        listed=frozenset({"curated/returns/"}),
        events=True,
    ),
    "FanOutFunction": Access(tables={"PortfoliosTable": "r", "TickerIndexTable": "r"}, events=True),
    "RunWorkerFunction": Access(
        tables={"PortfoliosTable": "r", "RunsTable": "rw"},
        objects={"curated/returns/": "r", "tmp/run-requests/": "r", "results/": "w"},
        listed=frozenset({"curated/returns/"}),
        events=True,
    ),
    "IngestFunction": Access(
        tables={"IdempotencyTable": "rw"},
        objects={
            "raw/prices/": "r",
            "curated/prices/": "rw",
            "quarantine/": "w",
            "tmp/changes/": "w",
        },
        listed=frozenset({"curated/prices/"}),
        events=True,
        glue=True,
    ),
    "ReturnsFunction": Access(
        tables={"IdempotencyTable": "rw"},
        objects={"curated/prices/": "r", "tmp/changes/": "r", "curated/returns/": "rw"},
        listed=frozenset({"curated/prices/", "curated/returns/"}),
        events=True,
        glue=True,
    ),
    "RenderFunction": Access(
        tables={"RunsTable": "r", "PortfoliosTable": "r"},
        objects={"results/runs/": "r", "reports/": "w"},
    ),
}
_READ = {"s3:GetObject", "s3:GetObjectVersion"}
_WRITE = {"s3:PutObject", "s3:DeleteObject"}


def granted_access(template: Template, function: str) -> Access:
    """What a function's policies allow, in :class:`Access` terms."""
    grants, _ = function_grants(template, function)
    tables = {arn: logical for logical, arn in _arns_of(template, "AWS::DynamoDB::Table").items()}
    buckets = _arns_of(template, "AWS::S3::Bucket")
    data_bucket = buckets.get("DataBucket", "")
    table_modes: dict[str, set[str]] = {}
    object_modes: dict[str, set[str]] = {}
    listed: set[str] = set()
    events = glue = False
    for grant in grants:
        if grant.source in MANAGED_SOURCES or grant.source == "EventInvokeConfig":
            continue
        actions = set(grant.actions)
        for resource in grant.resources:
            table = tables.get(resource.removesuffix("/index/*"))
            dynamo = {a for a in actions if a.startswith("dynamodb:")}
            if table and dynamo:
                writes = dynamo & set(WRITE_ACTIONS)
                table_modes.setdefault(table, set()).update({"r"} | ({"w"} if writes else set()))
            prefix = _s3_prefix(resource, [data_bucket]) if data_bucket else None
            if prefix is not None:
                prefix = prefix.rstrip("*")
                modes = object_modes.setdefault(prefix, set())
                modes.update({"r"} if actions & _READ else set())
                modes.update({"w"} if actions & _WRITE else set())
            if resource == data_bucket and "s3:ListBucket" in actions:
                for values in grant.condition.get("StringLike", {}).values():
                    listed.update(v.rstrip("*") for v in _as_tuple(values))
        events = events or "events:PutEvents" in actions
        glue = glue or any(a.startswith("glue:") for a in actions)
    return Access(
        tables={t: "".join(sorted(m)) for t, m in table_modes.items()},
        objects={p: "".join(sorted(m)) for p, m in object_modes.items() if m},
        listed=frozenset(listed),
        events=events,
        glue=glue,
    )


def least_privilege_findings(
    template: Template, needs: Mapping[str, Access] | None = None
) -> list[Finding]:
    """Each function's policies grant exactly what its code needs (no more, no less)."""
    needs = NEEDS if needs is None else needs
    findings: list[Finding] = []
    for function in _functions(template):
        if function not in needs:
            findings.append(
                Finding(function, "iam-least-privilege", "no declared needs (add it to NEEDS)")
            )
            continue
        granted, needed = (
            set(granted_access(template, function).rows()),
            set(needs[function].rows()),
        )
        for what, mode in sorted(granted - needed):
            findings.append(
                Finding(function, "iam-least-privilege", f"grants {what} ({mode}) beyond its needs")
            )
        for what, mode in sorted(needed - granted):
            findings.append(
                Finding(function, "iam-least-privilege", f"lacks {what} ({mode}) its code uses")
            )
    return findings


def least_privilege_table(template: Template) -> str:
    """Markdown: function → actions → resources, generated from the template."""
    ctx = template.context
    lines = [
        "| Function | Granted by | Actions | Resources |",
        "|---|---|---|---|",
    ]
    for function in _functions(template):
        grants, _ = function_grants(template, function)
        for grant in grants:
            if grant.source in MANAGED_SOURCES:
                continue
            resources = [
                r.replace(f"arn:{ctx.partition}:", "").replace(
                    f"{ctx.region}:{ctx.account_id}:", ""
                )
                for r in grant.resources
            ]
            condition = ""
            if grant.condition:
                condition = " if " + json.dumps(grant.condition, separators=(",", ":"))
            lines.append(
                f"| {function} | {grant.source} | {', '.join(grant.actions)} "
                f"| {'<br>'.join(resources)}{condition} |"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- tenancy (ast)
REPOSITORIES = frozenset({"PortfolioRepository", "RunRepository"})
# Repository methods whose first argument is the tenant whose data they touch.
TENANT_METHODS = frozenset(
    {"get", "list", "create", "update", "delete", "save", "list_for_portfolio"}
)
# Methods that read across tenants: only event consumers may reach them.
CROSS_TENANT_METHODS = frozenset({"holders", "all_keys", "get_many"})
# Other calls that put a tenant into a key: function name → index of the tenant argument.
TENANT_KEY_CALLS: Mapping[str, int] = {"report_prefix": 0, "run_result_key": 0, "write_results": 1}
_ROUTE_METHODS = frozenset({"get", "post", "put", "delete", "patch"})

# Functions that touch no tenant data, and why. The check still verifies that their module
# makes no tenant-scoped call.
NO_TENANT_DATA: Mapping[str, str] = {
    "ApiDocsFunction": "serves the static OpenAPI document",
    "IngestFunction": "vendor price files are market data, shared by every tenant",
    "ReturnsFunction": "returns are derived from shared market data",
}


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _assignments(node: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """(target, value) pairs of a function body, tuples split element-wise, loops included."""
    pairs: list[tuple[ast.AST, ast.AST]] = []

    def split(target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            for t, v in zip(target.elts, value.elts, strict=False):
                split(t, v)
        else:
            pairs.append((target, value))

    for child in ast.walk(node):
        if isinstance(child, ast.Assign):
            for target in child.targets:
                split(target, child.value)
        elif isinstance(child, ast.AnnAssign) and child.value is not None:
            split(child.target, child.value)
        elif isinstance(child, (ast.For, ast.comprehension)):
            pairs.append((child.target, child.iter))
    return pairs


def _target_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


@dataclass
class _Module:
    path: str
    tree: ast.Module
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    factories: set[str] = field(default_factory=set)
    routes: list[tuple[str, ast.AST]] = field(default_factory=list)

    @classmethod
    def parse(cls, path: str, source: str) -> _Module:
        module = cls(path, ast.parse(source))
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef):
                module.functions.setdefault(node.name, node)
                returns = node.returns
                if isinstance(returns, ast.Name) and returns.id in REPOSITORIES:
                    module.factories.add(node.name)
                for decorator in node.decorator_list:
                    if _is_route_call(decorator):
                        module.routes.append((node.name, node))
        for node in ast.walk(module.tree):
            # A route registered by a call rather than a decorator: `app.get("/p")(handler)`,
            # `bind(app, name)(make_handler(...))`. The handler is what the call is given.
            if not (isinstance(node, ast.Call) and _is_route_call(node.func) and node.args):
                continue
            handler = node.args[0]
            if isinstance(handler, ast.Name) and handler.id in module.functions:
                module.routes.append((handler.id, module.functions[handler.id]))
            elif isinstance(handler, (ast.Lambda, ast.Call)):
                kind = "lambda" if isinstance(handler, ast.Lambda) else "handler"
                module.routes.append((f"{kind}@{node.lineno}", handler))
        return module


def _is_route_call(node: ast.AST) -> bool:
    """``app.get("/path")`` and friends (Powertools' route decorators), or ``bind(app, name)``
    (``core.routes``: registers one declared route on the resolver)."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "bind"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Name)
    ):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _ROUTE_METHODS
        and isinstance(node.func.value, ast.Name)
        and bool(node.args)
        and isinstance(node.args[0], (ast.Constant, ast.Name))
        and not (
            isinstance(node.args[0], ast.Constant) and not str(node.args[0].value).startswith("/")
        )
    )


def _is_event_consumer(function: ast.FunctionDef) -> bool:
    decorated = any(
        isinstance(d, ast.Call) and _called_name(d) == "event_source"
        for d in function.decorator_list
    )
    return decorated and any(a.arg == "event" for a in function.args.args)


def _calls(node: ast.AST) -> list[ast.Call]:
    return [c for c in ast.walk(node) if isinstance(c, ast.Call)]


def _reachable(module: _Module, start: ast.AST) -> list[ast.AST]:
    """``start`` and every module function it calls, transitively."""
    seen: dict[str, ast.AST] = {}
    stack = [start]
    out = [start]
    while stack:
        node = stack.pop()
        for call in _calls(node):
            name = call.func.id if isinstance(call.func, ast.Name) else None
            if name and name in module.functions and name not in seen:
                seen[name] = module.functions[name]
                out.append(module.functions[name])
                stack.append(module.functions[name])
    return out


def _repository_receivers(module: _Module, function: ast.AST) -> set[str]:
    names: set[str] = set()
    for target, value in _assignments(function):
        if isinstance(value, ast.Call) and _called_name(value) in REPOSITORIES | module.factories:
            names |= _target_names(target)
    return names


def _is_repository(module: _Module, node: ast.AST, receivers: set[str]) -> bool:
    if isinstance(node, ast.Call):
        return _called_name(node) in REPOSITORIES | module.factories
    return isinstance(node, ast.Name) and node.id in receivers


def _trusted_names(function: ast.FunctionDef) -> set[str]:
    """Names holding a tenant from a trusted source, inside one function.

    ``request_tenant(...)`` (the API key's mapping) anywhere; in an event consumer also the
    event and whatever is derived from it or read across tenants from our own store. A
    ``tenant`` parameter is trusted here because its call sites are checked as sinks.
    """
    trusted = {a.arg for a in function.args.args if a.arg == "tenant"}
    roots = {"event"} if _is_event_consumer(function) else set()
    pairs = _assignments(function)
    changed = True
    while changed:
        changed = False
        for target, value in pairs:
            calls = _calls(value)
            from_key = any(_called_name(c) == "request_tenant" for c in calls)
            from_event = bool(roots) and (
                bool(_names_in(value) & roots)
                or any(_called_name(c) in CROSS_TENANT_METHODS for c in calls)
            )
            new = _target_names(target)
            if (from_key or from_event) and not new <= trusted:
                trusted |= new
                changed = True
            if from_event and not new <= roots:
                roots |= new
                changed = True
    return trusted


def _tenant_params(module: _Module) -> dict[str, int]:
    return {
        name: [a.arg for a in fn.args.args].index("tenant")
        for name, fn in module.functions.items()
        if "tenant" in [a.arg for a in fn.args.args]
    }


def tenant_findings_for_module(
    function: str, path: str, source: str, *, api: bool, no_tenant_data: bool = False
) -> list[Finding]:
    """The tenant rules for one handler module (see :func:`tenant_findings`).

    Parameters
    ----------
    function : str
        The template function the module serves (named in findings).
    path, source : str
        The module's path (for messages) and text.
    api : bool
        Whether the function serves API routes (each must resolve the tenant from the key).
    no_tenant_data : bool
        Allow-listed as touching no tenant data: then any tenant-scoped call is a finding.
    """
    module = _Module.parse(path, source)
    findings: list[Finding] = []
    sinks = {**TENANT_KEY_CALLS, **_tenant_params(module)}
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        trusted = _trusted_names(node)
        receivers = _repository_receivers(module, node)
        for call in _calls(node):
            name = _called_name(call)
            tenant_arg: ast.AST | None = None
            what = name or "?"
            if (
                isinstance(call.func, ast.Attribute)
                and call.func.attr in TENANT_METHODS
                and _is_repository(module, call.func.value, receivers)
            ):
                tenant_arg = call.args[0] if call.args else None
                what = f"repository .{call.func.attr}()"
            elif isinstance(call.func, ast.Name) and name in sinks:
                index = sinks[name]
                keyword = [k.value for k in call.keywords if k.arg == "tenant"]
                tenant_arg = (
                    keyword[0]
                    if keyword
                    else (call.args[index] if len(call.args) > index else None)
                )
            else:
                continue
            if no_tenant_data:
                findings.append(
                    Finding(
                        function,
                        "tenant-allow-list",
                        f"{path}:{call.lineno} {what} touches tenant data, yet the function "
                        "is listed as touching none",
                    )
                )
                continue
            if not (isinstance(tenant_arg, ast.Name) and tenant_arg.id in trusted):
                shown = ast.unparse(tenant_arg) if tenant_arg is not None else "nothing"
                findings.append(
                    Finding(
                        function,
                        "tenant-source",
                        f"{path}:{call.lineno} {what} gets its tenant from `{shown}`, not from "
                        "request_tenant (API key) or the event",
                    )
                )
    if api and not no_tenant_data:
        if not module.routes:
            findings.append(Finding(function, "tenant-route", f"{path} declares no routes"))
        for name, route in module.routes:
            reached = _reachable(module, route)
            if not any(
                _called_name(c) == "request_tenant" for node in reached for c in _calls(node)
            ):
                findings.append(
                    Finding(
                        function,
                        "tenant-route",
                        f"{path} route {name} never resolves the tenant from the API key",
                    )
                )
            for node in reached:
                for call in _calls(node):
                    if (
                        isinstance(call.func, ast.Attribute)
                        and call.func.attr in CROSS_TENANT_METHODS
                    ):
                        findings.append(
                            Finding(
                                function,
                                "tenant-cross",
                                f"{path}:{call.lineno} route {name} reaches .{call.func.attr}() "
                                "(reads across tenants)",
                            )
                        )
    return findings


def tenant_findings(template: Template, root: Path = ROOT) -> list[Finding]:
    """Every function's handler module follows the tenant rules.

    API functions: each route resolves the tenant with ``request_tenant`` (the API key's
    mapping) and passes that name to every tenant-scoped call (repository methods, report
    and result keys, helpers with a ``tenant`` parameter); nothing reachable from a route
    reads across tenants. Event consumers: the tenant comes from the event (or, for the
    fan-out, from the store's own index), never from anything else. Functions on
    :data:`NO_TENANT_DATA` make no tenant-scoped call at all.
    """
    findings: list[Finding] = []
    for spec in template.functions():
        module_name, _, _ = spec.handler.rpartition(".")
        path = Path(*module_name.split(".")).with_suffix(".py")
        source = (root / path).read_text(encoding="utf-8")
        findings += tenant_findings_for_module(
            spec.logical_id,
            str(path),
            source,
            api=bool(spec.routes),
            no_tenant_data=spec.logical_id in NO_TENANT_DATA,
        )
    return findings


def all_findings(template: Template) -> list[Finding]:
    """Every check of this module against one template."""
    return [
        *iam_findings(template),
        *least_privilege_findings(template),
        *storage_findings(template),
        *api_findings(template),
        *cache_findings(template),
        *tenant_findings(template),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the least-privilege table, then any finding (exit 1 when there is one)."""
    del argv
    template = Template.load()
    print(least_privilege_table(template))
    findings = all_findings(template)
    for finding in findings:
        print(finding, file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
