"""The 3PL protocol (ARCHITECTURE.md §3): outbound requests and inbound answers, version 1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, TypeAlias

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter

from fulfillment.contracts.common import MAX_QUANTITY, Contract, adapter
from fulfillment.domain.shipments import CARRIER_STATUSES, ShipmentStatus


def _carrier_status(value: ShipmentStatus) -> ShipmentStatus:
    if value not in CARRIER_STATUSES:
        raise ValueError(
            f"a tracking update reports where the parcel is, one of {sorted(CARRIER_STATUSES)};"
            f" use the message type for {value.value}"
        )
    return value


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]
Id = Annotated[str, Field(min_length=1, max_length=128)]


class Line(Contract):
    model_config = ConfigDict(extra="ignore", frozen=True)
    sku: Id
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


# ------------------------------------------------------------------ outbound (us -> provider)
class ShipTo(Contract):
    name: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None


class FulfillmentRequest(Contract):
    type: Literal["fulfillment_request"] = "fulfillment_request"
    version: Literal[1] = 1
    request_id: str
    shipment_id: str
    order_id: str
    provider: str
    location: str
    ship_to: ShipTo
    lines: list[Line]
    service_level: str = "standard"
    requested_at: str


class CancellationRequest(Contract):
    type: Literal["cancellation_request"] = "cancellation_request"
    version: Literal[1] = 1
    request_id: str
    shipment_id: str
    order_id: str


# ------------------------------------------------------------------ inbound (provider -> us)
class ReturnExpected(Contract):
    """Outbound: an authorised return is on its way back to the provider's location."""

    type: Literal["return_expected"] = "return_expected"
    version: Literal[1] = 1
    rma_id: str
    order_id: str
    location: str
    lines: list[Line]
    authorized_at: str


class _Inbound(Contract):
    model_config = ConfigDict(extra="ignore", frozen=True)
    version: Literal[1]
    message_id: Id
    provider: Id
    sent_at: Timestamp


class Accepted(_Inbound):
    type: Literal["fulfillment_request.accepted"]
    shipment_id: Id


RejectReason = Literal[
    "INVENTORY_OUT_OF_STOCK", "INCORRECT_ADDRESS", "INELIGIBLE_PRODUCT", "UNDELIVERABLE_DESTINATION", "OTHER"
]


class Rejected(_Inbound):
    type: Literal["fulfillment_request.rejected"]
    shipment_id: Id
    reason: RejectReason
    message: str | None = Field(default=None, max_length=1000)


class Shipped(_Inbound):
    type: Literal["shipment.shipped"]
    shipment_id: Id
    carrier: Id
    tracking_number: Id
    shipped_at: Timestamp
    lines: list[Line] | None = None  # present = a partial shipment


class Tracking(_Inbound):
    type: Literal["shipment.tracking"]
    shipment_id: Id
    status: Annotated[ShipmentStatus, AfterValidator(_carrier_status)]
    occurred_at: Timestamp
    description: str | None = Field(default=None, max_length=1000)
    location: str | None = Field(default=None, max_length=256)


class Delivered(_Inbound):
    type: Literal["shipment.delivered"]
    shipment_id: Id
    delivered_at: Timestamp


class CancellationAccepted(_Inbound):
    type: Literal["cancellation_request.accepted"]
    shipment_id: Id


class CancellationRejected(_Inbound):
    type: Literal["cancellation_request.rejected"]
    shipment_id: Id
    message: str | None = Field(default=None, max_length=1000)


class ReturnedLine(Line):
    disposition: Literal["restock", "damaged", "missing"]


class ReturnReceived(_Inbound):
    type: Literal["return.received"]
    rma_id: Id
    lines: list[ReturnedLine]
    received_at: Timestamp


class SnapshotItem(Contract):
    model_config = ConfigDict(extra="ignore", frozen=True)
    sku: Id
    on_hand: int = Field(ge=0, le=10_000_000)


class InventorySnapshot(_Inbound):
    type: Literal["inventory.snapshot"]
    location: Id
    items: list[SnapshotItem] = Field(max_length=5000)
    as_of: Timestamp


# Any inbound message; the discriminated union below is what parses them.
Inbound: TypeAlias = (
    Accepted
    | Rejected
    | Shipped
    | Tracking
    | Delivered
    | CancellationAccepted
    | CancellationRejected
    | ReturnReceived
    | InventorySnapshot
)
InboundMessage = Annotated[Inbound, Field(discriminator="type")]
INBOUND: TypeAdapter[Inbound] = adapter(InboundMessage)


def iso(value: datetime) -> str:
    return _utc(value).isoformat(timespec="microseconds")
