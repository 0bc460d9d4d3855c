"""The event router's decisions: which table changes become work messages, history and customer events.

Pure: takes a stream record's old and new images (plain Python values), decodes them with the same codecs the
services use, and asks the same aggregate predicates (`Order.undispatched`, ...). Only the router reads the stream.

An order or shipment item carries the timeline entries of the change that wrote it (`changes`), and a shipment
item the message it applied (`heard`). The router turns them into timeline items and shipment event items
(idempotent: the keys are the change's and the message's) and customer events (stable ids), so a change costs
one conditional write on the request path, and history is written once, in batches, off it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from fulfillment import keys
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.adapters.codecs import shipment as shipment_codec
from fulfillment.adapters.codecs import stock as stock_codec
from fulfillment.contracts.common import json_default
from fulfillment.contracts.messages import (
    RESERVE_HINT_SKUS,
    AllocateBackorders,
    CancelOrderShipments,
    DispatchOrder,
    ExpectReturn,
    IssueDownloads,
    RebalanceStock,
    ReleaseOrder,
    ReserveOrder,
    RevokeDownloads,
)
from fulfillment.domain.events import EVENT_SOURCE, CustomerEvent, event_id
from fulfillment.domain.model import WorkState

Item = dict[str, Any]


@dataclass
class Routed:
    messages: list[BaseModel] = field(default_factory=list)  # work for the reservation queue
    dispatch: list[BaseModel] = field(default_factory=list)  # work for the dispatch queue
    digital: list[BaseModel] = field(default_factory=list)  # work for the digital delivery queue
    history: list[Item] = field(default_factory=list)  # timeline items to write
    events: list[dict[str, Any]] = field(default_factory=list)  # customer events (EventBridge entries' Detail)
    stock: list[stock_codec.StockChange] = field(default_factory=list)  # to count into the SKU's available total


def _new_version(new: Item, old: Item | None) -> bool:
    return old is None or int(old.get("version", 0)) != int(new.get("version", 0))


def _history(routed: Routed, order_id: str, at: str, source: str, new: Item, old: Item | None) -> None:
    if not new.get("changes") or not _new_version(new, old):
        return
    item = order_codec.timeline_item(order_id, at, source, int(new.get("version", 0)), list(new["changes"]))
    if not (old is None and new.get(order_codec.TIMELINE_ON_DETAIL)):  # a new order's detail carries it
        routed.history.append(item)
    routed.events += [customer_event(order_id, e) for e in order_codec.timeline_entries(item) if e.get("event")]


def route(sk: str, new: Item | None, old: Item | None, sequence: str = "") -> Routed:
    """`sequence`: the stream record's sequence number (the occurrence of events that have no order)."""
    routed = Routed()
    if new is None:
        return routed
    if sk == keys.ORDER_SK:
        order, before = order_codec.from_item(new), order_codec.from_item(old) if old else None
        if order.reservation_state is WorkState.PENDING and (
            before is None or before.reservation_state is not WorkState.PENDING
        ):
            skus = sorted({ln.sku for ln in order.lines if ln.needs_stock and ln.sku})
            routed.messages.append(
                ReserveOrder(order_id=order.order_id, skus=tuple(skus) if len(skus) <= RESERVE_HINT_SKUS else ())
            )
        if order.release_state is WorkState.PENDING and (
            before is None or before.release_state is not WorkState.PENDING
        ):
            routed.messages.append(ReleaseOrder(order_id=order.order_id))
        if order.undispatched > (before.undispatched if before else 0):
            routed.dispatch.append(DispatchOrder(order_id=order.order_id))
        if order.cancelled and not (before and before.cancelled) and order.shipment_seq:
            routed.dispatch.append(CancelOrderShipments(order_id=order.order_id))
        if _new_version(new, old):
            routed.dispatch += [
                ExpectReturn(rma_id=str(entry.detail["rma_id"]))
                for entry in order.changes
                if entry.type == "return_authorized"
            ]
        if order.digital_due and not (before and before.digital_due):
            routed.digital.append(IssueDownloads(order_id=order.order_id))
        if order.cancelled and not (before and before.cancelled) and order.downloads_issued:
            routed.digital.append(RevokeDownloads(order_id=order.order_id, reason="order_cancelled"))
        _history(routed, order.order_id, order.updated_at, "o", new, old)
    elif sk.startswith(keys.SHIPMENT_PREFIX):
        at = str(new.get("updated_at") or new.get("created_at"))
        _history(routed, new["order_id"], at, new["shipment_id"], new, old)
        heard = shipment_codec.heard_event_item(new) if _new_version(new, old) else None
        if heard is not None:  # the message the write applied becomes the shipment's event item
            routed.history.append(heard)
    elif sk == keys.CATALOG_SK:
        # A backorder was queued: stock that arrived while it was being queued must not sit idle.
        if int(new.get("backordered_units", 0)) > int((old or {}).get("backordered_units", 0)):
            routed.messages.append(AllocateBackorders(sku=new["sku"]))
        low = low_stock(new, old, sequence)
        if low is not None:
            routed.events.append(low)
    elif sk.startswith(keys.LOCATION_PREFIX):
        rose = int(new.get("available", 0)) > int((old or {}).get("available", 0))
        if rose and not new.get("shard"):  # backorders are served from a level's base item
            routed.messages.append(AllocateBackorders(sku=new["sku"]))
        if _rebalance_due(new, old, rose):
            routed.messages.append(RebalanceStock(sku=new["sku"], location=new["location"]))
        change = stock_codec.stock_change(new, old)
        if change is not None:
            routed.stock.append(change)
    return routed


def _rebalance_due(new: Item, old: Item | None, rose: bool) -> bool:
    """A sharded level's units should be spread again: one of its shard items ran dry (reservations keep taking from
    the others until then), or units came back to its base item (a release, a receipt, a return)."""
    if int(new.get("transfers", 0)) != int((old or {}).get("transfers", 0)):
        return False  # the rebalancer's own write
    if new.get("shard"):
        return int(new.get("available", 0)) <= 0 < int((old or {}).get("available", 0))
    return rose and int(new.get("shards", 1)) > 1


def distinct(work: list[tuple[int, BaseModel]]) -> list[tuple[int, BaseModel]]:
    """A batch's work messages, each per-SKU one once (`allocate_backorders` for a SKU, `rebalance_stock` for a
    level: idempotent, and a flash sale's batch may hold dozens of the same), kept at its earliest record."""
    seen: set[tuple[str, ...]] = set()
    kept: list[tuple[int, BaseModel]] = []
    for n, message in work:
        if isinstance(message, AllocateBackorders | RebalanceStock):
            key = (message.type, message.sku, getattr(message, "location", ""))
            if key in seen:
                continue
            seen.add(key)
        kept.append((n, message))
    return kept


def fold_history(history: list[tuple[int, Item]]) -> list[tuple[int, Item]]:
    """The history items of one batch of records, `(record index, item)`, with every timeline item carried by one
    other history item of its order: a shipment's event item when the batch has one (the message and the order's
    change it caused usually commit together), else the order's first timeline item. Event items stay one per
    message (a message older than the shipment's memory is looked up by its key). A folded item belongs to the
    earliest record it holds, so a failed write retries from there. Keys stay the change's: a retried batch that
    folds differently writes a timeline item twice, once on its own and once carried, and readers take it once
    (`order_codec.timeline_items`)."""
    hosts: dict[str, int] = {}  # order partition -> position of its host in `folded`
    folded: list[tuple[int, Item]] = []
    for n, item in history:
        if not order_codec.is_timeline(item):
            if shipment_codec.is_shipment_event(item) and item["PK"] not in hosts:
                hosts[item["PK"]] = len(folded)
            folded.append((n, item))
    for n, item in history:
        if not order_codec.is_timeline(item):
            continue
        at = hosts.get(item["PK"])
        if at is None:
            hosts[item["PK"]] = len(folded)
            folded.append((n, item))
            continue
        owner, host = folded[at]
        folded[at] = (min(owner, n), order_codec.fold_timeline(host, item))
    return folded


def low_stock(new: Item, old: Item | None, sequence: str) -> dict[str, Any] | None:
    """LowStock once per crossing: the SKU's units available over all its locations (kept on the catalog item; the
    router counts every stock item's changes into it once, a batch at a time, so racing reservations cross once)
    fell below its reorder point. Rising back to it re-arms the alert: the next fall is a new crossing. A dip and a
    recovery counted in one batch (about a second) are no crossing."""
    point = int(new.get("reorder_point") or 0)
    if not point or old is None or "available_total" not in new:
        return None
    before, after = int(old.get("available_total", 0)), int(new.get("available_total", 0))
    if not before >= point > after:
        return None
    return {
        "event_id": event_id(new["sku"], CustomerEvent.LOW_STOCK.value, sequence or after),
        "type": CustomerEvent.LOW_STOCK.value,
        "order_id": None,
        "occurred_at": new.get("stock_changed_at") or new.get("updated_at"),
        "detail": {"sku": new["sku"], "available": after, "reorder_point": point},
    }


def customer_event(order_id: str, entry: Item) -> dict[str, Any]:
    """The Detail of a customer event: its stable id, the order, when, and the entry's detail."""
    return {
        "event_id": entry["event_id"],
        "type": entry["event"],
        "order_id": order_id,
        "occurred_at": entry["at"],
        "detail": entry.get("detail") or {},
    }


def event_entry(detail: dict[str, Any], bus_name: str) -> dict[str, Any]:
    return {
        "Source": EVENT_SOURCE,
        "DetailType": detail["type"],
        "Detail": json.dumps(detail, default=json_default),
        "EventBusName": bus_name,
        "Resources": [],
    }


def needs_status_url(detail: dict[str, Any]) -> bool:
    return bool(detail["type"] == CustomerEvent.ORDER_RECEIVED.value)


def needs_download_urls(detail: dict[str, Any]) -> bool:
    """DownloadReady carries links; the change recorded only what they are (entitlement, link version)."""
    return bool(detail["type"] == CustomerEvent.DOWNLOAD_READY.value)
