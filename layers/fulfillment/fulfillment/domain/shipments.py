"""Shipments: statuses, their order of progress, and carrier status normalisation."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from enum import StrEnum


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
    events: tuple[dict, ...] = field(default_factory=tuple)
    version: int = 0

    @property
    def active(self) -> bool:
        return self.status not in (S.REJECTED, S.CANCELLED)

    @property
    def shipped_units(self) -> int:
        return sum(line.shipped for line in self.lines)

    def record(self, event: dict, limit: int = 50) -> Shipment:
        return replace(self, events=(*self.events, event)[-limit:])


def progress(current: Shipment, status: ShipmentStatus, occurred_at: str) -> bool:
    """Whether a reported status may become the shipment's status.

    Terminal statuses never change. A report older than the current status is history only.
    Pre-shipping statuses are never reached from a carrier report.
    """
    if current.status in TERMINAL or status in BEFORE_SHIPPING:
        return False
    if current.status in BEFORE_SHIPPING:
        return True
    if current.status_at and occurred_at < current.status_at:
        return False
    return RANK[status] >= RANK[S.SHIPPED]


def units_in_flight(shipments: list[Shipment]) -> dict[tuple[int, str], int]:
    """Units in active shipments not yet shipped, per (order line, location): not free to release or re-ship."""
    units: dict[tuple[int, str], int] = defaultdict(int)
    for shipment in shipments:
        if shipment.active:
            for ln in shipment.lines:
                units[(ln.line_no, shipment.location)] += ln.unshipped
    return units
