"""Customers returning part of what was delivered, the way people do: most once, some twice (the second asks for
more than is left), some in parallel from two tabs, some after the return window; a retried request carries its
Idempotency-Key. In-house returns are opened at the warehouse and received by an operator.

They read their order with the token from the status link (`OrderReceived.status_url`) and check every answer
against the contract: no more units authorised than delivered, the same RMA for a retried request.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import HttpClient, Scheduler, log
from .events import EventCollector

REASONS = ("too small", "too big", "not as pictured", "changed my mind", "arrived damaged")


@dataclass
class ReturnerConfig:
    rate: float = 0.15  # delivered orders with a return
    parallel: float = 0.2  # of those: the same request from several tabs at once
    twice: float = 0.2  # of those: a second return later
    late: float = 0.1  # of those: after the window...
    late_limit: int = 3  # ...for the first few only (each waits the whole window)
    delay: tuple[float, float] = (0.5, 2.0)
    window_seconds: float = 90.0
    seed: int = 7


@dataclass
class Returners:
    http: HttpClient
    events: EventCollector
    scheduler: Scheduler
    config: ReturnerConfig
    in_house: str | None = None
    receive_in_house: Callable[[str, list[dict[str, Any]]], None] | None = None  # the operator at the warehouse
    answers: Counter[str] = field(default_factory=Counter)
    behaviours: Counter[str] = field(default_factory=Counter)
    rmas: dict[str, dict[str, Any]] = field(default_factory=dict)  # rma id -> what the API answered
    delivered_at: dict[str, str] = field(default_factory=dict)  # order id -> its last delivery (the window's start)
    anomalies: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"returns:{self.config.seed}")
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="returners", daemon=True)

    def start(self) -> Returners:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def pending(self) -> int:
        return len(self._fresh())

    def _fresh(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events.unique()
            if e.get("detail-type") == "OrderDelivered" and e["detail"]["order_id"] not in self._seen
        ]

    def _watch(self) -> None:
        while not self._stop.wait(0.3):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - reported by the checks
                self._anomaly(f"returners: {exc}")

    def poll(self) -> None:
        tokens = {
            e["detail"]["order_id"]: parse_qs(urlsplit(e["detail"].get("status_url", "")).query).get("token", [""])[0]
            for e in self.events.unique()
            if e.get("detail-type") == "OrderReceived"
        }
        for event in self._fresh():
            order_id = event["detail"]["order_id"]
            self._seen.add(order_id)
            token = tokens.get(order_id)
            with self._lock:
                returning = self._rng.random() < self.config.rate
                roll = self._rng.random()
                delay = self._rng.uniform(*self.config.delay)
            if not returning or not token:
                continue
            if roll < self.config.late and self.behaviours["late"] < self.config.late_limit:
                self._plan("late", self.config.window_seconds + 5, lambda o=order_id, t=token: self._late(o, t))
            elif roll < self.config.late + self.config.parallel:
                self._plan("parallel", delay, lambda o=order_id, t=token: self._parallel(o, t))
            elif roll < self.config.late + self.config.parallel + self.config.twice:
                self._plan("twice", delay, lambda o=order_id, t=token: self._twice(o, t))
            else:
                self._plan("once", delay, lambda o=order_id, t=token: self._once(o, t))

    def _plan(self, behaviour: str, delay: float, action: Callable[[], None]) -> None:
        with self._lock:
            self.behaviours[behaviour] += 1
        self.scheduler.after(delay, action, f"returner.{behaviour}")

    # ------------------------------------------------------------------ what customers do
    def _returnable(self, order_id: str, token: str) -> list[dict[str, Any]]:
        view = self.http.get(f"/orders/{order_id}", params={"token": token}).body
        delivered = [s["delivered_at"] for s in view.get("shipments", []) if s.get("delivered_at")]
        with self._lock:  # the earliest parcel: its line's window closes first
            self.delivered_at[order_id] = min(delivered) if delivered else ""
        return [ln for ln in view.get("lines", []) if ln["kind"] == "physical" and _eligible(ln) > 0]

    def _ask(self, order_id: str, token: str, lines: list[dict[str, Any]], key: str) -> Any:
        response = self.http.post(
            f"/orders/{order_id}/returns",
            params={"token": token},
            body={"lines": lines},
            headers={"Idempotency-Key": key},
        )
        code = "authorized" if response.status == 201 else str((response.body or {}).get("error", {}).get("code"))
        if code == "not_returnable" and self._window_passed(order_id):
            code = "not_returnable (window passed)"
        with self._lock:
            self.answers[code] += 1
        if response.status == 201:
            rma = dict(response.body)
            with self._lock:
                known = rma["rma_id"] in self.rmas
                self.rmas[rma["rma_id"]] = rma
            if not known:
                self._ship_back(rma)
        return response

    def _window_passed(self, order_id: str) -> bool:
        """The customer got to it after the window closed (the demo's window is short): the shop says no."""
        at = self.delivered_at.get(order_id)
        if not at:
            return False
        closes = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(seconds=self.config.window_seconds)
        return datetime.now(UTC) > closes - timedelta(seconds=2)

    def _line(self, order_id: str, token: str) -> dict[str, Any] | None:
        lines = self._returnable(order_id, token)
        return lines[0] if lines else None

    def _once(self, order_id: str, token: str) -> None:
        line = self._line(order_id, token)
        if line is None:
            return
        units = _eligible(line)
        with self._lock:
            quantity = self._rng.randint(1, units)
            reason = self._rng.choice(REASONS)
        key = str(uuid.uuid4())
        body = [{"line_no": line["line_no"], "quantity": quantity, "reason": reason}]
        first = self._ask(order_id, token, body, key)
        if first.status != 201 and self._window_passed(order_id):
            return
        if first.status != 201:
            self._anomaly(f"{order_id}: a return of {quantity} of {units} delivered answered {first.status}")
            return
        again = self._ask(order_id, token, body, key)  # the browser retried: same key, same RMA
        if again.status != 201 or again.body.get("rma_id") != first.body.get("rma_id"):
            self._anomaly(f"{order_id}: a retried return answered {again.status} {again.body}")

    def _twice(self, order_id: str, token: str) -> None:
        line = self._line(order_id, token)
        if line is None:
            return
        units = _eligible(line)
        first = self._ask(order_id, token, [{"line_no": line["line_no"], "quantity": units}], str(uuid.uuid4()))
        second = self._ask(order_id, token, [{"line_no": line["line_no"], "quantity": 1}], str(uuid.uuid4()))
        if self._window_passed(order_id):
            return
        if first.status != 201 or second.status != 409:
            self._anomaly(f"{order_id}: all {units} then one more answered {first.status}, {second.status}")

    def _parallel(self, order_id: str, token: str) -> None:
        line = self._line(order_id, token)
        if line is None:
            return
        units = _eligible(line)
        tabs = units + 2
        start = threading.Barrier(tabs)

        def tab(_: int) -> int:
            start.wait()
            body = [{"line_no": line["line_no"], "quantity": 1}]
            return int(self._ask(order_id, token, body, str(uuid.uuid4())).status)

        with ThreadPoolExecutor(tabs) as pool:
            got = Counter(pool.map(tab, range(tabs)))
        if self._window_passed(order_id):
            return
        if got[201] != units or got[409] != tabs - units:
            # A parcel of the same line may have been delivered while the tabs raced: what was eligible then
            # counts, never more than was delivered.
            view = self.http.get(f"/orders/{order_id}", params={"token": token}).body
            after = next((ln for ln in view.get("lines", []) if ln["line_no"] == line["line_no"]), None)
            more = int(after["delivered"]) - int(line["delivered"]) if after else 0
            if not (units <= got[201] <= units + more and got[201] + got[409] == tabs):
                self._anomaly(f"{order_id}: {tabs} parallel returns of 1 with {units} delivered: {dict(got)}")

    def _late(self, order_id: str, token: str) -> None:
        line = self._line(order_id, token)
        if line is None:
            return
        response = self._ask(order_id, token, [{"line_no": line["line_no"], "quantity": 1}], str(uuid.uuid4()))
        if response.status != 409 or response.body.get("error", {}).get("code") != "not_returnable":
            self._anomaly(f"{order_id}: a return after the window answered {response.status}")

    def _ship_back(self, rma: dict[str, Any]) -> None:
        """The parcel goes back; at the in-house warehouse an operator opens it (3PLs report their own)."""
        if rma["return_to"]["location"] != self.in_house or self.receive_in_house is None:
            return
        with self._lock:
            rolls = [self._rng.random() for line in rma["lines"] for _ in range(line["quantity"])]
        received: list[dict[str, Any]] = []
        n = 0
        for line in rma["lines"]:
            for _ in range(line["quantity"]):
                roll = rolls[n]
                n += 1
                disposition = "restock" if roll < 0.8 else "damaged" if roll < 0.95 else "missing"
                received.append({"line_no": line["line_no"], "quantity": 1, "disposition": disposition})
        receive = self.receive_in_house
        self.scheduler.after(1.0, lambda: receive(rma["rma_id"], received), "warehouse.receive_return")

    def _anomaly(self, text: str) -> None:
        with self._lock:
            self.anomalies.append(text)
        log.warning("returner: %s", text)


def _eligible(line: dict[str, Any]) -> int:
    return int(line["delivered"]) - int(line["returned"]) - int(line.get("returning", 0))
