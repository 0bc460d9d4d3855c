"""Real storefront payloads, verified with their published test vectors, are ingested correctly."""

from __future__ import annotations

import pytest

from tests.support.events import Context, api_event, response_json
from tests.support.stack import StackResources

SHOPIFY_SECRET = "test_secret_key"
WOO_SECRET = "wc_test_secret"


@pytest.fixture
def vendor_secrets(stack: StackResources) -> None:
    sm = stack.client("secretsmanager")
    sm.put_secret_value(SecretId=stack.physical["ShopifyWebhookSecret"], SecretString=SHOPIFY_SECRET)
    sm.put_secret_value(SecretId=stack.physical["WooCommerceWebhookSecret"], SecretString=WOO_SECRET)


def shopify(intake_fn, raw: bytes, signature: str, topic: str = "orders/create", shop: str = "jsmith.myshopify.com"):
    event = api_event("POST", "/webhooks/shopify", body=raw, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Shop-Domain": shop, "X-Shopify-Webhook-Id": "w1",
    })
    return intake_fn.lambda_handler(event, Context())


def test_shopify_orders_create_fixture_is_verified_and_stored(intake_fn, stack, fixtures_dir, vendor_secrets):
    raw = (fixtures_dir / "shopify_orders_create.json").read_bytes()
    response = shopify(intake_fn, raw, "c2hBamvRAZEYNEMpETsFsM9rgOaxsQur3y6e85La3gw=")
    assert response["statusCode"] == 202, response["body"]
    body = response_json(response)
    assert body["duplicate"] is False
    order = next(i for i in stack.items() if i["SK"] == "ORDER")
    assert order["external_id"] == "1073459981"
    assert order["channel"] == "shopify" and order["shop"] == "jsmith.myshopify.com"
    assert order["lines"][0]["sku"] == "IPOD2009BLACK"
    assert order["lines"][0]["unit_price"] == "199.00"
    assert order["payment_status"] == "paid"
    assert order["shipping_address"]["country"] == "CA"
