"""The API's OpenAPI 3.1 document, docs/API.md and template.yaml's route events, all
derived from the one route declaration (``core.routes.routes()``: the static routes and one
per registered analysis) and the pydantic models.

``python -m api.openapi`` rewrites the three; ``--check`` fails when any is stale (a test
runs it). Why our own declaration rather than Powertools' ``enable_validation``: requests
are parsed strictly before pydantic sees them (JSON only, ≤ 1 MB, no NaN, no duplicate
keys, typed 4xx envelopes), the declaration also drives template.yaml and the docs' runnable
examples, and the document is generated at build time, not on a cold start.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import analyses as _registers_analyses  # noqa: F401  (their routes and result models)
from core.content_types import JSON_CONTENT_TYPE
from core.models import MAX_RUN_ASSETS, ErrorEnvelope
from core.routes import Route, routes

__all__ = [
    "DOCUMENT_PATH",
    "MARKDOWN_PATH",
    "TEMPLATE_PATH",
    "build_document",
    "document_text",
    "render_markdown",
    "render_template",
]

_ROOT = Path(__file__).resolve().parent.parent
DOCUMENT_PATH = Path(__file__).with_name("openapi.json")
MARKDOWN_PATH = _ROOT / "docs" / "API.md"
TEMPLATE_PATH = _ROOT / "template.yaml"

_ERROR_TEXT = {
    400: "Invalid request (see error.details)",
    403: "Missing or invalid API key",
    404: "Not found (or another tenant's)",
    409: "Version conflict (a stale `version`), or not ready (code NOT_READY / NO_SUCCESSFUL_RUN)",
    412: "`If-Match` names a version that is no longer current",
    413: "Body larger than 1 MB",
    415: "Body is not application/json",
    422: "Well-formed but refused (a named limit, or the computation failed)",
    429: "Throttled by the usage plan",
}


def _schemas() -> tuple[dict[Any, Any], dict[str, Any]]:
    models: list[tuple[type[BaseModel], Any]] = []
    for op in routes():
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


def _operation(op: Route, refs: dict[Any, Any], error_ref: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": op.name[0].lower() + op.name[1:],
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
        operation["requestBody"] = {"required": True, "content": {JSON_CONTENT_TYPE: body}}
    success: dict[str, Any] = {"description": "OK"}
    if op.response:
        success["content"] = {JSON_CONTENT_TYPE: {"schema": refs[(op.response, "serialization")]}}
    elif op.success != 204:
        success["content"] = {JSON_CONTENT_TYPE: {"schema": {"type": "object"}}}
    if op.response is not None and op.path.startswith("/portfolios/{id}") and op.method == "GET":
        success["headers"] = {"ETag": {"schema": {"type": "string"}}}
    if op.cache_ttl:
        success["description"] = f"OK (cached by API Gateway for {op.cache_ttl} s per query)"
    operation["responses"][str(op.success)] = success
    for status, text in op.extra_success.items():
        operation["responses"][str(status)] = {
            "description": text,
            "headers": {"Location": {"schema": {"type": "string"}}},
            "content": {JSON_CONTENT_TYPE: {"schema": refs[(op.response, "serialization")]}},
        }
    for status in (*op.errors, *(() if op.public else (429,))):
        operation["responses"][str(status)] = {
            "description": _ERROR_TEXT[status],
            "content": {JSON_CONTENT_TYPE: {"schema": error_ref}},
        }
    return operation


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    refs, components = _schemas()
    error_ref = refs[(ErrorEnvelope, "serialization")]
    paths: dict[str, Any] = {}
    for op in routes():
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, error_ref)
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


# ---------------------------------------------------------------- docs/API.md
# Shell variables the examples set and use, in the order a reader runs them.
_CAPTURES = {"CreatePortfolio": "PORTFOLIO_ID", "RiskParity": "RUN_ID"}
_ID_VARIABLE = {"/portfolios/": "PORTFOLIO_ID", "/runs/": "RUN_ID"}
# Routes whose answer may come a moment after the run (a report is rendered after it).
_POLLED = {"GetRunReport", "GetPortfolioReport"}


def _type_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_type_text(s) for s in schema["anyOf"])
    if "oneOf" in schema:
        return " or ".join(_type_text(s) for s in schema["oneOf"])
    kind = schema.get("type", "any")
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type_text(schema['additionalProperties'])}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind)


def _limits(schema: dict[str, Any]) -> str:
    parts = []
    for key, text in (
        ("minimum", "≥ {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "≤ {}"),
        ("exclusiveMaximum", "< {}"),
        ("minLength", "length ≥ {}"),
        ("maxLength", "length ≤ {}"),
        ("minItems", "≥ {} items"),
        ("maxItems", "≤ {} items"),
    ):
        if key in schema:
            parts.append(text.format(schema[key]))
    if "default" in schema and not isinstance(schema["default"], (list, dict)):
        parts.append(f"default `{json.dumps(schema['default'])}`")
    return "; ".join(parts)


def _field_table(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [" ".join(schema["description"].split()), ""]
    properties = schema.get("properties", {})
    if not properties:
        return [*lines, f"Type: {_type_text(schema)}.", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | description |", "|---|---|---|---|"]
    for field, spec in properties.items():
        text = " ".join(str(spec.get("description", "")).split())
        limits = _limits(spec)
        if limits:
            text = f"{text} ({limits})" if text else limits
        cell = text.replace("|", "\\|")
        lines.append(
            f"| `{field}` | {_type_text(spec)} | {'yes' if field in required else 'no'} | {cell} |"
        )
    return [*lines, ""]


def _url(op: Route) -> str:
    path = op.path
    for prefix, variable in _ID_VARIABLE.items():
        if path.startswith(prefix + "{id}"):
            path = path.replace("{id}", "$" + variable)
    query = [p for p in op.params if p.where == "query" and p.example is not None]
    if query:
        path += "?" + "&".join(f"{p.name}={p.example}" for p in query)
    return "$API" + path


def _example(op: Route) -> list[str]:
    """The route's example as a reader pastes it (API and KEY set, ids from earlier steps)."""
    curl = [f'curl -sS --fail-with-body -X {op.method} "{_url(op)}"']
    if not op.public:
        curl.append('-H "x-api-key: $KEY"')
    if op.name == "UpdatePortfolio":
        curl.append("-H 'If-Match: \"1\"'")
    if op.example is not None:
        curl += [
            "-H 'Content-Type: application/json'",
            "-d " + shlex.quote(json.dumps(op.example)),
        ]
    command = " \\\n  ".join(curl)
    variable = _CAPTURES.get(op.name)
    if variable:
        stem = variable.lower().removesuffix("_id")
        return [
            f"{command} \\\n  | tee {stem}.json",
            f"{variable}=$(python3 -c 'import json; "
            f'print(json.load(open("{stem}.json"))["id"])\')',
        ]
    if op.name in _POLLED:
        # Rendered a moment after the run finishes: curl asks again (409) for up to a minute.
        return [
            command.replace(
                "--fail-with-body",
                "--fail-with-body --retry 30 --retry-delay 2 --retry-all-errors",
                1,
            )
        ]
    return [command]


# A portfolio with a mandate and views (created, then replaced by one whose groups no weights
# can meet, then deleted); the refusal is shown as the API answers it (a unit test checks).
MANDATE_EXAMPLE: dict[str, Any] = {
    "name": "Tech and Energy",
    "description": "A mandate and two views",
    "assets": {"AAPL": 0.3, "MSFT": 0.3, "XOM": 0.2, "CVX": 0.2},
    "constraints": {
        "minWeight": 0.05,
        "maxWeight": 0.4,
        "assets": {"AAPL": {"max": 0.35}},
        "groups": [
            {"name": "Tech", "assets": ["AAPL", "MSFT"], "min": 0.4, "max": 0.7},
            {"name": "Energy", "assets": ["XOM", "CVX"], "max": 0.5},
        ],
        "turnover": 0.4,
        "costsBps": {"AAPL": 5, "MSFT": 5, "XOM": 10, "CVX": 10},
    },
    "views": {
        "items": [
            {"asset": "XOM", "return": 0.08, "confidence": 0.6},
            {"long": ["AAPL", "MSFT"], "short": ["CVX"], "return": 0.03, "confidence": 0.4},
        ],
        "prior": "implied",
        "riskAversion": 2.5,
        "tau": 0.05,
    },
}
INFEASIBLE_EXAMPLE: dict[str, Any] = {
    **MANDATE_EXAMPLE,
    "constraints": {
        **MANDATE_EXAMPLE["constraints"],
        "groups": [
            {"name": "Tech", "assets": ["AAPL", "MSFT"], "min": 0.7},
            {"name": "Energy", "assets": ["XOM", "CVX"], "min": 0.5},
        ],
    },
}
_CONFLICTS = [
    "budget (weights sum to 1)",
    "constraints.groups[0]: group 'Tech' >= 0.7",
    "constraints.groups[1]: group 'Energy' >= 0.5",
]
INFEASIBLE_ANSWER: dict[str, Any] = {
    "error": {
        "code": "UNPROCESSABLE",
        "message": "The portfolio's constraints admit no weights: " + "; ".join(_CONFLICTS) + ".",
        "details": _CONFLICTS,
    }
}


def _curl(method: str, path: str, body: dict[str, Any] | None, fail: bool = True) -> str:
    parts = [
        f'curl -sS{" --fail-with-body" if fail else ""} -X {method} "$API{path}"',
        '-H "x-api-key: $KEY"',
    ]
    if body is not None:
        parts += ["-H 'Content-Type: application/json'", "-d " + shlex.quote(json.dumps(body))]
    if not fail:
        parts.append("-w '\\nHTTP %{http_code}\\n'")
    return " \\\n  ".join(parts)


def _mandate_section() -> list[str]:
    """docs/API.md's section on a portfolio's constraints and views, with runnable examples."""
    return [
        "## Constraints and views",
        "",
        "A portfolio may carry two optional objects, stored with it and handed to every run of",
        "it (`POST /portfolios` and `PUT /portfolios/{id}`; GET answers them as written, with",
        "defaults filled in):",
        "",
        "- `constraints` ([PortfolioConstraints](#portfolioconstraints)), the mandate its",
        "  optimisations keep to: `minWeight` and `maxWeight` bound every asset (default 0 and 1,",
        "  long only); `assets` overrides them per ticker; `groups` bound the summed weight of",
        "  named sets of tickers; `turnover` caps Σ|w − w₀| away from the portfolio's own weights",
        "  w₀; `costsBps` charges trading costs in basis points of the amount traded (one rate,",
        "  or one per ticker, unlisted tickers free), netted from expected returns. Every ticker",
        "  they name must be one of the portfolio's assets (a weight of 0 is fine), and a",
        f"  portfolio with constraints holds at most {MAX_RUN_ASSETS} assets.",
        "- `views` ([PortfolioViews](#portfolioviews)), Black-Litterman views blended with a",
        '  prior: absolute (`{"asset": "XOM", "return": 0.08}`) or relative (`{"long": [...],',
        '  "short": [...], "return": 0.03}`: the long leg\'s equal-weighted return over the short',
        "  leg's), returns annualised. Give every view a `confidence` (0 to 1, Idzorek's method)",
        "  or none (He-Litterman's uncertainty, τ·diag(PΣPᵀ)). The prior is `implied` (π = δΣw,",
        "  the returns that make the portfolio's own weights optimal, δ = `riskAversion`) or",
        "  `historical` (the sample mean); `tau` scales its uncertainty.",
        "",
        "A mandate is checked when the portfolio is written: when no fully invested weights",
        "meet it, the write is refused (422) and `details` name constraints in conflict, an",
        "irreducible set (loosen or drop any one of them and the rest can hold together).",
        "",
        "```bash",
        _curl("POST", "/portfolios", {"portfolio": MANDATE_EXAMPLE}) + " \\\n  | tee mandate.json",
        'MANDATE_ID=$(python3 -c \'import json; print(json.load(open("mandate.json"))["id"])\')',
        "```",
        "",
        "The same portfolio with groups no weights can meet (Tech at least 70 % and Energy at",
        "least 50 %) is refused with 422 (curl prints the status after the body), and the stored",
        "one stays as it was:",
        "",
        "```bash",
        _curl("PUT", "/portfolios/$MANDATE_ID", {"portfolio": INFEASIBLE_EXAMPLE}, fail=False),
        "```",
        "",
        "```json",
        json.dumps(INFEASIBLE_ANSWER, indent=2),
        "```",
        "",
        "```bash",
        _curl("DELETE", "/portfolios/$MANDATE_ID", None),
        "```",
        "",
    ]


def render_markdown(document: dict[str, Any]) -> str:
    """docs/API.md: every route with its parameters, field tables and a runnable example."""
    lines = [
        "# Stratigos API",
        "",
        "<!-- Generated by `python -m api.openapi` from core/routes.py and the models; "
        "do not edit. -->",
        "",
        document["info"]["description"],
        "",
        "Every route but `GET /openapi.json` needs `x-api-key`; a key belongs to one tenant,",
        "and another tenant's resources answer 404. Portfolios carry an `ETag` (their",
        "`version`): send it back as `If-Match` on PUT and DELETE to write only what you read",
        "(412 when it changed); without it the write is unconditional.",
        "",
        "## Try it",
        "",
        "The examples below run in order in one shell. Start the local stack (`make local-up`,",
        "or `.venv/bin/stratigos local up`), land the sample data in another terminal",
        "(`.venv/bin/stratigos ingest sample_data/files/*`), then set:",
        "",
        "```bash",
        "API=http://127.0.0.1:3000 KEY=dev-key",
        "```",
        "",
        "Each example prints the JSON answer; `--fail-with-body` makes curl exit non-zero on",
        "an error status (the error envelope is still printed). The create and risk-parity",
        "examples keep the new ids in `PORTFOLIO_ID` and `RUN_ID` for the routes after them.",
        "Against AWS, `API` is the stack's `ApiUrl` output and `KEY` your API key",
        "(docs/DEPLOYMENT.md).",
        "",
        "| status | meaning |",
        "|---|---|",
        *[f"| {s} | {t} |" for s, t in _ERROR_TEXT.items()],
        "",
        "## Routes",
        "",
    ]
    for route in routes():  # declaration order: the order the examples run in
        method, path = route.method.lower(), route.path
        op = document["paths"][path][method]
        lines += [f"### {method.upper()} {path}", "", op["summary"] + ".", ""]
        if op["parameters"]:
            lines += ["| parameter | in | required | description |", "|---|---|---|---|"]
            lines += [
                f"| `{p['name']}` | {p['in']} | {'yes' if p['required'] else 'no'} "
                f"| {p['description']} |"
                for p in op["parameters"]
            ]
            lines.append("")
        body = op.get("requestBody", {}).get("content", {}).get(JSON_CONTENT_TYPE, {})
        if body:
            lines += [f"Request body: {_type_text(body['schema'])}.", ""]
        success = op["responses"][str(route.success)]
        schema = success.get("content", {}).get(JSON_CONTENT_TYPE, {}).get("schema")
        if schema and "$ref" in schema:
            lines += [f"Answer ({route.success}): {_type_text(schema)}.", ""]
        lines += ["```bash", *_example(route), "```", ""]
        codes = ", ".join(sorted(op["responses"]))
        lines += [f"Answers: {codes}.", ""]
    lines += _mandate_section()
    lines += [
        "## Schemas",
        "",
        "Every request and answer body, field by field (camelCase on the wire).",
        "",
    ]
    for name, schema in sorted(document["components"]["schemas"].items()):
        lines += _field_table(name, schema)
    return "\n".join(lines)


# ---------------------------------------------------------------- template.yaml
_FUNCTION = re.compile(r"^  (\w+):\s*$")
_EVENT = re.compile(r"^        (\w+):\s*$")


def _api_event(op: Route) -> list[str]:
    lines = [
        f"        {op.name}:",
        "          Type: Api",
        "          Properties:",
        "            RestApiId: !Ref StratigosApi",
        f"            Path: {op.path}",
        f"            Method: {op.method.lower()}",
    ]
    if op.public:
        lines += ["            Auth:", "              ApiKeyRequired: false"]
    if op.cache_ttl:
        # API Gateway's cache key: the caller's key (a cached answer is never served to
        # another key) and every query parameter of the route.
        lines += [
            "            # The cache key (ApiCacheEnabled): the caller's API key and the query.",
            "            RequestParameters:",
        ]
        keyed = [("header.x-api-key", True)] + [
            (f"querystring.{p.name}", p.required) for p in op.params if p.where == "query"
        ]
        for name, required in keyed:
            lines += [
                f"              - method.request.{name}:",
                f"                  Required: {'true' if required else 'false'}",
                "                  Caching: true",
            ]
    return lines


def render_template(text: str) -> str:
    """template.yaml with each function's ``Type: Api`` events written from the declaration
    (other events, and everything else, kept as they are)."""
    lines = text.splitlines()
    out: list[str] = []
    function: str | None = None
    in_events = False
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _FUNCTION.match(line)
        if match:
            function, in_events = match.group(1), False
        if function and line == "      Events:":
            out.append(line)
            out += [row for op in routes() if op.function == function for row in _api_event(op)]
            in_events = True
            i += 1
            continue
        if in_events:
            if line.strip() and not line.startswith("        "):
                in_events = False
            elif _EVENT.match(line):
                block = [line]
                i += 1
                while i < len(lines) and lines[i].startswith("          "):
                    block.append(lines[i])
                    i += 1
                if not any(row.strip() == "Type: Api" for row in block):
                    out += block
                continue
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite api/openapi.json, docs/API.md and the template's route events (``--check``:
    fail when any is stale)."""
    args = sys.argv[1:] if argv is None else argv
    text = document_text()
    outputs = {
        DOCUMENT_PATH: text,
        MARKDOWN_PATH: render_markdown(json.loads(text)),
        TEMPLATE_PATH: render_template(TEMPLATE_PATH.read_text()),
    }
    if "--check" in args:
        stale = [str(p) for p, want in outputs.items() if not p.exists() or p.read_text() != want]
        if stale:
            print("stale: " + ", ".join(stale) + " (run python -m api.openapi)", file=sys.stderr)
            return 1
        return 0
    for path, want in outputs.items():
        path.write_text(want)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
