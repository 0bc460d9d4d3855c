"""The order as the whole system sees it, whatever channel it came from."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum


class Channel(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    NATIVE = "native"


class LineKind(StrEnum):
    PHYSICAL = "physical"
    DIGITAL = "digital"


class FillPolicy(StrEnum):
    SHIP_AVAILABLE = "ship_available"
    FILL_OR_KILL = "fill_or_kill"


class Hold(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    FRAUD_REVIEW = "fraud_review"
    ADDRESS_INVALID = "address_invalid"
    UNKNOWN_SKU = "unknown_sku"
    PROVIDER_UNRESPONSIVE = "provider_unresponsive"
    FULFILLMENT_REJECTED = "fulfillment_rejected"  # a provider refused for a reason an operator must look at


class OrderStatus(StrEnum):
    RECEIVED = "received"
    ON_HOLD = "on_hold"
    BACKORDERED = "backordered"
    RESERVED = "reserved"
    DISPATCHED = "dispatched"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class WorkState(StrEnum):
    """Progress of an asynchronous step the router hands to a queue (reservation, release)."""

    NONE = "none"
    PENDING = "pending"
    DONE = "done"


@dataclass(frozen=True)
class Address:
    name: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Customer:
    email: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Line:
    line_no: int
    sku: str | None
    quantity: int
    unit_price: Decimal
    kind: LineKind
    title: str | None = None
    source_line_id: str | None = None
    known: bool = True  # the SKU exists in the catalog
    requires_shipping: bool | None = None  # what the storefront said, when it says (Shopify does)
    reserved: int = 0  # units held for this line now (falls when units ship)
    dispatched: int = 0  # reserved units already in an active, not yet shipped shipment
    backordered: int = 0
    shipped: int = 0
    delivered: int = 0
    returned: int = 0
    allocations: dict[str, int] = field(default_factory=dict)  # location -> units reserved there

    @property
    def needs_stock(self) -> bool:
        return self.kind is LineKind.PHYSICAL and self.known and self.sku is not None

    @property
    def undispatched(self) -> int:
        return max(self.reserved - self.dispatched, 0)

    @property
    def unallocated(self) -> int:
        """Units neither reserved nor waiting as a backorder (what a reservation pass must place)."""
        placed = self.reserved + self.backordered + self.shipped
        return max(self.quantity - placed, 0) if self.needs_stock else 0


@dataclass(frozen=True)
class Order:
    """A normalised order. `external_id` is always a string (Shopify ids exceed 2^53)."""

    order_id: str
    channel: Channel
    shop: str
    external_id: str
    currency: str
    lines: tuple[Line, ...]
    customer: Customer = Customer()
    shipping_address: Address | None = None
    payment_status: str = "pending"
    fill_policy: FillPolicy = FillPolicy.SHIP_AVAILABLE
    name: str | None = None
    total: Decimal | None = None
    cancelled: bool = False
    cancel_reason: str | None = None
    source_updated_at: str | None = None  # the storefront's own updated_at (UTC ISO), orders snapshots
    holds: dict[str, dict] = field(default_factory=dict)  # reason -> {"since", "detail"}
    created_at: str = ""
    updated_at: str = ""
    version: int = 0
    reservation_state: WorkState = WorkState.NONE
    reservation_cursor: int = 0
    release_state: WorkState = WorkState.NONE
    access_token_hash: str = ""
    payload_hash: str = ""
    shipment_seq: int = 0  # shipments created so far (ids are order_id.NNN)

    @property
    def dispatchable(self) -> bool:
        """Reserved units wait to be put into a shipment, and nothing blocks it."""
        return not self.cancelled and not self.holds and any(line.undispatched for line in self.lines)

    @property
    def physical_lines(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.kind is LineKind.PHYSICAL)

    @property
    def order_value(self) -> Decimal:
        if self.total is not None:
            return self.total
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))

    def with_lines(self, lines: tuple[Line, ...]) -> Order:
        return replace(self, lines=lines)


def order_id_for(channel: Channel, shop: str, external_id: str) -> str:
    """The order id is derived from the business key, so every delivery of one order finds one id.

    Redeliveries, out-of-order topics (orders/paid before orders/create) and concurrent
    duplicates all compute the same id, and one conditional put decides which one stores it.
    """
    digest = hashlib.sha256(f"{channel}\x1f{shop.lower()}\x1f{external_id}".encode()).digest()
    return "o_" + base64.b32encode(digest[:15]).decode().lower()
