"""What every check shares: the finding, and readings of the template's resources."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack import Template

# The repository's root: handler modules are read from here (tests/support/security_review/).
ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Finding:
    """One failed check: which resource, which rule, and what is wrong."""

    resource: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: [{self.rule}] {self.message}"


def as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value or ())


def matches(action: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def functions_of(template: Template) -> list[str]:
    return [
        logical
        for logical, resource in template.resources.items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    ]


def arns_of(template: Template, kind: str) -> dict[str, str]:
    return {
        logical: str(template.get_att(logical, "Arn")) for logical in template.resources_of(kind)
    }


def s3_prefix(resource: str, bucket_arns: Iterable[str]) -> str | None:
    """The key prefix an object ARN names (``None`` when it is not one of our buckets)."""
    for bucket in bucket_arns:
        if resource.startswith(bucket + "/"):
            return resource[len(bucket) + 1 :]
    return None
