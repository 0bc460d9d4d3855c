"""Limits where input is parsed: what is out of range gets its 4xx before any work and changes nothing; what a
storefront legitimately sends, however big, is stored whole."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from tests.support.events import Context, api_event, response_json
from tests.support.stack import StackResources


def table(stack: StackResources) -> list[dict]:
    return sorted(stack.items(), key=lambda i: (i["PK"], i["SK"]))


def b64_hmac(secret: bytes, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret, raw, hashlib.sha256).digest()).decode()


def shopify(intake_fn, raw: bytes) -> dict:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": b64_hmac(b"shopify-dev-secret", raw),
        "X-Shopify-Shop-Domain": "limits.myshopify.com",
    }
    return intake_fn.lambda_handler(api_event("POST", "/webhooks/shopify", body=raw, headers=headers), Context())


def shopify_body(**line) -> bytes:
    item = {"id": 1, "sku": "W", "quantity": 1, "price": "10.00", **line}
    return json.dumps({"id": 1001, "currency": "USD", "financial_status": "paid", "line_items": [item]}).encode()


@pytest.mark.parametrize(
    "name,raw",
    [
        ("quantity of 10^40", shopify_body(quantity=10**40)),
        ("price of 1e999999999", shopify_body(price=None).replace(b'"price": null', b'"price": 1e999999999')),
        ("price of -1e20", shopify_body(price="-1e20")),
        ("price NaN", shopify_body(price="NaN")),
        ("order id of 40 digits", shopify_body().replace(b'"id": 1001', b'"id": ' + b"9" * 40)),
        ("line id of 5,000 characters", shopify_body(id="x" * 5000)),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_signed_storefront_values_out_of_range_are_422(stack, admin, intake_fn, name, raw):
    admin.catalog("W")
    before = table(stack)
    response = shopify(intake_fn, raw)
    assert response["statusCode"] == 422, response["body"]
    assert response_json(response)["error"]["code"] == "schema_violation"
    assert table(stack) == before


def test_a_price_with_too_many_decimals_is_rounded_not_refused(stack, admin, intake_fn):
    admin.catalog("W")
    response = shopify(intake_fn, shopify_body(price="19.9900000000001"))
    assert response["statusCode"] == 202, response["body"]
    [detail] = [i for i in stack.items() if i["SK"] == "ORDER#DETAIL"]
    assert detail["lines"][0]["unit_price"] == "19.99"


def test_a_thousand_line_order_with_long_titles_is_stored_whole(stack, admin, intake_fn):
    admin.catalog("W")
    items = [
        {"id": n, "sku": "W", "quantity": 1, "price": "1.00", "title": f"{n:04d} " + "long title " * 80}
        for n in range(1, 1001)
    ]
    raw = json.dumps({"id": 1002, "currency": "USD", "financial_status": "paid", "line_items": items}).encode()
    assert len(raw) < 1024 * 1024
    response = shopify(intake_fn, raw)
    assert response["statusCode"] == 202, response["body"]
    order_id = response_json(response)["order_id"]

    parts = [i for i in stack.items() if i["SK"].startswith("ORDER#DETAIL")]
    assert len(parts) > 1  # one item could not hold it (DynamoDB: 400 KB)
    assert all(len(json.dumps(p, default=str)) < 400_000 for p in parts)
    view = admin.order(order_id)
    assert len(view["lines"]) == 1000
    assert [ln["title"][:4] for ln in view["lines"]] == [f"{n:04d}" for n in range(1, 1001)]
    assert all(ln["title"] == items[n]["title"] for n, ln in enumerate(view["lines"]))  # nothing cut


def test_a_sku_no_catalog_could_hold_is_an_unknown_sku_not_an_error(stack, admin, intake_fn):
    response = shopify(intake_fn, shopify_body(sku="S" * 10_000))
    assert response["statusCode"] == 202, response["body"]
    view = admin.order(response_json(response)["order_id"])
    assert "unknown_sku" in view["holds"]
    assert len(view["lines"][0]["sku"]) <= 128


def aftership_event(msg: dict, **top) -> dict:
    body = json.dumps({"event_id": "e1", "event": "tracking_update", "msg": msg, **top}).encode()
    headers = {"Content-Type": "application/json", "aftership-hmac-sha256": b64_hmac(b"aftership-dev-secret", body)}
    return api_event("POST", "/webhooks/tracking/aftership", body=body, headers=headers)


def easypost_event(tracking_code: str, event_id: str = "evt_1") -> dict:
    body = json.dumps(
        {
            "id": event_id,
            "description": "tracker.updated",
            "result": {"tracking_code": tracking_code, "carrier": "USPS", "status": "in_transit"},
        }
    ).encode()
    digest = hmac.new(b"easypost-dev-secret", body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hmac-Signature": f"hmac-sha256-hex={digest}"}
    return api_event("POST", "/webhooks/tracking/easypost", body=body, headers=headers)


@pytest.mark.parametrize(
    "name,event",
    [
        ("EasyPost tracking code of 5,000", easypost_event("9" * 5000)),
        ("EasyPost event id of 5,000", easypost_event("9400", event_id="e" * 5000)),
        (
            "AfterShip tracking number of 5,000",
            aftership_event({"tracking_number": "1" * 5000, "slug": "usps", "tag": "InTransit"}),
        ),
        (
            "AfterShip ts of 1e20",
            aftership_event({"tracking_number": "1Z", "slug": "usps", "tag": "InTransit"}, ts=10**20),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_signed_carrier_values_out_of_range_are_422(stack, tracking_fn, name, event):
    before = table(stack)
    response = tracking_fn.lambda_handler(event, Context())
    assert response["statusCode"] == 422, response["body"]
    assert table(stack) == before


@pytest.mark.parametrize("order_id", ["o_" + "a" * 3000, "ORDER#x", "o_abc"])
def test_an_id_in_a_url_that_cannot_be_ours_is_404_before_any_read(stack, admin, moto_server, order_id):
    moto_server.app.reset_counters()
    response = admin.call("GET", f"/orders/{order_id}", "/orders/{order_id}", {"order_id": order_id})
    assert response["statusCode"] == 404 and response_json(response)["error"]["code"] == "order_not_found"
    assert not [op for op in moto_server.app.by_operation if op.startswith("DynamoDB")]


@pytest.mark.parametrize("key", ["k" * 5000, "with space", "ünïcode"])
def test_an_idempotency_key_that_could_not_be_part_of_a_key_is_400(stack, admin, key):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    before = table(stack)
    response = admin.call(
        "POST",
        "/inventory/W/WH-EAST/adjustments",
        "/inventory/{sku}/{location}/adjustments",
        {"sku": "W", "location": "WH-EAST"},
        {"delta": 1, "reason": "received"},
        headers={"Idempotency-Key": key},
    )
    assert response["statusCode"] == 400, response["body"]
    assert table(stack) == before
