"""The order's value types: channels, fill policies, holds, statuses, work states, addresses, customers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    NATIVE = "native"


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
    DIGITAL_ASSET_MISSING = "digital_asset_missing"  # a paid digital line whose SKU names no file to deliver
    STALLED = "stalled"  # the sweep re-queued its work several times (or found none) and the order did not move


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
