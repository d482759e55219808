"""Which room may import which: the template model stands on its own, and the build never
reaches into the dev stack.

``stack/`` (the template model) may import the standard library and PyYAML only; ``layers/``
reads the template through ``stack`` and never imports ``local`` (dev-only); a deployed
handler reaches neither.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from layers.exceptions import PackageError
from layers.package import DEPLOYED_PACKAGES, handler_modules

ROOT = Path(__file__).resolve().parents[3]


def _imported_tops(room: str) -> dict[str, set[str]]:
    """Each module of ``room`` → the top-level names of its absolute imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / room).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_stack_imports_the_standard_library_and_yaml_only() -> None:
    allowed = set(sys.stdlib_module_names) | {"yaml", "stack"}
    offenders = {
        module: sorted(names - allowed)
        for module, names in _imported_tops("stack").items()
        if names - allowed
    }
    assert offenders == {}


def test_layers_reads_the_template_through_stack_not_local() -> None:
    tops = _imported_tops("layers")
    assert not {module for module, names in tops.items() if "local" in names}
    assert any("stack" in names for names in tops.values())


@pytest.mark.parametrize("room", sorted(DEPLOYED_PACKAGES))
def test_deployed_rooms_import_neither_stack_nor_local(room: str) -> None:
    offenders = {
        module
        for module, names in _imported_tops(room).items()
        if names & {"stack", "local", "layers"}
    }
    assert offenders == set()


def test_a_handler_reaching_the_template_model_is_refused(tmp_path: Path) -> None:
    for relative, text in {
        "pyproject.toml": "[tool.setuptools.package-data]\n",
        "api/__init__.py": "",
        "api/uses_stack.py": "from stack import Template\ndef handler(e, c): ...\n",
        "stack/__init__.py": "",
    }.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert "stack" not in DEPLOYED_PACKAGES
    with pytest.raises(PackageError, match="stack"):
        handler_modules("api.uses_stack.handler", tmp_path)
