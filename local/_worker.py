"""One local execution environment: ``python -m local._worker IN_FD OUT_FD``.

The process the local runtime starts for a function, as Lambda starts an execution
environment: it imports the function's handler once (the *init*, timed as Lambda's "Init
Duration"), then serves one invocation at a time for as long as the runtime keeps it, its
module state (cached clients, settings, warm imports) its own.

It speaks to the runtime over two inherited pipes, never over stdout, which the handler's
logs use: each message is a 4-byte big-endian length and that many bytes of JSON.

* runtime → environment, first: ``{"handler": "module.attr", "preload": [modules]}``;
  answered ``{"init_s": seconds}`` or ``{"init_s": seconds, "error": {...}}``.
* then, per invocation: ``{"event": ..., "context": {...}}``; answered ``{"result": ...}``
  or ``{"error": {"errorMessage", "errorType", "stackTrace"}}``, Lambda's error shape.

Events and results cross as JSON, as they do in Lambda: a result that is not JSON is the
invocation's ``Runtime.MarshalError``. The environment ends when its input pipe closes
(the runtime stopped, or died).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

_HEADER = struct.Struct(">I")


def read_message(stream: IO[bytes]) -> Any | None:
    """The next message, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        return None
    return json.loads(payload)


def write_message(stream: IO[bytes], message: Any) -> None:
    """Send one message (the caller makes it JSON; ``allow_nan`` stays Lambda-strict)."""
    payload = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def error_payload(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """Lambda's error shape for an exception."""
    return {
        "errorMessage": str(error) or type(error).__name__,
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_exception(error)[-6:],
    }


class EnvironmentContext:
    """The Lambda context attributes handlers and Powertools read, rebuilt in the environment."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name: str = fields["function_name"]
        self.function_version: str = fields["function_version"]
        self.invoked_function_arn: str = fields["invoked_function_arn"]
        self.memory_limit_in_mb: int = fields["memory_limit_in_mb"]
        self.aws_request_id: str = fields["aws_request_id"]
        self.log_group_name: str = fields["log_group_name"]
        self.log_stream_name: str = fields["log_stream_name"]
        self._deadline = time.monotonic() + fields["remaining_ms"] / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _init(request: dict[str, Any]) -> tuple[Callable[[Any, Any], Any] | None, dict[str, Any]]:
    start = time.perf_counter()
    try:
        for module in request.get("preload", []):
            importlib.import_module(module)
        module_name, _, attr = str(request["handler"]).rpartition(".")
        function = getattr(importlib.import_module(module_name), attr)
        if not callable(function):
            raise TypeError(f"{request['handler']} is not callable")
    except Exception as error:  # the init's failure is every invocation's answer
        return None, {
            "init_s": time.perf_counter() - start,
            "error": error_payload(error, "Runtime.ImportModuleError"),
        }
    return function, {"init_s": time.perf_counter() - start}


def _invoke(handler: Callable[[Any, Any], Any], request: dict[str, Any]) -> dict[str, Any]:
    cpu = time.process_time()  # the call's CPU time, whatever else the machine runs
    try:
        result = handler(request["event"], EnvironmentContext(request["context"]))
    except Exception as error:
        return {"error": error_payload(error), "cpu_s": time.process_time() - cpu}
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as error:
        return {"error": error_payload(error, "Runtime.MarshalError")}
    return {"result": result, "cpu_s": time.process_time() - cpu}


def serve(incoming: IO[bytes], outgoing: IO[bytes]) -> None:
    """Init, then answer invocations until the runtime closes the pipe."""
    request = read_message(incoming)
    if request is None:
        return
    handler, answer = _init(request)
    write_message(outgoing, answer)
    if handler is None:
        return
    while (request := read_message(incoming)) is not None:
        write_message(outgoing, _invoke(handler, request))


def main(argv: list[str]) -> None:
    in_fd, out_fd = int(argv[1]), int(argv[2])
    with (
        os.fdopen(in_fd, "rb") as incoming,
        os.fdopen(out_fd, "wb") as outgoing,
        contextlib.suppress(BrokenPipeError),  # the runtime went away mid-answer
    ):
        serve(incoming, outgoing)


if __name__ == "__main__":
    main(sys.argv)
