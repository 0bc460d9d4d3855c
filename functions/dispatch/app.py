"""Dispatch: shipments per location, requests to each provider's own queue, re-sends, cancellations."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import consumer as consumer_module
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.consumer import SqsConsumer
from fulfillment.contracts.messages import (
    DISPATCH_WORK,
    CancelOrderShipments,
    CheckShipmentTimer,
    DispatchOrder,
    ExpectReturn,
)
from fulfillment.services.dispatch import Dispatch

if TYPE_CHECKING:
    from fulfillment.services.returns import Returns
    from fulfillment.services.timers import Timers
    from pydantic import BaseModel

logger = Logger()
metrics = Metrics()


def send_to_provider(provider: str, message: BaseModel) -> None:
    consumer_module.send_to_provider(provider, message, logger, metrics)


@cache
def dispatch() -> Dispatch:
    return Dispatch(settings(), DynamoStore(settings().table_name), send_to_provider)


@cache
def returns() -> Returns:
    from fulfillment.services.returns import Returns  # ExpectReturn messages only

    return Returns(settings(), dispatch().store, send=send_to_provider)


@cache
def timers() -> Timers:
    from fulfillment.services.timers import Timers  # CheckShipmentTimer messages only

    return Timers(settings(), dispatch())


@cache
def consumer() -> SqsConsumer:
    return SqsConsumer(
        queue="DISPATCH",
        source="DispatchQueue",
        parse=DISPATCH_WORK.validate_json,
        routes={
            DispatchOrder: lambda work: f"{dispatch().dispatch(work.order_id)} shipments created",
            CheckShipmentTimer: lambda work: timers().check(work.shipment_id),
            CancelOrderShipments: lambda work: f"{dispatch().cancel_shipments(work.order_id)} shipments stopped",
            ExpectReturn: lambda work: returns().expect(work.rma_id),
        },
        logger=logger,
        metrics=metrics,
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return consumer().handle(event, context)
