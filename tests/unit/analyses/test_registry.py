"""The analyses registry: what it holds, what derives from it, and how little it costs.

A run type is named by its analysis module and nowhere else in the shipped code; routes,
the OpenAPI document, the portfolio's choices and template.yaml's result tables follow the
registry, a plugin registered later included.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import analyses
from analyses.results import render_template, result_datasets
from core.analysis import (
    Analysis,
    Endpoint,
    ResultTable,
    UnknownAnalysisError,
    analysis,
    register,
    unregister,
)
from core.models import AnalysisSpec, PortfolioFields, default_analyses
from core.routes import routes
from layers.package import DEPLOYED_PACKAGES
from tests.support.toy_analysis import TOY, TOY_TABLE

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted(DEPLOYED_PACKAGES)
# Where run types could be spelled: every shipped room and the local stack (the demo), but
# compute/, whose `simulate` and `analyze` are its functions' names, not run types.
RUN_ROOMS = sorted((DEPLOYED_PACKAGES - {"compute"}) | {"local"})


def _shipped_sources(rooms: list[str] = SHIPPED) -> Iterator[tuple[Path, str]]:
    for room in rooms:
        for path in sorted((ROOT / room).rglob("*.py")):
            yield path, path.read_text()


@pytest.fixture
def toy() -> Iterator[Analysis]:
    register(TOY)
    try:
        yield TOY
    finally:
        unregister(TOY.name)


def test_the_built_in_analyses_in_order() -> None:
    assert [a.name for a in analyses.BUILT_IN] == [
        "risk-parity",
        "hrp",
        "efficient-frontier",
        "simulate",
        "analyze",
        "backtest",
        "cvar-frontier",
        "min-cdar",
    ]
    assert [s.type for s in default_analyses()] == [
        "risk-parity",
        "hrp",
        "efficient-frontier",
        "simulate",
    ]


@pytest.mark.parametrize("entry", analyses.BUILT_IN, ids=lambda a: a.name)
def test_a_run_type_is_spelled_in_at_most_two_shipped_modules(entry: Analysis) -> None:
    quoted = re.compile(rf"""["']{re.escape(entry.name)}["']""")
    spelled = sorted(
        str(path.relative_to(ROOT))
        for path, text in _shipped_sources(RUN_ROOMS)
        if quoted.search(text)
    )
    assert 1 <= len(spelled) <= 2, spelled
    assert f"analyses/{entry.name.replace('-', '_')}.py" in spelled


def test_compute_is_numerics_only() -> None:
    # DESIGN.md: numpy, scipy "and an LP solver that earns its place" (HiGHS, for the exact
    # tail-risk LPs and the mandates' feasibility: compute/_linear_program.py imports it).
    allowed = set(sys.stdlib_module_names) | {"numpy", "scipy", "compute", "highspy"}
    offenders = {}
    for path in sorted((ROOT / "compute").rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
        if names - allowed:
            offenders[path.name] = sorted(names - allowed)
    assert offenders == {}


def test_the_registry_costs_the_crud_functions_no_numerics() -> None:
    code = (
        "import sys, analyses, api.portfolios, analyses.handlers\n"
        "heavy = [m for m in ('numpy', 'scipy', 'pyarrow', 'pandas', 'matplotlib') "
        "if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(  # nosec B603
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_template_result_tables_are_the_registrys() -> None:
    text = (ROOT / "template.yaml").read_text()
    assert render_template(text) == text, "run python -m analyses.results"
    assert list(result_datasets())[-1] == "run_index"  # the commit marker, written last


def test_a_registered_plugin_joins_routes_choices_tables_and_document(toy: Analysis) -> None:
    from api.openapi import build_document
    from api.openapi import render_template as with_routes

    names = [r.name for r in routes()]
    last = analyses.BUILT_IN[-1].endpoint.operation  # a plugin's route follows the built-ins'
    assert names.index("ToyEqualWeight") == names.index(last) + 1
    declared = next(r for r in routes() if r.name == "ToyEqualWeight")
    assert declared.run_type == TOY.name
    assert declared.function == "OptimizationFunction"
    assert declared.example == {
        "returns": {"AAPL": [0.01, 0.02, -0.004], "MSFT": [0.02, 0.01, 0.003]},
        "highlight": 1,
    }

    spec = AnalysisSpec(type=TOY.name, parameters={"highlight": 3})
    assert spec.type == TOY.name
    assert TOY.name not in [s.type for s in default_analyses()]  # no default_parameters

    assert TOY_TABLE.name in result_datasets()
    text = render_template((ROOT / "template.yaml").read_text())
    assert "ResultsToyEqualWeightsTable:" in text
    assert "mean_return, Type: double" in text

    document = build_document()
    operation = document["paths"][TOY.endpoint.path]["post"]
    ref = operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"]["type"]["const"] == TOY.name
    assert "ToyResult" in json.dumps(schema["properties"]["result"])
    spec_schema = document["components"]["schemas"]["AnalysisSpec"]
    assert TOY.name in spec_schema["properties"]["type"]["enum"]
    assert "ToyEqualWeight:" in with_routes((ROOT / "template.yaml").read_text())


def test_an_unregistered_type_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="risk-parity, hrp, efficient-frontier, simulate"):
        AnalysisSpec(type="toy-equal-weight")
    with pytest.raises(ValueError, match=r"not .analyze."):  # works on given paths only
        AnalysisSpec(type="analyze")
    with pytest.raises(UnknownAnalysisError, match="registered: risk-parity"):
        analysis("nope")
    fields = PortfolioFields(name="p", assets={"AAPL": 0.5, "MSFT": 0.5})
    assert [a.type for a in fields.analyses] == [s.type for s in default_analyses()]


def test_registration_refuses_clashes(toy: Analysis) -> None:
    with pytest.raises(ValueError, match="registered already"):
        register(TOY)
    clash_path = replace(TOY, name="toy-2", endpoint=replace(TOY.endpoint, operation="Toy2"))
    with pytest.raises(ValueError, match="path /toy/equal-weight"):
        register(clash_path)
    clash_operation = replace(
        TOY, name="toy-3", endpoint=Endpoint("/toy/3", "ToyEqualWeight", "X", "", {})
    )
    with pytest.raises(ValueError, match="operation ToyEqualWeight"):
        register(clash_operation)
    other_table = ResultTable(TOY_TABLE.name, "different", TOY_TABLE.columns[:3])
    clash_table = replace(
        TOY,
        name="toy-4",
        endpoint=Endpoint("/toy/4", "Toy4", "X", "", {}),
        tables=(other_table,),
    )
    with pytest.raises(ValueError, match="table toy_equal_weights differs"):
        register(clash_table)
    assert analysis(TOY.name) is TOY
