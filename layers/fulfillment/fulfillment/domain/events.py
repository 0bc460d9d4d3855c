"""What happened: timeline entries of an aggregate's change, some of them customer events, with stable ids.

One business occurrence has one event id, whatever retries happen upstream: the id is a hash of what
identifies the occurrence (order + milestone [+ what makes it unique: a shipment, a hold's order version]).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CustomerEvent(StrEnum):
    ORDER_RECEIVED = "OrderReceived"
    ORDER_ON_HOLD = "OrderOnHold"
    ORDER_BACKORDERED = "OrderBackordered"
    ORDER_SHIPPED = "OrderShipped"
    SHIPMENT_DELIVERED = "ShipmentDelivered"
    ORDER_DELIVERED = "OrderDelivered"
    SHIPMENT_DELAYED = "ShipmentDelayed"
    DOWNLOAD_READY = "DownloadReady"
    RETURN_AUTHORIZED = "ReturnAuthorized"
    RETURN_RECEIVED = "ReturnReceived"
    REFUND_DUE = "RefundDue"
    ORDER_CANCELLED = "OrderCancelled"
    LOW_STOCK = "LowStock"


EVENT_SOURCE = "fulfillment"


def event_id(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Entry:
    """One timeline entry of a change. `detail` never holds PII."""

    type: str  # received, hold_placed, hold_released, reserved, backordered, cancelled, shipment_shipped, ...
    detail: dict[str, Any] = field(default_factory=dict)
    event: CustomerEvent | None = None
    occurrence: str = ""  # with the order id and event name, identifies the business occurrence

    def event_id(self, order_id: str) -> str | None:
        return event_id(order_id, self.event.value, self.occurrence) if self.event is not None else None
