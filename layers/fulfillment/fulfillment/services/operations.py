"""What operators do to orders through the order API: cancel, release holds, ship in-house."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fulfillment.config import Settings
from fulfillment.domain.model import Hold, LineKind, Order
from fulfillment.domain.shipments import ShipmentEvent, ShipmentStatus
from fulfillment.errors import Conflict, NotFound, OrderNotFound
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.tracking import Tracking
from fulfillment.services.unit import Outcome, ShipmentNotFound, apply_once, utc_now


def summary(order: Order) -> dict[str, Any]:
    return {"order_id": order.order_id, "status": order.status.value, "holds": sorted(order.holds)}


class Operations:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def _change(self, order_id: str, decide: Any) -> dict[str, Any]:
        def step(uow: UnitOfWork) -> dict[str, Any]:
            order = self.store.order(order_id)
            if order is None:
                raise OrderNotFound(f"no order {order_id}")
            updated: Order = decide(order.begin(utc_now()))
            if not updated.changes and updated == order.begin(updated.updated_at):
                return summary(order)
            uow.save_order(updated, expected_version=order.version)
            return summary(updated)

        return apply_once(self.store, step, what=f"order {order_id}")

    def cancel(self, order_id: str, *, reason: str | None) -> dict[str, Any]:
        def decide(order: Order) -> Order:
            if any(line.shipped for line in order.lines):
                raise Conflict("part of the order has shipped; it can no longer be cancelled")
            return order.cancel(reason=reason or "operator", by="operator")

        return self._change(order_id, decide)

    def release_hold(self, order_id: str, reason: str) -> dict[str, Any]:
        def decide(order: Order) -> Order:
            if order.cancelled:
                raise Conflict("the order is cancelled")
            if reason not in order.holds:
                raise NotFound(f"the order has no {reason} hold")
            if reason == Hold.UNKNOWN_SKU.value:
                order = self._recheck_catalog(order)
            return order.release_hold(reason, by="operator")

        result = self._change(order_id, decide)
        if reason == Hold.PROVIDER_UNRESPONSIVE.value:
            self._retry_unanswered_shipments(order_id)
        return result

    def _retry_unanswered_shipments(self, order_id: str) -> None:
        """The operator says the provider is back: its unanswered requests are re-sent from attempt one."""
        _, shipments = self.store.order_with_shipments(order_id)
        for shipment in shipments:
            if shipment.status is ShipmentStatus.SUBMITTED and shipment.timer_due is None:
                uow = self.store.unit()
                now = utc_now()
                uow.save_shipment(
                    replace(shipment, attempts=0, timer_due=now).bump(now), expected_version=shipment.version
                )
                uow.commit()

    def _recheck_catalog(self, order: Order) -> Order:
        """Releasing unknown_sku is allowed once the catalog knows every SKU; their lines then reserve."""
        unknown = [line for line in order.lines if not line.known]
        found = self.store.catalog(line.sku for line in unknown if line.sku)
        missing = [line.sku or f"line {line.line_no} (no sku)" for line in unknown if line.sku not in found]
        if missing:
            raise Conflict(f"add these SKUs to the catalog first: {', '.join(missing)}")
        lines = []
        for line in order.lines:
            if not line.known and line.sku:
                kind = line.kind if line.requires_shipping is not None else LineKind(found[line.sku].kind)
                line = replace(line, known=True, kind=kind)
            lines.append(line)
        return replace(order, lines=tuple(lines))  # releasing the hold then asks for their stock

    def ship_in_house(
        self,
        shipment_id: str,
        carrier: str,
        tracking_number: str,
        lines: list[tuple[str, int]] | None,
        *,
        idempotency_key: str,
        tracking: Tracking,
    ) -> Outcome:
        """The in-house warehouse shipped. Races a cancellation through the order's version: one of them loses
        with 409, so an order is never cancelled with a shipped in-house shipment."""
        shipment = self.store.shipment(shipment_id)
        if shipment is None or not shipment.in_house:
            raise ShipmentNotFound(f"no in-house shipment {shipment_id}")
        now = utc_now()
        event = ShipmentEvent(shipment_id, "in-house", idempotency_key, now, "shipped")
        return tracking.shipped(event, carrier, tracking_number, now, lines, refuse_if_cancelled=True)
