"""The one module that knows how items are keyed in the single table (docs/data-model.md).

No other module builds a PK/SK string.
"""

from __future__ import annotations

import hashlib

Key = dict[str, str]

ORDER_SK = "ORDER"
ORDER_DETAIL_SK = "ORDER#DETAIL"  # sorts right after ORDER: one Query BETWEEN them reads both
ORDER_DETAIL_END = "ORDER#DETAIL#~"  # after every part of the detail, before ORDER#DL# (entitlements)
CATALOG_SK = "CATALOG"
TIMELINE_PREFIX = "TL#"
SHIPMENT_EVENT_PREFIX = "EV#"
LOCATION_PREFIX = "LOC#"
ADJUSTMENT_PREFIX = "ADJ#"
SHIPMENT_PREFIX = "SHIP#"
ENTITLEMENT_PREFIX = "ORDER#DL#"  # after ORDER#DETAIL: the order's state read (BETWEEN them) never sees downloads
RMA_PREFIX = "ORDER#RMA#"  # after the entitlements, before SHIP#: the returns read takes order..shipments
STATUS_INDEX = "GSI1"
TIMER_INDEX = "GSI2"
ORDER_LIST_INDEX = "GSI2"  # overloaded: the timers' keys and the list of every order never share a partition
TIMER_SHARDS = 4
# Status lists spread over this many index partitions: each order's entries always in the shard of its id. One
# partition of an index takes ~1,000 write units a second and an order's status change costs its list two (the
# old entry out, the new one in), so one partition per status capped the shop near 500 orders/s; 8 carry ~4,000
# (docs/operations.md, capacity). Shard 0 keeps the unsharded key of earlier versions. Never lower it.
STATUS_SHARDS = 8
# The statuses with lists of their own in GSI1: where an order waits (for stock, payment, a person, the sweep) or
# stops (cancelled). An order on its way - dispatched, shipped, delivered: most orders, most of their life - has no
# entry there, so the steps that carry it cost the index nothing (an entry that changes lists costs two writes);
# those statuses are read from the list of every order (GSI2, written once at intake), filtered by status.
LISTED_STATUSES = frozenset({"received", "reserved", "backordered", "partially_shipped", "on_hold", "cancelled"})


def order_key(order_id: str) -> Key:
    return {"PK": f"ORDER#{order_id}", "SK": ORDER_SK}


def order_detail_key(order_id: str, part: int = 1) -> Key:
    """What an order says and never changes much (customer, address, prices, titles): written at intake. An order
    too big for one item (DynamoDB's 400 KB) continues in parts 2, 3, ... (`ORDER#DETAIL#02`), read with it."""
    return {"PK": f"ORDER#{order_id}", "SK": ORDER_DETAIL_SK if part == 1 else f"{ORDER_DETAIL_SK}#{part:02d}"}


def order_partition(order_id: str) -> str:
    return f"ORDER#{order_id}"


def order_id_from_pk(pk: str) -> str:
    return pk.removeprefix("ORDER#")


def timeline_key(order_id: str, at: str, source: str, version: int) -> Key:
    """The timeline entries of one change: chronological by the time of the change, deterministic (the change's
    aggregate and version), so the router can write it again after a retry without making a second one."""
    return {"PK": order_partition(order_id), "SK": f"{TIMELINE_PREFIX}{at}#{source}:{version:08d}"}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def shipment_event_key(shipment_id: str, source: str, message_id: str) -> Key:
    """What a provider/carrier/operator said about a shipment, keyed by the message that said it: storing it
    is the message's exactly-once marker. Message ids are hashed (they are the sender's, of any length)."""
    return {
        "PK": order_partition(order_id_of_shipment(shipment_id)),
        "SK": f"{SHIPMENT_EVENT_PREFIX}{shipment_id}#{_digest(source, message_id)}",
    }


def shipment_events_prefix(shipment_id: str) -> str:
    return f"{SHIPMENT_EVENT_PREFIX}{shipment_id}#"


def entitlement_id_for(order_id: str, line_no: int) -> str:
    """A digital line's download entitlement: one per line, its id embeds the order id (like shipment ids)."""
    return f"{order_id}.d{line_no:02d}"


def order_id_of_entitlement(entitlement_id: str) -> str:
    return entitlement_id.rsplit(".", 1)[0]


def entitlement_key(entitlement_id: str) -> Key:
    return {
        "PK": order_partition(order_id_of_entitlement(entitlement_id)),
        "SK": f"{ENTITLEMENT_PREFIX}{entitlement_id}",
    }


def rma_id_for(order_id: str, seq: int) -> str:
    """Return authorisations are numbered per order; the id embeds the order id (like shipments)."""
    return f"{order_id}.r{seq:02d}"


def order_id_of_rma(rma_id: str) -> str:
    return rma_id.rsplit(".", 1)[0]


def rma_key(rma_id: str) -> Key:
    return {"PK": order_partition(order_id_of_rma(rma_id)), "SK": f"{RMA_PREFIX}{rma_id}"}


def catalog_key(sku: str) -> Key:
    return {"PK": f"SKU#{sku}", "SK": CATALOG_SK}


def stock_key(sku: str, location: str, shard: int = 0) -> Key:
    """A SKU's stock at a location; a sharded level's other items (shard 1..n-1) each have a partition of their
    own, so a flash sale's reservations spread over partitions (DynamoDB serves ~1,000 writes/s per partition)."""
    if shard:
        return {"PK": f"SKU#{sku}#{shard}", "SK": f"{LOCATION_PREFIX}{location}"}
    return {"PK": f"SKU#{sku}", "SK": f"{LOCATION_PREFIX}{location}"}


def sku_from_pk(pk: str) -> str:
    return pk.removeprefix("SKU#")


def location_from_sk(sk: str) -> str:
    return sk.removeprefix(LOCATION_PREFIX)


def adjustment_key(sku: str, location: str, adjustment_id: str) -> Key:
    return {"PK": f"SKU#{sku}", "SK": f"{ADJUSTMENT_PREFIX}{location}#{adjustment_id}"}


def backorder_partition(sku: str) -> str:
    return f"BACKORDER#{sku}"


def backorder_key(sku: str, queued_at: str, order_id: str, line_no: int) -> Key:
    """FIFO queue per SKU: the sort key starts with the time the line started waiting."""
    return {"PK": backorder_partition(sku), "SK": f"{queued_at}#{order_id}#{line_no:04d}"}


def status_shard(order_id: str) -> int:
    return int(hashlib.sha256(order_id.encode()).hexdigest()[:8], 16) % STATUS_SHARDS


def status_index_keys(status: str, created_at: str, order_id: str) -> dict[str, str]:
    """GSI1: orders by status, newest first (GET /orders?status=), one list per (status, shard); none for a status
    that is not listed (the order leaves the index: its item is written without them)."""
    if status not in LISTED_STATUSES:
        return {}
    return {"GSI1PK": status_index_partition(status, status_shard(order_id)), "GSI1SK": f"{created_at}#{order_id}"}


def order_list_keys(created_at: str, order_id: str) -> dict[str, str]:
    """GSI2 (keys only): every order, newest first, in the shard of its id. The keys never change, so an order pays
    this index once, at intake."""
    return {"GSI2PK": f"ORDERS#{status_shard(order_id)}", "GSI2SK": f"{created_at}#{order_id}"}


def order_list_partitions() -> list[str]:
    return [f"ORDERS#{shard}" for shard in range(STATUS_SHARDS)]


def status_index_partition(status: str, shard: int = 0) -> str:
    return f"ORDERS#STATUS#{status}" + (f"#{shard}" if shard else "")


def status_index_partitions(status: str) -> list[str]:
    return [status_index_partition(status, shard) for shard in range(STATUS_SHARDS)]


def shipment_id_for(order_id: str, seq: int) -> str:
    """Shipment ids embed their order id, so a 3PL's shipment_id finds the order partition."""
    return f"{order_id}.{seq:03d}"


def order_id_of_shipment(shipment_id: str) -> str:
    return shipment_id.rsplit(".", 1)[0]


def shipment_key(shipment_id: str) -> Key:
    return {"PK": order_partition(order_id_of_shipment(shipment_id)), "SK": f"{SHIPMENT_PREFIX}{shipment_id}"}


def picklist_index_keys(location: str, status: str, created_at: str, shipment_id: str) -> dict[str, str]:
    """GSI1 on shipment items: a location's shipments by status (the in-house pick list)."""
    return {"GSI1PK": f"SHIPMENTS#{location}#{status}", "GSI1SK": f"{created_at}#{shipment_id}"}


def picklist_partition(location: str, status: str) -> str:
    return f"SHIPMENTS#{location}#{status}"


def timer_keys(shipment_id: str, due_at: str) -> dict[str, str]:
    """GSI2 (sparse, sharded): a shipment's next due check. Removing the attributes cancels it."""
    shard = int(hashlib.sha256(shipment_id.encode()).hexdigest(), 16) % TIMER_SHARDS
    # The sort key is the due time alone (index keys need not be unique; the entry carries the shipment's own keys),
    # and the shipment item keeps no other copy of it: a shipment is rewritten at every message, and it stays
    # under 1 KB (one write unit) more often without the two copies.
    return {"GSI2PK": f"TIMERS#{shard}", "GSI2SK": due_at}


def timer_due(index_sort_key: str) -> str:
    """The due time of a timer index entry (entries of earlier versions end with `#{shipment_id}`)."""
    return index_sort_key.split("#", 1)[0]


def shipment_id_of_key(sort_key: str) -> str:
    return sort_key.removeprefix(SHIPMENT_PREFIX)


def timer_partitions() -> list[str]:
    return [f"TIMERS#{n}" for n in range(TIMER_SHARDS)]


def tracking_key(carrier: str, tracking_number: str) -> Key:
    """(carrier, tracking number) -> shipment: carriers recycle numbers, so the carrier is part of the key."""
    return {"PK": f"TRACK#{carrier}#{tracking_number}", "SK": "TRACK"}


KEPT_UPDATE_PREFIX = "early_"


def kept_update_attribute(event_id: str) -> str:
    """The attribute of a tracking pointer item that keeps one carrier update, by the update's id."""
    return f"{KEPT_UPDATE_PREFIX}{_digest(event_id)[:16]}"


def message_key(source: str, message_id: str) -> Key:
    """Marks a message that is not about one shipment as applied (written in the same transaction as its effect)."""
    return {"PK": f"MSG#{source}#{_digest(message_id)}", "SK": "MSG"}


def platform_order_key(channel: str, platform_id: str) -> Key:
    """Claims a storefront's own global order id (Shopify's order id, WooCommerce's order_key) for one order: an
    order signed by a secret that does not prove its shop cannot be created twice under two shop headers."""
    return {"PK": f"PLATFORM#{channel}#{_digest(platform_id)}", "SK": "PLATFORM"}


def sweep_cursor_key(status: str, shard: int = 0) -> Key:
    """Where the sweep of stalled orders in one status list got to (it pages through them, a page per run)."""
    return {"PK": f"SWEEP#{status}" + (f"#{shard}" if shard else ""), "SK": "SWEEP"}


def status_index_position(sort_key: str, status: str) -> dict[str, str]:
    """The ExclusiveStartKey of a status-index Query that continues after the entry with GSI1SK `sort_key`."""
    order_id = sort_key.rpartition("#")[2]
    return {**order_key(order_id), "GSI1PK": status_index_partition(status, status_shard(order_id)), "GSI1SK": sort_key}
