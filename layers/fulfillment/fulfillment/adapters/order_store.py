"""Orders in the single table: the order item, its timeline entries and its reservations.

All of an order's items share one partition (PK = ORDER#id), so the order view is one Query.
Every write of the order item is conditional on the version it read (optimistic locking).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key as K

from fulfillment import keys
from fulfillment.adapters import dynamo
from fulfillment.adapters.aws import table
from fulfillment.domain.events import event_id
from fulfillment.domain.model import (
    Address,
    Channel,
    Customer,
    FillPolicy,
    Line,
    LineKind,
    Order,
    WorkState,
)
from fulfillment.domain.status import aggregate
from fulfillment.domain.timeline import Entry
from fulfillment.errors import AlreadyExists, BadRequest, ConcurrentModification, OrderNotFound

# ------------------------------------------------------------------ codec


def _line_item(line: Line) -> dict:
    item = asdict(line)
    item["kind"] = line.kind.value
    item["unit_price"] = str(line.unit_price)
    return item


def _line(item: dict) -> Line:
    return Line(
        line_no=int(item["line_no"]),
        sku=item.get("sku"),
        quantity=int(item["quantity"]),
        unit_price=Decimal(item.get("unit_price") or "0"),
        kind=LineKind(item["kind"]),
        title=item.get("title"),
        source_line_id=item.get("source_line_id"),
        known=bool(item.get("known", True)),
        requires_shipping=item.get("requires_shipping"),
        reserved=int(item.get("reserved", 0)),
        dispatched=int(item.get("dispatched", 0)),
        backordered=int(item.get("backordered", 0)),
        shipped=int(item.get("shipped", 0)),
        delivered=int(item.get("delivered", 0)),
        returned=int(item.get("returned", 0)),
        allocations={k: int(v) for k, v in (item.get("allocations") or {}).items()},
    )


def to_item(order: Order) -> dict:
    status = aggregate(order)
    item = {
        **keys.order_key(order.order_id),
        **keys.status_index_keys(status.value, order.created_at, order.order_id),
        "type": "order",
        "order_id": order.order_id,
        "channel": order.channel.value,
        "shop": order.shop,
        "external_id": order.external_id,
        "name": order.name,
        "currency": order.currency,
        "lines": [_line_item(line) for line in order.lines],
        "customer": asdict(order.customer),
        "shipping_address": asdict(order.shipping_address) if order.shipping_address else None,
        "payment_status": order.payment_status,
        "fill_policy": order.fill_policy.value,
        "total": str(order.total) if order.total is not None else None,
        "cancelled": order.cancelled,
        "cancel_reason": order.cancel_reason,
        "source_updated_at": order.source_updated_at,
        "holds": order.holds,
        "status": status.value,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "version": order.version,
        "reservation_state": order.reservation_state.value,
        "reservation_cursor": order.reservation_cursor,
        "release_state": order.release_state.value,
        "access_token_hash": order.access_token_hash,
        "payload_hash": order.payload_hash,
        "shipment_seq": order.shipment_seq,
    }
    return item


def from_item(item: dict) -> Order:
    address = item.get("shipping_address")
    return Order(
        order_id=item["order_id"],
        channel=Channel(item["channel"]),
        shop=item["shop"],
        external_id=item["external_id"],
        name=item.get("name"),
        currency=item["currency"],
        lines=tuple(_line(line) for line in item.get("lines", [])),
        customer=Customer(**(item.get("customer") or {})),
        shipping_address=Address(**address) if address else None,
        payment_status=item.get("payment_status", "pending"),
        fill_policy=FillPolicy(item.get("fill_policy", FillPolicy.SHIP_AVAILABLE.value)),
        total=Decimal(item["total"]) if item.get("total") is not None else None,
        cancelled=bool(item.get("cancelled", False)),
        cancel_reason=item.get("cancel_reason"),
        source_updated_at=item.get("source_updated_at"),
        holds={k: dict(v) for k, v in (item.get("holds") or {}).items()},
        created_at=item.get("created_at", ""),
        updated_at=item.get("updated_at", ""),
        version=int(item.get("version", 0)),
        reservation_state=WorkState(item.get("reservation_state", "none")),
        reservation_cursor=int(item.get("reservation_cursor", 0)),
        release_state=WorkState(item.get("release_state", "none")),
        access_token_hash=item.get("access_token_hash", ""),
        payload_hash=item.get("payload_hash", ""),
        shipment_seq=int(item.get("shipment_seq", 0)),
    )


def timeline_items(order: Order, entries: list[Entry]) -> list[dict]:
    """Timeline entries of one change, keyed by the order version the change writes."""
    items = []
    for seq, entry in enumerate(entries):
        item = {
            **keys.timeline_key(order.order_id, order.version, seq),
            "type": "timeline",
            "order_id": order.order_id,
            "at": order.updated_at,
            "entry": entry.type,
            "detail": entry.detail,
        }
        if entry.event is not None:
            item["event"] = entry.event.value
            item["event_id"] = event_id(order.order_id, entry.event.value, entry.occurrence)
        items.append(item)
    return items


# ------------------------------------------------------------------ store


class OrderStore:
    """The order aggregate's repository (DynamoDB)."""

    def create(self, order: Order, entries: list[Entry]) -> None:
        """Store a new order exactly once: the put is conditional on the order id being new."""
        ops = [dynamo.put(to_item(order), condition="attribute_not_exists(PK)")]
        ops += [dynamo.put(item, condition="attribute_not_exists(PK)") for item in timeline_items(order, entries)]
        try:
            dynamo.transact(ops)
        except dynamo.TransactionCancelled as exc:
            if exc.failed(0):
                raise AlreadyExists(f"order {order.order_id} exists") from None
            if exc.conflict:
                raise ConcurrentModification("concurrent write to a new order") from None
            raise

    def save(self, order: Order, *, expected_version: int, entries: list[Entry], extra: list[dynamo.Op] = ()) -> None:
        """Write the order's new state if nobody changed it since `expected_version`."""
        ops = [
            dynamo.put(to_item(order), condition="version = :expected", values={":expected": expected_version}),
            *[dynamo.put(item, condition="attribute_not_exists(PK)") for item in timeline_items(order, entries)],
            *extra,
        ]
        try:
            dynamo.transact(ops)
        except dynamo.TransactionCancelled as exc:
            if exc.failed(0) or exc.conflict:
                raise ConcurrentModification(
                    f"order {order.order_id} changed since version {expected_version}"
                ) from None
            raise

    def get(self, order_id: str) -> Order:
        item = table().get_item(Key=keys.order_key(order_id), ConsistentRead=True).get("Item")
        if item is None:
            raise OrderNotFound(f"no order {order_id}")
        return from_item(item)

    def find(self, order_id: str) -> Order | None:
        try:
            return self.get(order_id)
        except OrderNotFound:
            return None

    def partition(self, order_id: str) -> list[dict]:
        """Every item of the order (order, timeline, reservations, ...), one paginated Query."""
        items: list[dict] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": K("PK").eq(keys.order_partition(order_id))}
        while True:
            page = table().query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def reservations(self, order_id: str) -> list[dict]:
        items: list[dict] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": K("PK").eq(keys.order_partition(order_id))
            & K("SK").begins_with(keys.RESERVATION_PREFIX),
            "ConsistentRead": True,
        }
        while True:
            page = table().query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def created_before(self, status: str, cutoff: str, limit: int) -> list[str]:
        """Ids of orders in `status` created before `cutoff` (the sweep for stalled work), oldest first."""
        response = table().query(
            IndexName=keys.STATUS_INDEX,
            KeyConditionExpression=K("GSI1PK").eq(keys.status_index_partition(status)) & K("GSI1SK").lt(cutoff),
            Limit=limit,
        )
        return [i["order_id"] for i in response.get("Items", [])]

    def list_by_status(self, status: str, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        kwargs: dict[str, Any] = {
            "IndexName": keys.STATUS_INDEX,
            "KeyConditionExpression": K("GSI1PK").eq(keys.status_index_partition(status)),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor, status)
        page = table().query(**kwargs)
        last = page.get("LastEvaluatedKey")
        next_cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        return page.get("Items", []), next_cursor


def _decode_cursor(cursor: str, status: str) -> dict:
    """A cursor is only ever one we handed out for the same status list; anything else is a 400."""
    try:
        start = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise BadRequest("cursor is not one this API returned") from None
    expected = {"PK", "SK", "GSI1PK", "GSI1SK"}
    if (
        not isinstance(start, dict)
        or set(start) != expected
        or not all(isinstance(v, str) for v in start.values())
        or start["GSI1PK"] != keys.status_index_partition(status)
    ):
        raise BadRequest("cursor is not one this API returned for this status")
    return start
