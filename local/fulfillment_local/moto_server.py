"""An embedded moto server that is linearizable like the real services.

moto serves requests on several threads and its backends are not atomic: two concurrent
conditional writes can both pass their condition (seen overselling stock to -1). DynamoDB
itself is linearizable per item, so the local stack serialises every request behind one lock.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes

from moto.server import DomainDispatcherApplication, create_backend_app

from .capacity import WRITE_OPERATIONS, WriteMeter

log = logging.getLogger(__name__)

# moto 5 answers DynamoDB Streams with 404 unless account-id endpoints are off.
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")


def patch_moto_transactions() -> None:
    """Make moto's TransactWriteItems cost what it touches, not the size of the table.

    moto backs up a transaction by deep-copying the whole table (stream records included) once
    per item: a 97-item transaction on a demo-sized table took 20 s. Instead, snapshot only the
    items the transaction addresses and the stream's length, and restore those on failure.
    Semantics are unchanged: all-or-nothing, and no stream records from a cancelled transaction.
    """
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_item_level_rollback", False):
        return

    class _NoTableCopies:
        """moto's module-level `copy`, except that whole tables are not copied."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = _NoTableCopies()  # type: ignore[assignment]

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        snapshots = []
        stream_marks = {}
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            if table.stream_shard is not None and table.name not in stream_marks:
                stream_marks[table.name] = (table, len(table.stream_shard.items))
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key:
                continue
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            current = table.get_item(hash_value, range_value) if (range_value or not table.has_range_key) else None
            snapshots.append((table, hash_value, range_value, copy.deepcopy(current)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, before in reversed(snapshots):
                if range_value is not None:
                    if before is None:
                        table.items.get(hash_value, {}).pop(range_value, None)
                    else:
                        table.items[hash_value][range_value] = before
                elif before is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = before
            for table, mark in stream_marks.values():
                del table.stream_shard.items[mark:]
            raise

    transact_write_items._item_level_rollback = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def patch_moto_transaction_reads() -> None:
    """TransactGetItems takes up to 100 items, as DynamoDB has since September 2022 (moto 5 still refuses more than
    25, the old limit): a flash sale's level kept on 32 items is read in one consistent snapshot."""
    import moto.dynamodb.responses as responses

    responses.TRANSACTION_MAX_ITEMS = 100


def patch_moto_queries() -> None:
    """Make moto's Query cost what DynamoDB's does: the partition, not the table.

    moto answers every Query - also one on the table's own key - by sorting *all* items of the
    table and then filtering them (O(N log N) per call, with DynamoType comparisons). On a demo-
    sized table that made an order view take tens of milliseconds inside the serialising lock.
    Here a table Query only looks at its partition, and an index Query walks the items unsorted
    with a cheap pre-filter on the index's hash key; moto sorts and filters the candidates exactly
    as before, so the results are unchanged.
    """
    from moto.dynamodb.models.table import Table

    original = Table.query
    if getattr(original, "_partition_scoped", False):
        return

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is None:
            if hash_key is None:
                return original(self, hash_key, *args, **kwargs)
            bucket = self.items.get(hash_key)
            if bucket is None:
                candidates: list[Any] = []
            elif self.range_key_attr:
                candidates = list(bucket.values())
            else:
                candidates = [bucket]
        else:
            conditions = kwargs.get("hash_key_conditions") or []
            candidates = []
            for partition in self.items.values():
                for item in partition.values() if self.range_key_attr else [partition]:
                    attrs = item.attrs
                    for name, expected in conditions:
                        value = attrs.get(name)
                        if value is None or value.value != expected.value:
                            break
                    else:
                        candidates.append(item)
        self.all_items = lambda: candidates  # type: ignore[method-assign] # moto sorts the candidates itself
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    query._partition_scoped = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]


def patch_moto_dispatch() -> None:
    """Trim moto's per-request overhead that does not depend on the request: the list of a
    response class's method names (computed with `inspect` on every call)."""
    import functools

    import moto.core.responses as responses

    if getattr(responses.method_names_from_class, "cache_info", None) is None:
        responses.method_names_from_class = functools.cache(responses.method_names_from_class)


# The caller of the request moto is serving now (requests are serialised, so one at a time).
_current_caller: str | None = None


def patch_moto_sender_ids() -> None:
    """SQS records who sent each message (`SenderId`: the IAM principal's unique id); moto stamps one constant
    id on every message. Locally the principal is the access key id that signed SendMessage, so a queue
    consumer can tell one peer from another (the inbound queue believes a provider only from its senders)."""
    from moto.sqs.models import Message

    if getattr(Message.__init__, "_records_sender", False):
        return
    original = Message.__init__

    def __init__(self: Message, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if _current_caller:
            self.sender_id = _current_caller

    __init__._records_sender = True  # type: ignore[attr-defined]
    Message.__init__ = __init__  # type: ignore[method-assign]


class _Dispatcher(DomainDispatcherApplication):
    """moto's host-based dispatcher, with the backend app cached per signed service/region/target.

    moto finds the backend for every request by scanning its module list and URL patterns
    (~0.5 ms). An SDK request names its service in the SigV4 credential scope (and DynamoDB
    Streams in its X-Amz-Target), which decides the backend the same way every time.
    """

    def __init__(self, create_app: Any) -> None:
        super().__init__(create_app)
        self._by_scope: dict[tuple[str, str, str], Any] = {}

    def get_application(self, environ: dict[str, Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None or path.startswith(("/moto-api", "/latest/")) or path == "/favicon.ico":
            return super().get_application(environ)
        key = (scope.group(2), scope.group(1), environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0])
        app = self._by_scope.get(key)
        if app is None:
            app = self._by_scope[key] = super().get_application(environ)
        return app


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/")
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")
_LONG_POLL_RECHECK_SECONDS = 0.25


class QueueSignals:
    """Wakes whoever waits for a queue as soon as a message is sent to it (in this process).

    Long polling and the runtime's SQS pollers wait here instead of re-polling moto every few
    milliseconds: no emulator time spent on empty receives, and no added latency. Waiters still
    wake after their timeout, which covers messages becoming visible again (failed deliveries).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sent: dict[str, int] = {}

    @staticmethod
    def key(queue_url: str) -> str:
        return queue_url.rstrip("/").rsplit("/", 1)[-1]

    def generation(self, queue_url: str) -> int:
        with self._cond:
            return self._sent.get(self.key(queue_url), 0)

    def notify(self, queue_url: str) -> None:
        name = self.key(queue_url)
        with self._cond:
            self._sent[name] = self._sent.get(name, 0) + 1
            self._cond.notify_all()

    def wait(self, queue_url: str, timeout: float, since: int | None = None) -> bool:
        """Wait until a message is sent to the queue after generation `since` (default: now)."""
        name = self.key(queue_url)
        deadline = time.monotonic() + timeout
        with self._cond:
            start = self._sent.get(name, 0) if since is None else since
            while self._sent.get(name, 0) == start:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True


_READ_BODY = frozenset({"AmazonSQS.ReceiveMessage", "DynamoDBStreams_20120810.GetRecords"})
_SENDS = frozenset(
    {
        "AmazonSQS.SendMessage",
        "AmazonSQS.SendMessageBatch",
        "AmazonSQS.ChangeMessageVisibility",
        "AmazonSQS.ChangeMessageVisibilityBatch",
    }
)


class _Serialised:
    """WSGI middleware: one request at a time reaches moto, body fully read inside the lock.

    SQS long polling (WaitTimeSeconds > 0) would make moto sleep while holding the lock and stall
    every other client, so it is emulated here: short polls inside the lock, waits outside it.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self.lock = threading.Lock()
        self.requests = 0
        self.by_operation: dict[str, int] = {}
        self.by_caller: dict[str, dict[str, int]] = {}  # access key id -> operation -> calls
        self.busy_seconds: dict[str, float] = {}  # operation -> time moto spent on it (inside the lock)
        self.writes = WriteMeter()
        self.signals = QueueSignals()
        # FULFILLMENT_LOCAL_CALL_TRACE=<file>: one JSON line per DynamoDB call (caller, operation, the sort keys it
        # addressed, HTTP status) - to find where a function's calls and units go.
        trace = os.environ.get("FULFILLMENT_LOCAL_CALL_TRACE")
        self._trace = open(trace, "a", buffering=1) if trace else None  # noqa: SIM115 - lives as long as the server

    def __call__(self, environ: dict, start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rpartition(".")[2]
        metered = target.startswith("DynamoDB_") and operation in WRITE_OPERATIONS
        body: bytes | None = None
        traced = self._trace is not None and target.startswith("DynamoDB_")
        if not target or target in _READ_BODY or metered or target in _SENDS or traced:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            target = target or _operation_name(environ, body)
        caller = _caller(environ)
        with self.lock:
            self.requests += 1
            if target:
                self.by_operation[target] = self.by_operation.get(target, 0) + 1
                calls = self.by_caller.setdefault(caller, {})
                calls[target] = calls.get(target, 0) + 1
        if target == "AmazonSQS.ReceiveMessage" and body is not None:
            return self._receive_message(environ, start_response, body)
        if target == "DynamoDBStreams_20120810.GetRecords" and body is not None:
            fast = self._get_records(environ, start_response, body, caller)
            if fast is not None:
                return fast
        status: dict[str, str] = {}

        def capture_status(value: str, headers: list, exc_info: Any = None) -> Any:
            status["value"] = value
            return start_response(value, headers, exc_info) if exc_info else start_response(value, headers)

        with self.lock:
            started = time.perf_counter()
            measurement = None
            if metered:
                scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
                region = scope.group(1) if scope else "us-east-1"
                measurement = self.writes.begin(operation, caller, body or b"", _account_of(caller), region)
            global _current_caller  # noqa: PLW0603 (set and cleared inside the one lock)
            _current_caller = caller if target in _SENDS else None
            # Materialise the response inside the lock: moto may build it lazily.
            try:
                response = list(self._app(environ, capture_status))
            finally:
                _current_caller = None
            if measurement is not None:
                self.writes.end(measurement, ok=status.get("value", "").startswith("200"))
            self.busy_seconds[target] = self.busy_seconds.get(target, 0.0) + time.perf_counter() - started
            if traced and self._trace is not None:
                line = {
                    "caller": caller,
                    "op": operation,
                    "status": status.get("value", "")[:3],
                    "keys": _sort_keys(body),
                }
                self._trace.write(json.dumps(line) + "\n")
        if target in _SENDS and status.get("value", "").startswith("200"):
            try:
                self.signals.notify(json.loads(body or b"{}").get("QueueUrl", ""))
            except (ValueError, AttributeError):
                pass
        return response

    def reset_counters(self) -> None:
        with self.lock:
            self.requests = 0
            self.by_operation.clear()
            self.by_caller.clear()
            self.busy_seconds.clear()
            self.writes.reset()
            if self._trace is not None:  # the trace covers what the counters cover
                self._trace.seek(0)
                self._trace.truncate()

    def _get_records(self, environ: dict, start_response: Any, body: bytes, caller: str) -> Any:
        """GetRecords without moto's generic response serializer, which walks every attribute of
        every image against the service model (~0.3 ms a record). The records are already in wire
        format; only the timestamps need converting. Anything unusual takes moto's own path."""
        try:
            from moto.dynamodbstreams.models import dynamodbstreams_backends

            request = json.loads(body or b"{}")
            scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
            backend = dynamodbstreams_backends[_account_of(caller)][scope.group(1) if scope else "us-east-1"]
            with self.lock:
                started = time.perf_counter()
                if request["ShardIterator"] not in backend.shard_iterators:
                    return None
                result = backend.get_records(request["ShardIterator"], int(request.get("Limit") or 1000))
                payload = json.dumps(result, default=_epoch_seconds, separators=(",", ":")).encode()
                self.busy_seconds["DynamoDBStreams_20120810.GetRecords"] = (
                    self.busy_seconds.get("DynamoDBStreams_20120810.GetRecords", 0.0) + time.perf_counter() - started
                )
        except Exception:  # noqa: BLE001 - let moto produce its own answer (and error)
            return None
        start_response(
            "200 OK", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    def _receive_message(self, environ: dict, start_response: Any, body: bytes) -> Any:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = None
        if not isinstance(request, dict):
            with self.lock:
                return list(self._app(environ, start_response))
        wait = request.get("WaitTimeSeconds")
        if wait is None:
            match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
            wait = _queue_default_wait(request.get("QueueUrl", ""), match.group(1) if match else "us-east-1")
        request["WaitTimeSeconds"] = 0
        data = json.dumps(request).encode()
        deadline = time.monotonic() + float(wait or 0)
        queue_url = str(request.get("QueueUrl", ""))
        while True:
            generation = self.signals.generation(queue_url)
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list, exc_info: Any = None, _into: dict = captured) -> Any:
                _into["status"], _into["headers"] = status, headers
                return lambda _chunk: None

            attempt = dict(environ, CONTENT_LENGTH=str(len(data)))
            attempt["wsgi.input"] = io.BytesIO(data)
            with self.lock:
                started = time.perf_counter()
                chunks = list(self._app(attempt, capture))
                self.busy_seconds["AmazonSQS.ReceiveMessage"] = (
                    self.busy_seconds.get("AmazonSQS.ReceiveMessage", 0.0) + time.perf_counter() - started
                )
            payload = b"".join(chunks)
            if time.monotonic() >= deadline or not captured["status"].startswith("200") or _has_messages(payload):
                start_response(captured["status"], captured["headers"])
                return [payload]
            # Wake on the next send, or re-check soon (messages whose visibility timeout ran out).
            self.signals.wait(
                queue_url, min(_LONG_POLL_RECHECK_SECONDS, max(deadline - time.monotonic(), 0.0)), since=generation
            )


def _sort_keys(body: bytes | None) -> list[str]:
    """The sort keys a DynamoDB request names (its items' and keys' SK, a query's key condition values)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            sk = value.get("SK")
            if isinstance(sk, dict) and "S" in sk:
                found.append(str(sk["S"]))
            for name, inner in value.items():
                if name == "ExpressionAttributeValues" and isinstance(inner, dict):
                    found.extend(f"={v['S']}" for v in inner.values() if isinstance(v, dict) and "S" in v)
                elif name != "SK":
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    try:
        walk(json.loads(body or b"{}"))
    except ValueError:
        pass
    return found


def _operation_name(environ: dict, body: bytes) -> str:
    """`service.Action` for query-protocol calls, `service.METHOD` for REST ones (S3...)."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(2) if match else "unknown"
    params = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" not in params and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        params = parse_qs(body.decode("utf-8", "replace"))
    if "Action" in params:
        return f"{service}.{params['Action'][0]}"
    return f"{service}.{environ.get('REQUEST_METHOD', '')}"


def _epoch_seconds(value: Any) -> float:
    import calendar
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # moto keeps naive UTC
            return calendar.timegm(value.timetuple()) + value.microsecond / 1e6
        return value.timestamp()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _caller(environ: dict) -> str:
    """The access key id that signed the request: the local stand-in for "which IAM principal"."""
    match = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else "anonymous"


def _account_of(access_key: str) -> str:
    try:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(access_key)
    except Exception:  # noqa: BLE001
        return "123456789012"


def _has_messages(payload: bytes) -> bool:
    try:
        return bool(json.loads(payload or b"{}").get("Messages"))
    except (ValueError, AttributeError):
        return True


def _queue_default_wait(queue_url: str, region: str) -> float:
    """The queue's ReceiveMessageWaitTimeSeconds (moto runs in this process)."""
    try:
        from moto.sqs.models import sqs_backends

        account_id, name = queue_url.rstrip("/").split("/")[-2:]
        queue = sqs_backends[account_id][region].queues[name]
        return float(queue.receive_message_wait_time_seconds or 0)
    except (KeyError, ValueError, AttributeError, TypeError):
        return 0.0


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """A WSGI request handler that keeps connections open (HTTP/1.1 keep-alive).

    werkzeug's development server closes every connection after one response (its handler cannot drain a request
    body an application left unread), so every AWS call paid a TCP handshake and a new server thread: most of an
    emulated call's time. Here the body is read whole before the application runs, the response is buffered and
    sent with its length, and the connection serves the client's next call."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for the ACK in between

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536 or not self.parse_request():
            self.close_connection = True
            return
        body = self._body()
        status_line: list[str] = []
        headers: list[tuple[str, str]] = []

        def start_response(status: str, response_headers: list, exc_info: Any = None) -> Any:
            status_line[:] = [status]
            headers[:] = list(response_headers)
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        try:
            result = self.server.app(self._environ(body), start_response)  # type: ignore[attr-defined]
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:  # noqa: BLE001 - as werkzeug does: the client gets a 500, the connection lives on
            log.exception("emulator error")
            status_line[:] = ["500 Internal Server Error"]
            headers[:] = [("Content-Type", "text/plain")]
            chunks = [b"Internal Server Error"]
        payload = b"".join(chunks)
        code, _, reason = (status_line[0] if status_line else "500 Internal Server Error").partition(" ")
        self.send_response_only(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)
        self.wfile.flush()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if not size:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        if "://" in path:  # an absolute request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                environ[f"HTTP_{key}"] = value  # underscores kept: S3 metadata keys may have them
        return environ

    def log_message(self, format: str, *args: Any) -> None:  # one line per AWS call is noise
        pass


class _KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Any) -> None:
        super().__init__(address, _KeepAliveHandler)
        self.app = app


class SerialisedMotoServer:
    """moto on 127.0.0.1 with every request serialised. `endpoint_url` is what boto3 needs."""

    def __init__(self, port: int = 0) -> None:
        patch_moto_transactions()
        patch_moto_transaction_reads()
        patch_moto_queries()
        patch_moto_dispatch()
        patch_moto_sender_ids()
        self._port = port
        self._server: _KeepAliveServer | None = None
        self._thread: threading.Thread | None = None
        self.app = _Serialised(_Dispatcher(create_backend_app))

    def start(self) -> SerialisedMotoServer:
        self._server = _KeepAliveServer(("127.0.0.1", self._port), self.app)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="moto")
        self._thread.start()
        return self

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget every resource, e.g. between tests (what moto's /moto-api/reset does)."""
        from moto.core.base_backend import BackendDict
        from moto.core.models import reset_model_data

        with self.app.lock:
            BackendDict.reset()
            reset_model_data()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SerialisedMotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
