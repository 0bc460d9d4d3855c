"""The storefronts: a Shopify shop, a WooCommerce shop and the shop's own (native) checkout.

They send correctly signed orders at a configurable rate and mix, and then behave like the real
thing: webhooks are redelivered (a lost 200, a retry), some orders are placed unpaid and paid
later (`orders/paid`, WooCommerce `order.updated`), some are cancelled later, some arrive with a
problem (a SKU the catalog does not know yet, no usable address, a suspiciously large value), and a
few native orders for a limited item are fill-or-kill. Each planned order knows what should become
of it, so the demo can tell a stuck order from one that is legitimately waiting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from .base import HttpClient, Scheduler, UnexpectedAnswer, jitter
from .catalog import BY_SKU, PRODUCTS, UNLISTED, Product

SHOPIFY_SHOP = "demo-outfitters.myshopify.com"
WOO_SOURCE = "https://shop.demo-outfitters.example/"


def woocommerce_source(url: str) -> str:
    """How the backend names a WooCommerce store (its URL without scheme and trailing slash), as its secret does."""
    return url.split("://", 1)[-1].rstrip("/").lower()


FIRST_NAMES = (
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Radia",
    "Tim",
    "Frances",
    "John",
    "Katherine",
    "Dennis",
    "Hedy",
    "Linus",
)
LAST_NAMES = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Allen",
    "McCarthy",
    "Johnson",
    "Ritchie",
    "Lamarr",
    "Torvalds",
)
ADDRESSES = (
    {"line1": "969 Market St", "city": "San Francisco", "region": "CA", "postal_code": "94103", "country": "US"},
    {"line1": "350 Fifth Ave", "city": "New York", "region": "NY", "postal_code": "10118", "country": "US"},
    {"line1": "1 Infinite Loop", "city": "Cupertino", "region": "CA", "postal_code": "95014", "country": "US"},
    {"line1": "221B Baker St", "city": "London", "region": None, "postal_code": "NW1 6XE", "country": "GB"},
    {"line1": "Unter den Linden 77", "city": "Berlin", "region": "BE", "postal_code": "10117", "country": "DE"},
    {"line1": "290 Bremner Blvd", "city": "Toronto", "region": "ON", "postal_code": "M5V 3L9", "country": "CA"},
    {"line1": "Rue de Rivoli 99", "city": "Paris", "region": None, "postal_code": "75001", "country": "FR"},
    {
        "line1": "1600 Pennsylvania Ave NW",
        "city": "Washington",
        "region": "DC",
        "postal_code": "20500",
        "country": "US",
    },
)
TZ_OFFSETS = (timezone(timedelta(hours=-4)), timezone(timedelta(hours=-7)), UTC, timezone(timedelta(hours=2)))


@dataclass
class StorefrontConfig:
    rate: float = 10.0  # new orders per second, over all channels
    mix: dict[str, float] = field(default_factory=lambda: {"shopify": 0.45, "woocommerce": 0.25, "native": 0.30})
    redelivery: float = 0.10  # share of webhooks delivered again later (a lost 200, a sender retry)
    duplicate_all: bool = False  # chaos: every webhook is delivered twice at the same moment, and once more later
    unpaid: float = 0.10  # placed with payment pending...
    never_pays: float = 0.25  # ...and of those, never paid (they stay on the awaiting_payment hold)
    cancel: float = 0.06  # cancelled later by the shop or the customer
    unknown_sku: float = 0.03  # contains a SKU the catalog does not list yet
    missing_address: float = 0.04  # no usable shipping address...
    address_fixed: float = 0.6  # ...fixed later by an update (Shopify/WooCommerce only)
    high_value: float = 0.03  # large enough for the fraud_review hold
    fill_or_kill: float = 0.03  # native, for the limited print, all-or-nothing
    digital_only: float = 0.08  # e-books, preset packs, course bundles
    with_digital: float = 0.1  # a physical order that also has a digital line
    seed: int = 7


@dataclass
class PlannedLine:
    sku: str
    quantity: int
    unit_price: Decimal
    digital: bool
    title: str


@dataclass
class PlannedOrder:
    index: int
    channel: str
    external_id: str
    at: float  # seconds after the start of the run
    lines: list[PlannedLine]
    first_name: str
    last_name: str
    email: str | None
    address: dict[str, Any] | None  # None: no shipping address at all
    address_complete: bool
    paid: bool
    pays_after: float | None = None
    cancel_after: float | None = None
    fix_address_after: float | None = None
    fill_or_kill: bool = False
    problems: list[str] = field(default_factory=list)
    # filled in while the run goes
    order_id: str | None = None
    access_token: str | None = None
    answers: list[tuple[str, int, bool | None]] = field(default_factory=list)  # (topic, HTTP status, duplicate)
    sent_at: float | None = None  # monotonic, first send
    acked_at: float | None = None  # monotonic, first 2xx
    created_at: datetime | None = None  # the storefront's created_at (one-second resolution)
    snapshot_at: datetime | None = None  # the storefront's updated_at of the last snapshot it sent
    payload_seq: int = 0
    cancelled_by_storefront: bool = False
    paid_now: bool = False
    paid_delivered_at: float | None = None  # monotonic: when the backend had the payment (after any retries)
    address_fixed: bool = False

    @property
    def total(self) -> Decimal:
        return sum((ln.unit_price * ln.quantity for ln in self.lines), Decimal(0))

    @property
    def physical(self) -> bool:
        return any(not ln.digital for ln in self.lines)

    @property
    def skus(self) -> set[str]:
        return {ln.sku for ln in self.lines}


class Storefront:
    """Plans the orders and sends them; `orders` is what it sent, with the backend's answers."""

    def __init__(
        self,
        http: HttpClient,
        scheduler: Scheduler,
        secrets: dict[str, str],
        config: StorefrontConfig | None = None,
        operator: Any = None,
        products: tuple[Product, ...] = PRODUCTS,
    ) -> None:
        self.products = products
        self.http = http
        self.scheduler = scheduler
        self.secrets = secrets  # channel -> signing secret
        self.config = config or StorefrontConfig()
        self.operator = operator  # native orders are cancelled / released through the shop's admin API
        self.rng = random.Random(self.config.seed)
        self.orders: list[PlannedOrder] = []
        self.sent: Counter[str] = Counter()  # topic -> deliveries
        self.answers: Counter[str] = Counter()  # "202", "200 duplicate", ...
        self.anomalies: list[str] = []
        self._lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._started = 0.0

    # ================================================================== planning
    def plan(self, count: int) -> list[PlannedOrder]:
        cfg, rng = self.config, self.rng
        channels = list(cfg.mix)
        weights = [cfg.mix[c] for c in channels]
        physical = [p for p in self.products if not p.digital and p.sku != "PRINT-LTD"]
        digital = [p for p in self.products if p.digital]
        shopify_base = 5_820_982_911_946_154_508  # Shopify ids exceed 2^53
        orders = []
        for i in range(count):
            channel = rng.choices(channels, weights)[0]
            problems: list[str] = []
            fill_or_kill = channel == "native" and rng.random() < cfg.fill_or_kill / max(cfg.mix.get("native", 1), 0.01)
            lines: list[PlannedLine] = []
            roll = rng.random()
            if fill_or_kill:
                lines.append(_line(BY_SKU["PRINT-LTD"], rng.choice((1, 1, 2))))
            elif roll < cfg.digital_only:
                lines.append(_line(rng.choice(digital), 1))
            else:
                for product in _pick(rng, physical, rng.choice((1, 1, 1, 2, 2, 3))):
                    lines.append(_line(product, rng.choices((1, 2, 3), (75, 20, 5))[0]))
                if rng.random() < cfg.with_digital:
                    lines.append(_line(rng.choice(digital), 1))
            if not fill_or_kill and rng.random() < cfg.unknown_sku:
                lines.append(_line(UNLISTED, 1))
                problems.append("unknown_sku")
            if not fill_or_kill and rng.random() < cfg.high_value:
                lines.append(_line(BY_SKU["LAMP-ARC"], 1))
                lines[-1].unit_price = Decimal("5400.00")  # the shop's "designer edition" price
                problems.append("high_value")
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            address: dict[str, Any] | None = dict(rng.choice(ADDRESSES), name=f"{first} {last}")
            complete = True
            fix_after = None
            if any(not ln.digital for ln in lines) and not fill_or_kill and rng.random() < cfg.missing_address:
                problems.append("missing_address")
                complete = False
                if rng.random() < 0.5:
                    address = None
                else:
                    address = dict(address, line1=None, postal_code=None)
                if channel != "native" and rng.random() < cfg.address_fixed:
                    fix_after = jitter(rng, 2.0, 6.0)
            paid = not (rng.random() < cfg.unpaid)
            pays_after = None
            if not paid:
                problems.append("unpaid")
                if rng.random() >= cfg.never_pays:
                    pays_after = jitter(rng, 1.5, 6.0)
            cancel_after = jitter(rng, 0.5, 9.0) if rng.random() < cfg.cancel else None
            external_id = {
                "shopify": str(shopify_base + i * 7919),
                "woocommerce": str(7000 + i),
                "native": f"NX-{cfg.seed:03d}-{i:05d}",
            }[channel]
            orders.append(
                PlannedOrder(
                    index=i,
                    channel=channel,
                    external_id=external_id,
                    at=i / cfg.rate,
                    lines=lines,
                    first_name=first,
                    last_name=last,
                    email=f"{first}.{last}{i}@example.com".lower(),
                    address=address,
                    address_complete=complete,
                    paid=paid,
                    pays_after=pays_after,
                    cancel_after=cancel_after,
                    fix_address_after=fix_after,
                    fill_or_kill=fill_or_kill,
                    problems=problems,
                )
            )
        self.orders = orders
        return orders

    # ================================================================== sending
    def start(self) -> None:
        self._started = time.monotonic()
        self.scheduler.now(self._woocommerce_ping, "storefront.ping")
        for order in self.orders:
            self.scheduler.after(order.at, lambda o=order: self._create(o), "storefront.create")

    def _create(self, order: PlannedOrder) -> None:
        order.sent_at = time.monotonic()
        order.created_at = order.snapshot_at = datetime.now(UTC).replace(microsecond=0)
        self._deliver(order, "create")
        if order.pays_after is not None:
            self.scheduler.after(order.pays_after, lambda: self._pay(order), "storefront.pay")
        if order.fix_address_after is not None:
            self.scheduler.after(order.fix_address_after, lambda: self._fix_address(order), "storefront.fix_address")
        if order.cancel_after is not None:
            self.scheduler.after(order.cancel_after, lambda: self._cancel(order), "storefront.cancel")

    def _pay(self, order: PlannedOrder) -> None:
        order.paid_now = True
        if order.channel == "native":
            # The native checkout has no update webhook: the shop's backend confirms the payment
            # through the admin API once its payment provider says so.
            def confirm() -> None:
                self.operator.payment_confirmed(order)
                order.paid_delivered_at = time.monotonic()

            self._after_stored(order, confirm, "storefront.native_paid")
            return
        self._next_snapshot(order)
        self._deliver(order, "paid")
        order.paid_delivered_at = time.monotonic()

    def _fix_address(self, order: PlannedOrder) -> None:
        order.address_fixed = True
        order.address = dict(self.rng.choice(ADDRESSES), name=f"{order.first_name} {order.last_name}")
        order.address_complete = True
        self._next_snapshot(order)
        self._deliver(order, "updated")

    def _cancel(self, order: PlannedOrder) -> None:
        order.cancelled_by_storefront = True
        if order.channel == "native":
            self._after_stored(
                order, lambda: self.operator.cancel(order.order_id, "customer request"), "storefront.native_cancel"
            )
            return
        self._next_snapshot(order)
        self._deliver(order, "cancelled")

    def _after_stored(self, order: PlannedOrder, action: Any, label: str, tries: int = 50) -> None:
        if order.order_id is None:
            if tries:
                self.scheduler.after(0.2, lambda: self._after_stored(order, action, label, tries - 1), label)
            else:
                self._anomaly(f"order #{order.index} never got an order id")
            return
        action()

    def _next_snapshot(self, order: PlannedOrder) -> None:
        """Storefront timestamps have one-second resolution: a follow-up is at least a second newer. A payment and
        a cancellation of one order can happen at once (two peer threads): each gets its own, later timestamp, as
        the storefront's database would give them."""
        with self._snapshot_lock:
            now = datetime.now(UTC).replace(microsecond=0)
            order.snapshot_at = max(now, (order.snapshot_at or now) + timedelta(seconds=1))
            order.payload_seq += 1

    def _deliver(self, order: PlannedOrder, event: str) -> None:
        method, path, body, headers, topic = self._request(order, event)
        copies = 1
        if self.config.duplicate_all:
            copies = 2  # delivered twice at the same moment (two sender workers)...
            self.scheduler.after(
                jitter(self.rng, 0.5, 3.0),
                lambda: self._send(order, topic, method, path, body, headers, redelivery=True),
                "storefront.redeliver",
            )  # ...and once more later
        elif self.rng.random() < self.config.redelivery:
            self.scheduler.after(
                jitter(self.rng, 0.3, 3.0),
                lambda: self._send(order, topic, method, path, body, headers, redelivery=True),
                "storefront.redeliver",
            )
        for _ in range(copies - 1):
            self.scheduler.now(
                lambda: self._send(order, topic, method, path, body, headers, redelivery=True), "storefront.duplicate"
            )
        self._send(order, topic, method, path, body, headers, redelivery=False)

    def _send(
        self,
        order: PlannedOrder,
        topic: str,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        *,
        redelivery: bool,
    ) -> None:
        if order.channel == "native":  # signed at send time: the signature carries a timestamp
            headers = dict(headers, **{"X-Fulfillment-Signature": sign_native(body, self.secrets["native"])})
        response = self.http.request(method, path, body=body, headers=headers, label=f"intake.{order.channel}")
        with self._lock:
            self.sent[topic] += 1
            duplicate = response.body.get("duplicate") if isinstance(response.body, dict) else None
            self.answers[f"{response.status}{' duplicate' if duplicate else ''}"] += 1
            order.answers.append((topic, response.status, duplicate))
        if response.status not in (200, 202):
            raise UnexpectedAnswer(
                f"{topic} for #{order.index} ({order.channel}): HTTP {response.status} {str(response.body)[:300]}"
            )
        order_id = response.body.get("order_id")
        with self._lock:
            if order.order_id is None:
                order.order_id = order_id
                order.acked_at = time.monotonic()
            elif order_id != order.order_id:
                self._anomaly(f"#{order.index}: {topic} answered order_id {order_id}, earlier {order.order_id}")
            token = response.body.get("access_token")
            if token:
                if order.access_token and token != order.access_token:
                    self._anomaly(f"#{order.index}: redelivery returned a different access token")
                order.access_token = order.access_token or token

    def _anomaly(self, text: str) -> None:
        with self._lock:
            self.anomalies.append(text)

    def _woocommerce_ping(self) -> None:
        """WooCommerce sends an unsigned `webhook_id=N` form body when the webhook is created."""
        response = self.http.post(
            "/webhooks/woocommerce", body=b"webhook_id=7", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        with self._lock:
            self.sent["woocommerce ping"] += 1
            self.answers[f"{response.status} ping"] += 1

    # ================================================================== wire formats
    def _request(self, order: PlannedOrder, event: str) -> tuple[str, str, bytes, dict[str, str], str]:
        if order.channel == "shopify":
            topic = {
                "create": "orders/create",
                "paid": "orders/paid",
                "updated": "orders/updated",
                "cancelled": "orders/cancelled",
            }[event]
            body = json.dumps(self._shopify(order, event)).encode()
            digest = base64.b64encode(hmac.new(self.secrets["shopify"].encode(), body, hashlib.sha256).digest())
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": digest.decode(),
                "X-Shopify-Shop-Domain": SHOPIFY_SHOP,
                "X-Shopify-API-Version": "2024-04",
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Event-Id": str(uuid.uuid4()),
                "X-Shopify-Triggered-At": _shopify_time(datetime.now(UTC)),
            }
            return "POST", "/webhooks/shopify", body, headers, f"shopify {topic}"
        if order.channel == "woocommerce":
            topic = "order.created" if event == "create" else "order.updated"
            body = wp_json_encode(self._woocommerce(order, event))
            digest = base64.b64encode(hmac.new(self.secrets["woocommerce"].encode(), body, hashlib.sha256).digest())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)",
                "X-WC-Webhook-Source": WOO_SOURCE,
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": "order",
                "X-WC-Webhook-Event": topic.split(".")[1],
                "X-WC-Webhook-Signature": digest.decode(),
                "X-WC-Webhook-ID": "7",
                "X-WC-Webhook-Delivery-ID": str(self.rng.randrange(10_000, 99_999)),
            }
            return "POST", "/webhooks/woocommerce", body, headers, f"woocommerce {topic}"
        body = json.dumps(self._native(order)).encode()
        return "POST", "/orders", body, {"Content-Type": "application/json"}, "native order"

    def _shopify(self, order: PlannedOrder, event: str) -> dict[str, Any]:
        tz = TZ_OFFSETS[order.index % len(TZ_OFFSETS)]
        created = order.created_at or datetime.now(UTC).replace(microsecond=0)
        cancelled = event == "cancelled"
        financial = "paid" if (order.paid or order.paid_now) else "pending"
        if cancelled:
            financial = {"paid": "refunded", "pending": "voided"}[financial] if order.index % 2 else financial
        address = _shopify_address(order) if order.address is not None else None
        total = order.total
        return {
            "id": int(order.external_id),
            "admin_graphql_api_id": f"gid://shopify/Order/{order.external_id}",
            "name": f"#{1001 + order.index}",
            "number": order.index + 1,
            "order_number": 1001 + order.index,
            "email": order.email or "",
            "contact_email": order.email,
            "created_at": _shopify_time(created, tz),
            "updated_at": _shopify_time(order.snapshot_at or created, tz),
            "processed_at": _shopify_time(created, tz),
            "currency": "USD",
            "presentment_currency": "USD",
            "financial_status": financial,
            "fulfillment_status": None,
            "confirmed": True,
            "test": False,
            "cancelled_at": _shopify_time(order.snapshot_at or created, tz) if cancelled else None,
            "cancel_reason": "customer" if cancelled else None,
            "total_price": f"{total:.2f}",
            "subtotal_price": f"{total:.2f}",
            "total_tax": "0.00",
            "total_discounts": "0.00",
            "taxes_included": False,
            "customer": {
                "id": 207119551 + order.index,
                "email": order.email,
                "first_name": order.first_name,
                "last_name": order.last_name,
                "verified_email": True,
            },
            "billing_address": _shopify_address(order, billing=True),
            "shipping_address": address,
            "line_items": [
                {
                    "id": 466157049 + order.index * 10 + n,
                    "variant_id": 39072856 + n,
                    "product_id": 632910392 + n,
                    "sku": ln.sku,
                    "title": ln.title,
                    "name": ln.title,
                    "variant_title": None,
                    "vendor": "Demo",
                    "quantity": ln.quantity,
                    "fulfillable_quantity": ln.quantity,
                    "price": f"{ln.unit_price:.2f}",
                    "total_discount": "0.00",
                    "requires_shipping": not ln.digital,
                    "taxable": True,
                    "gift_card": False,
                    "fulfillment_service": "manual",
                    "fulfillment_status": None,
                    "grams": BY_SKU.get(ln.sku, UNLISTED).grams,
                    "properties": [],
                    "product_exists": True,
                }
                for n, ln in enumerate(order.lines)
            ],
            "shipping_lines": [],
            "fulfillments": [],
            "refunds": [],
            "tags": "",
            "note": None,
        }

    def _woocommerce(self, order: PlannedOrder, event: str) -> dict[str, Any]:
        status = "processing" if (order.paid or order.paid_now) else "pending"
        if event == "cancelled":
            status = "cancelled"
        created = order.created_at or datetime.now(UTC).replace(microsecond=0)
        modified = order.snapshot_at or created
        address = order.address or {}
        shipping = {
            "first_name": order.first_name if order.address is not None else "",
            "last_name": order.last_name if order.address is not None else "",
            "company": "",
            "address_1": address.get("line1") or "",
            "address_2": "",
            "city": address.get("city") or "",
            "state": address.get("region") or "",
            "postcode": address.get("postal_code") or "",
            "country": address.get("country") or "",
            "phone": "",
        }
        billing = dict(
            shipping,
            first_name=order.first_name,
            last_name=order.last_name,
            email=order.email or "",
            phone="(555) 555-5555",
        )
        return {
            "id": int(order.external_id),
            "parent_id": 0,
            "number": order.external_id,
            "order_key": f"wc_order_{hashlib.sha1(order.external_id.encode()).hexdigest()[:13]}",  # noqa: S324
            "created_via": "checkout",
            "version": "8.9.1",
            "status": status,
            "currency": "USD",
            "date_created": _woo_time(created),
            "date_created_gmt": _woo_time(created),
            "date_modified": _woo_time(modified),
            "date_modified_gmt": _woo_time(modified),
            "discount_total": "0.00",
            "discount_tax": "0.00",
            "shipping_total": "0.00",
            "shipping_tax": "0.00",
            "cart_tax": "0.00",
            "total": f"{order.total:.2f}",
            "total_tax": "0.00",
            "prices_include_tax": False,
            "customer_id": 0,
            "customer_ip_address": "198.51.100.7",
            "customer_user_agent": "Mozilla/5.0",
            "customer_note": "",
            "billing": billing,
            "shipping": shipping,
            "payment_method": "stripe",
            "payment_method_title": "Credit card",
            "transaction_id": f"ch_{order.index:08d}" if status == "processing" else "",
            "date_paid_gmt": _woo_time(modified) if status == "processing" else None,
            "line_items": [
                {
                    "id": 315 + order.index * 10 + n,
                    "name": ln.title,
                    "product_id": 93 + n,
                    "variation_id": 0,
                    "quantity": ln.quantity,
                    "tax_class": "",
                    "subtotal": f"{ln.unit_price * ln.quantity:.2f}",
                    "subtotal_tax": "0.00",
                    "total": f"{ln.unit_price * ln.quantity:.2f}",
                    "total_tax": "0.00",
                    "taxes": [],
                    "meta_data": [],
                    "sku": ln.sku,
                    "price": float(ln.unit_price),
                }
                for n, ln in enumerate(order.lines)
            ],
            "tax_lines": [],
            "shipping_lines": [],
            "fee_lines": [],
            "coupon_lines": [],
            "refunds": [],
            "meta_data": [],
        }

    def _native(self, order: PlannedOrder) -> dict[str, Any]:
        body: dict[str, Any] = {
            "external_id": order.external_id,
            "currency": "USD",
            "customer": {"email": order.email, "name": f"{order.first_name} {order.last_name}"},
            "payment_status": "paid" if order.paid else "pending",
            "lines": [
                {"sku": ln.sku, "quantity": ln.quantity, "unit_price": f"{ln.unit_price:.2f}"} for ln in order.lines
            ],
        }
        if order.address is not None:
            a = order.address
            body["shipping_address"] = {
                "name": a.get("name"),
                "line1": a.get("line1"),
                "line2": None,
                "city": a.get("city"),
                "region": a.get("region"),
                "postal_code": a.get("postal_code"),
                "country": a.get("country"),
                "phone": None,
            }
        if order.fill_or_kill:
            body["fill_policy"] = "fill_or_kill"
        return body


# ====================================================================== helpers
def sign_native(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """X-Fulfillment-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def wp_json_encode(value: Any) -> bytes:
    """How WordPress serialises a webhook body: compact, ASCII-only, slashes escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def _line(product: Product, quantity: int) -> PlannedLine:
    return PlannedLine(product.sku, quantity, product.price, product.digital, product.title)


def _pick(rng: random.Random, products: list[Product], count: int) -> list[Product]:
    chosen: list[Product] = []
    pool = list(products)
    for _ in range(min(count, len(pool))):
        product = rng.choices(pool, [p.weight for p in pool])[0]
        chosen.append(product)
        pool.remove(product)
    return chosen


def _shopify_time(value: datetime, tz: timezone = UTC) -> str:
    return value.astimezone(tz).replace(microsecond=0).isoformat()


def _woo_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _shopify_address(order: PlannedOrder, *, billing: bool = False) -> dict[str, Any]:
    a = order.address or {}
    if billing and not a:
        a = ADDRESSES[order.index % len(ADDRESSES)]
    return {
        "first_name": order.first_name,
        "last_name": order.last_name,
        "name": f"{order.first_name} {order.last_name}",
        "company": None,
        "address1": a.get("line1"),
        "address2": None,
        "city": a.get("city"),
        "province": a.get("region"),
        "province_code": a.get("region"),
        "zip": a.get("postal_code"),
        "country": a.get("country"),
        "country_code": a.get("country"),
        "phone": None,
        "latitude": None,
        "longitude": None,
    }
