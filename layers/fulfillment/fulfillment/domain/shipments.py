"""The shipment aggregate: statuses, their order of progress, carrier status normalisation, and every rule
that moves a shipment. Nothing here does I/O."""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class ShipmentStatus(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    ATTEMPT_FAILED = "attempt_failed"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    RETURN_TO_SENDER = "return_to_sender"
    CANCELLED = "cancelled"


S = ShipmentStatus
# Progress order. Statuses of equal rank may follow each other (a failed attempt, then out for delivery again).
RANK = {
    S.PENDING: 0,
    S.SUBMITTED: 1,
    S.ACCEPTED: 2,
    S.SHIPPED: 3,
    S.IN_TRANSIT: 4,
    S.EXCEPTION: 4,
    S.ATTEMPT_FAILED: 5,
    S.OUT_FOR_DELIVERY: 5,
    S.AVAILABLE_FOR_PICKUP: 5,
    S.DELIVERED: 9,
    S.RETURN_TO_SENDER: 9,
    S.REJECTED: 9,
    S.CANCELLED: 9,
}
TERMINAL = frozenset({S.DELIVERED, S.RETURN_TO_SENDER, S.REJECTED, S.CANCELLED})
BEFORE_SHIPPING = frozenset({S.PENDING, S.SUBMITTED, S.ACCEPTED})
CARRIER_STATUSES = frozenset(
    {
        S.IN_TRANSIT,
        S.OUT_FOR_DELIVERY,
        S.AVAILABLE_FOR_PICKUP,
        S.ATTEMPT_FAILED,
        S.EXCEPTION,
        S.DELIVERED,
        S.RETURN_TO_SENDER,
    }
)
# What a scan says of a parcel on its way, and no more: it moves no order line, no stock and no timer. Such a scan
# is its own event item, written once by its key (source, message id) and nothing else; the shipment item keeps
# the statuses that change what is owed (accepted, shipped, delivered, returned to sender, ...), and the parcel's
# whereabouts are that status moved by its scans (`Shipment.with_scans`, for views and the delay check).
SCAN_ONLY = frozenset({S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.ATTEMPT_FAILED, S.EXCEPTION})


_STATUS_VALUES = frozenset(s.value for s in ShipmentStatus)


def scan_only(status: ShipmentStatus | None) -> bool:
    """A report that only says where the parcel is (None: a carrier status we record without a meaning)."""
    return status is None or status in SCAN_ONLY


EASYPOST_STATUS = {
    "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.OUT_FOR_DELIVERY,
    "delivered": S.DELIVERED,
    "available_for_pickup": S.AVAILABLE_FOR_PICKUP,
    "return_to_sender": S.RETURN_TO_SENDER,
    "failure": S.EXCEPTION,
    "error": S.EXCEPTION,
}  # pre_transit, unknown, cancelled: recorded, no status change
AFTERSHIP_TAG = {
    "InTransit": S.IN_TRANSIT,
    "OutForDelivery": S.OUT_FOR_DELIVERY,
    "AttemptFail": S.ATTEMPT_FAILED,
    "Delivered": S.DELIVERED,
    "AvailableForPickup": S.AVAILABLE_FOR_PICKUP,
    "Exception": S.EXCEPTION,
}  # Pending, InfoReceived, Expired: recorded, no status change

CARRIER_ALIASES = {
    "united states postal service": "usps",
    "fedex ground": "fedex",
    "fedex express": "fedex",
    "dhl express": "dhl",
    "dhl_express": "dhl",
    "dhl ecommerce": "dhl",
    "royal-mail": "royalmail",
    "royal mail": "royalmail",
    "ups mail innovations": "ups",
    "canada post": "canadapost",
    "canada-post": "canadapost",
}


def carrier_code(name: str) -> str:
    """One spelling per carrier, so a 3PL's "USPS" and a tracking service's "usps" slug find the same parcel."""
    code = " ".join(name.strip().lower().split())
    return CARRIER_ALIASES.get(code, code.replace(" ", "").replace("-", "").replace("_", ""))


# How many of the last messages about a shipment it remembers (their tokens, on the shipment item): a message heard
# again within them is a duplicate without a read of anything else.
SEEN_LIMIT = 12
TOKEN_CHARS = 8


def message_token(source: str, message_id: str) -> str:
    """A short fixed-length digest of a message's identity (48 bits: collisions among a shipment's last few
    messages are out of reach)."""
    digest = hashlib.sha256(f"{source}\x1f{message_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:6]).decode()


def plus(iso: str, seconds: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ShipmentLine:
    line_no: int
    sku: str
    quantity: int
    shipped: int = 0
    delivered: int = 0

    @property
    def unshipped(self) -> int:
        return self.quantity - self.shipped


@dataclass(frozen=True)
class ShipmentEvent:
    """One thing a provider, carrier or operator said about a shipment: its own small item, never a growing list.

    The shipment item that applied it carries it (`heard`) and remembers its token; the event router stores it,
    keyed by (source, message id), off the request path.
    """

    shipment_id: str
    source: str
    message_id: str
    at: str
    type: str
    detail: dict[str, Any] = field(default_factory=dict)
    recorded_at: str = ""  # when we applied it (a backlog on our side must not look like a silent parcel)


@dataclass(frozen=True)
class KeptUpdates:
    """Carrier updates kept for a tracking number before a shipment claimed it, and how many were ever kept there
    (the `shipped` step that claims the number commits only if that count is still the one it read)."""

    count: int = 0
    updates: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    order_id: str
    provider: str
    provider_kind: str
    location: str
    lines: tuple[ShipmentLine, ...]
    request_id: str
    created_at: str
    status: ShipmentStatus = ShipmentStatus.PENDING
    status_at: str = ""  # when the current status happened (carrier time where known)
    attempts: int = 0
    submitted_at: str | None = None
    timer_due: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: str | None = None
    delivered_at: str | None = None
    est_delivery: str | None = None
    last_scan_at: str | None = None
    delay_notified: bool = False
    cancel_requested: bool = False
    cancel_sent: bool = False
    reject_reason: str | None = None
    updated_at: str = ""  # when we last stored a change of it
    version: int = 0
    seen: tuple[str, ...] = ()  # tokens of the last SEEN_LIMIT messages applied to it, oldest first
    heard_at: str | None = None  # when we last heard anything of it (a message's time or when we applied it)

    @property
    def active(self) -> bool:
        return self.status not in (S.REJECTED, S.CANCELLED)

    @property
    def in_house(self) -> bool:
        return self.provider_kind == "in_house"

    @property
    def before_shipping(self) -> bool:
        return self.status in BEFORE_SHIPPING

    @property
    def shipped_units(self) -> int:
        return sum(line.shipped for line in self.lines)

    @property
    def unshipped(self) -> dict[int, int]:
        return {ln.line_no: ln.unshipped for ln in self.lines if ln.unshipped > 0}

    @property
    def awaiting_answer(self) -> bool:
        return self.status in (S.SUBMITTED, S.ACCEPTED) and not self.in_house

    def has_heard(self, token: str) -> bool:
        return token in self.seen

    @property
    def may_have_forgotten(self) -> bool:
        """The window is full: a message older than the ones it remembers may have been applied already."""
        return len(self.seen) >= SEEN_LIMIT

    def hear(self, token: str, at: str) -> Shipment:
        """A message about it was applied: remembered (exactly-once) and counted as news of the parcel."""
        return replace(self, seen=(*self.seen, token)[-SEEN_LIMIT:], heard_at=max(filter(None, (self.heard_at, at))))

    def bump(self, now: str) -> Shipment:
        """The next stored version of this shipment."""
        return replace(self, version=self.version + 1, updated_at=now)

    # ------------------------------------------------------------------ rules
    def can_progress(self, status: ShipmentStatus, occurred_at: str) -> bool:
        """Whether a reported status may become the shipment's status.

        Terminal statuses never change. A report older than the current status is history only.
        Pre-shipping statuses are never reached from a carrier report.
        """
        if self.status in TERMINAL or status in BEFORE_SHIPPING:
            return False
        if self.status in BEFORE_SHIPPING:
            return True
        if self.status_at and occurred_at < self.status_at:
            return False
        return RANK[status] >= RANK[S.SHIPPED]

    def submit(self, now: str, ack_timeout: int) -> Shipment:
        return replace(
            self, status=S.SUBMITTED, status_at=now, submitted_at=now, attempts=1, timer_due=plus(now, ack_timeout)
        )

    def resent(self, now: str, ack_timeout: int) -> Shipment:
        return replace(self, attempts=self.attempts + 1, timer_due=plus(now, ack_timeout))

    def accept(self, at: str) -> Shipment:
        if self.status not in (S.PENDING, S.SUBMITTED):
            return self
        return replace(self, status=S.ACCEPTED, status_at=at, timer_due=None)

    def reject(self, at: str, reason: str) -> Shipment:
        return replace(self, status=S.REJECTED, status_at=at, timer_due=None, reject_reason=reason)

    def cancel(self, at: str) -> Shipment:
        return replace(self, status=S.CANCELLED, status_at=at, timer_due=None)

    def request_cancellation(self, now: str, ack_timeout: int) -> Shipment:
        return replace(self, cancel_requested=True, cancel_sent=True, timer_due=plus(now, ack_timeout))

    def units_to_ship(self, lines: Iterable[tuple[str, int]] | None) -> dict[int, int]:
        """Which line units a `shipped` report covers: all unshipped units, or the reported SKUs' units."""
        if lines is None:
            return self.unshipped
        wanted: dict[str, int] = defaultdict(int)
        for sku, quantity in lines:
            wanted[sku] += quantity
        units: dict[int, int] = {}
        for ln in self.lines:
            take = min(wanted.get(ln.sku, 0), ln.unshipped)
            if take:
                units[ln.line_no] = take
                wanted[ln.sku] -= take
        return units

    def ship(self, units: Mapping[int, int], carrier: str, tracking_number: str, at: str) -> Shipment:
        lines = tuple(replace(ln, shipped=ln.shipped + units.get(ln.line_no, 0)) for ln in self.lines)
        shipped = replace(
            self,
            lines=lines,
            carrier=carrier,
            tracking_number=tracking_number,
            shipped_at=self.shipped_at or at,
            last_scan_at=max(filter(None, (self.last_scan_at, at))),
        )
        if shipped.before_shipping or shipped.can_progress(S.SHIPPED, at):
            shipped = replace(shipped, status=S.SHIPPED, status_at=at)
        return shipped

    def track(self, status: ShipmentStatus | None, at: str, est_delivery: str | None) -> Shipment:
        """A carrier scan. Returns the same object when nothing the shipment item keeps changes."""
        changed = self
        if est_delivery and est_delivery != self.est_delivery:
            changed = replace(changed, est_delivery=est_delivery)
        if status is not None and changed.can_progress(status, at):
            changed = replace(
                changed, status=status, status_at=at, last_scan_at=max(filter(None, (self.last_scan_at, at)))
            )
        return changed

    def with_scans(self, events: Iterable[ShipmentEvent]) -> Shipment:
        """Where the parcel is: this shipment moved by the scans recorded as event items of their own (oldest
        first, each by the rule of `track`), and heard of when the last of its messages was. A scan that was
        applied to the item as well changes nothing a second time."""
        tracked = self
        for event in sorted(events, key=lambda e: (e.at, e.recorded_at)):  # same time: in the order recorded
            if event.shipment_id != self.shipment_id:
                continue
            heard = max(event.at, event.recorded_at)
            tracked = replace(tracked, heard_at=max(filter(None, (tracked.heard_at, heard))))
            if event.type != "tracking":
                continue
            said = event.detail.get("status")
            status = ShipmentStatus(said) if said in _STATUS_VALUES else None
            if scan_only(status):
                tracked = tracked.track(status, event.at, event.detail.get("est_delivery"))
        return tracked

    def newly_delivered(self) -> dict[int, int]:
        """Delivered implies shipped: a shipment never reported shipped (lost or late message) shipped whole;
        after a partial shipment only what shipped was delivered."""
        return {ln.line_no: ln.shipped - ln.delivered for ln in self.lines if ln.shipped > ln.delivered}

    def deliver_parcels(self, at: str) -> Shipment:
        delivered = replace(self, lines=tuple(replace(ln, delivered=ln.shipped) for ln in self.lines))
        if any(ln.delivered < ln.quantity for ln in delivered.lines):
            return delivered  # a shipment sent in several parcels is delivered when its last parcel is
        return replace(delivered, status=S.DELIVERED, status_at=at, delivered_at=at, timer_due=None)

    def arm_delay_timer(self, now: str, delay_after: int) -> Shipment:
        """ "No scan for too long" counts from when we last heard of the parcel (not from a backlog on our side)."""
        if self.status in TERMINAL:
            return replace(self, timer_due=None)
        if self.delay_notified or self.status in BEFORE_SHIPPING:
            return self
        heard = max(filter(None, (self.last_scan_at, self.shipped_at, now)))
        due = plus(heard, delay_after)
        if self.est_delivery:
            due = min(due, self.est_delivery)
        return replace(self, timer_due=due)


def units_in_flight(shipments: Iterable[Shipment]) -> dict[tuple[int, str], int]:
    """Units in active shipments not yet shipped, per (order line, location): not free to release or re-ship."""
    units: dict[tuple[int, str], int] = defaultdict(int)
    for shipment in shipments:
        if shipment.active:
            for ln in shipment.lines:
                units[(ln.line_no, shipment.location)] += ln.unshipped
    return units
