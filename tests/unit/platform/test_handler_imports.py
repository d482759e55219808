"""Every handler of template.yaml imports in a fresh interpreter, as a cold Lambda does.

The test session registers the built-in analyses up front (tests/conftest.py), which hides a
handler that needs the registry but never imports ``analyses`` itself; a fresh interpreter
has only what the handler's own imports bring.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stack import Template

ROOT = Path(__file__).resolve().parents[3]
HANDLERS = sorted({function.handler for function in Template.load().functions()})


@pytest.mark.parametrize("handler", HANDLERS)
def test_the_handler_imports_on_its_own(handler: str) -> None:
    module, _, attr = handler.rpartition(".")
    code = f"import {module}\nassert callable(getattr({module}, {attr!r}))\n"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "stratigos",
    }
    done = subprocess.run(
        [sys.executable, "-B", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{handler}: {done.stderr[-3000:]}"
