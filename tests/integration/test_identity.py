"""Who may speak for whom: a storefront's order belongs to the shop its signature proves, and a 3PL message is
believed only from that provider's own senders (deny by default). Every refusal changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from tests.support import provider as tpl
from tests.support.events import Context, api_event, response_json, sender_of, sqs_event
from tests.support.stack import StackResources, clear_caches, shipments
from tests.support.storefront import native_order


def sign(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def table(stack: StackResources) -> list[dict]:
    return sorted(stack.items(), key=lambda i: (i["PK"], i["SK"]))


def set_secret(stack: StackResources, logical_id: str, value: object) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    stack.client("secretsmanager").put_secret_value(SecretId=stack.physical[logical_id], SecretString=text)
    clear_caches()


SHOPIFY_ORDER = json.dumps(
    {
        "id": 820982911946154508,
        "currency": "USD",
        "financial_status": "paid",
        "updated_at": "2026-11-01T10:00:00Z",
        "email": "a@example.com",
        "line_items": [{"id": 1, "sku": "W", "quantity": 1, "price": "10.00", "requires_shipping": False}],
    }
).encode()

WOO_ORDER = json.dumps(
    {
        "id": 727,
        "order_key": "wc_order_58d2d042d1d",
        "status": "processing",
        "currency": "USD",
        "date_modified_gmt": "2026-11-01T10:00:00",
        "billing": {"email": "a@example.com"},
        "line_items": [{"id": 1, "sku": "W", "quantity": 1, "price": 10}],
    }
).encode()


def shopify(intake_fn, shop: str, *, secret: str = "shopify-dev-secret", raw: bytes = SHOPIFY_ORDER) -> dict:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": sign(secret, raw),
        "X-Shopify-Shop-Domain": shop,
    }
    return intake_fn.lambda_handler(api_event("POST", "/webhooks/shopify", body=raw, headers=headers), Context())


def woo(intake_fn, source: str, *, secret: str = "woocommerce-dev-secret") -> dict:
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Signature": sign(secret, WOO_ORDER),
        "X-WC-Webhook-Source": source,
    }
    return intake_fn.lambda_handler(
        api_event("POST", "/webhooks/woocommerce", body=WOO_ORDER, headers=headers), Context()
    )


# ---------------------------------------------------------------------------------------------- storefront shops
def test_a_shared_secrets_order_replayed_under_another_shop_creates_nothing(stack, admin, intake_fn):
    admin.catalog("W")
    first = shopify(intake_fn, "shop-a.myshopify.com")
    assert first["statusCode"] == 202, first["body"]
    before = table(stack)

    replay = shopify(intake_fn, "shop-b.myshopify.com")

    assert replay["statusCode"] == 409, replay["body"]
    assert response_json(replay)["error"]["code"] == "order_of_another_shop"
    assert table(stack) == before


@pytest.mark.parametrize("variant", ["SHOP-A.myshopify.com", "shop-a.myshopify.com.", " shop-a.myshopify.com "])
def test_spellings_of_one_shop_domain_are_one_shop(stack, admin, intake_fn, variant):
    admin.catalog("W")
    first = response_json(shopify(intake_fn, "shop-a.myshopify.com"))
    again = shopify(intake_fn, variant)
    assert again["statusCode"] == 200, again["body"]
    assert response_json(again) == {**first, "duplicate": True}


@pytest.mark.parametrize("shop", ["shop_a.myshopify.com", "a..b", "x" * 300, "shop.com/../x", "-shop.com"])
def test_a_shop_header_that_is_not_a_host_name_is_400(stack, intake_fn, shop):
    before = table(stack)
    response = shopify(intake_fn, shop)
    assert response["statusCode"] == 400, response["body"]
    assert table(stack) == before


def test_a_shop_bound_to_its_own_secret_is_proven_by_it_and_nobody_else(stack, admin, intake_fn):
    admin.catalog("W")
    set_secret(stack, "ShopifyWebhookSecret", {"shop-a.myshopify.com": "secret-a", "shop-b.myshopify.com": "secret-b"})

    assert shopify(intake_fn, "shop-a.myshopify.com", secret="secret-a")["statusCode"] == 202
    before = table(stack)
    # shop A's signed body under shop B's header, or signed by A's secret for B: not B's signature
    assert shopify(intake_fn, "shop-b.myshopify.com", secret="secret-a")["statusCode"] == 401
    # a shop the secret does not name
    assert shopify(intake_fn, "shop-c.myshopify.com", secret="secret-a")["statusCode"] == 401
    assert table(stack) == before
    # a proven shop claims nothing: the same Shopify id from shop B (its own secret) is B's order
    assert shopify(intake_fn, "shop-b.myshopify.com", secret="secret-b")["statusCode"] == 202
    assert not [i for i in stack.items() if i["PK"].startswith("PLATFORM#")]


def test_a_secret_shared_by_two_named_shops_proves_neither(stack, admin, intake_fn):
    admin.catalog("W")
    set_secret(stack, "ShopifyWebhookSecret", {"shop-a.myshopify.com": "same", "*": "same"})
    assert shopify(intake_fn, "shop-a.myshopify.com", secret="same")["statusCode"] == 202
    replay = shopify(intake_fn, "shop-z.myshopify.com", secret="same")
    assert replay["statusCode"] == 409, replay["body"]


def test_a_woocommerce_order_replayed_under_another_store_creates_nothing(stack, admin, intake_fn):
    admin.catalog("W")
    assert woo(intake_fn, "https://shop.example/")["statusCode"] == 202
    before = table(stack)
    for same_store in ("https://SHOP.example:443//", "http://shop.example", "shop.example."):
        response = woo(intake_fn, same_store)
        assert response["statusCode"] == 200 and response_json(response)["duplicate"], (same_store, response["body"])
    replay = woo(intake_fn, "https://other.example/")
    assert replay["statusCode"] == 409, replay["body"]
    assert response_json(replay)["error"]["code"] == "order_of_another_shop"
    assert table(stack) == before


def test_woocommerce_stores_with_their_own_secrets(stack, admin, intake_fn):
    admin.catalog("W")
    set_secret(stack, "WooCommerceWebhookSecret", {"shop.example": "wa", "other.example/store": "wb"})
    assert woo(intake_fn, "https://shop.example/", secret="wa")["statusCode"] == 202
    assert woo(intake_fn, "https://other.example/store/", secret="wa")["statusCode"] == 401
    assert woo(intake_fn, "https://other.example/store/", secret="wb")["statusCode"] == 202  # its own order #727


# ---------------------------------------------------------------------------------------------- 3PL senders
@pytest.fixture
def submitted(stack, admin, intake_fn, flow) -> dict:
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 3)
    native_order(intake_fn, lines=[("W", 1)])
    flow.pump()
    [request] = flow.provider_requests()
    return request


def send(tracking_fn, message: dict, sender: str) -> None:
    event = sqs_event([json.dumps(message)])
    event["Records"][0]["attributes"]["SenderId"] = sender
    result = tracking_fn.lambda_handler(event, Context())
    assert result["batchItemFailures"] == []


def test_nobody_speaks_for_an_in_house_location_on_the_queue(stack, admin, submitted, tracking_fn, flow):
    admin.stock("W", "HQ", 2)
    before = admin.inventory("W", "HQ")["on_hand"]
    forged = tpl.message(
        "inventory.snapshot",
        provider="in-house",
        location="HQ",
        as_of=tpl.at(0),
        items=[{"sku": "W", "on_hand": 1_000_000}],
    )
    send(tracking_fn, forged, sender_of("in-house"))
    shipped = tpl.shipped(submitted["shipment_id"], "X1", provider="in-house")
    send(tracking_fn, shipped, sender_of("in-house"))

    reasons = [d["MessageAttributes"]["reason"]["StringValue"] for d in flow.dead_letters("InboundDLQ")]
    assert len(reasons) == 2 and all(r.startswith("sender_not_allowed") for r in reasons), reasons
    assert shipments(stack)[0]["status"] == "submitted"
    assert admin.inventory("W", "HQ")["on_hand"] == before == 2


def test_a_provider_without_configured_senders_is_not_believed(stack, submitted, tracking_fn, flow, monkeypatch):
    monkeypatch.setenv("PROVIDER_SENDERS", json.dumps({"tpl-west": [sender_of("tpl-west")]}))
    clear_caches()
    send(tracking_fn, tpl.shipped(submitted["shipment_id"], "X1"), sender_of("tpl-east"))
    [dead] = flow.dead_letters("InboundDLQ")
    assert "lists no senders for tpl-east" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert shipments(stack)[0]["status"] == "submitted"


def test_one_providers_sender_cannot_speak_for_another(stack, submitted, tracking_fn, flow):
    send(tracking_fn, tpl.shipped(submitted["shipment_id"], "X1"), sender_of("tpl-west"))
    [dead] = flow.dead_letters("InboundDLQ")
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith("sender_not_allowed")
    assert shipments(stack)[0]["status"] == "submitted"
    send(tracking_fn, tpl.shipped(submitted["shipment_id"], "X1"), sender_of("tpl-east"))
    assert shipments(stack)[0]["status"] == "shipped"
