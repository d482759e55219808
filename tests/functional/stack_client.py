"""Helpers the functional tests share for driving the local stack over HTTP.

A plain module next to the tests: pytest's default ``prepend`` import mode puts this
directory (it has no ``__init__.py``) on ``sys.path``, so ``from stack_client import ...``
works for one file and for the whole suite alike.

Two clients, on purpose:

* :func:`send` / :func:`call` speak ``http.client`` to the local API gateway and send
  exactly the headers given (no redirects followed, no Content-Type added by the client);
  :func:`call` also checks that no answer leaks internals and every error is the standard
  envelope.
* :func:`api_fetch` / :func:`http_json` use ``urllib`` for whole URLs, presigned S3 links
  included, and follow redirects as a browser would.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

DEV, OTHER = "dev-key", "other-key"  # tenants demo and acme
JSON = "application/json"
# Words that only appear in an answer when a stack trace or a resource name escapes.
LEAKS = ("Traceback", "stratigos-local", "arn:aws", "/work/", ".py")


@dataclass
class Answer:
    """One HTTP answer: status, raw body, the request it answers and its headers.

    Unpacks as ``status, headers, raw``.
    """

    status: int
    raw: bytes
    request: str = ""
    headers: Message = field(default_factory=Message)
    _json: Any = field(default=None, repr=False)

    @property
    def json(self) -> Any:
        """The body parsed as JSON (raises on a body that is not)."""
        if self._json is None:
            self._json = json.loads(self.raw)
        return self._json

    @property
    def parsed(self) -> Any:
        """The body parsed as JSON, or ``None`` for an empty body."""
        return self.json if self.raw else None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.headers, self.raw))

    def __str__(self) -> str:
        return f"{self.request} → {self.status} {self.raw[:500]!r}"


# ------------------------------------------------------------------ http.client, to the gateway
def send(
    stack: Any,
    method: str,
    path: str,
    *,
    key: str | None = DEV,
    body: Any = None,
    raw: bytes | None = None,
    content_type: str | None = JSON,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> Answer:
    """One request to ``stack.api_url`` + ``path`` with exactly the headers given.

    Parameters
    ----------
    key
        The ``x-api-key`` header; ``None`` or ``""`` sends none.
    body, raw
        A JSON body to encode, or bytes sent as they are (``raw`` wins).
    content_type
        Sent only with a body; ``None`` sends no Content-Type at all.
    """
    url = urlsplit(stack.api_url)
    sent: dict[str, str] = dict(headers or {})
    if key:
        sent["x-api-key"] = key
    payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if payload is not None and content_type is not None:
        sent["Content-Type"] = content_type
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.read(), f"{method} {path[:120]}", response.headers)
    finally:
        connection.close()


def assert_envelope(answer: Answer) -> dict[str, Any]:
    """The answer is the standard error envelope (core/envelope.py); its ``error``."""
    envelope = answer.json
    assert set(envelope) == {"error"}, answer
    error: dict[str, Any] = envelope["error"]
    assert set(error) == {"code", "message", "details"}, answer
    assert isinstance(error["code"], str), answer
    assert error["code"], answer
    assert isinstance(error["message"], str), answer
    assert error["message"], answer
    assert all(isinstance(d, str) for d in error["details"]), answer
    return error


def expect_error(answer: Answer, status: int, code: str) -> dict[str, Any]:
    """The answer is a ``status`` refusal with error ``code``; its ``error``."""
    assert answer.status == status, str(answer)
    error = assert_envelope(answer)
    assert error["code"] == code, str(answer)
    return error


def call(stack: Any, method: str, path: str, **options: Any) -> Answer:
    """:func:`send`, then check the answer leaks nothing and any error is the envelope."""
    answer = send(stack, method, path, **options)
    leaked = [word for word in LEAKS if word in answer.raw.decode("utf-8", "replace")]
    assert not leaked, f"{answer}: the body leaks {leaked}"
    if answer.status >= 400:
        assert (answer.headers["Content-Type"] or "").startswith(JSON), answer
        assert_envelope(answer)
    return answer


# ------------------------------------------------------------------ urllib, whole URLs
def fetch(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = 60,
) -> Answer:
    """One urllib request; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(
                int(response.status), response.read(), f"{method} {url}", response.headers
            )
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), f"{method} {url}", error.headers)


def api_fetch(
    url: str,
    method: str = "GET",
    body: Any = None,
    *,
    key: str | None = DEV,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """:func:`fetch` with the API's key and JSON Content-Type; no headers at all without a key
    (presigned links carry their authority in the URL)."""
    sent = {"x-api-key": key, "Content-Type": JSON, **(headers or {})} if key else {}
    data = json.dumps(body).encode() if body is not None else None
    return fetch(url, method, headers=sent, data=data, timeout=timeout)


def http_json(
    url: str,
    method: str = "GET",
    body: Any = None,
    *,
    key: str | None = DEV,
    timeout: float = 60,
) -> tuple[int, Any]:
    """:func:`api_fetch`'s status and JSON body (``None`` when empty)."""
    answer = api_fetch(url, method, body, key=key, timeout=timeout)
    return answer.status, answer.parsed


# ------------------------------------------------------------------ data
def unique_tickers(prefix: str, n: int, digits: int = 6) -> list[str]:
    """``n`` tickers no other test uses: ``prefix`` + random upper-case hex + A, B, ...

    Each module keeps its own ``prefix`` letter so tickers from different modules never
    collide in the shared session stack. Six hex digits by default: with three, a
    hypothesis test drawing tickers per example met a previous example's ticker about once
    in ten runs (16.7 M stems make that about 1 in 10⁵ for a whole suite).
    """
    stem = uuid.uuid4().hex[:digits].upper()
    return [f"{prefix}{stem}{chr(ord('A') + i)}" for i in range(n)]


def rows_csv(rows: list[tuple[Any, ...]], header: str = "date,ticker,close") -> bytes:
    """A CSV file of ``header`` and one line per row, values written with ``str``."""
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def price_csv(
    tickers: list[str],
    days: int,
    start: date | None = None,
    *,
    spread: int = 10,
    stride: int = 7,
    modulus: int = 13,
    shift: int = -6,
    bump: float = 0.0,
    decimals: int = 4,
) -> bytes:
    """A ``date,ticker,close`` file of ``days`` weekdays from ``start`` (default: ``2 * days``
    calendar days ago), every ticker closing on each.

    Ticker ``i`` on its ``w``-th weekday closes at
    ``100 + spread * i + (w * (stride + i)) % modulus + shift + bump``: a saw-tooth that
    differs per ticker, so covariances are well conditioned.
    """
    lines, written = ["date,ticker,close"], 0
    day = start if start is not None else date.today() - timedelta(days=days * 2)
    while written < days:
        if day.weekday() < 5:
            for i, ticker in enumerate(tickers):
                close = 100 + spread * i + ((written * (stride + i)) % modulus) + shift + bump
                lines.append(f"{day.isoformat()},{ticker},{close:.{decimals}f}")
            written += 1
        day += timedelta(days=1)
    return ("\n".join(lines) + "\n").encode()


# ------------------------------------------------------------------ the stack
def ingest_call(stack: Any, key: str) -> Any:
    """The one IngestFunction invocation for the raw object ``key``; it succeeded."""
    calls = [
        c
        for c in stack.runtime.calls("IngestFunction")
        if c.event["detail"]["object"]["key"] == key
    ]
    assert len(calls) == 1, key
    assert calls[0].ok, calls[0].stack
    return calls[0]


def create_portfolio(stack: Any, fields: dict[str, Any], key: str = DEV) -> dict[str, Any]:
    """``POST /portfolios`` with ``{"portfolio": fields}`` (name, description, assets,
    analyses), as the plan spells the request; the answer's body (``{"id", "portfolio",
    "version", "createdAt", "updatedAt"}``), after checking it is 201.

    Creating a portfolio requests a run of each of its analyses at once (trigger
    ``portfolio``): see :func:`triggered_runs` to count only the runs a test caused.
    """
    status, body = http_json(f"{stack.api_url}/portfolios", "POST", {"portfolio": fields}, key=key)
    assert status == 201, body
    return dict(body)


def risk_parity_portfolio(stack: Any, tickers: list[str], label: str, lookback_days: int) -> str:
    """Create an equal-weight portfolio of ``tickers`` with one risk-parity analysis; its id."""
    body = create_portfolio(
        stack,
        {
            "name": f"{label} {uuid.uuid4().hex[:6]}",
            "assets": {t: 1 / len(tickers) for t in tickers},
            "analyses": [{"type": "risk-parity", "lookbackDays": lookback_days}],
        },
    )
    return str(body["id"])


def portfolio_runs(stack: Any, portfolio_id: str) -> list[dict[str, Any]]:
    """The portfolio's runs (first page of up to 100)."""
    status, body = http_json(f"{stack.api_url}/portfolios/{portfolio_id}/runs?limit=100")
    assert status == 200, body
    return list(body["items"])


def triggered_runs(stack: Any, portfolio_id: str, trigger: str) -> list[dict[str, Any]]:
    """The portfolio's runs that ``trigger`` requested (``portfolio``: its create or update;
    ``market-data``, ``nightly``, ``on-demand``), newest first."""
    return [
        run
        for run in portfolio_runs(stack, portfolio_id)
        if run["parameters"].get("trigger") == trigger
    ]
