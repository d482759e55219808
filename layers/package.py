"""Each function's code package: only the project modules its handler can reach.

The closure is static (``ast``), so imports made inside functions count as much as
top-level ones. Starting at the handler's module it follows every ``import``/``from … import``
of a project package (``core``, ``ingest``, ``compute``, ``api``, ``reports``), adds each
module's parent ``__init__``, and treats a package whose ``__init__`` resolves names lazily
(a module-level ``__getattr__``) as wholly reachable. Package data (``*.json``, ``*.j2``, …)
comes from pyproject's ``[tool.setuptools.package-data]`` for the packages included.

The package ships with bytecode (see :func:`layers.build.compile_bytecode`).
``local`` (the dev stack), ``stack`` (the template model), ``tests``, ``bench``, ``docs``
and ``sample_data`` are never shipped; a handler that imports any of them is an error.
"""

from __future__ import annotations

import ast
import fnmatch
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from layers.build import ROOT, compile_bytecode, tree_size, write_zip
from layers.exceptions import PackageError

__all__ = [
    "DEPLOYED_PACKAGES",
    "FunctionPackage",
    "handler_modules",
    "package_files",
    "package_function",
]

DEPLOYED_PACKAGES = frozenset({"core", "lake", "ingest", "compute", "analyses", "api", "reports"})
_NEVER_DEPLOYED = frozenset({"local", "stack", "tests", "bench", "sample_data", "layers"})


@dataclass(frozen=True)
class FunctionPackage:
    """A function's built code: the tree SAM uploads and its size."""

    logical_id: str
    handler: str
    directory: Path
    zip_path: Path
    modules: tuple[str, ...]
    unzipped_bytes: int
    zipped_bytes: int


def _module_path(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _is_package(module: str, root: Path) -> bool:
    return (root.joinpath(*module.split(".")) / "__init__.py").is_file()


def _has_lazy_exports(init: Path) -> bool:
    tree = ast.parse(init.read_text(), filename=str(init))
    return any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in tree.body)


def _imports(module: str, path: Path) -> set[str]:
    """Absolute names a module imports, including ``from pkg import submodule`` guesses."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def handler_modules(handler: str, root: Path = ROOT) -> list[str]:
    """Every project module a handler (``module.function``) can import, sorted.

    Raises
    ------
    PackageError
        When the handler's module is missing or something reachable is dev-only.
    """
    start = handler.rpartition(".")[0]
    if _module_path(start, root) is None:
        raise PackageError(f"handler {handler}: no module {start}")
    seen: set[str] = set()
    pending = [start]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        top = module.split(".")[0]
        if top in _NEVER_DEPLOYED:
            raise PackageError(f"handler {handler} reaches {module}, which is never deployed")
        path = _module_path(module, root)
        if path is None:
            continue  # ``from pkg import name`` where name is not a module
        seen.add(module)
        parts = module.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]
        if path.name == "__init__.py" and _has_lazy_exports(path):
            directory = path.parent
            pending += [
                ".".join((*parts, p.stem)) for p in directory.glob("*.py") if p.stem != "__init__"
            ]
        for name in _imports(module, path):
            if name.split(".")[0] in DEPLOYED_PACKAGES | _NEVER_DEPLOYED:
                pending.append(name)
    return sorted(seen)


def _package_data_patterns(root: Path) -> dict[str, list[str]]:
    config = tomllib.loads((root / "pyproject.toml").read_text())
    data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    return data


def package_files(modules: list[str], root: Path = ROOT) -> list[Path]:
    """Source files of ``modules`` plus the package data of the packages among them."""
    patterns = _package_data_patterns(root)
    files: set[Path] = set()
    for module in modules:
        path = _module_path(module, root)
        if path is None:
            continue
        files.add(path)
        if _is_package(module, root):
            directory = path.parent
            for pattern in [*patterns.get("*", []), *patterns.get(module, [])]:
                files.update(
                    p
                    for p in directory.glob(pattern)
                    if p.is_file() and not fnmatch.fnmatch(p.name, "*.py")
                )
    return sorted(files)


def package_function(
    logical_id: str, handler: str, out_dir: Path, root: Path = ROOT, *, zip_it: bool = True
) -> FunctionPackage:
    """Copy a handler's modules into ``out_dir/<logical_id>/`` (and zip them).

    Parameters
    ----------
    logical_id : str
        The function's logical id in template.yaml.
    handler : str
        Its ``Handler:`` (``module.function``).
    out_dir : Path
        Usually ``build/functions``; SAM's ``$(ARTIFACTS_DIR)`` when ``zip_it`` is false.
    """
    modules = handler_modules(handler, root)
    directory = out_dir / logical_id if zip_it else out_dir
    if zip_it:
        shutil.rmtree(directory, ignore_errors=True)
    for source in package_files(modules, root):
        target = directory / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    compile_bytecode(directory)  # /var/task is read-only: without it every cold start compiles
    zip_path = out_dir / f"{logical_id}.zip"
    zipped = write_zip(directory, zip_path) if zip_it else 0
    return FunctionPackage(
        logical_id=logical_id,
        handler=handler,
        directory=directory,
        zip_path=zip_path,
        modules=tuple(modules),
        unzipped_bytes=tree_size(directory),
        zipped_bytes=zipped,
    )
