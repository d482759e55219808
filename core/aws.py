"""boto3 clients with the platform's retry and timeout policy.

Constructors elsewhere take a client or a session so tests can point them anywhere; this
module is where the defaults live. ``AWS_ENDPOINT_URL`` (honoured by boto3 itself) points
every client at the local stack. :func:`register_client_handler` puts a botocore event
handler on every client made here, a resource's own client included (the platform
registers none; the tests' fault injection does).
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

__all__ = [
    "client",
    "client_config",
    "is_local_endpoint",
    "is_missing_object",
    "register_client_handler",
    "resource",
]

# Every client made here (weakly: a client dropped by its owner is not kept alive), and the
# event handlers each one gets: (event name, unique id) -> handler.
_clients: weakref.WeakSet[Any] = weakref.WeakSet()
_handlers: dict[tuple[str, str], Callable[..., Any]] = {}
_handlers_lock = threading.Lock()


def is_local_endpoint() -> bool:
    """True when ``AWS_ENDPOINT_URL`` points at a loopback server (the local stack)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    return endpoint.startswith(("http://127.", "http://localhost"))


def client_config(service: str) -> Config:
    """Standard retries with backoff and jitter, bounded timeouts; SigV4 S3, path-style locally."""
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 5},
        "connect_timeout": 5,
        "read_timeout": 30,
    }
    if service == "s3":
        # SigV4 presigned URLs (X-Amz-Expires), never the legacy SigV2 query signature.
        options["signature_version"] = "s3v4"
        if is_local_endpoint():
            options["s3"] = {"addressing_style": "path"}
    return Config(**options)


def client(service: str, session: boto3.session.Session | None = None) -> Any:
    """A boto3 client for ``service`` from ``session`` (a shared default session when None).

    Clients of the default session are cached per process, keyed by service, endpoint and
    region: creating one costs ~0.1-0.2 s (botocore loads its service model), which would
    otherwise be paid on every request of a warm Lambda. botocore clients are thread-safe.
    """
    if session is not None:
        return _with_handlers(
            session.client(service, config=client_config(service))  # type: ignore[call-overload]
        )
    return _default_client(service, *_ambient())


def _ambient() -> tuple[str, str, str]:
    """What the default session's clients depend on: endpoint, region and access key (the
    cache key of :func:`_default_client` and :func:`_default_resource`)."""
    return (
        os.environ.get("AWS_ENDPOINT_URL", ""),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", ""),
        os.environ.get("AWS_ACCESS_KEY_ID", ""),
    )


@functools.lru_cache(maxsize=64)
def _default_client(service: str, endpoint: str, region: str, access_key: str) -> Any:
    # The arguments only key the cache; boto3 reads the same values from the environment.
    del endpoint, region, access_key
    return _with_handlers(
        boto3.session.Session().client(  # type: ignore[call-overload]
            service, config=client_config(service)
        )
    )


def resource(service: str, session: boto3.session.Session | None = None) -> Any:
    """A boto3 resource for ``service`` (e.g. ``dynamodb``), made like :func:`client`.

    Its underlying client (``resource.meta.client``) has the same retry and timeout policy
    and endpoint, and gets every handler :func:`register_client_handler` registers. Resources
    of the default session are cached per process like its clients; take a fresh
    sub-resource (``resource.Table(name)``) per use rather than sharing one across threads.
    """
    if session is not None:
        made = session.resource(service, config=client_config(service))  # type: ignore[call-overload]
        _with_handlers(made.meta.client)
        return made
    return _default_resource(service, *_ambient())


@functools.lru_cache(maxsize=16)
def _default_resource(service: str, endpoint: str, region: str, access_key: str) -> Any:
    # The arguments only key the cache, as for _default_client.
    del endpoint, region, access_key
    made = boto3.session.Session().resource(  # type: ignore[call-overload]
        service, config=client_config(service)
    )
    _with_handlers(made.meta.client)
    return made


def register_client_handler(event_name: str, handler: Callable[..., Any], unique_id: str) -> None:
    """Register a botocore event handler on every client :func:`client` has made or will make.

    botocore's event system is per client (``client.meta.events``): a handler registered on
    a session reaches only the clients that session creates afterwards, and the clients
    cached here live as long as the process. This reaches them all, through botocore's
    public ``register``, for instrumentation of a whole process (the tests' fault
    injection). ``unique_id`` makes registering the same handler again harmless.

    Parameters
    ----------
    event_name : str
        A botocore event, e.g. ``before-send`` or ``after-call.s3.PutObject``.
    handler : callable
        Called with the event's keyword arguments, as botocore documents for the event.
    unique_id : str
        Identifies the registration (botocore's ``unique_id``: one handler per id and
        client, whatever the event, so each event needs an id of its own).
    """
    with _handlers_lock:
        _handlers[(event_name, unique_id)] = handler
        clients = list(_clients)
    for made in clients:
        made.meta.events.register(event_name, handler, unique_id=unique_id)


def _with_handlers(made: Any) -> Any:
    """Track a new client and give it every registered handler."""
    with _handlers_lock:
        _clients.add(made)
        handlers = list(_handlers.items())
    for (event_name, unique_id), handler in handlers:
        made.meta.events.register(event_name, handler, unique_id=unique_id)
    return made


def is_missing_object(error: ClientError, s3: Any, bucket: str, key: str) -> bool:
    """Whether a failed S3 GET of ``key`` means "no such object".

    S3 answers 404 only to a caller allowed an unconditional ``s3:ListBucket``. Our roles may
    list only under their datasets' prefixes (template.yaml), so in AWS a missing object is a
    403, which a listing of that very key tells apart from a real refusal.
    """
    code = error.response.get("Error", {}).get("Code")
    if code in ("NoSuchKey", "404"):
        return True
    if code != "AccessDenied":
        return False
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return not any(obj["Key"] == key for obj in listing.get("Contents", []))
