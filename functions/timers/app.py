"""Timers, every minute: due shipment timers (sparse, sharded GSI2), and a sweep for stalled work.

Unpaid orders past `UNPAID_EXPIRY_SECONDS` are queued for expiry (cancelled, their stock released).
The sweep also re-queues work whose trigger may have been lost (a stream batch that exhausted its retries):
orders still `received` or `reserved` long after they were created, and shipments still `pending`.
Every work message is idempotent, so sweeping something that was merely slow costs one no-op.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment.adapters import messaging
from fulfillment.adapters.order_store import OrderStore
from fulfillment.adapters.shipment_store import ShipmentStore
from fulfillment.config import settings
from fulfillment.contracts.messages import (
    CheckShipmentTimer,
    DispatchOrder,
    ExpireUnpaid,
    ReserveOrder,
    SubmitShipment,
)

logger = Logger()
metrics = Metrics()
SWEEP_LIMIT = 50


def sweep(now: datetime) -> int:
    cutoff = (now - timedelta(seconds=int(os.environ.get("SWEEP_AFTER_SECONDS", "600")))).isoformat()
    orders, shipments = OrderStore(), ShipmentStore()
    dispatch_queue, reservation_queue = os.environ["DISPATCH_QUEUE_URL"], os.environ["RESERVATION_QUEUE_URL"]
    requeued = 0
    for order_id in orders.created_before("received", cutoff, SWEEP_LIMIT):
        messaging.send(reservation_queue, ReserveOrder(order_id=order_id))
        requeued += 1
    for order_id in orders.created_before("reserved", cutoff, SWEEP_LIMIT):
        messaging.send(dispatch_queue, DispatchOrder(order_id=order_id))
        requeued += 1
    # Orders held since before the unpaid expiry may be awaiting payment too long: the consumer checks the hold.
    expiry_cutoff = (now - timedelta(seconds=int(os.environ.get("UNPAID_EXPIRY_SECONDS", "259200")))).isoformat()
    for order_id in orders.created_before("on_hold", expiry_cutoff, SWEEP_LIMIT):
        messaging.send(reservation_queue, ExpireUnpaid(order_id=order_id))
        requeued += 1
    for location in settings().locations:
        for shipment_id in shipments.created_before(location.id, "pending", cutoff, SWEEP_LIMIT):
            messaging.send(dispatch_queue, SubmitShipment(shipment_id=shipment_id))
            requeued += 1
    return requeued


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    now = datetime.now(UTC)
    due = ShipmentStore().due(now.isoformat(timespec="microseconds"))
    for shipment_id in due:
        messaging.send(os.environ["DISPATCH_QUEUE_URL"], CheckShipmentTimer(shipment_id=shipment_id))
    swept = sweep(now)
    if due:
        metrics.add_metric(name="ShipmentTimersDue", unit=MetricUnit.Count, value=len(due))
    if swept:
        metrics.add_metric(name="StalledWorkRequeued", unit=MetricUnit.Count, value=swept)
        logger.warning("stalled work re-queued", count=swept)
    return {"due": len(due), "swept": swept}
