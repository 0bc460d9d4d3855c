"""A fork server for execution environments: the third-party imports paid once, each worker a fork.

Opt-in (`LocalStack(preload=True)`, or `FULFILLMENT_LOCAL_PRELOAD=1`): the test suites start dozens of stacks
and hundreds of workers, and a worker's cold start is mostly `import boto3, pydantic, aws_lambda_powertools`.
With the fork server a cold start costs a fork plus the handler's own imports (the layer, the function), so
init durations are *not* Lambda's then: the demo and the bench leave it off to measure real cold starts.

The server imports only packages that read no function setting at import; each child gets the function's
environment, working directory and `PYTHONPATH` before it imports anything of ours, then runs
`fulfillment_local.worker.main` exactly as `python -m fulfillment_local.worker` would. The parent holds each child
by a pidfd (kill, poll, wait without being its parent); the server reaps the children.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import IO, Any

PRELOAD = (
    "boto3",
    "boto3.s3.transfer",
    "botocore.client",
    "botocore.session",
    "pydantic",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.parameters",
)
_MAX_MESSAGE = 1 << 20


# ---------------------------------------------------------------------- the server (its own process)
def _reap(*_: object) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(request: dict[str, Any], fds: list[int]) -> int:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()  # like start_new_session: Ctrl-C goes to the runtime, which stops workers itself
    stdin_fd, log_fd, resp_fd = fds
    os.dup2(stdin_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(stdin_fd)
    os.close(log_fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:0] = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    from fulfillment_local import worker

    return worker.main([request["handler"], str(resp_fd), request["spawned_at"]])


def serve(sock: socket.socket) -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, 3)
        except OSError:
            return
        if not message:
            return  # the runtime went away
        pid = os.fork()
        if pid == 0:
            sock.close()
            code = 1
            try:
                code = _child(json.loads(message), fds)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)  # before the server can reap it: a zombie still has its pidfd
        try:
            socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)


# ---------------------------------------------------------------------- the runtime's side
class ForkedProcess:
    """The parts of `subprocess.Popen` the runtime uses, for a process forked by the server."""

    def __init__(self, pid: int, pidfd: int, stdin: IO[bytes]) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self._pidfd = pidfd
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._pidfd], [], [], 0)[0]:
            self._exited()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            self._exited()
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def _exited(self) -> None:
        self.returncode = -1  # not our child: its status went to the server
        os.close(self._pidfd)
        if self.stdin is not None and not self.stdin.closed:
            try:
                self.stdin.close()
            except OSError:
                pass


class ForkServer:
    """Started lazily, one per stack; `spawn` is thread-safe."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "fulfillment_local.zygote", str(theirs.fileno())],
            env=self._env,
            pass_fds=(theirs.fileno(),),
            start_new_session=True,
        )
        theirs.close()
        self._sock = ours
        return ours

    def spawn(
        self, handler: str, cwd: str, env: dict[str, str], spawned_at: float, log_fd: int, resp_fd: int
    ) -> ForkedProcess:
        request = json.dumps({"handler": handler, "cwd": cwd, "env": env, "spawned_at": repr(spawned_at)}).encode()
        for _ in range(2):  # a server that died is replaced once
            stdin_read, stdin_write = os.pipe()
            try:
                with self._lock:
                    sock = self._sock or self._start()
                    try:
                        socket.send_fds(sock, [request], [stdin_read, log_fd, resp_fd])
                        answer, fds, _flags, _addr = socket.recv_fds(sock, 4096, 1)
                    except OSError:
                        answer, fds = b"", []
                    if not answer or not fds:
                        self._forget()
            finally:
                os.close(stdin_read)
            if answer and fds:
                return ForkedProcess(json.loads(answer)["pid"], fds[0], os.fdopen(stdin_write, "wb"))
            os.close(stdin_write)
        raise OSError("the fork server is gone")

    def _forget(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def stop(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._proc = None


def preload_default() -> bool:
    return os.environ.get("FULFILLMENT_LOCAL_PRELOAD", "").lower() in ("1", "true", "yes")


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
