"""The carriers, as the shop hears from them: EasyPost and AfterShip tracking webhooks, signed.

Every parcel that leaves a warehouse gets a tracker. UPS and FedEx parcels are tracked through
EasyPost (`tracker.updated`, `X-Hmac-Signature: hmac-sha256-hex=...` over NFKD(secret)), USPS and
DHL through AfterShip (`tracking_update`, `aftership-hmac-sha256` base64). Each update carries the
whole history so far, like the real services. Like them, it also delivers some updates twice and
out of order, and replays a stale scan after delivery now and then - the backend must never move
a shipment backwards.

A tracking aggregator only knows a parcel once the merchant registered its tracker, which happens
after the merchant learned the tracking number. The backend learns it asynchronously (the 3PL's
`shipment.shipped` travels through a queue), so an update answered `{"matched": false}` is sent
again a little later, a few times, instead of being lost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .base import HttpClient, Scheduler, UnexpectedAnswer, iso_z, jitter

EASYPOST_CARRIERS = frozenset({"UPS", "FedEx"})
AFTERSHIP_SLUGS = {"USPS": "usps", "DHL Express": "dhl", "usps": "usps", "dhl": "dhl"}
EASYPOST_NAMES = {"ups": "UPS", "fedex": "FedEx"}


@dataclass
class Parcel:
    carrier: str
    tracking_number: str
    shipment_id: str
    shipped_at: str
    via: str  # who shipped it (3PL provider or in-house)
    scans: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False


@dataclass
class CarrierConfig:
    first_scan: tuple[float, float] = (0.8, 2.0)  # shipped -> first in_transit scan
    step: tuple[float, float] = (0.6, 1.6)  # between scans
    duplicate_rate: float = 0.05
    shuffle: bool = False  # send each update after a random extra delay (out of order)
    stale_replay: float = 0.05  # after delivery, replay an old in_transit update
    attempt_failed: float = 0.05  # a failed delivery attempt before the successful one
    late: float = 0.0  # no scan at all for `late_seconds` after shipping (ShipmentDelayed)
    late_seconds: float = 0.0
    unmatched_retries: int = 15  # with back-off up to 6 s: about a minute before giving up
    seed: int = 7


class Carrier:
    def __init__(
        self, http: HttpClient, scheduler: Scheduler, secrets: dict[str, str], config: CarrierConfig | None = None
    ) -> None:
        self.http = http
        self.scheduler = scheduler
        self.secrets = secrets  # easypost, aftership
        self.config = config or CarrierConfig()
        self.rng = random.Random(f"{self.config.seed}:carrier")
        self.parcels: dict[tuple[str, str], Parcel] = {}
        self.sent: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()
        self.unmatched_resent = 0
        self.unmatched_final: list[str] = []
        self.late: set[str] = set()  # shipment ids of parcels held back on purpose (ShipmentDelayed expected)
        self._lock = threading.Lock()

    # ================================================================== parcels
    def ship(self, parcel: Parcel) -> None:
        with self._lock:
            key = (parcel.carrier.lower(), parcel.tracking_number)
            if key in self.parcels:  # a duplicate shipped message / ship call: same parcel
                return
            self.parcels[key] = parcel
        cfg, rng = self.config, self.rng
        late = cfg.late > 0 and rng.random() < cfg.late
        if late:
            with self._lock:
                self.late.add(parcel.shipment_id)
        at = jitter(rng, *cfg.first_scan) + (cfg.late_seconds if late else 0.0)
        plan = [("in_transit", "Departed facility"), ("out_for_delivery", "Out for delivery")]
        if rng.random() < cfg.attempt_failed:
            plan += [("attempt_failed", "Delivery attempted, no access"), ("out_for_delivery", "Out for delivery")]
        plan.append(("delivered", "Delivered, front door"))
        for status, message in plan:
            self.scheduler.after(at, lambda s=status, m=message: self._scan(parcel, s, m), "carrier.scan")
            at += jitter(rng, *cfg.step)

    def _scan(self, parcel: Parcel, status: str, message: str) -> None:
        with self._lock:
            parcel.scans.append({"status": status, "message": message, "at": datetime.now(UTC)})
            if status == "delivered":
                parcel.delivered = True
            scans = list(parcel.scans)
        body, headers, path = self._webhook(parcel, scans)
        self._later(path, body, headers, parcel)
        if status == "delivered" and self.rng.random() < self.config.stale_replay and len(scans) > 1:
            stale, stale_headers, _ = self._webhook(parcel, scans[:1])
            self.scheduler.after(
                jitter(self.rng, 0.3, 1.5), lambda: self._post(path, stale, stale_headers, parcel), "carrier.stale"
            )

    def _later(self, path: str, body: bytes, headers: dict[str, str], parcel: Parcel) -> None:
        delay = jitter(self.rng, 0.0, 1.0) if self.config.shuffle else 0.0
        self.scheduler.after(delay, lambda: self._post(path, body, headers, parcel), "carrier.webhook")
        if self.rng.random() < self.config.duplicate_rate:
            self.scheduler.after(
                delay + jitter(self.rng, 0.05, 1.0),
                lambda: self._post(path, body, headers, parcel, label="duplicate"),
                "carrier.webhook",
            )

    def _post(
        self,
        path: str,
        body: bytes,
        headers: dict[str, str],
        parcel: Parcel,
        *,
        label: str = "",
        retries_left: int | None = None,
    ) -> None:
        response = self.http.post(path, body=body, headers=headers, label=path.rsplit("/", 1)[-1])
        source = path.rsplit("/", 1)[-1]
        with self._lock:
            self.sent[f"{source}{' (duplicate)' if label else ''}"] += 1
        if response.status != 200:
            raise UnexpectedAnswer(f"{source} webhook: HTTP {response.status} {str(response.body)[:200]}")
        matched = not (isinstance(response.body, dict) and response.body.get("matched") is False)
        with self._lock:
            self.answers["matched" if matched else "unmatched"] += 1
        if matched:
            return
        retries = self.config.unmatched_retries if retries_left is None else retries_left
        if retries <= 0:
            with self._lock:
                self.unmatched_final.append(f"{parcel.carrier} {parcel.tracking_number} ({parcel.shipment_id})")
            return
        with self._lock:
            self.unmatched_resent += 1
        backoff = min(1.5 ** (self.config.unmatched_retries - retries), 6.0)
        self.scheduler.after(
            backoff * jitter(self.rng, 0.8, 1.2),
            lambda: self._post(path, body, headers, parcel, label=label, retries_left=retries - 1),
            "carrier.resend",
        )

    # ================================================================== wire formats
    def _webhook(self, parcel: Parcel, scans: list[dict[str, Any]]) -> tuple[bytes, dict[str, str], str]:
        name = parcel.carrier
        if name in EASYPOST_CARRIERS or name.lower() in EASYPOST_NAMES:
            body = json.dumps(self._easypost(parcel, scans)).encode()
            key = unicodedata.normalize("NFKD", self.secrets["easypost"]).encode()
            signature = "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            return (
                body,
                {
                    "Content-Type": "application/json",
                    "X-Hmac-Signature": signature,
                    "User-Agent": "EasyPost WebHook Agent 1.0",
                },
                "/webhooks/tracking/easypost",
            )
        body = json.dumps(self._aftership(parcel, scans)).encode()
        signature = base64.b64encode(hmac.new(self.secrets["aftership"].encode(), body, hashlib.sha256).digest())
        return (
            body,
            {"Content-Type": "application/json", "aftership-hmac-sha256": signature.decode()},
            "/webhooks/tracking/aftership",
        )

    def _easypost(self, parcel: Parcel, scans: list[dict[str, Any]]) -> dict[str, Any]:
        carrier = EASYPOST_NAMES.get(parcel.carrier.lower(), parcel.carrier)
        status = scans[-1]["status"]
        easypost_status = {"attempt_failed": "failure"}.get(status, status)
        details = [
            {
                "object": "TrackingDetail",
                "message": "Shipment information sent to " + carrier,
                "description": "Label created",
                "status": "pre_transit",
                "status_detail": "label_created",
                "datetime": iso_z(datetime.fromisoformat(parcel.shipped_at)),
                "source": carrier,
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": None,
                    "state": None,
                    "country": "US",
                    "zip": None,
                },
            }
        ]
        details += [
            {
                "object": "TrackingDetail",
                "message": s["message"],
                "description": s["message"],
                "status": {"attempt_failed": "failure"}.get(s["status"], s["status"]),
                "status_detail": "arrived_at_facility",
                "datetime": iso_z(s["at"]),
                "source": carrier,
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": "MEMPHIS",
                    "state": "TN",
                    "country": "US",
                    "zip": "38118",
                },
            }
            for s in scans
        ]
        now = iso_z()
        return {
            "description": "tracker.updated",
            "mode": "production",
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "Event",
            "status": "pending",
            "user_id": "user_demo",
            "created_at": now,
            "updated_at": now,
            "previous_attributes": {"status": scans[-2]["status"] if len(scans) > 1 else "pre_transit"},
            "pending_urls": [],
            "completed_urls": [],
            "result": {
                "id": f"trk_{hashlib.sha1(parcel.tracking_number.encode()).hexdigest()[:24]}",  # noqa: S324
                "object": "Tracker",
                "mode": "production",
                "tracking_code": parcel.tracking_number,
                "status": easypost_status,
                "status_detail": "arrived_at_facility",
                "created_at": iso_z(),
                "updated_at": iso_z(scans[-1]["at"]),
                "signed_by": "J. DOE" if status == "delivered" else None,
                "weight": 17.6,
                "est_delivery_date": None,
                "shipment_id": None,
                "carrier": carrier,
                "tracking_details": details,
                "public_url": "https://track.easypost.com/djE6dHJrXzE",
            },
        }

    def _aftership(self, parcel: Parcel, scans: list[dict[str, Any]]) -> dict[str, Any]:
        slug = AFTERSHIP_SLUGS.get(parcel.carrier, parcel.carrier.lower())
        tags = {
            "in_transit": "InTransit",
            "out_for_delivery": "OutForDelivery",
            "attempt_failed": "AttemptFail",
            "delivered": "Delivered",
            "exception": "Exception",
        }
        tag = tags[scans[-1]["status"]]
        return {
            "event_id": str(uuid.uuid4()),
            "event": "tracking_update",
            "is_tracking_first_tag": len(scans) == 1,
            "msg": {
                "id": hashlib.sha1(parcel.tracking_number.encode()).hexdigest()[:24],  # noqa: S324
                "tracking_number": parcel.tracking_number,
                "title": parcel.tracking_number,
                "slug": slug,
                "active": tag != "Delivered",
                "tag": tag,
                "subtag": f"{tag}_001",
                "subtag_message": tag,
                "origin_country_iso3": "USA",
                "destination_country_iso3": "USA",
                "note": None,
                "order_id": None,
                "customer_name": None,
                "emails": [],
                "smses": [],
                "return_to_sender": False,
                "checkpoints": [
                    {
                        "checkpoint_time": s["at"].strftime("%Y-%m-%dT%H:%M:%S"),
                        "message": s["message"],
                        "slug": slug,
                        "tag": tags[s["status"]],
                        "subtag": f"{tags[s['status']]}_001",
                        "city": "Memphis",
                        "location": "Memphis, TN",
                    }
                    for s in scans
                ],
            },
            "ts": int(time.time()),
        }

    def undelivered(self) -> list[Parcel]:
        with self._lock:
            return [p for p in self.parcels.values() if not p.delivered]
