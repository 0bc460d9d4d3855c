"""A third-party logistics provider (3PL), speaking the SQS protocol of ARCHITECTURE.md §3.

It polls only its own request queue, and answers on the shared inbound queue like a real 3PL:
accepts or rejects each `fulfillment_request` after a while (out of stock, bad address), ships with
a carrier and a tracking number (sometimes in two parcels), forwards some carrier scans itself,
and answers `cancellation_request`s (accepted until the parcel left, rejected after). It can also
misbehave on purpose: duplicate sends, shuffled sends, a lost request now and then.

Like a real 3PL it deduplicates by `request_id`: a re-sent request is not a new job (it gets the
last answer again). It keeps a record of every request it acted on, so the demo can check that the
backend never asked twice for one shipment under different request ids, and a physical stock
ledger of its warehouse, so the demo can compare what is really on its shelves with what the
backend believes.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .base import Scheduler, iso, jitter, log
from .carrier import Carrier, Parcel
from .operator import verdict

CARRIERS = {"tpl-east": ("UPS", "USPS"), "tpl-west": ("FedEx", "DHL Express"), "supplier-acme": ("UPS",)}
REJECT_REASONS = (("INVENTORY_OUT_OF_STOCK", 0.6), ("INCORRECT_ADDRESS", 0.4))


@dataclass
class TplConfig:
    accept_delay: tuple[float, float] = (0.3, 1.5)  # request received -> accepted/rejected
    ship_delay: tuple[float, float] = (1.0, 3.0)  # accepted -> shipped
    reject_rate: float = 0.03
    duplicate_rate: float = 0.05  # an answer is sent twice (same message_id)
    reorder: bool = False  # answers leave in a shuffled order (random extra delay up to 1.2 s)
    lost_rate: float = 0.0  # a request is lost on first delivery: the backend must re-send it
    partial_rate: float = 0.05  # the shipment leaves in two parcels (two shipment.shipped with lines)
    forwards_tracking: float = 0.3  # the 3PL also forwards carrier scans (shipment.tracking/delivered)
    seed: int = 7


@dataclass
class Job:
    shipment_id: str
    order_id: str
    request_id: str
    lines: list[dict[str, Any]]
    ship_to: dict[str, Any]
    received_at: float
    state: str = "received"  # received, accepted, rejected, shipped, cancelled
    lost_once: bool = False
    cancel_requested: bool = False
    parcels: list[Parcel] = field(default_factory=list)
    last_answer: dict[str, Any] | None = None


class ThirdPartyLogistics:
    def __init__(
        self,
        provider: str,
        location: str,
        *,
        sqs: Any,
        request_queue_url: str,
        inbound_queue_url: str,
        scheduler: Scheduler,
        carrier: Carrier | None,
        config: TplConfig | None = None,
        tracks_stock: bool = True,
    ) -> None:
        self.provider = provider
        self.tracks_stock = tracks_stock  # False for a dropship supplier: its stock is not ours to count
        self.location = location
        self.sqs = sqs
        self.request_queue_url = request_queue_url
        self.inbound_queue_url = inbound_queue_url
        self.scheduler = scheduler
        self.carrier = carrier
        self.config = config or TplConfig()
        self.rng = random.Random(f"{self.config.seed}:{provider}")
        self.jobs: dict[str, Job] = {}  # shipment id -> job
        self.acted: dict[str, list[str]] = {}  # shipment id -> request ids acted on
        self.seen_requests: set[str] = set()
        self.early_cancellations: set[str] = set()  # cancellation before its fulfillment_request arrived
        self.received: Counter[str] = Counter()  # message type -> count
        self.sent: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.anomalies: list[str] = []
        self.ledger: Counter[str] = Counter()  # sku -> units physically on the shelves
        self.returns_expected: set[str] = set()
        self.returned: Counter[str] = Counter()  # disposition -> units of returned parcels
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._polling = False
        self._thread = threading.Thread(target=self._poll, name=f"3pl-{provider}", daemon=True)

    # ================================================================== lifecycle
    def start(self) -> ThirdPartyLogistics:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def busy(self) -> bool:
        """Messages being handled right now (the scheduler tracks what is still to be sent)."""
        return self._polling

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self.sqs.receive_message(
                    QueueUrl=self.request_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
                self._polling = bool(batch)  # handling messages (a waiting long poll is not busy)
                for message in batch:
                    self._handle_raw(message["Body"])
                if batch:
                    self.sqs.delete_message_batch(
                        QueueUrl=self.request_queue_url,
                        Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)],
                    )
            except Exception as exc:  # noqa: BLE001 - keep polling, like a real integration would
                log.warning("3PL %s: polling failed: %s", self.provider, exc)
                batch = []
            finally:
                self._polling = False
            if not batch:
                self._stop.wait(0.05)

    # ================================================================== requests
    def _handle_raw(self, body: str) -> None:
        try:
            message = json.loads(body)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            self._anomaly(f"unparseable request: {body[:200]}")
            return
        with self._lock:
            self.received[kind] += 1
        if message.get("version") != 1:
            self._anomaly(f"{kind} with version {message.get('version')!r}")
        if kind == "fulfillment_request":
            self._fulfillment_request(message)
        elif kind == "cancellation_request":
            self._cancellation_request(message)
        elif kind == "return_expected":
            self._return_expected(message)
        else:
            self._anomaly(f"unknown request type {kind}")

    def _fulfillment_request(self, message: dict[str, Any]) -> None:
        missing = [
            k
            for k in (
                "request_id",
                "shipment_id",
                "order_id",
                "provider",
                "location",
                "ship_to",
                "lines",
                "service_level",
                "requested_at",
            )
            if k not in message
        ]
        if missing:
            self._anomaly(f"fulfillment_request without {missing}")
            return
        if message["provider"] != self.provider or message["location"] != self.location:
            self._anomaly(f"request for {message['provider']}/{message['location']} on {self.provider}'s queue")
        request_id, shipment_id = message["request_id"], message["shipment_id"]
        with self._lock:
            job = self.jobs.get(shipment_id)
            if request_id in self.seen_requests:
                if job is not None and job.lost_once:
                    job.lost_once = False  # the re-send of a request we "lost": now it is a job
                    self.outcomes["lost request re-sent by the backend"] += 1
                else:
                    self.outcomes["duplicate request ignored"] += 1
                    if job is not None and job.last_answer is not None:
                        self._send(job.last_answer, again=True)  # answer a re-send with the same answer
                    return
            else:
                self.seen_requests.add(request_id)
                if shipment_id in self.acted and request_id not in self.acted[shipment_id]:
                    self._anomaly(f"shipment {shipment_id} requested again under a new request id {request_id}")
                job = Job(
                    shipment_id, message["order_id"], request_id, message["lines"], message["ship_to"], time.monotonic()
                )
                self.jobs[shipment_id] = job
                if verdict(self.config.seed, f"lost:{request_id}") < self.config.lost_rate:
                    job.lost_once = True
                    self.outcomes["requests lost (no answer)"] += 1
                    return
            self.acted.setdefault(shipment_id, [])
            if request_id not in self.acted[shipment_id]:
                self.acted[shipment_id].append(request_id)
            if shipment_id in self.early_cancellations:
                job.state = "cancelled"
                self.outcomes["cancelled before the request arrived"] += 1
                return
        self.scheduler.after(jitter(self.rng, *self.config.accept_delay), lambda: self._decide(job), "3pl.decide")

    def _decide(self, job: Job) -> None:
        with self._lock:
            if job.state != "received":
                return
            reason = self._reject_reason(job)
            if reason:
                job.state = "rejected"
                self.outcomes[f"rejected {reason}"] += 1
                if reason == "INVENTORY_OUT_OF_STOCK":
                    for line in job.lines:  # the units were not there after all (damaged, mis-picked)
                        self.ledger[line["sku"]] -= min(self.ledger[line["sku"]], int(line["quantity"]))
                answer = self._message(
                    "fulfillment_request.rejected",
                    shipment_id=job.shipment_id,
                    reason=reason,
                    message={
                        "INVENTORY_OUT_OF_STOCK": "bin empty at pick time",
                        "INCORRECT_ADDRESS": "address failed validation",
                    }[reason],
                )
            else:
                job.state = "accepted"
                self.outcomes["accepted"] += 1
                answer = self._message("fulfillment_request.accepted", shipment_id=job.shipment_id)
                self.scheduler.after(jitter(self.rng, *self.config.ship_delay), lambda: self._ship(job), "3pl.ship")
            job.last_answer = answer
        self._send(answer)

    def _reject_reason(self, job: Job) -> str | None:
        address = job.ship_to or {}
        if not all(address.get(k) for k in ("line1", "city", "country")):
            return "INCORRECT_ADDRESS"  # a real 3PL validates the address before it picks
        for line in job.lines if self.tracks_stock else []:
            if self.ledger[line["sku"]] < int(line["quantity"]):
                self._anomaly(
                    f"{job.shipment_id}: asked for {line['quantity']} x {line['sku']}, "
                    f"shelf has {self.ledger[line['sku']]} (the backend promised stock that is not here)"
                )
                return "INVENTORY_OUT_OF_STOCK"
        roll = verdict(self.config.seed, f"reject:{job.request_id}")
        if roll >= self.config.reject_rate:
            return None
        return REJECT_REASONS[0][0] if roll < self.config.reject_rate * REJECT_REASONS[0][1] else REJECT_REASONS[1][0]

    def _ship(self, job: Job) -> None:
        with self._lock:
            if job.state != "accepted":
                return
            job.state = "shipped"
            carriers = CARRIERS.get(self.provider, ("UPS",))
            carrier = carriers[int(verdict(self.config.seed, f"carrier:{job.shipment_id}") * len(carriers))]
            split = (
                len(job.lines) > 1 and verdict(self.config.seed, f"split:{job.shipment_id}") < self.config.partial_rate
            )
            self.outcomes["shipped" + (" in two parcels" if split else "")] += 1
            forwards = (
                not split and verdict(self.config.seed, f"forward:{job.shipment_id}") < self.config.forwards_tracking
            )
        if not split:
            self._ship_parcel(job, 0, job.lines, carrier, partial=False)
        else:
            # A split shipment: the second parcel leaves later (the first may well be delivered by then).
            half = len(job.lines) // 2
            self._ship_parcel(job, 0, job.lines[:half], carrier, partial=True)
            later = 2 * jitter(self.rng, *self.config.ship_delay)
            self.scheduler.after(
                later, lambda: self._ship_parcel(job, 1, job.lines[half:], carrier, partial=True), "3pl.ship"
            )
        if forwards:  # some 3PLs forward their carrier's scans too (never for split shipments: no parcel field)
            self.scheduler.after(
                jitter(self.rng, 0.8, 2.0),
                lambda: self._send(
                    self._message(
                        "shipment.tracking",
                        shipment_id=job.shipment_id,
                        status="in_transit",
                        occurred_at=iso(),
                        description="Departed facility",
                        location=self.location,
                    )
                ),
                "3pl.tracking",
            )
            self.scheduler.after(
                jitter(self.rng, 3.0, 6.0),
                lambda: self._send(
                    self._message("shipment.delivered", shipment_id=job.shipment_id, delivered_at=iso())
                ),
                "3pl.delivered",
            )

    def _ship_parcel(self, job: Job, n: int, lines: list[dict[str, Any]], carrier: str, *, partial: bool) -> None:
        parcel = Parcel(
            carrier=carrier,
            tracking_number=tracking_number(carrier, f"{job.shipment_id}:{n}"),
            shipment_id=job.shipment_id,
            shipped_at=iso(),
            via=self.provider,
        )
        with self._lock:
            job.parcels.append(parcel)
            for line in lines if self.tracks_stock else []:
                self.ledger[line["sku"]] -= int(line["quantity"])
        extra = {"lines": [{"sku": ln["sku"], "quantity": int(ln["quantity"])} for ln in lines]} if partial else {}
        self._send(
            self._message(
                "shipment.shipped",
                shipment_id=job.shipment_id,
                carrier=carrier,
                tracking_number=parcel.tracking_number,
                shipped_at=parcel.shipped_at,
                **extra,
            )
        )
        if self.carrier is not None:
            self.carrier.ship(parcel)

    # ================================================================== cancellations
    def _cancellation_request(self, message: dict[str, Any]) -> None:
        request_id, shipment_id = message.get("request_id"), message.get("shipment_id")
        if not request_id or not shipment_id:
            self._anomaly(f"cancellation_request without request_id/shipment_id: {message}")
            return
        with self._lock:
            key = f"cancel:{request_id}"
            if key in self.seen_requests:
                self.outcomes["duplicate cancellation ignored"] += 1
                return
            self.seen_requests.add(key)
            job = self.jobs.get(shipment_id)
            if job is None:
                self.early_cancellations.add(shipment_id)
                answer = self._message("cancellation_request.accepted", shipment_id=shipment_id)
                self.outcomes["cancellation accepted (request not seen yet)"] += 1
            elif job.state in ("received", "accepted", "rejected", "cancelled"):
                job.state = "cancelled" if job.state != "rejected" else job.state
                answer = self._message("cancellation_request.accepted", shipment_id=shipment_id)
                self.outcomes["cancellation accepted"] += 1
            else:
                answer = self._message(
                    "cancellation_request.rejected",
                    shipment_id=shipment_id,
                    message="the parcel has left the warehouse",
                )
                self.outcomes["cancellation rejected (shipped)"] += 1
        self.scheduler.after(jitter(self.rng, 0.2, 1.0), lambda: self._send(answer), "3pl.cancel_answer")

    # ================================================================== sending
    def _return_expected(self, message: dict[str, Any]) -> None:
        """A parcel is coming back: when it arrives, each unit is restocked (back on the shelf), damaged or
        missing. The answer may be duplicated, and sometimes re-sent later under a new message id."""
        rma_id = message.get("rma_id")
        with self._lock:
            self.outcomes["returns expected"] += 1
            if rma_id in self.returns_expected:
                self.outcomes["return_expected again (ignored)"] += 1
                return
            self.returns_expected.add(rma_id)

        def arrive() -> None:
            counts: Counter[tuple[str, str]] = Counter()
            with self._lock:
                for line in message["lines"]:
                    for _ in range(int(line["quantity"])):
                        roll = self.rng.random()
                        disposition = "restock" if roll < 0.8 else "damaged" if roll < 0.95 else "missing"
                        counts[(line["sku"], disposition)] += 1
                for (sku, disposition), units in counts.items():
                    if disposition == "restock" and self.tracks_stock:
                        self.ledger[sku] += units  # back on the shelf
                    self.returned[disposition] += units
                answer = self._message(
                    "return.received",
                    rma_id=rma_id,
                    lines=[{"sku": s, "quantity": u, "disposition": d} for (s, d), u in sorted(counts.items())],
                    received_at=iso(),
                )
                resend = self.rng.random() < self.config.duplicate_rate
            self._send(answer)
            if resend:  # the 3PL's system re-sends the receipt under a new message id
                again = {**answer, "message_id": str(uuid.UUID(int=self.rng.getrandbits(128)))}
                self.scheduler.after(2.0, lambda: self._put(again, duplicate=True), "3pl.send")

        self.scheduler.after(jitter(self.rng, *self.config.ship_delay), arrive, "3pl.return")

    def _message(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "version": 1,
            "message_id": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "provider": self.provider,
            "sent_at": iso(),
            **fields,
        }

    def _send(self, message: dict[str, Any], *, again: bool = False) -> None:
        delay = jitter(self.rng, 0.0, 1.2) if self.config.reorder else 0.0
        self.scheduler.after(delay, lambda: self._put(message), "3pl.send")
        if not again and self.rng.random() < self.config.duplicate_rate:
            self.scheduler.after(
                delay + jitter(self.rng, 0.05, 1.5), lambda: self._put(message, duplicate=True), "3pl.send"
            )

    def _put(self, message: dict[str, Any], *, duplicate: bool = False) -> None:
        self.sqs.send_message(QueueUrl=self.inbound_queue_url, MessageBody=json.dumps(message))
        with self._lock:
            self.sent[message["type"] + (" (duplicate)" if duplicate else "")] += 1

    def send_snapshot(self, skus: list[str]) -> dict[str, int]:
        """An end-of-day `inventory.snapshot` of its shelves. Returns what it reported."""
        with self._lock:
            items = {sku: max(self.ledger[sku], 0) for sku in skus}
        self._put(
            self._message(
                "inventory.snapshot",
                location=self.location,
                items=[{"sku": s, "on_hand": n} for s, n in sorted(items.items())],
                as_of=iso(),
            )
        )
        return items

    def _anomaly(self, text: str) -> None:
        with self._lock:
            self.anomalies.append(text)

    # ================================================================== the record
    def double_requests(self) -> dict[str, list[str]]:
        """Shipments the backend asked for under more than one request id (acted on more than once)."""
        with self._lock:
            return {s: list(r) for s, r in self.acted.items() if len(r) > 1}

    def open_jobs(self) -> list[Job]:
        with self._lock:
            return [j for j in self.jobs.values() if j.state in ("received", "accepted") and not j.lost_once]


def tracking_number(carrier: str, key: str) -> str:
    digits = str(int(hashlib.sha256(key.encode()).hexdigest(), 16))
    return {
        "UPS": "1Z" + hashlib.sha256(key.encode()).hexdigest()[:16].upper(),
        "USPS": "9400" + digits[:18],
        "FedEx": digits[:12],
        "DHL Express": digits[:10],
    }.get(carrier, digits[:14])
