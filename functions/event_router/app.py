"""Event router: the table's only stream reader. Changes become work messages and customer events."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import router, tokens
from fulfillment.adapters import messaging
from fulfillment.adapters.secrets import first_secret
from fulfillment.config import settings

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@cache
def token_key() -> str:
    return first_secret("ORDER_TOKEN_SECRET_ARN")


def record_handler(record: DynamoDBRecord) -> None:
    stream = record.dynamodb
    sk = stream.keys["SK"]
    routed = router.route(record.event_name.name if record.event_name else "", sk, stream.new_image, stream.old_image)
    for queue_url, messages in (
        (settings().reservation_queue_url, routed.messages),
        (settings().dispatch_queue_url, routed.dispatch),
    ):
        for message in messages:
            messaging.send(queue_url, message)
            logger.info(
                "work queued",
                type=message.type,
                order_id=getattr(message, "order_id", None),
                shipment_id=getattr(message, "shipment_id", None),
            )
    if routed.events:
        entries = []
        for detail in routed.events:
            if router.needs_status_url(detail):
                token = tokens.token_for(detail["order_id"], token_key())
                detail["status_url"] = f"{settings().public_api_url}/orders/{detail['order_id']}?token={token}"
            entries.append(router.event_entry(detail, settings().event_bus_name))
        messaging.publish(entries)
        for detail in routed.events:
            logger.info(
                "customer event published",
                type=detail["type"],
                event_id=detail["event_id"],
                order_id=detail["order_id"],
            )
            metrics.add_metric(name=detail["type"], unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
