"""Order API: the order view for customers (access token) and operators; catalog, stock and order
operations for operators (IAM or the admin bearer token)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import http, snapstart, tokens
from fulfillment.adapters.secrets import first_secret
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.domain.model import OrderStatus
from fulfillment.errors import BadRequest, SchemaViolation
from fulfillment.services.views import OrderViews

if TYPE_CHECKING:
    from fulfillment.domain.entitlements import Entitlement
    from fulfillment.services.inventory import Inventory
    from fulfillment.services.operations import Operations

# The order view (customers' GET /orders/{id}, the most frequent request) parses no body: the operators' request
# models (contracts.admin, pydantic) and services are imported by the routes that use them, not at a cold start.

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)
admin = http.admin_only(app)


@cache
def store() -> DynamoStore:
    return DynamoStore(settings().table_name)


@cache
def operations() -> Operations:
    from fulfillment.services.operations import Operations

    return Operations(settings(), store())


@cache
def inventory() -> Inventory:
    from fulfillment.services.inventory import Inventory

    return Inventory(settings(), store())


def download_url(entitlement: Entitlement) -> str:
    """A download's link, on the host this request came to (token holders and operators see their links)."""
    key = first_secret("DOWNLOAD_SIGNING")
    token = tokens.download_token(entitlement.entitlement_id, entitlement.link_version, key)
    return f"{http.public_base_url(app.current_event)}/downloads/{token}"


@cache
def views() -> OrderViews:
    return OrderViews(store(), download_url)


def _valid_sku(sku: str) -> str:
    from fulfillment.contracts.admin import Sku
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(Sku).validate_python(sku)
    except ValidationError:
        raise SchemaViolation(
            f"invalid SKU {sku!r}", details=[{"field": "sku", "problem": "1-64 of A-Z a-z 0-9 . _ -"}]
        ) from None


@app.get("/orders/<order_id>")
def get_order(order_id: str) -> Response[str]:
    token, operator = http.order_access(app.current_event, order_id)
    return http.json_response(200, views().order(order_id, token=token, admin=operator))


@app.get("/orders")
@admin
def list_orders() -> Response[str]:
    event = app.current_event
    status = event.get_query_string_value("status")  # none: every order, newest first
    if status is not None and status not in {s.value for s in OrderStatus}:
        raise BadRequest(f"status must be one of {[s.value for s in OrderStatus]} (or absent: every order)")
    try:
        limit = min(max(int(event.get_query_string_value("limit") or 50), 1), 100)
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    return http.json_response(200, views().list(status, limit=limit, cursor=event.get_query_string_value("cursor")))


@app.post("/orders/<order_id>/cancel")
@admin
def cancel_order(order_id: str) -> Response[str]:
    from fulfillment.contracts.admin import CancelRequest

    request = http.optional_json_body(app.current_event, CancelRequest)
    result = operations().cancel(order_id, reason=request.reason)
    logger.info("order cancelled by operator", order_id=order_id)
    return http.json_response(200, result)


@app.post("/orders/<order_id>/holds/<reason>/release")
@admin
def release_hold(order_id: str, reason: str) -> Response[str]:
    result = operations().release_hold(order_id, reason)
    logger.info("hold released", order_id=order_id, reason=reason)
    return http.json_response(200, result)


@app.put("/catalog/<sku>")
@admin
def put_catalog(sku: str) -> Response[str]:
    from fulfillment.contracts.admin import CatalogEntry

    entry = http.parse_json_model(CatalogEntry, _require_body())
    return http.json_response(200, inventory().put_catalog(_valid_sku(sku), entry))


@app.get("/catalog/<sku>")
@admin
def get_catalog(sku: str) -> Response[str]:
    return http.json_response(200, inventory().get_catalog(sku))


@app.get("/inventory/<sku>/<location>")
@admin
def get_inventory(sku: str, location: str) -> Response[str]:
    return http.json_response(200, inventory().level(sku, location))


@app.put("/inventory/<sku>/<location>")
@admin
def put_inventory(sku: str, location: str) -> Response[str]:
    from fulfillment.contracts.admin import StockLevel

    level = http.parse_json_model(StockLevel, _require_body())
    return http.json_response(200, inventory().set_level(sku, location, level, actor=http.actor(app.current_event)))


@app.put("/inventory/<sku>/<location>/shards")
@admin
def put_inventory_shards(sku: str, location: str) -> Response[str]:
    """Keep a level on several items, a partition each, before a flash sale (or on one again): the units are
    spread at once; reads of the level sum the items."""
    from fulfillment.contracts.admin import Shards

    request = http.parse_json_model(Shards, _require_body())
    view = inventory().set_shards(sku, location, request.shards)
    logger.info("stock sharded", sku=sku, location=location, shards=request.shards)
    return http.json_response(200, view)


@app.post("/inventory/<sku>/<location>/adjustments")
@admin
def adjust_inventory(sku: str, location: str) -> Response[str]:
    from fulfillment.contracts.admin import Adjustment

    adjustment = http.parse_json_model(Adjustment, _require_body())
    key = http.idempotency_key(app.current_event)
    view, applied = inventory().adjust(
        sku, location, adjustment, idempotency_key=key, actor=http.actor(app.current_event)
    )
    logger.info(
        "stock adjusted", sku=sku, location=location, delta=adjustment.delta, reason=adjustment.reason, applied=applied
    )
    return http.json_response(201 if applied else 200, {**view, "duplicate": not applied})


def _require_body() -> bytes:
    raw = http.raw_body(app.current_event)
    http.require_json(app.current_event)
    return raw


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# SnapStart: see fulfillment.snapstart (`modules`: imported on some paths only, into the snapshot all the same)
snapstart.register(
    clients=("secretsmanager",),
    modules=("fulfillment.contracts.admin", "fulfillment.services.inventory", "fulfillment.services.operations"),
)
