"""API: every route requires an API key (the API's own description aside); no wildcard CORS
with credentials."""

from __future__ import annotations

from stack import Template

from ._common import Finding

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
