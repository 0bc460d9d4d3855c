"""API Gateway (REST API, Lambda proxy integration) on 127.0.0.1.

Routes come from the functions' `Type: Api` events. A request is matched like API Gateway does:
the most specific resource first (static segments beat `{param}`, which beats `{proxy+}`), then
the method (exact, then ANY). The function gets a proxy (payload v1) event; its response document
becomes the HTTP response. No resource/method -> 403 "Missing Authentication Token"; a failed or
malformed invocation -> 502; a body over 10 MB -> 413.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from .cfn import ACCOUNT_ID
from .functions import InvocationResult

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024
_DRAIN_LIMIT = 64 * 1024 * 1024
Invoker = Callable[[str, Any], InvocationResult]


@dataclass(frozen=True)
class Route:
    function: str
    method: str  # upper case, or ANY
    path: str  # as in the template: /orders/{order_id}
    stage: str
    api_id: str

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


class Router:
    def __init__(self, routes: list[Route] | None = None) -> None:
        self.routes: list[Route] = list(routes or [])

    def add(self, route: Route) -> None:
        self.routes.append(route)

    def match(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]] | None:
        """The route for a request, with its path parameters; None if API Gateway would say 403."""
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for path in {r.path for r in self.routes}:
            params = _match_path([s for s in path.split("/") if s], segments)
            if params is None:
                continue
            score = _specificity([s for s in path.split("/") if s])
            if best is None or score > best[0]:
                best = (score, path, params)
        if best is None:
            return None
        _, path, params = best
        candidates = [r for r in self.routes if r.path == path]
        for wanted in (method, "ANY"):
            for route in candidates:
                if route.method == wanted:
                    return route, params
        return None


def _match_path(pattern: list[str], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[i:]
            if not rest:
                return None
            params[part[1:-2]] = "/".join(rest)
            return params
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[i]
        elif part != segments[i]:
            return None
    return params if len(pattern) == len(segments) else None


def _specificity(pattern: list[str]) -> tuple[int, ...]:
    kinds = []
    for part in pattern:
        if part.endswith("+}"):
            kinds.append(0)
        elif part.startswith("{"):
            kinds.append(1)
        else:
            kinds.append(2)
    return tuple(kinds)


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of parallel clients (40 shoppers at
    # the same moment) would see connection resets that API Gateway never gives.
    request_queue_size = 256


class ApiGateway:
    """The HTTP server. Bind first (the port is part of the stack's outputs), add routes, serve."""

    def __init__(self, invoke: Invoker, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.router = Router()
        self.invoke = invoke
        # Documents served as they are, beside the API's routes (the OpenAPI description and its Swagger UI).
        self.static: dict[str, tuple[str, bytes]] = {}
        self.requests = 0
        self.by_status: dict[int, int] = {}
        self._stats_lock = threading.Lock()
        handler = type("_BoundHandler", (_Handler,), {"gateway": self})
        self._server = _Server((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="api")

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def count(self, status: int) -> None:
        with self._stats_lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {"requests": self.requests, "by_status": dict(sorted(self.by_status.items()))}

    def event_for(
        self,
        route: Route,
        params: dict[str, str],
        *,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> dict[str, Any]:
        """The API Gateway REST proxy (payload v1) event."""
        single_headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            single_headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        # API Gateway adds these; the functions build public links from them (http.public_base_url).
        for name, value in (("X-Forwarded-Proto", "http"), ("X-Forwarded-Port", str(self._server.server_address[1]))):
            single_headers[name] = value
            multi_headers[name] = [value]
        pairs = parse_qsl(query, keep_blank_values=True)
        single_query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for name, value in pairs:
            single_query[name] = value
            multi_query.setdefault(name, []).append(value)
        try:
            text: str | None = body.decode("utf-8") if body else None
            encoded = False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = time.time()
        request_id = str(uuid.uuid4())
        lower = {k.lower(): v for k, v in single_headers.items()}
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": single_headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": single_query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": route.api_id,
                "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.path).hex[:6],
                "resourcePath": route.path,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestId": request_id,
                "requestTime": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now * 1000),
                "path": f"/{route.stage}{path}",
                "stage": route.stage,
                "protocol": "HTTP/1.1",
                "domainName": lower.get("host", "127.0.0.1"),
                "domainPrefix": lower.get("host", "127.0.0.1").split(".")[0],
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": lower.get("user-agent"),
                    "accountId": None,
                    "apiKey": None,
                    "apiKeyId": None,
                    "caller": None,
                    "cognitoAuthenticationProvider": None,
                    "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "principalOrgId": None,
                    "user": None,
                    "userArn": None,
                    "accessKey": None,
                },
            },
            "body": text,
            "isBase64Encoded": encoded,
        }


def _response_from(payload: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP response for a proxy integration result; ValueError if API Gateway would reject it."""
    status = payload.get("statusCode") if isinstance(payload, dict) else None
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError("Malformed Lambda proxy response: statusCode missing or not an HTTP status")
    headers: list[tuple[str, str]] = []
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(multi, dict):
        raise ValueError("Malformed Lambda proxy response: multiValueHeaders")
    for name, values in multi.items():
        for value in values if isinstance(values, list) else [values]:
            headers.append((name, str(value)))
    seen = {name.lower() for name in multi}
    single = payload.get("headers") or {}
    if not isinstance(single, dict):
        raise ValueError("Malformed Lambda proxy response: headers")
    for name, value in single.items():
        if name.lower() not in seen:
            headers.append((name, str(value)))
    body = payload.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise ValueError("Malformed Lambda proxy response: body must be a string")
    elif payload.get("isBase64Encoded"):
        data = base64.b64decode(body)
    else:
        data = body.encode("utf-8")
    return status, headers, data


class _Handler(BaseHTTPRequestHandler):
    gateway: ApiGateway
    protocol_version = "HTTP/1.1"
    server_version = "LocalApiGateway"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        log.debug("api: " + format, *args)

    def _handle(self) -> None:
        method = self.command.upper()
        raw_path, _, query = self.path.partition("?")
        raw_path = raw_path.split("#", 1)[0] or "/"
        segments = [unquote(s) for s in raw_path.split("/") if s]
        path = "/" + "/".join(segments)

        body, too_large = self._read_body()
        if too_large:
            self._send_json(413, {"message": "Request Too Long"}, close=True)
            return
        static = self.gateway.static.get(path) if method in ("GET", "HEAD") else None
        if static is not None:
            content_type, data = static
            self._send(200, [("Content-Type", content_type)], data if method == "GET" else b"")
            return
        matched = self.gateway.router.match(method, segments)
        if matched is None:
            self._send_json(403, {"message": "Missing Authentication Token"})
            return
        route, params = matched
        event = self.gateway.event_for(
            route,
            params,
            method=method,
            path=path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )
        result = self.gateway.invoke(route.function, event)
        if not result.ok:
            self._send_json(502, {"message": "Internal server error"}, request_id=event["requestContext"]["requestId"])
            return
        try:
            status, headers, data = _response_from(result.payload)
        except ValueError as exc:
            log.warning("%s: %s", route.function, exc)
            self._send_json(502, {"message": "Internal server error"}, request_id=event["requestContext"]["requestId"])
            return
        self._send(status, headers, data, request_id=event["requestContext"]["requestId"])

    def _read_body(self) -> tuple[bytes, bool]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    return b"", True
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks), False
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            if length <= _DRAIN_LIMIT:  # read it anyway, so the client sees the 413, not a reset
                while length > 0:
                    length -= len(self.rfile.read(min(length, 1 << 20)) or b"\0" * length)
            return b"", True
        return (self.rfile.read(length) if length else b""), False

    def _send_json(self, status: int, document: dict[str, Any], *, close: bool = False, request_id: str = "") -> None:
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", _error_type(status))]
        self._send(status, headers, json.dumps(document).encode(), close=close, request_id=request_id)

    def _send(
        self,
        status: int,
        headers: list[tuple[str, str]],
        data: bytes,
        *,
        close: bool = False,
        request_id: str = "",
    ) -> None:
        self.gateway.count(status)
        self.send_response(status)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (a load test stopping): no one to answer
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def _error_type(status: int) -> str:
    return {403: "MissingAuthenticationTokenException", 413: "RequestTooLongException"}.get(
        status, "InternalServerErrorException"
    )
