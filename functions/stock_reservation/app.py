"""Stock reservation: reserve_order, release_order, expire_unpaid, allocate_backorders and rebalance_stock from the
reservation queue."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import consumer as consumer_module
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.consumer import SqsConsumer
from fulfillment.contracts.messages import (
    RESERVATION_WORK,
    AllocateBackorders,
    ExpireUnpaid,
    RebalanceStock,
    ReleaseOrder,
    ReserveOrder,
)
from fulfillment.services.reservation import Reservations
from fulfillment.services.unit import Outcome

if TYPE_CHECKING:
    from fulfillment.services.backorders import Backorders
    from pydantic import BaseModel

logger = Logger()
metrics = Metrics()


def send_to_provider(provider: str, message: BaseModel) -> None:
    consumer_module.send_to_provider(provider, message, logger, metrics)


@cache
def reservations() -> Reservations:
    """An order reserved whole, with nothing blocking it, is dispatched in the same step (services.reservation)."""
    return Reservations(settings(), DynamoStore(settings().table_name), send_to_provider)


@cache
def backorders() -> Backorders:
    from fulfillment.services.backorders import Backorders  # AllocateBackorders messages only

    return Backorders(settings(), DynamoStore(settings().table_name))


def reserve(work: ReserveOrder) -> Outcome:
    outcome = reservations().reserve(work.order_id, work.skus)
    if outcome is Outcome.KILLED:
        metrics.add_metric(name="StockReservationFailed", unit=MetricUnit.Count, value=1)
    return outcome


def allocate(work: AllocateBackorders) -> str:
    units = backorders().allocate(work.sku)
    if units:
        metrics.add_metric(name="BackorderedUnitsAllocated", unit=MetricUnit.Count, value=units)
    return f"served {units} backordered units"


def rebalance(work: RebalanceStock) -> str:
    from fulfillment.services.inventory import rebalance as spread  # RebalanceStock messages only

    return f"moved {spread(DynamoStore(settings().table_name), work.sku, work.location)} units"


@cache
def consumer() -> SqsConsumer:
    return SqsConsumer(
        queue="RESERVATION",
        source="ReservationQueue",
        parse=RESERVATION_WORK.validate_json,
        routes={
            ReserveOrder: reserve,
            ReleaseOrder: lambda work: reservations().release(work.order_id),
            ExpireUnpaid: lambda work: reservations().expire_unpaid(work.order_id),
            AllocateBackorders: allocate,
            RebalanceStock: rebalance,
        },
        logger=logger,
        metrics=metrics,
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return consumer().handle(event, context)
