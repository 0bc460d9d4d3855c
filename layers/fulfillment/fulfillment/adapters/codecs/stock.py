"""Catalog (SK CATALOG), stock levels (SK LOC#location), audited adjustments (SK ADJ#...) and backorders."""

from __future__ import annotations

from typing import Any

from fulfillment import keys
from fulfillment.domain.stock import Adjustment, Backorder, CatalogItem, StockLevel

Item = dict[str, Any]


def level_from_item(item: Item | None, sku: str, location: str) -> StockLevel:
    if item is None:
        return StockLevel(sku, location, exists=False)
    return StockLevel(
        sku=sku,
        location=location,
        on_hand=int(item.get("on_hand", 0)),
        reserved=int(item.get("reserved", 0)),
        available=int(item.get("available", 0)),
        shipped=int(item.get("shipped", 0)),
        updated_at=item.get("updated_at"),
    )


def catalog_from_item(item: Item) -> CatalogItem:
    digital = item.get("digital")
    return CatalogItem(
        sku=item["sku"],
        kind=item.get("kind", "physical"),
        title=item.get("title"),
        reorder_point=int(item["reorder_point"]) if item.get("reorder_point") is not None else None,
        dropship_location=item.get("dropship_location"),
        backordered_units=int(item.get("backordered_units", 0)),
        digital=dict(digital) if digital else None,
        raw={k: v for k, v in item.items() if k not in ("PK", "SK", "type")},
    )


def backorder_from_item(item: Item) -> Backorder:
    return Backorder(
        sku=item["sku"],
        queued_at=str(item["SK"]).split("#", 1)[0],
        order_id=item["order_id"],
        line_no=int(item["line_no"]),
        quantity=int(item["quantity"]),
    )


def adjustment_item(adjustment: Adjustment) -> Item:
    return {
        **keys.adjustment_key(adjustment.sku, adjustment.location, adjustment.adjustment_id),
        "type": "adjustment",
        "sku": adjustment.sku,
        "location": adjustment.location,
        "delta": adjustment.delta,
        "reason": adjustment.reason,
        "adjustment_id": adjustment.adjustment_id,
        "actor": adjustment.actor,
        "note": adjustment.note,
        "at": adjustment.at,
    }


def adjustment_from_item(item: Item) -> Adjustment:
    return Adjustment(
        sku=item["sku"],
        location=item["location"],
        delta=int(item["delta"]),
        reason=item["reason"],
        adjustment_id=item["adjustment_id"],
        actor=item.get("actor") or "",
        at=item["at"],
        note=item.get("note"),
    )
