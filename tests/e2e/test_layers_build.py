"""The built layers and function packages, run the way Lambda runs them.

``make test`` builds them first (``python -m layers build``: cached wheels, and layers whose
inputs did not change are reused), so the fixture below only re-reads the stamps. Every
check imports from the built tree in ``python -I -S -B`` with nothing but the function's
package, its layers in Lambda's order and a stand-in for ``/var/runtime`` on ``sys.path``.
"""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import pytest

from layers import BUDGET_BYTES, BuildResult, build_all
from layers.build import BYTECODE_LAYERS, ROOT
from layers.verify import lambda_sys_path, run_isolated, runtime_site

pytestmark = pytest.mark.timeout(900)

HEAVY = ("numpy", "scipy", "pandas", "pyarrow", "matplotlib", "awswrangler")
CRUD = {"PortfoliosFunction", "RunsFunction", "ReportLinksFunction", "ApiDocsFunction"}

# Lambda never tears an interpreter down (it freezes and kills the environment); the
# layers' pyarrow 20 aborts at teardown now and then (std::terminate on a thread pool still
# joinable: ~1 in 12 runs of a threaded Parquet read here), which is not what is checked.
_NO_TEARDOWN = "\nimport os, sys\nsys.stdout.flush()\nos._exit(0)\n"

# HiGHS from the numeric layer, called as compute's linear programmes call it (a 2-variable
# LP, then an infeasible one), without going through compute: max x + 2y s.t. x + y <= 1.5,
# x - y >= -1, 0 <= x, y <= 1 is x = 0.5, y = 1 with the first row's dual -1.
HIGHS_LP = """
import highspy, numpy as np
for name in ("Highs", "HighsLp", "MatrixFormat", "HighsModelStatus", "ObjSense", "HighsVarType"):
    assert hasattr(highspy, name), name
def solve(upper):
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = 2, 2
    lp.col_cost_ = np.array([-1.0, -2.0])
    lp.col_lower_, lp.col_upper_ = np.zeros(2), np.ones(2)
    lp.row_lower_ = np.array([-highspy.kHighsInf, -1.0])
    lp.row_upper_ = np.array([upper, highspy.kHighsInf])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = 2, 2
    lp.a_matrix_.start_ = np.array([0, 2, 4], dtype=np.int32)
    lp.a_matrix_.index_ = np.array([0, 1, 0, 1], dtype=np.int32)
    lp.a_matrix_.value_ = np.array([1.0, 1.0, 1.0, -1.0])
    highs.passModel(lp)
    highs.run()
    return highs
optimal = solve(1.5)
assert optimal.getModelStatus() == highspy.HighsModelStatus.kOptimal
solution = optimal.getSolution()
assert np.allclose(solution.col_value, [0.5, 1.0]), solution.col_value
assert np.isclose(solution.row_dual[0], -1.0), solution.row_dual
assert solve(-2.0).getModelStatus() == highspy.HighsModelStatus.kInfeasible
print("highs", list(solution.col_value))
"""

# A small real computation per layer, run against the layer alone (plus core).
LAYER_SMOKE = {
    "core": """
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel
class Item(BaseModel):
    name: str
app = APIGatewayRestResolver()
@app.post("/items")
def create():
    return Item.model_validate(app.current_event.json_body).model_dump()
event = {"httpMethod": "POST", "path": "/items", "resource": "/items", "body": '{"name": "x"}',
         "headers": {}, "requestContext": {"stage": "v1"}}
print(app.resolve(event, None)["body"])
""",
    "numeric": """
import numpy as np, scipy.linalg, scipy.cluster.hierarchy as h, scipy.spatial.distance as d
x = np.random.default_rng(0).normal(size=(250, 6))
c = np.cov(x.T)
print(round(float(scipy.linalg.cho_solve(scipy.linalg.cho_factor(c), np.ones(6)).sum()), 6))
print(h.linkage(d.squareform(1 - np.corrcoef(x.T), checks=False), "single").shape)
"""
    + HIGHS_LP,
    "arrow": """
import io, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq, pyarrow.dataset, pyarrow.fs
buf = io.BytesIO()
pq.write_table(pa.table({"a": [1, 2, 3]}), buf)
print(pc.sum(pq.read_table(io.BytesIO(buf.getvalue()))["a"]).as_py(), pyarrow.fs.S3FileSystem)
"""
    + _NO_TEARDOWN,
    "data": """
import io, awswrangler as wr, pandas as pd
buf = io.BytesIO()
pd.DataFrame({"a": [1.5, 2.5]}).to_parquet(buf)
print(pd.read_parquet(io.BytesIO(buf.getvalue()))["a"].sum(), wr.s3.read_parquet)
"""
    + _NO_TEARDOWN,
    "viz": """
import io, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt, jinja2
fig, ax = plt.subplots()
ax.plot([1, 3, 2])
buf = io.BytesIO()
fig.savefig(buf, format="png")
assert buf.getvalue()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
print(jinja2.Environment(autoescape=True).from_string("{{ x }}").render(x="<b>"))
""",
}

# Every analysis the run functions perform, on inline returns, with the packaged code.
RUN_ANALYSES = """
import json, numpy as np
import analyses
from analyses.runner import execute, load_inputs
from core.analysis import analysis
rng = np.random.default_rng(7)
returns = {t: list(rng.normal(0.0005, 0.01 + i / 500, 300)) for i, t in enumerate("ABCDE")}
out = {}
for run_type, extra in [("risk-parity", {}), ("hrp", {"linkage": "ward"}),
                        ("efficient-frontier", {"nPoints": 5}),
                        ("simulate", {"nPaths": 200, "horizonDays": 20, "seed": 1}),
                        ("backtest", {"trainDays": 60, "rebalance": 21, "strategies": [
                            "equal-weight", "inverse-volatility", "min-variance", "max-sharpe",
                            "risk-parity", "hrp", {"type": "target-volatility", "target": 0.2},
                            {"type": "fixed", "weights": dict.fromkeys("ABCDE", 0.2)}]})]:
    entry = analysis(run_type)
    request = entry.request.model_validate({"returns": returns, **extra})
    result = execute(entry, request, load_inputs(request, None, "unused"))
    out[run_type] = result.model_dump(mode="json", by_alias=True)
print(json.dumps(out, sort_keys=True, default=str))
"""


def _assert_close(packaged: object, here: object, where: str) -> None:
    if isinstance(here, dict):
        assert isinstance(packaged, dict), where
        assert packaged.keys() == here.keys(), where
        for key, value in here.items():
            _assert_close(packaged[key], value, f"{where}.{key}")
    elif isinstance(here, list):
        assert isinstance(packaged, list), where
        assert len(packaged) == len(here), where
        for i, (a, b) in enumerate(zip(packaged, here, strict=True)):
            _assert_close(a, b, f"{where}[{i}]")
    elif isinstance(here, float):
        assert packaged == pytest.approx(here, rel=1e-7, abs=1e-10), where
    else:
        assert packaged == here, where


@pytest.fixture(scope="module")
def built() -> BuildResult:
    return build_all()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_site(tmp_path_factory.mktemp("var-runtime"))


def _layer_paths(built: BuildResult, names: list[str]) -> list[Path]:
    by_id = {layer.logical_id: layer for layer in built.layers}
    return [by_id[name].python_dir for name in names]


def _function_path(built: BuildResult, logical_id: str, runtime: Path) -> list[Path]:
    budget = next(b for b in built.budgets if b.package.logical_id == logical_id)
    layers = [layer.python_dir for layer in budget.layers]
    return lambda_sys_path(budget.package.directory, layers, runtime)


@pytest.mark.parametrize("layer", sorted(LAYER_SMOKE))
def test_each_stripped_layer_imports_and_computes(
    built: BuildResult, runtime: Path, layer: str
) -> None:
    names = ["CoreLayer"] if layer == "core" else ["CoreLayer", f"{layer.capitalize()}Layer"]
    result = run_isolated(
        LAYER_SMOKE[layer], lambda_sys_path(None, _layer_paths(built, names), runtime)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip()


def test_every_handler_imports_from_its_package_and_layers_alone(
    built: BuildResult, runtime: Path
) -> None:
    for budget in built.budgets:
        logical_id = budget.package.logical_id
        module, _, attr = budget.package.handler.rpartition(".")
        code = (
            f"import sys\nimport {module}\nassert callable(getattr({module}, {attr!r}))\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
        )
        result = run_isolated(
            code,
            _function_path(built, logical_id, runtime),
            env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "stratigos"},
        )
        assert result.returncode == 0, f"{logical_id}: {result.stderr[-3000:]}"
        if logical_id in CRUD:
            assert result.stdout.strip() == "[]", f"{logical_id} imports {result.stdout}"


def test_run_analyses_give_the_same_numbers_from_the_built_tree(
    built: BuildResult, runtime: Path
) -> None:
    """The packaged compute code on the stripped numpy/scipy/pyarrow agrees with the dev
    environment (other versions: the python3.11 runtime caps numpy and pyarrow)."""
    result = run_isolated(RUN_ANALYSES, _function_path(built, "RunWorkerFunction", runtime))
    assert result.returncode == 0, result.stderr[-3000:]
    # The JSON line only: HiGHS prints a banner to the process's stdout when a solver is made.
    packaged = json.loads(next(s for s in result.stdout.splitlines() if s.startswith("{")))
    namespace: dict[str, object] = {}
    from contextlib import redirect_stdout
    from io import StringIO

    captured = StringIO()
    with redirect_stdout(captured):
        exec(RUN_ANALYSES, namespace)
    here = json.loads(captured.getvalue())
    _assert_close(packaged, here, "result")


TEARSHEET = """
import json, os, sys
import analyses  # the registry, as reports.handlers loads it
from reports.render import render_run_report
run = json.loads(open(os.environ["RUN_JSON"]).read())
report = render_run_report(run)
print(json.dumps({"images": sorted(report.images), "scipy": "scipy" in sys.modules}))
"""


def test_a_backtest_tearsheet_renders_from_the_render_functions_tree(
    built: BuildResult, runtime: Path, tmp_path: Path
) -> None:
    """The render function has no numeric layer: the tearsheet's series (compute.performance)
    must draw on numpy alone."""
    import numpy as np

    from analyses.backtest import ANALYSIS, BacktestRequest
    from analyses.runner import load_inputs

    rng = np.random.default_rng(3)
    returns = {t: list(rng.normal(0.0005, 0.01, 400)) for t in "ABC"}
    request = BacktestRequest.model_validate({"returns": returns, "trainDays": 60, "rebalance": 21})
    result = ANALYSIS.compute(request, load_inputs(request, None, "unused"), None)
    run = {
        "id": "r-1",
        "type": "backtest",
        "status": "succeeded",
        "parameters": {},
        "createdAt": "2024-12-02T00:00:00Z",
        "result": result.model_dump(mode="json", by_alias=True),
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    answer = run_isolated(
        TEARSHEET + _NO_TEARDOWN,
        _function_path(built, "RenderFunction", runtime),
        env={"RUN_JSON": str(path), "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    rendered = json.loads(answer.stdout)
    assert rendered["scipy"] is False
    assert {"equity.png", "underwater.png", "rolling-sharpe.png", "turnover.png"} <= set(
        rendered["images"]
    )


def _imports_of(package: Path) -> set[tuple[str, str]]:
    """Every absolute import in a function's packaged code, lazy ones included, as
    ``(module, "")`` for ``import module`` and ``(module, name)`` for ``from module import
    name``."""
    found: set[tuple[str, str]] = set()
    for source in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                found.update((alias.name, "") for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.update((node.module, a.name) for a in node.names if a.name != "*")
    return found


def test_numeric_functions_import_what_their_code_imports_from_their_layers_and_solve_an_lp(
    built: BuildResult, runtime: Path
) -> None:
    """The numeric layer leaves scipy subpackages and parts out (layers/numeric/exclude.txt):
    for every function with that layer, each import its code makes from its layers, in any
    branch, works from the built tree (next to pyarrow for the run functions), and HiGHS
    solves an LP there."""
    numeric = [b for b in built.budgets if "NumericLayer" in {x.logical_id for x in b.layers}]
    assert {b.package.logical_id for b in numeric} >= {
        "OptimizationFunction",
        "SimulationFunction",
        "RunWorkerFunction",
    }
    for budget in numeric:
        logical_id = budget.package.logical_id
        provided = {
            path.name.removesuffix(".py")
            for layer in budget.layers
            for path in layer.python_dir.iterdir()
            if path.suffix in {"", ".py"}
        }
        imports = sorted(
            (module, name)
            for module, name in _imports_of(budget.package.directory)
            if module.split(".")[0] in provided
        )
        statements = [f"from {m} import {n}" if n else f"import {m}" for m, n in imports]
        modules = {module for module, _ in imports}
        assert "numpy" in modules, logical_id
        if "ArrowLayer" in {x.logical_id for x in budget.layers}:
            assert {"pyarrow.dataset", "scipy.linalg"} <= modules, sorted(modules)
        result = run_isolated(
            "\n".join(statements) + HIGHS_LP + _NO_TEARDOWN,
            _function_path(built, logical_id, runtime),
            env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "stratigos"},
        )
        assert result.returncode == 0, f"{logical_id}: {result.stderr[-3000:]}"
        assert "highs [0.5, 1.0]" in result.stdout.splitlines(), result.stdout


def test_compute_imports_only_scipy_modules_the_numeric_layer_ships(built: BuildResult) -> None:
    """Statically, so a scipy import in a branch the smoke test never runs is caught too."""
    numeric = _layer_paths(built, ["NumericLayer"])[0]
    for source in sorted((ROOT / "compute").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                if name.split(".")[0] != "scipy":
                    continue
                base = numeric.joinpath(*name.split("."))
                assert base.is_dir() or base.with_suffix(".py").is_file(), (
                    f"{source.name} imports {name}, left out by layers/numeric/exclude.txt"
                )


def test_packages_hold_only_project_code_and_zips_are_lambda_shaped(built: BuildResult) -> None:
    for budget in built.budgets:
        package = budget.package
        tops = {p.relative_to(package.directory).parts[0] for p in package.directory.rglob("*")}
        assert tops <= {"core", "lake", "ingest", "compute", "analyses", "api", "reports"}, (
            package.logical_id
        )
        # Bytecode for CPython 3.11 only, next to every module (see layers.build.BYTECODE_LAYERS).
        compiled = {p.name for p in package.directory.rglob("*.pyc")}
        assert compiled, package.logical_id
        assert all(name.endswith(".cpython-311.pyc") for name in compiled)
        with zipfile.ZipFile(package.zip_path) as archive:
            assert all(not n.startswith(("tests/", "local/", "docs/")) for n in archive.namelist())
    for layer in built.layers:
        with zipfile.ZipFile(layer.zip_path) as archive:
            names = archive.namelist()
        assert names, layer.logical_id
        assert all(n.startswith("python/") for n in names), layer.logical_id
        if layer.name in BYTECODE_LAYERS:
            assert all(n.endswith(".cpython-311.pyc") for n in names if n.endswith(".pyc"))
        else:
            assert not any(n.endswith(".pyc") for n in names), layer.logical_id
        assert not any(n.startswith(("python/boto3/", "python/botocore/")) for n in names)
        assert not any(
            "/tests/" in n and "_natype" not in n and "/tests/__init__" not in n for n in names
        ), layer.logical_id


def test_every_function_is_within_the_size_budget(built: BuildResult) -> None:
    for budget in built.budgets:
        assert budget.unzipped_bytes <= BUDGET_BYTES, built.tables()
        assert len(budget.layers) <= 5
