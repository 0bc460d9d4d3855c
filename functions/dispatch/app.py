"""Dispatch: shipments per location, requests to each provider's own queue, re-sends, cancellations."""

from __future__ import annotations

import json
import os
from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment.adapters import messaging
from fulfillment.config import settings
from fulfillment.contracts.common import field_errors
from fulfillment.contracts.messages import (
    DISPATCH_WORK,
    CancelOrderShipments,
    CheckShipmentTimer,
    DispatchOrder,
    SubmitShipment,
)
from fulfillment.errors import NotFound
from fulfillment.shipping import Shipping
from pydantic import BaseModel, ValidationError

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def provider_queues() -> dict[str, str]:
    return json.loads(os.environ.get("PROVIDER_QUEUES") or "{}")


def send_to_provider(provider: str, message: BaseModel) -> None:
    queue_url = provider_queues().get(provider)
    if queue_url is None:
        raise RuntimeError(f"no outbound queue configured for provider {provider}")
    messaging.send(queue_url, message)
    logger.info(
        "sent to provider", provider=provider, type=message.type, shipment_id=getattr(message, "shipment_id", None)
    )


@cache
def shipping() -> Shipping:
    return Shipping(
        settings(),
        send_to_provider,
        ack_timeout=int(os.environ.get("ACK_TIMEOUT_SECONDS", "900")),
        max_submit_attempts=int(os.environ.get("MAX_SUBMIT_ATTEMPTS", "3")),
    )


def record_handler(record: SQSRecord) -> None:
    try:
        work = DISPATCH_WORK.validate_json(record.body)
    except ValidationError as exc:
        _quarantine(
            record, "malformed message: " + "; ".join(f"{e['field']}: {e['problem']}" for e in field_errors(exc))
        )
        return
    try:
        if isinstance(work, DispatchOrder):
            outcome = f"{shipping().dispatch(work.order_id)} shipments created"
        elif isinstance(work, SubmitShipment):
            outcome = shipping().submit(work.shipment_id)
            if outcome == "submitted":
                metrics.add_metric(name="FulfillmentRequestsSent", unit=MetricUnit.Count, value=1)
        elif isinstance(work, CheckShipmentTimer):
            outcome = shipping().check_timer(work.shipment_id)
        else:
            assert isinstance(work, CancelOrderShipments)
            outcome = f"{shipping().cancel_shipments(work.order_id)} shipments stopped"
    except NotFound as exc:
        _quarantine(record, str(exc))
        return
    logger.info("dispatch work done", type=work.type, outcome=outcome)


def _quarantine(record: SQSRecord, reason: str) -> None:
    logger.warning("message quarantined", message_id=record.message_id, reason=reason)
    metrics.add_metric(name="MessagesQuarantined", unit=MetricUnit.Count, value=1)
    messaging.quarantine(os.environ["DISPATCH_DLQ_URL"], record.body, reason, source="DispatchQueue")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
