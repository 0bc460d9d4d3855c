"""The order view (GET /orders/{id}) built from the order's partition, through the same codecs as everything else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fulfillment.adapters.codecs import entitlement as entitlement_codec
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.adapters.codecs import returns as rma_codec
from fulfillment.adapters.codecs import shipment as shipment_codec
from fulfillment.domain.entitlements import Entitlement
from fulfillment.domain.returns import Rma
from fulfillment.domain.shipments import ShipmentEvent

# Timeline details a customer does not see: fraud rules, provider messages, operator notes.
OPERATOR_ONLY_DETAIL = {
    "hold_placed": ("reason",),
    "shipment_rejected": ("shipment_id", "reason"),
    "cancellation_rejected": ("shipment_id",),
    "cancelled": ("reason",),
}
Item = dict[str, Any]


def _detail_for(entry: Item, admin: bool) -> dict[str, Any]:
    detail: dict[str, Any] = dict(entry.get("detail") or {})
    if admin or entry["entry"] not in OPERATOR_ONLY_DETAIL:
        return detail
    return {k: v for k, v in detail.items() if k in OPERATOR_ONLY_DETAIL[entry["entry"]]}


def rma_view(rma: Rma) -> dict[str, Any]:
    """An RMA as the API answers it and the order view lists it."""
    return {
        "rma_id": rma.rma_id,
        "order_id": rma.order_id,
        "status": rma.status.value,
        "lines": [
            {
                "line_no": line.line_no,
                "sku": line.sku,
                "quantity": line.quantity,
                "received": line.received_units,
                "disposition": dict(line.received),
                **({"reason": line.reason} if line.reason else {}),
            }
            for line in rma.lines
        ],
        "return_to": {"location": rma.location},
        "refund_due": str(rma.refund_due),
        "currency": rma.currency,
        "created_at": rma.created_at,
        "updated_at": rma.updated_at,
    }


def download_view(entitlement: Entitlement, now: str, url: str | None) -> dict[str, Any]:
    """An entry of the order view's `downloads[]` (and of the operators' answers)."""
    view: dict[str, Any] = {
        "entitlement_id": entitlement.entitlement_id,
        "sku": entitlement.sku,
        "line_no": entitlement.line_no,
        "expires_at": entitlement.expires_at,
        "downloads_remaining": entitlement.downloads_remaining,
        "downloads_served": entitlement.downloads_served,
        "allowance": entitlement.allowance,
        "status": entitlement.status(now).value,
        "link_version": entitlement.link_version,
    }
    if url is not None:
        view["url"] = url
    if entitlement.revoked_reason:
        view["revoked_reason"] = entitlement.revoked_reason
    return view


def order_view(
    items: list[Item],
    *,
    admin: bool = False,
    now: str = "",
    download_url: Callable[[Entitlement], str] | None = None,
) -> dict[str, Any]:
    """`download_url(entitlement)` signs each download's link (the view is for token holders and operators)."""
    order = order_codec.from_items(items)
    assert order is not None, "the order view needs the order's items"
    timeline = [entry for item in order_codec.timeline_items(items) for entry in order_codec.timeline_entries(item)]
    said: dict[str, list[ShipmentEvent]] = {}
    for item in items:
        if shipment_codec.is_shipment_event(item):
            event = shipment_codec.event_from_item(item)
            said.setdefault(event.shipment_id, []).append(event)
    events = {
        sid: [{"at": e.at, "type": e.type, **e.detail} for e in shipment_events]
        for sid, shipment_events in said.items()
    }
    # A shipment's status is where its parcel is: the item's status moved by the scans recorded beside it.
    shipments = sorted(
        (
            shipment_codec.from_item(i).with_scans(said.get(str(i["shipment_id"]), ()))
            for i in items
            if shipment_codec.is_shipment(i)
        ),
        key=lambda s: s.shipment_id,
    )
    view: dict[str, Any] = {
        "order_id": order.order_id,
        "channel": order.channel.value,
        "external_id": order.external_id,
        "name": order.name,
        "status": order.status.value,
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
                "returning": line.returning,
                **({"issued": line.issued} if line.kind.value == "digital" else {}),
                "allocations": line.allocations,
            }
            for line in order.lines
        ],
        "shipments": [
            {
                "shipment_id": s.shipment_id,
                "provider": s.provider,
                "location": s.location,
                "status": s.status.value,
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "lines": [{"sku": ln.sku, "quantity": ln.quantity, "shipped": ln.shipped} for ln in s.lines],
                "shipped_at": s.shipped_at,
                "delivered_at": s.delivered_at,
                "est_delivery": s.est_delivery,
                "events": sorted(events.get(s.shipment_id, []), key=lambda e: str(e["at"])),
            }
            for s in shipments
        ],
        "downloads": [
            download_view(e, now or order.updated_at, download_url(e) if download_url else None)
            for e in sorted(
                (entitlement_codec.from_item(i) for i in items if entitlement_codec.is_entitlement(i)),
                key=lambda e: e.line_no,
            )
        ],
        "returns": [
            rma_view(rma)
            for rma in sorted((rma_codec.from_item(i) for i in items if rma_codec.is_rma(i)), key=lambda r: r.rma_id)
        ],
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
