"""Customer events and their identities.

One business occurrence has one event id, whatever retries happen upstream: the id is a hash of
what identifies the occurrence (order + milestone [+ the order version that made it]).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum


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
