"""The one module that knows how items are keyed in the single table (docs/data-model.md).

No other module builds a PK/SK string.
"""

from __future__ import annotations

Key = dict[str, str]

ORDER_SK = "ORDER"
CATALOG_SK = "CATALOG"
TIMELINE_PREFIX = "TL#"
RESERVATION_PREFIX = "RES#"
LOCATION_PREFIX = "LOC#"
ADJUSTMENT_PREFIX = "ADJ#"
STATUS_INDEX = "GSI1"


def order_key(order_id: str) -> Key:
    return {"PK": f"ORDER#{order_id}", "SK": ORDER_SK}


def order_partition(order_id: str) -> str:
    return f"ORDER#{order_id}"


def order_id_from_pk(pk: str) -> str:
    return pk.removeprefix("ORDER#")


def timeline_key(order_id: str, version: int, seq: int) -> Key:
    """Timeline entries sort by the order version that wrote them: chronological and deterministic."""
    return {"PK": order_partition(order_id), "SK": f"{TIMELINE_PREFIX}{version:08d}#{seq:02d}"}


def reservation_key(order_id: str, line_no: int, location: str) -> Key:
    return {"PK": order_partition(order_id), "SK": f"{RESERVATION_PREFIX}{line_no:04d}#{location}"}


def catalog_key(sku: str) -> Key:
    return {"PK": f"SKU#{sku}", "SK": CATALOG_SK}


def stock_key(sku: str, location: str) -> Key:
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


def status_index_keys(status: str, created_at: str, order_id: str) -> dict[str, str]:
    """GSI1: orders by status, newest first (GET /orders?status=)."""
    return {"GSI1PK": f"ORDERS#STATUS#{status}", "GSI1SK": f"{created_at}#{order_id}"}


def status_index_partition(status: str) -> str:
    return f"ORDERS#STATUS#{status}"
