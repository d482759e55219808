"""Security review of template.yaml and the handlers, as code (tests/unit/platform).

Test support, never shipped. Every check returns :class:`Finding` objects naming the
offending resource, so a test can assert that the real template has none and that a
synthetic bad one is flagged. One module per concern:

* :mod:`.iam` - :func:`iam_findings`: each function's ``Policies`` (inline statements and
  SAM policy templates, expanded with AWS's published definitions) plus what SAM attaches
  itself: no ``*`` or ``service:*`` action, no ``Resource: "*"`` except for actions AWS
  offers no resource scoping for, S3 object access only under named prefixes,
  ``s3:ListBucket`` only with an ``s3:prefix`` condition, DynamoDB only on the template's
  own tables, nothing sensitive (IAM, STS, KMS administration, bucket ACLs or policies,
  table deletion).
* :mod:`.least_privilege` - :func:`least_privilege_findings`: each function's policies
  grant exactly what its handler's code needs (:data:`NEEDS`), no more, no less;
  :func:`least_privilege_table` is docs/SECURITY.md's table.
* :mod:`.storage` - :func:`storage_findings`: buckets encrypted, private, owner-enforced,
  TLS-only; DynamoDB tables with SSE and point-in-time recovery; SQS and SNS encrypted;
  every log group with a retention.
* :mod:`.api` - :func:`api_findings`: every route requires an API key (``/openapi.json``
  aside).
* :mod:`.cache` - :func:`cache_findings`: the stage's response cache serves shared market
  data only: no other method may be cached (whatever the template's parameters), the
  default method setting says ``CachingEnabled: false``, cached answers are encrypted and
  keyed by the caller's API key.
* :mod:`.tenancy` - :func:`tenant_findings`: static (``ast``) reading of each function's
  handler module: routes resolve the tenant with ``request_tenant`` and every
  tenant-scoped call takes it (or, in event consumers, the event's tenant), never a
  request field.

``python -m tests.support.security_review`` (from the repository's root) prints the
least-privilege table of docs/SECURITY.md, then any finding (exit status 1 if there is one).
"""

from __future__ import annotations

from ._common import Finding
from .api import PUBLIC_ROUTES, api_findings
from .cache import PER_KEY_CACHE_PARAMETER, SHARED_DATA_ROUTES, cache_findings
from .command import all_findings, main
from .iam import (
    ALLOWED_WILDCARD_ACTIONS,
    MANAGED_SOURCES,
    RESOURCE_STAR_ACTIONS,
    SAM_POLICY_TEMPLATES,
    SENSITIVE_ACTIONS,
    WRITE_ACTIONS,
    Grant,
    function_grants,
    iam_findings,
)
from .least_privilege import (
    NEEDS,
    Access,
    granted_access,
    least_privilege_findings,
    least_privilege_table,
)
from .storage import storage_findings
from .tenancy import NO_TENANT_DATA, tenant_findings, tenant_findings_for_module

__all__ = [
    "ALLOWED_WILDCARD_ACTIONS",
    "MANAGED_SOURCES",
    "NEEDS",
    "NO_TENANT_DATA",
    "PER_KEY_CACHE_PARAMETER",
    "PUBLIC_ROUTES",
    "RESOURCE_STAR_ACTIONS",
    "SAM_POLICY_TEMPLATES",
    "SENSITIVE_ACTIONS",
    "SHARED_DATA_ROUTES",
    "WRITE_ACTIONS",
    "Access",
    "Finding",
    "Grant",
    "all_findings",
    "api_findings",
    "cache_findings",
    "function_grants",
    "granted_access",
    "iam_findings",
    "least_privilege_findings",
    "least_privilege_table",
    "main",
    "storage_findings",
    "tenant_findings",
    "tenant_findings_for_module",
]
