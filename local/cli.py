"""``stratigos``: the operator CLI (local stack, demo, ingest, sql, replay, layers).

Subcommands find a running ``stratigos local up`` through its state file
(``.stratigos/local.json`` in the working directory); the stack keeps its data in
``.stratigos/`` too (``--data-dir``), so a restart resumes where it stopped.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from core.lake import RAW_PRICES_PREFIX
from core.settings import env_name
from local.stack import (
    DEFAULT_DATA_DIR,
    NOT_RUNNING,
    STATE_FILE,
    DataDirectoryError,
    JournalError,
    LocalStack,
    LocalStackOptions,
    PortUnavailableError,
    StackNotRunningError,
    StackState,
    parse_keys,
    process_alive,
)

if TYPE_CHECKING:
    from local._ingest_outcome import LandingOutcome, LandingRecords, RawObject

__all__ = ["main"]


_STOP_GRACE_S = 15.0
_INGEST_TIMEOUT_S = 120.0


def _exit_after(seconds: float) -> None:
    """Exit the process after ``seconds`` even if stopping the stack hangs."""
    timer = threading.Timer(seconds, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


def _positive_int(text: str) -> int:
    value = int(text) if text.isascii() and text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _cmd_local_up(args: argparse.Namespace) -> int:
    from local._activity import log_to_stream

    keys = parse_keys(os.environ.get("STRATIGOS_LOCAL_KEYS"))
    options = LocalStackOptions(
        api_port=args.port,
        aws_port=args.aws_port,
        keys=keys,
        data_dir=Path(args.data_dir),
        fresh=args.fresh,
        concurrency=args.concurrency,
        prewarm=True,
    )
    stopped = threading.Event()
    log_to_stream(sys.stderr, quiet=args.quiet)

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    # Both, explicitly: a process started in the background of a non-interactive shell
    # inherits SIGINT as *ignored*, and Python then raises no KeyboardInterrupt for it.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stack = LocalStack(options)
    try:
        stack.start()
    except (PortUnavailableError, DataDirectoryError, JournalError) as error:
        print(f"stratigos: {error}", file=sys.stderr)
        return 2
    try:
        print("Stratigos local stack is up (Ctrl-C to stop)")
        print(f"  API:          {stack.api_url}")
        print(f"  AWS endpoint: {stack.endpoint_url}   (S3, DynamoDB, EventBridge, SQS, Glue)")
        print(f"  Data bucket:  s3://{stack.bucket}")
        for key, tenant in keys.items():
            print(f"  API key:      {key}  (tenant {tenant})")
        print(f"  State file:   {options.state_file}")
        for line in _data_lines(stack, args):
            print(line)
        print("Point the AWS CLI or any SDK at it:")
        print(
            f"  export AWS_ENDPOINT_URL={stack.endpoint_url} AWS_ACCESS_KEY_ID=testing "
            f"AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={options.region}"
        )
        print(f"  curl -H 'x-api-key: {next(iter(keys))}' {stack.api_url}/portfolios")
        if not args.quiet:
            print("One line per invocation and per dead letter follows, on stderr (--quiet: none)")
        sys.stdout.flush()
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("\nstopping", flush=True)
        # A handler still running in the dispatcher's thread may keep retrying against the
        # moto being stopped: give the stop (and interpreter exit) a grace period, then
        # leave regardless (the state file is removed first).
        _exit_after(_STOP_GRACE_S)
    finally:
        stack.stop()
    return 0


def _restart_command(data_dir: Path | str | None) -> str:
    """The command that resumes a stack kept in ``data_dir``."""
    if data_dir is None or Path(data_dir).resolve() == DEFAULT_DATA_DIR.resolve():
        return "stratigos local up"
    return f"stratigos local up --data-dir {data_dir}"


def _data_lines(stack: LocalStack, args: argparse.Namespace) -> list[str]:
    """Where `local up` keeps its data, and what it found there."""
    where = stack.options.data_dir.resolve() if stack.options.data_dir else None
    if where is None:
        return ["  Data:         in memory only (gone when the stack stops)"]
    resumed = stack.resumed
    if args.fresh:
        found = "started empty (--fresh): what was kept there is gone"
    elif resumed is None:
        found = "nothing kept there yet: started empty"
    else:
        found = f"resumed: {resumed.writes:,} kept writes replayed in {resumed.seconds:.1f} s"
    lines = [
        f"  Data:         {where}  ({found})",
        f"                every write is kept there; `{_restart_command(args.data_dir)}` "
        "resumes it after a stop or a crash (kill -9), --fresh starts empty",
    ]
    if resumed is not None and resumed.diverged:
        print(
            f"stratigos: {len(resumed.diverged)} kept write(s) replayed differently "
            f"(first: {resumed.diverged[0]})",
            file=sys.stderr,
        )
    return lines


def _cmd_local_tick(args: argparse.Namespace) -> int:
    from local.dispatcher import find_schedule, fire_schedule

    state = StackState.read()
    template = state.template()
    schedule = find_schedule(template.rules(), args.name)  # any case; unknown: KeyError
    with state.activated() as session:
        event = fire_schedule(template, schedule.event, session)
    print(f"fired {schedule.event}: event {event['id']} at {event['time']}")
    return 0


def _answers(endpoint_url: str) -> bool:
    """Whether something accepts connections at ``endpoint_url``'s host and port."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 2):
            return True
    except OSError:
        return False


def _cmd_local_status(args: argparse.Namespace) -> int:
    """0: running; 1: a stale state file (the stack is gone); 2: no stack."""
    state = StackState.load()
    restart = _restart_command(state.data_dir)
    if not process_alive(state.pid):
        print(
            f"stratigos: stale state file {STATE_FILE}: the local stack (pid {state.pid}) is "
            f"gone; `{restart}` starts it again with its data",
            file=sys.stderr,
        )
        return 1
    if not _answers(state.endpoint_url):
        print(
            f"stratigos: the local stack (pid {state.pid}) does not answer at "
            f"{state.endpoint_url}; stop it and run `{restart}`",
            file=sys.stderr,
        )
        return 1
    data = f"data {state.data_dir}" if state.data_dir else "data in memory only"
    print(f"local stack (pid {state.pid}): API {state.api_url}, AWS {state.endpoint_url}, {data}")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    """Upload vendor files under raw/prices/, then wait for the stack's verdict on each."""
    from contextlib import nullcontext

    import boto3

    from core.aws import client as aws_client
    from local._ingest_outcome import LandingRecords, RawObject
    from local.progress import ProgressBar

    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"stratigos: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print("stratigos: --timeout must be a positive number of seconds", file=sys.stderr)
        return 2
    table: str | None = None
    if args.bucket:
        context: Any = nullcontext(boto3.session.Session())
        bucket = args.bucket
    else:
        state = StackState.read()
        context = state.activated()
        environment = state.template().shared_environment()
        bucket = environment[env_name("bucket")]
        table = environment[env_name("idempotency_table")]
    prefix = args.prefix.strip("/")
    landed = f"{prefix}/".startswith(RAW_PRICES_PREFIX)
    wait = table is not None and landed and not args.no_wait
    with context as session:
        s3 = aws_client("s3", session)
        uploaded: list[RawObject] = []
        for path in paths:
            key = f"{prefix}/{path.name}"
            bar = ProgressBar(path.stat().st_size, path.name)
            s3.upload_file(str(path), bucket, key, Callback=bar)
            bar.finish()
            print(f"landed s3://{bucket}/{key}", flush=True)
            if wait:
                uploaded.append(RawObject.head(s3, bucket, key))
        if table is None or not wait:
            if not landed and not args.no_wait:
                print(
                    f"not waiting for a result: only objects under {RAW_PRICES_PREFIX} are "
                    f"landed, and these went to {prefix}/",
                    file=sys.stderr,
                )
            elif table is None and not args.no_wait:
                print(
                    "not waiting for the result: --bucket is a deployed stack's; its "
                    "IngestFunction logs each file's outcome, its quarantine/ the rejected rows",
                    file=sys.stderr,
                )
            return 0
        records = LandingRecords(aws_client("dynamodb", session), table)
        return _await_landings(uploaded, records, args.timeout)


def _await_landings(
    uploaded: Sequence[RawObject], records: LandingRecords, timeout_s: float
) -> int:
    """Print each file's outcome as the stack records it; 1 if one was refused or never
    came within ``timeout_s``."""
    from local._ingest_outcome import describe_outcome, wait_for_landings
    from local.progress import WaitingLine

    waiting = WaitingLine()
    refused: list[RawObject] = []

    def show(obj: RawObject, outcome: LandingOutcome) -> None:
        waiting.clear()
        print("\n".join(describe_outcome(obj, outcome)), flush=True)
        if outcome.file_rejected:
            refused.append(obj)

    def progress(pending: Sequence[RawObject]) -> None:
        waiting.update("ingest of " + ", ".join(obj.name for obj in pending))

    try:
        late = wait_for_landings(
            uploaded, records, timeout_s=timeout_s, on_outcome=show, on_poll=progress
        )
    except KeyboardInterrupt:
        waiting.clear()
        print(
            "stratigos: stopped waiting; the files are landed and the stack goes on with them",
            file=sys.stderr,
        )
        return 130
    waiting.clear()
    if late:
        names = ", ".join(obj.key for obj in late)
        print(
            f"stratigos: no ingest result for {names} after {timeout_s:g} s; the stack may "
            "still be working (see the `local up` log), or the landing failed (dead letters: "
            "`stratigos replay --dry-run`); wait longer with --timeout SECONDS",
            file=sys.stderr,
        )
        return 1
    return 1 if refused else 0


def _cmd_replay(args: argparse.Namespace) -> int:
    """Hand dead-lettered events back to their functions (local stack, or a deployed one)."""
    from contextlib import nullcontext

    import boto3

    from core.aws import client as aws_client
    from local.replay import (
        LambdaReplayTarget,
        LocalReplayTarget,
        ReplayTarget,
        dead_letter_queue_url,
        replay,
    )

    cloud = bool(args.queue_url or args.stack)
    context: Any = nullcontext(boto3.session.Session()) if cloud else StackState.read().activated()
    with context as session:
        sqs = aws_client("sqs", session)
        target: ReplayTarget
        if cloud:
            queue_url = (
                args.queue_url
                or aws_client("cloudformation", session).describe_stack_resource(
                    StackName=args.stack, LogicalResourceId="DeadLetterQueue"
                )["StackResourceDetail"]["PhysicalResourceId"]
            )
            target = LambdaReplayTarget(aws_client("lambda", session))
        else:
            template = StackState.read().template()
            queue_url = dead_letter_queue_url(template, sqs)
            target = LocalReplayTarget(template, sqs)
        report = replay(
            sqs,
            queue_url,
            target,
            dry_run=args.dry_run,
            function=args.function,
            max_messages=args.max,
        )
    for outcome in report.outcomes:
        letter = outcome.letter
        who = letter.function_name if letter else "?"
        cause = letter.cause if letter else ""
        print(f"{outcome.action:<10} {outcome.message_id}  {who}  {cause}  [{outcome.detail}]")
    done = report.count("listed") if args.dry_run else report.count("replayed")
    verb = "dead letter(s) listed" if args.dry_run else "event(s) handed back"
    print(
        f"{done} {verb}; {report.count('failed')} failed, {report.count('unreadable')} unreadable"
    )
    return 1 if report.count("failed") else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from local.demo import run_demo

    report = run_demo(Path(args.output))
    return 0 if report.ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stratigos", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the docker-free local stack")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    up = local_commands.add_parser("up", help="start moto + the template's resources + API")
    up.add_argument("--port", type=int, default=3000, help="local API port (default 3000)")
    up.add_argument("--aws-port", type=int, default=0, help="moto server port (default: free)")
    up.add_argument(
        "--quiet",
        action="store_true",
        help="no line per function invocation and dead letter on stderr",
    )
    up.add_argument(
        "--data-dir",
        default=str(DEFAULT_DATA_DIR),
        metavar="DIR",
        help=f"where the stack keeps its data across restarts (default {DEFAULT_DATA_DIR}/)",
    )
    up.add_argument(
        "--fresh", action="store_true", help="forget what the data directory kept; start empty"
    )
    up.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="execution environments per function where the template reserves none "
        "(default: one per core, at least 2)",
    )
    up.set_defaults(func=_cmd_local_up)
    tick = local_commands.add_parser("tick", help="fire a schedule now, e.g. Nightly")
    tick.add_argument("name", help="the Schedule event's name in template.yaml (any case)")
    tick.set_defaults(func=_cmd_local_tick)
    status = local_commands.add_parser(
        "status", help="where the running local stack is (exit 1: it is gone, 2: none)"
    )
    status.set_defaults(func=_cmd_local_status)

    ingest = commands.add_parser("ingest", help="land vendor price files (CSV/Parquet)")
    ingest.add_argument("files", nargs="+", help="price files, long form date,ticker,close[,…]")
    ingest.add_argument("--bucket", help="a deployed data bucket (default: the local stack's)")
    ingest.add_argument("--prefix", default="raw/prices", help="landing prefix (raw/prices)")
    ingest.add_argument(
        "--timeout",
        type=float,
        default=_INGEST_TIMEOUT_S,
        metavar="SECONDS",
        help=f"seconds to wait for the files' outcomes (default {_INGEST_TIMEOUT_S:g})",
    )
    ingest.add_argument(
        "--no-wait", action="store_true", help="upload only; do not wait for the outcome"
    )
    ingest.set_defaults(func=_cmd_ingest)

    from layers.cli import configure_parser as configure_layers_parser
    from local.sql import configure_sql_parser

    configure_layers_parser(
        commands.add_parser("layers", help="build the Lambda layers and packages, check sizes")
    )

    configure_sql_parser(
        commands.add_parser("sql", help="SQL over the lake: DuckDB locally, or Athena")
    )

    replay = commands.add_parser("replay", help="hand dead-lettered events back to their function")
    replay.add_argument("--dry-run", action="store_true", help="list only; change nothing")
    replay.add_argument("--function", help="only this function's (name or logical id)")
    replay.add_argument("--max", type=int, help="at most this many")
    replay.add_argument("--queue-url", help="a deployed stack's dead-letter queue URL")
    replay.add_argument("--stack", help="a deployed stack's name (finds its DeadLetterQueue)")
    replay.set_defaults(func=_cmd_replay)

    demo = commands.add_parser("demo", help="run the whole chain on sample data and summarise")
    demo.add_argument("--output", default="demo-output", help="where to write what it made")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stratigos`` console script."""
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StackNotRunningError:
        print(f"stratigos: {NOT_RUNNING}", file=sys.stderr)
        return 2
    except (FileNotFoundError, LookupError) as error:
        message = error.args[0] if isinstance(error, LookupError) and error.args else error
        print(f"stratigos: {message}", file=sys.stderr)
        return 2
    except (EndpointConnectionError, ConnectionClosedError) as error:
        # The local stack went away while the command talked to it (a deployed
        # endpoint's failure is not ours to rename).
        if not _is_loopback(str(error.kwargs.get("endpoint_url", ""))):
            raise
        print(f"stratigos: {NOT_RUNNING}", file=sys.stderr)
        return 2


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


if __name__ == "__main__":
    raise SystemExit(main())
