"""What every API handler shares: raw bodies, headers, admin auth, and errors mapped in one place."""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from fulfillment import tokens
from fulfillment.adapters.secrets import secret_values
from fulfillment.contracts.encoding import json_default, loads
from fulfillment.errors import (
    BadRequest,
    FulfillmentError,
    OrderNotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)

if TYPE_CHECKING:  # pydantic is imported by the routes that parse a body, not by every request (the order view)
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")
P = ParamSpec("P")
R = TypeVar("R")
MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response[str]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return Response(status_code=status, content_type=JSON, body=json.dumps({"error": error}))


def json_response(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body, default=json_default))


def install_error_handlers(app: APIGatewayRestResolver, logger: Logger) -> None:
    """Domain errors become their documented 4xx; nothing a client sends becomes a 5xx."""

    @app.exception_handler(FulfillmentError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def _domain_error(exc: FulfillmentError) -> Response[str]:
        logger.info("request refused", code=exc.code, status=exc.status)
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.not_found
    def _no_route(exc: Exception) -> Response[str]:
        return error_response(404, "no_route", "no such route")

    app.use(middlewares=[_known_ids])


_ORDER_ID = r"o_[a-z2-7]{24}"
# Path parameters that name one of our own ids: anything else names nothing (and must not reach a key).
PATH_IDS = {
    "order_id": (re.compile(rf"^{_ORDER_ID}$"), "order_not_found"),
    "shipment_id": (re.compile(rf"^{_ORDER_ID}\.\d{{3}}$"), "shipment_not_found"),
    "rma_id": (re.compile(rf"^{_ORDER_ID}\.r\d{{2,}}$"), "rma_not_found"),
    "entitlement_id": (re.compile(rf"^{_ORDER_ID}\.d\d{{2,}}$"), "entitlement_not_found"),
}
MAX_PATH_PARAMETER = 256  # SKUs, locations, download tokens: each route checks its own shape too


def _known_ids(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[str]:
    """404 before any work for a path parameter that cannot be one of ours (a 3,000-character order id would
    otherwise become a key over DynamoDB's limit)."""
    for name, value in (app.current_event.path_parameters or {}).items():
        known = PATH_IDS.get(name)
        if len(value) > MAX_PATH_PARAMETER or (known is not None and not known[0].match(value)):
            code = known[1] if known else "not_found"
            return error_response(404, code, f"no such {name.removesuffix('_id').replace('_', ' ')}")
    return next_middleware(app)


def header(event: APIGatewayProxyEvent, name: str) -> str | None:
    """Case-insensitive header lookup (HTTP/2 lowercases names)."""
    return event.headers.get(name) if event.headers else None


MAX_IDEMPOTENCY_KEY = 128
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


def idempotency_key(event: APIGatewayProxyEvent) -> str | None:
    """The `Idempotency-Key` header: 1-128 printable ASCII characters (it can become part of a key)."""
    value = header(event, "Idempotency-Key")
    if value is None:
        return None
    if len(value) > MAX_IDEMPOTENCY_KEY or not _PRINTABLE.match(value):
        raise BadRequest(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    return value


def raw_body(event: APIGatewayProxyEvent) -> bytes:
    """The exact bytes the client sent: signatures are verified over these, before any parsing."""
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body of {len(raw)} bytes exceeds {MAX_BODY_BYTES}")
    return raw


def require_json(event: APIGatewayProxyEvent) -> None:
    content_type = (header(event, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise UnsupportedMediaType(f"Content-Type must be {JSON}, got {content_type or 'none'}")


def parse_json_model(model: type[M], raw: bytes) -> M:
    from pydantic import ValidationError  # loaded already: `model` is a pydantic model

    from fulfillment.contracts.common import schema_violation

    data = loads(raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise schema_violation(exc) from None


def public_base_url(event: APIGatewayProxyEvent) -> str:
    """The API's public base URL, from the request itself (a function behind the API cannot reference the API in
    its own environment: CloudFormation sees a cycle). `execute-api` hosts carry the stage in the path; a custom
    domain (or the local runtime) does not. API Gateway sets X-Forwarded-Proto."""
    context = event.request_context
    proto = header(event, "X-Forwarded-Proto") or "https"
    domain = context.domain_name or "localhost"
    if domain.endswith(".amazonaws.com"):
        return f"{proto}://{domain}/{context.stage}"
    return f"{proto}://{domain}"


def optional_json_body(event: APIGatewayProxyEvent, model: type[M]) -> M:
    """A body whose every field is optional: an empty body is the model's defaults, anything else must be JSON."""
    raw = raw_body(event)
    if not raw.strip():
        return model()
    require_json(event)
    return parse_json_model(model, raw)


def actor(event: APIGatewayProxyEvent) -> str:
    """Who did it, for the audit trail: the IAM caller, or the admin bearer token."""
    identity = (event.raw_event.get("requestContext") or {}).get("identity") or {}
    return str(identity.get("userArn") or "admin-token")


def bearer_token(event: APIGatewayProxyEvent) -> str | None:
    value = header(event, "Authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_admin(event: APIGatewayProxyEvent) -> bool:
    """IAM-signed requests (API Gateway verified them) or the admin bearer token from Secrets Manager."""
    identity = (event.request_context.raw_event.get("requestContext") or {}).get("identity") or {}
    if identity.get("userArn") or identity.get("caller"):
        return True
    token = bearer_token(event)
    if not token:
        return False
    return any(hmac.compare_digest(token.encode(), s.encode()) for s in secret_values("ADMIN"))


def order_access(event: APIGatewayProxyEvent, order_id: str) -> tuple[str | None, bool]:
    """(the customer's order token, whether the caller is an operator) for a route on one order. A customer's
    token is checked before anything is read, in constant time against the token each key derives: an unknown
    order and someone else's order answer the same 404 in the same time."""
    token = event.get_query_string_value("token") or bearer_token(event)
    if is_admin(event):
        return token, True
    if not tokens.verify(order_id, token, secret_values("ORDER_TOKEN")):
        raise OrderNotFound(f"no order {order_id}")
    return token, False


def admin_only(app: APIGatewayRestResolver) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(route: Callable[P, R]) -> Callable[P, R]:
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            if not is_admin(app.current_event):
                raise Unauthorized("admin credential required")
            return route(*args, **kwargs)

        wrapped.__name__ = route.__name__
        return wrapped

    return decorator
