"""Order intake: POST /webhooks/shopify, POST /webhooks/woocommerce, POST /orders.

Verify the signature over the exact bytes, then parse, normalise and store exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import http, shops, signatures, snapstart
from fulfillment.adapters.secrets import first_secret, secret_text, secret_values
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.contracts.storefront import NativeOrder, ShopifyOrder, ShopifyRefund, WooOrder
from fulfillment.domain.model import Channel, Order, order_id_for
from fulfillment.errors import UnsupportedTopic
from fulfillment.services.intake import Intake, IntakeResult

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)

SHOPIFY_TOPICS = frozenset({"orders/create", "orders/paid", "orders/updated", "orders/cancelled", "refunds/create"})
WOOCOMMERCE_TOPICS = frozenset({"order.created", "order.updated"})
WOOCOMMERCE_PING = re.compile(rb"^webhook_id=\d+$")


@cache
def intake() -> Intake:
    return Intake(settings(), first_secret("ORDER_TOKEN"), store())


@cache
def store() -> DynamoStore:
    return DynamoStore(settings().table_name)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _shop_secrets(name: str, normalise: Callable[[str | None], str]) -> shops.ShopSecrets:
    return shops.ShopSecrets.parse(secret_text(name), normalise)


def _accept(order: Order, *, include_token: bool = False, platform_id: str | None = None) -> Response[str]:
    result: IntakeResult = intake().accept(order, now=_now(), platform_id=platform_id)
    logger.info(
        "order accepted",
        order_id=result.order_id,
        channel=order.channel.value,
        new_order=result.created,
        duplicate=result.duplicate,
        status=result.status,
        lines=len(order.lines),
    )
    if result.created:
        metrics.add_metric(name="OrdersReceived", unit=MetricUnit.Count, value=1)
    elif result.duplicate:
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
    return http.json_response(202 if result.created else 200, result.body(include_token=include_token))


@app.post("/webhooks/shopify")
def shopify_webhook() -> Response[str]:
    event = app.current_event
    raw = http.raw_body(event)
    shop = shops.shopify_domain(
        http.header(event, "X-Shopify-Shop-Domain") or http.header(event, "Shopify-Shop-Domain")
    )
    secrets, proves_shop = _shop_secrets("SHOPIFY", shops.shopify_domain).for_shop(shop)
    signature = http.header(event, "X-Shopify-Hmac-Sha256") or http.header(event, "Shopify-Hmac-Sha256")
    signatures.verify_shopify(raw, signature, secrets)
    http.require_json(event)
    topic = http.header(event, "X-Shopify-Topic") or http.header(event, "Shopify-Topic")
    if topic not in SHOPIFY_TOPICS:
        raise UnsupportedTopic(f"topic {topic!r} is not one of {sorted(SHOPIFY_TOPICS)}")
    if topic == "refunds/create":
        return _refund(http.parse_json_model(ShopifyRefund, raw), shop)
    order = http.parse_json_model(ShopifyOrder, raw).to_order(shop)
    # Shopify's order ids are global: the claim keeps a shared (app) secret's orders to the shop that made them.
    return _accept(order, platform_id=None if proves_shop else order.external_id)


def _refund(refund: ShopifyRefund, shop: str) -> Response[str]:
    """Recorded on the order once per refund id; refunded digital units take their downloads with them. A refund
    for an order we never received is answered 200 (Shopify would retry it for hours) and changes nothing."""
    from fulfillment.services.refunds import Refunds  # only Shopify's refunds/create topic records refunds

    order_id = order_id_for(Channel.SHOPIFY, shop, str(refund.order_id))
    lines = [(str(line.line_item_id), line.quantity) for line in refund.refund_line_items if line.quantity]
    outcome = Refunds(store()).record(order_id, str(refund.id), lines, note=refund.note)
    logger.info("refund recorded", order_id=order_id, outcome=outcome.value)
    return http.json_response(200, {"order_id": order_id, "outcome": outcome.value})


@app.post("/webhooks/woocommerce")
def woocommerce_webhook() -> Response[str]:
    event = app.current_event
    raw = http.raw_body(event)
    signature = http.header(event, "X-WC-Webhook-Signature")
    if signature is None and WOOCOMMERCE_PING.match(raw.strip()):
        return http.json_response(200, {"ping": "ok"})  # sent unsigned when the webhook is created
    shop = shops.woocommerce_source(http.header(event, "X-WC-Webhook-Source"))
    secrets, proves_shop = _shop_secrets("WOOCOMMERCE", shops.woocommerce_source).for_shop(shop)
    signatures.verify_woocommerce(raw, signature, secrets)
    http.require_json(event)
    topic = http.header(event, "X-WC-Webhook-Topic")
    if topic not in WOOCOMMERCE_TOPICS:
        raise UnsupportedTopic(f"topic {topic!r} is not one of {sorted(WOOCOMMERCE_TOPICS)}")
    woo = http.parse_json_model(WooOrder, raw)
    # WooCommerce ids are per store; its order_key is random per order: the claim for a shared secret's orders.
    platform_id = None if proves_shop else (woo.order_key or f"id:{woo.id}")
    return _accept(woo.to_order(shop), platform_id=platform_id)


@app.post("/orders")
def native_order() -> Response[str]:
    event = app.current_event
    raw = http.raw_body(event)
    signatures.verify_native(raw, http.header(event, "X-Fulfillment-Signature"), secret_values("NATIVE"))
    http.require_json(event)
    return _accept(http.parse_json_model(NativeOrder, raw).to_order(), include_token=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: see fulfillment.snapstart (`modules`: imported on some paths only, into the snapshot all the same)
snapstart.register(clients=("secretsmanager",), modules=("fulfillment.services.refunds",))
