"""``stratigos``: the operator CLI (local stack, demo, ingest, sql, replay, layers).

Subcommands find a running ``stratigos local up`` through its state file
(``.stratigos/local.json`` in the working directory).
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
from typing import Any

from core.settings import env_name
from local.stack import LocalStack, LocalStackOptions, StackState, parse_keys

__all__ = ["main"]


_STOP_GRACE_S = 15.0


def _exit_after(seconds: float) -> None:
    """Exit the process after ``seconds`` even if stopping the stack hangs."""
    timer = threading.Timer(seconds, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


def _cmd_local_up(args: argparse.Namespace) -> int:
    keys = parse_keys(os.environ.get("STRATIGOS_LOCAL_KEYS"))
    options = LocalStackOptions(api_port=args.port, aws_port=args.aws_port, keys=keys)
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    # Both, explicitly: a process started in the background of a non-interactive shell
    # inherits SIGINT as *ignored*, and Python then raises no KeyboardInterrupt for it.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with LocalStack(options) as stack:
        print("Stratigos local stack is up (Ctrl-C to stop)")
        print(f"  API:          {stack.api_url}")
        print(f"  AWS endpoint: {stack.endpoint_url}   (S3, DynamoDB, EventBridge, SQS, Glue)")
        print(f"  Data bucket:  s3://{stack.bucket}")
        for key, tenant in keys.items():
            print(f"  API key:      {key}  (tenant {tenant})")
        print(f"  State file:   {options.state_file}")
        print("Point the AWS CLI or any SDK at it:")
        print(
            f"  export AWS_ENDPOINT_URL={stack.endpoint_url} AWS_ACCESS_KEY_ID=testing "
            f"AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={options.region}"
        )
        print(f"  curl -H 'x-api-key: {next(iter(keys))}' {stack.api_url}/portfolios")
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
    return 0


def _cmd_local_tick(args: argparse.Namespace) -> int:
    from local.dispatcher import fire_schedule

    state = StackState.read()
    with state.activated() as session:
        event = fire_schedule(state.template(), args.name, session)
    print(f"fired {args.name}: event {event['id']} at {event['time']}")
    return 0


def _cmd_local_status(args: argparse.Namespace) -> int:
    state = StackState.read()
    print(f"local stack (pid {state.pid}): API {state.api_url}, AWS {state.endpoint_url}")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    """Upload vendor files under raw/prices/; the landing event does the rest."""
    from contextlib import nullcontext

    import boto3

    from core.aws import client as aws_client
    from local.progress import ProgressBar

    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"stratigos: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.bucket:
        context: Any = nullcontext(boto3.session.Session())
        bucket = args.bucket
    else:
        state = StackState.read()
        context = state.activated()
        bucket = state.template().shared_environment()[env_name("bucket")]
    with context as session:
        s3 = aws_client("s3", session)
        for path in paths:
            key = f"{args.prefix.rstrip('/')}/{path.name}"
            bar = ProgressBar(path.stat().st_size, path.name)
            s3.upload_file(str(path), bucket, key, Callback=bar)
            bar.finish()
            print(f"landed s3://{bucket}/{key}")
    return 0


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
    up.set_defaults(func=_cmd_local_up)
    tick = local_commands.add_parser("tick", help="fire a schedule now, e.g. Nightly")
    tick.add_argument("name", help="the Schedule event's name in template.yaml")
    tick.set_defaults(func=_cmd_local_tick)
    status = local_commands.add_parser("status", help="where the running local stack is")
    status.set_defaults(func=_cmd_local_status)

    ingest = commands.add_parser("ingest", help="land vendor price files (CSV/Parquet)")
    ingest.add_argument("files", nargs="+", help="price files, long form date,ticker,close[,…]")
    ingest.add_argument("--bucket", help="a deployed data bucket (default: the local stack's)")
    ingest.add_argument("--prefix", default="raw/prices", help="landing prefix (raw/prices)")
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
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, LookupError) as error:
        message = error.args[0] if isinstance(error, LookupError) and error.args else error
        print(f"stratigos: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
