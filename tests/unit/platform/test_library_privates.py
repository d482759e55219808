"""Nothing of ours leans on a library's private parts: no private name imported from
botocore or Powertools, and no Powertools class subclassed to override its internals
(core/rest.py once replaced the REST resolver's per-request state so that threads of one
process could share it; the local runtime now runs one request per environment, as Lambda
does, and the override is gone)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from layers.package import DEPLOYED_PACKAGES

ROOT = Path(__file__).resolve().parents[3]
# What we ship to Lambda, and what ships in the repository for running it locally.
ROOMS = sorted(DEPLOYED_PACKAGES | {"local", "stack"})
LIBRARIES = ("botocore", "aws_lambda_powertools")
# Extension points Powertools documents as such ("Create your own provider": subclass
# BaseProvider, implement _get and _get_multiple).
DOCUMENTED_HOOKS = {"BaseProvider": {"_get", "_get_multiple"}}


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text())


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


@pytest.mark.parametrize("library", LIBRARIES)
def test_no_module_imports_a_private_name_of(library: str) -> None:
    offenders = []
    for where, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == library:
                names = [node.module or "", *(alias.name for alias in node.names)]
                offenders += [f"{where}: {node.module}" for name in names if _private(name)]
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{where}: {alias.name}"
                    for alias in node.names
                    if alias.name.split(".")[0] == library and _private(alias.name)
                ]
            elif (
                isinstance(node, ast.Attribute)
                and ast.unparse(node).startswith(f"{library}.")
                and _private(ast.unparse(node))
            ):
                offenders.append(f"{where}: {ast.unparse(node)}")
    assert offenders == []


def test_no_powertools_class_is_subclassed_to_reach_its_internals() -> None:
    offenders = []
    for where, tree in _sources():
        powertools_names = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("aws_lambda_powertools")
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(base) for base in node.bases} & powertools_names
            if not bases:
                continue
            allowed = set().union(*(DOCUMENTED_HOOKS.get(base, set()) for base in bases))
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    overridden = item.name.startswith("_") and not item.name.startswith("__")
                    if overridden and item.name not in allowed:
                        offenders.append(f"{where}: {node.name}.{item.name}")
                    if any(ast.unparse(d).endswith("setter") for d in item.decorator_list):
                        offenders.append(f"{where}: {node.name}.{item.name} (a setter)")
            own = {  # what the subclass itself sets: its own state, not the library's
                target.attr
                for sub in ast.walk(node)
                if isinstance(sub, ast.Assign | ast.AnnAssign)
                for target in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])
                if isinstance(target, ast.Attribute) and ast.unparse(target.value) == "self"
            }
            offenders += [
                f"{where}: {node.name} reads {ast.unparse(sub)}"
                for sub in ast.walk(node)
                if isinstance(sub, ast.Attribute)
                and ast.unparse(sub.value) in ("self", "super()")
                and _private(sub.attr)
                and sub.attr not in allowed | own
            ]
    assert offenders == []
