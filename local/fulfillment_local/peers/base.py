"""What every peer needs: a clock of scheduled actions, an HTTP client that retries like real
senders do, secrets read the way an integrator configures them, and timestamps."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

log = logging.getLogger("fulfillment_local.peers")


# ====================================================================== time
def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None = None) -> str:
    """ISO-8601 UTC with microseconds, the form our own contracts use."""
    return (value or utc_now()).astimezone(UTC).isoformat(timespec="microseconds")


def iso_z(value: datetime | None = None) -> str:
    """2024-08-02T19:26:52Z (EasyPost, AfterShip)."""
    return (value or utc_now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ====================================================================== scheduler
class Scheduler:
    """Runs actions at their due time on a small thread pool; knows when nothing is left to do.

    Peers express every delay (pay later, accept after 2 s, deliver after 5 s...) as `after()`.
    `idle()` is true when nothing is scheduled and nothing is running - the demo's quiescence test.
    """

    def __init__(self, workers: int = 16, name: str = "peers") -> None:
        self._heap: list[tuple[float, int, Callable[[], Any], str]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._outstanding = 0
        self._stopped = False
        self.errors: list[str] = []
        self.done: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._run, name=f"{name}-clock", daemon=True)
        self._thread.start()

    def after(self, delay: float, action: Callable[[], Any], label: str = "action") -> None:
        with self._cond:
            if self._stopped:
                return
            self._outstanding += 1
            heapq.heappush(self._heap, (time.monotonic() + max(delay, 0.0), next(self._seq), action, label))
            self._cond.notify()

    def now(self, action: Callable[[], Any], label: str = "action") -> None:
        self.after(0.0, action, label)

    @property
    def outstanding(self) -> int:
        with self._cond:
            return self._outstanding

    def idle(self) -> bool:
        return self.outstanding == 0

    def next_due_in(self) -> float | None:
        with self._cond:
            return self._heap[0][0] - time.monotonic() if self._heap else None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, action, label = heapq.heappop(self._heap)
            self._pool.submit(self._call, action, label)

    def _call(self, action: Callable[[], Any], label: str) -> None:
        try:
            action()
            with self._cond:
                self.done[label] += 1
        except Exception as exc:  # noqa: BLE001 - a peer's bug is reported, not fatal
            log.debug("peer action %s failed", label, exc_info=True)
            with self._cond:
                self.errors.append(f"{label}: {type(exc).__name__}: {exc}")
                if len(self.errors) <= 3:
                    self.errors[-1] += "\n" + traceback.format_exc(limit=4)
        finally:
            with self._cond:
                self._outstanding -= 1

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._outstanding -= len(self._heap)
            self._heap.clear()
            self._cond.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)


# ====================================================================== HTTP
@dataclass
class Response:
    status: int
    body: Any  # parsed JSON, or the text
    attempts: int
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class HttpClient:
    """requests, with the retry behaviour of a webhook sender: 5xx, 429 and connection errors are
    retried with exponential back-off and jitter (Shopify retries failed deliveries for hours;
    here: up to `attempts` times within a few seconds). 4xx answers are final."""

    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        base_url: str,
        *,
        attempts: int = 8,
        timeout: float = 60.0,
        seed: int | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.timeout = timeout
        self.default_headers = dict(default_headers or {})
        self._local = threading.local()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.by_status: Counter[int] = Counter()
        self.retried: Counter[str] = Counter()  # why requests were retried ("502", "connection")
        self.latencies_ms: dict[str, list[float]] = {}  # label -> successful request latency (last attempt)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str | dict | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        label: str | None = None,
    ) -> Response:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        all_headers = {**self.default_headers, **(headers or {})}
        if body is not None and not any(k.lower() == "content-type" for k in all_headers):
            all_headers["Content-Type"] = "application/json"
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        for attempt in range(1, self.attempts + 1):
            started = time.perf_counter()
            try:
                raw = self._session().request(
                    method, url, data=body, headers=all_headers, params=params, timeout=self.timeout
                )
            except requests.RequestException as exc:
                reason, status, raw = f"connection ({type(exc).__name__})", None, None
            else:
                status, reason = raw.status_code, str(raw.status_code)
            with self._lock:
                self.requests += 1
                if status is not None:
                    self.by_status[status] += 1
            if raw is not None and status not in self.RETRY_STATUSES:
                elapsed = (time.perf_counter() - started) * 1000
                if label:
                    with self._lock:
                        self.latencies_ms.setdefault(label, []).append(elapsed)
                return Response(status, _parse(raw), attempt, raw.headers)
            if attempt == self.attempts:
                break
            with self._lock:
                self.retried[reason] += 1
                pause = min(0.1 * 2 ** (attempt - 1), 2.0) * (0.5 + self._rng.random())
            time.sleep(pause)
        if raw is None:
            raise ConnectionError(f"{method} {path}: no answer after {self.attempts} attempts")
        return Response(raw.status_code, _parse(raw), self.attempts, raw.headers)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "by_status": dict(sorted(self.by_status.items())),
                "retried": dict(self.retried),
            }


def _parse(raw: requests.Response) -> Any:
    if not raw.content:
        return None
    try:
        return raw.json()
    except ValueError:
        return raw.text


class UnexpectedAnswer(Exception):
    """A peer got an answer the contract says it should not (e.g. 4xx for a correctly signed order)."""


def expect(response: Response, *statuses: int, what: str) -> Response:
    if response.status not in statuses:
        raise UnexpectedAnswer(f"{what}: HTTP {response.status} {str(response.body)[:300]}")
    return response


# ====================================================================== secrets
def read_secret(secretsmanager: Any, arn: str, shop: str | None = None) -> str:
    """The signing secret as an integrator configured it. A JSON list means rotation: the first signs; a JSON
    object binds shops to their own secrets ("*": any shop)."""
    value = secretsmanager.get_secret_value(SecretId=arn)["SecretString"]
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict):
        parsed = parsed.get(shop or "", parsed.get("*"))
        if parsed is None:
            raise KeyError(f"the secret names no secret for shop {shop}")
    if isinstance(parsed, list) and parsed:
        return str(parsed[0])
    return str(parsed)


def jitter(rng: random.Random, low: float, high: float) -> float:
    return low + (high - low) * rng.random()


def later(seconds: float) -> datetime:
    return utc_now() + timedelta(seconds=seconds)


def peer_senders(template: dict[str, Any]) -> dict[str, list[str]]:
    """Each 3PL and supplier peer sends with its own credentials (access key id = provider name), which the local
    runtime records as the message's SenderId: the deny-by-default inbound queue believes exactly those."""
    raw = ((template.get("Parameters") or {}).get("Locations") or {}).get("Default") or "[]"
    return {loc["provider"]: [loc["provider"]] for loc in json.loads(raw) if loc.get("kind") in ("3pl", "dropship")}
