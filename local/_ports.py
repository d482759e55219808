"""Listening sockets for the local stack's servers, and one clear error when a port is taken.

The stack binds each port itself before anything starts, so a port another program holds
is reported at once, as one line naming the port and the option that picks another
(not as a traceback, nor as moto's server thread exiting while the stack waits for it).
"""

from __future__ import annotations

import errno
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

__all__ = ["LocalMotoServer", "PortUnavailableError", "listening_socket"]

_LISTEN_BACKLOG = 128


class PortUnavailableError(OSError):
    """A port the local stack was told to use cannot be listened on."""

    def __init__(self, host: str, port: int, server: str, option: str, cause: OSError) -> None:
        self.host, self.port, self.server, self.option = host, port, server, option
        if cause.errno == errno.EADDRINUSE:
            why = "is in use by another program"
        elif cause.errno == errno.EACCES:
            why = "needs privileges this user lacks"
        else:
            why = f"cannot be listened on ({cause.strerror or cause})"
        super().__init__(
            cause.errno,
            f"port {port} on {host} ({server}) {why}; choose another with "
            f"{option} PORT (0 picks a free one)",
        )

    def __str__(self) -> str:
        return str(self.strerror)


def listening_socket(host: str, port: int, *, server: str, option: str) -> socket.socket:
    """A TCP socket listening on (host, port); port 0 picks a free one.

    ``SO_REUSEADDR`` as Python's and werkzeug's HTTP servers set it: a port left in
    TIME_WAIT by a stack that just stopped is free, one another program listens on is not.

    Raises
    ------
    PortUnavailableError
        The port is taken (or not ours to take); ``server`` and ``option`` name the
        server and the command-line option that chooses its port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_LISTEN_BACKLOG)
    except OSError as error:
        sock.close()
        raise PortUnavailableError(host, port, server, option, error) from error
    return sock


class LocalMotoServer:
    """moto's server (as ``moto.server.ThreadedMotoServer`` runs it) on a bound socket."""

    def __init__(self, sock: socket.socket) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        class _HostCachingDispatcher(DomainDispatcherApplication):
            """moto's dispatcher, remembering which service a host name is.

            moto looks the host up on every request, listing its own package directory
            each time (~150 ``stat`` calls): a sixth of the local stack's own CPU under load.
            The answer depends on the host alone.
            """

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.services_by_host: dict[str, Any] = {}

            def get_backend_for_host(self, host: str | None) -> Any:
                if host is None:
                    return None
                if host not in self.services_by_host:
                    service = super().get_backend_for_host(host)
                    if service is None:
                        return None
                    self.services_by_host[host] = service
                return self.services_by_host[host]

        host, port = sock.getsockname()[:2]
        application: Any = _HostCachingDispatcher(create_backend_app)
        # werkzeug serves on a duplicate of the socket's descriptor; ours is closed here.
        self._server: BaseWSGIServer = make_server(
            str(host),
            int(port),
            application,
            threaded=True,
            request_handler=MotoRequestHandler,
            fd=sock.fileno(),
        )
        sock.close()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
