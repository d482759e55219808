"""Runs the template's functions as Lambda does, and records every call.

In the default ``processes`` mode each function runs in *execution environments*: worker
processes (:mod:`local._worker`) that import the handler once — the cold start, timed
like Lambda's "Init Duration" — and then serve **one invocation at a time**, their module
state their own. When every environment of a function is busy and the function is under
its concurrency (the template's ``ReservedConcurrentExecutions``, or the runtime's
default), another one starts; an invocation over the limit waits for one to be free. Idle
environments are reaped after ``idle_timeout_s``; one whose invocation timed out or whose
process died is discarded, as Lambda discards it. Events and results cross as JSON.

The ``inline`` mode calls handlers in this process instead, one at a time for the whole
process (so it too never runs two requests in one environment). Tests use it where they
reach into a handler's process: fault injection through botocore hooks, monkeypatched
handler modules.
"""

from __future__ import annotations

import importlib
import os
import select
import subprocess  # nosec B404 - starts our own worker module with our own interpreter
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from local._worker import read_message, write_message
from stack import FunctionSpec, StackContext

__all__ = [
    "DEFAULT_IDLE_TIMEOUT_S",
    "EnvironmentRecord",
    "Invocation",
    "LambdaRuntime",
    "LocalLambdaContext",
    "RuntimeMode",
    "default_concurrency",
    "load_handler",
]

RuntimeMode = Literal["processes", "inline"]

# Lambda keeps an idle environment for minutes; locally it is memory on a laptop.
DEFAULT_IDLE_TIMEOUT_S = 300.0
# Lambda's own limit on a function's init phase.
_INIT_TIMEOUT_S = 10.0


def default_concurrency() -> int:
    """Environments per function when the template reserves none: one per core, at least 2."""
    return max(2, os.cpu_count() or 2)


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import ``module.attr`` the way the Lambda Python runtime does."""
    module_name, _, attr = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not module.function")
    function = getattr(importlib.import_module(module_name), attr)
    if not callable(function):
        raise TypeError(f"{handler} is not callable")
    return function  # type: ignore[no-any-return]


class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, context: StackContext) -> None:
        self.function_name = function_name(spec, context)
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:{context.partition}:lambda:{context.region}:{context.account_id}"
            f":function:{self.function_name}"
        )
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def fields(self) -> dict[str, Any]:
        """What an environment needs to rebuild this context (see local._worker)."""
        return {
            "function_name": self.function_name,
            "function_version": self.function_version,
            "invoked_function_arn": self.invoked_function_arn,
            "memory_limit_in_mb": self.memory_limit_in_mb,
            "aws_request_id": self.aws_request_id,
            "log_group_name": self.log_group_name,
            "log_stream_name": self.log_stream_name,
            "remaining_ms": self.get_remaining_time_in_millis(),
        }


def function_name(spec: FunctionSpec, context: StackContext) -> str:
    return f"{context.stack_name}-{spec.logical_id}"


@dataclass
class Invocation:
    """One call of a handler: what triggered it, where it ran and how it ended.

    ``duration_s`` is the handler's time (Lambda's "Duration"); ``init_duration_s`` the
    environment's cold start when this call started one (Lambda's "Init Duration");
    ``waited_s`` the time spent waiting for a free environment at the concurrency limit;
    ``cpu_s`` the handler's CPU time in its environment (processes mode; the work itself,
    whatever else shares the machine).
    """

    function: str
    trigger: str
    event: Any
    attempt: int
    started_at: float
    duration_s: float = 0.0
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    stack: list[str] = field(default_factory=list)
    environment: str = ""
    cold_start: bool = False
    init_duration_s: float | None = None
    waited_s: float = 0.0
    cpu_s: float | None = None
    ran_at: float = 0.0  # wall clock when the handler got the event

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class EnvironmentRecord:
    """One execution environment's life: its cold start, its calls, how it ended."""

    function: str
    id: str
    pid: int | None
    started_at: float
    init_s: float = 0.0
    invocations: int = 0
    busy_s: float = 0.0
    ended_at: float | None = None
    end_reason: str | None = None


class _RuntimeClosedError(RuntimeError):
    """The runtime was shut down: no environment will serve another call."""


class _InvocationFailedError(Exception):
    """An invocation ended without an answer from its environment (the environment is gone)."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type

    def answer(self) -> dict[str, Any]:
        """The failure as an environment's answer (Lambda's error shape)."""
        return {"error": {"errorMessage": str(self), "errorType": self.error_type}}


class _ProcessEnvironment:
    """A worker process running one function's handler (see :mod:`local._worker`)."""

    def __init__(
        self,
        spec: FunctionSpec,
        environ: dict[str, str],
        preload: tuple[str, ...],
        record: EnvironmentRecord,
    ) -> None:
        self.spec = spec
        self.record = record
        self.last_used = time.monotonic()
        child_in, self._to_child = os.pipe()
        self._from_child, child_out = os.pipe()
        try:
            self._process = subprocess.Popen(  # nosec B603 - fixed argv, our interpreter
                [sys.executable, "-m", "local._worker", str(child_in), str(child_out)],
                pass_fds=(child_in, child_out),
                env=environ,
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        record.pid = self._process.pid
        self._writer: IO[bytes] = os.fdopen(self._to_child, "wb")
        self._reader: IO[bytes] = os.fdopen(self._from_child, "rb")
        self.init_error: dict[str, Any] | None = None
        self._initialise(preload)

    def _initialise(self, preload: tuple[str, ...]) -> None:
        start = time.perf_counter()
        try:
            write_message(self._writer, {"handler": self.spec.handler, "preload": list(preload)})
            answer = self._answer(_INIT_TIMEOUT_S, "init")
        except _InvocationFailedError as failed:
            answer = failed.answer()
        except OSError:
            answer = self._exited().answer()
        self.record.init_s = float(answer.get("init_s", time.perf_counter() - start))
        self.init_error = answer.get("error")

    def _answer(self, timeout_s: float, what: str) -> dict[str, Any]:
        ready, _, _ = select.select([self._reader], [], [], max(timeout_s, 0.0))
        if not ready:
            self.kill()
            raise _InvocationFailedError(
                f"Task timed out after {timeout_s:.2f} seconds"
                if what == "invoke"
                else f"Init timed out after {timeout_s:.2f} seconds",
                "Sandbox.Timedout",
            )
        message = read_message(self._reader)
        if message is None:
            raise self._exited()
        return message  # type: ignore[no-any-return]

    def _exited(self) -> _InvocationFailedError:
        """The process ended (or is ending) without answering: Lambda's words for it."""
        code = self._process.wait()
        return _InvocationFailedError(
            f"Runtime exited with error: exit status {code}", "Runtime.ExitError"
        )

    def invoke(self, event: Any, context: LocalLambdaContext) -> dict[str, Any]:
        """The environment's answer: ``{"result": ...}`` or ``{"error": {...}}``."""
        try:
            write_message(self._writer, {"event": event, "context": context.fields()})
        except (TypeError, ValueError) as error:
            raise _InvocationFailedError(
                f"event is not JSON: {error}", "Runtime.MarshalError"
            ) from None
        except OSError:
            raise self._exited() from None
        return self._answer(context.get_remaining_time_in_millis() / 1000, "invoke")

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def close(self) -> None:
        """End the environment: closing its input ends its loop; kill it if it lingers."""
        for stream in (self._writer, self._reader):
            with suppress(OSError):
                stream.close()
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class _Pool:
    """One function's environments."""

    idle: list[_ProcessEnvironment] = field(default_factory=list)
    live: int = 0


class LambdaRuntime:
    """Invokes the template's functions and keeps a log of every call.

    Parameters
    ----------
    functions : list of FunctionSpec
        The template's functions (``functions`` may be edited later: an environment
        started for an older spec is not reused).
    context : StackContext
        Names and ARNs of the stack.
    mode : {"processes", "inline"}
        Worker processes, one request at a time each (default), or this process.
    concurrency : int, optional
        Environments per function when the template reserves none; default
        :func:`default_concurrency`.
    idle_timeout_s : float
        An environment idle this long is reaped.
    preload : tuple of str
        Modules every environment imports before its handler (a test's plugin, as a
        layer would ship it).
    environment : mapping, optional
        The stack's variables (endpoint, credentials, resource names) every environment
        gets over this process's own: set apart from ``os.environ``, which another stack
        in this process may have pointed elsewhere since.
    """

    def __init__(
        self,
        functions: list[FunctionSpec],
        context: StackContext,
        *,
        mode: RuntimeMode = "processes",
        concurrency: int | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        preload: Iterable[str] = (),
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.environment = dict(environment or {})
        self.functions = {spec.logical_id: spec for spec in functions}
        self.context = context
        self.mode: RuntimeMode = mode
        self.default_concurrency = concurrency or default_concurrency()
        self.idle_timeout_s = idle_timeout_s
        self.preload = tuple(preload)
        self.invocations: list[Invocation] = []
        self.environments: list[EnvironmentRecord] = []
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._pools: dict[str, _Pool] = {}
        self._inline_lock = threading.Lock()
        self._inline_loaded: set[str] = set()
        self._closed = False
        self._reaper: threading.Thread | None = None
        self._stop = threading.Event()

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start reaping idle environments (processes mode)."""
        if self.mode == "processes" and self._reaper is None:
            self._reaper = threading.Thread(target=self._reap_loop, name="env-reaper", daemon=True)
            self._reaper.start()

    def shutdown(self) -> None:
        """End every environment; invocations after this fail."""
        self._stop.set()
        with self._lock:
            self._closed = True
            doomed = [env for pool in self._pools.values() for env in pool.idle]
            for pool in self._pools.values():
                pool.live -= len(pool.idle)
                pool.idle.clear()
            self._freed.notify_all()
        for env in doomed:
            self._end(env, "shutdown")
        if self._reaper is not None:
            self._reaper.join(timeout=5)
            self._reaper = None

    def prewarm(
        self, functions: Iterable[str] | None = None, parallel: int = 2
    ) -> threading.Thread:
        """Start one environment of each function now, in the background (processes mode).

        Lambda's provisioned concurrency: the inits (imports) are paid before the first call
        instead of on its path. The environments join the idle pools; their cold starts are
        in :attr:`environments` (``init_s``), not in any call's ``init_duration_s``. At most
        ``parallel`` start at once. Returns the thread doing it.
        """
        names = list(self.functions if functions is None else functions)

        def start_one(name: str) -> None:
            spec = self.functions[name]
            try:
                if self.concurrency(name) <= 0:
                    return
                env, _ = self._acquire(spec)
            except (_RuntimeClosedError, _InvocationFailedError, OSError):
                return
            self._release(env, env.init_error is None and env.alive)

        def run() -> None:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="prewarm") as pool:
                list(pool.map(start_one, names))

        thread = threading.Thread(target=run, name="prewarm", daemon=True)
        if self.mode == "processes":
            thread.start()
        return thread

    def concurrency(self, function: str) -> int:
        """How many environments ``function`` may run at once."""
        reserved = self.functions[function].reserved_concurrency
        return self.default_concurrency if reserved is None else reserved

    # ---------------------------------------------------------------- invoking
    def invoke(self, function: str, event: Any, trigger: str, attempt: int = 1) -> Invocation:
        """Call ``function``'s handler with ``event`` and wait for its end; errors are recorded."""
        spec = self.functions[function]
        record = Invocation(
            function=function, trigger=trigger, event=event, attempt=attempt, started_at=time.time()
        )
        if self.mode == "inline":
            self._invoke_inline(spec, record)
        else:
            self._invoke_in_environment(spec, record)
        with self._lock:
            self.invocations.append(record)
        return record

    def calls(self, function: str | None = None) -> list[Invocation]:
        with self._lock:
            return [i for i in self.invocations if function in (None, i.function)]

    def live_environments(self, function: str | None = None) -> list[EnvironmentRecord]:
        with self._lock:
            return [
                e
                for e in self.environments
                if e.ended_at is None and function in (None, e.function)
            ]

    def _invoke_inline(self, spec: FunctionSpec, record: Invocation) -> None:
        waited = time.perf_counter()
        with self._inline_lock:
            record.waited_s = time.perf_counter() - waited
            record.environment = "inline"
            record.ran_at = time.time()
            start = time.perf_counter()
            try:
                handler = load_handler(spec.handler)
                if spec.handler not in self._inline_loaded:  # its first import: the init
                    record.cold_start = True
                    record.init_duration_s = time.perf_counter() - start
                    self._inline_loaded.add(spec.handler)
                    start = time.perf_counter()
                record.result = handler(record.event, LocalLambdaContext(spec, self.context))
            except BaseException as error:
                # Whatever ends a handler is its invocation's error, as in Lambda, even a
                # BaseException: the tests' simulated process death (tests.support.faults'
                # InjectedCrash) is one. Only Ctrl-C stops the local stack itself.
                if isinstance(error, KeyboardInterrupt):
                    raise
                record.error = str(error) or type(error).__name__
                record.error_type = type(error).__name__
                record.stack = traceback.format_exception(error)[-6:]
            record.duration_s = time.perf_counter() - start

    def _invoke_in_environment(self, spec: FunctionSpec, record: Invocation) -> None:
        waited = time.perf_counter()
        try:
            with self._environment(spec) as (env, cold):
                record.waited_s = time.perf_counter() - waited - (env.record.init_s if cold else 0)
                record.environment = env.record.id
                record.cold_start = cold
                if cold:
                    record.init_duration_s = env.record.init_s
                record.ran_at = time.time()
                start = time.perf_counter()
                try:
                    if env.init_error is not None:
                        answer: dict[str, Any] = {"error": env.init_error}
                    else:
                        answer = env.invoke(record.event, LocalLambdaContext(spec, self.context))
                finally:
                    record.duration_s = time.perf_counter() - start
                    env.record.invocations += 1
                    env.record.busy_s += record.duration_s
        except _InvocationFailedError as failed:
            answer = failed.answer()
        except _RuntimeClosedError as stopped:
            answer = {"error": {"errorMessage": str(stopped), "errorType": "Runtime.Unavailable"}}
        if "cpu_s" in answer:
            record.cpu_s = float(answer["cpu_s"])
        if "error" in answer:
            error = answer["error"]
            record.error = str(error.get("errorMessage") or error.get("errorType"))
            record.error_type = str(error.get("errorType"))
            record.stack = [str(line) for line in error.get("stackTrace") or []]
        else:
            record.result = answer.get("result")

    @contextmanager
    def _environment(self, spec: FunctionSpec) -> Iterator[tuple[_ProcessEnvironment, bool]]:
        """A free environment of ``spec``'s function, started when none is and the limit allows."""
        env, cold = self._acquire(spec)
        healthy = False
        try:
            yield env, cold
            healthy = env.init_error is None and env.alive
        finally:
            self._release(env, healthy)

    def _acquire(self, spec: FunctionSpec) -> tuple[_ProcessEnvironment, bool]:
        stale: list[_ProcessEnvironment] = []
        idle: _ProcessEnvironment | None = None
        with self._lock:
            pool = self._pools.setdefault(spec.logical_id, _Pool())
            if self.concurrency(spec.logical_id) <= 0:  # reserved 0: the function is off
                raise _InvocationFailedError("Rate Exceeded.", "TooManyRequestsException")
            while True:
                if self._closed:
                    raise _RuntimeClosedError("the local runtime has been shut down")
                for old in [e for e in pool.idle if e.spec != spec]:
                    pool.idle.remove(old)
                    pool.live -= 1
                    stale.append(old)
                if pool.idle:
                    idle = pool.idle.pop()  # the warmest: Lambda reuses recent environments
                    break
                if pool.live < self.concurrency(spec.logical_id):
                    pool.live += 1
                    break
                self._freed.wait()
            if idle is None:
                record = EnvironmentRecord(
                    function=spec.logical_id,
                    id=f"{spec.logical_id}/{uuid.uuid4().hex[:8]}",
                    pid=None,
                    started_at=time.time(),
                )
                self.environments.append(record)
        for old in stale:  # outside the lock: ending one takes it
            self._end(old, "replaced")
        if idle is not None:
            return idle, False
        try:
            return _ProcessEnvironment(spec, self._environ(spec), self.preload, record), True
        except BaseException:
            with self._lock:
                pool.live -= 1
                record.ended_at, record.end_reason = time.time(), "failed to start"
                self._freed.notify_all()
            raise

    def _release(self, env: _ProcessEnvironment, healthy: bool) -> None:
        with self._lock:
            pool = self._pools[env.spec.logical_id]
            keep = healthy and not self._closed and env.spec == self.functions[env.spec.logical_id]
            if keep:
                env.last_used = time.monotonic()
                pool.idle.append(env)
            else:
                pool.live -= 1
            self._freed.notify_all()
        if not keep:
            reason = "shutdown" if self._closed else ("replaced" if healthy else "failed")
            self._end(env, reason)

    def _end(self, env: _ProcessEnvironment, reason: str) -> None:
        env.close()
        with self._lock:
            env.record.ended_at, env.record.end_reason = time.time(), reason

    def _reap_loop(self) -> None:
        while not self._stop.wait(min(1.0, self.idle_timeout_s / 4)):
            self.reap()

    def reap(self) -> int:
        """End environments idle longer than ``idle_timeout_s``; returns how many."""
        cutoff = time.monotonic() - self.idle_timeout_s
        with self._lock:
            doomed = [
                (pool, env)
                for pool in self._pools.values()
                for env in pool.idle
                if env.last_used <= cutoff
            ]
            for pool, env in doomed:
                pool.idle.remove(env)
                pool.live -= 1
            self._freed.notify_all()
        for _, env in doomed:
            self._end(env, "idle")
        return len(doomed)

    def _environ(self, spec: FunctionSpec) -> dict[str, str]:
        """This process's environment under the stack's, the function's variables and the
        variables Lambda sets, with the import path this process has."""
        name = function_name(spec, self.context)
        resolved = [Path(entry or os.getcwd()).resolve() for entry in sys.path]
        interpreter = (Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve())
        own_path = [
            str(entry)
            for entry in resolved
            if not any(entry.is_relative_to(root) for root in interpreter)
        ]
        return {
            **os.environ,
            **self.environment,
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(own_path)),
        }
