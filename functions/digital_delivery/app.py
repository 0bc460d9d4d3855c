"""Digital delivery: customers' download links (GET/HEAD /downloads/{token}), the customer's resend, operators'
reissue and revoke, and the work queue that grants and revokes entitlements."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import http, snapstart
from fulfillment.adapters.assets import presigned_get, presigner
from fulfillment.adapters.secrets import secret_values
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.errors import DownloadGone, NotFound
from fulfillment.services.downloads import Downloads

if TYPE_CHECKING:
    from fulfillment.consumer import SqsConsumer

# A customer's click (GET/HEAD /downloads/{token}) parses nothing: the work queue's consumer (Powertools' batch
# processor, the message contracts) and the operators' request models (pydantic) are imported by the paths that
# use them, not at a cold start.

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)
admin = http.admin_only(app)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def signing_keys() -> list[str]:
    keys = secret_values("DOWNLOAD_SIGNING")
    if not keys:
        raise RuntimeError("the download signing secret is not configured")
    return keys


@cache
def store() -> DynamoStore:
    return DynamoStore(settings().table_name)


@cache
def downloads() -> Downloads:
    return Downloads(settings(), store(), signing_keys=signing_keys, presign=presigned_get)


# ------------------------------------------------------------------ customers' browsers
@app.exception_handler(NotFound)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def _not_found(exc: NotFound) -> Response[str]:
    metrics.add_metric(name="DownloadsRefused_not_found", unit=MetricUnit.Count, value=1)
    response = http.error_response(exc.status, exc.code, exc.message)
    response.headers.update(NO_STORE)
    return response


@app.exception_handler(DownloadGone)  # type: ignore[untyped-decorator]
def _gone(exc: DownloadGone) -> Response[str]:
    metrics.add_metric(name=f"DownloadsRefused_{exc.code}", unit=MetricUnit.Count, value=1)
    logger.info("download refused", code=exc.code)
    response = http.error_response(exc.status, exc.code, exc.message)
    response.headers.update(NO_STORE)
    return response


@app.get("/downloads/<token>")
def download(token: str) -> Response[str]:
    redirect = downloads().click(token)
    metrics.add_metric(name="DownloadsServed", unit=MetricUnit.Count, value=1)
    logger.info(
        "download served",
        entitlement_id=redirect.entitlement.entitlement_id,
        remaining=redirect.entitlement.downloads_remaining,
    )
    return Response(status_code=302, headers={"Location": redirect.location, **NO_STORE}, body="")


@app.head("/downloads/<token>")
def download_head(token: str) -> Response[str]:
    """Link checkers and mail scanners may look: nothing is counted."""
    entitlement = downloads().peek(token)
    return Response(
        status_code=200,
        headers={**NO_STORE, "X-Downloads-Remaining": str(entitlement.downloads_remaining)},
        body="",
    )


@app.post("/orders/<order_id>/downloads/resend")
def resend(order_id: str) -> Response[str]:
    """The customer (order access token) asks for their links again: DownloadReady with the same links."""
    token, operator = http.order_access(app.current_event, order_id)
    return http.json_response(202, downloads().resend(order_id, token=token, admin=operator))


# ------------------------------------------------------------------ operators
@app.post("/orders/<order_id>/downloads/<entitlement_id>/reissue")
@admin
def reissue(order_id: str, entitlement_id: str) -> Response[str]:
    from fulfillment.contracts.admin import ReissueRequest

    request = http.optional_json_body(app.current_event, ReissueRequest)
    entitlement = downloads().reissue(
        order_id,
        entitlement_id,
        downloads=request.downloads_remaining,
        ttl_seconds=request.link_ttl_seconds,
        by=http.actor(app.current_event),
        idempotency_key=http.idempotency_key(app.current_event),
    )
    logger.info("download reissued", order_id=order_id, entitlement_id=entitlement_id)
    return http.json_response(200, downloads().view(entitlement, http.public_base_url(app.current_event)))


@app.post("/orders/<order_id>/downloads/<entitlement_id>/revoke")
@admin
def revoke(order_id: str, entitlement_id: str) -> Response[str]:
    from fulfillment.contracts.admin import RevokeRequest

    request = http.optional_json_body(app.current_event, RevokeRequest)
    entitlement = downloads().revoke(order_id, entitlement_id, reason=request.reason, by=http.actor(app.current_event))
    logger.info("download revoked", order_id=order_id, entitlement_id=entitlement_id)
    return http.json_response(200, downloads().view(entitlement))


# ------------------------------------------------------------------ work queue
@cache
def consumer() -> SqsConsumer:
    from fulfillment.consumer import SqsConsumer
    from fulfillment.contracts.messages import DIGITAL_WORK, IssueDownloads, RevokeDownloads

    return SqsConsumer(
        queue="DIGITAL",
        source="DigitalQueue",
        parse=DIGITAL_WORK.validate_json,
        routes={
            IssueDownloads: lambda work: downloads().issue(work.order_id),
            RevokeDownloads: lambda work: downloads().revoke_order(work.order_id, work.reason),
        },
        logger=logger,
        metrics=metrics,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return consumer().handle(event, context)
    return app.resolve(event, context)


# SnapStart: see fulfillment.snapstart (`modules`: imported on some paths only, into the snapshot all the same)
snapstart.register(
    clients=("secretsmanager", "sqs"),
    also=(presigner,),
    modules=("fulfillment.consumer", "fulfillment.contracts.messages", "fulfillment.contracts.admin"),
)
