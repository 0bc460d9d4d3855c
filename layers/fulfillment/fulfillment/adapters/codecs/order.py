"""The order item (PK ORDER#id, SK ORDER) and the timeline items made from its changes."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from fulfillment import keys
from fulfillment.domain.events import CustomerEvent, Entry
from fulfillment.domain.model import Address, Channel, Customer, FillPolicy, Line, LineKind, Order, WorkState

Item = dict[str, Any]
_LINE_COUNTERS = ("reserved", "dispatched", "backordered", "shipped", "delivered", "returned", "issued")


def _line_item(line: Line) -> Item:
    item: Item = {
        "line_no": line.line_no,
        "sku": line.sku,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price),
        "kind": line.kind.value,
        "known": line.known,
    }
    for name in ("title", "source_line_id", "requires_shipping"):
        if getattr(line, name) is not None:
            item[name] = getattr(line, name)
    for name in _LINE_COUNTERS:
        if getattr(line, name):
            item[name] = getattr(line, name)
    if line.allocations:
        item["allocations"] = dict(line.allocations)
    return item


def _line(item: Item) -> Line:
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
        allocations={k: int(v) for k, v in (item.get("allocations") or {}).items()},
        **{name: int(item.get(name, 0)) for name in _LINE_COUNTERS},
    )


def _entry_item(entry: Entry) -> Item:
    item: Item = {"type": entry.type, "detail": entry.detail}
    if entry.event is not None:
        item["event"] = entry.event.value
        item["occurrence"] = entry.occurrence
    return item


def _entry(item: Item) -> Entry:
    event = item.get("event")
    return Entry(
        item["type"],
        dict(item.get("detail") or {}),
        CustomerEvent(event) if event else None,
        item.get("occurrence", ""),
    )


def to_item(order: Order) -> Item:
    status = order.status
    return {
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
        "changes": [_entry_item(entry) for entry in order.changes],
    }


def from_item(item: Item) -> Order:
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
        changes=tuple(_entry(e) for e in item.get("changes") or ()),
    )


def is_order(item: Item) -> bool:
    return item.get("SK") == keys.ORDER_SK


def timeline_items(order_id: str, at: str, source: str, version: int, changes: list[Item]) -> list[Item]:
    """The history items of one stored change (`changes` as the stream image holds them)."""
    items = []
    for seq, raw in enumerate(changes):
        entry = _entry(raw)
        item: Item = {
            **keys.timeline_key(order_id, at, source, version, seq),
            "type": "timeline",
            "order_id": order_id,
            "at": at,
            "entry": entry.type,
            "detail": entry.detail,
        }
        event_id = entry.event_id(order_id)
        if event_id is not None and entry.event is not None:
            item["event"] = entry.event.value
            item["event_id"] = event_id
        items.append(item)
    return items
