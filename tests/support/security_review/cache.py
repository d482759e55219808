"""The REST API's response cache: shared market data only, encrypted, one cache per key."""

from __future__ import annotations

from typing import Any

from stack import Template, resource_path

from ._common import Finding

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
