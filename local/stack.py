"""The docker-free local stack: moto's server + the template's resources + events + API.

``LocalStack`` starts moto in server mode on 127.0.0.1 (clients talk to it over HTTP like
to AWS), creates what template.yaml declares, seeds the API keys, starts the event
dispatcher and the local REST API, and writes a state file so other ``stratigos``
commands find it.

With a data directory (``stratigos local up`` always has one; in-process stacks only when
given one) every write moto applies is journalled there first and replayed on the next
start (:mod:`local._journal`): a restart, even after ``kill -9``, has everything that was
acknowledged. Without one, state lives in memory and ends with the process.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3

from core.aws import client as aws_client
from core.settings import env_name
from local._journal import (
    DataDirectory,
    DataDirectoryError,
    JournalError,
    JournalingApp,
    ReplayReport,
    replay,
)
from local._ports import LocalMotoServer, PortUnavailableError, listening_socket
from local.apigateway import LocalApiServer, api_key_id
from local.dispatcher import EventDispatcher, fire_schedule
from local.lambda_runtime import DEFAULT_IDLE_TIMEOUT_S, LambdaRuntime, RuntimeMode
from local.provision import ProvisionedStack, provision
from stack import DEFAULT_TEMPLATE, StackContext, Template, TemplateError

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_KEYS",
    "NOT_RUNNING",
    "DataDirectoryError",
    "JournalError",
    "LocalStack",
    "LocalStackOptions",
    "PortUnavailableError",
    "StackNotRunningError",
    "StackState",
    "parse_keys",
    "process_alive",
]

DEFAULT_KEYS: dict[str, str] = {"dev-key": "demo"}
DEFAULT_DATA_DIR = Path(".stratigos")
STATE_FILE = DEFAULT_DATA_DIR / "local.json"
NOT_RUNNING = "the local stack is not running (start it with `stratigos local up`)"
_LOCAL_CREDENTIALS = {  # nosec B105
    # moto's dummy credentials for the loopback endpoint; nothing real.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def parse_keys(spec: str | None) -> dict[str, str]:
    """Parse ``STRATIGOS_LOCAL_KEYS`` (``key:tenant,key:tenant``); default ``dev-key:demo``."""
    if not spec or not spec.strip():
        return dict(DEFAULT_KEYS)
    keys: dict[str, str] = {}
    for item in spec.split(","):
        key, sep, tenant = item.strip().partition(":")
        if not sep or not key or not tenant:
            raise ValueError(f"STRATIGOS_LOCAL_KEYS entry {item!r} is not key:tenant")
        if key in keys and keys[key] != tenant:
            raise ValueError(f"API key {key!r} is given to two tenants")
        keys[key] = tenant
    return keys


@dataclass
class LocalStackOptions:
    """How to run the local stack (ports 0 pick free ones)."""

    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 0
    stack_name: str = "stratigos-local"
    region: str = "us-east-1"
    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    template_path: Path = DEFAULT_TEMPLATE
    state_file: Path | None = STATE_FILE
    retry_base_delay_s: float = 0.05
    # Applied over the template's variables, e.g. a quieter POWERTOOLS_LOG_LEVEL for the demo.
    environment_overrides: dict[str, str] = field(default_factory=dict)
    # Where state persists (journal + lock); None: memory only, gone with the process.
    data_dir: Path | None = None
    # Forget what data_dir kept and start empty.
    fresh: bool = False
    # How functions run: worker processes, one request at a time each, as Lambda runs
    # them (default); or in this process, one at a time (tests that hook into handlers).
    runtime: RuntimeMode = "processes"
    # Environments per function where the template reserves no concurrency (None: one
    # per core, at least 2); idle ones are reaped after idle_timeout_s.
    concurrency: int | None = None
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    # Modules every environment imports before its handler (a plugin, as a layer ships it).
    preload: tuple[str, ...] = ()
    # Start one environment of every function at start, in the background (Lambda's
    # provisioned concurrency): `stratigos local up` and the demo do.
    prewarm: bool = False


class StackNotRunningError(FileNotFoundError):
    """No running local stack: no state file, or one whose process is gone (``stale``)."""

    def __init__(self, state_file: Path, pid: int | None = None) -> None:
        self.state_file, self.pid = state_file, pid
        super().__init__(NOT_RUNNING)

    @property
    def stale(self) -> bool:
        return self.pid is not None

    def __str__(self) -> str:
        return NOT_RUNNING


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (killed, not yet reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: it exists
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no procfs (macOS): kill(0) is all there is
        return True
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


@dataclass(frozen=True)
class StackState:
    """What a running local stack tells other processes (the state file's content)."""

    endpoint_url: str
    api_url: str
    region: str
    stack_name: str
    keys: dict[str, str]
    template_path: str
    pid: int
    data_dir: str | None = None  # where its state persists; None: memory only

    @classmethod
    def load(cls, path: Path = STATE_FILE) -> StackState:
        """The state file as written, whether or not its process still runs.

        Raises
        ------
        StackNotRunningError
            There is no state file.
        """
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise StackNotRunningError(path) from None
        return cls(**data)

    @classmethod
    def read(cls, path: Path = STATE_FILE) -> StackState:
        """The running stack's state.

        Raises
        ------
        StackNotRunningError
            There is no state file, or its process is gone (killed: a stale file).
        """
        state = cls.load(path)
        if not process_alive(state.pid):
            raise StackNotRunningError(path, state.pid)
        return state

    def template(self) -> Template:
        return Template.load(
            Path(self.template_path),
            StackContext(stack_name=self.stack_name, region=self.region),
        )

    def environment(self) -> dict[str, str]:
        """Environment that points boto3 (and the platform's settings) at this stack."""
        return local_environment(self.template(), self.endpoint_url)

    @contextmanager
    def activated(self) -> Iterator[boto3.session.Session]:
        """Point this process at the stack for the duration of the block."""
        with _patched_environ(self.environment()):
            yield boto3.session.Session(region_name=self.region)


def local_environment(template: Template, endpoint_url: str) -> dict[str, str]:
    """Credentials, region, endpoint, and every function's environment from the template.

    Inline handlers run in this process, and local commands and tests read the platform's
    settings from it, so the functions' variables must agree; they all come from
    ``Globals`` today and a conflicting per-function value is refused rather than guessed.
    (Each worker environment gets its own function's variables on top.)
    """
    env: dict[str, str] = {
        **_LOCAL_CREDENTIALS,
        "AWS_DEFAULT_REGION": template.context.region,
        "AWS_REGION": template.context.region,
        "AWS_ENDPOINT_URL": endpoint_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
    owners: dict[str, str] = {}
    for spec in template.functions():
        for name, value in spec.environment.items():
            if name in owners and env[name] != value:
                raise TemplateError(
                    f"{spec.logical_id} sets {name}={value!r} but {owners[name]} sets "
                    f"{env[name]!r}; the in-process local stack needs one value"
                )
            env[name] = value
            owners.setdefault(name, spec.logical_id)
    return env


@contextmanager
def _patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in [*values, "AWS_SESSION_TOKEN", "AWS_PROFILE"]}
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class LocalStack:
    """moto server + template resources + event dispatcher + REST API + the functions'
    execution environments (worker processes; see :mod:`local.lambda_runtime`).

    Use as a context manager::

        with LocalStack(LocalStackOptions(api_port=0)) as stack:
            stack.s3.put_object(Bucket=stack.bucket, Key="raw/prices/x.csv", Body=b"...")
            stack.wait_idle()
    """

    def __init__(self, options: LocalStackOptions | None = None) -> None:
        self.options = options or LocalStackOptions()
        self.template = Template.load(
            self.options.template_path,
            StackContext(stack_name=self.options.stack_name, region=self.options.region),
        )
        self.endpoint_url = ""
        self._moto: LocalMotoServer | None = None
        self._environ: Any = None
        self.session: boto3.session.Session | None = None
        self.provisioned: ProvisionedStack | None = None
        self.runtime = LambdaRuntime(
            self.template.functions(),
            self.template.context,
            mode=self.options.runtime,
            concurrency=self.options.concurrency,
            idle_timeout_s=self.options.idle_timeout_s,
            preload=self.options.preload,
        )
        self.dispatcher: EventDispatcher | None = None
        self.api: LocalApiServer | None = None
        self._wrote_state_file = False
        self.data: DataDirectory | None = None
        # What the start replayed from the data directory (None: nothing kept, or none).
        self.resumed: ReplayReport | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Start everything; on any failure what was started is stopped again.

        Raises
        ------
        PortUnavailableError
            The API port or moto's port is taken; checked before anything starts.
        DataDirectoryError
            Another stack runs on the data directory.
        JournalError
            The data directory's journal cannot be replayed.
        """
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        opts = self.options
        # Both ports first: a taken one is told before moto and provisioning take seconds.
        self.api = LocalApiServer(
            self.template,
            self.runtime,
            opts.keys,
            sock=listening_socket(opts.host, opts.api_port, server="local API", option="--port"),
        )
        moto_socket = listening_socket(
            opts.host, opts.aws_port, server="moto, the AWS endpoint", option="--aws-port"
        )
        if opts.data_dir is not None:
            self.data = DataDirectory(opts.data_dir)
            self.data.acquire()
            if opts.fresh:
                self.data.clear()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request log lines
        self._moto = LocalMotoServer(moto_socket)
        if self.data is not None:
            self._resume(self._moto, self.data)
        self._moto.start()
        self.endpoint_url = f"http://{opts.host}:{self._moto.port}"
        environ = {
            **local_environment(self.template, self.endpoint_url),
            **opts.environment_overrides,
        }
        self.runtime.environment = environ
        self._environ = _patched_environ(environ)
        self._environ.__enter__()
        self.session = boto3.session.Session(region_name=opts.region)
        self.provisioned = provision(
            self.template,
            self.session,
            api_keys={api_key_id(key): tenant for key, tenant in opts.keys.items()},
        )
        self.dispatcher = EventDispatcher(
            self.template,
            self.runtime,
            self.provisioned,
            self.session,
            retry_base_delay_s=opts.retry_base_delay_s,
        )
        self.runtime.start()
        if opts.prewarm:
            self.runtime.prewarm()
        self.dispatcher.start()
        self.api.start()
        if opts.state_file:
            opts.state_file.parent.mkdir(parents=True, exist_ok=True)
            opts.state_file.write_text(json.dumps(self.state().__dict__, indent=2))
            self._wrote_state_file = True

    def _resume(self, moto: LocalMotoServer, data: DataDirectory) -> None:
        """Replay what ``data`` kept into moto (not serving yet), then journal every write."""
        # werkzeug's server calls ``server.app`` per request: the journal goes in front.
        journaling = JournalingApp(moto._server.app, data.journal)
        moto._server.app = journaling
        if not data.empty:
            self.resumed = replay(journaling.app, data.journal, f"{self.options.host}:{moto.port}")
        data.journal.open()
        journaling.recording = True

    def stop(self) -> None:
        state_file = self.options.state_file  # first: no command should find a dying stack
        if state_file and self._wrote_state_file:
            state_file.unlink(missing_ok=True)  # only ours: not another stack's
            self._wrote_state_file = False
        if self.api:
            self.api.stop()
        if self.dispatcher:
            self.dispatcher.stop()
        self.runtime.shutdown()
        if self._moto:
            self._moto.stop()
        if self.data:  # after moto: no write comes in unjournalled
            self.data.release()
            self.data = None
        if self._environ:
            self._environ.__exit__(None, None, None)
            self._environ = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- conveniences
    def state(self) -> StackState:
        return StackState(
            endpoint_url=self.endpoint_url,
            api_url=self.api_url,
            region=self.options.region,
            stack_name=self.options.stack_name,
            keys=dict(self.options.keys),
            template_path=str(self.options.template_path),
            pid=os.getpid(),
            data_dir=str(self.options.data_dir.resolve()) if self.options.data_dir else None,
        )

    @property
    def api_url(self) -> str:
        return self.api.url if self.api else ""

    @property
    def bucket(self) -> str:
        return self.template.shared_environment()[env_name("bucket")]

    def client(self, service: str) -> Any:
        return aws_client(service, self.session)

    def wait_idle(self, timeout_s: float = 120.0) -> None:
        """Block until every event chain started so far has run to its end."""
        assert self.dispatcher is not None, "stack not started"
        self.dispatcher.wait_idle(timeout_s)

    def tick(self, name: str) -> dict[str, Any]:
        """Fire a schedule now (the template's ``Schedule`` event name, e.g. ``Nightly``)."""
        return fire_schedule(self.template, name, self.session)
