"""The order's two items and the timeline items made from its changes.

An order is stored as its **state** (SK `ORDER`: status, holds, lines' counters and allocations, work states, the
change's entries) — rewritten at every step, so kept small — and its **detail** (SK `ORDER#DETAIL`: customer,
address, prices, titles, token and payload hashes) — written at intake and when the storefront changes the address.
Every step pays for the state only. Both decode into one `Order`; a stream image of the state alone decodes with
empty detail (the router needs none of it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from decimal import Decimal
from typing import Any

from fulfillment import keys
from fulfillment.domain.events import CustomerEvent, Entry
from fulfillment.domain.model import Address, Channel, Customer, FillPolicy, Line, LineKind, Order, WorkState

Item = dict[str, Any]
_LINE_COUNTERS = (
    "reserved",
    "dispatched",
    "backordered",
    "shipped",
    "delivered",
    "returned",
    "returning",
    "issued",
)


_LINE_DETAIL = ("title", "source_line_id", "requires_shipping")


def _line_state(line: Line) -> Item:
    item: Item = {
        "line_no": line.line_no,
        "sku": line.sku,
        "quantity": line.quantity,
        "kind": line.kind.value,
        "known": line.known,
    }
    for name in _LINE_COUNTERS:
        if getattr(line, name):
            item[name] = getattr(line, name)
    if line.allocations:
        item["allocations"] = dict(line.allocations)
    return item


def _line_detail(line: Line) -> Item:
    item: Item = {"line_no": line.line_no, "unit_price": str(line.unit_price)}
    for name in _LINE_DETAIL:
        if getattr(line, name) is not None:
            item[name] = getattr(line, name)
    return item


def _line(item: Item, detail: Item) -> Line:
    return Line(
        line_no=int(item["line_no"]),
        sku=item.get("sku"),
        quantity=int(item["quantity"]),
        unit_price=Decimal(detail.get("unit_price") or "0"),
        kind=LineKind(item["kind"]),
        title=detail.get("title"),
        source_line_id=detail.get("source_line_id"),
        known=bool(item.get("known", True)),
        requires_shipping=detail.get("requires_shipping"),
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
    """The state item."""
    status = order.status
    return {
        **keys.order_key(order.order_id),
        **keys.status_index_keys(status.value, order.created_at, order.order_id),
        **keys.order_list_keys(order.created_at, order.order_id),
        "type": "order",
        "order_id": order.order_id,
        "channel": order.channel.value,
        "external_id": order.external_id,
        "lines": [_line_state(line) for line in order.lines],
        "payment_status": order.payment_status,
        "fill_policy": order.fill_policy.value,
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
        "shipment_seq": order.shipment_seq,
        **({"detail_parts": order.detail_parts} if order.detail_parts > 1 else {}),
        **({"downloads_resent_at": order.downloads_resent_at} if order.downloads_resent_at else {}),
        **({"return_seq": order.return_seq} if order.return_seq else {}),
        "changes": [_entry_item(entry) for entry in order.changes],
    }


DETAIL_PART_BYTES = 300_000  # well under DynamoDB's 400 KB item limit


def detail_items(order: Order) -> list[Item]:
    """The detail: one item, or parts of at most ~300 KB each for an order too big for one (1,000 lines with long
    titles). The first part carries everything but lines, and how many parts there are."""
    parts: list[list[Item]] = [[]]
    size = 0
    for line in order.lines:
        entry = _line_detail(line)
        cost = len(json.dumps(entry, default=str)) + 64
        if parts[-1] and size + cost > DETAIL_PART_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(entry)
        size += cost
    first: Item = {
        **keys.order_detail_key(order.order_id),
        "type": "order_detail",
        "order_id": order.order_id,
        "shop": order.shop,
        "name": order.name,
        "currency": order.currency,
        "customer": asdict(order.customer),
        "shipping_address": asdict(order.shipping_address) if order.shipping_address else None,
        "total": str(order.total) if order.total is not None else None,
        "access_token_hash": order.access_token_hash,
        "payload_hash": order.payload_hash,
        "lines": parts[0],
        **({"parts": len(parts)} if len(parts) > 1 else {}),
    }
    rest = [
        {**keys.order_detail_key(order.order_id, n), "type": "order_detail", "order_id": order.order_id, "lines": lines}
        for n, lines in enumerate(parts[1:], start=2)
    ]
    return [first, *rest]


# A new order's state item says its creating change's timeline is carried by its detail item (written with it in
# the same transaction): the event router publishes the change's customer events and writes no timeline item.
TIMELINE_ON_DETAIL = "timeline_on_detail"


def creation_items(order: Order) -> list[Item]:
    """What storing a new order writes: its state item and its detail (parts), the first part carrying the
    timeline of the creating change - the detail is written anyway, so the change's history costs no item."""
    details = detail_items(order)
    state = to_item(replace(order, detail_parts=len(details)))
    if state["changes"]:
        timeline = timeline_item(order.order_id, order.updated_at, "o", order.version, list(state["changes"]))
        carried = {"SK": timeline["SK"], "at": timeline["at"], "entries": timeline["entries"]}
        details[0] = {**details[0], FOLDED: [carried]}
        state[TIMELINE_ON_DETAIL] = True
    return [state, *details]


def detail_update(order: Order) -> tuple[keys.Key, str, dict[str, Any], dict[str, str]]:
    """The first detail part rewritten in place (an UpdateItem: the creating change's timeline it carries stays):
    (key, update expression, values, names)."""
    first = detail_items(order)[0]
    fields = {k: v for k, v in first.items() if k not in ("PK", "SK")}
    names = {f"#a{n}": name for n, name in enumerate(fields)}
    values = {f":v{n}": value for n, value in enumerate(fields.values())}
    expression = "SET " + ", ".join(f"#a{n} = :v{n}" for n in range(len(fields)))
    if "parts" not in fields:
        names["#parts"] = "parts"
        expression += " REMOVE #parts"
    return keys.order_detail_key(order.order_id), expression, values, names


def from_item(item: Item, detail: Item | None = None) -> Order:
    """The order from its state item and, when read with it, its detail item."""
    detail = detail or {}
    address = detail.get("shipping_address")
    line_details = {int(ln["line_no"]): ln for ln in detail.get("lines") or ()}
    return Order(
        order_id=item["order_id"],
        channel=Channel(item["channel"]),
        shop=detail.get("shop", ""),
        external_id=item["external_id"],
        name=detail.get("name"),
        currency=detail.get("currency", ""),
        lines=tuple(_line(line, line_details.get(int(line["line_no"]), {})) for line in item.get("lines", [])),
        customer=Customer(**(detail.get("customer") or {})),
        shipping_address=Address(**address) if address else None,
        payment_status=item.get("payment_status", "pending"),
        fill_policy=FillPolicy(item.get("fill_policy", FillPolicy.SHIP_AVAILABLE.value)),
        total=Decimal(detail["total"]) if detail.get("total") is not None else None,
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
        access_token_hash=detail.get("access_token_hash", ""),
        payload_hash=detail.get("payload_hash", ""),
        shipment_seq=int(item.get("shipment_seq", 0)),
        detail_parts=int(item.get("detail_parts", 1)),
        downloads_resent_at=item.get("downloads_resent_at"),
        return_seq=int(item.get("return_seq", 0)),
        changes=tuple(_entry(e) for e in item.get("changes") or ()),
    )


def from_items(items: list[Item]) -> Order | None:
    """The order among a partition's items (state and every part of the detail), or None."""
    state = next((i for i in items if is_order(i)), None)
    if state is None:
        return None
    parts = sorted((i for i in items if is_detail(i)), key=lambda i: str(i["SK"]))
    if not parts:
        return from_item(state)
    detail = {**parts[0], "lines": [line for part in parts for line in part.get("lines") or ()]}
    return from_item(state, detail)


def is_order(item: Item) -> bool:
    return item.get("SK") == keys.ORDER_SK


def is_detail(item: Item) -> bool:
    sk = str(item.get("SK", ""))
    return sk == keys.ORDER_DETAIL_SK or sk.startswith(keys.ORDER_DETAIL_SK + "#")


def timeline_item(order_id: str, at: str, source: str, version: int, changes: list[Item]) -> Item:
    """The history item of one stored change (`changes` as the stream image holds them): one item per change, not
    per entry, so a step that records "shipment shipped" and "order shipped" writes history once."""
    entries = []
    for raw in changes:
        entry = _entry(raw)
        shown: Item = {"entry": entry.type, "detail": entry.detail}
        event_id = entry.event_id(order_id)
        if event_id is not None and entry.event is not None:
            shown["event"] = entry.event.value
            shown["event_id"] = event_id
        entries.append(shown)
    return {
        **keys.timeline_key(order_id, at, source, version),
        "type": "timeline",
        "order_id": order_id,
        "at": at,
        "entries": entries,
    }


def timeline_entries(item: Item) -> list[Item]:
    """The entries of a timeline item, each with the change's time."""
    return [{"at": item["at"], **entry} for entry in item.get("entries") or ()]


FOLDED = "timelines"  # timeline items carried by another history item of the same order


def is_timeline(item: Item) -> bool:
    return str(item.get("SK", "")).startswith(keys.TIMELINE_PREFIX)


def fold_timeline(host: Item, timeline: Item) -> Item:
    """`host` (a history item of the same order) carrying `timeline` too: one item written instead of two. Every
    written unit is a whole KB, so one item of both sizes never costs more than two items."""
    assert host["PK"] == timeline["PK"], "only history of one order folds together"
    carried = {"SK": timeline["SK"], "at": timeline["at"], "entries": timeline["entries"]}
    return {**host, FOLDED: [*host.get(FOLDED, ()), carried, *timeline.get(FOLDED, ())]}


def timeline_items(items: list[Item]) -> list[Item]:
    """Every timeline item of an order's items, whether written on its own or carried by another history item,
    once each (a retried stream batch may have written one both ways), in key order: time, then change."""
    found: dict[str, Item] = {}
    for item in items:
        if is_timeline(item):
            found.setdefault(str(item["SK"]), item)
        for carried in item.get(FOLDED) or ():
            found.setdefault(str(carried["SK"]), carried)
    return [found[sk] for sk in sorted(found)]
