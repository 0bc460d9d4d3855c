"""Domain errors. Adapters translate AWS errors into these once; the HTTP layer maps them once."""

from __future__ import annotations

from typing import Any


class FulfillmentError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(FulfillmentError):
    code, status = "bad_request", 400


class Unparseable(FulfillmentError):
    code, status = "unparseable", 400


class UnsupportedTopic(FulfillmentError):
    code, status = "unsupported_topic", 400


class Unauthorized(FulfillmentError):
    code, status = "unauthorized", 401


class NotFound(FulfillmentError):
    code, status = "not_found", 404


class Conflict(FulfillmentError):
    code, status = "conflict", 409


class PayloadTooLarge(FulfillmentError):
    code, status = "payload_too_large", 413


class UnsupportedMediaType(FulfillmentError):
    code, status = "unsupported_media_type", 415


class SchemaViolation(FulfillmentError):
    code, status = "schema_violation", 422


class OrderNotFound(NotFound):
    code = "order_not_found"


class UnknownSku(NotFound):
    code = "unknown_sku"


class UnknownLocation(NotFound):
    code = "unknown_location"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class ConcurrentModification(Conflict):
    """Someone else changed the item between our read and our conditional write: re-read and retry."""

    code = "concurrent_modification"


class OrderCancelled(Conflict):
    """The order was cancelled first: what was asked of it (shipping it in-house, ...) lost the race."""

    code = "order_cancelled"


class AlreadyExists(Conflict):
    code = "already_exists"


class OrderOfAnotherShop(Conflict):
    """A storefront order id already claimed by an order of another shop: the same signed body replayed under
    another shop header."""

    code = "order_of_another_shop"


class AlreadyApplied(Conflict):
    """The message or request that asked for this change was applied before (its marker exists)."""

    code = "already_applied"


class Unsupported(FulfillmentError):
    code, status = "unsupported", 422


class TooManyRequests(FulfillmentError):
    code, status = "too_many_requests", 429


class DownloadGone(FulfillmentError):
    """An authentic download link that no longer works: 410 with the reason as its code."""

    status = 410

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
