"""`stratigos local up` keeps its data: a `kill -9` in the middle of a nightly tick, then a
restart with the same command, loses nothing that was acknowledged, and every accepted run
ends final. `--fresh` starts empty."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "files" / "prices_2024-12.parquet"
NOT_RUNNING = "stratigos: the local stack is not running (start it with `stratigos local up`)"
FINAL = {"succeeded", "failed"}
ANALYSES = [{"type": "risk-parity", "lookbackDays": 30}, {"type": "hrp", "lookbackDays": 30}]
PORTFOLIOS = 3
_DEADLINE_S = 120.0  # a bound on waiting for the stack, never a measurement


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRATIGOS_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _stratigos(*args: str, cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "local.cli", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=_DEADLINE_S,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


class Stack:
    """`stratigos local up` running in the background, its output read line by line."""

    def __init__(self, cwd: Path, *options: str) -> None:
        self.cwd = cwd
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.cli", "local", "up", "--port", "0", *options],
            cwd=cwd,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(r"^Stratigos local stack is up")
        self.wait_for(r"^One line per invocation")  # the banner is complete
        state = json.loads((cwd / ".stratigos" / "local.json").read_text())
        assert state["pid"] == self.process.pid, state
        self.state: dict[str, Any] = state

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, after: int = 0) -> int:
        """The index of the first line from ``after`` on matching ``pattern``."""
        deadline = time.monotonic() + _DEADLINE_S
        with self._changed:
            while True:
                for index in range(after, len(self.lines)):
                    if re.search(pattern, self.lines[index]):
                        return index
                assert self.process.poll() is None, "\n".join(self.lines)
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no line {pattern!r}:\n" + "\n".join(self.lines)
                self._changed.wait(remaining)

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def client(self, service: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.state["endpoint_url"],
            region_name=self.state["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def api(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.state["api_url"] + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"x-api-key": "dev-key", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def environment(self) -> dict[str, str]:
        from local.stack import StackState

        return StackState.load(self.cwd / ".stratigos" / "local.json").environment()

    def runs(self) -> dict[str, dict[str, Any]]:
        """Every run item: id → its document (status, parameters.trigger …)."""
        from core.settings import env_name

        table = self.environment()[env_name("runs_table")]
        pages = self.client("dynamodb").get_paginator("scan").paginate(TableName=table)
        return {
            item["runId"]["S"]: json.loads(item["document"]["S"])
            for page in pages
            for item in page["Items"]
        }

    def curated(self) -> list[tuple[str, str, str]]:
        from core.settings import env_name

        bucket = self.environment()[env_name("bucket")]
        answer = self.client("s3").list_object_versions(Bucket=bucket, Prefix="curated/")
        return sorted(
            (v["Key"], v["VersionId"], v["LastModified"].isoformat())
            for v in answer.get("Versions", [])
        )

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
        return self.output


def _dead_letter_before_the_crash(stack: Stack) -> None:
    """A RunRequested for a run that does not exist: the worker fails it three times and
    Lambda's OnFailure destination (the dead-letter queue) gets it."""
    from core.settings import env_name

    stack.client("events").put_events(
        Entries=[
            {
                "Source": "stratigos.api",
                "DetailType": "RunRequested",
                "EventBusName": stack.environment()[env_name("event_bus")],
                "Detail": json.dumps(
                    {
                        "tenant": "demo",
                        "runId": "r-never-stored",
                        "type": "hrp",
                        "requestKey": "tmp/run-requests/demo/r-never-stored.json",
                    }
                ),
            }
        ]
    )
    stack.wait_for(r"dead letter: RunWorkerFunction <- RunRequested")


def _all_final(stack: Stack, expected_nightly: int) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + _DEADLINE_S
    while True:
        runs = stack.runs()
        nightly = [r for r in runs.values() if r["parameters"].get("trigger") == "nightly"]
        if len(nightly) == expected_nightly and all(r["status"] in FINAL for r in runs.values()):
            return runs
        assert time.monotonic() < deadline, {k: r["status"] for k, r in runs.items()}
        time.sleep(0.3)


def test_a_kill_in_the_middle_of_a_nightly_tick_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    first = Stack(tmp_path, "--data-dir", "data")
    try:
        assert "nothing kept there yet: started empty" in first.output
        assert f"Data:         {tmp_path / 'data'}" in first.output
        assert "`stratigos local up --data-dir data` resumes it" in first.output

        code, landed = _stratigos("ingest", str(SAMPLE), cwd=tmp_path)
        assert code == 0, landed
        assert "prices_2024-12.parquet: 630 rows accepted, 0 quarantined" in landed
        portfolios = {
            first.api(
                "POST",
                "/portfolios",
                {
                    "portfolio": {
                        "name": f"p{n}",
                        "assets": {"AAPL": 0.25, "MSFT": 0.25, "KO": 0.25, "XOM": 0.25},
                        "analyses": ANALYSES,
                    }
                },
            )["id"]
            for n in range(PORTFOLIOS)
        }
        _dead_letter_before_the_crash(first)
        code, letters = _stratigos("replay", "--dry-run", cwd=tmp_path)
        assert code == 0, letters
        assert "1 dead letter(s) listed" in letters, letters
        letter = next(line for line in letters.splitlines() if line.startswith("listed"))

        accepted = first.runs()  # the runs so far (the creations' and the landing's) …
        curated = first.curated()  # … and the lake, as readers were answered
        assert curated, "the landing curated nothing"

        code, fired = _stratigos("local", "tick", "nightly", cwd=tmp_path)
        assert code == 0, fired
        # The fan-out has just published every nightly RunRequested (acknowledged: each is
        # a run accepted); the worker has all of them still to run. kill -9 now.
        first.wait_for(r"FanOutFunction <- schedule Nightly: ok")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
    finally:
        if first.process.poll() is None:
            first.process.kill()
            first.process.wait(timeout=30)
    expected_nightly = PORTFOLIOS * len(ANALYSES)

    # The state file outlives the process: stale, said in one line; nothing needing the
    # stack runs, and none of it says more than that it is not running.
    code, status = _stratigos("local", "status", cwd=tmp_path)
    assert code == 1, status
    assert status.splitlines() == [
        f"stratigos: stale state file .stratigos/local.json: the local stack (pid "
        f"{first.process.pid}) is gone; `stratigos local up --data-dir {tmp_path / 'data'}` "
        "starts it again with its data"
    ]
    code, tick = _stratigos("local", "tick", "nightly", cwd=tmp_path)
    assert (code, tick.splitlines()) == (2, [NOT_RUNNING])
    code, ingest = _stratigos("ingest", str(SAMPLE), cwd=tmp_path)
    assert (code, ingest.splitlines()) == (2, [NOT_RUNNING])

    second = Stack(tmp_path, "--data-dir", "data")
    try:
        assert re.search(r"resumed: [\d,]+ kept writes replayed in [\d.]+ s", second.output)
        code, status = _stratigos("local", "status", cwd=tmp_path)
        assert code == 0, status
        assert f"pid {second.process.pid}" in status, status

        listed = {p["id"] for p in second.api("GET", "/portfolios")["items"]}
        assert listed == portfolios
        assert second.curated() == curated  # same versions, same Last-Modified
        # Every run accepted before the crash — the nightly ones included, one per
        # portfolio and analysis however often the tick is delivered — ends final.
        runs = _all_final(second, expected_nightly)
        assert set(accepted) <= set(runs)
        for run_id, before in accepted.items():
            if before["status"] in FINAL:  # a finished run is kept as it finished
                assert runs[run_id] == before
        # The tick the crash interrupted was finished by the restarted stack.
        assert "RunWorkerFunction <- RunRequested: ok" in second.output
        code, letters = _stratigos("replay", "--dry-run", cwd=tmp_path)
        assert code == 0, letters
        assert "1 dead letter(s) listed" in letters, letters
        assert letter in letters.splitlines()  # the same letter, same message id
    finally:
        output = second.stop()
    assert second.process.returncode == 0, output

    fresh = Stack(tmp_path, "--data-dir", "data", "--fresh")
    try:
        assert "started empty (--fresh)" in fresh.output
        assert fresh.api("GET", "/portfolios")["items"] == []
        assert fresh.runs() == {}
    finally:
        output = fresh.stop()
    assert fresh.process.returncode == 0, output
