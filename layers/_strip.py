"""What a layer leaves out: files the Lambda runtime never loads, and duplicate libraries.

Every rule here was checked by importing the stripped tree and running a small computation
with it (``tests/e2e/test_layers_build.py``). The rules are path based and conservative:
``numpy/testing`` (a public module) stays; only directories named ``tests``/``test`` go.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess  # nosec B404 - runs `strip` on files the build just installed
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RUNTIME_DISTRIBUTIONS", "StripReport", "read_exclude_file", "strip_tree"]

# In the python3.11 Lambda runtime already (the SDK and its transport): a layer's copy would
# only shadow it. python-dateutil and six are in the runtime too, but pandas and matplotlib
# pin newer versions, so the layers keep their own.
RUNTIME_DISTRIBUTIONS = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3"})

_TEST_DIRS = frozenset({"tests", "test"})
# Test-suite files that a public module imports: numpy.testing needs numpy's NA stand-in.
_KEEP = frozenset({"numpy/_core/tests/__init__.py", "numpy/_core/tests/_natype.py"})
# Sources, headers, stubs, static libraries and bytecode: nothing the runtime imports.
_DEAD_SUFFIXES = (
    ".pyc",
    ".pyo",
    ".pyi",
    ".pxd",
    ".pxi",
    ".pyx",
    ".h",
    ".hpp",
    ".c",
    ".cc",
    ".cpp",
    ".a",
    ".cmake",
)
_DEAD_DIRS = frozenset({"__pycache__", "include", "src"})
# Arrow Flight (RPC) and the C++ test suite: never imported by pyarrow.parquet/dataset/fs.
_FLIGHT = re.compile(
    r"^(_flight\..*\.so|flight\.py|libarrow_flight\.so.*|libarrow_python_flight\.so.*"
    r"|_pyarrow_cpp_tests\..*\.so)$"
)
# numpy's SIMD self-test module: only numpy's own tests import it.
_NUMPY_TEST_MODULES = re.compile(r"^_simd\..*\.so$")
_SHARED_LIB = re.compile(r"^(lib.+?)\.so(\.[0-9.]+)?$")


@dataclass
class StripReport:
    """Bytes left out of one layer, by reason."""

    removed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    files: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, reason: str, size: int) -> None:
        self.removed[reason] += size
        self.files[reason] += 1

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _remove(path: Path, reason: str, report: StripReport) -> None:
    if path.is_dir() and not path.is_symlink():
        report.add(reason, _tree_size(path))
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        report.add(reason, path.lstat().st_size)
        path.unlink()


def _remove_tests(root: Path, directory: Path, report: StripReport) -> None:
    keep = {root / k for k in _KEEP if (root / k).is_relative_to(directory)}
    if not keep:
        _remove(directory, "tests", report)
        return
    for path in sorted(directory.rglob("*"), reverse=True):
        if path in keep or any(k.is_relative_to(path) for k in keep):
            continue
        _remove(path, "tests", report)


def _distribution_name(dist_info: Path) -> str:
    name = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _remove_runtime_distributions(root: Path, report: StripReport) -> None:
    """Delete each runtime distribution's files as its own ``RECORD`` lists them."""
    for dist_info in sorted(root.glob("*.dist-info")):
        if _distribution_name(dist_info) not in RUNTIME_DISTRIBUTIONS:
            continue
        record = dist_info / "RECORD"
        paths = []
        if record.exists():
            for line in record.read_text().splitlines():
                relative = line.rsplit(",", 2)[0]
                if relative:
                    paths.append(root / relative)
        for path in paths:
            if path.is_file():
                _remove(path, "runtime (boto3, botocore, …)", report)
        _remove(dist_info, "runtime (boto3, botocore, …)", report)
    # Packages emptied by the loop above (their __pycache__ dirs were never in RECORD).
    for directory in sorted(root.iterdir()):
        if directory.is_dir() and not any(p.is_file() for p in directory.rglob("*")):
            shutil.rmtree(directory)


def _dedupe_shared_libraries(root: Path, report: StripReport) -> None:
    """Wheels cannot hold symlinks, so ``libX.so``, ``libX.so.N`` and ``libX.so.N.M`` are
    three copies of one file. The loader only asks for the SONAME (``libX.so.N``)."""
    for directory in {p.parent for p in root.rglob("lib*.so*")}:
        groups: dict[tuple[str, str], list[Path]] = defaultdict(list)
        for path in directory.iterdir():
            match = _SHARED_LIB.match(path.name)
            if match and path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                groups[(match.group(1), digest)].append(path)
        for copies in groups.values():
            if len(copies) < 2:
                continue
            # Keep the name with exactly one version component, as SONAMEs are spelled.
            copies.sort(key=lambda p: (p.name.count(".") != 2, len(p.name)))
            for extra in copies[1:]:
                _remove(extra, "duplicate shared libraries", report)


def _strip_debug_symbols(root: Path, report: StripReport) -> None:
    """``strip --strip-debug`` extension modules; libraries grafted by auditwheel
    (``*.libs/``) were rewritten with patchelf, which strip can corrupt, so they stay."""
    strip = shutil.which("strip")
    if strip is None:
        return
    for path in sorted(root.rglob("*.so*")):
        if not path.is_file() or any(part.endswith(".libs") for part in path.parts):
            continue
        before = path.stat().st_size
        result = subprocess.run(  # nosec B603 - fixed argv, no shell
            [strip, "--strip-debug", "--preserve-dates", str(path)],
            capture_output=True,
            check=False,
        )
        if result.returncode == 0:
            saved = before - path.stat().st_size
            if saved > 0:
                report.add("debug symbols", saved)


def _remove_excluded(root: Path, patterns: list[str], report: StripReport) -> None:
    for pattern in patterns:
        matches = sorted(root.glob(pattern))
        if not matches:
            raise FileNotFoundError(f"exclude pattern {pattern!r} matches nothing under {root}")
        for path in matches:
            _remove(path, "excluded (layer's exclude.txt)", report)


def read_exclude_file(path: Path) -> list[str]:
    """Glob patterns (relative to ``python/``) of a layer's ``exclude.txt``, if it has one."""
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def strip_tree(
    root: Path, *, exclude: list[str] | None = None, debug_symbols: bool = True
) -> StripReport:
    """Remove from an installed ``--target`` tree what Lambda never loads.

    Parameters
    ----------
    root : Path
        The directory pip installed into (becomes ``/opt/python``).
    exclude : list of str, optional
        Further glob patterns relative to ``root`` to leave out (a layer's ``exclude.txt``);
        each must match something, so a stale pattern is noticed.
    debug_symbols : bool
        Also run ``strip --strip-debug`` over extension modules when ``strip`` is on PATH.

    Returns
    -------
    StripReport
        Bytes and files removed, by reason.
    """
    report = StripReport()
    _remove_runtime_distributions(root, report)
    for bin_dir in (root / "bin", root / "share"):
        _remove(bin_dir, "scripts and data for other tools", report)
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        here = Path(dirpath)
        for name in list(dirnames):
            in_package = here != root
            if name in _TEST_DIRS and in_package:
                _remove_tests(root, here / name, report)
                dirnames.remove(name)
            elif name == "__pycache__":
                _remove(here / name, "bytecode caches", report)
                dirnames.remove(name)
            elif name in _DEAD_DIRS and in_package and not (here / name / "__init__.py").exists():
                _remove(here / name, "headers and sources", report)
                dirnames.remove(name)
        for name in filenames:
            path = here / name
            if _FLIGHT.match(name) and here.name == "pyarrow":
                _remove(path, "Arrow Flight and C++ tests", report)
            elif _NUMPY_TEST_MODULES.match(name) and here.name == "_core":
                _remove(path, "tests", report)
            elif name.endswith(_DEAD_SUFFIXES):
                stale = name.endswith((".pyc", ".pyo"))
                _remove(path, "bytecode caches" if stale else "headers, sources, stubs", report)
    _remove_excluded(root, exclude or [], report)
    _dedupe_shared_libraries(root, report)
    if debug_symbols:
        _strip_debug_symbols(root, report)
    return report
