"""Returns: customers (order access token) and operators request returns; operators approve, reject and receive
in-house returns. A 3PL's `return.received` arrives on the inbound queue (TrackingUpdatesFunction)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import http, snapstart
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.contracts.returns import ReceiveRequest, RejectRequest, ReturnRequest
from fulfillment.contracts.views import rma_view
from fulfillment.domain.returns import Disposition
from fulfillment.services.returns import Returns

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)
admin = http.admin_only(app)


@cache
def store() -> DynamoStore:
    return DynamoStore(settings().table_name)


@cache
def returns() -> Returns:
    return Returns(settings(), store())


@app.post("/orders/<order_id>/returns")
def request_return(order_id: str) -> Response[str]:
    event = app.current_event
    token, operator = http.order_access(event, order_id)
    raw = http.raw_body(event)
    http.require_json(event)
    request = http.parse_json_model(ReturnRequest, raw)
    rma, created = returns().request(
        order_id,
        [(line.line_no, line.quantity, line.reason) for line in request.lines],
        note=request.note,
        by="operator" if operator else "customer",
        idempotency_key=http.idempotency_key(event),
        token=token,
    )
    if created:
        metrics.add_metric(name="ReturnsRequested", unit=MetricUnit.Count, value=1)
    logger.info("return requested", order_id=order_id, rma_id=rma.rma_id, status=rma.status.value, new_rma=created)
    return http.json_response(201, rma_view(rma))


@app.post("/returns/<rma_id>/approve")
@admin
def approve(rma_id: str) -> Response[str]:
    return http.json_response(200, rma_view(returns().approve(rma_id, by=http.actor(app.current_event))))


@app.post("/returns/<rma_id>/reject")
@admin
def reject(rma_id: str) -> Response[str]:
    request = http.optional_json_body(app.current_event, RejectRequest)
    rma = returns().reject(rma_id, by=http.actor(app.current_event), reason=request.reason)
    return http.json_response(200, rma_view(rma))


@app.post("/returns/<rma_id>/receive")
@admin
def receive(rma_id: str) -> Response[str]:
    """The in-house warehouse opened the parcel: each line's disposition, applied once per Idempotency-Key."""
    event = app.current_event
    raw = http.raw_body(event)
    http.require_json(event)
    request = http.parse_json_model(ReceiveRequest, raw)
    rma = returns().rma(rma_id)
    skus = {line.line_no: line.sku for line in rma.lines}
    units = [
        (skus.get(ln.line_no, f"line {ln.line_no}"), ln.quantity, Disposition(ln.disposition)) for ln in request.lines
    ]
    key = http.idempotency_key(event) or raw.decode("utf-8", "replace")
    outcome, _ = returns().receive(
        rma_id, units, source="operator", message_id=f"{rma_id}:{key}", by=http.actor(event), provider=None
    )
    return http.json_response(200, {**rma_view(returns().rma(rma_id)), "outcome": outcome.value})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


snapstart.register(clients=("secretsmanager", "sqs"))  # SnapStart: see fulfillment.snapstart
