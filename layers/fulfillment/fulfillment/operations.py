"""What operators and customers do through the order API, as plain calls."""

from __future__ import annotations

import uuid
from dataclasses import replace

from fulfillment import tokens
from fulfillment.adapters.order_store import OrderStore
from fulfillment.adapters.shipment_store import ShipmentStore
from fulfillment.adapters.stock_store import CatalogStore, StockStore
from fulfillment.config import Settings
from fulfillment.contracts.admin import Adjustment, CatalogEntry, StockLevel
from fulfillment.contracts.views import order_view, stock_view
from fulfillment.domain import transitions
from fulfillment.domain.model import Hold, LineKind, Order, WorkState
from fulfillment.domain.shipments import ShipmentStatus
from fulfillment.domain.status import aggregate
from fulfillment.errors import (
    AlreadyExists,
    ConcurrentModification,
    Conflict,
    NotFound,
    OrderNotFound,
    UnknownLocation,
    UnknownSku,
)

MAX_ATTEMPTS = 8


class Operations:
    def __init__(
        self,
        settings: Settings,
        orders: OrderStore | None = None,
        catalog: CatalogStore | None = None,
        stock: StockStore | None = None,
    ) -> None:
        self.settings = settings
        self.orders = orders or OrderStore()
        self.catalog = catalog or CatalogStore()
        self.stock = stock or StockStore()
        self.shipments = ShipmentStore()

    # ---------------------------------------------------------------- orders
    def view(self, order_id: str, *, token: str | None, admin: bool) -> dict:
        items = self.orders.partition(order_id)
        order_item = next((i for i in items if i["SK"] == "ORDER"), None)
        # Unknown order and someone else's order look the same: 404.
        if order_item is None or not (admin or tokens.matches(token, order_item.get("access_token_hash", ""))):
            raise OrderNotFound(f"no order {order_id}")
        return order_view(items, admin=admin)

    def list(self, status: str, *, limit: int, cursor: str | None) -> dict:
        items, next_cursor = self.orders.list_by_status(status, limit=limit, cursor=cursor)
        return {
            "orders": [
                {
                    "order_id": i["order_id"],
                    "status": i["status"],
                    "channel": i["channel"],
                    "external_id": i["external_id"],
                    "created_at": i["created_at"],
                    "holds": sorted(i.get("holds") or {}),
                }
                for i in items
            ],
            "next_cursor": next_cursor,
        }

    def cancel(self, order_id: str, *, reason: str | None, now: str) -> dict:
        def change(order: Order) -> transitions.Change:
            if any(line.shipped for line in order.lines):
                raise Conflict("part of the order has shipped; it can no longer be cancelled")
            return transitions.cancel(order, reason=reason or "operator", by="operator")

        return self._change(order_id, change, now)

    def release_hold(self, order_id: str, reason: str, *, now: str) -> dict:
        def change(order: Order) -> transitions.Change:
            if order.cancelled:
                raise Conflict("the order is cancelled")
            if reason not in order.holds:
                raise NotFound(f"the order has no {reason} hold")
            if reason == Hold.UNKNOWN_SKU.value:
                order = self._recheck_catalog(order)
            return transitions.release_hold(order, reason, by="operator")

        result = self._change(order_id, change, now)
        if reason == Hold.PROVIDER_UNRESPONSIVE.value:
            self._retry_unanswered_shipments(order_id, now)
        return result

    def _retry_unanswered_shipments(self, order_id: str, now: str) -> None:
        """The operator says the provider is back: its unanswered requests are re-sent from attempt one."""
        for shipment in self.shipments.of_order(order_id):
            if shipment.status is ShipmentStatus.SUBMITTED and shipment.timer_due is None:
                retried = replace(shipment, attempts=0, timer_due=now, version=shipment.version + 1)
                self.shipments.save(retried.record({"at": now, "type": "retry_after_hold_release"}), shipment.version)

    def _recheck_catalog(self, order: Order) -> Order:
        """Releasing unknown_sku is allowed once the catalog knows every SKU; their lines then reserve."""
        unknown = [line for line in order.lines if not line.known]
        found = self.catalog.lookup(line.sku for line in unknown if line.sku)
        missing = [line.sku or f"line {line.line_no} (no sku)" for line in unknown if line.sku not in found]
        if missing:
            raise Conflict(f"add these SKUs to the catalog first: {', '.join(missing)}")
        lines = []
        for line in order.lines:
            if not line.known:
                kind = line.kind if line.requires_shipping is not None else LineKind(found[line.sku]["kind"])
                line = replace(line, known=True, kind=kind)
            lines.append(line)
        order = replace(order, lines=tuple(lines))
        if any(line.needs_stock and line.unallocated for line in order.lines):
            order = replace(order, reservation_state=WorkState.PENDING, reservation_cursor=0)
        return order

    def _change(self, order_id: str, change, now: str) -> dict:
        for _ in range(MAX_ATTEMPTS):
            order = self.orders.get(order_id)
            updated, entries = change(transitions.begin(order, now))
            if not entries and updated == transitions.begin(order, now):
                return self._summary(order)
            try:
                self.orders.save(updated, expected_version=order.version, entries=entries)
                return self._summary(updated)
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"order {order_id} kept changing")

    @staticmethod
    def _summary(order: Order) -> dict:
        return {"order_id": order.order_id, "status": aggregate(order).value, "holds": sorted(order.holds)}

    # ---------------------------------------------------------------- catalog and stock
    def put_catalog(self, sku: str, entry: CatalogEntry, *, now: str) -> dict:
        if entry.dropship_location:
            location = self.settings.location(entry.dropship_location)
            if location is None or location.kind != "dropship":
                dropship = [loc.id for loc in self.settings.locations if loc.kind == "dropship"]
                raise UnknownLocation(f"{entry.dropship_location} is not a dropship location; configured: {dropship}")
        fields = entry.model_dump(exclude_none=True)
        item = self.catalog.put(sku, fields, now)
        return _catalog_view(item)

    def get_catalog(self, sku: str) -> dict:
        item = self.catalog.get(sku)
        if item is None:
            raise UnknownSku(f"no SKU {sku} in the catalog")
        return _catalog_view(item)

    def _check(self, sku: str, location: str) -> None:
        if self.settings.location(location) is None:
            raise UnknownLocation(f"no location {location}; configured: {[loc.id for loc in self.settings.locations]}")
        if self.catalog.get(sku) is None:
            raise UnknownSku(f"no SKU {sku} in the catalog: PUT /catalog/{sku} first")

    def inventory(self, sku: str, location: str) -> dict:
        if self.settings.location(location) is None:
            raise UnknownLocation(f"no location {location}")
        view = stock_view(self.stock.get(sku, location), sku, location)
        view["recent_adjustments"] = [
            {
                "adjustment_id": a["adjustment_id"],
                "delta": int(a["delta"]),
                "reason": a["reason"],
                "at": a["at"],
                "actor": a.get("actor"),
            }
            for a in self.stock.adjustments(sku, location, limit=10)
        ]
        return view

    def set_inventory(self, sku: str, location: str, level: StockLevel, *, actor: str, now: str) -> dict:
        """Set on-hand to a counted value; audited as a `count` adjustment of the difference."""
        self._check(sku, location)
        for _ in range(MAX_ATTEMPTS):
            current = self.stock.get(sku, location)
            on_hand = int(current["on_hand"]) if current else 0
            delta = level.on_hand - on_hand
            if delta == 0:
                return stock_view(current, sku, location)
            try:
                self.stock.adjust(
                    sku,
                    location,
                    delta=delta,
                    reason="count",
                    adjustment_id=uuid.uuid4().hex,
                    actor=actor,
                    now=now,
                    note=level.note,
                    expected_on_hand=on_hand if current else None,
                )
                return stock_view(self.stock.get(sku, location), sku, location)
            except ConcurrentModification:
                continue
        raise ConcurrentModification("stock kept changing")

    def adjust(
        self, sku: str, location: str, adjustment: Adjustment, *, idempotency_key: str | None, actor: str, now: str
    ) -> tuple[dict, bool]:
        """Apply an audited delta once per adjustment id. Returns the level and whether it was new."""
        self._check(sku, location)
        adjustment_id = adjustment.adjustment_id or idempotency_key or uuid.uuid4().hex
        try:
            self.stock.adjust(
                sku,
                location,
                delta=adjustment.delta,
                reason=adjustment.reason,
                adjustment_id=adjustment_id,
                actor=actor,
                now=now,
                note=adjustment.note,
            )
            applied = True
        except AlreadyExists:
            applied = False
        view = stock_view(self.stock.get(sku, location), sku, location)
        view["adjustment_id"] = adjustment_id
        return view, applied


def _catalog_view(item: dict) -> dict:
    view = {k: v for k, v in item.items() if k not in ("PK", "SK", "type")}
    for key in ("reorder_point", "backordered_units"):
        if key in view:
            view[key] = int(view[key])
    if "digital" in view and view["digital"]:
        view["digital"] = {k: int(v) if k != "bucket_key" else v for k, v in view["digital"].items()}
    return view
