"""The event router's decisions: which table changes become work messages and customer events.

Pure: takes a stream record's old and new images (plain Python values) and returns what to send.
Only the router reads the table's stream (DynamoDB advises at most two readers per shard).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fulfillment import keys
from fulfillment.contracts.common import json_default
from fulfillment.contracts.messages import (
    AllocateBackorders,
    CancelOrderShipments,
    DispatchOrder,
    ReleaseOrder,
    ReserveOrder,
    SubmitShipment,
)
from fulfillment.domain.events import EVENT_SOURCE, CustomerEvent


@dataclass
class Routed:
    messages: list[Any] = field(default_factory=list)  # work messages for the reservation queue
    dispatch: list[Any] = field(default_factory=list)  # work messages for the dispatch queue
    events: list[dict] = field(default_factory=list)  # customer events (EventBridge entries' Detail)


def _became(new: dict | None, old: dict | None, attribute: str, value: str) -> bool:
    return bool(new) and new.get(attribute) == value and (not old or old.get(attribute) != value)


def route(event_name: str, sk: str, new: dict | None, old: dict | None) -> Routed:
    routed = Routed()
    if sk == keys.ORDER_SK and new:
        order_id = new["order_id"]
        if _became(new, old, "reservation_state", "pending"):
            routed.messages.append(ReserveOrder(order_id=order_id))
        if _became(new, old, "release_state", "pending"):
            routed.messages.append(ReleaseOrder(order_id=order_id))
        waiting_now, waiting_before = _undispatched(new), _undispatched(old)
        if waiting_now and (not waiting_before or waiting_now > waiting_before):
            routed.dispatch.append(DispatchOrder(order_id=order_id))
        if new.get("cancelled") and not (old or {}).get("cancelled") and int(new.get("shipment_seq", 0)):
            routed.dispatch.append(CancelOrderShipments(order_id=order_id))
    elif sk.startswith(keys.SHIPMENT_PREFIX) and new:
        if new.get("status") == "pending" and (not old or old.get("status") != "pending"):
            routed.dispatch.append(SubmitShipment(shipment_id=new["shipment_id"]))
    elif sk.startswith(keys.TIMELINE_PREFIX) and event_name == "INSERT" and new and new.get("event"):
        routed.events.append(customer_event(new))
    elif sk == keys.CATALOG_SK and new:
        # A backorder was queued: stock that arrived while it was being queued must not sit idle.
        if int(new.get("backordered_units", 0)) > int((old or {}).get("backordered_units", 0)):
            routed.messages.append(AllocateBackorders(sku=new["sku"]))
    elif sk.startswith(keys.LOCATION_PREFIX) and new:
        before = int((old or {}).get("available", 0))
        if int(new.get("available", 0)) > before:
            routed.messages.append(AllocateBackorders(sku=new["sku"]))
    return routed


def customer_event(entry: dict) -> dict:
    """The Detail of a customer event: its stable id, the order, when, and the entry's detail."""
    return {
        "event_id": entry["event_id"],
        "type": entry["event"],
        "order_id": entry["order_id"],
        "occurred_at": entry["at"],
        "detail": entry.get("detail") or {},
    }


def event_entry(detail: dict, bus_name: str) -> dict:
    return {
        "Source": EVENT_SOURCE,
        "DetailType": detail["type"],
        "Detail": json.dumps(detail, default=json_default),
        "EventBusName": bus_name,
        "Resources": [],
    }


def needs_status_url(detail: dict) -> bool:
    return detail["type"] == CustomerEvent.ORDER_RECEIVED.value


def _undispatched(image: dict | None) -> int:
    """Reserved units not yet in a shipment, when nothing blocks dispatch (0 otherwise)."""
    if not image or image.get("cancelled") or image.get("holds"):
        return 0
    return sum(max(int(ln.get("reserved", 0)) - int(ln.get("dispatched", 0)), 0) for ln in image.get("lines", []))
