"""The layer build's rules on small synthetic trees, and the template's build metadata."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from layers import (
    BUDGET_BYTES,
    BuiltLayer,
    FunctionBudget,
    FunctionPackage,
    PackageError,
    SizeBudgetError,
    check_budgets,
    format_tables,
    handler_modules,
    layer_specs,
)
from layers._strip import read_exclude_file, strip_tree
from layers.build import ROOT
from layers.package import package_files
from stack import Template

MB = 1024 * 1024


def _write(root: Path, relative: str, content: bytes | str = b"x") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def test_strip_tree_leaves_out_what_lambda_never_loads(tmp_path: Path) -> None:
    lib = b"\x7fELF" + b"arrow" * 100
    for relative in [
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/tests/test_core.py",
        "pkg/__pycache__/core.cpython-311.pyc",
        "pkg/include/pkg.h",
        "pkg/core.pyi",
        "pkg/_ext.pxd",
        "numpy/__init__.py",
        "numpy/testing/__init__.py",
        "numpy/_core/tests/__init__.py",
        "numpy/_core/tests/_natype.py",
        "numpy/_core/tests/test_big.py",
        "numpy/_core/_simd.cpython-311-x86_64-linux-gnu.so",
        "pyarrow/__init__.py",
        "pyarrow/flight.py",
        "pyarrow/_flight.cpython-311-x86_64-linux-gnu.so",
        "pyarrow/libarrow_flight.so.2000",
        "bin/some-script",
        "boto3/__init__.py",
        "boto3/session.py",
        "pkg/src/__init__.py",  # a real subpackage named src stays
    ]:
        _write(tmp_path, relative)
    for name in ("libarrow_python.so", "libarrow_python.so.2000", "libarrow_python.so.2000.0.0"):
        _write(tmp_path, f"pyarrow/{name}", lib)
    _write(
        tmp_path,
        "boto3-1.35.0.dist-info/RECORD",
        "boto3/__init__.py,sha256=x,1\nboto3/session.py,sha256=x,1\n",
    )
    _write(tmp_path, "extra/big/data.bin", b"0" * 1000)

    report = strip_tree(tmp_path, exclude=["extra/big"], debug_symbols=False)

    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "numpy/__init__.py",
        "numpy/_core/tests/__init__.py",
        "numpy/_core/tests/_natype.py",
        "numpy/testing/__init__.py",
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/src/__init__.py",
        "pyarrow/__init__.py",
        "pyarrow/libarrow_python.so.2000",
    ]
    assert report.removed["duplicate shared libraries"] == 2 * len(lib)
    assert report.removed["excluded (layer's exclude.txt)"] == 1000
    assert report.files["runtime (boto3, botocore, …)"] == 3  # two modules + the dist-info


def test_an_exclude_pattern_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "scipy/__init__.py")
    with pytest.raises(FileNotFoundError, match="scipy/optimize"):
        strip_tree(tmp_path, exclude=["scipy/optimize"], debug_symbols=False)


def test_exclude_file_reads_patterns_without_comments(tmp_path: Path) -> None:
    path = _write(tmp_path, "exclude.txt", "# why\nscipy/io  # unused\n\nscipy/odr\n")
    assert read_exclude_file(path) == ["scipy/io", "scipy/odr"]
    assert read_exclude_file(tmp_path / "missing.txt") == []


def _project(tmp_path: Path) -> Path:
    _write(tmp_path, "pyproject.toml", '[tool.setuptools.package-data]\n"*" = ["*.json"]\n')
    _write(tmp_path, "core/__init__.py", "")
    _write(tmp_path, "core/a.py", "def f():\n    from core import b\n    return b\n")
    _write(tmp_path, "core/b.py", "import json\n")
    _write(tmp_path, "core/unused.py", "")
    _write(tmp_path, "core/schema.json", "{}")
    _write(
        tmp_path,
        "compute/__init__.py",
        "import importlib\ndef __getattr__(name):\n    return importlib.import_module(name)\n",
    )
    _write(tmp_path, "compute/numerics.py", "")
    _write(tmp_path, "compute/other.py", "")
    _write(tmp_path, "api/__init__.py", "")
    _write(tmp_path, "api/helper.py", "")
    _write(
        tmp_path,
        "api/routes.py",
        "from core.a import f\nfrom . import helper\n"
        "def handler(e, c):\n    from compute import numerics\n",
    )
    _write(tmp_path, "api/dev.py", "from local import stack\ndef handler(e, c): ...\n")
    _write(tmp_path, "local/__init__.py", "")
    _write(tmp_path, "local/stack.py", "")
    return tmp_path


def test_handler_closure_follows_lazy_and_relative_imports(tmp_path: Path) -> None:
    root = _project(tmp_path)
    modules = handler_modules("api.routes.handler", root)
    assert modules == [
        "api",
        "api.helper",
        "api.routes",
        "compute",  # lazy __getattr__: the whole package is reachable
        "compute.numerics",
        "compute.other",
        "core",
        "core.a",
        "core.b",  # imported inside a function
    ]
    files = {p.relative_to(root).as_posix() for p in package_files(modules, root)}
    assert "core/schema.json" in files
    assert "core/unused.py" not in files


def test_a_handler_reaching_dev_only_code_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    with pytest.raises(PackageError, match="local"):
        handler_modules("api.dev.handler", root)
    with pytest.raises(PackageError, match="no module"):
        handler_modules("api.missing.handler", root)


def test_crud_handlers_reach_no_ingest_and_load_no_numerics() -> None:
    template = Template.load()
    for logical_id in ("PortfoliosFunction", "RunsFunction", "ReportLinksFunction"):
        modules = handler_modules(template.function(logical_id).handler)
        # They read the analyses registry (core.analysis, filled by ``analyses``). The closure
        # is static, so the compute and report code an analysis imports inside its functions
        # ships as source too; it is never imported there (checked below at runtime).
        tops = {m.split(".")[0] for m in modules}
        assert tops <= {"api", "core", "analyses", "compute", "reports"}, logical_id
    handlers = [
        template.function(f).handler.rsplit(".", 1)[0]
        for f in ("PortfoliosFunction", "RunsFunction", "ReportLinksFunction", "FanOutFunction")
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {handlers!r}: importlib.import_module(name)\n"
        "heavy = ('numpy', 'scipy', 'pyarrow', 'pandas', 'matplotlib', 'jinja2', 'reports', "
        "'ingest', 'lake')\n"
        # compute.choices (the request models' choice sets: typing only) is the one exception.
        "numerics = [m for m in sys.modules\n"
        "            if m.startswith('compute.') and m != 'compute.choices']\n"
        "print(sorted(m for m in heavy if m in sys.modules) + sorted(numerics))"
    )
    out = subprocess.run(  # nosec B603
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr


def _layer(name: str, size_mb: float) -> BuiltLayer:
    return BuiltLayer(
        logical_id=f"{name.capitalize()}Layer",
        name=name,
        directory=Path(name),
        zip_path=Path(f"{name}.zip"),
        unzipped_bytes=int(size_mb * MB),
        zipped_bytes=int(size_mb * MB / 3),
        distributions={name: "1.0"},
    )


def _package(logical_id: str, size_mb: float = 0.2) -> FunctionPackage:
    return FunctionPackage(
        logical_id, "m.handler", Path(logical_id), Path("x.zip"), ("m",), int(size_mb * MB), 1
    )


def test_size_budget_names_every_function_over_it() -> None:
    core, numeric, arrow = _layer("core", 10), _layer("numeric", 145), _layer("arrow", 99)
    fits = FunctionBudget(_package("Small"), (core, arrow))
    over = FunctionBudget(_package("Big"), (core, numeric, arrow))
    many = FunctionBudget(_package("Many"), tuple(_layer(f"l{i}", 1) for i in range(6)))
    assert not fits.over_budget
    assert over.unzipped_bytes > BUDGET_BYTES
    with pytest.raises(SizeBudgetError) as raised:
        check_budgets([fits, over, many])
    message = str(raised.value)
    assert "Big: 254.2 MB" in message
    assert "Many:" in message
    assert "Small" not in message
    table = format_tables([core, numeric, arrow], [fits, over])
    assert "| Big | core + numeric + arrow |" in table
    assert "**over**" in table


def test_template_builds_every_function_and_layer_with_the_makefile() -> None:
    template = Template.load()
    specs = {spec.logical_id: spec for spec in layer_specs(template)}
    assert set(specs) == {"CoreLayer", "NumericLayer", "ArrowLayer", "DataLayer", "VizLayer"}
    for logical_id, resource in template.resources.items():
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            assert resource["Metadata"]["BuildMethod"] == "makefile", logical_id
    for logical_id, layers in ((f.logical_id, f.layer_ids) for f in template.functions()):
        assert layers[0] == "CoreLayer", logical_id
        assert set(layers) <= set(specs), logical_id
        assert len(layers) == len(set(layers)) <= 5, logical_id
    makefile = (ROOT / "Makefile").read_text()
    assert "build-%:" in makefile
    assert "-m layers sam-build $*" in makefile
