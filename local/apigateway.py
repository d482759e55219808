"""The template's REST API on http://127.0.0.1:PORT, as API Gateway REST proxy events.

Each request is matched against the routes of template.yaml (literal segments before
``{param}``), the ``x-api-key`` is checked when the route requires one, and the function's
handler receives the same event shape API Gateway sends (``requestContext`` with the key
id, ``pathParameters``, ``multiValueHeaders`` …). Refusals use the template's
``GatewayResponses`` so they speak the same envelope as in the cloud.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local._activity import log_invocation
from local.lambda_runtime import LambdaRuntime
from stack import RouteSpec, Template

__all__ = ["API_PAYLOAD_LIMIT_BYTES", "LocalApiServer", "api_key_id", "build_proxy_event"]

# API Gateway REST's own request payload limit.
API_PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
_DISCARD_LIMIT_BYTES = 64 * 1024 * 1024

# Status codes, not passwords (bandit reads "TOKEN" as one).
_DEFAULT_STATUS = {  # nosec B105
    "API_KEY_INVALID": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "THROTTLED": 429,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 502,
}


def api_key_id(api_key: str) -> str:
    """A stable id for a local key (API Gateway gives every key an id like this)."""
    return "local" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def build_proxy_event(
    *,
    template: Template,
    route: RouteSpec,
    method: str,
    raw_path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    api_key: str | None,
) -> dict[str, Any]:
    """The API Gateway REST (v1) Lambda proxy event for one request."""
    path = unquote(raw_path)
    match = route.regex.match(path)
    path_params = match.groupdict() if match else {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query = parse_qs(query, keep_blank_values=True) if query else {}
    now = datetime.now(UTC)
    stage = template.stage_name()
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_b64 = False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode(), True
    ctx = template.context
    request_id = str(uuid.uuid4())
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ctx.account_id,
            "apiId": "local",
            "resourceId": hashlib.sha1(route.path.encode(), usedforsecurity=False).hexdigest()[:6],
            "resourcePath": route.path,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "identity": {
                "sourceIp": source_ip,
                "userAgent": next((v for k, v in headers if k.lower() == "user-agent"), None),
                "apiKey": api_key,
                "apiKeyId": api_key_id(api_key) if api_key else None,
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
            },
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def _content_length(values: list[str]) -> int | None:
    """The request's body length; None when the header is malformed (400, as API Gateway)."""
    if not values:
        return 0
    lengths = {value.strip() for value in values}
    if len(lengths) != 1:
        return None
    (text,) = lengths
    if not text.isascii() or not text.isdigit():
        return None
    return int(text) if len(text) <= 19 else API_PAYLOAD_LIMIT_BYTES + _DISCARD_LIMIT_BYTES + 1


class _ApiHttpServer(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: dozens of clients connecting at once were
    # refused or reset before a thread could accept them.
    request_queue_size = 128


class LocalApiServer:
    """Serves the template's routes; ``keys`` maps each accepted API key to its tenant."""

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        keys: dict[str, str],
        host: str = "127.0.0.1",
        port: int = 3000,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        """Serve on (host, port), or on ``sock``, a socket already listening (then the
        address is the socket's)."""
        self.template = template
        self.runtime = runtime
        self.keys = dict(keys)
        self.routes = sorted(template.routes(), key=lambda r: r.specificity, reverse=True)
        self.gateway_responses = template.gateway_responses()
        if sock is None:
            self._server = _ApiHttpServer((host, port), self._handler_class())
        else:
            self._server = _ApiHttpServer(
                sock.getsockname()[:2], self._handler_class(), bind_and_activate=False
            )
            self._server.socket.close()
            self._server.socket = sock
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve_forever that never ran
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    # ---------------------------------------------------------------- request handling
    def match(self, method: str, path: str) -> RouteSpec | None:
        for route in self.routes:
            if route.method in (method, "ANY") and route.regex.match(unquote(path)):
                return route
        return None

    def gateway_response(self, kind: str) -> tuple[int, dict[str, str], bytes]:
        spec = self.gateway_responses.get(kind) or self.gateway_responses.get(
            "DEFAULT_5XX" if _DEFAULT_STATUS.get(kind, 500) >= 500 else "DEFAULT_4XX", {}
        )
        status = int(spec.get("StatusCode", _DEFAULT_STATUS.get(kind, 500)))
        if kind == "DEFAULT_5XX":
            status = 502  # a failed Lambda integration
        body = spec.get("ResponseTemplates", {}).get(
            "application/json", json.dumps({"message": kind})
        )
        return status, {"Content-Type": "application/json"}, body.encode()

    def handle(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> tuple[int, dict[str, list[str]], bytes]:
        """Answer one request: (status, headers, body)."""
        parts = urlsplit(target)
        route = self.match(method, parts.path)
        if route is None:
            status, hdrs, payload = self.gateway_response("MISSING_AUTHENTICATION_TOKEN")
            return status, {k: [v] for k, v in hdrs.items()}, payload
        api_key = next((v for k, v in headers if k.lower() == "x-api-key"), None)
        if route.api_key_required and (api_key is None or api_key not in self.keys):
            status, hdrs, payload = self.gateway_response("API_KEY_INVALID")
            return status, {k: [v] for k, v in hdrs.items()}, payload
        event = build_proxy_event(
            template=self.template,
            route=route,
            method=method,
            raw_path=parts.path,
            query=parts.query,
            headers=headers,
            body=body,
            source_ip=source_ip,
            api_key=api_key if api_key in self.keys else None,
        )
        call = self.runtime.invoke(route.function, event, trigger=f"Api:{route.event}")
        result = call.result
        answered = isinstance(result, dict) and "statusCode" in result
        log_invocation(
            call,
            f"api {method} {parts.path}",
            status=result["statusCode"] if call.ok and answered else None,
        )
        if not call.ok or not answered:
            status, hdrs, payload = self.gateway_response("DEFAULT_5XX")
            return status, {k: [v] for k, v in hdrs.items()}, payload
        out_headers: dict[str, list[str]] = {
            k: [str(v)] for k, v in (result.get("headers") or {}).items()
        }
        for k, values in (result.get("multiValueHeaders") or {}).items():
            out_headers.setdefault(k, [])
            out_headers[k].extend(str(v) for v in values if str(v) not in out_headers[k])
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return int(result["statusCode"]), out_headers, payload

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "StratigosLocalApi/1"

            def _serve(self) -> None:
                length = _content_length(self.headers.get_all("Content-Length") or [])
                if length is None:
                    # Unparseable, negative or conflicting: the body's end is unknown, so
                    # answer and close rather than read until the client gives up.
                    self.close_connection = True
                    self._refuse("DEFAULT_4XX")
                    return
                if length > API_PAYLOAD_LIMIT_BYTES:
                    if length <= _DISCARD_LIMIT_BYTES:
                        self._discard(length)
                    # else: a claim of gigabytes is answered at once, its body never read.
                    self.close_connection = True
                    self._refuse("REQUEST_TOO_LARGE")
                    return
                body = self.rfile.read(length) if length else b""
                status, headers, payload = server.handle(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                )
                self._write(status, headers, payload)

            def _discard(self, length: int) -> None:
                """Read (and drop) a refused body so the client sees the answer, not a reset.

                Bounded in bytes and time: a client claiming gigabytes it never sends is cut.
                """
                self.connection.settimeout(5)
                remaining = min(length, _DISCARD_LIMIT_BYTES)
                try:
                    while remaining > 0:
                        chunk = self.rfile.read(min(remaining, 65536))
                        if not chunk:
                            break
                        remaining -= len(chunk)
                except OSError:
                    pass

            def _refuse(self, kind: str) -> None:
                status, hdrs, payload = server.gateway_response(kind)
                self._write(status, {k: [v] for k, v in hdrs.items()}, payload)

            def send_error(
                self, code: int, message: str | None = None, explain: str | None = None
            ) -> None:
                """http.server's own refusals (414, 431, 400 …) in the envelope, not HTML."""
                self.close_connection = True
                body = json.dumps(
                    {
                        "error": {
                            "code": "BAD_REQUEST",
                            "message": message or "The request was refused by the API gateway.",
                            "details": [],
                        }
                    }
                ).encode()
                with contextlib.suppress(OSError):  # the client may be gone
                    self._write(code, {"Content-Type": ["application/json"]}, body)

            def _write(self, status: int, headers: dict[str, list[str]], payload: bytes) -> None:
                self.send_response(status)
                for name, values in headers.items():
                    if name.lower() in ("content-length", "connection"):
                        continue
                    for value in values:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return  # the runtime's invocation log is the record

        return _Handler
