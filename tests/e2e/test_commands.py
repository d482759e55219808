"""The operator commands as a user runs them: `stratigos demo`, `local up`, `local tick`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _stratigos(*args: str, cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRATIGOS_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "local.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


def test_demo_runs_the_chain_and_exits_zero(tmp_path: Path) -> None:
    process = _stratigos("demo", "--output", str(tmp_path / "out"), cwd=tmp_path)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["ok"] is True
    assert summary["deadLetters"] == 0
    assert len(summary["landed"]) == 2
    assert "What happened" in output
    assert "IngestFunction" in output


def test_local_up_serves_and_tick_reaches_it(tmp_path: Path) -> None:
    up = _stratigos("local", "up", "--port", "0", cwd=tmp_path)
    state_file = tmp_path / ".stratigos" / "local.json"
    try:
        deadline = time.monotonic() + 60
        while not state_file.exists():
            assert up.poll() is None, up.communicate()[0]
            assert time.monotonic() < deadline, "local stack did not come up"
            time.sleep(0.2)
        state = json.loads(state_file.read_text())
        request = urllib.request.Request(state["api_url"] + "/portfolios")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403

        # Schedule names in any case (the design says `stratigos local tick nightly`).
        tick = _stratigos("local", "tick", "nightly", cwd=tmp_path)
        output, _ = tick.communicate(timeout=60)
        assert tick.returncode == 0, output
        assert "fired Nightly" in output

        # The running stack's dispatcher drains the schedule's queue (it invoked FanOut).
        sqs = boto3.client(
            "sqs",
            endpoint_url=state["endpoint_url"],
            region_name=state["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        queue = sqs.get_queue_url(QueueName="stratigos-local-target-FanOutFunction-Nightly")
        deadline = time.monotonic() + 30
        while True:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue["QueueUrl"],
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if not any(int(v) for v in attributes.values()):
                break
            assert time.monotonic() < deadline, attributes
            time.sleep(0.2)

        # `stratigos ingest` lands files, waits for the running stack to curate them, and
        # says what became of each: rows accepted, quarantined by reason, the report's key.
        sample = ROOT / "sample_data" / "files" / "prices_2024-12.parquet"
        bad_rows = tmp_path / "bad_rows.csv"
        bad_rows.write_text(
            "date,ticker,close\n2024-12-02,QQQX,10\n2024-12-03,QQQX,-1\n2024-12-04,qqqx,5\n"
        )
        ingest = _stratigos("ingest", str(sample), str(bad_rows), cwd=tmp_path)
        output, _ = ingest.communicate(timeout=180)
        assert ingest.returncode == 0, output
        assert "prices_2024-12.parquet [" in output  # the progress bar's last line
        assert "landed s3://" in output
        assert "waiting for ingest of prices_2024-12.parquet, bad_rows.csv" in output
        assert re.search(r"prices_2024-12\.parquet: [\d,]+ rows accepted, 0 quarantined", output)
        assert (
            "bad_rows.csv: 1 row accepted, 2 quarantined (1 BAD_TICKER, 1 NON_POSITIVE_PRICE)"
            in output
        )
        assert re.search(
            r"quarantine report: s3://[\w.-]+/quarantine/prices/bad_rows\.csv/[^/]+/report\.json",
            output,
        )
        s3 = boto3.client(
            "s3",
            endpoint_url=state["endpoint_url"],
            region_name=state["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        bucket = "stratigos-local-data-123456789012-us-east-1"
        deadline = time.monotonic() + 60
        while "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="curated/returns/"):
            assert time.monotonic() < deadline, "the landed file was never curated"
            time.sleep(0.3)

        missing = _stratigos("local", "tick", "Hourly", cwd=tmp_path)
        output, _ = missing.communicate(timeout=60)
        assert missing.returncode == 2
        assert "no schedule named 'Hourly'; the template's schedules: Nightly" in output
        assert "Traceback" not in output
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    assert "API:" in output
    assert "dev-key" in output
    assert not state_file.exists()
    # Its data stays in .stratigos/ (the default data directory) for the next `local up`.
    assert f"Data:         {tmp_path / '.stratigos'}  (nothing kept there yet" in output
    assert (tmp_path / ".stratigos" / "requests.jsonl").stat().st_size > 0
    # One line per invocation on `local up`'s stderr: function, trigger, outcome, duration.
    assert re.search(r"FanOutFunction <- schedule Nightly: ok \d+ ms", output), output
    assert re.search(
        r"IngestFunction <- Object Created raw/prices/bad_rows\.csv: ok \d+ ms", output
    ), output
    assert re.search(r"ReturnsFunction <- PricesCurated: ok \d+ ms", output), output


@pytest.mark.parametrize(
    ("option", "server"), [("--port", "local API"), ("--aws-port", "moto, the AWS endpoint")]
)
def test_local_up_on_a_busy_port_says_so_in_one_line(
    tmp_path: Path, option: str, server: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = ["--port", "0"] if option == "--aws-port" else []
        up = _stratigos("local", "up", *other, option, str(port), cwd=tmp_path)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 2, output
    assert output.splitlines() == [
        f"stratigos: port {port} on 127.0.0.1 ({server}) is in use by another program; "
        f"choose another with {option} PORT (0 picks a free one)"
    ]


def test_commands_without_a_stack_say_so(tmp_path: Path) -> None:
    for command in (("local", "tick", "Nightly"), ("local", "status")):
        process = _stratigos(*command, cwd=tmp_path)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 2
        assert output.splitlines() == [
            "stratigos: the local stack is not running (start it with `stratigos local up`)"
        ]
