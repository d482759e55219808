"""Storage: buckets, tables, queues, topics, log groups and Athena results are encrypted,
private and kept."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from stack import Template

from ._common import Finding, as_tuple, functions_of, matches


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
            and matches("s3:GetObject", as_tuple(statement.get("Action")))
            and resources <= set(as_tuple(statement.get("Resource")))
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
    for function in functions_of(template):
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
