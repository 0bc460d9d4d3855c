"""An embedded moto server that is linearizable like the real services.

moto serves requests on several threads and its backends are not atomic: two concurrent
conditional writes can both pass their condition (seen overselling stock to -1). DynamoDB
itself is linearizable per item, so the local stack serialises every request behind one lock.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

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


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/")
_LONG_POLL_STEP_SECONDS = 0.02


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

    def __call__(self, environ: dict, start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        body: bytes | None = None
        if not target or target == "AmazonSQS.ReceiveMessage":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            target = target or _operation_name(environ, body)
        with self.lock:
            self.requests += 1
            if target:
                self.by_operation[target] = self.by_operation.get(target, 0) + 1
        if target == "AmazonSQS.ReceiveMessage" and body is not None:
            return self._receive_message(environ, start_response, body)
        with self.lock:
            # Materialise the response inside the lock: moto may build it lazily.
            return list(self._app(environ, start_response))

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
        while True:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list, exc_info: Any = None, _into: dict = captured) -> Any:
                _into["status"], _into["headers"] = status, headers
                return lambda _chunk: None

            attempt = dict(environ, CONTENT_LENGTH=str(len(data)))
            attempt["wsgi.input"] = io.BytesIO(data)
            with self.lock:
                chunks = list(self._app(attempt, capture))
            payload = b"".join(chunks)
            if time.monotonic() >= deadline or not captured["status"].startswith("200") or _has_messages(
                payload
            ):
                start_response(captured["status"], captured["headers"])
                return [payload]
            time.sleep(_LONG_POLL_STEP_SECONDS)


def _operation_name(environ: dict, body: bytes) -> str:
    """`service.Action` for query-protocol calls, `service.METHOD` for REST ones (S3...)."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(2) if match else "unknown"
    params = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" not in params and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        params = parse_qs(body.decode("utf-8", "replace"))
    if "Action" in params:
        return f"{service}.{params['Action'][0]}"
    return f"{service}.{environ.get('REQUEST_METHOD', '')}"


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


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per AWS call is noise
        pass


class SerialisedMotoServer:
    """moto on 127.0.0.1 with every request serialised. `endpoint_url` is what boto3 needs."""

    def __init__(self, port: int = 0) -> None:
        patch_moto_transactions()
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = _Serialised(DomainDispatcherApplication(create_backend_app))

    def start(self) -> SerialisedMotoServer:
        self._server = make_server(
            "127.0.0.1", self._port, self.app, threaded=True, request_handler=_QuietHandler
        )
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
