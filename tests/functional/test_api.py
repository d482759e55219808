"""The REST API over real HTTP against the local stack: every route, every error, tenancy.

Everything here goes through the emulated API Gateway (``local_stack.api_url``) with the
session's keys: ``dev-key`` → tenant ``demo``, ``other-key`` → tenant ``acme``. Names and
tickers are unique per test, so the session's other tests cannot interfere.
"""

from __future__ import annotations

import base64
import json
import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from stack_client import (
    DEV,
    JSON,
    OTHER,
    Answer,
    call,
    expect_error,
    triggered_runs,
    unique_tickers,
)

from core.analysis import analysis
from core.models import default_analyses
from core.repositories import PortfolioRepository, RunRepository, encode_page_token
from core.settings import settings

pytestmark = pytest.mark.functional

MB = 1024 * 1024
OPENAPI = Path(__file__).resolve().parents[2] / "api" / "openapi.json"


# ------------------------------------------------------------------ HTTP helpers
def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _fields(**fields: Any) -> dict[str, Any]:
    """A valid ``portfolio`` object: tickers no price file lands (so no market-data fan-out
    adds runs), and no analyses unless a test asks (creating or updating a portfolio
    requests a run of each of its analyses; the tests here count the runs they make)."""
    return {
        "name": f"api-test {_uid()}",
        "assets": {"ZZAPIA": 0.6, "ZZAPIB": 0.4},
        "analyses": [],
        **fields,
    }


def _create(stack: Any, key: str = DEV, **fields: Any) -> dict[str, Any]:
    """``POST /portfolios`` with ``{"portfolio": _fields(**fields)}``: the 201 answer."""
    answer = call(stack, "POST", "/portfolios", key=key, body={"portfolio": _fields(**fields)})
    assert answer.status == 201, str(answer)
    assert answer.headers["ETag"] == '"1"', str(answer)
    created: dict[str, Any] = answer.json
    return created


def _fresh(stack: Any, pid: str, key: str = DEV) -> tuple[dict[str, Any], str]:
    """``GET /portfolios/{pid}``: the portfolio and its ETag."""
    answer = call(stack, "GET", f"/portfolios/{pid}", key=key)
    assert answer.status == 200, str(answer)
    return answer.json, answer.headers["ETag"]


def _pages(stack: Any, path: str, key: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a listing, following nextToken."""
    pages: list[list[dict[str, Any]]] = []
    token: str | None = None
    for _ in range(200):
        query = f"?limit={limit}" + (f"&nextToken={quote(token)}" if token else "")
        answer = call(stack, "GET", path + query, key=key)
        assert answer.status == 200, str(answer)
        assert set(answer.json) == {"items", "nextToken"}
        pages.append(answer.json["items"])
        token = answer.json["nextToken"]
        if token is None:
            return pages
    raise AssertionError("pagination never ended")


def _iso(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _inline(n_tickers: int = 2, n_days: int = 30, seed: int = 1) -> dict[str, list[float]]:
    rng = random.Random(seed)
    return {
        t: [round(rng.gauss(0.0005, 0.01 * (i + 1)), 6) for _ in range(n_days)]
        for i, t in enumerate(["AAPL", "MSFT", "GOOGL", "AMZN", "META"][:n_tickers])
    }


# ------------------------------------------------------------------ lake data
def _weekdays(n: int) -> list[date]:
    """The n weekdays ending two days ago (never in the future in UTC)."""
    day = datetime.now(UTC).date() - timedelta(days=2)
    out: list[date] = []
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day -= timedelta(days=1)
    return sorted(out)


def _land_prices(stack: Any, closes: dict[str, list[float]], days: list[date]) -> None:
    """A price file through the landing bucket → curated prices and returns in the lake."""
    lines = ["date,ticker,close"] + [
        f"{d.isoformat()},{t},{series[i]}"
        for t, series in closes.items()
        for i, d in enumerate(days)
    ]
    key = f"raw/prices/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}/api-test.csv"
    stack.client("s3").put_object(
        Bucket=stack.bucket, Key=key, Body=("\n".join(lines) + "\n").encode()
    )
    stack.wait_idle()
    calls = [
        c
        for c in stack.runtime.calls("IngestFunction")
        if c.event["detail"]["object"]["key"] == key
    ]
    assert len(calls) == 1, calls
    assert calls[0].ok, calls[0].stack
    assert calls[0].result["status"] == "curated", calls[0].result


@dataclass(frozen=True)
class Lake:
    tickers: list[str]
    days: list[date]
    returns: dict[str, list[float]]  # simple returns, one per day after the first


@pytest.fixture(scope="module")
def lake(local_stack: Any) -> Lake:
    """Twelve weekdays of prices for two fresh tickers, landed through the local bucket."""
    tickers = unique_tickers("Q", 2, digits=4)
    days = _weekdays(12)
    rng = random.Random(7)
    closes: dict[str, list[float]] = {}
    for i, ticker in enumerate(tickers):
        price, series = 100.0, []
        for _ in days:
            price = round(price * (1 + rng.gauss(0, 0.01 * (i + 1))), 4)
            series.append(price)
        closes[ticker] = series
    _land_prices(local_stack, closes, days)
    returns = {t: [c[k] / c[k - 1] - 1 for k in range(1, len(c))] for t, c in closes.items()}
    return Lake(tickers, days, returns)


def _lake_portfolio(stack: Any, lake: Lake, key: str = DEV) -> dict[str, Any]:
    return _create(stack, key=key, assets={lake.tickers[0]: 0.7, lake.tickers[1]: 0.3})


# ------------------------------------------------------------------ routes and keys
def _api_calls(stack: Any) -> list[Any]:
    """Function calls made by the API (event consumers may run meanwhile)."""
    return [c for c in stack.runtime.calls() if c.trigger.startswith("Api:")]


def _routes(stack: Any) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in stack.template.routes()]


def test_every_template_route_is_documented_and_answers_with_a_key(local_stack: Any) -> None:
    document = json.loads(OPENAPI.read_text())
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert set(_routes(local_stack)) == documented
    portfolio = _create(local_stack)
    # DELETE last: without a version it deletes the portfolio the other routes read.
    routes = sorted(_routes(local_stack), key=lambda route: route[0] == "DELETE")
    assert routes[-1] == ("DELETE", "/portfolios/{id}")
    for method, path in routes:
        concrete = path.replace("{id}", portfolio["id"])
        body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
        answer = call(local_stack, method, concrete, body=body)
        # An empty body is a validation error on the write routes; a portfolio that never
        # ran has no report yet (409), and a portfolio id is no run id (404).
        expected = {"POST": {400}, "PUT": {400}, "DELETE": {204}, "GET": {200}}[method]
        if path == "/portfolios/{id}/runs" and method == "POST":
            expected = {202}  # recompute now: takes no body, ignores one
        if path.endswith("/report"):
            expected = {404, 409}
        if path.startswith("/market-data"):
            expected = {400}  # no tickers/start/end
        if path == "/runs/{id}":
            expected = {404}  # a portfolio id is no run id
        assert answer.status in expected, str(answer)
        if answer.status != 204:
            assert answer.headers["Content-Type"].startswith(JSON)
        assert answer.headers["X-Content-Type-Options"] == "nosniff", str(answer)
        if path != "/openapi.json":  # the public document may be cached; nothing else
            assert answer.headers["Cache-Control"] == "no-store", str(answer)


@pytest.mark.parametrize("key", [None, "wrong-key", ""], ids=["missing", "wrong", "empty"])
def test_every_keyed_route_refuses_a_missing_or_wrong_key(
    local_stack: Any, key: str | None
) -> None:
    before = len(_api_calls(local_stack))
    for method, path in _routes(local_stack):
        concrete = path.replace("{id}", "p-0123456789abcdef")
        body = {"portfolio": _fields()} if method in ("POST", "PUT") else None
        answer = call(local_stack, method, concrete, key=key, body=body)
        if path == "/openapi.json":
            assert answer.status == 200, str(answer)
            continue
        error = expect_error(answer, 403, "FORBIDDEN")
        assert "x-api-key" in error["message"]
    # Refused by the gateway: only the public document reached a function.
    assert len(_api_calls(local_stack)) == before + 1


def test_unknown_routes_and_methods_are_404_envelopes(local_stack: Any) -> None:
    for method, path in [
        ("GET", "/nope"),
        ("GET", "/portfolios/"),
        ("GET", "/portfolios/a/b/c"),
        ("PATCH", "/portfolios"),
        ("POST", "/runs/r-1"),
        ("DELETE", "/runs/r-1"),
    ]:
        expect_error(call(local_stack, method, path), 404, "NOT_FOUND")


def test_openapi_document_is_public_and_is_the_committed_one(local_stack: Any) -> None:
    answer = call(local_stack, "GET", "/openapi.json", key=None)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith(JSON)
    document = answer.json
    assert document == json.loads(OPENAPI.read_text())
    assert document["openapi"].startswith("3.")
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"][JSON]["schema"] == envelope, (method, path)
            if path != "/openapi.json":
                assert {"403", "429"} <= set(operation["responses"]), (method, path)


# ------------------------------------------------------------------ throttling (declared)
def test_throttling_is_declared_by_the_template_in_the_envelope(local_stack: Any) -> None:
    # The local stack does not emulate usage-plan throttling (docs/DEVELOPMENT.md); what
    # exists is the template's declaration, which API Gateway applies in the cloud.
    responses = local_stack.template.gateway_responses()
    for kind in ("THROTTLED", "QUOTA_EXCEEDED"):
        assert int(responses[kind]["StatusCode"]) == 429
    throttled = json.loads(responses["THROTTLED"]["ResponseTemplates"][JSON])
    assert throttled == {
        "error": {"code": "THROTTLED", "message": throttled["error"]["message"], "details": []}
    }
    for kind, spec in responses.items():
        body = json.loads(spec["ResponseTemplates"][JSON])
        assert set(body["error"]) == {"code", "message", "details"}, kind
    apis = local_stack.template.resources_of("AWS::Serverless::Api")
    (api,) = apis.values()
    plan = api["Auth"]["UsagePlan"]
    assert int(plan["Throttle"]["RateLimit"]) > 0
    assert int(plan["Throttle"]["BurstLimit"]) > 0
    assert int(plan["Quota"]["Limit"]) > 0
    assert api["Auth"]["ApiKeyRequired"] is True


# ------------------------------------------------------------------ portfolio CRUD
def test_portfolio_lifecycle_with_versions_and_conflicts(local_stack: Any) -> None:
    name = f"lifecycle {_uid()}"
    fields = {"name": name, "description": "first", "assets": {"AAPL": 0.25, "BRK.B": 0.75}}
    answer = call(local_stack, "POST", "/portfolios", body={"portfolio": fields})
    assert answer.status == 201, str(answer)
    created = answer.json
    pid = created["id"]
    assert answer.headers["Location"] == f"/portfolios/{pid}"
    assert answer.headers["ETag"] == '"1"'
    # The plan's shape (4.2): the client's portfolio object, wrapped with what the API adds.
    assert set(created) == {"id", "portfolio", "version", "createdAt", "updatedAt"}
    defaults = [a.model_dump(mode="json", by_alias=True) for a in default_analyses()]
    assert created["portfolio"] == {**fields, "analyses": defaults}
    assert created["version"] == 1
    assert created["createdAt"] == created["updatedAt"]
    assert abs(_iso(created["createdAt"]) - datetime.now(UTC)) < timedelta(minutes=1)

    read = call(local_stack, "GET", f"/portfolios/{pid}")
    assert read.status == 200
    assert read.json == created
    assert read.headers["ETag"] == '"1"'

    replacement = {
        "name": name + " v2",
        "assets": {"MSFT": 0.5, "GOOGL": 0.5},
        "analyses": [{"type": "hrp", "lookbackDays": 60}],
    }
    update = {"portfolio": replacement, "version": 1}
    answer = call(local_stack, "PUT", f"/portfolios/{pid}", body=update)
    assert answer.status == 200, str(answer)
    assert answer.headers["ETag"] == '"2"'
    updated = answer.json
    assert updated["version"] == 2
    # PUT replaces the whole portfolio: the description it left out is empty again.
    assert updated["portfolio"] == {
        **replacement,
        "description": "",
        "analyses": [{"type": "hrp", "lookbackDays": 60, "parameters": {}}],
    }
    assert updated["createdAt"] == created["createdAt"]
    assert _iso(updated["updatedAt"]) >= _iso(created["updatedAt"])
    assert call(local_stack, "GET", f"/portfolios/{pid}").json == updated

    # Creating and updating requested a run of each analysis, at once.
    local_stack.wait_idle()
    requested = triggered_runs(local_stack, pid, "portfolio")
    assert sorted(r["type"] for r in requested) == sorted([a["type"] for a in defaults] + ["hrp"])
    assert all(r["status"] in ("succeeded", "failed") for r in requested), requested

    # A stale version in the body: 409; a stale If-Match: 412. Nothing changes.
    lost = {"portfolio": {**replacement, "name": "lost"}}
    stale = call(local_stack, "PUT", f"/portfolios/{pid}", body={**lost, "version": 1})
    error = expect_error(stale, 409, "CONFLICT")
    assert any("current version is 2" in d for d in error["details"])
    stale = call(local_stack, "PUT", f"/portfolios/{pid}", body=lost, headers={"If-Match": '"1"'})
    error = expect_error(stale, 412, "PRECONDITION_FAILED")
    assert any('current ETag is "2"' in d for d in error["details"]), error
    expect_error(call(local_stack, "DELETE", f"/portfolios/{pid}?version=1"), 409, "CONFLICT")
    expect_error(
        call(local_stack, "DELETE", f"/portfolios/{pid}", headers={"If-Match": '"1"'}),
        412,
        "PRECONDITION_FAILED",
    )
    assert call(local_stack, "GET", f"/portfolios/{pid}").json == updated

    # A version that is no positive integer is refused, not ignored.
    for query in ("?version=abc", "?version=0", "?version=-1", "?version=", "?version=1.0"):
        expect_error(
            call(local_stack, "DELETE", f"/portfolios/{pid}{query}"), 400, "VALIDATION_ERROR"
        )
    assert call(local_stack, "GET", f"/portfolios/{pid}").json == updated

    deleted = call(local_stack, "DELETE", f"/portfolios/{pid}?version=2")
    assert deleted.status == 204
    assert deleted.raw == b""
    expect_error(call(local_stack, "GET", f"/portfolios/{pid}"), 404, "NOT_FOUND")
    expect_error(call(local_stack, "PUT", f"/portfolios/{pid}", body=update), 404, "NOT_FOUND")
    expect_error(call(local_stack, "DELETE", f"/portfolios/{pid}?version=2"), 404, "NOT_FOUND")
    expect_error(call(local_stack, "DELETE", f"/portfolios/{pid}"), 404, "NOT_FOUND")
    expect_error(call(local_stack, "GET", f"/portfolios/{pid}/runs"), 404, "NOT_FOUND")
    expect_error(call(local_stack, "POST", f"/portfolios/{pid}/runs"), 404, "NOT_FOUND")
    listed = [p["id"] for page in _pages(local_stack, "/portfolios", DEV, 100) for p in page]
    assert pid not in listed


@pytest.mark.parametrize(
    ("condition", "status", "code"),
    [("version", 409, "CONFLICT"), ("If-Match", 412, "PRECONDITION_FAILED")],
)
def test_concurrent_updates_of_one_version_let_exactly_one_win(
    local_stack: Any, condition: str, status: int, code: str
) -> None:
    portfolio = _create(local_stack)
    pid = portfolio["id"]
    answers: list[Answer] = []
    barrier = threading.Barrier(4)

    def put(i: int) -> None:
        body: dict[str, Any] = {"portfolio": _fields(name=f"writer {i}")}
        headers = {"If-Match": '"1"'} if condition == "If-Match" else None
        if condition == "version":
            body["version"] = 1
        barrier.wait()
        answers.append(call(local_stack, "PUT", f"/portfolios/{pid}", body=body, headers=headers))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status for a in answers) == [200, status, status, status], answers
    for answer in answers:
        if answer.status != 200:
            expect_error(answer, status, code)
    (winner,) = [a.json for a in answers if a.status == 200]
    assert _fresh(local_stack, pid) == (winner, '"2"')


def test_unconditional_writes_apply_to_whatever_version_is_current(local_stack: Any) -> None:
    """Neither If-Match nor version: PUT replaces and DELETE deletes the current version."""
    portfolio = _create(local_stack)
    pid = portfolio["id"]
    first = call(local_stack, "PUT", f"/portfolios/{pid}", body={"portfolio": _fields(name="a")})
    assert first.status == 200, str(first)
    assert (first.json["version"], first.headers["ETag"]) == (2, '"2"')
    second = call(local_stack, "PUT", f"/portfolios/{pid}", body={"portfolio": _fields(name="b")})
    assert second.status == 200, str(second)
    assert (second.json["version"], second.headers["ETag"]) == (3, '"3"')
    assert _fresh(local_stack, pid) == (second.json, '"3"')
    # "*" matches any current representation: as unconditional as no header at all.
    star = call(
        local_stack,
        "PUT",
        f"/portfolios/{pid}",
        body={"portfolio": _fields(name="c")},
        headers={"If-Match": "*"},
    )
    assert (star.status, star.json["version"]) == (200, 4), str(star)
    # The current ETag and the current body version are accepted as well.
    conditions: list[tuple[dict[str, str] | None, int | None]] = [
        ({"If-Match": '"4"'}, None),
        (None, 5),
        ({"If-Match": '"6"'}, 6),
    ]
    for headers, version in conditions:
        body: dict[str, Any] = {"portfolio": _fields()}
        if version is not None:
            body["version"] = version
        answer = call(local_stack, "PUT", f"/portfolios/{pid}", body=body, headers=headers)
        assert answer.status == 200, str(answer)
    assert _fresh(local_stack, pid)[1] == '"7"'
    deleted = call(local_stack, "DELETE", f"/portfolios/{pid}")
    assert deleted.status == 204, str(deleted)
    expect_error(call(local_stack, "GET", f"/portfolios/{pid}"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "value",
    ['"abc"', "3", '"1", "2"', '"-1"', '"1.0"', '""', 'W/"x"', '"1 "', '"0_1"'],
    ids=[
        "not-a-number",
        "unquoted",
        "two-tags",
        "negative",
        "decimal",
        "empty",
        "weak-text",
        "space",
        "underscore",
    ],
)
def test_an_if_match_that_is_no_etag_of_ours_is_400_and_changes_nothing(
    local_stack: Any, value: str
) -> None:
    portfolio = _create(local_stack)
    pid = portfolio["id"]
    headers = {"If-Match": value}
    body = {"portfolio": _fields(name="never")}
    error = expect_error(
        call(local_stack, "PUT", f"/portfolios/{pid}", body=body, headers=headers),
        400,
        "VALIDATION_ERROR",
    )
    assert "If-Match" in error["message"], error
    expect_error(
        call(local_stack, "DELETE", f"/portfolios/{pid}", headers=headers), 400, "VALIDATION_ERROR"
    )
    assert _fresh(local_stack, pid) == (portfolio, '"1"')


def test_if_match_takes_precedence_over_a_body_version(local_stack: Any) -> None:
    """Both given: the header decides (412 when it is stale, even with a current version)."""
    portfolio = _create(local_stack)
    pid = portfolio["id"]
    body = {"portfolio": _fields(name="both"), "version": 1}
    stale_header = call(
        local_stack, "PUT", f"/portfolios/{pid}", body=body, headers={"If-Match": '"7"'}
    )
    expect_error(stale_header, 412, "PRECONDITION_FAILED")
    assert _fresh(local_stack, pid) == (portfolio, '"1"')
    answer = call(local_stack, "PUT", f"/portfolios/{pid}", body=body, headers={"If-Match": '"1"'})
    assert answer.status == 200, str(answer)


def test_unconditional_updates_keep_the_ticker_index_right(local_stack: Any) -> None:
    """Racing unconditional PUTs of different tickers: every one is applied in turn, and the
    ticker index (what the market-data fan-out reads) ends holding exactly the last one's."""
    config = settings()
    index = PortfolioRepository(config.portfolios_table, config.ticker_index_table)
    tickers = unique_tickers("Q", 8, digits=4)
    portfolio = _create(local_stack, assets={tickers[0]: 0.5, tickers[1]: 0.5})
    pid = portfolio["id"]
    barrier = threading.Barrier(4)
    answers: list[Answer] = []

    def put(i: int) -> None:
        assets = {tickers[2 * i]: 0.5, tickers[2 * i + 1]: 0.5}
        barrier.wait()
        body = {"portfolio": _fields(name=f"writer {i}", assets=assets)}
        answers.append(call(local_stack, "PUT", f"/portfolios/{pid}", body=body))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status for a in answers] == [200] * 4, answers
    # Each write was applied to the version before it: versions 2..5, none lost or doubled.
    assert sorted(a.json["version"] for a in answers) == [2, 3, 4, 5]
    final, tag = _fresh(local_stack, pid)
    assert tag == '"5"'
    last = max(answers, key=lambda a: a.json["version"]).json
    assert final == last
    held = set(final["portfolio"]["assets"])
    for ticker in tickers:
        holds = ("demo", pid) in index.holders(ticker)
        assert holds == (ticker in held), (ticker, held)
    # An unconditional delete leaves no index entry behind.
    assert call(local_stack, "DELETE", f"/portfolios/{pid}").status == 204
    assert not any(("demo", pid) in index.holders(t) for t in tickers)


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>",
        "  leading and trailing spaces  ",
        "Ünïcødé — 日本語 — עברית — 🚀📈👩‍👩‍👧",
        "e\u0301 (decomposed) vs \u00e9 (composed)",
        'quotes " and \\ backslashes \\u0041 and %s {} ${x}',
        "zero\u200bwidth\ufeffand\ttab\nnewline",
        "🚀" * 200,  # 200 code points, 800 UTF-8 bytes: the length limit counts characters
    ],
    ids=["script", "spaces", "unicode", "nfd", "escapes", "invisible", "max-emoji"],
)
def test_names_and_descriptions_are_stored_exactly_as_given(local_stack: Any, text: str) -> None:
    description = (text * (2000 // len(text) + 1))[:2000]
    created = _create(local_stack, name=text, description=description)
    assert created["portfolio"]["name"] == text
    assert created["portfolio"]["description"] == description
    answer = call(local_stack, "GET", f"/portfolios/{created['id']}")
    assert answer.json["portfolio"]["name"] == text
    assert answer.json["portfolio"]["description"] == description
    assert answer.headers["Content-Type"].startswith(JSON)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"assets": {}}, "assets"),
        ({"assets": {f"T{i:04d}": 1 / 2001 for i in range(2001)}}, "2000"),
        ({"assets": {"AAPL": 0.5, "MSFT": 0.500002}}, "sum"),
        ({"assets": {"AAPL": 0.5, "MSFT": 0.499998}}, "sum"),
        ({"assets": {"AAPL": 1.5, "MSFT": -0.5}}, ">= 0"),
        ({"assets": {"aapl": 1.0}}, "exchange symbol"),
        ({"assets": {"AAPL MSFT": 1.0}}, "exchange symbol"),
        ({"assets": {"TOOLONGTICKER": 1.0}}, "exchange symbol"),
        ({"assets": {"": 1.0}}, "exchange symbol"),
        ({"assets": {"AAPL": None}}, "assets"),
        ({"assets": [["AAPL", 1.0]]}, "assets"),
        ({"assets": {"AAPL": 1.0}, "version": 1}, "version"),
        ({"assets": {"AAPL": 1.0}, "id": "p-0123456789abcdef"}, "id"),
        ({"assets": {"AAPL": 1.0}, "tenantId": "acme"}, "tenantId"),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, str) else None,
)
def test_invalid_portfolios_are_400_naming_the_problem(
    local_stack: Any, fields: dict[str, Any], needle: str
) -> None:
    portfolio = {"name": "bad", "assets": {"AAPL": 1.0}, "analyses": [], **fields}
    if fields.get("name", "") is None:
        del portfolio["name"]
    pid = _create(local_stack)["id"]
    for method, path, body in (
        ("POST", "/portfolios", {"portfolio": portfolio}),
        ("PUT", f"/portfolios/{pid}", {"portfolio": portfolio, "version": 1}),
    ):
        error = expect_error(call(local_stack, method, path, body=body), 400, "VALIDATION_ERROR")
        assert any(needle in d for d in error["details"]), error
    assert _fresh(local_stack, pid)[1] == '"1"'  # the refused PUT changed nothing


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        # The flat body of the old dialect: the portfolio's fields belong in "portfolio".
        ({"name": "flat", "assets": {"AAPL": 0.5, "MSFT": 0.5}}, "portfolio: Field required"),
        ({}, "portfolio: Field required"),
        ({"portfolio": None}, "portfolio"),
        ({"portfolio": [["AAPL", 1.0]]}, "portfolio"),
        ({"portfolio": "AAPL"}, "portfolio"),
        ({"portfolio": {"name": "x", "assets": {"AAPL": 1.0}}, "version": 1}, "version"),
        ({"portfolio": {"name": "x", "assets": {"AAPL": 1.0}}, "id": "p-0123"}, "id"),
        ({"portfolio": {"name": "x", "assets": {"AAPL": 1.0}}, "createdAt": "2024"}, "createdAt"),
    ],
    ids=["flat", "empty", "null", "list", "string", "version", "id", "createdAt"],
)
def test_a_create_body_must_be_the_plans_wrapped_portfolio(
    local_stack: Any, body: dict[str, Any], needle: str
) -> None:
    error = expect_error(
        call(local_stack, "POST", "/portfolios", body=body), 400, "VALIDATION_ERROR"
    )
    assert any(needle in d for d in error["details"]), error


@pytest.mark.parametrize(
    "assets",
    [
        {"AAPL": 0.5, "MSFT": 0.5000009},  # within 1e-6
        {"AAPL": 0.3333333, "MSFT": 0.3333333, "GOOGL": 0.3333334},
        {"AAPL": 0.0, "MSFT": 1.0},  # zero weights are allowed
        {"BRK.B": 0.5, "RDS-A": 0.5},
    ],
)
def test_weights_on_the_limits_are_accepted(local_stack: Any, assets: dict[str, float]) -> None:
    assert _create(local_stack, assets=assets)["portfolio"]["assets"] == assets


def test_a_portfolio_holds_up_to_2000_assets(local_stack: Any) -> None:
    assets = {f"W{i:04d}": 1 / 2000 for i in range(2000)}
    created = _create(local_stack, assets=assets)
    assert len(created["portfolio"]["assets"]) == 2000
    read = call(local_stack, "GET", f"/portfolios/{created['id']}").json
    assert read["portfolio"]["assets"] == created["portfolio"]["assets"]
    # Runs have their own, smaller limit, answered as 422 naming it.
    error = expect_error(
        call(local_stack, "POST", "/optimization/hrp", body={"portfolioId": created["id"]}),
        422,
        "UNPROCESSABLE",
    )
    assert "limit: assets" in error["details"]
    deleted = call(local_stack, "DELETE", f"/portfolios/{created['id']}?version=1")
    assert deleted.status == 204, str(deleted)


def test_ids_that_are_no_ids_are_400_on_every_id_route_never_cut(local_stack: Any) -> None:
    """1-64 of [A-Za-z0-9_-], on every route with {id}: anything else is a 400, never cut to
    64 characters or otherwise bent into an id; exactly 64 characters is an id (unknown: 404)."""
    routes = [(m, p) for m, p in _routes(local_stack) if "{id}" in p]
    assert sorted(routes) == [
        ("DELETE", "/portfolios/{id}"),
        ("GET", "/portfolios/{id}"),
        ("GET", "/portfolios/{id}/report"),
        ("GET", "/portfolios/{id}/runs"),
        ("GET", "/runs/{id}"),
        ("GET", "/runs/{id}/report"),
        ("POST", "/portfolios/{id}/runs"),
        ("PUT", "/portfolios/{id}"),
    ]
    portfolio = _create(local_stack)
    real = portfolio["id"]
    refused = [
        "p-" + "0" * 63,  # 65 characters
        real + "0" * (65 - len(real)),  # the real id, padded past the limit
        "r-" + "0" * 63,
        "x" * 1000,
        "p~1",
        "p-1.json",
        "p-1@acme",
    ]
    local_stack.wait_idle()
    before = len(local_stack.runtime.calls("RunWorkerFunction"))
    for method, path in routes:
        body = {"portfolio": _fields()} if method == "PUT" else None
        for bad in refused:
            answer = call(local_stack, method, path.replace("{id}", bad), body=body)
            error = expect_error(answer, 400, "VALIDATION_ERROR")
            assert "64" in error["message"], error
        at_limit = path.replace("{id}", "p-" + "0" * 62)
        expect_error(call(local_stack, method, at_limit, body=body), 404, "NOT_FOUND")
    local_stack.wait_idle()
    assert len(local_stack.runtime.calls("RunWorkerFunction")) == before  # nothing recomputed
    assert _fresh(local_stack, real) == (portfolio, '"1"')  # untouched


def test_unknown_ids_are_404(local_stack: Any) -> None:
    missing = "p-0000000000000000"
    expect_error(call(local_stack, "GET", f"/portfolios/{missing}"), 404, "NOT_FOUND")
    body = {"portfolio": _fields(), "version": 1}
    expect_error(call(local_stack, "PUT", f"/portfolios/{missing}", body=body), 404, "NOT_FOUND")
    body = {"portfolio": _fields()}
    expect_error(call(local_stack, "PUT", f"/portfolios/{missing}", body=body), 404, "NOT_FOUND")
    expect_error(
        call(local_stack, "PUT", f"/portfolios/{missing}", body=body, headers={"If-Match": '"1"'}),
        404,
        "NOT_FOUND",
    )
    expect_error(call(local_stack, "DELETE", f"/portfolios/{missing}?version=1"), 404, "NOT_FOUND")
    expect_error(call(local_stack, "DELETE", f"/portfolios/{missing}"), 404, "NOT_FOUND")
    expect_error(call(local_stack, "GET", f"/portfolios/{missing}/runs"), 404, "NOT_FOUND")
    expect_error(call(local_stack, "POST", f"/portfolios/{missing}/runs"), 404, "NOT_FOUND")
    expect_error(call(local_stack, "GET", "/runs/r-0000000000000000"), 404, "NOT_FOUND")
    for path in ("/optimization/risk-parity", "/monte-carlo/simulate"):
        expect_error(
            call(local_stack, "POST", path, body={"portfolioId": missing}), 404, "NOT_FOUND"
        )
        # Inline returns do not make an unknown portfolio known: the run would be attached
        # to it.
        inline = {"portfolioId": missing, "returns": _inline(2, 5)}
        expect_error(call(local_stack, "POST", path, body=inline), 404, "NOT_FOUND")
    body = {"portfolioId": missing, "paths": [[1.0, 1.1], [1.0, 0.9]]}
    expect_error(call(local_stack, "POST", "/monte-carlo/analyze", body=body), 404, "NOT_FOUND")


# ------------------------------------------------------------------ request bodies
_BODY_ROUTES = [
    ("POST", "/portfolios"),
    ("PUT", "/portfolios/{id}"),
    ("POST", "/optimization/risk-parity"),
    ("POST", "/optimization/hrp"),
    ("POST", "/optimization/efficient-frontier"),
    ("POST", "/monte-carlo/simulate"),
    ("POST", "/monte-carlo/analyze"),
]


def _valid_body(path: str) -> dict[str, Any]:
    if path == "/portfolios":
        return {"portfolio": {"name": "body", "assets": {"AAPL": 1.0}, "analyses": []}}
    if path == "/portfolios/{id}":
        return {
            "portfolio": {"name": "body", "assets": {"AAPL": 1.0}, "analyses": []},
            "version": 1,
        }
    if path == "/monte-carlo/analyze":
        return {"paths": [[1.0, 1.01, 1.03], [1.0, 0.98, 0.97]]}
    return {"returns": _inline(2, 5)}


@pytest.mark.parametrize(("method", "route"), _BODY_ROUTES, ids=[r for _, r in _BODY_ROUTES])
def test_bodies_must_be_small_strict_json_objects_without_unknown_fields(
    local_stack: Any, method: str, route: str
) -> None:
    path = route.replace("{id}", _create(local_stack)["id"]) if "{id}" in route else route
    valid = json.dumps(_valid_body(route)).encode()
    function = next(r.function for r in local_stack.template.routes() if r.path == route)

    def send(raw: bytes, content_type: str | None = JSON) -> Answer:
        return call(local_stack, method, path, raw=raw, content_type=content_type)

    # Content type: JSON only (parameters and case do not matter).
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded", "text/json"):
        error = expect_error(send(valid, content_type), 415, "UNSUPPORTED_MEDIA_TYPE")
        assert "application/json" in " ".join(error["details"])
    answer = send(valid, "Application/JSON; charset=utf-8")
    assert answer.status == (200 if method == "PUT" else 201), str(answer)

    # Malformed JSON, JSON that is not an object, NaN/Infinity literals: 400.
    for raw in (
        b"{",
        b'{"name": }',
        b"{'a': 1}",
        b"",
        b"null",
        b"[]",
        b'"text"',
        b"42",
        b"[" * 100_000,
    ):
        error = expect_error(send(raw), 400, "VALIDATION_ERROR")
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        raw = valid[:-1] + b', "extra": ' + literal + b"}"
        error = expect_error(send(raw), 400, "VALIDATION_ERROR")
        assert "finite" in " ".join(error["details"]), error

    # Unknown fields: 400 naming them.
    for unknown in ("unexpected", "__proto__", "tenantId"):
        raw = json.dumps({**_valid_body(route), unknown: 1}).encode()
        error = expect_error(send(raw), 400, "VALIDATION_ERROR")
        assert any(d.startswith(unknown) for d in error["details"]), error

    # Over 1 MB: refused by the function (413), which did run.
    before = len(local_stack.runtime.calls(function))
    error = expect_error(send(valid[:-1] + b" " * MB + b"}"), 413, "PAYLOAD_TOO_LARGE")
    assert len(local_stack.runtime.calls(function)) == before + 1


def _doubled(value: Any, path: tuple[str, ...]) -> str:
    """``value`` as JSON text, the object at ``path`` (keys from the top) giving its first
    key twice, with the same value both times."""
    if not isinstance(value, dict):
        return json.dumps(value)
    pairs = [
        f"{json.dumps(k)}: {_doubled(v, path[1:]) if path and k == path[0] else json.dumps(v)}"
        for k, v in value.items()
    ]
    if not path:
        pairs.insert(0, pairs[0])
    return "{" + ", ".join(pairs) + "}"


_DUPLICATED: dict[str, list[tuple[str, ...]]] = {
    "/portfolios": [(), ("portfolio",), ("portfolio", "assets")],
    "/portfolios/{id}": [(), ("portfolio",), ("portfolio", "assets")],
    "/monte-carlo/analyze": [()],
}


@pytest.mark.parametrize(("method", "route"), _BODY_ROUTES, ids=[r for _, r in _BODY_ROUTES])
def test_a_key_given_twice_in_a_body_is_400_not_guessed(
    local_stack: Any, method: str, route: str
) -> None:
    """RFC 8259 leaves duplicate names undefined and parsers disagree on which one wins: a
    body naming a key twice is refused, even when both values are the same."""
    portfolio = _create(local_stack)
    path = route.replace("{id}", portfolio["id"])
    valid = _valid_body(route)
    local_stack.wait_idle()
    runs = len(local_stack.runtime.calls("RunWorkerFunction"))
    for where in _DUPLICATED.get(route, [(), ("returns",)]):
        raw = _doubled(valid, where)
        assert json.loads(raw) == valid  # a last-wins parser would take it as the valid body
        answer = call(local_stack, method, path, raw=raw.encode())
        error = expect_error(answer, 400, "VALIDATION_ERROR")
        assert any("duplicate key" in d for d in error["details"]), (where, error)
    local_stack.wait_idle()
    assert len(local_stack.runtime.calls("RunWorkerFunction")) == runs
    assert _fresh(local_stack, portfolio["id"]) == (portfolio, '"1"')  # nothing written
    # The same body with each key once is accepted.
    answer = call(local_stack, method, path, body=valid)
    assert answer.status == (200 if method == "PUT" else 201), str(answer)


@pytest.mark.parametrize(
    ("route", "field", "value"),
    [
        ("/optimization/hrp", "periods_per_year", 12),
        ("/monte-carlo/simulate", "n_paths", 100),
        ("/monte-carlo/analyze", "portfolio_id", "p-0123456789abcdef"),
    ],
)
def test_snake_case_spellings_are_unknown_fields(
    local_stack: Any, route: str, field: str, value: Any
) -> None:
    # The API speaks camelCase and its schema forbids additional properties.
    body = {**_valid_body(route), field: value}
    error = expect_error(_submit(local_stack, route, body), 400, "VALIDATION_ERROR")
    assert any(d.startswith(field) for d in error["details"]), error


def test_exactly_one_megabyte_is_accepted_and_one_byte_more_is_413(local_stack: Any) -> None:
    body = json.dumps({"portfolio": _fields(name=f"at-limit {_uid()}")}).encode()
    answer = call(local_stack, "POST", "/portfolios", raw=body + b" " * (MB - len(body)))
    assert answer.status == 201, str(answer)
    answer = call(local_stack, "POST", "/portfolios", raw=body + b" " * (MB + 1 - len(body)))
    error = expect_error(answer, 413, "PAYLOAD_TOO_LARGE")
    assert "1,048,576" in error["message"]


@pytest.mark.parametrize(
    ("method", "route"), [("PUT", "/portfolios/{id}"), ("POST", "/monte-carlo/simulate")]
)
def test_bodies_over_10_mb_are_refused_by_the_gateway(
    local_stack: Any, method: str, route: str
) -> None:
    path = route.replace("{id}", "p-0123456789abcdef")
    before = len(_api_calls(local_stack))
    answer = call(local_stack, method, path, raw=b"{" + b" " * (10 * MB) + b"}")
    expect_error(answer, 413, "PAYLOAD_TOO_LARGE")
    assert len(_api_calls(local_stack)) == before  # no function ran


@pytest.mark.parametrize(("method", "route"), _BODY_ROUTES, ids=[r for _, r in _BODY_ROUTES])
def test_a_body_that_is_not_utf8_is_a_400_not_a_500(
    local_stack: Any, method: str, route: str
) -> None:
    # Latin-1 bytes in a JSON string: API Gateway hands them over base64-encoded.
    path = route.replace("{id}", "p-0123456789abcdef")
    raw = b'{"portfolio": {"name": "caf\xe9", "assets": {"AAPL": 1.0}}}'
    expect_error(call(local_stack, method, path, raw=raw), 400, "VALIDATION_ERROR")


# ------------------------------------------------------------------ tenancy
def test_tenants_cannot_reach_each_others_portfolios(local_stack: Any) -> None:
    mine = _create(local_stack, key=DEV)
    pid = mine["id"]
    hijack = {"portfolio": _fields(name="hijacked")}
    expect_error(call(local_stack, "GET", f"/portfolios/{pid}", key=OTHER), 404, "NOT_FOUND")
    for body, headers in (
        ({**hijack, "version": 1}, None),  # conditioned on the right version
        (hijack, {"If-Match": '"1"'}),  # or on the right ETag
        (hijack, None),  # or not at all
    ):
        answer = call(
            local_stack, "PUT", f"/portfolios/{pid}", key=OTHER, body=body, headers=headers
        )
        expect_error(answer, 404, "NOT_FOUND")
    for query, headers in (("?version=1", None), ("", {"If-Match": '"1"'}), ("", None)):
        answer = call(
            local_stack, "DELETE", f"/portfolios/{pid}{query}", key=OTHER, headers=headers
        )
        expect_error(answer, 404, "NOT_FOUND")
    expect_error(call(local_stack, "GET", f"/portfolios/{pid}/runs", key=OTHER), 404, "NOT_FOUND")
    expect_error(call(local_stack, "POST", f"/portfolios/{pid}/runs", key=OTHER), 404, "NOT_FOUND")
    for path in ("/optimization/risk-parity", "/optimization/hrp", "/monte-carlo/simulate"):
        answer = call(local_stack, "POST", path, key=OTHER, body={"portfolioId": pid})
        expect_error(answer, 404, "NOT_FOUND")
        # Inline returns with it: the run would be attached to the portfolio; still 404.
        inline = {"portfolioId": pid, "returns": _inline(2, 10)}
        expect_error(call(local_stack, "POST", path, key=OTHER, body=inline), 404, "NOT_FOUND")
    body = {"portfolioId": pid, "paths": [[1.0, 1.1], [1.0, 0.9]]}
    expect_error(
        call(local_stack, "POST", "/monte-carlo/analyze", key=OTHER, body=body), 404, "NOT_FOUND"
    )
    # Untouched, with no run attached, and invisible in the other tenant's listing.
    local_stack.wait_idle()
    assert _fresh(local_stack, pid) == (mine, '"1"')
    assert call(local_stack, "GET", f"/portfolios/{pid}/runs").json["items"] == []
    theirs = [p["id"] for page in _pages(local_stack, "/portfolios", OTHER, 100) for p in page]
    assert pid not in theirs


def test_tenants_cannot_reach_each_others_runs(local_stack: Any) -> None:
    portfolio = _create(local_stack, key=DEV)
    body = {"portfolioId": portfolio["id"], "paths": [[1.0, 1.1, 1.2], [1.0, 0.9, 0.95]]}
    run = call(local_stack, "POST", "/monte-carlo/analyze", body=body)
    assert run.status == 201, str(run)
    rid = run.json["id"]
    assert call(local_stack, "GET", f"/runs/{rid}").status == 200
    expect_error(call(local_stack, "GET", f"/runs/{rid}", key=OTHER), 404, "NOT_FOUND")
    expect_error(
        call(local_stack, "GET", f"/portfolios/{portfolio['id']}/runs", key=OTHER),
        404,
        "NOT_FOUND",
    )


def test_page_tokens_cannot_be_forged_or_carried_across_tenants(local_stack: Any) -> None:
    for _ in range(3):
        _create(local_stack, key=DEV)
    theirs = _create(local_stack, key=OTHER)
    demo_ids = {p["id"] for page in _pages(local_stack, "/portfolios", DEV, 100) for p in page}
    first = call(local_stack, "GET", "/portfolios?limit=1").json
    token = first["nextToken"]
    assert token

    # Tenant A's token used by tenant B: refused (or B's own data only).
    answer = call(local_stack, "GET", f"/portfolios?limit=1&nextToken={quote(token)}", key=OTHER)
    if answer.status == 200:
        assert not {p["id"] for p in answer.json["items"]} & demo_ids
    else:
        expect_error(answer, 400, "VALIDATION_ERROR")

    # Hand-made tokens: plain base64 JSON positions, with or without a made-up tag.
    position = {"portfolioId": sorted(demo_ids)[0]}
    forged = [
        json.dumps({"p": position}),
        json.dumps({"p": position, "t": "0" * 16}),
        json.dumps(position),
        json.dumps({"p": {"portfolioId": 1}, "t": "0" * 16}),
        json.dumps({"p": {"tenantId": "demo", "portfolioId": "p-0"}, "t": "0" * 16}),
    ]
    for text in forged:
        made = base64.urlsafe_b64encode(text.encode()).decode()
        answer = call(local_stack, "GET", f"/portfolios?nextToken={quote(made)}")
        expect_error(answer, 400, "VALIDATION_ERROR")
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for garbage in ("garbage", "!!!", "%00", "a" * 3000, token[:-4], flipped):
        answer = call(local_stack, "GET", f"/portfolios?nextToken={quote(garbage)}")
        expect_error(answer, 400, "VALIDATION_ERROR")

    # Even a token minted with the server's own scheme for B, positioned at A's item, only
    # pages through B's partition: the tenant always comes from the key.
    minted = encode_page_token("acme", position)
    answer = call(local_stack, "GET", f"/portfolios?limit=100&nextToken={quote(minted)}", key=OTHER)
    assert answer.status == 200, str(answer)
    assert not {p["id"] for p in answer.json["items"]} & demo_ids
    assert theirs["id"] not in demo_ids


def test_portfolio_listing_paginates_across_three_pages(local_stack: Any) -> None:
    mine = {_create(local_stack, key=OTHER)["id"] for _ in range(5)}
    pages = _pages(local_stack, "/portfolios", OTHER, 2)
    assert len(pages) >= 3
    assert all(len(page) <= 2 for page in pages)
    assert all(len(page) == 2 for page in pages[:-1])
    ids = [p["id"] for page in pages for p in page]
    assert len(ids) == len(set(ids))  # nothing twice
    assert mine <= set(ids)  # nothing lost
    for query in ("limit=0", "limit=101", "limit=abc", "limit=1.5", "limit="):
        expect_error(
            call(local_stack, "GET", f"/portfolios?{query}", key=OTHER), 400, "VALIDATION_ERROR"
        )
    assert call(local_stack, "GET", "/portfolios?limit=100", key=OTHER).status == 200
    # Every item has the plan's shape, as GET answers it.
    listed = {p["id"]: p for page in pages for p in page}
    for pid in mine:
        assert set(listed[pid]) == {"id", "portfolio", "version", "createdAt", "updatedAt"}
        assert listed[pid] == _fresh(local_stack, pid, key=OTHER)[0]


# Integers Python's int() would take but that are no ASCII decimal: Arabic-Indic and
# Devanagari digits, a superscript, underscores, signs, spaces, exponents, full-width.
_NOT_ASCII_INTEGERS = [
    "\u0661",
    "\u0967\u0966",
    "\u00b2",
    "0_1",
    "1_0",
    "+1",
    " 1",
    "1 ",
    "1e1",
    "\uff11",
]


@pytest.mark.parametrize("value", _NOT_ASCII_INTEGERS, ids=[ascii(v) for v in _NOT_ASCII_INTEGERS])
def test_query_integers_are_ascii_digits_only(local_stack: Any, value: str) -> None:
    portfolio = _create(local_stack)
    pid = portfolio["id"]
    for method, path in (
        ("GET", f"/portfolios?limit={quote(value)}"),
        ("GET", f"/portfolios/{pid}/runs?limit={quote(value)}"),
        ("DELETE", f"/portfolios/{pid}?version={quote(value)}"),
    ):
        error = expect_error(call(local_stack, method, path), 400, "VALIDATION_ERROR")
        assert "integer" in error["message"], error
    assert _fresh(local_stack, pid) == (portfolio, '"1"')  # not deleted
    # The ASCII spelling of the same numbers is fine.
    assert call(local_stack, "GET", "/portfolios?limit=1").status == 200
    expect_error(call(local_stack, "DELETE", f"/portfolios/{pid}?version=2"), 409, "CONFLICT")
    assert call(local_stack, "DELETE", f"/portfolios/{pid}?version=1").status == 204


# ------------------------------------------------------------------ runs
def _submit(
    stack: Any, path: str, body: dict[str, Any], key: str = DEV, prefer: str | None = None
) -> Answer:
    headers = {"Prefer": prefer} if prefer else None
    return call(stack, "POST", path, key=key, body=body, headers=headers)


def _check_run_answer(answer: Answer, status: int, run_type: str) -> dict[str, Any]:
    assert answer.status == status, str(answer)
    run: dict[str, Any] = answer.json
    assert answer.headers["Location"] == f"/runs/{run['id']}"
    assert run["type"] == run_type
    assert {"id", "portfolioId", "type", "parameters", "status", "createdAt"} <= set(run)
    return run


def test_sync_run_from_the_lake_is_persisted_and_listed(local_stack: Any, lake: Lake) -> None:
    portfolio = _lake_portfolio(local_stack, lake)
    body = {
        "portfolioId": portfolio["id"],
        "start": lake.days[0].isoformat(),
        "end": lake.days[-1].isoformat(),
        "estimator": "sample",
    }
    run = _check_run_answer(
        _submit(local_stack, "/optimization/risk-parity", body), 201, "risk-parity"
    )
    assert run["status"] == "succeeded", run
    assert run["portfolioId"] == portfolio["id"]
    assert run["parameters"]["estimator"] == "sample"
    assert run["parameters"]["start"] == lake.days[0].isoformat()
    window = run["dataWindow"]
    assert {k: window[k] for k in ("source", "tickers", "observations", "start", "end")} == {
        "source": "lake",
        "tickers": sorted(lake.tickers),
        "observations": len(lake.days) - 1,  # the first day has no return
        "start": lake.days[1].isoformat(),
        "end": lake.days[-1].isoformat(),
    }
    # Two assets: risk parity is inverse volatility, computed from the prices landed.
    inverse = {t: 1 / statistics.pstdev(r) for t, r in lake.returns.items()}
    total = sum(inverse.values())
    for ticker, weight in run["result"]["weights"].items():
        assert weight == pytest.approx(inverse[ticker] / total, rel=1e-5)
    assert _iso(run["finishedAt"]) >= _iso(run["createdAt"])

    stored = call(local_stack, "GET", f"/runs/{run['id']}")
    assert stored.status == 200
    assert stored.json == run
    listed = call(local_stack, "GET", f"/portfolios/{portfolio['id']}/runs").json
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    assert listed["items"][0] == run
    assert listed["nextToken"] is None

    # A narrower window reads fewer days; the default one (3 years back from the last day the
    # lake holds for the tickers) all of them, and ends on that day.
    narrow = {**body, "start": lake.days[4].isoformat(), "end": lake.days[8].isoformat()}
    window = _submit(local_stack, "/optimization/hrp", narrow).json["dataWindow"]
    assert (window["start"], window["end"], window["observations"]) == (
        lake.days[4].isoformat(),
        lake.days[8].isoformat(),
        5,
    )
    default = _submit(local_stack, "/optimization/hrp", {"portfolioId": portfolio["id"]})
    assert default.json["dataWindow"]["observations"] == len(lake.days) - 1
    assert default.json["dataWindow"]["end"] == lake.days[-1].isoformat()

    # The portfolio's own weights drive a simulation of it.
    simulated = _submit(
        local_stack,
        "/monte-carlo/simulate",
        {"portfolioId": portfolio["id"], "nPaths": 200, "horizonDays": 5, "seed": 3},
    )
    assert simulated.status == 201, str(simulated)
    assert simulated.json["result"]["weights"] == pytest.approx(portfolio["portfolio"]["assets"])


def test_a_window_without_data_fails_the_run_with_a_reason(local_stack: Any, lake: Lake) -> None:
    portfolio = _lake_portfolio(local_stack, lake)
    body = {"portfolioId": portfolio["id"], "start": "2001-01-01", "end": "2001-12-31"}
    error = expect_error(_submit(local_stack, "/optimization/hrp", body), 422, "UNPROCESSABLE")
    run_id = next(d.removeprefix("runId: ") for d in error["details"] if d.startswith("runId: "))
    stored = call(local_stack, "GET", f"/runs/{run_id}").json
    assert stored["status"] == "failed"
    assert stored["error"]["message"]
    (listed,) = call(local_stack, "GET", f"/portfolios/{portfolio['id']}/runs").json["items"]
    assert listed["id"] == run_id
    assert listed["status"] == "failed"
    # A portfolio of tickers the lake never saw fails the same way.
    unknown = _create(local_stack, assets=dict.fromkeys(unique_tickers("Q", 2, digits=4), 0.5))
    expect_error(
        _submit(local_stack, "/optimization/hrp", {"portfolioId": unknown["id"]}),
        422,
        "UNPROCESSABLE",
    )


@pytest.mark.parametrize(
    ("path", "extra", "check"),
    [
        ("/optimization/risk-parity", {"budgets": {"AAPL": 2, "MSFT": 1}}, "riskContributions"),
        ("/optimization/hrp", {"linkage": "ward"}, "linkageMatrix"),
        ("/optimization/efficient-frontier", {"nPoints": 5, "maxWeight": 0.8}, "points"),
        ("/monte-carlo/simulate", {"nPaths": 500, "horizonDays": 21, "seed": 1}, "statistics"),
        ("/monte-carlo/analyze", {}, "statistics"),
    ],
    ids=["risk-parity", "hrp", "efficient-frontier", "simulate", "analyze"],
)
def test_sync_runs_with_inline_data_are_201_and_persisted(
    local_stack: Any, path: str, extra: dict[str, Any], check: str
) -> None:
    if path.endswith("analyze"):
        body: dict[str, Any] = {"paths": [[1.0, 1.02, 1.01], [1.0, 0.97, 0.99], [1.0, 1.0, 1.05]]}
    else:
        body = {"returns": _inline(2, 40), **extra}
    run = _check_run_answer(_submit(local_stack, path, body), 201, path.rsplit("/", 1)[1])
    assert run["status"] == "succeeded", run
    assert run["portfolioId"] is None
    assert check in run["result"]
    if "weights" in run["result"]:
        assert sum(run["result"]["weights"].values()) == pytest.approx(1.0)
    if "returns" in body:
        assert "returns" not in run["parameters"]  # bulky inline data is not echoed
        assert run["dataWindow"]["source"] == "inline"
        assert run["dataWindow"]["observations"] == 40
    # The result has its run type's shape (its analysis's result model), nothing else.
    typed = analysis(run["type"]).result.model_validate(run["result"])
    assert typed.model_dump(mode="json", by_alias=True) == run["result"]
    assert call(local_stack, "GET", f"/runs/{run['id']}").json == run


def test_a_simulation_keeps_statistics_and_trajectories_apart(local_stack: Any) -> None:
    """Plan 5.3: ``result.statistics`` and, when paths are kept, ``result.trajectories``."""
    body = {"returns": _inline(2, 40), "nPaths": 100, "horizonDays": 5, "seed": 1}
    plain = _check_run_answer(_submit(local_stack, "/monte-carlo/simulate", body), 201, "simulate")
    assert plain["result"].get("trajectories") is None  # only when keepPaths asks
    assert "paths" not in plain["result"]["statistics"]
    kept = _check_run_answer(
        _submit(local_stack, "/monte-carlo/simulate", {**body, "keepPaths": True}),
        201,
        "simulate",
    )
    result = kept["result"]
    assert "paths" not in result["statistics"]
    assert (result["statistics"]["nPaths"], result["statistics"]["horizonDays"]) == (100, 5)
    trajectories = result["trajectories"]
    assert len(trajectories) == 100
    assert {len(path) for path in trajectories} == {6}  # T + 1 values, the first the start
    assert {path[0] for path in trajectories} == {result["statistics"]["initialValue"]}
    # The same seed: the kept paths change nothing else.
    assert result["statistics"] == plain["result"]["statistics"]
    assert result["weights"] == plain["result"]["weights"]
    assert call(local_stack, "GET", f"/runs/{kept['id']}").json == kept


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/optimization/risk-parity", {}),
        ("/optimization/hrp", {"linkage": "ward"}),
        ("/optimization/efficient-frontier", {"nPoints": 5}),
        ("/monte-carlo/simulate", {"nPaths": 200, "horizonDays": 5, "seed": 2}),
    ],
    ids=["risk-parity", "hrp", "efficient-frontier", "simulate"],
)
def test_inline_returns_with_a_portfolio_id_attach_the_run_to_the_portfolio(
    local_stack: Any, path: str, extra: dict[str, Any]
) -> None:
    """Plan 13.4 sends both: the run computes on the inline returns and is the portfolio's."""
    portfolio = _create(local_stack, assets={"AAPL": 0.7, "MSFT": 0.3})
    pid = portfolio["id"]
    body = {"portfolioId": pid, "returns": _inline(2, 40), **extra}
    run = _check_run_answer(_submit(local_stack, path, body), 201, path.rsplit("/", 1)[1])
    assert run["status"] == "succeeded", run
    assert run["portfolioId"] == pid
    assert "returns" not in run["parameters"]
    window = run["dataWindow"]
    assert (window["source"], window["observations"]) == ("inline", 40)
    assert sorted(window["tickers"]) == ["AAPL", "MSFT"]
    if path.endswith("simulate"):  # the portfolio lends the simulation its weights
        assert run["result"]["weights"] == pytest.approx({"AAPL": 0.7, "MSFT": 0.3})
    listed = call(local_stack, "GET", f"/portfolios/{pid}/runs").json["items"]
    assert listed == [run]
    # Inline returns alone: a run of no portfolio, on the same numbers.
    alone = _submit(local_stack, path, {k: v for k, v in body.items() if k != "portfolioId"})
    assert alone.status == 201, str(alone)
    assert alone.json["portfolioId"] is None
    if not path.endswith("simulate"):
        # A frontier also places the portfolio's weights, and each point's turnover from them.
        def own_parts_removed(result: dict[str, Any]) -> dict[str, Any]:
            kept = {k: v for k, v in result.items() if k != "portfolio"}
            if "points" in kept:
                kept["points"] = [
                    {k: v for k, v in p.items() if k != "turnover"} for p in kept["points"]
                ]
            return kept

        assert "turnover" in run["result"].get("points", [{"turnover": 0}])[0]
        assert own_parts_removed(run["result"]) == alone.json["result"]


def test_the_plans_two_day_example_is_a_clear_422(local_stack: Any) -> None:
    """The plan's risk-parity call, verbatim but for the id: two days of returns are too few
    to estimate a covariance; the answer says so (422), not that the body is malformed."""
    portfolio = _create(local_stack, assets={"AAPL": 0.5, "MSFT": 0.5})
    body = {"portfolioId": portfolio["id"], "returns": {"AAPL": [0.01, 0.02], "MSFT": [0.02, 0.01]}}
    error = expect_error(
        _submit(local_stack, "/optimization/risk-parity", body), 422, "UNPROCESSABLE"
    )
    assert "observations" in " ".join([error["message"], *error["details"]]), error
    three = {**body, "returns": {"AAPL": [0.01, 0.02, -0.01], "MSFT": [0.02, 0.01, 0.005]}}
    answer = _submit(local_stack, "/optimization/risk-parity", three)
    assert answer.status == 201, str(answer)
    assert answer.json["portfolioId"] == portfolio["id"]


def test_runs_of_a_portfolio_paginate_newest_first(local_stack: Any, lake: Lake) -> None:
    portfolio = _lake_portfolio(local_stack, lake)
    pid = portfolio["id"]
    created: list[str] = []
    requests = [
        ("/optimization/risk-parity", {"portfolioId": pid}),
        ("/optimization/hrp", {"portfolioId": pid}),
        ("/optimization/efficient-frontier", {"portfolioId": pid, "nPoints": 3}),
        ("/monte-carlo/simulate", {"portfolioId": pid, "nPaths": 100, "horizonDays": 3}),
        ("/monte-carlo/analyze", {"portfolioId": pid, "paths": [[1.0, 1.1], [1.0, 0.9]]}),
    ]
    for path, body in requests:
        answer = _submit(local_stack, path, body)
        assert answer.status == 201, str(answer)
        created.append(answer.json["id"])
    pages = _pages(local_stack, f"/portfolios/{pid}/runs", DEV, 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [r["id"] for page in pages for r in page] == created[::-1]
    stamps = [_iso(r["createdAt"]) for page in pages for r in page]
    assert stamps == sorted(stamps, reverse=True)
    assert {r["portfolioId"] for page in pages for r in page} == {pid}

    path = f"/portfolios/{pid}/runs"
    for query in ("limit=0", "limit=101", "limit=x", "nextToken=garbage"):
        expect_error(call(local_stack, "GET", f"{path}?{query}"), 400, "VALIDATION_ERROR")
    token = call(local_stack, "GET", f"{path}?limit=2").json["nextToken"]
    assert token
    # A run-list token is no portfolio-list token, and belongs to its tenant.
    expect_error(
        call(local_stack, "GET", f"/portfolios?nextToken={quote(token)}"), 400, "VALIDATION_ERROR"
    )
    theirs = _lake_portfolio(local_stack, lake, key=OTHER)
    answer = call(
        local_stack, "GET", f"/portfolios/{theirs['id']}/runs?nextToken={quote(token)}", key=OTHER
    )
    if answer.status == 200:
        assert not {r["id"] for r in answer.json["items"]} & set(created)
    else:
        expect_error(answer, 400, "VALIDATION_ERROR")


def test_async_runs_answer_202_and_the_worker_finishes_them(local_stack: Any, lake: Lake) -> None:
    portfolio = _lake_portfolio(local_stack, lake)
    body = {"portfolioId": portfolio["id"], "estimator": "sample"}
    queued = _check_run_answer(
        _submit(local_stack, "/optimization/risk-parity", body, prefer="respond-async"),
        202,
        "risk-parity",
    )
    assert queued["status"] == "queued"
    assert queued["result"] is None
    assert queued["finishedAt"] is None
    # Too large for the synchronous budget (paths × days × assets > 2·10⁷): 202 unasked.
    big = {"returns": _inline(2, 30), "nPaths": 4000, "horizonDays": 2520, "seed": 5}
    large = _check_run_answer(_submit(local_stack, "/monte-carlo/simulate", big), 202, "simulate")
    # A failing one: budgets naming a ticker the run does not hold.
    failing = {**body, "budgets": {lake.tickers[0]: 1, "NOPE": 1}}
    doomed = _check_run_answer(
        _submit(local_stack, "/optimization/risk-parity", failing, prefer="respond-async"),
        202,
        "risk-parity",
    )
    local_stack.wait_idle()

    done = call(local_stack, "GET", f"/runs/{queued['id']}").json
    assert done["status"] == "succeeded", done
    assert set(done["result"]["weights"]) == set(lake.tickers)
    assert done["dataWindow"]["source"] == "lake"
    assert done["createdAt"] == queued["createdAt"]
    done_large = call(local_stack, "GET", f"/runs/{large['id']}").json
    assert done_large["status"] == "succeeded", done_large
    assert "statistics" in done_large["result"]
    failed = call(local_stack, "GET", f"/runs/{doomed['id']}").json
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "UNPROCESSABLE"
    assert "budgets" in failed["error"]["message"]
    assert failed["result"] is None
    assert failed["finishedAt"]

    worked = {
        c.event["detail"].get("runId"): c for c in local_stack.runtime.calls("RunWorkerFunction")
    }
    for run in (queued, large, doomed):
        assert worked[run["id"]].ok
    listed = call(local_stack, "GET", f"/portfolios/{portfolio['id']}/runs").json["items"]
    assert {r["id"]: r["status"] for r in listed} == {
        queued["id"]: "succeeded",
        doomed["id"]: "failed",
    }


def test_risk_parity_budgets_naming_an_unknown_ticker_fail_the_run(
    local_stack: Any, lake: Lake
) -> None:
    portfolio = _lake_portfolio(local_stack, lake)
    body = {"portfolioId": portfolio["id"], "budgets": {lake.tickers[0]: 1, "UNKNOWN": 1}}
    error = expect_error(
        _submit(local_stack, "/optimization/risk-parity", body), 422, "UNPROCESSABLE"
    )
    assert "budgets" in error["message"]
    run_id = next(d.removeprefix("runId: ") for d in error["details"] if d.startswith("runId: "))
    stored = call(local_stack, "GET", f"/runs/{run_id}").json
    assert stored["status"] == "failed"
    assert stored["error"]["code"] == "UNPROCESSABLE"
    assert "budgets" in stored["error"]["message"]
    assert stored["portfolioId"] == portfolio["id"]
    listed = call(local_stack, "GET", f"/portfolios/{portfolio['id']}/runs").json["items"]
    assert [(r["id"], r["status"]) for r in listed] == [(run_id, "failed")]


@pytest.mark.parametrize(
    ("path", "body", "limit"),
    [
        (
            "/optimization/risk-parity",
            {"returns": {f"L{i:04d}": [0.01, -0.01] for i in range(501)}},
            "limit: assets",
        ),
        (
            "/optimization/hrp",
            {"returns": {"AAPL": [0.001] * 10_001, "MSFT": [0.002] * 10_001}},
            "limit: observations",
        ),
        (
            "/monte-carlo/simulate",
            {"returns": _inline(5, 5), "nPaths": 200_000, "horizonDays": 2520},
            "limit: paths x days x assets",
        ),
        (
            "/monte-carlo/simulate",
            {"returns": _inline(2, 5), "nPaths": 1000, "horizonDays": 1001, "keepPaths": True},
            "limit: kept path cells",
        ),
    ],
    ids=["assets", "observations", "simulation-cells", "kept-paths"],
)
def test_run_limits_answer_422_naming_the_limit(
    local_stack: Any, path: str, body: dict[str, Any], limit: str
) -> None:
    error = expect_error(_submit(local_stack, path, body), 422, "UNPROCESSABLE")
    assert limit in error["details"], error


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "give portfolioId"),
        ({"portfolioId": None, "returns": None}, "give portfolioId"),
        ({"returns": {"AAPL": [0.01, 0.02]}}, "at least 2 tickers"),
        ({"returns": {"AAPL": [0.01, 0.02], "MSFT": [0.01]}}, "same length"),
        ({"returns": {"AAPL": [0.01], "MSFT": [0.01]}}, "at least 2 observations"),
        ({"returns": {"aapl": [0.01, 0.02], "MSFT": [0.01, 0.0]}}, "exchange symbol"),
        ({"returns": {"AAPL": [0.01, "x"], "MSFT": [0.01, 0.0]}}, "returns"),
        ({"returns": _inline(2, 5), "start": "2024-01-01"}, "inline returns"),
        ({"portfolioId": "p-1", "returns": _inline(2, 5), "end": "2024-01-01"}, "inline returns"),
        ({"returns": _inline(2, 5), "lookbackDays": 60}, "lake runs only"),
        ({"portfolioId": "p-1", "end": "2024-01-01", "asOf": "2024-01-01"}, "end or asOf"),
        (
            {"portfolioId": "p-1", "start": "2024-01-01", "lookbackDays": 60},
            "start or lookbackDays",
        ),
        ({"portfolioId": "p-1", "start": "2024-02-01", "end": "2024-01-01"}, "after"),
        ({"portfolioId": "p-1", "start": "2024-13-01"}, "start"),
        ({"returns": _inline(2, 5), "estimator": "ewma"}, "halflife"),
        ({"returns": _inline(2, 5), "estimator": "magic"}, "estimator"),
        ({"returns": _inline(2, 5), "periodsPerYear": 0}, "periodsPerYear"),
        ({"returns": _inline(2, 5), "budgets": {"AAPL": 0, "MSFT": 1}}, "budgets"),
        ({"portfolioId": "p-" + "0" * 63}, "portfolioId"),
    ],
)
def test_invalid_run_requests_are_400(local_stack: Any, body: dict[str, Any], needle: str) -> None:
    error = expect_error(
        _submit(local_stack, "/optimization/risk-parity", body), 400, "VALIDATION_ERROR"
    )
    assert needle in " ".join(error["details"]), error


def test_an_empty_portfolio_id_is_refused_not_run(local_stack: Any) -> None:
    # "" is a portfolioId given, but is no portfolio.
    answer = _submit(local_stack, "/optimization/hrp", {"portfolioId": ""})
    assert answer.status in (400, 404), str(answer)


def test_a_run_whose_result_overflows_is_refused_with_a_reason(local_stack: Any) -> None:
    # Finite, schema-valid inputs whose result is not representable in JSON.
    body = {"returns": _inline(2, 5), "nPaths": 100, "horizonDays": 5, "initialValue": 1e308}
    answer = _submit(local_stack, "/monte-carlo/simulate", body)
    assert answer.status in (400, 422), str(answer)


# ------------------------------------------------------------------ recompute on demand
_TWO_ANALYSES = [{"type": "risk-parity", "lookbackDays": 30}, {"type": "hrp", "lookbackDays": 30}]


def test_recompute_on_demand_answers_202_and_the_runs_follow(local_stack: Any, lake: Lake) -> None:
    """``POST /portfolios/{id}/runs``: one queued run per analysis, at once; on unchanged
    data they compute exactly what the runs requested when the portfolio was created."""
    assets = {lake.tickers[0]: 0.7, lake.tickers[1]: 0.3}
    portfolio = _create(local_stack, assets=assets, analyses=_TWO_ANALYSES)
    pid = portfolio["id"]
    local_stack.wait_idle()
    on_create = {r["type"]: r for r in triggered_runs(local_stack, pid, "portfolio")}
    assert sorted(on_create) == ["hrp", "risk-parity"]
    assert {r["status"] for r in on_create.values()} == {"succeeded"}, on_create

    answer = call(local_stack, "POST", f"/portfolios/{pid}/runs")
    assert answer.status == 202, str(answer)
    assert answer.headers["Location"] == f"/portfolios/{pid}/runs"
    accepted = answer.json
    assert set(accepted) == {"portfolioId", "runs"}
    assert accepted["portfolioId"] == pid
    assert [r["type"] for r in accepted["runs"]] == ["risk-parity", "hrp"]  # analyses' order
    for run in accepted["runs"]:
        assert set(run) == {"id", "type", "status", "location"}
        assert run["status"] == "queued"
        assert run["location"] == f"/runs/{run['id']}"
    assert not {r["id"] for r in accepted["runs"]} & {r["id"] for r in on_create.values()}
    local_stack.wait_idle()
    for requested in accepted["runs"]:
        run = call(local_stack, "GET", requested["location"]).json
        assert run["status"] == "succeeded", run
        assert run["portfolioId"] == pid
        assert run["parameters"]["trigger"] == "on-demand"
        same = on_create[run["type"]]
        assert run["result"]["weights"] == same["result"]["weights"]  # to the bit
        for field in ("start", "end", "observations", "tickers"):
            assert run["dataWindow"][field] == same["dataWindow"][field]
    # Asked again: new runs (a recompute is asked for, even of unchanged data).
    again = call(local_stack, "POST", f"/portfolios/{pid}/runs").json["runs"]
    assert not {r["id"] for r in again} & {r["id"] for r in accepted["runs"]}
    local_stack.wait_idle()
    assert len(triggered_runs(local_stack, pid, "on-demand")) == 4


def test_recompute_on_demand_of_a_portfolio_without_analyses_or_of_another_tenant(
    local_stack: Any,
) -> None:
    portfolio = _create(local_stack)  # no analyses
    pid = portfolio["id"]
    answer = call(local_stack, "POST", f"/portfolios/{pid}/runs")
    assert answer.status == 202, str(answer)
    assert answer.json == {"portfolioId": pid, "runs": []}
    # Another tenant's portfolio is no portfolio of the caller's: 404, and nothing requested.
    theirs = _create(local_stack, key=OTHER, analyses=_TWO_ANALYSES)
    local_stack.wait_idle()
    runs_before = call(local_stack, "GET", f"/portfolios/{theirs['id']}/runs", key=OTHER).json
    workers = len(local_stack.runtime.calls("RunWorkerFunction"))
    expect_error(call(local_stack, "POST", f"/portfolios/{theirs['id']}/runs"), 404, "NOT_FOUND")
    local_stack.wait_idle()
    assert len(local_stack.runtime.calls("RunWorkerFunction")) == workers
    runs_after = call(local_stack, "GET", f"/portfolios/{theirs['id']}/runs", key=OTHER).json
    assert runs_after == runs_before
    # The 404 is the one an unknown id gets (no existence leak).
    unknown = call(local_stack, "POST", "/portfolios/p-0000000000000000/runs")
    foreign = call(local_stack, "POST", f"/portfolios/{theirs['id']}/runs")
    assert foreign.json == json.loads(
        unknown.raw.decode().replace("p-0000000000000000", theirs["id"])
    )


# ------------------------------------------------------------------ reports, market data
def test_report_routes_answer_404_for_unknown_ids(local_stack: Any) -> None:
    for path in ("/runs/r-0123456789abcdef/report", "/portfolios/p-0123456789abcdef/report"):
        expect_error(call(local_stack, "GET", path), 404, "NOT_FOUND")


def _parked_worker(event: dict[str, Any], context: Any) -> dict[str, str]:
    return {"status": "parked by the test"}


def test_a_report_that_will_come_is_not_ready_one_that_never_will_is_no_successful_run(
    local_stack: Any,
) -> None:
    """409 either way, told apart by the code: NOT_READY (runs under way, or rendering) is
    worth asking again; NO_SUCCESSFUL_RUN (every run failed) is not, until one succeeds."""
    tickers = unique_tickers("Q", 2, digits=4)  # no data in the lake: every run fails
    local_stack.wait_idle()
    functions = local_stack.runtime.functions
    original = functions["RunWorkerFunction"]
    functions["RunWorkerFunction"] = replace(original, handler=f"{__name__}._parked_worker")
    try:
        portfolio = _create(local_stack, assets=dict.fromkeys(tickers, 0.5), analyses=_TWO_ANALYSES)
        pid = portfolio["id"]
        local_stack.wait_idle()  # the requests reached the (parked) worker
        error = expect_error(
            call(local_stack, "GET", f"/portfolios/{pid}/report"), 409, "NOT_READY"
        )
        assert "no runs yet" in error["message"], error
    finally:
        functions["RunWorkerFunction"] = original

    accepted = call(local_stack, "POST", f"/portfolios/{pid}/runs").json["runs"]
    local_stack.wait_idle()  # now they ran, and failed: final
    runs = call(local_stack, "GET", f"/portfolios/{pid}/runs").json["items"]
    assert sorted(r["id"] for r in runs) == sorted(r["id"] for r in accepted)
    assert {r["status"] for r in runs} == {"failed"}, runs
    error = expect_error(
        call(local_stack, "GET", f"/portfolios/{pid}/report"), 409, "NO_SUCCESSFUL_RUN"
    )
    assert "all 2 failed" in error["message"], error
    assert sorted(d.split(":", 1)[0] for d in error["details"]) == ["hrp", "risk-parity"]
    for run in runs:
        error = expect_error(
            call(local_stack, "GET", f"/runs/{run['id']}/report"), 409, "NO_SUCCESSFUL_RUN"
        )
        assert run["error"]["message"] in " ".join(error["details"]), error


def test_a_queued_run_has_no_report_yet(local_stack: Any) -> None:
    local_stack.wait_idle()
    functions = local_stack.runtime.functions
    original = functions["RunWorkerFunction"]
    functions["RunWorkerFunction"] = replace(original, handler=f"{__name__}._parked_worker")
    try:
        body = {"returns": _inline(2, 30), "nPaths": 200, "horizonDays": 5}
        queued = _submit(local_stack, "/monte-carlo/simulate", body, prefer="respond-async")
        assert queued.status == 202, str(queued)
        local_stack.wait_idle()
        error = expect_error(
            call(local_stack, "GET", f"/runs/{queued.json['id']}/report"), 409, "NOT_READY"
        )
        assert "queued" in error["message"], error
    finally:
        functions["RunWorkerFunction"] = original


_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _secured(answer: Answer) -> Answer:
    """The answer carries the security headers (core/envelope.py), whatever its status."""
    for name, value in _SECURITY_HEADERS.items():
        assert answer.headers[name] == value, (name, str(answer))
    return answer


def test_market_data_routes_answer_over_http(local_stack: Any, lake: Lake) -> None:
    a, b = lake.tickers
    window = f"start={lake.days[0].isoformat()}&end={lake.days[-1].isoformat()}"
    prices = _secured(call(local_stack, "GET", f"/market-data/prices?tickers={a},{b}&{window}"))
    assert prices.status == 200, str(prices)
    assert prices.json["series"][a]["dates"] == [d.isoformat() for d in lake.days]
    returns = _secured(call(local_stack, "GET", f"/market-data/returns?tickers={a}&{window}"))
    assert returns.status == 200, str(returns)
    assert returns.json["series"][a]["simpleReturn"] == pytest.approx(lake.returns[a])
    for route in ("prices", "returns"):
        for query in (
            f"tickers=aapl&{window}",
            window,
            f"tickers={a}&start=x&end=y",
            f"tickers={a}&{window}&frequency=hourly",
            f"tickers={a}&{window}&extra=1",
        ):
            answer = _secured(call(local_stack, "GET", f"/market-data/{route}?{query}"))
            expect_error(answer, 400, "VALIDATION_ERROR")
        answer = call(local_stack, "GET", f"/market-data/{route}?tickers=QNONEA&{window}")
        expect_error(_secured(answer), 404, "NOT_FOUND")
        huge = f"tickers={a}&start=0001-01-01&end=9999-12-31"
        answer = call(local_stack, "GET", f"/market-data/{route}?{huge}")
        expect_error(_secured(answer), 422, "UNPROCESSABLE")


def test_every_answer_carries_the_security_headers(local_stack: Any, lake: Lake) -> None:
    """Successes and errors of the CRUD, run, report and document routes alike."""
    portfolio = _create(local_stack)
    pid = portfolio["id"]
    run = _submit(local_stack, "/optimization/hrp", {"returns": _inline(2, 10)})
    for answer in (
        call(local_stack, "GET", "/portfolios"),
        call(local_stack, "GET", f"/portfolios/{pid}"),
        call(local_stack, "PUT", f"/portfolios/{pid}", body={"portfolio": _fields()}),
        call(local_stack, "POST", f"/portfolios/{pid}/runs"),
        call(local_stack, "GET", f"/portfolios/{pid}/runs"),
        call(local_stack, "GET", f"/portfolios/{pid}/report"),
        run,
        call(local_stack, "GET", f"/runs/{run.json['id']}"),
        call(local_stack, "GET", "/runs/r-0000000000000000"),
        call(local_stack, "POST", "/portfolios", body={}),
        call(local_stack, "DELETE", f"/portfolios/{pid}"),
    ):
        _secured(answer)
    # The public document is shared and may be cached, but is never sniffed.
    document = call(local_stack, "GET", "/openapi.json", key=None)
    assert document.headers["X-Content-Type-Options"] == "nosniff"


# ------------------------------------------------------------------ the unexpected
_LEAKY = (
    "Table stratigos-local-portfolios not found: arn:aws:dynamodb:us-east-1:123456789012:"
    "table/stratigos-local-portfolios (/work/main/core/repositories.py, line 1)"
)


def test_an_unexpected_error_is_a_500_envelope_that_leaks_nothing(
    inline_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ResourceNotFoundException", "Message": _LEAKY}}, "GetItem"
        )

    monkeypatch.setattr(PortfolioRepository, "get", boom)
    monkeypatch.setattr(RunRepository, "get", boom)
    for path in ("/portfolios/p-0123456789abcdef", "/runs/r-0123456789abcdef"):
        error = expect_error(call(inline_stack, "GET", path), 500, "INTERNAL_ERROR")
        assert error["details"] == []
    monkeypatch.setattr("ingest.market_api.query_prices", boom)
    answer = call(
        inline_stack, "GET", "/market-data/prices?tickers=A&start=2024-01-01&end=2024-01-02"
    )
    expect_error(answer, 500, "INTERNAL_ERROR")


def _crash(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError(_LEAKY)


def _not_a_proxy_answer(event: dict[str, Any], context: Any) -> Any:
    return {"body": _LEAKY}


@pytest.mark.parametrize("handler", ["_crash", "_not_a_proxy_answer"])
def test_a_crashed_function_is_the_gateways_5xx_envelope(local_stack: Any, handler: str) -> None:
    functions = local_stack.runtime.functions
    original = functions["PortfoliosFunction"]
    functions["PortfoliosFunction"] = replace(original, handler=f"{__name__}.{handler}")
    try:
        answer = call(local_stack, "GET", "/portfolios")
    finally:
        functions["PortfoliosFunction"] = original
    assert 500 <= answer.status < 600
    expect_error(answer, answer.status, "INTERNAL_ERROR")


def test_an_unexpected_error_inside_a_run_is_stored_as_failed_and_answered_as_500(
    inline_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(_LEAKY)

    portfolio = _create(inline_stack)
    monkeypatch.setattr("analyses.runner.execute", boom)
    body = {"portfolioId": portfolio["id"], "paths": [[1.0, 1.1], [1.0, 0.9]]}
    answer = _submit(inline_stack, "/monte-carlo/analyze", body)
    monkeypatch.undo()
    (stored,) = call(inline_stack, "GET", f"/portfolios/{portfolio['id']}/runs").json["items"]
    assert stored["status"] == "failed"
    assert stored["error"]["code"] == "INTERNAL_ERROR"
    # An internal failure is not a success: the caller gets the 500 envelope.
    expect_error(answer, 500, "INTERNAL_ERROR")
