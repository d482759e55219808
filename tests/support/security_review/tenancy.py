"""Tenancy, read statically (``ast``) from each function's handler module.

Routes resolve the tenant with ``request_tenant`` (the API key's mapping) and every
tenant-scoped call takes it; event consumers take it from the event; nothing reachable from
a route reads across tenants.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stack import Template

from ._common import ROOT, Finding

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
