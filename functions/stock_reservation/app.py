"""Stock reservation: reserve_order, release_order and allocate_backorders from the reservation queue."""

from __future__ import annotations

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
    RESERVATION_WORK,
    AllocateBackorders,
    ExpireUnpaid,
    ReleaseOrder,
    ReserveOrder,
)
from fulfillment.errors import OrderNotFound
from fulfillment.reservation import Reservations
from pydantic import ValidationError

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def reservations() -> Reservations:
    return Reservations(settings())


def record_handler(record: SQSRecord) -> None:
    try:
        work = RESERVATION_WORK.validate_json(record.body)
    except ValidationError as exc:
        reason = "; ".join(f"{e['field']}: {e['problem']}" for e in field_errors(exc))
        _quarantine(record, f"malformed message: {reason}")
        return
    try:
        if isinstance(work, ReserveOrder):
            outcome = reservations().reserve(work.order_id)
        elif isinstance(work, ReleaseOrder):
            outcome = reservations().release(work.order_id)
        elif isinstance(work, ExpireUnpaid):
            outcome = reservations().expire_unpaid(work.order_id, expire_after=int(os.environ["UNPAID_EXPIRY_SECONDS"]))
        else:
            assert isinstance(work, AllocateBackorders)
            units = reservations().allocate_backorders(work.sku)
            outcome = f"served {units} backordered units"
            if units:
                metrics.add_metric(name="BackorderedUnitsAllocated", unit=MetricUnit.Count, value=units)
    except OrderNotFound as exc:
        _quarantine(record, f"order not found: {exc}")
        return
    logger.info("work done", type=work.type, outcome=outcome, order_id=getattr(work, "order_id", None))
    if outcome == "killed":
        metrics.add_metric(name="StockReservationFailed", unit=MetricUnit.Count, value=1)


def _quarantine(record: SQSRecord, reason: str) -> None:
    logger.warning("message quarantined", message_id=record.message_id, reason=reason)
    metrics.add_metric(name="MessagesQuarantined", unit=MetricUnit.Count, value=1)
    messaging.quarantine(os.environ["RESERVATION_DLQ_URL"], record.body, reason, source="ReservationQueue")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
