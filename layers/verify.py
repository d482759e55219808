"""Run code the way Lambda would see it: a function's package, its layers, the runtime.

Lambda's python3.11 ``sys.path`` is ``/var/task`` (the function's code), ``/opt/python``
(its layers, extracted in order, later ones overwriting earlier ones), ``/var/runtime``
(boto3, botocore and their dependencies) and the standard library. :func:`run_isolated`
reproduces that with ``python -I -S -B``: no site-packages, no ``PYTHONPATH``, nothing of this
machine's environment but the standard library, and no bytecode written (Lambda cannot
write to /opt or /var/task either), so an import that works here works there.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess  # nosec B404 - runs this interpreter on our own checks
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["RUNTIME_PACKAGES", "lambda_sys_path", "run_isolated", "runtime_site"]

# What /var/runtime of the python3.11 image provides besides the bootstrap.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")


def runtime_site(into: Path) -> Path:
    """A stand-in for ``/var/runtime``: links to this interpreter's copies of the SDK."""
    into.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"{name} is needed to stand in for the Lambda runtime")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = into / source.name
        if not link.exists():
            link.symlink_to(source, target_is_directory=source.is_dir())
    return into


def lambda_sys_path(code: Path | None, layers: Sequence[Path], runtime: Path) -> list[Path]:
    """``sys.path`` entries in Lambda's order; the last layer listed wins, as in ``/opt``."""
    return [*([code] if code else []), *reversed(list(layers)), runtime]


def run_isolated(
    code: str,
    paths: Sequence[Path],
    *,
    env: dict[str, str] | None = None,
    timeout_s: float = 300.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in ``python -I -S`` with only ``paths`` ahead of the standard library."""
    prelude = f"import sys\nsys.path[:0] = {[str(p) for p in paths]!r}\n"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/tmp"),  # nosec B108 - matplotlib config dir
        "MPLBACKEND": "Agg",
        **(env or {}),
    }
    return subprocess.run(  # nosec B603 - our interpreter, fixed argv, no shell
        [sys.executable, "-I", "-S", "-B", "-c", prelude + code],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout_s,
        check=False,
    )
