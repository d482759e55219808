"""A port another program holds stops the local stack at once, with one clear message."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import LocalStack, LocalStackOptions, PortUnavailableError


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize(
    ("field", "option", "server"),
    [("api_port", "--port", "local API"), ("aws_port", "--aws-port", "moto, the AWS endpoint")],
)
def test_a_taken_port_is_told_before_anything_starts(
    taken_port: int, tmp_path: Path, field: str, option: str, server: str
) -> None:
    # Another stack's state file in the same directory: a stack that failed to start
    # must not remove it.
    state_file = tmp_path / "local.json"
    state_file.write_text("{}")
    ports = {"api_port": 0, "aws_port": 0, field: taken_port}
    stack = LocalStack(LocalStackOptions(state_file=state_file, **ports))
    with pytest.raises(PortUnavailableError) as error:
        stack.start()
    assert str(error.value) == (
        f"port {taken_port} on 127.0.0.1 ({server}) is in use by another program; "
        f"choose another with {option} PORT (0 picks a free one)"
    )
    assert stack.endpoint_url == ""  # moto never started
    assert state_file.read_text() == "{}"
    if stack.api is not None:  # the API's socket, bound first, is released
        with socket.create_server(("127.0.0.1", int(stack.api.url.rsplit(":", 1)[1]))):
            pass
