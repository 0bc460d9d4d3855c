"""Storefront order payloads (Shopify, WooCommerce, native) and their normalisation into `Order`.

Storefront models are lenient where the storefront is (nulls, empty strings, unknown fields):
an authentic order is stored even when its content is a problem. The native model is the
project's own contract and strict: money as decimal strings, integer quantities.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StrictInt, StringConstraints

from fulfillment.contracts.common import MAX_REFERENCE, Contract, Money, Quantity, Reference, Text, clip
from fulfillment.domain.model import Address, Channel, Customer, FillPolicy, Line, LineKind, Order

OptStr = Text  # storefront text: blank is None, longer than MAX_TEXT is cut (never a reason to lose an order)


def _sku(value: object) -> object:
    """A storefront SKU, cut at MAX_REFERENCE: one the catalog could hold is far shorter (the rest is unknown)."""
    return (clip(value) or "")[:MAX_REFERENCE] or None if isinstance(value, str) else value


SkuText = Annotated[str | None, BeforeValidator(_sku)]
PlatformId = Annotated[int, Field(ge=0, lt=2**63)]  # Shopify / WooCommerce ids are 64-bit integers
LineId = PlatformId | Reference


def _utc_iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class _Lenient(Contract):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


# ------------------------------------------------------------------ Shopify
class ShopifyAddress(_Lenient):
    name: OptStr = None
    first_name: OptStr = None
    last_name: OptStr = None
    address1: OptStr = None
    address2: OptStr = None
    city: OptStr = None
    province: OptStr = None
    province_code: OptStr = None
    zip: OptStr = None
    country: OptStr = None
    country_code: OptStr = None
    phone: OptStr = None

    def to_address(self) -> Address:
        name = self.name or " ".join(p for p in (self.first_name, self.last_name) if p) or None
        return Address(
            name=name,
            line1=self.address1,
            line2=self.address2,
            city=self.city,
            region=self.province_code or self.province,
            postal_code=self.zip,
            country=(self.country_code or "").upper() or None,
            phone=self.phone,
        )


class ShopifyCustomer(_Lenient):
    email: OptStr = None
    first_name: OptStr = None
    last_name: OptStr = None


class ShopifyLineItem(_Lenient):
    id: LineId
    sku: SkuText = None
    title: OptStr = None
    name: OptStr = None
    quantity: Quantity
    price: Money = Decimal(0)
    requires_shipping: bool = True
    gift_card: bool = False


# Shopify financial_status -> the payment state the holds reason about.
SHOPIFY_PAYMENT = {
    "paid": "paid",
    "authorized": "authorized",
    "pending": "pending",
    "partially_paid": "partially_paid",
    "partially_refunded": "paid",
    "refunded": "refunded",
    "voided": "voided",
    "expired": "expired",
}


class ShopifyRefundLine(_Lenient):
    line_item_id: LineId
    quantity: Quantity
    restock_type: OptStr = None


class ShopifyRefund(_Lenient):
    """The bare REST Refund resource of a `refunds/create` webhook."""

    id: LineId
    order_id: PlatformId
    note: OptStr = None
    refund_line_items: list[ShopifyRefundLine] = Field(default_factory=list)


class ShopifyOrder(_Lenient):
    """The bare REST Order resource Shopify sends for every orders/* topic."""

    id: PlatformId
    name: OptStr = None
    email: OptStr = None
    contact_email: OptStr = None
    currency: str = Field(min_length=3, max_length=3)
    financial_status: OptStr = None
    total_price: Money | None = None
    cancelled_at: datetime | None = None
    cancel_reason: OptStr = None
    updated_at: datetime | None = None
    created_at: datetime | None = None
    customer: ShopifyCustomer | None = None
    shipping_address: ShopifyAddress | None = None
    line_items: list[ShopifyLineItem] = Field(max_length=1000)

    def to_order(self, shop: str) -> Order:
        customer_email = self.email or self.contact_email or (self.customer.email if self.customer else None)
        customer_name = None
        if self.customer:
            customer_name = " ".join(p for p in (self.customer.first_name, self.customer.last_name) if p) or None
        address = self.shipping_address.to_address() if self.shipping_address else None
        if customer_name is None and address is not None:
            customer_name = address.name
        lines = [
            Line(
                line_no=i + 1,
                sku=item.sku,
                quantity=item.quantity,
                unit_price=item.price,
                kind=LineKind.PHYSICAL if item.requires_shipping else LineKind.DIGITAL,
                requires_shipping=item.requires_shipping,
                title=item.title or item.name,
                source_line_id=str(item.id),
            )
            for i, item in enumerate(self.line_items)
            if item.quantity > 0
        ]
        return Order(
            order_id="",
            channel=Channel.SHOPIFY,
            shop=shop.lower(),
            external_id=str(self.id),
            name=self.name,
            currency=self.currency.upper(),
            lines=tuple(lines),
            customer=Customer(email=customer_email, name=customer_name),
            shipping_address=address,
            payment_status=SHOPIFY_PAYMENT.get((self.financial_status or "pending").lower(), "pending"),
            total=self.total_price,
            cancelled=self.cancelled_at is not None,
            cancel_reason=self.cancel_reason,
            source_updated_at=_utc_iso(self.updated_at or self.created_at),
        )


# ------------------------------------------------------------------ WooCommerce
class WooAddress(_Lenient):
    first_name: OptStr = None
    last_name: OptStr = None
    company: OptStr = None
    address_1: OptStr = None
    address_2: OptStr = None
    city: OptStr = None
    state: OptStr = None
    postcode: OptStr = None
    country: OptStr = None
    email: OptStr = None
    phone: OptStr = None

    def is_empty(self) -> bool:
        return not any((self.address_1, self.city, self.postcode, self.country))

    def to_address(self) -> Address:
        return Address(
            name=" ".join(p for p in (self.first_name, self.last_name) if p) or None,
            line1=self.address_1,
            line2=self.address_2,
            city=self.city,
            region=self.state,
            postal_code=self.postcode,
            country=(self.country or "").upper() or None,
            phone=self.phone,
        )


class WooLineItem(_Lenient):
    id: LineId
    name: OptStr = None
    sku: SkuText = None
    quantity: Quantity
    price: Money | None = None
    total: Money | None = None


# WooCommerce order status -> payment state; cancelled/trash cancel the order.
WOO_PAYMENT = {
    "processing": "paid",
    "completed": "paid",
    "pending": "pending",
    "on-hold": "pending",
    "failed": "failed",
    "refunded": "refunded",
    "cancelled": "voided",
    "trash": "voided",
}


class WooOrder(_Lenient):
    """GET /wc/v3/orders/{id} as WooCommerce puts it in order.* webhooks."""

    id: PlatformId
    number: OptStr = None
    order_key: Annotated[str, Field(max_length=MAX_REFERENCE)] | None = None  # random per order: its global id
    status: str = Field(max_length=64)
    currency: str = Field(min_length=3, max_length=3)
    total: Money | None = None
    date_created_gmt: datetime | None = None
    date_modified_gmt: datetime | None = None
    billing: WooAddress | None = None
    shipping: WooAddress | None = None
    line_items: list[WooLineItem] = Field(max_length=1000)

    def to_order(self, shop: str) -> Order:
        lines = []
        for i, item in enumerate(self.line_items):
            if item.quantity <= 0:
                continue
            price = item.price
            if price is None and item.total is not None:
                price = item.total / item.quantity
            lines.append(
                Line(
                    line_no=i + 1,
                    sku=item.sku,
                    quantity=item.quantity,
                    unit_price=Decimal(price if price is not None else 0),
                    kind=LineKind.PHYSICAL,  # WooCommerce says nothing per line: the catalog decides
                    title=item.name,
                    source_line_id=str(item.id),
                )
            )
        shipping = self.shipping if self.shipping and not self.shipping.is_empty() else None
        name = None
        if self.billing:
            name = " ".join(p for p in (self.billing.first_name, self.billing.last_name) if p) or None
        return Order(
            order_id="",
            channel=Channel.WOOCOMMERCE,
            shop=shop.lower(),
            external_id=str(self.id),
            name=self.number,
            currency=self.currency.upper(),
            lines=tuple(lines),
            customer=Customer(email=self.billing.email if self.billing else None, name=name),
            shipping_address=shipping.to_address() if shipping else None,
            payment_status=WOO_PAYMENT.get(self.status, "pending"),
            total=self.total,
            cancelled=self.status in ("cancelled", "trash"),
            cancel_reason=self.status if self.status in ("cancelled", "trash") else None,
            source_updated_at=_utc_iso(self.date_modified_gmt or self.date_created_gmt),
        )


# ------------------------------------------------------------------ native
NativeMoney = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,4})?$")]
NativeText = Annotated[str, StringConstraints(max_length=256)]


class NativeAddress(Contract):
    model_config = ConfigDict(extra="ignore")
    name: NativeText | None = None
    line1: NativeText | None = None
    line2: NativeText | None = None
    city: NativeText | None = None
    region: NativeText | None = None
    postal_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    country: Annotated[str, StringConstraints(max_length=2)] | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None


class NativeCustomer(Contract):
    model_config = ConfigDict(extra="ignore")
    email: NativeText | None = None
    name: NativeText | None = None


class NativeLine(Contract):
    model_config = ConfigDict(extra="ignore")
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
    quantity: StrictInt = Field(ge=1, le=100_000)
    unit_price: NativeMoney


class NativeOrder(Contract):
    """POST /orders. NativeMoney is a decimal string ("19.99") in `currency`; never a JSON number."""

    model_config = ConfigDict(extra="ignore")
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    customer: NativeCustomer = NativeCustomer()
    shipping_address: NativeAddress | None = None
    payment_status: Literal["paid", "authorized", "pending"]
    lines: list[NativeLine] = Field(min_length=1, max_length=1000)
    fill_policy: FillPolicy = FillPolicy.SHIP_AVAILABLE

    def to_order(self, shop: str = "native") -> Order:
        address = None
        if self.shipping_address is not None:
            a = self.shipping_address
            address = Address(
                name=a.name,
                line1=a.line1,
                line2=a.line2,
                city=a.city,
                region=a.region,
                postal_code=a.postal_code,
                country=(a.country or "").upper() or None,
                phone=a.phone,
            )
        lines = tuple(
            Line(
                line_no=i + 1,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=Decimal(line.unit_price),
                kind=LineKind.PHYSICAL,
            )
            for i, line in enumerate(self.lines)
        )
        return Order(
            order_id="",
            channel=Channel.NATIVE,
            shop=shop,
            external_id=self.external_id,
            currency=self.currency,
            lines=lines,
            customer=Customer(email=self.customer.email, name=self.customer.name),
            shipping_address=address,
            payment_status=self.payment_status,
            fill_policy=self.fill_policy,
        )
