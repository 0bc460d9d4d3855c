"""Webhooks are redelivered (Shopify retries 8x over 4 h): one order, one OrderReceived, whatever happens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.support import provider as tpl
from tests.support.admin import Admin
from tests.support.events import Context, api_event, response_json
from tests.support.flow import Flow
from tests.support.stack import function_module
from tests.support.storefront import native_body, native_request

SHOPIFY_DEV_SECRET = "shopify-dev-secret"


def shopify_delivery(raw: bytes) -> dict:
    """Each delivery of the same order has a new webhook id, as Shopify's retries do."""
    signature = base64.b64encode(hmac.new(SHOPIFY_DEV_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    return api_event(
        "POST",
        "/webhooks/shopify",
        body=raw,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": "dev.myshopify.com",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        },
    )


def shopify_body() -> bytes:
    return json.dumps(
        {
            "id": 5_000_000_000_000_000_001,
            "name": "#1001",
            "email": "buyer@example.com",
            "currency": "USD",
            "financial_status": "paid",
            "updated_at": "2026-11-01T10:00:00Z",
            "shipping_address": {"address1": "1 Main St", "city": "Springfield", "zip": "12345", "country_code": "US"},
            "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1, "price": "10.00", "requires_shipping": True}],
        }
    ).encode()


def test_the_same_webhook_five_times_in_a_row_is_one_order(stack, api_fn, intake_fn, router_fn, reservation_fn):
    Admin(api_fn).catalog("SKU-1")
    raw = shopify_body()
    responses = [intake_fn.lambda_handler(shopify_delivery(raw), Context()) for _ in range(5)]

    assert [r["statusCode"] for r in responses] == [202, 200, 200, 200, 200]
    bodies = [response_json(r) for r in responses]
    assert len({b["order_id"] for b in bodies}) == 1
    assert [b["duplicate"] for b in bodies] == [False, True, True, True, True]
    assert len([i for i in stack.items() if i["SK"] == "ORDER"]) == 1
    flow = Flow(stack, router_fn, reservation_fn)
    flow.pump()
    assert len(flow.events_of("OrderReceived")) == 1


def test_a_redelivered_webhook_is_answered_from_one_read_and_writes_nothing(stack, api_fn, intake_fn, moto_server):
    """The delivery that finds its order stored goes straight to the snapshot rules: no creating transaction
    that fails (one would be billed at two write units an item)."""
    Admin(api_fn).catalog("SKU-1")
    raw = shopify_body()
    assert intake_fn.lambda_handler(shopify_delivery(raw), Context())["statusCode"] == 202
    moto_server.app.reset_counters()
    response = intake_fn.lambda_handler(shopify_delivery(raw), Context())
    assert response["statusCode"] == 200 and response_json(response)["duplicate"] is True
    table_calls = {op.rsplit(".", 1)[-1]: n for op, n in moto_server.app.by_operation.items() if "DynamoDB" in op}
    assert table_calls == {"BatchGetItem": 1, "Query": 1}, table_calls
    assert moto_server.app.writes.totals().failed_calls == 0


def test_the_same_webhook_five_times_at_once_is_one_order(stack, api_fn, router_fn, reservation_fn):
    Admin(api_fn).catalog("SKU-1")
    raw = shopify_body()
    handlers = [function_module("order_intake", instance=f"c{n}") for n in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(lambda h: h.lambda_handler(shopify_delivery(raw), Context()), handlers))

    assert sorted(r["statusCode"] for r in responses) == [200, 200, 200, 200, 202]
    assert len({response_json(r)["order_id"] for r in responses}) == 1
    assert len([i for i in stack.items() if i["SK"] == "ORDER"]) == 1
    flow = Flow(stack, router_fn, reservation_fn)
    flow.pump()
    assert len(flow.events_of("OrderReceived")) == 1


def test_a_native_redelivery_returns_the_same_access_token(stack, api_fn, intake_fn):
    raw = json.dumps(native_body([("SKU-1", 1)], external_id="retry-1")).encode()
    first = response_json(intake_fn.lambda_handler(native_request(raw), Context()))
    again = intake_fn.lambda_handler(native_request(raw), Context())
    assert again["statusCode"] == 200
    assert response_json(again) == {**first, "duplicate": True}


def test_shopify_cancel_after_reservation_releases_the_stock(
    stack, api_fn, intake_fn, router_fn, reservation_fn, dispatch_fn, tracking_fn
):
    admin = Admin(api_fn)
    admin.catalog("SKU-1")
    admin.stock("SKU-1", "WH-EAST", 1)
    flow = Flow(stack, router_fn, reservation_fn, dispatch_fn, tracking_fn)
    raw = shopify_body()
    order_id = response_json(intake_fn.lambda_handler(shopify_delivery(raw), Context()))["order_id"]
    flow.pump()
    assert admin.inventory("SKU-1", "WH-EAST")["available"] == 0
    [request] = flow.provider_requests()

    cancelled = json.loads(raw)
    cancelled.update(
        cancelled_at="2026-11-01T11:00:00Z",
        cancel_reason="customer",
        updated_at="2026-11-01T11:00:00Z",
        financial_status="voided",
    )
    raw_cancel = json.dumps(cancelled).encode()
    event = shopify_delivery(raw_cancel)
    event["headers"]["X-Shopify-Topic"] = "orders/cancelled"
    response = intake_fn.lambda_handler(event, Context())
    assert response["statusCode"] == 200 and response_json(response)["status"] == "cancelled"
    flow.pump()
    assert [r["type"] for r in flow.provider_requests()] == ["cancellation_request"]
    flow.to_inbound(tpl.message("cancellation_request.accepted", shipment_id=request["shipment_id"]))
    flow.pump()

    assert admin.inventory("SKU-1", "WH-EAST")["available"] == 1
    assert admin.order(order_id)["status"] == "cancelled"
    assert [e["detail-type"] for e in flow.customer_events].count("OrderCancelled") == 1


def test_a_new_orders_first_history_rides_on_its_detail_and_survives_an_address_change(
    stack, api_fn, intake_fn, router_fn, reservation_fn
):
    """The creating change's timeline is carried by the detail item written with it (no timeline item, no write by
    the router); a later address change rewrites the detail in place and keeps it."""
    admin = Admin(api_fn)
    admin.catalog("SKU-1")
    assert intake_fn.lambda_handler(shopify_delivery(shopify_body()), Context())["statusCode"] == 202
    flow = Flow(stack, router_fn, reservation_fn)
    flow.pump()
    [state] = [i for i in stack.items() if i["SK"] == "ORDER"]
    order_id = state["order_id"]
    detail = next(i for i in stack.items() if i["SK"] == "ORDER#DETAIL")
    assert [e["entry"] for t in detail["timelines"] for e in t["entries"]] == ["received"]
    assert not [i for i in stack.items() if i["SK"].startswith("TL#") and i["SK"].endswith("#o:00000001")]

    moved = json.loads(shopify_body())
    moved["updated_at"] = "2026-11-01T11:00:00Z"
    moved["shipping_address"] = {"address1": "9 Elm St", "city": "Shelbyville", "zip": "54321", "country_code": "US"}
    assert intake_fn.lambda_handler(shopify_delivery(json.dumps(moved).encode()), Context())["statusCode"] == 200
    flow.pump()
    view = admin.order(order_id)
    assert [t["type"] for t in view["timeline"]].count("received") == 1
    assert len(flow.events_of("OrderReceived")) == 1
    detail = next(i for i in stack.items() if i["SK"] == "ORDER#DETAIL")
    assert detail["shipping_address"]["city"] == "Shelbyville" and detail["timelines"]
