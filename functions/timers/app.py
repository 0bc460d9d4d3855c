"""Timers, every minute: due shipment timers (sparse, sharded GSI2), and a sweep for stalled work.

Unpaid orders past `UNPAID_EXPIRY_SECONDS` are queued for expiry (cancelled, their stock released). The sweep
(services/sweep.py) pages through orders still `received` or `reserved` long after they were created, re-queues
their due work, and holds for a person the ones that do not move. Every work message is idempotent.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment.adapters import messaging
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.services import timers
from fulfillment.services.sweep import Sweeper
from pydantic import BaseModel

logger = Logger()
metrics = Metrics()


def _send(work: list[tuple[str, BaseModel]]) -> None:
    per_queue: dict[str, list[BaseModel]] = defaultdict(list)
    for queue_url, message in work:
        per_queue[queue_url].append(message)
    for queue_url, messages in per_queue.items():
        failed = messaging.send_batch(queue_url, messages)
        if failed:
            raise RuntimeError(f"{len(failed)} timer messages were not queued")  # the next minute retries them


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    store = DynamoStore(settings().table_name)
    due = timers.due(settings(), store, now)
    sweep = Sweeper(settings(), store).run(now)
    swept = sweep.work
    if sweep.held:
        metrics.add_metric(name="StalledOrdersHeld", unit=MetricUnit.Count, value=len(sweep.held))
        logger.warning("stalled orders held for a person", orders=sweep.held)
    if due and timers.behind(len(due), messaging.depth(str(settings().dispatch_queue_url))):
        # The dispatch function has not caught up with the checks already queued (most of them these same timers):
        # queuing them again would only grow the backlog. They are still due at the next run.
        logger.warning("timer checks deferred: the dispatch queue is behind", due=len(due))
        metrics.add_metric(name="TimerChecksDeferred", unit=MetricUnit.Count, value=len(due))
        due = []
    _send(due + swept)
    if due:
        metrics.add_metric(name="ShipmentTimersDue", unit=MetricUnit.Count, value=len(due))
    if swept:
        metrics.add_metric(name="StalledWorkRequeued", unit=MetricUnit.Count, value=len(swept))
        logger.warning("stalled work re-queued", count=len(swept))
    return {"due": len(due), "swept": len(swept), "held": len(sweep.held)}
