"""The local stack's journal: which requests it keeps, how it reads back after a crash,
what moto makes up, and the data directory's lock."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from local import _moto_facts
from local._journal import (
    DataDirectory,
    DataDirectoryInUseError,
    Journal,
    JournalError,
    JournalingApp,
    is_write,
)


def _environ(method: str = "POST", path: str = "/", **extra: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", **extra}


@pytest.mark.parametrize(
    ("environ", "body", "write"),
    [
        (_environ("GET", "/bucket/key"), None, False),
        (_environ("HEAD", "/bucket/key"), None, False),
        (_environ("GET", "/bucket", QUERY_STRING="list-type=2"), None, False),
        (_environ("PUT", "/bucket/key"), None, True),
        (_environ("DELETE", "/bucket/key"), None, True),
        (_environ("POST", "/bucket", QUERY_STRING="delete"), None, True),
        (_environ(HTTP_X_AMZ_TARGET="DynamoDB_20120810.PutItem"), None, True),
        (_environ(HTTP_X_AMZ_TARGET="DynamoDB_20120810.UpdateItem"), None, True),
        (_environ(HTTP_X_AMZ_TARGET="DynamoDB_20120810.TransactWriteItems"), None, True),
        (_environ(HTTP_X_AMZ_TARGET="DynamoDB_20120810.GetItem"), None, False),
        (_environ(HTTP_X_AMZ_TARGET="DynamoDB_20120810.Query"), None, False),
        (_environ(HTTP_X_AMZ_TARGET="DynamoDB_20120810.Scan"), None, False),
        (_environ(HTTP_X_AMZ_TARGET="DynamoDB_20120810.BatchGetItem"), None, False),
        (_environ(HTTP_X_AMZ_TARGET="AmazonSQS.SendMessage"), None, True),
        (_environ(HTTP_X_AMZ_TARGET="AmazonSQS.DeleteMessage"), None, True),
        (_environ(HTTP_X_AMZ_TARGET="AmazonSQS.ReceiveMessage"), None, False),
        (_environ(HTTP_X_AMZ_TARGET="AmazonSQS.ChangeMessageVisibility"), None, False),
        (_environ(HTTP_X_AMZ_TARGET="AmazonSQS.GetQueueUrl"), None, False),
        (_environ(HTTP_X_AMZ_TARGET="AWSEvents.PutEvents"), None, True),
        (_environ(HTTP_X_AMZ_TARGET="AWSGlue.BatchCreatePartition"), None, True),
        (_environ(HTTP_X_AMZ_TARGET="AWSGlue.GetPartitions"), None, False),
        (_environ(HTTP_X_AMZ_TARGET="AmazonAthena.StartQueryExecution"), None, True),
        # The query protocol names its operation in the form body (or the query string).
        (
            _environ(CONTENT_TYPE="application/x-www-form-urlencoded; charset=utf-8"),
            b"Action=SendMessage&QueueUrl=q&MessageBody=x",
            True,
        ),
        (
            _environ(CONTENT_TYPE="application/x-www-form-urlencoded"),
            b"Action=ReceiveMessage&QueueUrl=q",
            False,
        ),
        (_environ("GET", "/", QUERY_STRING="Action=ListQueues"), None, False),
        (_environ("POST", "/moto-api/reset"), None, False),
    ],
)
def test_writes_are_journalled_and_reads_are_not(
    environ: dict[str, Any], body: bytes | None, write: bool
) -> None:
    assert is_write(environ, body) is write


def _journal_with(path: Path, *lines: bytes) -> Journal:
    path.write_bytes(b"".join(lines))
    return Journal(path)


_HEADER = b'{"journal":1,"moto":"5","created":0}\n'


def _write(n: int) -> bytes:
    return json.dumps({"n": n, "env": {"REQUEST_METHOD": "PUT"}, "body": str(n)}).encode() + b"\n"


def test_a_torn_last_line_is_cut_off_and_appending_resumes_after_it(tmp_path: Path) -> None:
    # kill -9 in the middle of a write(2): the line was never answered, so it is dropped.
    journal = _journal_with(tmp_path / "j", _HEADER, _write(1), _write(2), b'{"n":3,"env":{"RE')
    assert [entry["n"] for entry, _ in journal.writes()] == [1, 2]
    assert (tmp_path / "j").read_bytes() == _HEADER + _write(1) + _write(2)
    journal.open()
    try:
        assert journal.append_write({"env": {}, "body": ""}) == 3
    finally:
        journal.close()
    assert [entry["n"] for entry, _ in Journal(tmp_path / "j").writes()] == [1, 2, 3]


def test_a_damaged_line_inside_the_journal_is_refused(tmp_path: Path) -> None:
    journal = _journal_with(tmp_path / "j", _HEADER, _write(1), b"{garbage\n", _write(3))
    with pytest.raises(JournalError, match=r"line 3 is damaged.*--fresh"):
        list(journal.writes())
    assert (tmp_path / "j").read_bytes().endswith(_write(3))  # nothing cut


def test_a_journal_of_another_format_is_refused(tmp_path: Path) -> None:
    journal = _journal_with(tmp_path / "j", b'{"journal":99}\n', _write(1))
    with pytest.raises(JournalError, match="format 99"):
        list(journal.writes())


def test_each_write_comes_with_its_outcome(tmp_path: Path) -> None:
    refused = b'{"done":2,"status":412,"facts":[]}\n'
    made_up = b'{"done":3,"status":200,"facts":[["sqs.message","m-1"]]}\n'
    journal = _journal_with(tmp_path / "j", _HEADER, _write(1), _write(2), refused, _write(3))
    (tmp_path / "j").write_bytes((tmp_path / "j").read_bytes() + made_up)
    outcomes = [(entry["n"], outcome) for entry, outcome in journal.writes()]
    assert outcomes == [
        (1, None),
        (2, {"done": 2, "status": 412, "facts": []}),
        (3, {"done": 3, "status": 200, "facts": [["sqs.message", "m-1"]]}),
    ]


def test_a_write_is_on_disk_before_moto_applies_it_and_reads_are_not(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
    seen: list[str] = []

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append((tmp_path / "j").read_text())  # what a kill -9 right now would leave
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app = JournalingApp(moto, journal)
    app.recording = True
    statuses: list[str] = []
    put = _environ("PUT", "/bucket/key", CONTENT_LENGTH="4")
    put["wsgi.input"] = io.BytesIO(b"data")
    body = app(put, lambda status, headers: statuses.append(status))
    get = _environ("GET", "/bucket/key")
    app(get, lambda status, headers: statuses.append(status))
    journal.close()
    assert list(body) == [b"ok"]
    assert statuses == ["200 OK", "200 OK"]
    assert '"PATH_INFO":"/bucket/key"' in seen[0]  # journalled before moto ran
    writes = list(Journal(tmp_path / "j").writes())
    assert [(entry["env"]["REQUEST_METHOD"], entry["body"]) for entry, _ in writes] == [
        ("PUT", "data")
    ]


def test_what_moto_makes_up_is_handed_back_on_replay() -> None:
    from moto.s3.models import FakeKey
    from moto.sqs.models import Message

    _moto_facts.install()
    with _moto_facts.capturing() as facts:
        key = FakeKey("k", b"v", "123456789012", "us-east-1", version_id="v-original")
        message = Message("m-original", "body")
    assert facts == [
        ["s3.key", "v-original", key.last_modified.isoformat()],
        ["sqs.message", "m-original"],
    ]
    stored = json.loads(json.dumps(facts))  # as the journal keeps them
    with _moto_facts.replaying(stored) as replayed:
        again = FakeKey("k", b"v", "123456789012", "us-east-1", version_id="v-new")
        resent = Message("m-new", "body")
    assert (again.version_id, again.last_modified) == (key.version_id, key.last_modified)
    assert resent.id == message.id
    assert replayed.unused == []
    assert replayed.missing == []
    # Outside both contexts moto is left alone.
    assert FakeKey("k", b"v", "123456789012", "us-east-1", version_id="v-3").version_id == "v-3"


def test_a_data_directory_is_held_by_one_stack_at_a_time(tmp_path: Path) -> None:
    first, second = DataDirectory(tmp_path / "data"), DataDirectory(tmp_path / "data")
    first.acquire()
    try:
        with pytest.raises(DataDirectoryInUseError, match=f"pid {os.getpid()}"):
            second.acquire()
    finally:
        first.release()
    second.acquire()  # released with its holder (a killed process releases it too)
    second.release()
