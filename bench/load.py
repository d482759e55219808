"""Load: N concurrent clients of mixed CRUD and run requests, then checks of the data.

Starts its own local stack and lands the sample prices (so runs have data), or targets a
running one (``--url``/``--key``; the lake must already hold the sample tickers' prices).
For ``--duration`` seconds, ``--clients`` threads each send a random mix of list, get,
create, update (``If-Match`` with the ETag they last read: 412 when someone else wrote
since), delete (ditto), optimization runs (risk parity, HRP; answered synchronously, 201),
simulation runs (half of them ``Prefer: respond-async``, 202) and run reads. Bodies are the
plan's: ``{"portfolio": {…}}``. Then prints, per operation: count, throughput, p50/p95/p99
latency and answers by status.

Then it checks what the clients were told against the data:

- updates: for every portfolio, no two successful updates had the same expected
  version, and its final ``version`` is 1 + the number of successful updates;
- creates and deletes: every created portfolio not deleted is there, every deleted one
  answers 404;
- runs: every 201/202 run reaches ``succeeded`` or ``failed`` (polled, with a deadline);
- no 5xx answer at all.

And a contention phase: ``--contenders`` clients race to update one portfolio at the same
version, ``--rounds`` times, alternately by ``If-Match`` and by ``version`` in the body:
exactly one 200 per round, every other answer a 412 PRECONDITION_FAILED (If-Match) or a
409 CONFLICT (version) in the standard error envelope, and the final version is 1 + rounds.

Prints PASS/FAIL per check and exits 1 on any FAIL.

``--recording on`` runs the stack with a data directory, as ``stratigos local up`` does
(every write journalled before moto applies it, :mod:`local._journal`); after the checks it
stops the stack, starts it again on the same directory, reports the journal's size and the
replay's time, and runs the data checks again on the restarted stack. ``--recording
compare`` runs the bench twice, off then on, each in its own process, and prints the two
side by side: the journal's write overhead.

Run: ``.venv/bin/python bench/load.py [--clients 50] [--duration 60] [--seed 1]
[--recording off|on|compare]`` or against a running stack: ``stratigos local up`` then
``.venv/bin/python bench/load.py --url http://127.0.0.1:3000 --key dev-key``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sample_data import SAMPLE_TICKERS, sample_files  # noqa: E402

# Operation → relative weight in the mix.
MIX = {
    "list": 12,
    "get": 22,
    "create": 10,
    "update": 25,
    "delete": 5,
    "run-optimization": 10,
    "run-simulation": 6,
    "get-run": 10,
}
FINAL = {"succeeded", "failed"}


# ------------------------------------------------------------------ HTTP
@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


class Client:
    """One API client over http.client (a fresh connection per request, like many apps)."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.key = key

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        sent = {"x-api-key": self.key, **(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        start = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            status = response.status
            headers = {name.lower(): value for name, value in response.getheaders()}
        except OSError as error:  # refused, reset, timed out: counted as status 0
            return Answer(0, {"error": str(error)}, time.perf_counter() - start)
        finally:
            connection.close()
        seconds = time.perf_counter() - start
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw[:200]
        return Answer(status, decoded, seconds, headers)


# ------------------------------------------------------------------ shared record
@dataclass
class Record:
    """What the clients were told, to check against the data afterwards."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    # live portfolio → (version, ETag) of the newest representation read
    versions: dict[str, tuple[int, str]] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    updates: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    runs: dict[str, str] = field(default_factory=dict)  # run id → status when accepted

    failures: Counter[str] = field(default_factory=Counter)  # status 0: why

    def note(self, op: str, answer: Answer) -> None:
        with self.lock:
            self.latencies[op].append(answer.seconds)
            self.statuses[op][answer.status] += 1
            if answer.status == 0:
                self.failures[str(answer.body.get("error"))[:80]] += 1


def _assets(rng: random.Random) -> dict[str, float]:
    held = rng.sample(list(SAMPLE_TICKERS), rng.randint(3, 6))
    return {t: 1 / len(held) for t in held}


def _fields(rng: random.Random, name: str) -> dict[str, Any]:
    """A ``portfolio`` object; no analyses, so writes request no runs of their own."""
    return {"name": name, "assets": _assets(rng), "analyses": []}


def _pick(record: Record, rng: random.Random) -> tuple[str, int, str] | None:
    with record.lock:
        if not record.versions:
            return None
        portfolio = rng.choice(sorted(record.versions))
        version, tag = record.versions[portfolio]
        return portfolio, version, tag


def _remember(record: Record, answer: Answer) -> None:
    """Keep the answer's portfolio version and its ETag, unless an older one."""
    portfolio = answer.body
    version = int(portfolio["version"])
    tag = answer.headers.get("etag", "")
    assert tag == f'"{version}"', (tag, version)  # the ETag is the version
    with record.lock:
        if portfolio["id"] not in record.deleted:
            current = record.versions.get(portfolio["id"], (0, ""))
            record.versions[portfolio["id"]] = max(current, (version, tag))


def one_request(client: Client, record: Record, rng: random.Random, op: str) -> None:
    """Send one request of kind ``op`` and note what it was told."""
    if op == "create":
        body: dict[str, Any] = {"portfolio": _fields(rng, f"load {rng.getrandbits(32):08x}")}
        answer = client.call("POST", "/portfolios", body)
        if answer.status == 201:
            with record.lock:
                record.created.add(answer.body["id"])
            _remember(record, answer)
    elif op == "list":
        answer = client.call("GET", f"/portfolios?limit={rng.choice((10, 50, 100))}")
    elif op == "get-run":
        with record.lock:
            run_id = rng.choice(sorted(record.runs)) if record.runs else None
        if run_id is None:
            return
        answer = client.call("GET", f"/runs/{run_id}")
    else:
        picked = _pick(record, rng)
        if picked is None:
            return
        portfolio, version, tag = picked
        if_match = {"If-Match": tag}
        if op == "get":
            answer = client.call("GET", f"/portfolios/{portfolio}")
            if answer.status == 200:
                _remember(record, answer)
        elif op == "update":
            body = {"portfolio": _fields(rng, f"load {rng.getrandbits(32):08x}")}
            answer = client.call("PUT", f"/portfolios/{portfolio}", body, if_match)
            if answer.status == 200:
                with record.lock:
                    record.updates[portfolio].append(version)
                _remember(record, answer)
            elif answer.status == 412:  # someone else won: read it again next time
                fresh = client.call("GET", f"/portfolios/{portfolio}")
                if fresh.status == 200:
                    _remember(record, fresh)
        elif op == "delete":
            answer = client.call("DELETE", f"/portfolios/{portfolio}", headers=if_match)
            if answer.status == 204:
                with record.lock:
                    record.deleted.add(portfolio)
                    record.versions.pop(portfolio, None)
        elif op == "run-optimization":
            kind = rng.choice(("risk-parity", "hrp"))
            answer = client.call("POST", f"/optimization/{kind}", {"portfolioId": portfolio})
        else:  # run-simulation
            body = {"portfolioId": portfolio, "nPaths": 500, "horizonDays": 63, "seed": 7}
            prefer = {"Prefer": "respond-async"} if rng.random() < 0.5 else {}
            answer = client.call("POST", "/monte-carlo/simulate", body, prefer)
        if op.startswith("run-") and answer.status in (201, 202):
            with record.lock:
                record.runs[answer.body["id"]] = answer.body["status"]
    record.note(op, answer)


def drive(url: str, key: str, *, clients: int, duration: float, seed: int, record: Record) -> float:
    """``clients`` threads send the mix for ``duration`` seconds; returns the elapsed time."""
    ops, weights = list(MIX), list(MIX.values())
    barrier = threading.Barrier(clients + 1)
    stop_at: list[float] = []

    def work(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = Client(url, key)
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            one_request(client, record, rng, rng.choices(ops, weights)[0])

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at.append(time.monotonic() + duration)
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


# ------------------------------------------------------------------ checks
def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def print_tables(record: Record, elapsed: float, clients: int) -> None:
    total = sum(len(v) for v in record.latencies.values())
    print(f"\n## {clients} clients, {elapsed:.0f} s: {total:,} requests, {total / elapsed:.1f}/s\n")
    print("| operation | requests | per s | p50 ms | p95 ms | p99 ms | answers |")
    print("|---|---:|---:|---:|---:|---:|---|")
    everything: list[float] = []
    statuses: Counter[int] = Counter()
    for op in MIX:
        seconds = record.latencies.get(op, [])
        if not seconds:
            continue
        everything += seconds
        statuses.update(record.statuses[op])
        answers = ", ".join(f"{s}×{n}" for s, n in sorted(record.statuses[op].items()))
        print(
            f"| {op} | {len(seconds):,} | {len(seconds) / elapsed:.1f} | "
            f"{1000 * _percentile(seconds, 50):.0f} | {1000 * _percentile(seconds, 95):.0f} | "
            f"{1000 * _percentile(seconds, 99):.0f} | {answers} |"
        )
    answers = ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items()))
    print(
        f"| **all** | {len(everything):,} | {len(everything) / elapsed:.1f} | "
        f"{1000 * _percentile(everything, 50):.0f} | {1000 * _percentile(everything, 95):.0f} | "
        f"{1000 * _percentile(everything, 99):.0f} | {answers} |"
    )
    errors: dict[int, Counter[str]] = defaultdict(Counter)
    for op, counts in record.statuses.items():
        for status, n in counts.items():
            if status >= 300 or status == 0:
                errors[status][op] += n
    print("\n| status | count | by operation |")
    print("|---|---:|---|")
    for status, by_op in sorted(errors.items()):
        detail = ", ".join(f"{op} {n}" for op, n in by_op.most_common())
        print(f"| {status} | {sum(by_op.values()):,} | {detail} |")
    if not errors:
        print("| — | 0 | |")
    for reason, n in record.failures.most_common():
        print(f"\nstatus 0 (no HTTP answer) ×{n}: {reason}")


def check_data(
    client: Client, record: Record, run_deadline_s: float
) -> list[tuple[str, bool, str]]:
    """Compare what the clients were told with what the API now answers."""
    checks: list[tuple[str, bool, str]] = []
    repeated = {p: v for p, v in record.updates.items() if len(v) != len(set(v))}
    checks.append(
        (
            "no two successful updates of one portfolio from the same version",
            not repeated,
            f"{sum(len(v) for v in record.updates.values()):,} successful updates"
            + (f"; repeated: {dict(list(repeated.items())[:3])}" if repeated else ""),
        )
    )
    wrong: list[str] = []
    missing: list[str] = []
    for portfolio in sorted(record.created - record.deleted):
        answer = client.call("GET", f"/portfolios/{portfolio}")
        if answer.status != 200:
            missing.append(f"{portfolio}: {answer.status}")
            continue
        expected = 1 + len(record.updates.get(portfolio, []))
        if answer.body["version"] != expected:
            wrong.append(f"{portfolio}: version {answer.body['version']}, expected {expected}")
    live = len(record.created - record.deleted)
    checks.append(
        (
            "final version of each portfolio = 1 + its successful updates",
            not wrong,
            f"{live:,} portfolios" + (f"; {wrong[:3]}" if wrong else ""),
        )
    )
    checks.append(
        (
            "every created portfolio not deleted is there",
            not missing,
            f"{len(record.created):,} created" + (f"; {missing[:3]}" if missing else ""),
        )
    )
    back = [
        p for p in sorted(record.deleted) if client.call("GET", f"/portfolios/{p}").status != 404
    ]
    checks.append(
        (
            "every deleted portfolio answers 404",
            not back,
            f"{len(record.deleted):,} deleted" + (f"; still there: {back[:3]}" if back else ""),
        )
    )
    pending = dict(record.runs)
    finals: Counter[str] = Counter()
    deadline = time.monotonic() + run_deadline_s
    while pending and time.monotonic() < deadline:
        for run_id in list(pending):
            answer = client.call("GET", f"/runs/{run_id}")
            if answer.status == 200 and answer.body["status"] in FINAL:
                finals[answer.body["status"]] += 1
                del pending[run_id]
        if pending:
            time.sleep(0.5)
    summary = ", ".join(f"{s} {n}" for s, n in sorted(finals.items()))
    checks.append(
        (
            f"every accepted run (201/202) is final within {run_deadline_s:.0f} s",
            not pending,
            f"{len(record.runs):,} runs: {summary}"
            + (f"; not final: {list(pending)[:3]}" if pending else ""),
        )
    )
    server_errors = {
        op: sum(n for s, n in counts.items() if s >= 500 or s == 0)
        for op, counts in record.statuses.items()
    }
    server_errors = {op: n for op, n in server_errors.items() if n}
    checks.append(("no 5xx or failed connection", not server_errors, str(server_errors or "none")))
    return checks


def _race(
    url: str, key: str, portfolio: str, version: int, contenders: int, *, if_match: bool
) -> list[Answer]:
    """``contenders`` threads PUT the portfolio at ``version``, released at once; the
    version goes in ``If-Match`` (as its ETag) or in the body."""
    barrier = threading.Barrier(contenders)
    answers: list[Answer] = []
    lock = threading.Lock()

    def put(index: int) -> None:
        client = Client(url, key)
        body: dict[str, Any] = {"portfolio": _fields(random.Random(index), f"contender {index}")}
        headers = {"If-Match": f'"{version}"'} if if_match else None
        if not if_match:
            body["version"] = version
        barrier.wait()
        answer = client.call("PUT", f"/portfolios/{portfolio}", body, headers)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def contention(
    client: Client, url: str, key: str, contenders: int, rounds: int
) -> list[tuple[str, bool, str]]:
    """``contenders`` clients update one portfolio at the same version, ``rounds`` times:
    even rounds by ``If-Match`` (losers 412), odd rounds by ``version`` (losers 409)."""
    rng = random.Random(0)
    created = client.call("POST", "/portfolios", {"portfolio": _fields(rng, "contended")})
    assert created.status == 201, created
    portfolio = created.body["id"]
    winners_per_round: list[int] = []
    bad: list[str] = []
    latencies: list[float] = []
    for round_no in range(rounds):
        read = client.call("GET", f"/portfolios/{portfolio}")
        version = read.body["version"]
        if read.headers.get("etag") != f'"{version}"':
            bad.append(f"round {round_no}: ETag {read.headers.get('etag')!r} for v{version}")
        by_etag = round_no % 2 == 0
        answers = _race(url, key, portfolio, version, contenders, if_match=by_etag)
        latencies += [a.seconds for a in answers]
        winners_per_round.append(sum(1 for a in answers if a.status == 200))
        status, code = (412, "PRECONDITION_FAILED") if by_etag else (409, "CONFLICT")
        for answer in answers:
            if answer.status == 200:
                continue
            error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
            if answer.status != status or error.get("code") != code or not error.get("message"):
                bad.append(f"round {round_no}: {answer.status} {str(answer.body)[:120]}")
    final = client.call("GET", f"/portfolios/{portfolio}").body["version"]
    print(
        f"\n## contention: {contenders} clients × {rounds} rounds on one portfolio\n\n"
        f"winners per round: {winners_per_round}; final version {final}; "
        f"PUT p50 {1000 * _percentile(latencies, 50):.0f} ms, "
        f"p99 {1000 * _percentile(latencies, 99):.0f} ms"
    )
    return [
        (
            "contention: exactly one 200 per round",
            all(w == 1 for w in winners_per_round),
            str(winners_per_round),
        ),
        (
            "contention: every loser got 412 (If-Match) or 409 (version) in the envelope",
            not bad,
            "; ".join(bad[:3]) or "all",
        ),
        ("contention: final version = 1 + rounds", final == 1 + rounds, f"{final}"),
    ]


# ------------------------------------------------------------------ main
RESULT_PREFIX = "BENCH-RESULT "  # one JSON line for --recording compare


def _print_checks(checks: list[tuple[str, bool, str]]) -> None:
    print("\n| check | result | detail |\n|---|---|---|")
    for name, ok, detail in checks:
        print(f"| {name} | {'PASS' if ok else 'FAIL'} | {detail} |")


def _summary(record: Record, elapsed: float) -> dict[str, Any]:
    """Throughput and latencies, all requests and the writes (create, update, delete)."""
    everything = [s for v in record.latencies.values() for s in v]
    writes = [s for op in ("create", "update", "delete") for s in record.latencies.get(op, [])]
    return {
        "requests": len(everything),
        "elapsed_s": round(elapsed, 1),
        "per_s": round(len(everything) / elapsed, 1),
        **{f"p{q}_ms": round(1000 * _percentile(everything, q)) for q in (50, 95, 99)},
        "writes": len(writes),
        **{f"write_p{q}_ms": round(1000 * _percentile(writes, q)) for q in (50, 95, 99)},
    }


def _run(
    args: argparse.Namespace, url: str, key: str
) -> tuple[int, Record, Client, dict[str, Any]]:
    record = Record()
    client = Client(url, key)
    # A starting set of portfolios so updates, reads and runs have targets from the start.
    seed_rng = random.Random(args.seed)
    for _ in range(args.clients):
        one_request(client, record, seed_rng, "create")
    record.latencies.clear()
    record.statuses.clear()
    elapsed = drive(
        url, key, clients=args.clients, duration=args.duration, seed=args.seed, record=record
    )
    print_tables(record, elapsed, args.clients)
    summary = _summary(record, elapsed)
    checks = check_data(client, record, args.run_deadline)
    checks += contention(client, url, key, args.contenders, args.rounds)
    _print_checks(checks)
    return (0 if all(ok for _, ok, _ in checks) else 1), record, client, summary


def _restart(options: Any, record: Record, run_deadline: float) -> tuple[bool, dict[str, Any]]:
    """Start a stack again on ``options.data_dir`` (moto emptied first: a new process's
    state), time the replay, and check the data against what the clients were told."""
    from moto.moto_api._internal.models import moto_api_backend

    from local.stack import LocalStack

    moto_api_backend.reset()  # what a new process starts with
    journal = options.data_dir / "requests.jsonl"
    size = journal.stat().st_size
    started = time.perf_counter()
    with LocalStack(options) as stack:
        up_s = time.perf_counter() - started
        resumed = stack.resumed
        assert resumed is not None
        print(
            f"\n## restart on the data directory\n\njournal {size / 1e6:.1f} MB, "
            f"{resumed.writes:,} writes ({resumed.refused} refused the first time, skipped): "
            f"replayed in {resumed.seconds:.1f} s; stack up in {up_s:.1f} s; "
            f"{len(resumed.diverged)} replayed differently"
        )
        checks = check_data(Client(stack.api_url, "dev-key"), record, run_deadline)
        checks = [(f"after restart: {name}", ok, detail) for name, ok, detail in checks]
        checks.append(
            ("after restart: every write replayed as first applied", not resumed.diverged, "")
        )
        _print_checks(checks)
        stack.wait_idle(timeout_s=600)
    return all(ok for _, ok, _ in checks), {
        "journal_mb": round(size / 1e6, 1),
        "journal_writes": resumed.writes,
        "replay_s": round(resumed.seconds, 2),
        "restart_s": round(up_s, 2),
    }


def _compare(args: argparse.Namespace) -> int:
    """The bench twice, recording off then on, each in its own process; side by side."""
    results: dict[str, dict[str, Any]] = {}
    code = 0
    for mode in ("off", "on"):
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            *("--clients", str(args.clients), "--duration", str(args.duration)),
            *("--seed", str(args.seed), "--run-deadline", str(args.run_deadline)),
            *("--contenders", str(args.contenders), "--rounds", str(args.rounds)),
            *("--recording", mode),
        ]
        print(f"\n# recording {mode}\n", flush=True)
        child = subprocess.run(argv, capture_output=True, text=True, check=False)
        print(child.stdout, child.stderr[-2000:] if child.returncode else "", flush=True)
        code = code or child.returncode
        lines = [line for line in child.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if lines:
            results[mode] = json.loads(lines[-1][len(RESULT_PREFIX) :])
    if len(results) == 2:
        off, on = results["off"], results["on"]
        print(
            f"\n## recording off vs on ({args.clients} clients, {args.duration:.0f} s)\n\n"
            "| recording | requests/s | p50 ms | p95 ms | p99 ms | writes | write p50 ms | "
            "write p95 ms | write p99 ms | journal | replay |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        )
        for mode, row in (("off", off), ("on", on)):
            journal = "—"
            if mode == "on":
                journal = f"{row['journal_mb']} MB, {row['journal_writes']:,} writes"
            replay = f"{row['replay_s']} s" if mode == "on" else "—"
            print(
                f"| {mode} | {row['per_s']} | {row['p50_ms']} | {row['p95_ms']} | "
                f"{row['p99_ms']} | {row['writes']:,} | {row['write_p50_ms']} | "
                f"{row['write_p95_ms']} | {row['write_p99_ms']} | {journal} | {replay} |"
            )
    return code


def _print_environments(runtime: Any) -> None:
    """Per function: calls, the execution environments they ran in, their cold starts."""
    calls: dict[str, list[Any]] = defaultdict(list)
    for call in runtime.calls():
        calls[call.function].append(call)
    envs: dict[str, list[Any]] = defaultdict(list)
    for env in runtime.environments:
        envs[env.function].append(env)
    print(
        f"\n{runtime.mode} runtime, up to {runtime.default_concurrency} environments per function"
    )
    print(
        "\n| function | calls | environments | cold start mean ms | max ms "
        "| calls waiting | wait p95 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in sorted(calls, key=lambda n: -len(calls[n])):
        inits = [1000 * c.init_duration_s for c in calls[name] if c.init_duration_s is not None]
        waits = sorted(1000 * c.waited_s for c in calls[name])
        waiting = sum(1 for w in waits if w >= 1)
        p95 = waits[min(len(waits) - 1, int(0.95 * len(waits)))] if waits else 0.0
        mean = f"{sum(inits) / len(inits):.0f}" if inits else "—"
        top = f"{max(inits):.0f}" if inits else "—"
        print(
            f"| {name} | {len(calls[name]):,} | {len(envs[name]) or len(inits)} | {mean} | "
            f"{top} | {waiting:,} | {p95:.0f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="a running local API (default: start a stack)")
    parser.add_argument("--key", default="dev-key", help="API key for --url")
    parser.add_argument("--contenders", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="environments per function of the stack it starts (default: one per core, ≥ 2)",
    )
    parser.add_argument("--run-deadline", type=float, default=300.0, help="seconds")
    parser.add_argument(
        "--recording",
        choices=("off", "on", "compare"),
        default="off",
        help="off: memory only; on: a data directory, then a restart on it; compare: both",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="--recording on: the data directory (default: a temp one)"
    )
    args = parser.parse_args(argv)
    if args.url:
        return _run(args, args.url.rstrip("/"), args.key)[0]
    if args.recording == "compare":
        return _compare(args)

    from local.stack import LocalStack, LocalStackOptions

    scratch = None
    data_dir = None
    if args.recording == "on":
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="stratigos-bench-"))
        scratch = None if args.data_dir else data_dir
    options = LocalStackOptions(
        api_port=0,
        state_file=None,
        environment_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
        data_dir=data_dir,
        fresh=True,
        concurrency=args.concurrency,
    )
    try:
        with LocalStack(options) as stack:
            started = time.perf_counter()
            s3 = stack.client("s3")
            for path in sample_files():  # what the demo lands: three years of sample prices
                s3.put_object(
                    Bucket=stack.bucket, Key=f"raw/prices/{path.name}", Body=path.read_bytes()
                )
            stack.wait_idle(timeout_s=600)
            landed = time.perf_counter() - started
            print(f"local stack up, sample prices landed in {landed:.1f} s")
            code, record, _, summary = _run(args, stack.api_url, "dev-key")
            stack.wait_idle(timeout_s=600)
            dead = len(stack.dispatcher.dead_lettered) if stack.dispatcher else 0
            print(f"\ndead-lettered events: {dead}")
            _print_environments(stack.runtime)
        summary.update(recording=args.recording == "on", landed_s=round(landed, 1))
        if data_dir is not None:
            restarted, figures = _restart(
                LocalStackOptions(
                    api_port=0,
                    state_file=None,
                    environment_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
                    data_dir=data_dir,
                ),
                record,
                args.run_deadline,
            )
            summary.update(figures)
            code = code or (0 if restarted else 1)
        print(RESULT_PREFIX + json.dumps(summary))
        return code if dead == 0 else 1
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
