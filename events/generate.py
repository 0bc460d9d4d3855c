"""Generate the sample Lambda events in events/<function folder>/<name>.json.

    .venv/bin/python events/generate.py

One realistic event per trigger and message type, shaped exactly as Lambda delivers it (API Gateway REST
proxy, SQS, DynamoDB streams, EventBridge schedule), for `sam local invoke <Function> -e events/...` and
for tests. Deterministic: ids and timestamps are fixed, so regenerating changes nothing unless this
file changed. Webhooks are signed with the sample secrets of events/sign.py (template.yaml LocalValue).

The samples tell one story: a Shopify order (#1042) from demo-store.myshopify.com is received, reserved
at WH-EAST, dispatched to the 3PL tpl-east as shipment <order_id>.001, shipped with USPS, tracked and
delivered; a WooCommerce order (727) waits for payment and expires; a keyboard (KBD-MECH) is backordered
until stock is received. Stream images are built, not written by hand: orders and shipments are domain
objects (fulfillment.domain) changed by the domain's rules and encoded by the codecs the services store them
with (fulfillment.adapters.codecs `order.to_item`, `shipment.to_item`), then serialised with boto3's
TypeSerializer; a change of the model or a codec changes the samples (tests/contract fails until they are
regenerated). Stock and catalog images list what adapters/uow.py's update expressions set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sign
from boto3.dynamodb.types import TypeSerializer
from fulfillment import keys, tokens
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.adapters.codecs import shipment as shipment_codec
from fulfillment.domain import progress
from fulfillment.domain.events import CustomerEvent, Entry
from fulfillment.domain.model import (
    Address,
    Channel,
    Customer,
    Hold,
    Line,
    LineKind,
    Order,
    WorkState,
    order_id_for,
)
from fulfillment.domain.shipments import Shipment, ShipmentEvent, ShipmentLine, ShipmentStatus, message_token

EVENTS_DIR = Path(__file__).resolve().parent

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "fulfillment-dev"
STAGE = "dev"
API_ID = "a1b2c3d4e5"
API_HOST = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
TABLE_NAME = f"{STACK}-FulfillmentTable-1JQ7S4F2V9K3E"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE_NAME}/stream/2025-03-01T09:00:00.000"
QUEUE_SUFFIX = {
    "ReservationQueue": "x7Rk2PqL9mWd",
    "DispatchQueue": "Hc4vN8sTq2Zb",
    "InboundQueue": "3fGm9KpW1yVa",
    "DigitalQueue": "Qe5tJw8Rn3Lc",
}
LAMBDA_ROLE_ID = "AROA2EXAMPLEROLEID7Q"  # SenderId of messages our functions send: <role id>:<function name>
TPL_EAST_SENDER = "AIDA2EXAMPLETPLEAST01"  # the IAM user of the 3PL tpl-east (see ProviderSenders)

T0 = datetime(2025, 3, 14, 10, 15, 30, tzinfo=UTC)  # the Shopify order arrives
SAMPLE_TIMESTAMP = int(T0.timestamp())  # the native order's signature time (re-sign with sign.py --now)

SHOP = "demo-store.myshopify.com"
SHOPIFY_ORDER = 5837419053162
WOO_SHOP = "shop.example.com"
WOO_ORDER = 727
CARRIER, TRACKING = "USPS", "9400111899223856924817"
IN_HOUSE_CARRIER, IN_HOUSE_TRACKING = "UPS", "1Z999AA10123456784"


# ------------------------------------------------------------------ helpers
def iso(at: datetime, *, micro: bool = True) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds" if micro else "seconds")


def zulu(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_uuid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fulfillment-events/" + "/".join(str(p) for p in parts)))


def stable_hex(length: int, *parts: object) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:length]


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


ORDER_ID = order_id_for(Channel.SHOPIFY, SHOP, str(SHOPIFY_ORDER))
WOO_ORDER_ID = order_id_for(Channel.WOOCOMMERCE, WOO_SHOP, str(WOO_ORDER))
SHIPMENT_ID = f"{ORDER_ID}.001"  # at WH-EAST (tpl-east)
IN_HOUSE_SHIPMENT_ID = f"{ORDER_ID}.002"  # at HQ (in-house warehouse)


# ------------------------------------------------------------------ API Gateway (REST, proxy integration)
def api_event(
    name: str,
    method: str,
    resource: str,
    *,
    at: datetime,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    user_agent: str = "curl/8.5.0",
    source_ip: str = "203.0.113.10",
) -> dict[str, Any]:
    path = resource
    for key, value in (path_parameters or {}).items():
        path = path.replace("{" + key + "}", value)
    epoch_ms = int(at.timestamp() * 1000)
    request_id = stable_uuid("request", name)
    all_headers = {
        "Accept": "*/*",
        "Host": API_HOST,
        "User-Agent": user_agent,
        "X-Amzn-Trace-Id": f"Root=1-{int(at.timestamp()):08x}-{stable_hex(24, 'trace', name)}",
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": stable_hex(6, "resource", resource),
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": base64.b64encode(bytes.fromhex(stable_hex(22, "ext", name))).decode(),
            "requestTime": at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": epoch_ms,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": API_HOST,
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {sign.SAMPLE_SECRETS['admin']}"}


# ------------------------------------------------------------------ storefront payloads
def shopify_order(*, financial_status: str, updated: datetime, cancelled: datetime | None = None) -> dict[str, Any]:
    created = T0 - timedelta(seconds=9)
    local = timedelta(hours=-4)

    def shop_time(at: datetime) -> str:
        return (at + local).replace(tzinfo=None).isoformat(timespec="seconds") + "-04:00"

    address = {
        "first_name": "Zoë",
        "address1": "123 Example Street",
        "phone": "+1 555-010-0142",
        "city": "Springfield",
        "zip": "62704",
        "province": "Illinois",
        "country": "United States",
        "last_name": "Example",
        "address2": "Apt 4",
        "company": None,
        "latitude": 39.7817,
        "longitude": -89.6501,
        "name": "Zoë Example",
        "country_code": "US",
        "province_code": "IL",
    }

    def line(line_id: int, sku: str, title: str, price: str, quantity: int, grams: int, shipping: bool) -> dict:
        return {
            "id": line_id,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
            "attributed_staffs": [],
            "current_quantity": 0 if cancelled else quantity,
            "fulfillable_quantity": 0 if cancelled else quantity,
            "fulfillment_service": "manual",
            "fulfillment_status": None,
            "gift_card": False,
            "grams": grams,
            "name": title,
            "price": price,
            "price_set": {
                "shop_money": {"amount": price, "currency_code": "USD"},
                "presentment_money": {"amount": price, "currency_code": "USD"},
            },
            "product_exists": True,
            "product_id": 8123456000000 + line_id % 1000,
            "properties": [],
            "quantity": quantity,
            "requires_shipping": shipping,
            "sku": sku,
            "taxable": True,
            "title": title,
            "total_discount": "0.00",
            "variant_id": 44123456000000 + line_id % 1000,
            "variant_inventory_management": "shopify" if shipping else None,
            "variant_title": None,
            "vendor": "Demo Store",
            "tax_lines": [],
            "duties": [],
            "discount_allocations": [],
        }

    return {
        "id": SHOPIFY_ORDER,
        "admin_graphql_api_id": f"gid://shopify/Order/{SHOPIFY_ORDER}",
        "app_id": 580111,
        "browser_ip": "198.51.100.23",
        "buyer_accepts_marketing": False,
        "cancel_reason": "customer" if cancelled else None,
        "cancelled_at": shop_time(cancelled) if cancelled else None,
        "cart_token": "Z2NwLXVzLWVhc3QxOjAxSlBFWEFNUExFQ0FSVA",
        "checkout_id": 36512345678901,
        "checkout_token": "9f3c1e2d4b5a69788776655443322110",
        "closed_at": None,
        "confirmation_number": "K7XQ2M9PA",
        "confirmed": True,
        "contact_email": "zoe@example.com",
        "created_at": shop_time(created),
        "currency": "USD",
        "current_subtotal_price": "0.00" if cancelled else "69.99",
        "current_total_price": "0.00" if cancelled else "77.99",
        "customer_locale": "en-US",
        "email": "zoe@example.com",
        "estimated_taxes": False,
        "financial_status": financial_status,
        "fulfillment_status": None,
        "landing_site": "/",
        "name": "#1042",
        "note": None,
        "note_attributes": [],
        "number": 42,
        "order_number": 1042,
        "order_status_url": f"https://{SHOP}/71234567890/orders/9f3c1e2d4b5a69788776655443322110/authenticate?key=abc123",
        "payment_gateway_names": ["shopify_payments"],
        "phone": None,
        "presentment_currency": "USD",
        "processed_at": shop_time(created),
        "source_name": "web",
        "subtotal_price": "69.99",
        "tags": "",
        "taxes_included": False,
        "test": False,
        "token": "9f3c1e2d4b5a69788776655443322110",
        "total_discounts": "0.00",
        "total_line_items_price": "69.99",
        "total_price": "77.99",
        "total_shipping_price_set": {
            "shop_money": {"amount": "8.00", "currency_code": "USD"},
            "presentment_money": {"amount": "8.00", "currency_code": "USD"},
        },
        "total_tax": "0.00",
        "total_weight": 900,
        "updated_at": shop_time(updated),
        "user_id": None,
        "billing_address": dict(address),
        "customer": {
            "id": 7312345678901,
            "email": "zoe@example.com",
            "created_at": shop_time(created - timedelta(days=40)),
            "updated_at": shop_time(created),
            "first_name": "Zoë",
            "last_name": "Example",
            "state": "enabled",
            "note": None,
            "verified_email": True,
            "tax_exempt": False,
            "phone": None,
            "currency": "USD",
            "admin_graphql_api_id": "gid://shopify/Customer/7312345678901",
        },
        "line_items": [
            line(14712345678001, "TEE-BLK-M", "Tee, black, M", "24.00", 2, 300, True),
            line(14712345678002, "MUG-CLASSIC", "Classic mug", "12.50", 1, 300, True),
            line(14712345678003, "EBOOK-GUIDE", "Field guide (e-book)", "9.49", 1, 0, False),
        ],
        "refunds": [],
        "shipping_address": dict(address),
        "shipping_lines": [
            {
                "id": 4912345678901,
                "code": "Standard",
                "price": "8.00",
                "source": "shopify",
                "title": "Standard",
                "carrier_identifier": None,
                "discounted_price": "8.00",
                "tax_lines": [],
            }
        ],
    }


def shopify_refund(*, at: datetime) -> dict[str, Any]:
    """A `refunds/create` body (the bare REST Refund) for #1042's e-book line: its downloads are taken back."""
    money = {"amount": "9.49", "currency_code": "USD"}
    return {
        "id": 929361467,
        "order_id": SHOPIFY_ORDER,
        "created_at": at.isoformat(),
        "note": "customer bought the print edition instead",
        "user_id": 73617915,
        "processed_at": at.isoformat(),
        "restock": False,
        "refund_line_items": [
            {
                "id": 1058498312,
                "line_item_id": 14712345678003,
                "quantity": 1,
                "restock_type": "no_restock",
                "location_id": None,
                "subtotal": 9.49,
                "total_tax": 0.0,
                "subtotal_set": {"shop_money": money, "presentment_money": money},
                "line_item": {"id": 14712345678003, "sku": "EBOOK-GUIDE", "quantity": 1, "requires_shipping": False},
            }
        ],
        "transactions": [{"id": 389404471, "kind": "refund", "status": "success", "amount": "9.49", "currency": "USD"}],
        "order_adjustments": [],
    }


def shopify_event(name: str, topic: str, payload: dict, *, at: datetime) -> dict[str, Any]:
    return api_event(
        name,
        "POST",
        "/webhooks/shopify",
        at=at,
        body=compact(payload),
        user_agent="Shopify-Captain-Hook",
        source_ip="34.23.41.7",
        headers={
            "Accept": "*/*",
            "Content-Type": "application/json",
            "X-Shopify-Api-Version": "2025-01",
            "X-Shopify-Event-Id": stable_uuid("shopify-event", topic),
            "X-Shopify-Hmac-Sha256": "",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Topic": topic,
            "X-Shopify-Triggered-At": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "X-Shopify-Webhook-Id": stable_uuid("shopify-webhook", topic),
        },
    )


def wp_json(value: Any) -> str:
    """trim(wp_json_encode($payload)): compact, "/" escaped as "\\/", non-ASCII as \\uXXXX."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def woo_order(*, status: str, modified: datetime, paid: datetime | None) -> dict[str, Any]:
    created = T0 - timedelta(days=3, hours=2)

    def local(at: datetime) -> str:
        return (at - timedelta(hours=5)).replace(tzinfo=None).isoformat(timespec="seconds")

    def gmt(at: datetime) -> str:
        return at.replace(tzinfo=None).isoformat(timespec="seconds")

    billing = {
        "first_name": "Sam",
        "last_name": "Sample",
        "company": "",
        "address_1": "500 Market Street",
        "address_2": "",
        "city": "Portland",
        "state": "OR",
        "postcode": "97205",
        "country": "US",
        "email": "sam.sample@example.com",
        "phone": "(555) 010-0199",
    }
    shipping = {k: v for k, v in billing.items() if k != "email"}
    return {
        "id": WOO_ORDER,
        "parent_id": 0,
        "status": status,
        "currency": "USD",
        "version": "9.6.1",
        "prices_include_tax": False,
        "date_created": local(created),
        "date_modified": local(modified),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "5.00",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": "68.50",
        "total_tax": "0.00",
        "customer_id": 0,
        "order_key": "wc_order_q8Vx2LmP4sKd7",
        "billing": billing,
        "shipping": shipping,
        "payment_method": "bacs",
        "payment_method_title": "Direct bank transfer",
        "transaction_id": "",
        "customer_ip_address": "198.51.100.77",
        "customer_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "created_via": "checkout",
        "customer_note": "",
        "date_completed": None,
        "date_paid": local(paid) if paid else None,
        "cart_hash": "5b9d1c7e2f4a6b8c0d1e2f3a4b5c6d7e",
        "number": str(WOO_ORDER),
        "meta_data": [],
        "line_items": [
            {
                "id": 315,
                "name": "Hoodie, grey, M",
                "product_id": 93,
                "variation_id": 0,
                "quantity": 1,
                "tax_class": "",
                "subtotal": "59.00",
                "subtotal_tax": "0.00",
                "total": "59.00",
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
                "sku": "HOODIE-GRY-M",
                "price": 59,
                "image": {"id": 94, "src": f"https://{WOO_SHOP}/wp-content/uploads/2025/01/hoodie-grey.jpg"},
                "parent_name": None,
            },
            {
                "id": 316,
                "name": "Socks, 3-pack &amp; gift box",
                "product_id": 97,
                "variation_id": 0,
                "quantity": 1,
                "tax_class": "",
                "subtotal": "4.50",
                "subtotal_tax": "0.00",
                "total": "4.50",
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
                "sku": "SOCKS-3PK",
                "price": 4.5,
                "image": {"id": 98, "src": f"https://{WOO_SHOP}/wp-content/uploads/2025/01/socks.jpg"},
                "parent_name": None,
            },
        ],
        "tax_lines": [],
        "shipping_lines": [
            {
                "id": 317,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "instance_id": "1",
                "total": "5.00",
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        ],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
        "payment_url": f"https://{WOO_SHOP}/checkout/order-pay/{WOO_ORDER}/?pay_for_order=true&key=wc_order_q8Vx2LmP4sKd7",
        "is_editable": status in ("pending", "on-hold"),
        "needs_payment": status in ("pending", "failed"),
        "needs_processing": True,
        "date_created_gmt": gmt(created),
        "date_modified_gmt": gmt(modified),
        "date_completed_gmt": None,
        "date_paid_gmt": gmt(paid) if paid else None,
        "currency_symbol": "$",
        "_links": {
            "self": [{"href": f"https://{WOO_SHOP}/wp-json/wc/v3/orders/{WOO_ORDER}"}],
            "collection": [{"href": f"https://{WOO_SHOP}/wp-json/wc/v3/orders"}],
        },
    }


def woo_event(name: str, topic: str, payload: dict, *, at: datetime) -> dict[str, Any]:
    resource, _, action = topic.partition(".")
    return api_event(
        name,
        "POST",
        "/webhooks/woocommerce",
        at=at,
        body=wp_json(payload),
        user_agent="WooCommerce/9.6.1 Hookshot (WordPress/6.7.2)",
        source_ip="192.0.2.44",
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Delivery-ID": stable_hex(32, "wc-delivery", name),
            "X-WC-Webhook-Event": action,
            "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Signature": "",
            "X-WC-Webhook-Source": f"https://{WOO_SHOP}/",
            "X-WC-Webhook-Topic": topic,
        },
    )


def native_order() -> dict[str, Any]:
    return {
        "external_id": "web-100234",
        "currency": "USD",
        "customer": {"email": "alex.sample@example.com", "name": "Alex Sample"},
        "shipping_address": {
            "name": "Alex Sample",
            "line1": "77 Sample Road",
            "line2": None,
            "city": "Austin",
            "region": "TX",
            "postal_code": "78701",
            "country": "US",
            "phone": "+1 555-010-0123",
        },
        "payment_status": "paid",
        "lines": [
            {"sku": "LAMP-ARC", "quantity": 1, "unit_price": "149.00"},
            {"sku": "BOTTLE-STEEL", "quantity": 2, "unit_price": "29.00"},
        ],
        "fill_policy": "ship_available",
    }


# ------------------------------------------------------------------ carrier payloads
def easypost_payload() -> dict[str, Any]:
    shipped = T0 + timedelta(hours=6, minutes=24)
    scans = [
        (shipped, "pre_transit", "label_created", "Shipping Label Created, USPS Awaiting Item", "SPRINGFIELD", "IL"),
        (
            shipped + timedelta(hours=4),
            "in_transit",
            "arrived_at_facility",
            "Accepted at USPS Origin Facility",
            "SPRINGFIELD",
            "IL",
        ),
        (
            shipped + timedelta(hours=11),
            "in_transit",
            "departed_facility",
            "Departed USPS Regional Facility",
            "CHICAGO IL DISTRIBUTION CENTER",
            "IL",
        ),
    ]
    updated = scans[-1][0] + timedelta(minutes=3)
    return {
        "description": "tracker.updated",
        "mode": "production",
        "previous_attributes": {"status": "pre_transit"},
        "created_at": zulu(updated),
        "pending_urls": [f"https://{API_HOST}/{STAGE}/webhooks/tracking/easypost"],
        "completed_urls": [],
        "updated_at": zulu(updated),
        "id": "evt_5f0c9e1a8b7d4c3e2f1a0b9c8d7e6f50",
        "user_id": "user_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "status": "pending",
        "object": "Event",
        "result": {
            "id": "trk_7d2e4f6a8b0c1d3e5f7a9b1c3d5e7f90",
            "object": "Tracker",
            "mode": "production",
            "tracking_code": TRACKING,
            "status": "in_transit",
            "status_detail": "departed_facility",
            "created_at": zulu(shipped),
            "updated_at": zulu(updated),
            "signed_by": None,
            "weight": 14.4,
            "est_delivery_date": zulu(T0 + timedelta(days=3, hours=12)),
            "shipment_id": None,
            "carrier": CARRIER,
            "tracking_details": [
                {
                    "object": "TrackingDetail",
                    "message": message,
                    "description": message,
                    "status": status,
                    "status_detail": detail,
                    "datetime": zulu(at),
                    "source": CARRIER,
                    "carrier_code": None,
                    "tracking_location": {
                        "object": "TrackingLocation",
                        "city": city,
                        "state": state,
                        "country": "US",
                        "zip": None,
                    },
                }
                for at, status, detail, message, city, state in scans
            ],
            "carrier_detail": {
                "object": "CarrierDetail",
                "service": "Ground Advantage",
                "container_type": None,
                "est_delivery_date_local": None,
                "est_delivery_time_local": None,
                "origin_location": "SPRINGFIELD IL, 62704",
                "origin_tracking_location": None,
                "destination_location": "SPRINGFIELD IL, 62704",
                "destination_tracking_location": None,
                "guaranteed_delivery_date": None,
                "alternate_identifier": None,
                "initial_delivery_attempt": None,
            },
            "finalized": False,
            "is_return": False,
            "public_url": "https://track.easypost.com/djE6dHJrXzdkMmU0ZjZhOGIwYzFkM2U1ZjdhOWIxYzNkNWU3Zjkw",
            "fees": [],
        },
    }


def aftership_payload() -> dict[str, Any]:
    out = T0 + timedelta(days=3, hours=2)
    return {
        "event": "tracking_update",
        "event_id": stable_uuid("aftership", TRACKING, "OutForDelivery"),
        "is_tracking_first_tag": True,
        "msg": {
            "id": "lq3x9k2m7v1n8b4c5d6e7f80",
            "tracking_number": TRACKING,
            "title": "#1042",
            "note": None,
            "origin_country_iso3": "USA",
            "destination_country_iso3": "USA",
            "shipment_package_count": 1,
            "active": True,
            "order_id": str(SHOPIFY_ORDER),
            "order_number": "#1042",
            "order_date": zulu(T0),
            "customer_name": None,
            "source": "api",
            "emails": [],
            "smses": [],
            "return_to_sender": False,
            "slug": "usps",
            "tag": "OutForDelivery",
            "subtag": "OutForDelivery_001",
            "subtag_message": "Out for Delivery",
            "expected_delivery": zulu(out + timedelta(hours=6)),
            "checkpoints": [
                {
                    "checkpoint_time": (out - timedelta(hours=5)).replace(tzinfo=None).isoformat(timespec="seconds"),
                    "message": "Out for Delivery, Expected Delivery by 9:00pm",
                    "slug": "usps",
                    "tag": "OutForDelivery",
                    "subtag": "OutForDelivery_001",
                    "location": "SPRINGFIELD, IL 62704",
                    "city": "SPRINGFIELD",
                    "state": "IL",
                    "zip": "62704",
                    "country_name": "USA",
                }
            ],
        },
        "ts": int(out.timestamp()) + 45,
    }


# ------------------------------------------------------------------ SQS
def queue_arn(queue: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-{queue}-{QUEUE_SUFFIX[queue]}"


def sqs_record(name: str, queue: str, body: str, *, sender: str, at: datetime, receive_count: int = 1) -> dict:
    sent_ms = int(at.timestamp() * 1000)
    return {
        "messageId": stable_uuid("message", name),
        "receiptHandle": "AQEB" + base64.b64encode(hashlib.sha512(f"receipt/{name}".encode()).digest()).decode(),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent_ms),
            "SenderId": sender,
            "ApproximateFirstReceiveTimestamp": str(sent_ms + 37),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue),
        "awsRegion": REGION,
    }


def work(message_type: str, **fields: Any) -> str:
    """A work message as pydantic's model_dump_json writes it (version first, compact)."""
    return compact({"version": 1, "type": message_type, **fields})


def from_function(function: str) -> str:
    return f"{LAMBDA_ROLE_ID}:{STACK}-{function}-8Kq2LmN4pR7s"


def inbound(message_type: str, sent: datetime, **fields: Any) -> str:
    """A 3PL's message on the shared inbound queue."""
    message = {
        "type": message_type,
        "version": 1,
        "message_id": stable_uuid("tpl-east", message_type, compact(fields)),
        "provider": "tpl-east",
        "sent_at": zulu(sent),
    }
    return compact({**message, **fields})


# ------------------------------------------------------------------ DynamoDB stream
# Order and shipment images are what the services store: domain objects changed by the domain's own rules
# (`Order.begin`, `.reserve`, `.cancel`, `progress.unresponsive`, ...) and encoded by the codecs the unit of
# work writes with (fulfillment.adapters.codecs), so they change when the code does. Stock and catalog items
# are written by update expressions (adapters/uow.py `adjust_stock`, `put_catalog`, `backlog`): their images
# list the attributes those expressions set.
SERIALIZER = TypeSerializer()
ORDER_CREATED = T0 + timedelta(microseconds=512345)


def ddb(item: dict[str, Any]) -> dict[str, Any]:
    return {k: SERIALIZER.serialize(v) for k, v in item.items()}


def stream_record(
    name: str, event_name: str, *, at: datetime, new: dict | None = None, old: dict | None = None, seq: int
) -> dict:
    image = new or old
    assert image is not None
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(at.timestamp()),
        "Keys": ddb({"PK": image["PK"], "SK": image["SK"]}),
    }
    if new is not None:
        body["NewImage"] = ddb(new)
    if old is not None:
        body["OldImage"] = ddb(old)
    body["SequenceNumber"] = f"{seq:021d}"
    body["SizeBytes"] = len(compact(body.get("NewImage", {}))) + len(compact(body.get("OldImage", {})))
    body["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    return {
        "eventID": stable_hex(32, "stream", name),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": body,
        "eventSourceARN": STREAM_ARN,
    }


def access_token_hash(order_id: str) -> str:
    """fulfillment.tokens.token_hash of the order's access token (derived with the sample key)."""
    return hashlib.sha256(sign.order_token(order_id, sign.SAMPLE_SECRETS["order_token"]).encode()).hexdigest()


def received(order: Order, at: datetime) -> Order:
    """What intake stores for a new order (services/intake.py `_new_order`, with the default settings)."""
    now = iso(at)
    stored = replace(
        order,
        created_at=now,
        updated_at=now,
        version=1,
        access_token_hash=access_token_hash(order.order_id),
        payload_hash=stable_hex(64, "payload", order.order_id),
    ).record(
        Entry("received", {"channel": order.channel.value, "lines": len(order.lines)}, CustomerEvent.ORDER_RECEIVED)
    )
    if order.payment_status not in ("paid", "authorized"):  # ALLOWED_PAYMENT_STATES
        stored = stored.place_hold(Hold.AWAITING_PAYMENT, f"payment status is {order.payment_status}")
    return replace(stored, reservation_state=WorkState.PENDING)


def reserved(order: Order, at: datetime, location: str) -> Order:
    """The reservation pass (services/reservation.py): every stocked line reserved at one location, finished."""
    updated = order.begin(iso(at))
    for line in order.lines:
        if line.needs_stock:
            updated = updated.reserve(line.line_no, {location: line.unallocated}, 0)
    cursor = max(line.line_no for line in order.lines)
    return replace(updated, reservation_cursor=cursor).reservation_finished()


def shopify_received() -> Order:
    """Order #1042 as its orders/create webhook becomes an order (contracts/storefront.py), then stored."""
    lines = (
        ("TEE-BLK-M", 2, "24.00", "Tee, black, M", "14712345678001", True),
        ("MUG-CLASSIC", 1, "12.50", "Classic mug", "14712345678002", True),
        ("EBOOK-GUIDE", 1, "9.49", "Field guide (e-book)", "14712345678003", False),
    )
    order = Order(
        order_id=ORDER_ID,
        channel=Channel.SHOPIFY,
        shop=SHOP,
        external_id=str(SHOPIFY_ORDER),
        name="#1042",
        currency="USD",
        lines=tuple(
            Line(
                line_no=n,
                sku=sku,
                quantity=quantity,
                unit_price=Decimal(price),
                kind=LineKind.PHYSICAL if shipping else LineKind.DIGITAL,
                title=title,
                source_line_id=source,
                requires_shipping=shipping,
            )
            for n, (sku, quantity, price, title, source, shipping) in enumerate(lines, start=1)
        ),
        customer=Customer(email="zoe@example.com", name="Zoë Example"),
        shipping_address=Address(
            name="Zoë Example",
            line1="123 Example Street",
            line2="Apt 4",
            city="Springfield",
            region="IL",
            postal_code="62704",
            country="US",
            phone="+1 555-010-0142",
        ),
        payment_status="authorized",
        total=Decimal("77.99"),
        source_updated_at=iso(T0),
    )
    return received(order, ORDER_CREATED)


def woo_received(at: datetime) -> Order:
    """WooCommerce order 727 (order.created, status pending): stored with an awaiting_payment hold."""
    order = Order(
        order_id=WOO_ORDER_ID,
        channel=Channel.WOOCOMMERCE,
        shop=WOO_SHOP,
        external_id=str(WOO_ORDER),
        name=str(WOO_ORDER),
        currency="USD",
        lines=(
            Line(1, "HOODIE-GRY-M", 1, Decimal(59), LineKind.PHYSICAL, title="Hoodie, grey, M", source_line_id="315"),
            Line(
                2,
                "SOCKS-3PK",
                1,
                Decimal("4.5"),
                LineKind.PHYSICAL,
                title="Socks, 3-pack &amp; gift box",
                source_line_id="316",
            ),
        ),
        customer=Customer(email="sam.sample@example.com", name="Sam Sample"),
        shipping_address=Address(
            name="Sam Sample",
            line1="500 Market Street",
            city="Portland",
            region="OR",
            postal_code="97205",
            country="US",
            phone="(555) 010-0199",
        ),
        payment_status="pending",
        total=Decimal("68.50"),
        source_updated_at=iso(T0 - timedelta(days=3, hours=2)),
    )
    return received(order, at)


def shipment_001(at: datetime) -> Shipment:
    """Shipment ….001 for the reserved lines at WH-EAST, as dispatch builds it (and submits it in the same write)."""
    return Shipment(
        shipment_id=SHIPMENT_ID,
        order_id=ORDER_ID,
        provider="tpl-east",
        provider_kind="3pl",
        location="WH-EAST",
        lines=(ShipmentLine(1, "TEE-BLK-M", 2), ShipmentLine(2, "MUG-CLASSIC", 1)),
        request_id=SHIPMENT_ID,
        created_at=iso(at),
        status=ShipmentStatus.PENDING,
        status_at=iso(at),
        version=1,
    )


def stock_item(sku: str, location: str, on_hand: int, reserved: int, at: datetime, **counters: int) -> dict:
    """A stock level as adjust_stock/move_stock leave it (`adjusted_<reason>` counts audited changes)."""
    return {
        **keys.stock_key(sku, location),
        "on_hand": on_hand,
        "available": on_hand - reserved,
        "reserved": reserved,
        "sku": sku,
        "location": location,
        "type": "stock",
        "updated_at": iso(at),
        **counters,
    }


def catalog_item(sku: str, title: str, backordered: int, created: datetime, updated: datetime) -> dict[str, Any]:
    """A catalog entry as put_catalog writes it; `backlog` ADDs to backordered_units."""
    return {
        **keys.catalog_key(sku),
        "kind": "physical",
        "title": title,
        "reorder_point": 5,
        "sku": sku,
        "type": "catalog",
        "created_at": iso(created),
        "updated_at": iso(updated),
        "backordered_units": backordered,
    }


# ------------------------------------------------------------------ the samples
def order_intake() -> dict[str, dict]:
    created = T0
    paid = T0 + timedelta(minutes=2, seconds=11)
    cancelled = T0 + timedelta(hours=1, minutes=5)
    woo_created = T0 - timedelta(days=3, hours=2)
    woo_paid = woo_created + timedelta(hours=20)
    return {
        "shopify_orders_create": shopify_event(
            "shopify_orders_create",
            "orders/create",
            shopify_order(financial_status="authorized", updated=created),
            at=created,
        ),
        "shopify_orders_paid": shopify_event(
            "shopify_orders_paid", "orders/paid", shopify_order(financial_status="paid", updated=paid), at=paid
        ),
        "shopify_orders_cancelled": shopify_event(
            "shopify_orders_cancelled",
            "orders/cancelled",
            shopify_order(financial_status="voided", updated=cancelled, cancelled=cancelled),
            at=cancelled,
        ),
        "shopify_refunds_create": shopify_event(
            "shopify_refunds_create",
            "refunds/create",
            shopify_refund(at=T0 + timedelta(days=2, hours=4)),
            at=T0 + timedelta(days=2, hours=4, seconds=2),
        ),
        "woocommerce_order_created": woo_event(
            "woocommerce_order_created",
            "order.created",
            woo_order(status="pending", modified=woo_created, paid=None),
            at=woo_created + timedelta(seconds=4),
        ),
        "woocommerce_order_updated": woo_event(
            "woocommerce_order_updated",
            "order.updated",
            woo_order(status="processing", modified=woo_paid, paid=woo_paid),
            at=woo_paid + timedelta(seconds=3),
        ),
        "woocommerce_ping": api_event(
            "woocommerce_ping",
            "POST",
            "/webhooks/woocommerce",
            at=T0 - timedelta(days=30),
            body="webhook_id=12",
            user_agent="WooCommerce/9.6.1 Hookshot (WordPress/6.7.2)",
            source_ip="192.0.2.44",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        "native_order": api_event(
            "native_order",
            "POST",
            "/orders",
            at=T0,
            body=compact(native_order()),
            user_agent="checkout-service/1.4 python-httpx/0.28",
            source_ip="10.0.12.34",
            headers={"X-Fulfillment-Signature": f"t={SAMPLE_TIMESTAMP},v1="},
        ),
    }


def order_api() -> dict[str, dict]:
    at = T0 + timedelta(hours=2)
    admin = admin_headers()
    token = sign.order_token(ORDER_ID, sign.SAMPLE_SECRETS["order_token"])
    return {
        "get_order": api_event(
            "get_order",
            "GET",
            "/orders/{order_id}",
            at=at,
            path_parameters={"order_id": ORDER_ID},
            query={"token": token},
            user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15",
            source_ip="198.51.100.23",
            headers={"Accept": "application/json"},
        ),
        "list_orders": api_event(
            "list_orders",
            "GET",
            "/orders",
            at=at,
            query={"status": "on_hold", "limit": "20"},
            headers={**admin, "Accept": "application/json"},
        ),
        "cancel_order": api_event(
            "cancel_order",
            "POST",
            "/orders/{order_id}/cancel",
            at=at,
            path_parameters={"order_id": ORDER_ID},
            body=compact({"reason": "customer asked to cancel"}),
            headers=admin,
        ),
        "release_hold": api_event(
            "release_hold",
            "POST",
            "/orders/{order_id}/holds/{reason}/release",
            at=at,
            path_parameters={"order_id": WOO_ORDER_ID, "reason": "awaiting_payment"},
            headers=admin,
        ),
        "put_catalog": api_event(
            "put_catalog",
            "PUT",
            "/catalog/{sku}",
            at=at,
            path_parameters={"sku": "KBD-MECH"},
            body=compact({"kind": "physical", "title": "Mechanical keyboard", "reorder_point": 5}),
            headers=admin,
        ),
        "put_catalog_digital": api_event(
            "put_catalog_digital",
            "PUT",
            "/catalog/{sku}",
            at=at,
            path_parameters={"sku": "EBOOK-GUIDE"},
            body=compact(
                {
                    "kind": "digital",
                    "title": "Field guide (e-book)",
                    "digital": {
                        "bucket_key": "ebooks/field-guide-v3.pdf",
                        "max_downloads": 5,
                        "link_ttl_seconds": 604800,
                    },
                }
            ),
            headers=admin,
        ),
        "get_catalog": api_event(
            "get_catalog", "GET", "/catalog/{sku}", at=at, path_parameters={"sku": "KBD-MECH"}, headers=admin
        ),
        "get_inventory": api_event(
            "get_inventory",
            "GET",
            "/inventory/{sku}/{location}",
            at=at,
            path_parameters={"sku": "KBD-MECH", "location": "WH-EAST"},
            headers=admin,
        ),
        "put_inventory": api_event(
            "put_inventory",
            "PUT",
            "/inventory/{sku}/{location}",
            at=at,
            path_parameters={"sku": "TEE-BLK-M", "location": "WH-EAST"},
            body=compact({"on_hand": 58, "note": "cycle count aisle 4"}),
            headers=admin,
        ),
        "put_inventory_shards": api_event(
            "put_inventory_shards",
            "PUT",
            "/inventory/{sku}/{location}/shards",
            at=at,
            path_parameters={"sku": "KBD-MECH", "location": "WH-EAST"},
            body=compact({"shards": 8}),
            headers=admin,
        ),
        "adjust_inventory": api_event(
            "adjust_inventory",
            "POST",
            "/inventory/{sku}/{location}/adjustments",
            at=at,
            path_parameters={"sku": "KBD-MECH", "location": "WH-EAST"},
            body=compact({"delta": 24, "reason": "received", "note": "PO-2025-0311"}),
            headers={**admin, "Idempotency-Key": "po-2025-0311-kbd-mech"},
        ),
    }


def tracking_updates() -> dict[str, dict]:
    accepted = T0 + timedelta(seconds=35)
    shipped = T0 + timedelta(hours=6, minutes=24)
    scanned = shipped + timedelta(hours=11)
    delivered = T0 + timedelta(days=3, hours=3, minutes=47)
    tpl = TPL_EAST_SENDER
    events: dict[str, dict] = {}

    def record(name: str, body: str, at: datetime, receive_count: int = 1) -> None:
        events[name] = {
            "Records": [sqs_record(name, "InboundQueue", body, sender=tpl, at=at, receive_count=receive_count)]
        }

    record(
        "fulfillment_request_accepted",
        inbound("fulfillment_request.accepted", accepted, shipment_id=SHIPMENT_ID),
        accepted,
    )
    record(
        "fulfillment_request_rejected",
        inbound(
            "fulfillment_request.rejected",
            accepted,
            shipment_id=f"{ORDER_ID}.003",
            reason="INVENTORY_OUT_OF_STOCK",
            message="SKU MUG-CLASSIC: 0 pickable at WH-EAST",
        ),
        accepted,
    )
    record(
        "shipment_shipped",
        inbound(
            "shipment.shipped",
            shipped,
            shipment_id=SHIPMENT_ID,
            carrier=CARRIER,
            tracking_number=TRACKING,
            shipped_at=zulu(shipped - timedelta(minutes=6)),
        ),
        shipped,
    )
    record(
        "shipment_shipped_partial",
        inbound(
            "shipment.shipped",
            shipped,
            shipment_id=SHIPMENT_ID,
            carrier=CARRIER,
            tracking_number=TRACKING,
            shipped_at=zulu(shipped - timedelta(minutes=6)),
            lines=[{"sku": "TEE-BLK-M", "quantity": 2}],
        ),
        shipped,
    )
    record(
        "shipment_tracking",
        inbound(
            "shipment.tracking",
            scanned,
            shipment_id=SHIPMENT_ID,
            status="in_transit",
            occurred_at=zulu(scanned - timedelta(minutes=20)),
            description="Departed USPS Regional Facility",
            location="CHICAGO IL DISTRIBUTION CENTER",
        ),
        scanned,
        receive_count=2,
    )
    record(
        "shipment_delivered",
        inbound("shipment.delivered", delivered, shipment_id=SHIPMENT_ID, delivered_at=zulu(delivered)),
        delivered,
    )
    record(
        "cancellation_request_accepted",
        inbound("cancellation_request.accepted", accepted, shipment_id=SHIPMENT_ID),
        accepted,
    )
    record(
        "cancellation_request_rejected",
        inbound(
            "cancellation_request.rejected",
            accepted,
            shipment_id=SHIPMENT_ID,
            message="already picked and packed",
        ),
        accepted,
    )
    record(
        "return_received",
        inbound(
            "return.received",
            delivered + timedelta(days=9),
            rma_id=keys.rma_id_for(ORDER_ID, 1),
            received_at=zulu(delivered + timedelta(days=9, minutes=-30)),
            lines=[
                {"sku": "TEE-BLK-M", "quantity": 1, "disposition": "restock"},
                {"sku": "MUG-CLASSIC", "quantity": 1, "disposition": "damaged"},
            ],
        ),
        delivered + timedelta(days=9),
    )
    snapshot_at = T0.replace(hour=4, minute=0, second=0)
    record(
        "inventory_snapshot",
        inbound(
            "inventory.snapshot",
            snapshot_at,
            location="WH-EAST",
            as_of=zulu(snapshot_at - timedelta(minutes=5)),
            items=[
                {"sku": "TEE-BLK-M", "on_hand": 58},
                {"sku": "MUG-CLASSIC", "on_hand": 79},
                {"sku": "KBD-MECH", "on_hand": 0},
            ],
        ),
        snapshot_at,
    )

    easypost = easypost_payload()
    events["easypost_tracker_updated"] = api_event(
        "easypost_tracker_updated",
        "POST",
        "/webhooks/tracking/easypost",
        at=scanned + timedelta(minutes=4),
        body=compact(easypost),
        user_agent="EasyPost WebHook Agent 1.0",
        source_ip="54.165.12.1",
        headers={"X-Hmac-Signature": ""},
    )
    events["aftership_tracking_update"] = api_event(
        "aftership_tracking_update",
        "POST",
        "/webhooks/tracking/aftership",
        at=T0 + timedelta(days=3, hours=2, minutes=1),
        body=compact(aftership_payload()),
        user_agent="AfterShipTrackingWebhook/4.0.0 (https://www.aftership.com)",
        source_ip="35.186.240.9",
        headers={"aftership-hmac-sha256": ""},
    )
    events["warehouse_picklist"] = api_event(
        "warehouse_picklist",
        "GET",
        "/warehouse/{location}/picklist",
        at=T0 + timedelta(minutes=30),
        path_parameters={"location": "HQ"},
        user_agent="warehouse-scanner/2.3",
        source_ip="10.0.40.7",
        headers={**admin_headers(), "Accept": "application/json"},
    )
    events["ship_in_house"] = api_event(
        "ship_in_house",
        "POST",
        "/shipments/{shipment_id}/ship",
        at=T0 + timedelta(hours=3),
        path_parameters={"shipment_id": IN_HOUSE_SHIPMENT_ID},
        body=compact({"carrier": IN_HOUSE_CARRIER, "tracking_number": IN_HOUSE_TRACKING}),
        user_agent="warehouse-scanner/2.3",
        source_ip="10.0.40.7",
        headers={**admin_headers(), "Idempotency-Key": f"{IN_HOUSE_SHIPMENT_ID}:{IN_HOUSE_TRACKING}"},
    )
    return events


def stock_reservation() -> dict[str, dict]:
    at = T0 + timedelta(milliseconds=900)
    router = from_function("EventRouterFunction")
    timers = from_function("TimersFunction")

    def one(name: str, body: str, sender: str, when: datetime) -> dict:
        return {"Records": [sqs_record(name, "ReservationQueue", body, sender=sender, at=when)]}

    return {
        "reserve_order": one(
            "reserve_order", work("reserve_order", order_id=ORDER_ID, skus=["MUG-CLASSIC", "TEE-BLK-M"]), router, at
        ),
        "release_order": one("release_order", work("release_order", order_id=WOO_ORDER_ID), router, at),
        "allocate_backorders": one("allocate_backorders", work("allocate_backorders", sku="KBD-MECH"), router, at),
        "rebalance_stock": one(
            "rebalance_stock", work("rebalance_stock", sku="KBD-MECH", location="WH-EAST"), router, at
        ),
        "expire_unpaid": one("expire_unpaid", work("expire_unpaid", order_id=WOO_ORDER_ID), timers, at),
    }


def dispatch() -> dict[str, dict]:
    at = T0 + timedelta(seconds=2)
    router = from_function("EventRouterFunction")
    timers = from_function("TimersFunction")

    def one(name: str, body: str, sender: str, when: datetime, receive_count: int = 1) -> dict:
        record = sqs_record(name, "DispatchQueue", body, sender=sender, at=when, receive_count=receive_count)
        return {"Records": [record]}

    return {
        "dispatch_order": one("dispatch_order", work("dispatch_order", order_id=ORDER_ID), router, at),
        "check_shipment_timer": one(
            "check_shipment_timer",
            work("check_shipment_timer", shipment_id=SHIPMENT_ID),
            timers,
            at + timedelta(minutes=15),
        ),
        "cancel_order_shipments": one(
            "cancel_order_shipments", work("cancel_order_shipments", order_id=ORDER_ID), router, at
        ),
        "expect_return": one(
            "expect_return",
            work("expect_return", rma_id=keys.rma_id_for(ORDER_ID, 1)),
            router,
            T0 + timedelta(days=5, hours=2),
        ),
    }


def digital_delivery() -> dict[str, dict]:
    """The e-book line (3) of Shopify #1042: its link clicked and checked, resent, reissued and revoked; and the
    router's work messages that grant and revoke entitlements."""
    paid = T0 + timedelta(seconds=1)
    clicked = T0 + timedelta(hours=1, minutes=12)
    entitlement_id = keys.entitlement_id_for(ORDER_ID, 3)
    link = tokens.download_token(entitlement_id, 1, sign.SAMPLE_SECRETS["download_signing"])
    order_token = sign.order_token(ORDER_ID, sign.SAMPLE_SECRETS["order_token"])
    browser = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15"
    router = from_function("EventRouterFunction")
    ids = {"order_id": ORDER_ID, "entitlement_id": entitlement_id}

    def one(name: str, body: str, when: datetime) -> dict:
        return {"Records": [sqs_record(name, "DigitalQueue", body, sender=router, at=when)]}

    return {
        "download": api_event(
            "download",
            "GET",
            "/downloads/{token}",
            at=clicked,
            path_parameters={"token": link},
            user_agent=browser,
            source_ip="198.51.100.23",
            headers={"Accept": "text/html,application/xhtml+xml"},
        ),
        "download_head": api_event(
            "download_head",
            "HEAD",
            "/downloads/{token}",
            at=clicked - timedelta(seconds=3),
            path_parameters={"token": link},
            user_agent="Microsoft Office Existence Discovery",
            source_ip="192.0.2.77",
        ),
        "resend_downloads": api_event(
            "resend_downloads",
            "POST",
            "/orders/{order_id}/downloads/resend",
            at=clicked + timedelta(days=2),
            path_parameters={"order_id": ORDER_ID},
            query={"token": order_token},
            user_agent=browser,
            source_ip="198.51.100.23",
        ),
        "reissue_download": api_event(
            "reissue_download",
            "POST",
            "/orders/{order_id}/downloads/{entitlement_id}/reissue",
            at=clicked + timedelta(days=9),
            path_parameters=ids,
            body=compact({"downloads_remaining": 3, "link_ttl_seconds": 604800}),
            headers=admin_headers(),
        ),
        "revoke_download": api_event(
            "revoke_download",
            "POST",
            "/orders/{order_id}/downloads/{entitlement_id}/revoke",
            at=clicked + timedelta(days=10),
            path_parameters=ids,
            body=compact({"reason": "chargeback"}),
            headers=admin_headers(),
        ),
        "issue_downloads": one("issue_downloads", work("issue_downloads", order_id=ORDER_ID), paid),
        "revoke_downloads": one(
            "revoke_downloads",
            work("revoke_downloads", order_id=ORDER_ID, reason="order_cancelled"),
            T0 + timedelta(hours=1, minutes=5, seconds=1),
        ),
    }


def returns() -> dict[str, dict]:
    """The customer of Shopify #1042 returns the tee and the mug five days after delivery; operators approve,
    reject and receive (in-house) returns."""
    asked = T0 + timedelta(days=5, hours=2)
    rma_id = keys.rma_id_for(ORDER_ID, 1)
    order_token = sign.order_token(ORDER_ID, sign.SAMPLE_SECRETS["order_token"])
    browser = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15"
    return {
        "request_return": api_event(
            "request_return",
            "POST",
            "/orders/{order_id}/returns",
            at=asked,
            path_parameters={"order_id": ORDER_ID},
            query={"token": order_token},
            body=compact(
                {
                    "lines": [
                        {"line_no": 1, "quantity": 1, "reason": "too small"},
                        {"line_no": 2, "quantity": 1, "reason": "arrived chipped"},
                    ],
                    "note": "happy to exchange the tee for an L",
                }
            ),
            headers={"Idempotency-Key": stable_uuid("return", ORDER_ID)},
            user_agent=browser,
            source_ip="198.51.100.23",
        ),
        "approve_return": api_event(
            "approve_return",
            "POST",
            "/returns/{rma_id}/approve",
            at=asked + timedelta(hours=3),
            path_parameters={"rma_id": rma_id},
            headers=admin_headers(),
        ),
        "reject_return": api_event(
            "reject_return",
            "POST",
            "/returns/{rma_id}/reject",
            at=asked + timedelta(hours=3),
            path_parameters={"rma_id": rma_id},
            body=compact({"reason": "worn and washed"}),
            headers=admin_headers(),
        ),
        "receive_return": api_event(
            "receive_return",
            "POST",
            "/returns/{rma_id}/receive",
            at=asked + timedelta(days=4),
            path_parameters={"rma_id": rma_id},
            body=compact(
                {
                    "lines": [
                        {"line_no": 1, "quantity": 1, "disposition": "restock"},
                        {"line_no": 2, "quantity": 1, "disposition": "damaged"},
                    ]
                }
            ),
            headers={**admin_headers(), "Idempotency-Key": stable_uuid("receipt", rma_id)},
        ),
    }


def event_router() -> dict[str, dict]:
    reserved_at = T0 + timedelta(seconds=1, microseconds=204518)
    dispatched_at = T0 + timedelta(seconds=2, microseconds=77120)
    submitted_at = T0 + timedelta(seconds=2, microseconds=918344)
    held_at = submitted_at + timedelta(minutes=45, microseconds=82911)
    cancelled_at = T0 + timedelta(hours=1, minutes=5, microseconds=310244)

    # Shopify #1042: received (v1), reserved at WH-EAST (v2), dispatched as ….001 (v3); then either held because
    # tpl-east never answered (v4) or cancelled by an operator (v4).
    new_order = shopify_received()
    reserved_order = reserved(new_order, reserved_at, "WH-EAST")
    shipment = shipment_001(dispatched_at)
    dispatched = (
        reserved_order.begin(iso(dispatched_at))
        .dispatch({1: 2, 2: 1})
        .record(Entry("shipment_created", {"shipment_id": SHIPMENT_ID, "location": "WH-EAST", "units": 3}))
    )
    unanswered = replace(
        shipment.submit(iso(submitted_at), 900),
        attempts=3,
        timer_due=iso(held_at - timedelta(microseconds=1)),
        version=4,  # pending, submitted, re-sent twice
    )
    held = progress.unresponsive(dispatched.begin(iso(held_at)), unanswered).order
    assert held is not None
    cancelled = dispatched.begin(iso(cancelled_at)).cancel(reason="customer asked to cancel", by="operator")

    # ….001 after tpl-east shipped it: in transit, then silent past its expected delivery (the delay timer).
    shipped_at = T0 + timedelta(hours=6, minutes=18)
    last_scan = T0 + timedelta(hours=17, minutes=4)
    delay_due = T0 + timedelta(days=3, hours=12)
    in_transit = replace(
        shipment.submit(iso(submitted_at), 900)
        .accept(iso(T0 + timedelta(seconds=35)))
        .ship({1: 2, 2: 1}, CARRIER, TRACKING, iso(shipped_at)),
        status=ShipmentStatus.IN_TRANSIT,
        status_at=iso(last_scan),
        last_scan_at=iso(last_scan),
        est_delivery=iso(delay_due),
        timer_due=iso(delay_due),
        version=5,  # pending, submitted, accepted, shipped, in_transit
    )
    delay = progress.delayed(in_transit)

    # ….001 submitted (v2), then tpl-east's fulfillment_request.accepted (the sample under `tracking_updates/`): the
    # write that applied it carries it (`heard`) and the router stores it as the shipment's event item. (A carrier's
    # scan of a parcel on its way writes its event item itself: no shipment write, no stream record to route.)
    accepted_at = T0 + timedelta(seconds=35)
    accept_id = stable_uuid("tpl-east", "fulfillment_request.accepted", compact({"shipment_id": SHIPMENT_ID}))
    recorded_at = accepted_at + timedelta(milliseconds=212, microseconds=117)
    submitted = replace(shipment.submit(iso(submitted_at), 900), version=2)
    heard = ShipmentEvent(SHIPMENT_ID, "tpl-east", accept_id, iso(accepted_at), "accepted", {}, iso(recorded_at))
    accepted = (
        submitted.accept(iso(accepted_at))
        .hear(message_token("tpl-east", accept_id), iso(recorded_at))
        .bump(iso(recorded_at))
    )

    # WooCommerce 727: received on hold (awaiting_payment) and reserved (v2); the unpaid timer cancels it (v3).
    woo_at = T0 - timedelta(days=3, hours=2) + timedelta(seconds=4, microseconds=118000)
    woo_held = reserved(woo_received(woo_at), woo_at + timedelta(seconds=1), "WH-EAST")
    expired_at = woo_at + timedelta(days=3, seconds=41)
    woo_expired = woo_held.begin(iso(expired_at)).cancel(reason="payment_expired", by="timer")

    restocked_at = T0 + timedelta(days=1, hours=3)
    stock_before = stock_item("KBD-MECH", "WH-EAST", 0, 0, T0 - timedelta(days=20), adjusted_count=0)
    # Shard 3 of the level (8 items, PUT /inventory/KBD-MECH/WH-EAST/shards): a reservation takes its last unit.
    shard_before = stock_item("KBD-MECH", "WH-EAST", 3, 2, T0 + timedelta(days=1), shard=3, version=4)
    shard_after = stock_item("KBD-MECH", "WH-EAST", 3, 3, T0 + timedelta(days=2), shard=3, version=5)
    for item in (shard_before, shard_after):
        item.update(keys.stock_key("KBD-MECH", "WH-EAST", 3))
    stock_after = stock_item("KBD-MECH", "WH-EAST", 24, 0, restocked_at, adjusted_count=0, adjusted_received=24)

    catalog_created = T0 - timedelta(days=20)
    catalog_before = catalog_item("KBD-MECH", "Mechanical keyboard", 0, catalog_created, catalog_created)
    catalog_after = {**catalog_before, "backordered_units": 1}

    order_item, shipment_item = order_codec.to_item, shipment_codec.to_item
    samples: list[tuple[str, str, datetime, dict, dict | None]] = [
        ("order_reservation_pending", "INSERT", ORDER_CREATED, order_codec.creation_items(new_order)[0], None),
        ("order_undispatched_units", "MODIFY", reserved_at, order_item(reserved_order), order_item(new_order)),
        ("order_release_pending", "MODIFY", expired_at, order_item(woo_expired), order_item(woo_held)),
        ("order_cancelled_with_shipments", "MODIFY", cancelled_at, order_item(cancelled), order_item(dispatched)),
        ("order_hold_placed", "MODIFY", held_at, order_item(held), order_item(dispatched)),
        (
            "shipment_delayed",
            "MODIFY",
            delay_due,
            shipment_item(delay.shipment.bump(iso(delay_due)), delay.shipment_entries),
            shipment_item(in_transit),
        ),
        ("stock_available_rises", "MODIFY", restocked_at, stock_after, stock_before),
        ("catalog_backordered_units", "MODIFY", T0 + timedelta(hours=5), catalog_after, catalog_before),
        ("shipment_accepted", "MODIFY", recorded_at, shipment_item(accepted, (), heard), shipment_item(submitted)),
        ("stock_shard_runs_dry", "MODIFY", T0 + timedelta(days=2), shard_after, shard_before),
    ]
    base = 4812000000000000000
    return {
        name: {"Records": [stream_record(name, event_name, at=at, new=new, old=old, seq=base + n)]}
        for n, (name, event_name, at, new, old) in enumerate(samples, start=1)
    }


def timers() -> dict[str, dict]:
    at = T0.replace(second=0)
    return {
        "scheduled": {
            "version": "0",
            "id": stable_uuid("schedule", at.isoformat()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": zulu(at),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-TimersFunctionEveryMinute-1R4Q8Z2W6N0M"],
            "detail": {},
        }
    }


SAMPLES = {
    "order_intake": order_intake,
    "order_api": order_api,
    "tracking_updates": tracking_updates,
    "stock_reservation": stock_reservation,
    "dispatch": dispatch,
    "event_router": event_router,
    "timers": timers,
    "digital_delivery": digital_delivery,
    "returns": returns,
}


def main() -> int:
    written = 0
    for folder, build in SAMPLES.items():
        directory = EVENTS_DIR / folder
        directory.mkdir(exist_ok=True)
        events = build()
        for stale in directory.glob("*.json"):
            if stale.stem not in events:
                stale.unlink()
        for name, event in events.items():
            sign.sign_event(event, sign.SAMPLE_SECRETS, timestamp=SAMPLE_TIMESTAMP)
            (directory / f"{name}.json").write_text(sign.dump(event), encoding="utf-8")
            written += 1
    sys.stdout.write(f"wrote {written} sample events under {EVENTS_DIR}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
