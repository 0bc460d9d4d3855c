"""Timers: every minute, find shipments whose timer is due (sparse, sharded GSI2) and queue a check."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fulfillment.adapters import messaging
from fulfillment.adapters.shipment_store import ShipmentStore
from fulfillment.contracts.messages import CheckShipmentTimer

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    due = ShipmentStore().due(now)
    for shipment_id in due:
        messaging.send(os.environ["DISPATCH_QUEUE_URL"], CheckShipmentTimer(shipment_id=shipment_id))
    if due:
        metrics.add_metric(name="ShipmentTimersDue", unit=MetricUnit.Count, value=len(due))
        logger.info("timers due", count=len(due))
    return {"due": len(due)}
