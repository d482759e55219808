"""Least privilege: each function's policies grant exactly what its code needs.

:data:`NEEDS` is read from the handlers; a change to what a handler touches changes it and
the template's ``Policies`` together. :func:`least_privilege_table` is docs/SECURITY.md's
table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from stack import Template

from ._common import Finding, arns_of, as_tuple, functions_of, s3_prefix
from .iam import MANAGED_SOURCES, WRITE_ACTIONS, function_grants


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
    ),
    "ReturnsFunction": Access(
        tables={"IdempotencyTable": "rw"},
        objects={"curated/prices/": "r", "tmp/changes/": "r", "curated/returns/": "rw"},
        listed=frozenset({"curated/prices/", "curated/returns/"}),
        events=True,
    ),
    "RenderFunction": Access(
        tables={"RunsTable": "r", "PortfoliosTable": "r"},
        objects={"results/runs/": "r", "reports/": "rw"},
    ),
}
_READ = {"s3:GetObject", "s3:GetObjectVersion"}
_WRITE = {"s3:PutObject", "s3:DeleteObject"}


def granted_access(template: Template, function: str) -> Access:
    """What a function's policies allow, in :class:`Access` terms."""
    grants, _ = function_grants(template, function)
    tables = {arn: logical for logical, arn in arns_of(template, "AWS::DynamoDB::Table").items()}
    buckets = arns_of(template, "AWS::S3::Bucket")
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
            prefix = s3_prefix(resource, [data_bucket]) if data_bucket else None
            if prefix is not None:
                prefix = prefix.rstrip("*")
                modes = object_modes.setdefault(prefix, set())
                modes.update({"r"} if actions & _READ else set())
                modes.update({"w"} if actions & _WRITE else set())
            if resource == data_bucket and "s3:ListBucket" in actions:
                for values in grant.condition.get("StringLike", {}).values():
                    listed.update(v.rstrip("*") for v in as_tuple(values))
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
    for function in functions_of(template):
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
    for function in functions_of(template):
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
