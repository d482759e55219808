"""Build the Lambda layers of template.yaml for the python3.11 runtime (x86_64).

Each ``AWS::Serverless::LayerVersion`` named ``<Name>Layer`` is built from
``layers/<name>/requirements.txt``:

1. pip installs the requirements into ``build/layers/<name>/python`` for the Lambda platform,
   not this machine's: ``--platform manylinux…_x86_64 --implementation cp --python-version
   3.11 --only-binary=:all:``. The python3.11 runtime runs on Amazon Linux 2 (glibc 2.26),
   so wheels tagged up to ``manylinux_2_24`` qualify and ``manylinux_2_28`` ones do not.
2. Wheels come from a cache shared by every checkout (``$STRATIGOS_WHEEL_CACHE``, default
   ``~/.cache/stratigos/wheels``): pip installs from it offline, and only downloads when it
   lacks something (or with ``refresh=True``).
3. :func:`layers._strip.strip_tree` removes what the runtime has or never loads, pip's
   bytecode included.
4. The core layer (in every function) gets fresh bytecode, see :func:`compile_bytecode`.
5. The tree is zipped deterministically (sorted entries, fixed timestamps) as Lambda
   expects it (``python/…``).

A build is skipped when ``build/layers/<name>/stamp.json`` records the same inputs (the
requirements, the platform and this build's own source).
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from layers._strip import read_exclude_file, strip_tree
from layers.exceptions import LayerBuildError
from stack import Template

__all__ = [
    "LAMBDA_PLATFORMS",
    "BuiltLayer",
    "LayerSpec",
    "build_layer",
    "compile_bytecode",
    "layer_specs",
    "tree_size",
    "wheel_cache_dir",
    "write_zip",
]

ROOT = Path(__file__).resolve().parent.parent
# Amazon Linux 2 has glibc 2.26: every manylinux tag at or below it (pip does not expand
# ``--platform`` to older tags by itself, so they are listed).
LAMBDA_PLATFORMS = (
    "manylinux_2_26_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_12_x86_64",
    "manylinux2010_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
)
PYTHON_VERSION = "3.11"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Layers shipped with bytecode. /opt is read-only on Lambda, so without it every cold start
# compiles every module it imports: measured here, the Portfolios handler imports in 178 ms
# with bytecode against 372 ms without (bench/coldstart.py --built). The core layer is in
# every function and costs +6 MB that way; the big layers stay source-only to keep the run
# functions (core + numeric + arrow) inside the 230 MB budget.
BYTECODE_LAYERS = frozenset({"core", "data", "viz"})
_LAYER_ID = re.compile(r"^(?P<name>[A-Z][A-Za-z0-9]*)Layer$")


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the template and the requirements it is built from."""

    logical_id: str
    name: str
    requirements: Path

    @property
    def exclude_file(self) -> Path:
        return self.requirements.with_name("exclude.txt")


@dataclass
class BuiltLayer:
    """A built layer: where it is, how big, and what went in."""

    logical_id: str
    name: str
    directory: Path  # holds python/
    zip_path: Path
    unzipped_bytes: int
    zipped_bytes: int
    distributions: dict[str, str]
    stripped_bytes: dict[str, int] = field(default_factory=dict)
    cached: bool = False

    @property
    def python_dir(self) -> Path:
        return self.directory / "python"


def layer_specs(template: Template, root: Path = ROOT) -> list[LayerSpec]:
    """Every layer resource of the template, with its requirements file."""
    specs = []
    for logical_id in template.resources_of("AWS::Serverless::LayerVersion"):
        match = _LAYER_ID.match(logical_id)
        if not match:
            raise LayerBuildError(f"layer {logical_id} is not named <Name>Layer")
        name = match.group("name").lower()
        requirements = root / "layers" / name / "requirements.txt"
        if not requirements.is_file():
            raise LayerBuildError(f"{logical_id} needs {requirements.relative_to(root)}")
        specs.append(LayerSpec(logical_id, name, requirements))
    return specs


def wheel_cache_dir() -> Path:
    """Where downloaded wheels are kept between builds and checkouts."""
    explicit = os.environ.get("STRATIGOS_WHEEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stratigos" / "wheels"


def tree_size(path: Path) -> int:
    """Bytes of every regular file under ``path`` (what Lambda counts as unzipped)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _inputs_digest(spec: LayerSpec) -> str:
    digest = hashlib.sha256()
    digest.update(spec.requirements.read_bytes())
    if spec.exclude_file.is_file():
        digest.update(spec.exclude_file.read_bytes())
    digest.update("\n".join(LAMBDA_PLATFORMS).encode())
    digest.update(PYTHON_VERSION.encode())
    for source in ("build.py", "_strip.py"):  # a change in the rules rebuilds
        digest.update((Path(__file__).parent / source).read_bytes())
    return digest.hexdigest()


def _pip_platform_args() -> list[str]:
    args = []
    for platform in LAMBDA_PLATFORMS:
        args += ["--platform", platform]
    return [
        *args,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--abi",
        "cp311",
        "--only-binary=:all:",
    ]


def _pip(python: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _install(spec: LayerSpec, target: Path, python: str, refresh: bool) -> None:
    wheels = wheel_cache_dir()
    wheels.mkdir(parents=True, exist_ok=True)
    install = [
        "install",
        "--no-index",
        "--find-links",
        str(wheels),
        "--target",
        str(target),
        "--no-compile",
        "--no-warn-script-location",
        *_pip_platform_args(),
        "-r",
        str(spec.requirements),
    ]
    if not refresh and _pip(python, install).returncode == 0:
        return
    shutil.rmtree(target, ignore_errors=True)
    download = ["download", "--dest", str(wheels), *_pip_platform_args()]
    fetched = _pip(python, [*download, "-r", str(spec.requirements)])
    if fetched.returncode != 0:
        raise LayerBuildError(
            f"pip could not download {spec.name}'s requirements for python{PYTHON_VERSION} "
            f"on Lambda (manylinux x86_64):\n{fetched.stderr.strip()[-2000:]}"
        )
    installed = _pip(python, install)
    if installed.returncode != 0:
        raise LayerBuildError(
            f"pip could not install {spec.name}'s requirements:\n{installed.stderr[-2000:]}"
        )


def _distributions(python_dir: Path) -> dict[str, str]:
    found = {}
    for dist_info in python_dir.glob("*.dist-info"):
        name, _, version = dist_info.name.removesuffix(".dist-info").rpartition("-")
        found[name.lower().replace("_", "-")] = version
    return dict(sorted(found.items()))


def compile_bytecode(tree: Path) -> None:
    """Compile every module under ``tree`` for CPython 3.11, checked by hash, never by mtime.

    Lambda extracts zips with the zip's (fixed) timestamps, so mtime-checked bytecode would be
    stale on arrival; ``unchecked-hash`` bytecode is used as is. Skipped (with a warning) when
    this interpreter is not CPython 3.11, whose bytecode the runtime could not load.
    """
    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11):
        print(f"warning: not CPython 3.11, {tree} ships without bytecode", file=sys.stderr)
        return
    ok = compileall.compile_dir(
        str(tree),
        quiet=2,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise LayerBuildError(f"some module under {tree} does not compile")


def write_zip(source: Path, zip_path: Path, arcroot: str = "") -> int:
    """Zip ``source`` deterministically (sorted entries, fixed dates, modes kept).

    Returns the zip's size in bytes.
    """
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    partial = zip_path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            name = f"{arcroot}{path.relative_to(source).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as handle:
                archive.writestr(info, handle.read(), compresslevel=6)
    partial.replace(zip_path)
    return zip_path.stat().st_size


def build_layer(
    spec: LayerSpec,
    out_dir: Path,
    *,
    python: str = sys.executable,
    force: bool = False,
    refresh: bool = False,
) -> BuiltLayer:
    """Build one layer into ``out_dir/<name>/`` and ``out_dir/<name>.zip`` (or reuse it).

    Parameters
    ----------
    spec : LayerSpec
        The layer and its requirements.
    out_dir : Path
        Usually ``build/layers``.
    python : str
        The interpreter whose pip does the work (any CPython; the target is set by flags).
    force : bool
        Rebuild even when the stamp says the inputs did not change.
    refresh : bool
        Ask the index again instead of installing from the wheel cache.
    """
    directory = out_dir / spec.name
    zip_path = out_dir / f"{spec.name}.zip"
    stamp = directory / "stamp.json"
    digest = _inputs_digest(spec)
    if not force and not refresh and stamp.exists() and zip_path.exists():
        recorded = json.loads(stamp.read_text())
        if recorded.get("inputs") == digest:
            return BuiltLayer(
                logical_id=spec.logical_id,
                name=spec.name,
                directory=directory,
                zip_path=zip_path,
                unzipped_bytes=int(recorded["unzipped_bytes"]),
                zipped_bytes=zip_path.stat().st_size,
                distributions=dict(recorded["distributions"]),
                stripped_bytes=dict(recorded["stripped_bytes"]),
                cached=True,
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"layer-{spec.name}-", dir=out_dir) as scratch:
        python_dir = Path(scratch) / "python"
        _install(spec, python_dir, python, refresh)
        report = strip_tree(python_dir, exclude=read_exclude_file(spec.exclude_file))
        if spec.name in BYTECODE_LAYERS:
            compile_bytecode(python_dir)
        distributions = _distributions(python_dir)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        python_dir.replace(directory / "python")
    built = BuiltLayer(
        logical_id=spec.logical_id,
        name=spec.name,
        directory=directory,
        zip_path=zip_path,
        unzipped_bytes=tree_size(directory / "python"),
        zipped_bytes=write_zip(directory / "python", zip_path, arcroot="python/"),
        distributions=distributions,
        stripped_bytes=dict(report.removed),
    )
    record = {
        "inputs": digest,
        **{k: v for k, v in asdict(built).items() if k not in {"directory", "zip_path"}},
    }
    stamp.write_text(json.dumps(record, indent=2, default=str))
    return built
