"""Provider messages from the shared inbound queue, applied exactly once each (marker per message_id)."""

from __future__ import annotations

from fulfillment.adapters.shipment_store import mark_message
from fulfillment.adapters.stock_store import StockStore
from fulfillment.contracts import provider as p
from fulfillment.domain.shipments import carrier_code
from fulfillment.errors import (
    AlreadyExists,
    ConcurrentModification,
    FulfillmentError,
    InsufficientStock,
    NotFound,
)
from fulfillment.shipping import Shipping, epoch


class NotOwner(FulfillmentError):
    code, status = "not_owner", 403


class Unsupported(FulfillmentError):
    code, status = "unsupported", 422


def apply(message: p._Inbound, shipping: Shipping, stock: StockStore | None = None) -> str:
    marker = mark_message(message.provider, message.message_id, message.type, epoch())
    if isinstance(message, p.InventorySnapshot):
        return reconcile(message, shipping, stock or StockStore())
    if isinstance(message, p.ReturnReceived):
        raise Unsupported("return.received is not handled yet (returns are a later capability)")
    shipment = shipping.shipments.get(message.shipment_id)
    if shipment is None:
        raise NotFound(f"no shipment {message.shipment_id}")
    if shipment.provider != message.provider:
        raise NotOwner(f"provider {message.provider} does not fulfil shipment {message.shipment_id}")
    sent_at = p.iso(message.sent_at)
    match message:
        case p.Accepted():
            return shipping.accepted(message.shipment_id, marker=marker, at=sent_at)
        case p.Rejected():
            return shipping.rejected(message.shipment_id, message.reason, message.message, marker=marker, at=sent_at)
        case p.Shipped():
            lines = [(ln.sku, ln.quantity) for ln in message.lines] if message.lines is not None else None
            carrier = carrier_code(message.carrier)
            outcome = shipping.shipped(
                message.shipment_id, carrier, message.tracking_number, p.iso(message.shipped_at), lines, marker=marker
            )
            shipping.replay_early_updates(carrier, message.tracking_number)
            return outcome
        case p.Tracking():
            return shipping.tracking(
                message.shipment_id,
                message.status,
                p.iso(message.occurred_at),
                description=message.description,
                location=message.location,
                est_delivery=None,
                marker=marker,
            )
        case p.Delivered():
            return shipping.delivered(message.shipment_id, p.iso(message.delivered_at), marker=marker)
        case p.CancellationAccepted():
            return shipping.cancellation_answer(message.shipment_id, True, None, marker=marker, at=sent_at)
        case p.CancellationRejected():
            return shipping.cancellation_answer(message.shipment_id, False, message.message, marker=marker, at=sent_at)
    raise Unsupported(f"unhandled message type {message.type}")


def reconcile(message: p.InventorySnapshot, shipping: Shipping, stock: StockStore) -> str:
    """Set on-hand at the provider's location to what it counted; report what could not be applied.

    Each item's adjustment id derives from the message id, so a redelivered snapshot changes nothing.
    """
    location = shipping.settings.location(message.location)
    if location is None:
        raise NotFound(f"no location {message.location}")
    if location.provider != message.provider:
        raise NotOwner(f"provider {message.provider} does not operate {message.location}")
    drift, refused = 0, []
    as_of = p.iso(message.as_of)
    for item in message.items:
        for _ in range(5):
            current = stock.get(item.sku, message.location)
            if current and current.get("updated_at", "") > as_of:
                refused.append(item.sku)  # stock moved after the count was taken: the count is stale for it
                break
            on_hand = int(current["on_hand"]) if current else 0
            delta = item.on_hand - on_hand
            if delta == 0:
                break
            try:
                stock.adjust(
                    item.sku,
                    message.location,
                    delta=delta,
                    reason="count",
                    adjustment_id=f"snapshot-{message.message_id}-{item.sku}",
                    actor=message.provider,
                    now=as_of,
                    note="inventory.snapshot",
                    expected_on_hand=on_hand if current else None,
                )
                drift += abs(delta)
                break
            except AlreadyExists:
                break
            except ConcurrentModification:
                continue  # moved between our read and our write: read again
            except InsufficientStock:
                refused.append(item.sku)  # would take reserved units: needs a person (or the rejection flow)
                break
    return f"reconciled, drift {drift} units" + (f", refused {refused}" if refused else "")
