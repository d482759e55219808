"""A local stack that is gone — killed, its state file left behind — is told in one line:
`local status` calls the file stale, every command that needs the stack says it is not
running, none with a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.cli import main
from local.stack import StackNotRunningError, StackState, process_alive
from stack import DEFAULT_TEMPLATE

ROOT = Path(__file__).resolve().parents[3]
NOT_RUNNING = "the local stack is not running (start it with `stratigos local up`)"


def _gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _state_file(directory: Path, pid: int, data_dir: str | None = None) -> Path:
    path = directory / ".stratigos" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "endpoint_url": "http://127.0.0.1:1",
                "api_url": "http://127.0.0.1:2",
                "region": "us-east-1",
                "stack_name": "stratigos-local",
                "keys": {"dev-key": "demo"},
                "template_path": str(DEFAULT_TEMPLATE),
                "pid": pid,
                "data_dir": data_dir,
            }
        )
    )
    return path


def test_status_calls_a_state_file_whose_process_is_gone_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = _gone_pid()
    _state_file(tmp_path, pid, data_dir=str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    assert main(["local", "status"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"stratigos: stale state file .stratigos/local.json: the local stack (pid {pid}) is "
        f"gone; `stratigos local up --data-dir {tmp_path / 'elsewhere'}` starts it again with "
        "its data"
    ]


def test_status_without_a_state_file_says_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["local", "status"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"stratigos: {NOT_RUNNING}"]


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["local", "tick", "nightly"], "stratigos"),
        (["ingest", str(ROOT / "sample_data" / "files" / "prices_2024-12.parquet")], "stratigos"),
        (["replay", "--dry-run"], "stratigos"),
        (["sql", "SELECT 1"], "stratigos sql"),
    ],
)
def test_commands_that_need_the_stack_say_it_is_not_running_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    prefix: str,
) -> None:
    _state_file(tmp_path, _gone_pid())
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"{prefix}: {NOT_RUNNING}"]


def test_the_state_of_a_gone_stack_is_not_read_as_running(tmp_path: Path) -> None:
    path = _state_file(tmp_path, _gone_pid())
    with pytest.raises(StackNotRunningError) as raised:
        StackState.read(path)
    assert raised.value.stale
    assert StackState.load(path).pid == raised.value.pid  # still readable as written
    assert StackState.read(_state_file(tmp_path, os.getpid())).pid == os.getpid()


def test_a_killed_process_not_yet_reaped_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(child.pid)
        child.kill()
        # Wait for it to die without reaping it: a zombie keeps its pid.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        assert not process_alive(child.pid)
    finally:
        child.kill()
        child.wait()
