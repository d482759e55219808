"""docs/API.md's examples, pasted into a shell as a reader would, against the local stack.

The reader's shell has ``API`` and ``KEY`` set and the sample data landed (as the docs'
"Try it" says); every example then runs in document order in one bash session (ids flow
from one example to the next through ``PORTFOLIO_ID`` and ``RUN_ID``), and each must
answer a success status (the examples use ``curl --fail-with-body``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
_MARK = "### example"


def bash_blocks(markdown: str) -> list[str]:
    """The ```bash blocks of a Markdown text, in order."""
    return [m.group(1) for m in _BLOCK.finditer(markdown)]


def land_sample(stack: Any) -> None:
    from sample_data import sample_files

    s3 = stack.client("s3")
    for path in sample_files():
        s3.put_object(Bucket=stack.bucket, Key=f"raw/prices/{path.name}", Body=path.read_bytes())
    stack.wait_idle()


def run_blocks(blocks: list[str], env: dict[str, str], cwd: Path) -> list[tuple[str, str]]:
    """Run the blocks in one bash session; (block, its output) for each that ran."""
    script = ["set -eo pipefail"]
    for index, block in enumerate(blocks):
        script += [f"echo '{_MARK} {index}'", block]
    script.append(f"echo '{_MARK} end'")
    done = subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    parts = done.stdout.split(_MARK + " ")[1:]
    outputs = {int(p.split("\n", 1)[0]): p.split("\n", 1)[1] for p in parts if p[:3] != "end"}
    last = max(outputs, default=0)
    failure = (
        f"example {last} failed (exit {done.returncode}):\n{blocks[last]}\n--- output ---\n"
        f"{outputs.get(last, '')[-2000:]}\n--- stderr ---\n{done.stderr[-2000:]}"
    )
    assert done.returncode == 0, failure
    assert done.stdout.rstrip().endswith(f"{_MARK} end"), failure
    return [(blocks[i], outputs[i]) for i in sorted(outputs)]


def test_every_api_md_example_runs_against_the_local_stack(
    fresh_stack: Any, tmp_path: Path
) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is needed to run the docs' examples (Debian: apt-get install curl)")
    land_sample(fresh_stack)
    blocks = bash_blocks((ROOT / "docs" / "API.md").read_text())
    setup = [b for b in blocks if b.startswith("API=")]
    assert setup, "the docs tell the reader how to set API and KEY"
    examples = [b for b in blocks if not b.startswith("API=")]
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "API": fresh_stack.api_url,
        "KEY": "dev-key",
        "HOME": str(tmp_path),
    }
    ran = run_blocks(examples, env, tmp_path)
    assert len(ran) == len(examples)
    outputs = dict(ran)
    created = next(out for block, out in ran if '-X POST "$API/portfolios"' in block)
    assert json.loads(created.splitlines()[0])["portfolio"]["name"] == "Tech Concentrated"
    simulated = next(out for block, out in ran if "/monte-carlo/simulate" in block)
    assert json.loads(simulated)["result"]["statistics"]["nPaths"] == 1000
    assert len(outputs) == len(examples)


_RUNS_LOCALLY = re.compile(
    r"^<!-- runs against the local stack(?::[^>]*)? -->\n```bash\n(.*?)^```", re.S | re.M
)


def runnable_blocks(markdown: str) -> list[str]:
    """The ```bash blocks a document marks as running against the local stack."""
    return [m.group(1) for m in _RUNS_LOCALLY.finditer(markdown)]


@pytest.fixture
def reader_stack(tmp_path: Path) -> Any:
    """A stack as `stratigos local up` leaves it: its state file where the CLI looks
    (.stratigos/local.json under the reader's directory), which has the checkout's .venv and
    sample_data (the paths the docs use)."""
    import uuid

    from local.stack import LocalStack, LocalStackOptions

    for name in (".venv", "sample_data"):
        (tmp_path / name).symlink_to(ROOT / name)
    options = LocalStackOptions(
        api_port=0,
        state_file=tmp_path / ".stratigos" / "local.json",
        stack_name=f"stratigos-d{uuid.uuid4().hex[:8]}",
        keys={"dev-key": "demo", "other-key": "acme"},
        retry_base_delay_s=0.01,
        environment_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
    )
    with LocalStack(options) as stack:
        yield stack


def _reader_env(stack: Any, home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(home),
        "BUCKET": stack.bucket,
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def test_readmes_local_commands_run_as_pasted(reader_stack: Any, tmp_path: Path) -> None:
    blocks = runnable_blocks((ROOT / "README.md").read_text())
    assert blocks, "README marks the commands that run against the local stack"
    # As pasted against `local up` on its default port; this stack's port differs.
    pasted = [b.replace("http://127.0.0.1:3000", reader_stack.api_url) for b in blocks]
    ran = run_blocks(pasted, _reader_env(reader_stack, tmp_path), tmp_path)
    output = "".join(out for _, out in ran)
    assert '"items"' in output  # GET /portfolios
    assert '"type":"risk-parity"' in output  # the inline run
    assert "prices_2024-12.parquet: 630 rows accepted, 0 quarantined" in output
    assert "AAPL" in output  # the SQL over the lake


def test_deployments_local_commands_run_against_the_local_stack(
    reader_stack: Any, tmp_path: Path
) -> None:
    text = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    blocks = runnable_blocks(text)
    assert len(blocks) >= 2, "DEPLOYMENT marks the commands that run locally"
    # The local SQL is the Athena example's text, word for word.
    athena = re.search(r'--workgroup "\$\(out AthenaWorkGroupName\)" \\\n\s+"([^"]+)"', text)
    assert athena is not None
    assert any(f'"{athena.group(1)}"' in block for block in blocks)
    run_blocks(blocks, _reader_env(reader_stack, tmp_path), tmp_path)
    reader_stack.wait_idle(timeout_s=300)
    s3 = reader_stack.client("s3")
    landed = {
        o["Key"]
        for o in s3.list_objects_v2(Bucket=reader_stack.bucket, Prefix="raw/prices/")["Contents"]
    }
    assert landed == {
        "raw/prices/prices_history.csv",
        "raw/prices/prices_2024-12.parquet",
        "raw/prices/prices.parquet",
    }
