"""The order view (GET /orders/{id}) built from the order's partition."""

from __future__ import annotations

from fulfillment import keys
from fulfillment.adapters.order_store import from_item
from fulfillment.domain.status import aggregate

# Timeline details a customer does not see: fraud rules, provider messages, operator notes.
OPERATOR_ONLY_DETAIL = {
    "hold_placed": ("reason",),
    "shipment_rejected": ("shipment_id", "reason"),
    "cancellation_rejected": ("shipment_id",),
    "cancelled": ("reason",),
}


def _detail_for(entry: dict, admin: bool) -> dict:
    detail = entry.get("detail") or {}
    if admin or entry["entry"] not in OPERATOR_ONLY_DETAIL:
        return detail
    return {k: v for k, v in detail.items() if k in OPERATOR_ONLY_DETAIL[entry["entry"]]}


def order_view(items: list[dict], *, admin: bool = False) -> dict:
    order_item = next(i for i in items if i["SK"] == keys.ORDER_SK)
    order = from_item(order_item)
    timeline = sorted((i for i in items if i["SK"].startswith(keys.TIMELINE_PREFIX)), key=lambda i: i["SK"])
    view = {
        "order_id": order.order_id,
        "channel": order.channel.value,
        "external_id": order.external_id,
        "name": order.name,
        "status": aggregate(order).value,
        "holds": sorted(order.holds),
        "currency": order.currency,
        "payment_status": order.payment_status,
        "fill_policy": order.fill_policy.value,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "lines": [
            {
                "line_no": line.line_no,
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "kind": line.kind.value,
                "known": line.known,
                "reserved": line.reserved,
                "backordered": line.backordered,
                "shipped": line.shipped,
                "delivered": line.delivered,
                "returned": line.returned,
                "allocations": line.allocations,
            }
            for line in order.lines
        ],
        "shipments": [
            {
                "shipment_id": i["shipment_id"],
                "provider": i["provider"],
                "location": i["location"],
                "status": i["status"],
                "carrier": i.get("carrier"),
                "tracking_number": i.get("tracking_number"),
                "lines": [
                    {"sku": ln["sku"], "quantity": ln["quantity"], "shipped": ln.get("shipped", 0)} for ln in i["lines"]
                ],
                "shipped_at": i.get("shipped_at"),
                "delivered_at": i.get("delivered_at"),
                "est_delivery": i.get("est_delivery"),
                "events": i.get("events") or [],
            }
            for i in sorted((i for i in items if i["SK"].startswith(keys.SHIPMENT_PREFIX)), key=lambda i: i["SK"])
        ],
        "downloads": [],
        "returns": [],
        "timeline": [
            {
                "at": t["at"],
                "type": t["entry"],
                "detail": _detail_for(t, admin),
                **({"event": t["event"]} if t.get("event") else {}),
            }
            for t in timeline
        ],
    }
    if admin:
        view["hold_details"] = [{"reason": r, **h} for r, h in sorted(order.holds.items())]
    return view


def stock_view(item: dict | None, sku: str, location: str) -> dict:
    item = item or {}
    return {
        "sku": sku,
        "location": location,
        "on_hand": int(item.get("on_hand", 0)),
        "reserved": int(item.get("reserved", 0)),
        "available": int(item.get("available", 0)),
        "updated_at": item.get("updated_at"),
    }
