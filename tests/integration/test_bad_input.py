"""Every class of bad input gets its documented 4xx, the error body, and leaves the table unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from tests.support.admin import Admin
from tests.support.events import Context, api_event, response_json
from tests.support.stack import StackResources
from tests.support.storefront import native_body, native_request

SHOPIFY_DEV_SECRET = "shopify-dev-secret"  # template.yaml LocalValue
WOO_DEV_SECRET = "woocommerce-dev-secret"


def snapshot(stack: StackResources) -> list[dict]:
    return sorted(stack.items(), key=lambda i: (i["PK"], i["SK"]))


@pytest.fixture
def seeded(stack, api_fn) -> Admin:
    """A table with something in it, so 'unchanged' is not trivially 'empty'."""
    admin = Admin(api_fn)
    admin.catalog("SKU-1")
    admin.stock("SKU-1", "WH-EAST", 5)
    return admin


def sign_b64(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


GOOD = json.dumps(native_body([("SKU-1", 1)], external_id="bad-input-1")).encode()
NOW = int(time.time())
BIG = json.dumps(native_body([("SKU-1", 1)], external_id="big", note="x" * (1024 * 1024))).encode()


def native_cases() -> list[tuple[str, dict, int, str]]:
    schema = lambda body: json.dumps(body).encode()  # noqa: E731
    wrong_quantity = native_body([("SKU-1", 1)])
    wrong_quantity["lines"][0]["quantity"] = "2"
    float_money = native_body([("SKU-1", 1)])
    float_money["lines"][0]["unit_price"] = 19.99
    no_lines = native_body([("SKU-1", 1)])
    no_lines["lines"] = []
    bad_currency = native_body([("SKU-1", 1)], currency="dollars")
    return [
        ("missing signature", native_request(GOOD, signature=""), 401, "unauthorized"),
        ("wrong secret", native_request(GOOD, secret="not-the-secret"), 401, "unauthorized"),
        ("garbled header", native_request(GOOD, signature="nonsense"), 401, "unauthorized"),
        ("stale timestamp", native_request(GOOD, timestamp=NOW - 301), 401, "unauthorized"),
        ("future timestamp", native_request(GOOD, timestamp=NOW + 900), 401, "unauthorized"),
        ("timestamp of 500 digits", native_request(GOOD, signature="t=" + "9" * 500 + ",v1=00"), 401, "unauthorized"),
        ("malformed JSON", native_request(b'{"external_id": "x",'), 400, "unparseable"),
        ("not UTF-8", native_request(b'\xff\xfe{"a": 1}'), 400, "unparseable"),
        ("quantity as string", native_request(schema(wrong_quantity)), 422, "schema_violation"),
        ("money as float", native_request(schema(float_money)), 422, "schema_violation"),
        ("no lines", native_request(schema(no_lines)), 422, "schema_violation"),
        ("bad currency", native_request(schema(bad_currency)), 422, "schema_violation"),
        ("JSON array", native_request(b"[1, 2]"), 422, "schema_violation"),
        ("oversized body", native_request(BIG), 413, "payload_too_large"),
        ("wrong content type", native_request(GOOD, content_type="text/plain"), 415, "unsupported_media_type"),
    ]


@pytest.mark.parametrize("name,event,status,code", native_cases(), ids=[c[0] for c in native_cases()])
def test_bad_native_orders_get_a_clear_4xx_and_change_nothing(stack, seeded, intake_fn, name, event, status, code):
    before = snapshot(stack)
    response = intake_fn.lambda_handler(event, Context())
    assert response["statusCode"] == status, response["body"]
    assert response_json(response)["error"]["code"] == code
    assert snapshot(stack) == before


def test_schema_violations_name_the_field_paths(stack, seeded, intake_fn):
    body = native_body([("SKU-1", 1), ("SKU-1", 2)])
    body["lines"][1]["quantity"] = -4
    response = intake_fn.lambda_handler(native_request(json.dumps(body).encode()), Context())
    assert response["statusCode"] == 422
    fields = [d["field"] for d in response_json(response)["error"]["details"]]
    assert fields == ["lines.1.quantity"]


def shopify_event(
    raw: bytes,
    *,
    topic: str = "orders/create",
    content_type: str = "application/json",
    signature: str | None = None,
    shop: str | None = "dev.myshopify.com",
) -> dict:
    headers = {
        "Content-Type": content_type,
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature if signature is not None else sign_b64(SHOPIFY_DEV_SECRET, raw),
    }
    if shop:
        headers["X-Shopify-Shop-Domain"] = shop
    return api_event("POST", "/webhooks/shopify", body=raw, headers=headers)


SHOPIFY_MINIMAL = json.dumps({"id": 1, "currency": "USD", "line_items": []}).encode()


@pytest.mark.parametrize(
    "name,event,status,code",
    [
        ("unknown topic", shopify_event(SHOPIFY_MINIMAL, topic="products/update"), 400, "unsupported_topic"),
        ("missing shop domain", shopify_event(SHOPIFY_MINIMAL, shop=None), 400, "bad_request"),
        ("missing signature", shopify_event(SHOPIFY_MINIMAL, signature=""), 401, "unauthorized"),
        (
            "wrong content type",
            shopify_event(SHOPIFY_MINIMAL, content_type="application/xml"),
            415,
            "unsupported_media_type",
        ),
        ("malformed JSON", shopify_event(b"{not json"), 400, "unparseable"),
        ("signed JSON nested 100,000 deep", shopify_event(b"[" * 100_000 + b"]" * 100_000), 400, "unparseable"),
        ("no id", shopify_event(json.dumps({"currency": "USD", "line_items": []}).encode()), 422, "schema_violation"),
        (
            "line items not a list",
            shopify_event(json.dumps({"id": 1, "currency": "USD", "line_items": 3}).encode()),
            422,
            "schema_violation",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_shopify_webhooks_get_a_clear_4xx_and_change_nothing(stack, seeded, intake_fn, name, event, status, code):
    before = snapshot(stack)
    response = intake_fn.lambda_handler(event, Context())
    assert response["statusCode"] == status, response["body"]
    assert response_json(response)["error"]["code"] == code
    assert snapshot(stack) == before


def woo_event(raw: bytes, *, topic: str = "order.created", signed: bool = True) -> dict:
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Source": "https://shop.example/",
    }
    if signed:
        headers["X-WC-Webhook-Signature"] = sign_b64(WOO_DEV_SECRET, raw)
    return api_event("POST", "/webhooks/woocommerce", body=raw, headers=headers)


def test_woocommerce_ping_gets_200_and_stores_nothing(stack, seeded, intake_fn):
    before = snapshot(stack)
    event = api_event(
        "POST",
        "/webhooks/woocommerce",
        body=b"webhook_id=42",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = intake_fn.lambda_handler(event, Context())
    assert response["statusCode"] == 200
    assert snapshot(stack) == before


@pytest.mark.parametrize(
    "name,event,status",
    [
        ("unsigned order", woo_event(json.dumps({"id": 1}).encode(), signed=False), 401),
        ("unknown topic", woo_event(json.dumps({"id": 1}).encode(), topic="product.created"), 400),
        ("deleted resource body", woo_event(json.dumps({"id": 1}).encode()), 422),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_woocommerce_webhooks_get_a_clear_4xx_and_change_nothing(stack, seeded, intake_fn, name, event, status):
    before = snapshot(stack)
    response = intake_fn.lambda_handler(event, Context())
    assert response["statusCode"] == status, response["body"]
    assert snapshot(stack) == before


def test_admin_routes_refuse_requests_without_the_admin_credential(stack, seeded, api_fn):
    before = snapshot(stack)
    for token in (None, "wrong-token"):
        response = seeded.call(
            "PUT",
            "/inventory/SKU-1/WH-EAST",
            "/inventory/{sku}/{location}",
            {"sku": "SKU-1", "location": "WH-EAST"},
            {"on_hand": 99},
            token=token,
        )
        assert response["statusCode"] == 401
    assert snapshot(stack) == before


@pytest.mark.parametrize(
    "name,call,status",
    [
        (
            "catalog kind unknown",
            lambda a: a.call("PUT", "/catalog/X", "/catalog/{sku}", {"sku": "X"}, {"kind": "gas"}),
            422,
        ),
        (
            "digital without asset",
            lambda a: a.call("PUT", "/catalog/X", "/catalog/{sku}", {"sku": "X"}, {"kind": "digital"}),
            422,
        ),
        (
            "bad sku characters",
            lambda a: a.call("PUT", "/catalog/a b", "/catalog/{sku}", {"sku": "a b"}, {"kind": "physical"}),
            422,
        ),
        (
            "negative on hand",
            lambda a: a.call(
                "PUT",
                "/inventory/SKU-1/WH-EAST",
                "/inventory/{sku}/{location}",
                {"sku": "SKU-1", "location": "WH-EAST"},
                {"on_hand": -1},
            ),
            422,
        ),
        ("unknown location", lambda a: a.adjust("SKU-1", "MOON", 5, "received"), 404),
        ("unknown sku", lambda a: a.adjust("NOPE", "WH-EAST", 5, "received"), 404),
        ("zero delta", lambda a: a.adjust("SKU-1", "WH-EAST", 0, "correction"), 422),
        ("write-off that adds", lambda a: a.adjust("SKU-1", "WH-EAST", 3, "write_off"), 422),
        ("unknown order", lambda a: a.cancel("o_doesnotexist"), 404),
        ("release a hold that is not there", lambda a: a.release("o_doesnotexist", "fraud_review"), 404),
        ("bad status filter", lambda a: a.call("GET", "/orders", "/orders", {}, query={"status": "lost"}), 400),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_admin_requests_get_a_clear_4xx_and_change_nothing(stack, seeded, name, call, status):
    before = snapshot(stack)
    response = call(seeded)
    assert response["statusCode"] == status, response["body"]
    assert "error" in response_json(response)
    assert snapshot(stack) == before


def test_removing_reserved_units_is_refused(stack, seeded, intake_fn, router_fn, reservation_fn):
    from tests.support.flow import Flow
    from tests.support.storefront import native_order

    native_order(intake_fn, lines=[("SKU-1", 4)])
    Flow(stack, router_fn, reservation_fn).pump()
    before = snapshot(stack)
    response = seeded.adjust("SKU-1", "WH-EAST", -2, "write_off")
    assert response["statusCode"] == 409
    assert response_json(response)["error"]["code"] == "insufficient_stock"
    assert snapshot(stack) == before


def test_native_external_id_reused_for_a_different_order_is_a_conflict(stack, seeded, intake_fn):
    first = native_request(json.dumps(native_body([("SKU-1", 1)], external_id="dup-1")).encode())
    assert intake_fn.lambda_handler(first, Context())["statusCode"] == 202
    before = snapshot(stack)
    other = native_request(json.dumps(native_body([("SKU-1", 3)], external_id="dup-1")).encode())
    response = intake_fn.lambda_handler(other, Context())
    assert response["statusCode"] == 409
    assert snapshot(stack) == before


def test_unknown_routes_get_404_json(stack, intake_fn):
    response = intake_fn.lambda_handler(api_event("GET", "/nothing-here"), Context())
    assert response["statusCode"] == 404
    assert response_json(response)["error"]["code"] == "no_route"
