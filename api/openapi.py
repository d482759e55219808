"""The API's one OpenAPI 3.1 document, generated from the pydantic models in ``core.models``.

``OPERATIONS`` describes each route (a test checks they are exactly the template's routes);
request and response schemas come from the models, so validation and documentation cannot
disagree. The generated document is committed as ``api/openapi.json`` (served by
``GET /openapi.json``) and rendered to ``docs/API.md``; ``python -m api.openapi`` rewrites
both and a test fails when either is stale.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from core.models import (
    AnalyzeRequest,
    EfficientFrontierRequest,
    ErrorEnvelope,
    HrpRequest,
    Portfolio,
    PortfolioCreate,
    PortfolioPage,
    PortfolioUpdate,
    ReportLinks,
    RiskParityRequest,
    Run,
    RunPage,
    SimulateRequest,
)

__all__ = ["DOCUMENT_PATH", "OPERATIONS", "Operation", "build_document", "render_markdown"]

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")
MARKDOWN_PATH = Path(__file__).resolve().parent.parent / "docs" / "API.md"


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # path | query | header
    description: str
    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    success: int
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = (400, 403, 404)
    example: dict[str, Any] | None = None
    public: bool = False
    extra_success: dict[int, str] = field(default_factory=dict)


_ID = Param("id", "path", "Resource id.", {"type": "string", "maxLength": 64}, required=True)
_LIMIT = Param(
    "limit",
    "query",
    "Page size (1-100).",
    {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
)
_TOKEN = Param(
    "nextToken",
    "query",
    "Opaque token from the previous page.",
    {"type": "string", "maxLength": 2048},
)
_PREFER = Param(
    "Prefer",
    "header",
    "`respond-async` always answers 202 and runs in the background.",
    {"type": "string"},
)
_MD_QUERY = (
    Param(
        "tickers",
        "query",
        "Comma-separated exchange symbols (1-200).",
        {"type": "string"},
        required=True,
    ),
    Param(
        "start",
        "query",
        "First day, ISO date.",
        {"type": "string", "format": "date"},
        required=True,
    ),
    Param(
        "end", "query", "Last day, ISO date.", {"type": "string", "format": "date"}, required=True
    ),
    Param(
        "frequency",
        "query",
        "daily, weekly or monthly.",
        {"type": "string", "enum": ["daily", "weekly", "monthly"], "default": "daily"},
    ),
)
_RUN_ERRORS = (400, 403, 404, 413, 415, 422)
_INLINE = {"returns": {"AAPL": [0.01, 0.02, -0.004], "MSFT": [0.02, 0.01, 0.003]}}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/portfolios"): Operation(
        "List your portfolios",
        "portfolios",
        200,
        response=PortfolioPage,
        params=(_LIMIT, _TOKEN),
        errors=(400, 403),
    ),
    ("POST", "/portfolios"): Operation(
        "Create a portfolio",
        "portfolios",
        201,
        PortfolioCreate,
        Portfolio,
        errors=(400, 403, 413, 415),
        example={
            "name": "Tech Concentrated",
            "description": "Technology-focused",
            "assets": {"AAPL": 0.25, "MSFT": 0.25, "GOOGL": 0.2, "AMZN": 0.2, "META": 0.1},
        },
    ),
    ("GET", "/portfolios/{id}"): Operation(
        "Read a portfolio", "portfolios", 200, response=Portfolio, params=(_ID,)
    ),
    ("PUT", "/portfolios/{id}"): Operation(
        "Replace a portfolio (optimistic: send the version you read)",
        "portfolios",
        200,
        PortfolioUpdate,
        Portfolio,
        params=(_ID,),
        errors=(400, 403, 404, 409, 413, 415),
        example={"name": "Tech", "assets": {"AAPL": 0.5, "MSFT": 0.5}, "version": 1},
    ),
    ("DELETE", "/portfolios/{id}"): Operation(
        "Delete a portfolio",
        "portfolios",
        204,
        params=(
            _ID,
            Param(
                "version",
                "query",
                "The version you read.",
                {"type": "integer", "minimum": 1},
                required=True,
            ),
        ),
        errors=(400, 403, 404, 409),
    ),
    ("POST", "/optimization/risk-parity"): Operation(
        "Risk parity / risk budgeting weights",
        "runs",
        201,
        RiskParityRequest,
        Run,
        params=(_PREFER,),
        errors=_RUN_ERRORS,
        example=_INLINE,
        extra_success={202: "Accepted; poll Location"},
    ),
    ("POST", "/optimization/hrp"): Operation(
        "Hierarchical risk parity weights",
        "runs",
        201,
        HrpRequest,
        Run,
        params=(_PREFER,),
        errors=_RUN_ERRORS,
        example={**_INLINE, "linkage": "single"},
        extra_success={202: "Accepted; poll Location"},
    ),
    ("POST", "/optimization/efficient-frontier"): Operation(
        "Long-only (bounded) efficient frontier",
        "runs",
        201,
        EfficientFrontierRequest,
        Run,
        params=(_PREFER,),
        errors=_RUN_ERRORS,
        example={**_INLINE, "nPoints": 20},
        extra_success={202: "Accepted; poll Location"},
    ),
    ("POST", "/monte-carlo/simulate"): Operation(
        "Monte Carlo simulation of a portfolio",
        "runs",
        201,
        SimulateRequest,
        Run,
        params=(_PREFER,),
        errors=_RUN_ERRORS,
        example={**_INLINE, "nPaths": 1000, "horizonDays": 21, "seed": 7},
        extra_success={202: "Accepted; poll Location"},
    ),
    ("POST", "/monte-carlo/analyze"): Operation(
        "Statistics of given value paths",
        "runs",
        201,
        AnalyzeRequest,
        Run,
        params=(_PREFER,),
        errors=_RUN_ERRORS,
        example={"paths": [[1.0, 1.01, 1.03], [1.0, 0.98, 0.97]]},
        extra_success={202: "Accepted; poll Location"},
    ),
    ("GET", "/runs/{id}"): Operation("Read a run", "runs", 200, response=Run, params=(_ID,)),
    ("GET", "/portfolios/{id}/runs"): Operation(
        "List a portfolio's runs, newest first",
        "runs",
        200,
        response=RunPage,
        params=(_ID, _LIMIT, _TOKEN),
    ),
    ("GET", "/runs/{id}/report"): Operation(
        "Presigned links (15 minutes) to a run's HTML report and its PNG charts",
        "reports",
        200,
        response=ReportLinks,
        params=(_ID,),
        errors=(403, 404, 409),
    ),
    ("GET", "/portfolios/{id}/report"): Operation(
        "Presigned links (15 minutes) to a portfolio's report: its latest runs side by side",
        "reports",
        200,
        response=ReportLinks,
        params=(_ID,),
        errors=(403, 404, 409),
    ),
    ("GET", "/market-data/prices"): Operation(
        "Closes for tickers over a date range",
        "market data",
        200,
        params=_MD_QUERY,
        errors=(400, 403, 404, 422),
    ),
    ("GET", "/market-data/returns"): Operation(
        "Simple and log returns for tickers over a date range",
        "market data",
        200,
        params=_MD_QUERY,
        errors=(400, 403, 404, 422),
    ),
    ("GET", "/openapi.json"): Operation("This document", "meta", 200, errors=(), public=True),
}

_ERROR_TEXT = {
    400: "Invalid request (see error.details)",
    403: "Missing or invalid API key",
    404: "Not found (or another tenant's)",
    409: "Version conflict, or the resource is not ready",
    413: "Body larger than 1 MB",
    415: "Body is not application/json",
    422: "Well-formed but refused (a named limit, or the computation failed)",
    429: "Throttled by the usage plan",
    501: "Not implemented yet",
}


def _schemas() -> tuple[dict[Any, Any], dict[str, Any]]:
    models: list[tuple[type[BaseModel], Any]] = []
    for op in OPERATIONS.values():
        if op.request:
            models.append((op.request, "validation"))
        if op.response:
            models.append((op.response, "serialization"))
    models.append((ErrorEnvelope, "serialization"))
    unique = list(dict.fromkeys(models))
    refs, defs = models_json_schema(
        unique, by_alias=True, ref_template="#/components/schemas/{model}"
    )
    components: dict[str, Any] = defs.get("$defs", {})
    return dict(refs), components


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    refs, components = _schemas()
    error_ref = refs[(ErrorEnvelope, "serialization")]
    paths: dict[str, Any] = {}
    for (method, path), op in OPERATIONS.items():
        operation: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": (
                method.lower()
                + path.replace("/", "_")
                .replace("{", "")
                .replace("}", "")
                .replace("-", "_")
                .replace(".", "_")
            ),
            "parameters": [
                {
                    "name": p.name,
                    "in": p.where,
                    "required": p.required or p.where == "path",
                    "description": p.description,
                    "schema": p.schema,
                }
                for p in op.params
            ],
            "responses": {},
        }
        if op.public:
            operation["security"] = []
        if op.request:
            body: dict[str, Any] = {"schema": refs[(op.request, "validation")]}
            if op.example:
                body["example"] = op.example
            operation["requestBody"] = {"required": True, "content": {"application/json": body}}
        success: dict[str, Any] = {"description": "OK"}
        if op.response:
            success["content"] = {
                "application/json": {"schema": refs[(op.response, "serialization")]}
            }
        elif op.success != 204:
            success["content"] = {"application/json": {"schema": {"type": "object"}}}
        operation["responses"][str(op.success)] = success
        for status, text in op.extra_success.items():
            operation["responses"][str(status)] = {
                "description": text,
                "headers": {"Location": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": refs[(Run, "serialization")]}},
            }
        for status in (*op.errors, *(() if op.public else (429,))):
            operation["responses"][str(status)] = {
                "description": _ERROR_TEXT[status],
                "content": {"application/json": {"schema": error_ref}},
            }
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stratigos API",
            "version": "1.0.0",
            "description": "Portfolio analytics: portfolios, optimization and simulation runs, "
            "market data and reports. JSON, camelCase fields, ISO-8601 UTC timestamps. Every "
            'error is {"error": {"code", "message", "details"}}.',
        },
        "servers": [
            {
                "url": "https://{apiId}.execute-api.{region}.amazonaws.com/v1",
                "variables": {"apiId": {"default": "example"}, "region": {"default": "us-east-1"}},
            },
            {"url": "http://127.0.0.1:3000", "description": "stratigos local up"},
        ],
        "security": [{"apiKey": []}],
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": components,
        },
        "paths": paths,
    }


def document_text() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=False) + "\n"


def render_markdown(document: dict[str, Any]) -> str:
    """docs/API.md: every route with its parameters, body example and a curl command."""
    lines = [
        "# Stratigos API",
        "",
        "<!-- Generated by `python -m api.openapi` from api/openapi.json; do not edit. -->",
        "",
        document["info"]["description"],
        "",
        "Every route but `GET /openapi.json` needs `x-api-key`; a key belongs to one tenant,",
        "and another tenant's resources answer 404. Locally: `stratigos local up` serves on",
        "http://127.0.0.1:3000 with the key `dev-key`.",
        "",
        "| status | meaning |",
        "|---|---|",
        *[f"| {s} | {t} |" for s, t in _ERROR_TEXT.items()],
        "",
    ]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            lines += [f"## {method.upper()} {path}", "", op["summary"] + ".", ""]
            if op["parameters"]:
                lines += ["| parameter | in | required | description |", "|---|---|---|---|"]
                lines += [
                    f"| `{p['name']}` | {p['in']} | {'yes' if p['required'] else 'no'} "
                    f"| {p['description']} |"
                    for p in op["parameters"]
                ]
                lines.append("")
            url = "$API" + path.replace("{id}", "p-0123456789abcdef")
            query = [p for p in op["parameters"] if p["in"] == "query" and p["required"]]
            if path.startswith("/market-data"):
                url += "?tickers=AAPL,MSFT&start=2024-01-01&end=2024-12-31&frequency=weekly"
            elif query:
                url += "?" + "&".join(f"{p['name']}=1" for p in query)
            curl = [f"curl -s -X {method.upper()} '{url}'"]
            if op.get("security") != []:
                curl.append("-H 'x-api-key: dev-key'")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if "example" in body:
                curl += [
                    "-H 'Content-Type: application/json'",
                    f"-d '{json.dumps(body['example'])}'",
                ]
            lines += ["```bash", " \\\n  ".join(curl), "```", ""]
            codes = ", ".join(sorted(op["responses"]))
            lines += [f"Answers: {codes}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Rewrite api/openapi.json and docs/API.md (``--check``: fail when they are stale)."""
    args = sys.argv[1:] if argv is None else argv
    text = document_text()
    markdown = render_markdown(json.loads(text))
    if "--check" in args:
        stale = [
            str(p)
            for p, want in ((DOCUMENT_PATH, text), (MARKDOWN_PATH, markdown))
            if not p.exists() or p.read_text() != want
        ]
        if stale:
            print("stale: " + ", ".join(stale) + " (run python -m api.openapi)", file=sys.stderr)
            return 1
        return 0
    DOCUMENT_PATH.write_text(text)
    MARKDOWN_PATH.write_text(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
