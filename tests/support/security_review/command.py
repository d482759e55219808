"""Every check against one template, and the command that prints the least-privilege table."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from stack import Template

from ._common import Finding
from .api import api_findings
from .cache import cache_findings
from .iam import iam_findings
from .least_privilege import least_privilege_findings, least_privilege_table
from .storage import storage_findings
from .tenancy import tenant_findings


def all_findings(template: Template) -> list[Finding]:
    """Every check of the review against one template."""
    return [
        *iam_findings(template),
        *least_privilege_findings(template),
        *storage_findings(template),
        *api_findings(template),
        *cache_findings(template),
        *tenant_findings(template),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the least-privilege table, then any finding (exit 1 when there is one).

    ``python -m tests.support.security_review`` from the repository's root.
    """
    del argv
    template = Template.load()
    print(least_privilege_table(template))
    findings = all_findings(template)
    for finding in findings:
        print(finding, file=sys.stderr)
    return 1 if findings else 0
