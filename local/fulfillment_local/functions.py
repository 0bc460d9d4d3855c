"""Functions as Lambda runs them: a pool of execution environments (worker subprocesses) each.

Every function's handler module is called `app`, and every function has its own environment
variables, so handlers cannot share one interpreter. Each worker imports its handler once (the
cold start, measured as init duration) and then serves one invocation at a time. A pool grows
lazily up to the function's maximum concurrency; further invocations wait for a free worker.
A handler that exceeds its Timeout is killed and its worker replaced.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .chaos import Chaos, FaultPoint
from .zygote import ForkServer

INIT_TIMEOUT_SECONDS = 30.0  # Lambda allows 10 s; a loaded laptop importing boto3 + pydantic needs slack
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class Activity:
    """Work in flight across the whole runtime, and a generation bumped on every change.

    `wait_idle` treats the stack as idle only when nothing is in flight and the generation did
    not move between two looks at the queues and streams.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.generation = 0

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.generation += 1

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.generation += 1

    def touch(self) -> None:
        with self._lock:
            self.generation += 1

    @contextmanager
    def busy(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        finally:
            self.end()


@dataclass
class FunctionSpec:
    """Everything needed to run one function locally (all values already evaluated)."""

    logical_id: str
    function_name: str
    arn: str
    code_dir: Path
    handler: str
    timeout: float
    memory_size: int
    env: dict[str, str]
    log_path: Path
    max_concurrency: int = 4


@dataclass
class InvocationResult:
    function: str
    request_id: str
    ok: bool
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None
    stack_trace: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    cpu_ms: float = 0.0  # the handler's CPU time (the worker process's; the emulator runs elsewhere)
    sdk_cpu_ms: float = 0.0  # the part of it spent inside AWS SDK calls
    init_ms: float | None = None
    chaos: FaultPoint | None = None

    @property
    def cold_start(self) -> bool:
        return self.init_ms is not None

    def error_payload(self) -> dict[str, Any]:
        """The error document Lambda returns for a failed invocation."""
        return {
            "errorType": self.error_type,
            "errorMessage": self.error_message,
            "requestId": self.request_id,
            "stackTrace": self.stack_trace,
        }


class InvocationError(Exception):
    """`LocalStack.invoke` raises this when the function failed."""

    def __init__(self, result: InvocationResult) -> None:
        super().__init__(f"{result.function}: {result.error_type}: {result.error_message}")
        self.result = result


class _WorkerGone(Exception):
    pass


class _Worker:
    """One execution environment."""

    def __init__(self, spec: FunctionSpec, log_fd: int, fork_server: ForkServer | None = None) -> None:
        self.spec = spec
        self._log_fd = log_fd
        self._spawned_at = time.monotonic()
        self._buffer = b""
        self.init_ms: float | None = None
        resp_read, resp_write = os.pipe()
        try:
            self.proc: Any = self._start(fork_server, resp_write)
        except BaseException:
            os.close(resp_read)
            raise
        finally:
            os.close(resp_write)
        self._resp_fd = resp_read

    def _start(self, fork_server: ForkServer | None, resp_write: int) -> Any:
        spec = self.spec
        if fork_server is not None:
            return fork_server.spawn(spec.handler, str(spec.code_dir), spec.env, time.time(), self._log_fd, resp_write)
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "fulfillment_local.worker", spec.handler, str(resp_write), repr(time.time())],
            cwd=spec.code_dir,
            env=spec.env,
            stdin=subprocess.PIPE,
            stdout=self._log_fd,
            stderr=self._log_fd,
            pass_fds=(resp_write,),
            start_new_session=True,  # Ctrl-C goes to the runtime, which stops workers itself
        )

    def init(self) -> dict[str, Any]:
        """Wait for the handler import; the answer says ok/init_ms or the init error."""
        try:
            answer = self._read(INIT_TIMEOUT_SECONDS)
        except TimeoutError:
            self.kill()
            return {
                "ok": False,
                "errorType": "Runtime.InitTimeout",
                "errorMessage": f"Init did not finish in {INIT_TIMEOUT_SECONDS:.0f} seconds",
            }
        except _WorkerGone:
            return {"ok": False, "errorType": "Runtime.ExitError", "errorMessage": "exited during init"}
        # From process start: the runtime's own start is part of Lambda's init duration too.
        answer["init_ms"] = (time.monotonic() - self._spawned_at) * 1000
        self.init_ms = answer["init_ms"]
        return answer

    def invoke(self, event: Any, request_id: str, timeout: float) -> dict[str, Any]:
        deadline_ms = time.time() * 1000 + timeout * 1000
        request = {
            "id": request_id,
            "request_id": request_id,
            "event": event,
            "deadline_ms": deadline_ms,
            "trace_id": _trace_id(),
        }
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _WorkerGone() from exc
        return self._read(timeout + 0.05)

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError()
            ready, _, _ = select.select([self._resp_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._resp_fd, 1 << 20)
            if not chunk:
                raise _WorkerGone()
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_fds()

    def stop(self) -> None:
        """Graceful: close stdin so the worker's loop ends; kill if it does not."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._close_fds()

    def _close_fds(self) -> None:
        if self._resp_fd >= 0:
            os.close(self._resp_fd)
            self._resp_fd = -1


class FunctionRuntime:
    """The pool of workers of one function, plus its invocation statistics."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        activity: Activity,
        chaos: Chaos | None = None,
        fork_server: ForkServer | None = None,
    ) -> None:
        self.spec = spec
        self._fork_server = fork_server
        self._activity = activity
        self._chaos = chaos
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_fd = os.open(spec.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._spawning = 0
        self._closed = False
        # statistics
        self.invocations = 0
        self.errors = 0
        self.timeouts = 0
        self.chaos_faults = 0
        self.init_ms: list[float] = []
        self.durations_ms: deque[float] = deque(maxlen=10_000)
        self.cpu_ms_total = 0.0
        self.warm_cpu_ms = 0.0
        self.warm_sdk_cpu_ms = 0.0
        self.warm_records = 0
        # (records, the handler's own CPU ms) of warm invocations: what a record costs apart from the invocation
        self.warm_samples: deque[tuple[int, float]] = deque(maxlen=20_000)
        self.busy = 0
        self.peak_concurrency = 0

    # -- pool
    def _acquire(self) -> _Worker | None:
        """A warm worker, or None meaning "a slot is reserved for you: spawn a new one"."""
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.spec.logical_id}: runtime is stopped")
                if self._idle:
                    return self._idle.pop()
                if len(self._workers) + self._spawning < self.spec.max_concurrency:
                    self._spawning += 1
                    return None
                self._cond.wait()

    def _release(self, worker: _Worker, *, keep: bool) -> None:
        with self._cond:
            if keep and not self._closed:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
            self._cond.notify()

    def _spawn(self) -> tuple[_Worker | None, dict[str, Any]]:
        """Start a worker in the reserved slot; returns it (registered) and its init answer."""
        try:
            worker = _Worker(self.spec, self._log_fd, self._fork_server)
        except OSError as exc:
            with self._cond:
                self._spawning -= 1
                self._cond.notify()
            return None, {"ok": False, "errorType": "Runtime.ExitError", "errorMessage": str(exc)}
        answer = worker.init()
        with self._cond:
            self._spawning -= 1
            self._workers.add(worker)
        return worker, answer

    # -- invocation
    def invoke(self, event: Any) -> InvocationResult:
        request_id = str(uuid.uuid4())
        with self._activity.busy():
            with self._cond:
                self.invocations += 1
            result = self._invoke(event, request_id)
        with self._cond:
            if not result.ok:
                self.errors += 1
            if result.chaos:
                self.chaos_faults += 1
            if result.error_type == "Sandbox.Timedout":
                self.timeouts += 1
            if result.init_ms is not None:
                self.init_ms.append(result.init_ms)
            self.durations_ms.append(result.duration_ms)
            self.cpu_ms_total += result.cpu_ms
            if result.ok and result.init_ms is None:  # warm: no first-use setup (clients, models) in it
                records = event.get("Records") if isinstance(event, dict) else None
                self.warm_cpu_ms += result.cpu_ms
                self.warm_sdk_cpu_ms += result.sdk_cpu_ms
                count = len(records) if isinstance(records, list) and records else 1
                self.warm_records += count
                self.warm_samples.append((count, round(result.cpu_ms - result.sdk_cpu_ms, 3)))
        return result

    def _invoke(self, event: Any, request_id: str) -> InvocationResult:
        name = self.spec.logical_id
        fault = self._chaos.fault(name) if self._chaos else None
        if fault == "before":
            return InvocationResult(
                name,
                request_id,
                False,
                error_type="ChaosFault",
                error_message="injected fault before the handler ran",
                chaos=fault,
            )
        worker = self._acquire()
        init_ms: float | None = None
        if worker is None:
            worker, answer = self._spawn()
            init_ms = answer.get("init_ms")
            if worker is None or not answer.get("ok"):
                if worker is not None:
                    worker.kill()
                    self._release(worker, keep=False)
                return InvocationResult(
                    name,
                    request_id,
                    False,
                    error_type=answer.get("errorType"),
                    error_message=answer.get("errorMessage"),
                    stack_trace=answer.get("stackTrace", []),
                    init_ms=init_ms,
                )
        started = time.monotonic()
        with self._cond:
            self.busy += 1
            self.peak_concurrency = max(self.peak_concurrency, self.busy)
        try:
            answer = worker.invoke(event, request_id, self.spec.timeout)
        except TimeoutError:
            worker.kill()
            self._release(worker, keep=False)
            message = f"Task timed out after {self.spec.timeout:.2f} seconds"
            self._log(f"{_now_iso()} {request_id} {message}\n")
            return InvocationResult(
                name,
                request_id,
                False,
                error_type="Sandbox.Timedout",
                error_message=message,
                duration_ms=(time.monotonic() - started) * 1000,
                init_ms=init_ms,
            )
        except _WorkerGone:
            worker.kill()
            self._release(worker, keep=False)
            message = f"RequestId: {request_id} Error: Runtime exited without providing a reason"
            self._log(message + "\n")
            return InvocationResult(
                name,
                request_id,
                False,
                error_type="Runtime.ExitError",
                error_message=message,
                duration_ms=(time.monotonic() - started) * 1000,
                init_ms=init_ms,
            )
        finally:
            with self._cond:
                self.busy -= 1
        self._release(worker, keep=True)
        duration = float(answer.get("duration_ms", (time.monotonic() - started) * 1000))
        cpu = float(answer.get("cpu_ms", 0.0))
        sdk_cpu = float(answer.get("sdk_cpu_ms", 0.0))
        if fault == "after":
            return InvocationResult(
                name,
                request_id,
                False,
                error_type="ChaosFault",
                error_message="injected fault after the handler ran",
                duration_ms=duration,
                cpu_ms=cpu,
                init_ms=init_ms,
                chaos=fault,
            )
        if answer.get("ok"):
            return InvocationResult(
                name,
                request_id,
                True,
                payload=answer.get("result"),
                duration_ms=duration,
                cpu_ms=cpu,
                sdk_cpu_ms=sdk_cpu,
                init_ms=init_ms,
            )
        return InvocationResult(
            name,
            request_id,
            False,
            error_type=answer.get("errorType"),
            error_message=answer.get("errorMessage"),
            stack_trace=answer.get("stackTrace", []),
            duration_ms=duration,
            cpu_ms=cpu,
            init_ms=init_ms,
        )

    def _log(self, text: str) -> None:
        try:
            os.write(self._log_fd, text.encode())
        except OSError:
            pass

    # -- reporting / lifecycle
    def stats(self) -> dict[str, Any]:
        with self._cond:
            durations = sorted(self.durations_ms)
            inits = list(self.init_ms)
            return {
                "invocations": self.invocations,
                "errors": self.errors,
                "timeouts": self.timeouts,
                "chaos_faults": self.chaos_faults,
                "cold_starts": len(inits),
                "init_ms": {
                    "count": len(inits),
                    "mean": round(sum(inits) / len(inits), 1) if inits else None,
                    "max": round(max(inits), 1) if inits else None,
                },
                "duration_ms": {
                    "p50": _percentile(durations, 0.50),
                    "p95": _percentile(durations, 0.95),
                    "max": round(durations[-1], 1) if durations else None,
                },
                "cpu_ms_total": round(self.cpu_ms_total, 1),
                # CPU per record of warm invocations (records: an SQS/stream batch's, else 1 per invocation)
                "warm_cpu_ms": round(self.warm_cpu_ms, 1),
                "warm_sdk_cpu_ms": round(self.warm_sdk_cpu_ms, 1),
                "warm_records": self.warm_records,
                "warm_samples": list(self.warm_samples),
                "workers": len(self._workers),
                "busy": self.busy,
                "peak_concurrency": self.peak_concurrency,
            }

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers = list(self._workers)
            self._idle.clear()
            self._cond.notify_all()
        for worker in workers:
            worker.stop()
        os.close(self._log_fd)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def _trace_id() -> str:
    """An X-Ray trace header like Lambda's (not sampled: nothing is sent anywhere)."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def worker_base_env() -> dict[str, str]:
    """Environment every worker starts from (not the parent's: a function sees only its own)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": "UTC",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for key in ("HOME", "TMPDIR", "SYSTEMROOT"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def package_root() -> str:
    """Directory holding `fulfillment_local`, so workers can always import `fulfillment_local.worker`."""
    return _PACKAGE_ROOT
