"""A Lambda execution environment: one subprocess, one function, one invocation at a time.

Started by `functions._Worker` as `python -m fulfillment_local.worker <handler> <resp-fd> <spawned-at>`
with the function's environment and its code directory as cwd. Requests arrive as JSON lines on
stdin, answers leave as JSON lines on `resp-fd`; stdout/stderr are the function's log file. Keep
this module free of heavy imports: interpreter start plus handler import is the init duration.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes and method of the Python runtime's context object."""

    def __init__(self, request_id: str, deadline_ms: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = os.environ.get("_LOCAL_FUNCTION_ARN", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.aws_request_id = request_id
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


class _Encoder(json.JSONEncoder):
    """Like the Lambda runtime's marshaller: Decimal becomes a number."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return float(o)
        return super().default(o)


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[1:],
    }


def _write(fd: int, message: dict[str, Any]) -> None:
    try:
        data = json.dumps(message, cls=_Encoder, ensure_ascii=False).encode() + b"\n"
    except (TypeError, ValueError) as exc:
        data = (
            json.dumps({"id": message.get("id"), "ok": False, **_error(exc, "Runtime.MarshalError")}).encode() + b"\n"
        )
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


_sdk_cpu = [0.0]  # CPU seconds spent inside AWS SDK calls (building, signing, serialising, parsing)


def _meter_sdk_cpu() -> None:
    """Count the CPU the handler spends inside botocore calls, so its own CPU can be told from the SDK's. Waiting
    for the answer is not CPU time: process_time() leaves it out."""
    client_module = sys.modules.get("botocore.client")
    if client_module is None:
        return
    base = client_module.BaseClient
    original = base._make_api_call

    def metered(self: Any, operation_name: str, api_params: Any) -> Any:
        began = time.process_time()
        try:
            return original(self, operation_name, api_params)
        finally:
            _sdk_cpu[0] += time.process_time() - began

    base._make_api_call = metered


def main(argv: list[str]) -> int:
    handler_spec, resp_fd = argv[0], int(argv[1])
    spawned_at = float(argv[2]) if len(argv) > 2 else time.time()  # the parent's clock at spawn
    requests = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the handler must not read our protocol
    sys.path.insert(0, os.getcwd())

    try:
        handler = _load_handler(handler_spec)
    except BaseException as exc:  # noqa: BLE001 - an init failure is reported, not raised
        kind = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else "Runtime.HandlerInitError"
        traceback.print_exc()
        _write(resp_fd, {"type": "init", "ok": False, **_error(exc, kind)})
        return 1
    init_ms = (time.time() - spawned_at) * 1000  # like Lambda's Init Duration: runtime start + import
    _meter_sdk_cpu()
    _write(resp_fd, {"type": "init", "ok": True, "init_ms": init_ms})

    first = True
    for line in requests:
        request = json.loads(line)
        request_id = request["request_id"]
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id", "")
        context = LambdaContext(request_id, request["deadline_ms"])
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        began = time.perf_counter()
        began_cpu = time.process_time()
        began_sdk = _sdk_cpu[0]
        try:
            result = handler(request["event"], context)
            answer: dict[str, Any] = {"id": request["id"], "ok": True, "result": result}
        except Exception as exc:  # noqa: BLE001 - a handler error is the invocation's result
            error = _error(exc)
            print(json.dumps({**error, "requestId": request_id}), flush=True)
            answer = {"id": request["id"], "ok": False, **error}
        duration = (time.perf_counter() - began) * 1000
        cpu = (time.process_time() - began_cpu) * 1000  # this process only: the emulator's work is not in it
        sys.stderr.flush()
        print(f"END RequestId: {request_id}", flush=True)
        init_note = f"\tInit Duration: {init_ms:.2f} ms" if first else ""
        first = False
        print(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms{init_note}", flush=True)
        answer["duration_ms"] = duration
        answer["cpu_ms"] = cpu
        answer["sdk_cpu_ms"] = (_sdk_cpu[0] - began_sdk) * 1000
        _write(resp_fd, answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
