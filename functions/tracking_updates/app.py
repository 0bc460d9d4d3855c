"""Tracking updates: the shared 3PL inbound queue, EasyPost/AfterShip webhooks, and the in-house warehouse."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import http, signatures, snapstart
from fulfillment.adapters.secrets import secret_values
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.contracts import provider as p
from fulfillment.contracts.carriers import AfterShipEvent, CarrierUpdate, EasyPostEvent
from fulfillment.contracts.common import loads
from fulfillment.contracts.provider import INBOUND, Line
from fulfillment.domain.returns import Disposition
from fulfillment.domain.shipments import carrier_code
from fulfillment.errors import UnknownLocation
from fulfillment.services.tracking import Tracking
from fulfillment.services.unit import Outcome
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from fulfillment.consumer import SqsConsumer
    from fulfillment.services.returns import Returns

# Webhooks and the in-house warehouse (API) do not import the queue's consumer (Powertools' batch processor), nor
# the services only some messages need (returns, inventory snapshots, in-house shipping): their paths import them.

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)
admin = http.admin_only(app)


@cache
def store() -> DynamoStore:
    return DynamoStore(settings().table_name)


@cache
def tracking() -> Tracking:
    return Tracking(settings(), store())


@cache
def returns() -> Returns:
    from fulfillment.services.returns import Returns

    return Returns(settings(), store())


def admit(message: BaseModel, record: SQSRecord) -> str | None:
    """The queue is shared, so a message's `provider` is believed only from that provider's own senders."""
    return settings().refuse_sender(str(getattr(message, "provider", "")), record.attributes.sender_id)


def return_received(message: p.ReturnReceived) -> Outcome:
    """A 3PL opened a returned parcel: each line's disposition, applied once (the message id is the marker)."""
    outcome, receipt = returns().receive(
        message.rma_id,
        [(line.sku, line.quantity, Disposition(line.disposition)) for line in message.lines],
        source=message.provider,
        message_id=message.message_id,
        by=message.provider,
        provider=message.provider,
    )
    if receipt is not None and receipt.refused:
        logger.warning("return units refused", rma_id=message.rma_id, refused=receipt.refused)
    return outcome


def inventory_snapshot(message: p.InventorySnapshot) -> str:
    """A 3PL's count of its location; SKUs it could not set (stale, or below the units reserved there) are
    reported for a person: the snapshot itself is applied for every other SKU."""
    from fulfillment.services.inventory import Inventory

    result = Inventory(settings(), store()).reconcile(message)
    if result.refused:
        logger.warning("inventory snapshot items refused", location=message.location, refused=list(result.refused))
        metrics.add_metric(name="SnapshotItemsRefused", unit=MetricUnit.Count, value=len(result.refused))
    return str(result)


@cache
def consumer() -> SqsConsumer:
    from fulfillment.consumer import SqsConsumer

    shipment_messages = (
        p.Accepted,
        p.Rejected,
        p.Shipped,
        p.Tracking,
        p.Delivered,
        p.CancellationAccepted,
        p.CancellationRejected,
    )
    routes: dict[type, Any] = {kind: tracking().provider_message for kind in shipment_messages}
    routes[p.InventorySnapshot] = inventory_snapshot
    routes[p.ReturnReceived] = return_received
    return SqsConsumer(
        queue="INBOUND",
        source="InboundQueue",
        parse=lambda body: INBOUND.validate_python(loads(body.encode())),
        routes=routes,
        logger=logger,
        metrics=metrics,
        admit=admit,
    )


# ------------------------------------------------------------------ carrier webhooks
def _carrier(update: CarrierUpdate) -> Response[str]:
    outcome = tracking().carrier_update(update, keep_if_unknown=True)
    logger.info(
        "carrier update", source=update.source, carrier=update.carrier, status=str(update.status), outcome=outcome
    )
    # An unknown tracking number is kept (the 3PL's shipment.shipped may still be on its way) and answered
    # 200, so the carrier neither retries nor disables the webhook.
    matched = outcome not in (Outcome.UNMATCHED, Outcome.KEPT_FOR_LATER)
    return http.json_response(200, {"matched": matched, "outcome": outcome.value})


@app.post("/webhooks/tracking/easypost")
def easypost() -> Response[str]:
    event = app.current_event
    raw = http.raw_body(event)
    signatures.verify_easypost(raw, http.header(event, "X-Hmac-Signature"), secret_values("EASYPOST"))
    http.require_json(event)
    return _carrier(http.parse_json_model(EasyPostEvent, raw).normalise())


@app.post("/webhooks/tracking/aftership")
def aftership() -> Response[str]:
    event = app.current_event
    raw = http.raw_body(event)
    signatures.verify_aftership(raw, http.header(event, "aftership-hmac-sha256"), secret_values("AFTERSHIP"))
    http.require_json(event)
    return _carrier(http.parse_json_model(AfterShipEvent, raw).normalise())


# ------------------------------------------------------------------ in-house warehouse
class ShipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=128)
    lines: list[Line] | None = None


@app.get("/warehouse/<location>/picklist")
@admin
def picklist(location: str) -> Response[str]:
    if settings().location(location) is None:
        raise UnknownLocation(f"no location {location}")
    shipments = store().picklist(location)
    return http.json_response(
        200,
        {
            "location": location,
            "shipments": [
                {
                    "shipment_id": s.shipment_id,
                    "order_id": s.order_id,
                    "created_at": s.created_at,
                    "lines": [{"sku": ln.sku, "quantity": ln.unshipped} for ln in s.lines if ln.unshipped],
                }
                for s in sorted(shipments, key=lambda s: s.created_at)
            ],
        },
    )


@app.post("/shipments/<shipment_id>/ship")
@admin
def ship(shipment_id: str) -> Response[str]:
    from fulfillment.services.operations import Operations

    event = app.current_event
    raw = http.raw_body(event)
    http.require_json(event)
    request = http.parse_json_model(ShipRequest, raw)
    key = http.idempotency_key(event) or f"{shipment_id}:{request.tracking_number}"
    lines = [(ln.sku, ln.quantity) for ln in request.lines] if request.lines else None
    outcome = Operations(settings(), store()).ship_in_house(
        shipment_id,
        carrier_code(request.carrier),
        request.tracking_number,
        lines,
        idempotency_key=key,
        tracking=tracking(),
    )
    status = store().shipment(shipment_id)
    return http.json_response(
        200, {"shipment_id": shipment_id, "outcome": outcome.value, "status": status.status.value if status else None}
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return consumer().handle(event, context)
    return app.resolve(event, context)


# SnapStart: see fulfillment.snapstart (`modules`: imported on some paths only, into the snapshot all the same)
snapstart.register(
    clients=("secretsmanager", "sqs"),
    modules=(
        "fulfillment.consumer",
        "fulfillment.services.returns",
        "fulfillment.services.inventory",
        "fulfillment.services.operations",
    ),
)
