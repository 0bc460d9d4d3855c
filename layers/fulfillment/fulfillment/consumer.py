"""The one SQS consumer every queue-fed handler uses: parse, quarantine with a reason, dispatch by type, report.

A message that can never succeed (schema violation, unknown order, a sender that may not speak for its provider)
goes straight to the function's DLQ with its reason; contention is raised so SQS redelivers it; everything else
is reported as a partial batch failure by Powertools' batch processor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from fulfillment.adapters import messaging
from fulfillment.config import settings
from fulfillment.contracts.common import field_errors
from fulfillment.errors import ConcurrentModification, FulfillmentError

Route = Callable[[Any], object]


def send_to_provider(provider: str, message: BaseModel, logger: Logger, metrics: Metrics) -> None:
    """A message to a provider's own outbound queue (the settings name one per provider)."""
    from fulfillment.contracts.provider import FulfillmentRequest  # only the senders' paths (dispatch) need it

    queue_url = settings().provider_queues.get(provider)
    if queue_url is None:
        raise RuntimeError(f"no outbound queue configured for provider {provider}")
    messaging.send(queue_url, message)
    if isinstance(message, FulfillmentRequest):
        metrics.add_metric(name="FulfillmentRequestsSent", unit=MetricUnit.Count, value=1)
    logger.info(
        "sent to provider",
        provider=provider,
        type=getattr(message, "type", None),
        shipment_id=getattr(message, "shipment_id", None),
    )


class Quarantined(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SqsConsumer:
    def __init__(
        self,
        *,
        queue: str,  # RESERVATION | DISPATCH | INBOUND (its DLQ comes from the settings)
        source: str,  # the queue's logical id, recorded with a quarantined message
        parse: Callable[[str], BaseModel],
        routes: dict[type, Route],
        logger: Logger,
        metrics: Metrics,
        admit: Callable[[BaseModel, SQSRecord], str | None] | None = None,  # a reason to refuse, or None
    ) -> None:
        self.queue, self.source, self.parse, self.routes = queue, source, parse, routes
        self.logger, self.metrics, self.admit = logger, metrics, admit
        self.processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(self, record: SQSRecord) -> None:
        try:
            message = self._parse(record)
            outcome = self.routes[type(message)](message)
        except Quarantined as exc:
            self.quarantine(record, exc.reason)
            return
        except ConcurrentModification:
            raise  # contention: let SQS redeliver it
        except FulfillmentError as exc:  # unknown order or shipment, wrong provider: never succeeds on retry
            self.quarantine(record, f"{exc.code}: {exc.message}")
            return
        self.logger.info(
            "work done",
            type=getattr(message, "type", type(message).__name__),
            outcome=str(outcome),
            order_id=getattr(message, "order_id", None),
            shipment_id=getattr(message, "shipment_id", None),
        )
        self.metrics.add_metric(name="MessagesProcessed", unit=MetricUnit.Count, value=1)
        if str(outcome) == "duplicate":
            self.metrics.add_metric(name="DuplicateMessages", unit=MetricUnit.Count, value=1)

    def _parse(self, record: SQSRecord) -> BaseModel:
        try:
            message = self.parse(record.body)
        except ValidationError as exc:
            problems = "; ".join(f"{e['field']}: {e['problem']}" for e in field_errors(exc))
            raise Quarantined(f"malformed message: {problems}") from None
        except FulfillmentError as exc:
            raise Quarantined(f"{exc.code}: {exc.message}") from None
        refusal = self.admit(message, record) if self.admit else None
        if refusal:
            raise Quarantined(refusal)
        return message

    def quarantine(self, record: SQSRecord, reason: str) -> None:
        self.logger.warning("message quarantined", message_id=record.message_id, reason=reason)
        self.metrics.add_metric(name="MessagesQuarantined", unit=MetricUnit.Count, value=1)
        dlq = settings().dlq_urls.get(self.queue)
        if dlq is None:
            raise RuntimeError(f"no DLQ configured for {self.queue}")
        messaging.quarantine(dlq, record.body, reason, source=self.source)

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # Powertools types the response as a TypedDict; handlers hand Lambda a plain JSON object.
        return dict(
            process_partial_response(
                event=event, record_handler=self.record_handler, processor=self.processor, context=context
            )
        )
