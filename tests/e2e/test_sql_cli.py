"""`stratigos sql` as a user runs it, against a `stratigos local up` in another process.

``sql`` is not wired into ``local.cli`` yet, so the command runs through ``local.sql.main``
(the same parser and command the CLI will use). The Glue tables are the template's, created
when the stack comes up.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.settings import env_name
from ingest.schemas import PRICE_SCHEMA, PRICES_PREFIX, partition_key
from local.stack import StackState

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SQL_MAIN = "import sys; from local.sql import main; sys.exit(main(sys.argv[1:]))"
NOW = dt.datetime(2025, 1, 2, 6, 0, tzinfo=dt.UTC)
QUERY = (
    "SELECT ticker, date, close, volume FROM prices "
    "WHERE year = 2024 AND date = DATE '2024-12-02' ORDER BY ticker"
)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRATIGOS_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _sql(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SQL_MAIN, *args],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running `stratigos local up` (its own process) with a 2024 prices partition."""
    cwd = tmp_path_factory.mktemp("sql-cli")
    up = subprocess.Popen(
        [sys.executable, "-m", "local.cli", "local", "up", "--port", "0"],
        cwd=cwd,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    state_file = cwd / ".stratigos" / "local.json"
    try:
        deadline = time.monotonic() + 60
        while not state_file.exists():
            assert up.poll() is None, up.communicate()[0]
            assert time.monotonic() < deadline, "local stack did not come up"
            time.sleep(0.2)
        state = StackState.read(state_file)
        environment = state.environment()
        bucket = environment[env_name("bucket")]
        with state.activated() as session:
            rows = [
                {
                    "date": dt.date(2024, 12, 2),
                    "ticker": ticker,
                    "close": close,
                    "open": None,
                    "high": None,
                    "low": None,
                    "volume": volume,
                    "source_key": "raw/prices/e2e.csv",
                    "source_version": None,
                    "source_time": NOW,
                    "ingested_at": NOW,
                }
                for ticker, close, volume in (("SQLA", 101.5, 1200), ("SQLB", 99.25, 800))
            ]
            buffer = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(rows, schema=PRICE_SCHEMA), buffer)
            # The prices table itself comes from the template: nothing to register.
            session.client("s3").put_object(
                Bucket=bucket, Key=partition_key(PRICES_PREFIX, 2024), Body=buffer.getvalue()
            )
        yield cwd
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output


def test_table_output_has_the_rows(stack_dir: Path) -> None:
    run = _sql(QUERY, cwd=stack_dir)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["ticker", "date", "close", "volume"]
    assert lines[2].split() == ["SQLA", "2024-12-02", "101.50", "1200"]
    assert lines[3].split() == ["SQLB", "2024-12-02", "99.25", "800"]
    assert lines[-1] == "(2 rows)"


def test_json_output_parses(stack_dir: Path) -> None:
    run = _sql(QUERY, "--format", "json", cwd=stack_dir)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [
        {"ticker": "SQLA", "date": "2024-12-02", "close": 101.5, "volume": 1200},
        {"ticker": "SQLB", "date": "2024-12-02", "close": 99.25, "volume": 800},
    ]


def test_a_bad_query_exits_1_with_duckdbs_message(stack_dir: Path) -> None:
    run = _sql("SELEC ticker FROM prices", cwd=stack_dir)
    assert run.returncode == 1
    assert 'Parser Error: syntax error at or near "SELEC"' in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert run.stdout == ""


def test_an_empty_table_and_the_qualified_name(stack_dir: Path) -> None:
    run = _sql("SELECT * FROM stratigos_local.returns", "--format", "csv", cwd=stack_dir)
    assert run.returncode == 0, run.stderr
    # Only the header: no returns were written.
    assert run.stdout.splitlines() == [
        "date,ticker,simple_return,log_return,prev_date,computed_at,year"
    ]


def test_without_a_stack_it_exits_2(tmp_path: Path) -> None:
    run = _sql("SELECT 1", cwd=tmp_path)
    assert run.returncode == 2
    assert "stratigos local up" in run.stderr
    assert "Traceback" not in run.stderr
