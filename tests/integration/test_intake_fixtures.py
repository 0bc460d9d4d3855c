"""Real storefront payloads, verified with their published test vectors, are ingested correctly;
one changed byte anywhere gets 401 and writes nothing."""

from __future__ import annotations

import json

import pytest
from fulfillment.adapters.codecs import order as order_codec

from tests.support.events import Context, api_event, response_json
from tests.support.flow import Flow
from tests.support.stack import StackResources

SHOPIFY_SECRET = "test_secret_key"
WOO_SECRET = "wc_test_secret"

SHOPIFY_VECTORS = {
    "shopify_orders_create.json": "c2hBamvRAZEYNEMpETsFsM9rgOaxsQur3y6e85La3gw=",
    "shopify_orders_cancelled.json": "uF7LrdI0bEvEL9KOA8OD65IY2rNnhfqqV2kHvLx4H6g=",
}
WOO_VECTOR = "3PyE8fJTsjur6pUHJxTvv/qu1Mp/fM39//YXo8YjumM="


@pytest.fixture
def vendor_secrets(stack: StackResources) -> None:
    sm = stack.client("secretsmanager")
    sm.put_secret_value(SecretId=stack.physical["ShopifyWebhookSecret"], SecretString=SHOPIFY_SECRET)
    sm.put_secret_value(SecretId=stack.physical["WooCommerceWebhookSecret"], SecretString=WOO_SECRET)


def shopify_event(raw: bytes, signature: str, topic: str = "orders/create", shop: str = "jsmith.myshopify.com") -> dict:
    return api_event(
        "POST",
        "/webhooks/shopify",
        body=raw,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Webhook-Id": "w1",
            "X-Shopify-API-Version": "2024-04",
        },
    )


def woo_event(raw: bytes, signature: str, topic: str = "order.created") -> dict:
    return api_event(
        "POST",
        "/webhooks/woocommerce",
        body=raw,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Signature": signature,
            "X-WC-Webhook-Source": "https://example.com/",
            "X-WC-Webhook-ID": "7",
            "X-WC-Webhook-Resource": "order",
        },
    )


def orders(stack: StackResources) -> list[dict]:
    """Each stored order as one dict: its state item with its detail item's fields (lines merged by number)."""
    items = stack.items()
    details = {i["order_id"]: i for i in items if i["SK"] == "ORDER#DETAIL"}
    merged = []
    for state in (i for i in items if i["SK"] == "ORDER"):
        detail = details[state["order_id"]]
        line_detail = {ln["line_no"]: ln for ln in detail["lines"]}
        lines = [{**line_detail[ln["line_no"]], **ln} for ln in state["lines"]]
        merged.append({**detail, **state, "lines": lines})
    return merged


def test_shopify_orders_create_fixture_is_verified_and_stored(intake_fn, stack, fixtures_dir, vendor_secrets):
    raw = (fixtures_dir / "shopify_orders_create.json").read_bytes()
    response = intake_fn.lambda_handler(shopify_event(raw, SHOPIFY_VECTORS["shopify_orders_create.json"]), Context())
    assert response["statusCode"] == 202, response["body"]
    assert response_json(response)["duplicate"] is False
    [order] = orders(stack)
    assert order["external_id"] == "1073459981"
    assert (order["channel"], order["shop"], order["currency"]) == ("shopify", "jsmith.myshopify.com", "USD")
    assert [(ln["sku"], ln["quantity"], ln["unit_price"], ln["kind"]) for ln in order["lines"]] == [
        ("IPOD2009BLACK", 1, "199.00", "physical")
    ]
    assert order["payment_status"] == "paid"
    assert order["shipping_address"]["country"] == "CA" and order["shipping_address"]["postal_code"] == "K2P 1L4"
    assert order["holds"] == {"unknown_sku": order["holds"]["unknown_sku"]}  # not in this shop's catalog


def test_shopify_custom_item_with_nulls_is_stored_on_hold_not_rejected(intake_fn, stack, fixtures_dir, vendor_secrets):
    import base64
    import hashlib
    import hmac

    raw = (fixtures_dir / "shopify_orders_create_custom_item_eur.json").read_bytes()
    signature = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    response = intake_fn.lambda_handler(shopify_event(raw, signature), Context())
    assert response["statusCode"] == 202, response["body"]
    [order] = orders(stack)
    assert order["currency"] == "EUR"
    assert order["lines"][0]["sku"] is None and order["lines"][0]["quantity"] == 3
    assert order["customer"]["email"] is None  # Shopify sent ""
    assert set(order["holds"]) == {"unknown_sku", "address_invalid"}
    assert order["status"] == "on_hold"


def test_shopify_cancelled_sample_keeps_ids_above_2_pow_53(intake_fn, stack, fixtures_dir, vendor_secrets):
    raw = (fixtures_dir / "shopify_orders_cancelled.json").read_bytes()
    event = shopify_event(raw, SHOPIFY_VECTORS["shopify_orders_cancelled.json"], topic="orders/cancelled")
    response = intake_fn.lambda_handler(event, Context())
    assert response["statusCode"] == 202, response["body"]
    [order] = orders(stack)
    assert order["external_id"] == "820982911946154508"
    assert [ln["source_line_id"] for ln in order["lines"]] == ["866550311766439020", "141249953214522974"]
    assert order["status"] == "cancelled" and order["cancel_reason"] == "customer"


def test_woocommerce_body_is_verified_over_its_exact_bytes_and_stored(intake_fn, stack, fixtures_dir, vendor_secrets):
    raw = (fixtures_dir / "woocommerce_order_created.body").read_bytes()
    response = intake_fn.lambda_handler(woo_event(raw, WOO_VECTOR), Context())
    assert response["statusCode"] == 202, response["body"]
    [order] = orders(stack)
    assert (order["channel"], order["shop"], order["external_id"], order["name"]) == (
        "woocommerce",
        "example.com",
        "727",
        "727",
    )
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in order["lines"]] == [
        (None, 2, "3"),
        ("Bar3", 1, "12"),
    ]
    assert order["payment_status"] == "paid"  # status processing
    assert order["shipping_address"]["city"] == "San Francisco"


def test_a_reserialised_woocommerce_body_fails_verification(intake_fn, stack, fixtures_dir, vendor_secrets):
    import json

    pretty = json.dumps(json.loads((fixtures_dir / "woocommerce_order_created.body").read_bytes()), indent=2).encode()
    response = intake_fn.lambda_handler(woo_event(pretty, WOO_VECTOR), Context())
    assert response["statusCode"] == 401
    assert stack.items() == []


CASES = [
    ("shopify_orders_create.json", lambda raw: shopify_event(raw, SHOPIFY_VECTORS["shopify_orders_create.json"])),
    (
        "shopify_orders_cancelled.json",
        lambda raw: shopify_event(raw, SHOPIFY_VECTORS["shopify_orders_cancelled.json"], topic="orders/cancelled"),
    ),
    ("woocommerce_order_created.body", lambda raw: woo_event(raw, WOO_VECTOR)),
]


@pytest.mark.parametrize("name,event_for", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_one_changed_byte_gets_401_and_writes_nothing(
    intake_fn, stack, fixtures_dir, vendor_secrets, name, event_for, position
):
    raw = bytearray((fixtures_dir / name).read_bytes())
    index = {"first": 0, "middle": len(raw) // 2, "last": len(raw) - 1}[position]
    raw[index] = raw[index] ^ 0x01
    response = intake_fn.lambda_handler(event_for(bytes(raw)), Context())
    assert response["statusCode"] == 401
    assert response_json(response)["error"]["code"] == "unauthorized"
    assert stack.items() == []


def test_shopify_orders_paid_before_orders_create_is_not_lost_and_not_regressed(
    intake_fn, stack, fixtures_dir, vendor_secrets, router_fn, reservation_fn
):
    """Topics arrive out of order: the newer snapshot wins whichever arrives first."""
    import base64
    import hashlib
    import hmac
    import json

    def sign(raw: bytes) -> str:
        return base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest()).decode()

    created = json.loads((fixtures_dir / "shopify_orders_create.json").read_bytes())
    created["financial_status"] = "pending"
    paid = dict(created, financial_status="paid", updated_at="2024-04-02T15:00:00-04:00")
    raw_created, raw_paid = json.dumps(created).encode(), json.dumps(paid).encode()

    first = intake_fn.lambda_handler(shopify_event(raw_paid, sign(raw_paid), topic="orders/paid"), Context())
    late = intake_fn.lambda_handler(shopify_event(raw_created, sign(raw_created)), Context())

    assert first["statusCode"] == 202
    assert late["statusCode"] == 200 and response_json(late)["duplicate"] is True
    assert response_json(late)["order_id"] == response_json(first)["order_id"]
    [order] = orders(stack)
    assert order["payment_status"] == "paid" and "awaiting_payment" not in order["holds"]


def test_shopify_orders_paid_releases_the_payment_hold(
    intake_fn, stack, fixtures_dir, vendor_secrets, router_fn, reservation_fn
):
    import base64
    import hashlib
    import hmac
    import json

    def sign(raw: bytes) -> str:
        return base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest()).decode()

    created = json.loads((fixtures_dir / "shopify_orders_create.json").read_bytes())
    created["financial_status"] = "pending"
    paid = dict(created, financial_status="paid", updated_at="2024-04-02T15:00:00-04:00")
    for body, topic in ((created, "orders/create"), (paid, "orders/paid")):
        raw = json.dumps(body).encode()
        response = intake_fn.lambda_handler(shopify_event(raw, sign(raw), topic=topic), Context())
        assert response["statusCode"] in (200, 202)
    [order] = orders(stack)
    assert "awaiting_payment" not in order["holds"]
    Flow(stack, router_fn, reservation_fn).pump()  # the router writes the timeline from each change
    changes = order_codec.timeline_items(stack.items())  # on their own, or carried by another history item
    assert [e["entry"] for change in changes for e in change["entries"]] == [
        "received",
        "hold_placed",
        "hold_placed",
        "payment_updated",
        "hold_released",
    ]

    flow = Flow(stack, router_fn, reservation_fn)
    flow.pump()
    assert sorted(e["detail-type"] for e in flow.customer_events) == ["OrderOnHold", "OrderOnHold", "OrderReceived"]


def _shopify_sign(raw: bytes) -> str:
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest()).decode()


def test_shopify_refunds_create_is_recorded_on_its_order_once(intake_fn, stack, fixtures_dir, vendor_secrets):
    # The fixture as Shopify sent it (its own test vector) refunds an order this backend never received: 200,
    # nothing written, so Shopify does not retry it for hours.
    raw = (fixtures_dir / "shopify_refunds_create.json").read_bytes()
    vector = "AZqAaRAHVLqEHvvSiAqACNnE25BoXZ6aURrOzVnCx/4="
    before = len(stack.items())
    response = intake_fn.lambda_handler(shopify_event(raw, vector, topic="refunds/create"), Context())
    assert response["statusCode"] == 200, response["body"]
    assert response_json(response)["outcome"] == "unmatched" and len(stack.items()) == before

    # The same refund for the order of the orders/create fixture: recorded once, whatever the redeliveries.
    created = (fixtures_dir / "shopify_orders_create.json").read_bytes()
    intake_fn.lambda_handler(shopify_event(created, SHOPIFY_VECTORS["shopify_orders_create.json"]), Context())
    order = json.loads(created)
    refund = json.loads(raw)
    refund["order_id"] = order["id"]
    refund["refund_line_items"][0]["line_item_id"] = order["line_items"][0]["id"]
    body = json.dumps(refund).encode()
    answers = [
        response_json(
            intake_fn.lambda_handler(shopify_event(body, _shopify_sign(body), topic="refunds/create"), Context())
        )
        for _ in range(2)
    ]
    assert [a["outcome"] for a in answers] == ["recorded", "duplicate"]
    [state] = [i for i in stack.items() if i["SK"] == "ORDER"]
    [entry] = state["changes"]
    assert entry["type"] == "refund_recorded"
    assert entry["detail"]["lines"] == [{"line_no": 1, "sku": "IPOD2009BLACK", "units": 1, "kind": "physical"}]
