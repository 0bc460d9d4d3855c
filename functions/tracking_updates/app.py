"""Tracking updates: the shared 3PL inbound queue, EasyPost/AfterShip webhooks, and the in-house warehouse."""

from __future__ import annotations

import json
import os
from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import http, inbound, signatures
from fulfillment.adapters import messaging
from fulfillment.adapters.secrets import secret_values
from fulfillment.adapters.shipment_store import mark_message
from fulfillment.config import settings
from fulfillment.contracts.carriers import AfterShipEvent, EasyPostEvent
from fulfillment.contracts.common import field_errors, loads
from fulfillment.contracts.provider import INBOUND, Line
from fulfillment.domain.shipments import carrier_code
from fulfillment.errors import ConcurrentModification, FulfillmentError, UnknownLocation
from fulfillment.shipping import ShipmentNotFound, Shipping, epoch, utc_now
from pydantic import BaseModel, ConfigDict, Field, ValidationError

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)
admin = http.admin_only(app)


@cache
def shipping() -> Shipping:
    return Shipping(settings(), delay_after=int(os.environ.get("DELAY_AFTER_SECONDS", "259200")))


@cache
def provider_senders() -> dict[str, list[str]]:
    """The queue is shared, so a message's `provider` is believed only from that provider's own senders."""
    return json.loads(os.environ.get("PROVIDER_SENDERS") or "{}")


# ------------------------------------------------------------------ 3PL inbound queue
def record_handler(record: SQSRecord) -> None:
    try:
        message = INBOUND.validate_python(loads(record.body.encode()))
    except ValidationError as exc:
        _quarantine(
            record, "malformed message: " + "; ".join(f"{e['field']}: {e['problem']}" for e in field_errors(exc))
        )
        return
    except FulfillmentError as exc:
        _quarantine(record, f"{exc.code}: {exc.message}")
        return
    allowed = provider_senders().get(message.provider)
    if allowed is not None and record.attributes.sender_id not in allowed:
        _quarantine(record, f"sender_not_allowed: {record.attributes.sender_id} may not speak for {message.provider}")
        return
    try:
        outcome = inbound.apply(message, shipping())
    except ConcurrentModification:
        raise  # contention: let SQS redeliver it
    except FulfillmentError as exc:  # unknown shipment, wrong provider, unsupported: never succeeds on retry
        _quarantine(record, f"{exc.code}: {exc.message}")
        return
    logger.info(
        "provider message applied",
        type=message.type,
        provider=message.provider,
        outcome=outcome,
        shipment_id=getattr(message, "shipment_id", None),
    )
    if outcome == "duplicate":
        metrics.add_metric(name="DuplicateProviderMessages", unit=MetricUnit.Count, value=1)


def _quarantine(record: SQSRecord, reason: str) -> None:
    logger.warning("message quarantined", message_id=record.message_id, reason=reason)
    metrics.add_metric(name="MessagesQuarantined", unit=MetricUnit.Count, value=1)
    messaging.quarantine(os.environ["INBOUND_DLQ_URL"], record.body, reason, source="InboundQueue")


# ------------------------------------------------------------------ carrier webhooks
def _carrier(update) -> Response:
    marker = mark_message(update.source, update.event_id, "carrier_webhook", epoch())
    outcome = shipping().carrier_update(update, marker=marker, keep_if_unknown=True)
    logger.info(
        "carrier update", source=update.source, carrier=update.carrier, status=str(update.status), outcome=outcome
    )
    # An unknown tracking number is kept (the 3PL's shipment.shipped may still be on its way) and answered
    # 200, so the carrier neither retries nor disables the webhook.
    return http.json_response(200, {"matched": outcome not in ("unmatched", "kept for later"), "outcome": outcome})


@app.post("/webhooks/tracking/easypost")
def easypost() -> Response:
    event = app.current_event
    raw = http.raw_body(event)
    signatures.verify_easypost(raw, http.header(event, "X-Hmac-Signature"), secret_values("EASYPOST_SECRET_ARN"))
    http.require_json(event)
    return _carrier(http.parse_json_model(EasyPostEvent, raw).normalise())


@app.post("/webhooks/tracking/aftership")
def aftership() -> Response:
    event = app.current_event
    raw = http.raw_body(event)
    signatures.verify_aftership(raw, http.header(event, "aftership-hmac-sha256"), secret_values("AFTERSHIP_SECRET_ARN"))
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
def picklist(location: str) -> Response:
    loc = settings().location(location)
    if loc is None:
        raise UnknownLocation(f"no location {location}")
    shipments = shipping().shipments.picklist(location, ["accepted"])
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
def ship(shipment_id: str) -> Response:
    event = app.current_event
    raw = http.raw_body(event)
    http.require_json(event)
    request = http.parse_json_model(ShipRequest, raw)
    key = http.header(event, "Idempotency-Key") or f"{shipment_id}:{request.tracking_number}"
    marker = mark_message("in-house", key, "ship", epoch())
    lines = [(ln.sku, ln.quantity) for ln in request.lines] if request.lines else None
    shipment = shipping().shipments.get(shipment_id)
    if shipment is None or shipment.provider_kind != "in_house":
        raise ShipmentNotFound(f"no in-house shipment {shipment_id}")
    carrier = carrier_code(request.carrier)
    outcome = shipping().shipped(shipment_id, carrier, request.tracking_number, utc_now(), lines, marker=marker)
    shipping().replay_early_updates(carrier, request.tracking_number)
    return http.json_response(200, {"shipment_id": shipment_id, "outcome": outcome})


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return app.resolve(event, context)
