"""Generated attacks through the real handlers, against moto: what a storefront, a carrier, a 3PL, a customer or
an attacker can send, signed where a signature is needed so the parsers behind it are reached.

For every request: never a 5xx; and a refused request (4xx, or a queue message sent to its DLQ) writes nothing to
the table. `make fuzz` runs ~1,500 cases per route group (HYPOTHESIS_PROFILE=fuzz) and prints the totals; the
default profile (part of `make test`) runs a slice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.admin import Admin
from tests.support.events import Context, api_event, sender_of, sqs_event
from tests.support.provider import inbound_fields
from tests.support.stack import StackResources, clear_caches, function_module, reset_moto
from tests.support.storefront import native_body

settings.register_profile("default", max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("fuzz", max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

TALLY: Counter[str] = Counter()

# ------------------------------------------------------------------ what attackers send
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**45), max_value=10**45)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60)
    | st.sampled_from(
        ["1e999999999", "-1", "0", "NaN", "", "x" * 3000, "SKU-1", "WH-EAST", "HQ", "2099-01-01T00:00:00Z"]
    )
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
)


def shaped(fields: list[str], nested: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[dict]:
    """Objects with the contract's field names (so validation goes deep) and anything as their values."""
    parts = {name: values for name in fields} | (nested or {})
    return st.fixed_dictionaries({}, optional=parts)


line = shaped(["id", "sku", "quantity", "price", "unit_price", "title", "name", "requires_shipping", "total"])
storefront_order = shaped(
    [
        "id",
        "currency",
        "financial_status",
        "status",
        "order_key",
        "updated_at",
        "email",
        "external_id",
        "payment_status",
    ],
    {"line_items": st.lists(line, max_size=3), "lines": st.lists(line, max_size=3)},
)
SHOPIFY_BASE = {
    "id": 4001,
    "currency": "USD",
    "financial_status": "paid",
    "email": "a@example.com",
    "updated_at": "2026-11-01T10:00:00Z",
    "shipping_address": {"address1": "1 Way", "city": "London", "zip": "N1", "country_code": "GB"},
    "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1, "price": "10.00"}],
}
NATIVE_BASE = native_body([("SKU-1", 1)], external_id="fuzz-base")


def mutate(base: dict, path: tuple[str, ...], value: Any, n: int) -> bytes:
    """A valid body with one field replaced (and a fresh id now and then, so some are new orders)."""
    body = json.loads(json.dumps(base))
    target = body
    for key in path[:-1]:
        target = target[key][0] if isinstance(target[key], list) else target[key]
    target[path[-1]] = value
    if n % 3 == 0:
        body["id" if "id" in body else "external_id"] = n if "id" in body else f"fuzz-{n}"
    return json.dumps(body).encode()


shopify_paths = st.sampled_from(
    [
        ("currency",),
        ("financial_status",),
        ("line_items", "quantity"),
        ("line_items", "price"),
        ("line_items", "sku"),
        ("line_items", "title"),
        ("shipping_address", "country_code"),
        ("id",),
    ]
)
native_paths = st.sampled_from(
    [
        ("currency",),
        ("payment_status",),
        ("lines", "quantity"),
        ("lines", "unit_price"),
        ("lines", "sku"),
        ("external_id",),
        ("fill_policy",),
        ("shipping_address", "country"),
    ]
)
plausible = st.sampled_from(
    [1, 2, 60, "1", "10.00", "0.01", "SKU-1", "USD", "EUR", "paid", "pending", "GB", "US", None]
)
near_valid = st.one_of(
    st.builds(mutate, st.just(SHOPIFY_BASE), shopify_paths, plausible | values, st.integers(0, 10**6)),
    st.builds(mutate, st.just(NATIVE_BASE), native_paths, plausible | values, st.integers(0, 10**6)),
)
mostly = st.sampled_from([True, True, True, False])


def usually(good: str) -> st.SearchStrategy[str]:
    """`good` three times in four, anything else otherwise: most cases get past the header to the body."""
    return st.tuples(mostly, headers_text).map(lambda t: good if t[0] else t[1])


def valid(base: dict, n: int, quantity: int, price: str) -> bytes:
    body = json.loads(json.dumps(base))
    lines = body.get("line_items") or body["lines"]
    lines[0]["quantity"] = quantity
    lines[0]["price" if "line_items" in body else "unit_price"] = price
    body["id" if "id" in body else "external_id"] = n if "id" in body else f"fuzz-{n}"
    return json.dumps(body).encode()


valid_orders = st.builds(
    valid,
    st.sampled_from([SHOPIFY_BASE, NATIVE_BASE]),
    st.integers(1, 10**9),
    st.integers(1, 100),
    st.sampled_from(["0.01", "10.00", "99999.99"]),
)
bodies = st.one_of(
    valid_orders,
    near_valid,
    near_valid,
    storefront_order.map(lambda b: json.dumps(b).encode()),
    values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.sampled_from([b"[" * 50_000 + b"]" * 50_000, b"", b"null", b'{"a": 1e999999}']),
)
headers_text = st.text(max_size=80) | st.sampled_from(
    ["", "shop.myshopify.com", "SHOP.myshopify.com.", "[", "x" * 5000]
)


def b64(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


# ------------------------------------------------------------------ the stack, once per module
@pytest.fixture(scope="module")
def handlers(moto_server) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        reset_moto(moto_server.endpoint_url)
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
        stack = StackResources(moto_server.endpoint_url).create()
        for function in (
            "OrderIntakeFunction",
            "OrderApiFunction",
            "TrackingUpdatesFunction",
            "DigitalDeliveryFunction",
            "ReturnsFunction",
            "StockReservationFunction",
            "DispatchFunction",
        ):
            for name, value in stack.function_env(function).items():
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        clear_caches()
        fns = {
            "intake": function_module("order_intake", "fuzz"),
            "api": function_module("order_api", "fuzz"),
            "tracking": function_module("tracking_updates", "fuzz"),
            "digital": function_module("digital_delivery", "fuzz"),
            "returns": function_module("returns", "fuzz"),
            "reservation": function_module("stock_reservation", "fuzz"),
            "dispatch": function_module("dispatch", "fuzz"),
        }
        admin = Admin(fns["api"])
        admin.catalog("SKU-1")
        admin.stock("SKU-1", "WH-EAST", 5)
        response = fns["intake"].lambda_handler(_native(json.dumps(native_body([("SKU-1", 1)])).encode()), Context())
        fns["order"] = json.loads(response["body"])
        yield {"moto": moto_server, "stack": stack, **fns}
        clear_caches()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    total = TALLY["requests"] + TALLY["messages"]
    print(
        f"\nfuzz: {total} generated cases ({TALLY['requests']} HTTP requests, {TALLY['messages']} queue messages): "
        f"{TALLY['5xx']} server errors, {TALLY['refused_writes']} writes by refused cases; "
        f"answers {dict(sorted((k, v) for k, v in TALLY.items() if k.startswith('http ')))}"
    )


def _writes(moto) -> int:
    """Table writes that succeeded (a refused request may try one whose condition fails: that stores nothing)."""
    totals = moto.app.writes.totals()
    return totals.calls - totals.failed_calls


def call(h: dict[str, Any], fn: str, event: dict) -> dict:
    before = _writes(h["moto"])
    response = h[fn].lambda_handler(event, Context())
    status = int(response["statusCode"])
    TALLY["requests"] += 1
    TALLY[f"http {status // 100}xx"] += 1
    if status >= 500:
        TALLY["5xx"] += 1
    if status >= 400 and _writes(h["moto"]) != before:
        TALLY["refused_writes"] += 1
    assert status < 500, (event.get("path"), response.get("body"))
    assert status < 400 or _writes(h["moto"]) == before, ("a refused request wrote", event.get("path"), status)
    return response


def _native(raw: bytes, header: str | None = None) -> dict:
    signature = header if header is not None else _sign_native(raw)
    return api_event(
        "POST", "/orders", body=raw, headers={"Content-Type": "application/json", "X-Fulfillment-Signature": signature}
    )


def _sign_native(raw: bytes) -> str:
    now = int(time.time())
    return f"t={now},v1=" + hmac.new(b"native-dev-secret", f"{now}.".encode() + raw, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ route groups
@given(
    raw=bodies,
    signed=mostly,
    header=headers_text,
    content_type=st.sampled_from(
        ["application/json", "application/json", "application/json; charset=utf-8", "text/plain"]
    ),
)
def test_native_orders(handlers, raw: bytes, signed: bool, header: str, content_type: str) -> None:
    event = _native(raw, None if signed else header)
    event["headers"]["Content-Type"] = content_type or "application/json"
    call(handlers, "intake", event)


@given(
    raw=bodies,
    shop=usually("shop.myshopify.com"),
    topic=st.sampled_from(["orders/create", "orders/updated", "orders/cancelled", "refunds/create", "x"]),
)
def test_shopify_webhooks(handlers, raw: bytes, shop: str, topic: str) -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": b64("shopify-dev-secret", raw),
        "X-Shopify-Shop-Domain": shop,
    }
    call(handlers, "intake", api_event("POST", "/webhooks/shopify", body=raw, headers=headers))


@given(
    raw=bodies, source=usually("https://shop.example/"), topic=st.sampled_from(["order.created", "order.updated", "x"])
)
def test_woocommerce_webhooks(handlers, raw: bytes, source: str, topic: str) -> None:
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": b64("woocommerce-dev-secret", raw),
        "X-WC-Webhook-Source": source,
    }
    call(handlers, "intake", api_event("POST", "/webhooks/woocommerce", body=raw, headers=headers))


tracker = shaped(
    ["tracking_code", "carrier", "status", "est_delivery_date", "updated_at"],
    {"tracking_details": st.lists(shaped(["datetime", "status", "message"]), max_size=2)},
)
easypost = shaped(["id", "description", "updated_at"], {"result": tracker})
aftership = shaped(
    ["event_id", "event", "ts"],
    {
        "msg": shaped(
            ["tracking_number", "slug", "tag", "expected_delivery"],
            {"checkpoints": st.lists(shaped(["checkpoint_time", "message", "tag"]), max_size=2)},
        )
    },
)


@given(body=easypost | aftership | values, which=st.sampled_from(["easypost", "aftership"]))
def test_carrier_webhooks(handlers, body: Any, which: str) -> None:
    raw = json.dumps(body).encode()
    if which == "easypost":
        digest = hmac.new(b"easypost-dev-secret", raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hmac-Signature": f"hmac-sha256-hex={digest}"}
    else:
        headers = {"Content-Type": "application/json", "aftership-hmac-sha256": b64("aftership-dev-secret", raw)}
    call(handlers, "tracking", api_event("POST", f"/webhooks/tracking/{which}", body=raw, headers=headers))


ids = st.text(max_size=40) | st.sampled_from(
    ["o_" + "a" * 24, "o_" + "a" * 3000, "ORDER#x", "o_aaaaaaaaaaaaaaaaaaaaaaaa.001"]
)


@given(order_id=ids, token=st.none() | st.text(max_size=60), real=st.booleans())
def test_customer_routes(handlers, order_id: str, token: str | None, real: bool) -> None:
    if real:
        order_id = handlers["order"]["order_id"]
    query = {"token": token} if token else None
    call(
        handlers,
        "api",
        api_event(
            "GET",
            f"/orders/{order_id}",
            resource="/orders/{order_id}",
            path_parameters={"order_id": order_id},
            query=query,
        ),
    )
    call(
        handlers,
        "digital",
        api_event("GET", f"/downloads/{order_id}", resource="/downloads/{token}", path_parameters={"token": order_id}),
    )
    call(
        handlers,
        "digital",
        api_event(
            "POST",
            f"/orders/{order_id}/downloads/resend",
            resource="/orders/{order_id}/downloads/resend",
            path_parameters={"order_id": order_id},
            query=query,
        ),
    )
    raw = json.dumps({"lines": [{"line_no": 1, "quantity": 1}]}).encode()
    call(
        handlers,
        "returns",
        api_event(
            "POST",
            f"/orders/{order_id}/returns",
            body=raw,
            headers={"Content-Type": "application/json"},
            resource="/orders/{order_id}/returns",
            path_parameters={"order_id": order_id},
            query=query,
        ),
    )


@given(
    sku=st.text(max_size=30) | st.just("SKU-1"),
    location=st.text(max_size=12) | st.sampled_from(["WH-EAST", "HQ"]),
    body=values,
    key=st.none() | headers_text,
)
def test_operator_routes(handlers, sku: str, location: str, body: Any, key: str | None) -> None:
    headers = {"Content-Type": "application/json", "Authorization": "Bearer admin-dev-token"}
    if key is not None:
        headers["Idempotency-Key"] = key
    raw = json.dumps(body).encode()
    params = {"sku": sku, "location": location}
    call(
        handlers,
        "api",
        api_event(
            "PUT",
            f"/inventory/{sku}/{location}",
            body=raw,
            headers=headers,
            resource="/inventory/{sku}/{location}",
            path_parameters=params,
        ),
    )
    call(
        handlers,
        "api",
        api_event(
            "POST",
            f"/inventory/{sku}/{location}/adjustments",
            body=raw,
            headers=headers,
            resource="/inventory/{sku}/{location}/adjustments",
            path_parameters=params,
        ),
    )
    call(
        handlers,
        "api",
        api_event(
            "PUT", f"/catalog/{sku}", body=raw, headers=headers, resource="/catalog/{sku}", path_parameters={"sku": sku}
        ),
    )


inbound = shaped(
    [name for name in inbound_fields() if name not in ("items", "lines")],
    {
        "items": st.lists(shaped(["sku", "on_hand"]), max_size=2),
        "lines": st.lists(shaped(["sku", "quantity", "disposition"]), max_size=2),
    },
)
types = st.sampled_from(
    [
        "fulfillment_request.accepted",
        "shipment.shipped",
        "shipment.tracking",
        "shipment.delivered",
        "inventory.snapshot",
        "return.received",
        "x",
    ]
)
providers = st.sampled_from(["tpl-east", "tpl-west", "in-house", "supplier-acme", "nobody"])


@given(message=inbound, kind=types, provider=providers, sender=st.sampled_from(["own", "other"]), raw=st.booleans())
def test_inbound_messages(handlers, message: dict, kind: str, provider: str, sender: str, raw: bool) -> None:
    body = json.dumps(message if raw else {**message, "type": kind, "version": 1, "provider": provider})
    event = sqs_event([body])
    event["Records"][0]["attributes"]["SenderId"] = sender_of(provider if sender == "own" else "tpl-west")
    before = _writes(handlers["moto"])
    result = handlers["tracking"].lambda_handler(event, Context())
    TALLY["messages"] += 1
    # A message is applied, or quarantined with its reason: never a failure that SQS would redeliver forever.
    assert result["batchItemFailures"] == [], body
    dead = (
        handlers["stack"]
        .client("sqs")
        .receive_message(QueueUrl=handlers["stack"].physical["InboundDLQ"], MaxNumberOfMessages=10)
        .get("Messages", [])
    )
    for message_ in dead:
        handlers["stack"].client("sqs").delete_message(
            QueueUrl=handlers["stack"].physical["InboundDLQ"], ReceiptHandle=message_["ReceiptHandle"]
        )
    if dead:
        TALLY["quarantined"] += 1
        if _writes(handlers["moto"]) != before:
            TALLY["refused_writes"] += 1
        assert _writes(handlers["moto"]) == before, ("a quarantined message wrote", body)
