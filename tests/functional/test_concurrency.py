"""Concurrent clients of the local API: optimistic versions, creates and deletes, runs.

Threads released together by a barrier call the emulated API Gateway over HTTP. The
local API serves requests on concurrent threads of one process, so these tests also
guard the handlers' per-request state (a request must never see another's body or key).
No timing is asserted: only who won, what was answered and what the data says after.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from stack_client import DEV, OTHER, send

from analyses.handlers import recompute_run_id
from core.exceptions import NotFoundError
from core.models import AnalysisSpec, PortfolioFields
from core.repositories import PortfolioRepository
from core.settings import settings

pytestmark = pytest.mark.functional

FINAL = {"succeeded", "failed"}


def _call(
    stack: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str = DEV,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """(status, JSON body or None): the shape every check here compares."""
    answer = send(stack, method, path, key=key, body=body, headers=headers)
    return answer.status, answer.parsed


def _together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job on its own thread, released at once; their results in job order."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = jobs[index]()
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def _create(stack: Any, name: str, key: str = DEV) -> dict[str, Any]:
    # No analyses: creates and updates here would otherwise each request runs of them.
    fields = {"name": name, "assets": {"AAPL": 0.5, "MSFT": 0.5}, "analyses": []}
    status, body = _call(stack, "POST", "/portfolios", {"portfolio": fields}, key=key)
    assert status == 201, body
    return dict(body)


def _fields(index: int) -> dict[str, Any]:
    return {
        "name": f"contender {index}",
        "assets": {"AAPL": 0.4, "MSFT": 0.6} if index % 2 else {"AAPL": 0.6, "MSFT": 0.4},
        "analyses": [],
    }


def _update(version: int, index: int) -> dict[str, Any]:
    return {"portfolio": _fields(index), "version": version}


def _conditional_put(
    stack: Any, path: str, version: int, index: int, condition: str
) -> tuple[int, Any]:
    """PUT conditioned on ``version``: in the body (409 when stale) or as If-Match (412)."""
    if condition == "If-Match":
        return _call(
            stack, "PUT", path, {"portfolio": _fields(index)}, headers={"If-Match": f'"{version}"'}
        )
    return _call(stack, "PUT", path, _update(version, index))


@pytest.mark.parametrize(
    ("condition", "status", "code"),
    [("version", 409, "CONFLICT"), ("If-Match", 412, "PRECONDITION_FAILED")],
)
def test_ten_clients_updating_one_portfolio_exactly_one_wins_each_version(
    local_stack: Any, condition: str, status: int, code: str
) -> None:
    portfolio = _create(local_stack, f"race {uuid.uuid4().hex[:6]}")
    path = f"/portfolios/{portfolio['id']}"
    rounds = 5
    for round_no in range(rounds):
        version = 1 + round_no
        answers = _together(
            [
                lambda i=i, v=version: _conditional_put(local_stack, path, v, i, condition)
                for i in range(10)
            ]
        )
        winners = [body for answered, body in answers if answered == 200]
        losers = [(answered, body) for answered, body in answers if answered != 200]
        assert len(winners) == 1, answers
        assert winners[0]["version"] == version + 1
        assert len(losers) == 9
        for answered, body in losers:
            assert answered == status, body
            assert body["error"]["code"] == code
            assert body["error"]["message"]
            assert isinstance(body["error"]["details"], list)
        answered, current = _call(local_stack, "GET", path)
        assert answered == 200
        assert current["version"] == version + 1
        # The winner's body, nobody else's.
        assert current["portfolio"] == winners[0]["portfolio"]


def test_ten_unconditional_writers_are_each_applied_once_in_some_order(
    local_stack: Any,
) -> None:
    """Neither If-Match nor version: every PUT succeeds, each on the version before it (no
    write lost, none half-applied), and the portfolio ends as one of them wrote it."""
    portfolio = _create(local_stack, f"last writer {uuid.uuid4().hex[:6]}")
    path = f"/portfolios/{portfolio['id']}"
    answers = _together(
        [lambda i=i: _call(local_stack, "PUT", path, {"portfolio": _fields(i)}) for i in range(10)]
    )
    assert [status for status, _ in answers] == [200] * 10, answers
    assert sorted(body["version"] for _, body in answers) == list(range(2, 12))
    status, current = _call(local_stack, "GET", path)
    assert status == 200
    (last,) = [body for _, body in answers if body["version"] == 11]
    assert current == last


def test_concurrent_requests_of_two_tenants_never_see_each_others_body_or_key(
    local_stack: Any,
) -> None:
    stem = uuid.uuid4().hex[:6]

    def create(index: int) -> tuple[str, str, dict[str, Any]]:
        key = DEV if index % 2 else OTHER
        name = f"{key} {stem} {index}"
        return key, name, _create(local_stack, name, key)

    since = len(local_stack.runtime.calls("PortfoliosFunction"))
    made = _together([lambda i=i: create(i) for i in range(16)])
    for key, name, portfolio in made:
        assert portfolio["portfolio"]["name"] == name
        other = OTHER if key == DEV else DEV
        assert _call(local_stack, "GET", f"/portfolios/{portfolio['id']}", key=key)[0] == 200
        assert _call(local_stack, "GET", f"/portfolios/{portfolio['id']}", key=other)[0] == 404
    # Why: each execution environment served one request at a time (Powertools keeps the
    # current request on its resolver, as Lambda allows), while several served at once.
    creates = local_stack.runtime.calls("PortfoliosFunction")[since : since + 16]
    assert len({call.environment for call in creates}) >= 2
    by_environment: dict[str, list[tuple[float, float]]] = {}
    for call in creates:
        by_environment.setdefault(call.environment, []).append(
            (call.ran_at, call.ran_at + call.duration_s)
        )
    for spans in by_environment.values():
        spans.sort()
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))


def test_concurrent_creates_and_deletes_lose_nothing(local_stack: Any) -> None:
    stem = f"churn {uuid.uuid4().hex[:6]}"
    doomed = [_create(local_stack, f"{stem} doomed {i}") for i in range(6)]
    jobs: list[Callable[[], Any]] = [
        lambda i=i: _create(local_stack, f"{stem} new {i}") for i in range(8)
    ]
    # Half of them by version, half unconditionally.
    jobs += [
        lambda p=p, i=i: _call(
            local_stack, "DELETE", f"/portfolios/{p['id']}" + ("?version=1" if i % 2 else "")
        )
        for i, p in enumerate(doomed)
    ]
    # Clients delete the same portfolio: one 204, the others 404 (or 409/412 for a version
    # or ETag no longer there), never two 204s; conditioned or not.
    contested = _create(local_stack, f"{stem} contested")
    contest_paths = [
        (f"/portfolios/{contested['id']}?version=1", None),
        (f"/portfolios/{contested['id']}", {"If-Match": '"1"'}),
        (f"/portfolios/{contested['id']}", None),
        (f"/portfolios/{contested['id']}", None),
    ]
    jobs += [
        lambda path=path, headers=headers: _call(local_stack, "DELETE", path, headers=headers)
        for path, headers in contest_paths
    ]
    results = _together(jobs)
    created = results[:8]
    deletions = results[8 : 8 + len(doomed)]
    assert all(status == 204 for status, _ in deletions), deletions
    contest = sorted(status for status, _ in results[8 + len(doomed) :])
    assert contest[0] == 204
    assert all(status in (404, 409, 412) for status in contest[1:]), contest

    names: set[str] = set()
    token = None
    while True:
        path = "/portfolios?limit=100" + (f"&nextToken={token}" if token else "")
        status, page = _call(local_stack, "GET", path)
        assert status == 200, page
        names |= {
            p["portfolio"]["name"] for p in page["items"] if p["portfolio"]["name"].startswith(stem)
        }
        token = page.get("nextToken")
        if not token:
            break
    assert names == {p["portfolio"]["name"] for p in created}
    for portfolio in [*doomed, contested]:
        assert _call(local_stack, "GET", f"/portfolios/{portfolio['id']}")[0] == 404


def test_concurrent_run_requests_each_reach_a_final_status(local_stack: Any) -> None:
    returns = {
        "AAA": [0.01, -0.02, 0.015, 0.003, -0.004, 0.008, 0.002, -0.01],
        "BBB": [0.004, 0.01, -0.006, 0.002, 0.009, -0.003, 0.001, 0.005],
        "CCC": [-0.002, 0.006, 0.003, -0.008, 0.004, 0.002, -0.001, 0.007],
    }
    jobs: list[Callable[[], Any]] = []
    for index in range(8):
        path = ("/optimization/risk-parity", "/optimization/hrp")[index % 2]
        jobs.append(lambda path=path: _call(local_stack, "POST", path, {"returns": returns}))
    for index in range(4):
        body = {"returns": returns, "nPaths": 200, "horizonDays": 20, "seed": index}
        jobs.append(
            lambda body=body: _call(
                local_stack,
                "POST",
                "/monte-carlo/simulate",
                body,
                headers={"Prefer": "respond-async"},
            )
        )
    answers = _together(jobs)
    assert all(status in (201, 202) for status, _ in answers), answers
    assert sorted(status for status, _ in answers[8:]) == [202] * 4
    ids = [body["id"] for _, body in answers]
    assert len(set(ids)) == len(ids)  # every request its own run
    local_stack.wait_idle()
    # The dispatcher has handed every RunRequested to the worker: each run is final now.
    for run_id in ids:
        status, run = _call(local_stack, "GET", f"/runs/{run_id}")
        assert status == 200, run
        assert run["status"] in FINAL, run
        assert run["status"] == "succeeded", run


def test_a_run_whose_portfolio_was_deleted_before_the_worker_ends_failed(
    local_stack: Any,
) -> None:
    """A recompute (or an accepted async run) reaching the worker after its portfolio was
    deleted ends ``failed`` at once instead of being retried into the dead-letter queue."""
    portfolio = _create(local_stack, f"deleted before run {uuid.uuid4().hex[:6]}")
    assert _call(local_stack, "DELETE", f"/portfolios/{portfolio['id']}")[0] == 204
    analysis = AnalysisSpec(type="risk-parity", lookback_days=60)
    run_id = recompute_run_id("demo", portfolio["id"], analysis, "test-version")
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "RunRequested",
        "source": "stratigos.compute",
        "account": local_stack.template.context.account_id,
        "time": "2024-12-31T00:00:00Z",
        "region": local_stack.template.context.region,
        "resources": [],
        "detail": {
            "tenant": "demo",
            "portfolioId": portfolio["id"],
            "runId": run_id,
            "analysis": analysis.model_dump(mode="json", by_alias=True),
            "asOf": "2024-12-31",
            "dataVersion": "test-version",
            "trigger": "market-data",
        },
    }
    (rule,) = [r for r in local_stack.provisioned.rule_queues if r.startswith("RunWorkerFunction")]
    dead_before = len(local_stack.dispatcher.dead_lettered)
    local_stack.client("sqs").send_message(
        QueueUrl=local_stack.provisioned.rule_queues[rule], MessageBody=json.dumps(event)
    )
    local_stack.wait_idle()
    calls = [c for c in local_stack.runtime.calls("RunWorkerFunction") if c.event == event]
    assert len(calls) == 1, [c.error for c in calls]  # handled once: no retry
    assert calls[0].ok, calls[0].stack
    assert len(local_stack.dispatcher.dead_lettered) == dead_before
    status, run = _call(local_stack, "GET", f"/runs/{run_id}")
    assert status == 200, run
    assert run["status"] == "failed"
    assert run["error"]["code"] == "NOT_FOUND"


class _HeldIndexRepository(PortfolioRepository):
    """A repository whose first ticker-index write waits until the test releases it."""

    def __init__(self, *args: Any, held: threading.Event, release: threading.Event) -> None:
        super().__init__(*args)
        self.held, self.release, self._waited = held, release, False

    def _index(self, tenant: str, portfolio_id: str, add: set[str], remove: set[str]) -> None:
        if not self._waited:
            self._waited = True
            self.held.set()
            assert self.release.wait(30)
        super()._index(tenant, portfolio_id, add, remove)


@pytest.mark.parametrize(
    ("first_expects", "second_expects"),
    [(1, 2), (None, None), (1, None), (None, 2)],
    ids=["both-versioned", "both-unconditional", "then-unconditional", "then-versioned"],
)
def test_the_ticker_index_ends_matching_the_portfolio_when_index_writes_land_out_of_order(
    local_stack: Any, first_expects: int | None, second_expects: int | None
) -> None:
    """v1→v2 writes its index entries only after v2→v3 has finished: fan-out must still
    find the portfolio by exactly the tickers of v3, whether the writes named the version
    they expected (If-Match / version) or were unconditional."""
    config = settings()
    tenant = "index-race"
    plain = PortfolioRepository(config.portfolios_table, config.ticker_index_table)
    created = plain.create(
        tenant, PortfolioFields(name="race", assets={"XA": 0.5, "YB": 0.5}, analyses=[])
    )
    held, release = threading.Event(), threading.Event()
    slow = _HeldIndexRepository(
        config.portfolios_table, config.ticker_index_table, held=held, release=release
    )
    first = threading.Thread(
        target=slow.update,
        args=(
            tenant,
            created.id,
            PortfolioFields(name="race", assets={"YB": 0.5, "ZC": 0.5}, analyses=[]),
            first_expects,
        ),
    )
    first.start()
    assert held.wait(30)  # v2 is stored; its index entries are not written yet
    plain.update(
        tenant,
        created.id,
        PortfolioFields(name="race", assets={"XA": 0.5, "YB": 0.5}, analyses=[]),
        second_expects,
    )
    release.set()
    first.join(30)
    assert not first.is_alive()

    def holders(ticker: str) -> bool:
        return (tenant, created.id) in plain.holders(ticker)

    assert plain.get(tenant, created.id).version == 3
    assert [holders(t) for t in ("XA", "YB", "ZC")] == [True, True, False]
    if second_expects is None:
        plain.delete(tenant, created.id)  # unconditional: whatever version is stored
    else:
        plain.delete(tenant, created.id, 3)
    assert not any(holders(t) for t in ("XA", "YB", "ZC"))
    with pytest.raises(NotFoundError):
        plain.get(tenant, created.id)
