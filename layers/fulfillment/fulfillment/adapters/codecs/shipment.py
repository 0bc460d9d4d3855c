"""Shipment items (PK ORDER#order, SK SHIP#id), their event items (SK EV#id#...), and tracking pointers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fulfillment import keys
from fulfillment.domain.events import CustomerEvent, Entry
from fulfillment.domain.shipments import (
    TOKEN_CHARS,
    KeptUpdates,
    Shipment,
    ShipmentEvent,
    ShipmentLine,
    ShipmentStatus,
)

Item = dict[str, Any]
_SCALARS = tuple(
    name
    for name in Shipment.__dataclass_fields__
    if name not in ("lines", "status", "attempts", "version", "seen", "request_id", "timer_due")
)


def to_item(shipment: Shipment, changes: tuple[Entry, ...] = (), heard: ShipmentEvent | None = None) -> Item:
    """`heard`: the message this write applies (the event router stores it as the shipment's event item)."""
    item: Item = {
        **keys.shipment_key(shipment.shipment_id),
        "type": "shipment",
        **{name: getattr(shipment, name) for name in _SCALARS if getattr(shipment, name) not in (None, False, "")},
        "status": shipment.status.value,
        "attempts": shipment.attempts,
        "version": shipment.version,
        "lines": [asdict(line) for line in shipment.lines],
    }
    # Small items are cheap items (a write costs a unit per KB): the request id is the shipment id unless a
    # provider was given another, and the remembered tokens are one string.
    if shipment.request_id != shipment.shipment_id:
        item["request_id"] = shipment.request_id
    if shipment.seen:
        item["seen"] = "".join(shipment.seen)
    if heard is not None:
        item["heard"] = {
            "source": heard.source,
            "message_id": heard.message_id[:200],
            "at": heard.at,
            "event": heard.type,
            "detail": {k: v for k, v in heard.detail.items() if v is not None},
        }
    # Sparse index keys: only what a query reads, the in-house pick list; every other shipment stays out of GSI1
    # and costs it nothing.
    if shipment.in_house and shipment.status is ShipmentStatus.ACCEPTED:
        item.update(
            keys.picklist_index_keys(
                shipment.location, shipment.status.value, shipment.created_at, shipment.shipment_id
            )
        )
    if shipment.timer_due:
        item.update(keys.timer_keys(shipment.shipment_id, shipment.timer_due))
    if changes:
        item["changes"] = [
            {
                "type": e.type,
                "detail": e.detail,
                **({"event": e.event.value, "occurrence": e.occurrence} if e.event else {}),
            }
            for e in changes
        ]
    return item


def from_item(item: Item) -> Shipment:
    fields = {name: item[name] for name in _SCALARS if name in item}
    seen = str(item.get("seen", ""))
    return Shipment(
        **fields,
        request_id=str(item.get("request_id") or item["shipment_id"]),
        # the due time is the timer index entry's sort key (items of earlier versions also kept `timer_due`)
        timer_due=item.get("timer_due") or (keys.timer_due(str(item["GSI2SK"])) if "GSI2SK" in item else None),
        seen=tuple(seen[i : i + TOKEN_CHARS] for i in range(0, len(seen), TOKEN_CHARS)),
        status=ShipmentStatus(item["status"]),
        attempts=int(item.get("attempts", 0)),
        version=int(item.get("version", 0)),
        lines=tuple(
            ShipmentLine(
                line_no=int(ln["line_no"]),
                sku=ln["sku"],
                quantity=int(ln["quantity"]),
                shipped=int(ln.get("shipped", 0)),
                delivered=int(ln.get("delivered", 0)),
            )
            for ln in item["lines"]
        ),
    )


def is_shipment(item: Item) -> bool:
    return str(item.get("SK", "")).startswith(keys.SHIPMENT_PREFIX)


def event_to_item(event: ShipmentEvent) -> Item:
    return {
        **keys.shipment_event_key(event.shipment_id, event.source, event.message_id),
        "type": "shipment_event",
        "shipment_id": event.shipment_id,
        "source": event.source,
        "message_id": event.message_id[:200],
        "at": event.at,
        "event": event.type,
        "recorded_at": event.recorded_at,
        "detail": {k: v for k, v in event.detail.items() if v is not None},
    }


def heard_event_item(shipment_item: Item) -> Item | None:
    """The event item of the message a shipment write applied (None when the write applied none)."""
    heard = shipment_item.get("heard")
    if not heard:
        return None
    recorded = {"shipment_id": shipment_item["shipment_id"], "recorded_at": shipment_item.get("updated_at", "")}
    return event_to_item(event_from_item({**heard, **recorded}))


def event_from_item(item: Item) -> ShipmentEvent:
    return ShipmentEvent(
        shipment_id=item["shipment_id"],
        source=item["source"],
        message_id=item["message_id"],
        at=item["at"],
        type=item["event"],
        detail=dict(item.get("detail") or {}),
        recorded_at=item.get("recorded_at", ""),
    )


def is_shipment_event(item: Item) -> bool:
    return str(item.get("SK", "")).startswith(keys.SHIPMENT_EVENT_PREFIX)


# ------------------------------------------------------------------ tracking pointers
# (carrier, tracking number) -> shipment. A carrier update for a number not known yet is kept on the same item
# (`early_<digest of its event id>`, counted in `kept`, and the item expires unless a shipment claims it), so the
# `shipped` step reads the kept updates with the shipment and the order, in the same BatchGetItem.
KEPT = "kept"


@dataclass(frozen=True)
class PointerUpdate:
    """An UpdateItem of a tracking pointer: its expression, condition and placeholders."""

    expression: str
    values: dict[str, Any]
    names: dict[str, str]
    condition: str


def kept_updates(pointer: Item | None) -> KeptUpdates:
    if not pointer:
        return KeptUpdates()
    updates = tuple(dict(v) for k, v in sorted(pointer.items()) if k.startswith(keys.KEPT_UPDATE_PREFIX))
    return KeptUpdates(int(pointer.get(KEPT, 0)), updates)


def point_at(carrier: str, tracking_number: str, shipment_id: str, kept: int) -> PointerUpdate:
    """The pointer to a shipment, if no update was kept on it since `kept` were read (their replay is the
    writer's); kept updates stay, the expiry of an unclaimed number goes."""
    return PointerUpdate(
        "SET shipment_id = :s, carrier = :c, tracking_number = :n, #type = :t REMOVE expires_at",
        {":s": shipment_id, ":c": carrier, ":n": tracking_number, ":t": "tracking", **({":k": kept} if kept else {})},
        {"#type": "type", "#kept": KEPT},
        "#kept = :k" if kept else "attribute_not_exists(#kept)",
    )


def keep_early(carrier: str, tracking_number: str, event_id: str, update: Item, expires_at: int) -> PointerUpdate:
    """Keep an update for a number no shipment claims yet (the condition fails once one does)."""
    return PointerUpdate(
        "SET #u = :u, carrier = :c, tracking_number = :n, #type = :t, expires_at = if_not_exists(expires_at, :x) "
        "ADD #kept :one",
        {":u": update, ":c": carrier, ":n": tracking_number, ":t": "tracking", ":x": expires_at, ":one": 1},
        {"#u": keys.kept_update_attribute(event_id), "#type": "type", "#kept": KEPT},
        "attribute_not_exists(shipment_id)",
    )


def change_entries(item: Item) -> tuple[Entry, ...]:
    return tuple(
        Entry(
            c["type"],
            dict(c.get("detail") or {}),
            CustomerEvent(c["event"]) if c.get("event") else None,
            c.get("occurrence", ""),
        )
        for c in item.get("changes") or ()
    )
