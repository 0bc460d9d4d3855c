"""Decisions that move a shipment and its order together: pure, one place for each rule.

Each returns a `Change`: the new order (None when the order does not change), the new shipment, the stock the
step moves, and the timeline entries the shipment item carries when the order does not change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fulfillment.domain.events import CustomerEvent, Entry
from fulfillment.domain.model import Hold, Order, WorkState
from fulfillment.domain.shipments import TERMINAL, Shipment, ShipmentStatus
from fulfillment.domain.stock import Adjustment, StockMove

S = ShipmentStatus


@dataclass(frozen=True)
class Change:
    shipment: Shipment
    order: Order | None = None
    moves: tuple[StockMove, ...] = ()
    shipment_entries: tuple[Entry, ...] = ()  # history carried by the shipment item (when the order does not change)
    tracking: tuple[str, str] | None = None  # (carrier, tracking number) to point at the shipment


def _moves_per_sku(shipment: Shipment, units: dict[int, int], *, ship: bool, at: str = "") -> tuple[StockMove, ...]:
    per_sku: dict[str, int] = {}
    for ln in shipment.lines:
        if units.get(ln.line_no):
            per_sku[ln.sku] = per_sku.get(ln.sku, 0) + units[ln.line_no]
    if ship:
        return tuple(StockMove(sku, shipment.location, ship=n) for sku, n in sorted(per_sku.items()))
    return tuple(
        StockMove(
            sku,
            shipment.location,
            write_off=n,
            audit=Adjustment(
                sku,
                shipment.location,
                -n,
                "correction",
                f"reject-{shipment.shipment_id}-{sku}",
                shipment.provider,
                at,
                "provider reported out of stock",
            ),
        )
        for sku, n in sorted(per_sku.items())
    )


def ship(
    order: Order,
    shipment: Shipment,
    units: dict[int, int],
    carrier: str,
    tracking_number: str,
    at: str,
    *,
    tracks_stock: bool,
) -> Change:
    """Units left the warehouse: on-hand and reserved fall together at the shipment's location."""
    shipped = shipment.ship(units, carrier, tracking_number, at)
    moves = _moves_per_sku(shipment, units, ship=True) if tracks_stock else ()
    return Change(
        shipped, order.ship(shipment.shipment_id, shipment.location, units), moves, tracking=(carrier, tracking_number)
    )


def deliver(order: Order, shipment: Shipment, at: str, *, tracks_stock: bool) -> Change:
    """Delivered implies shipped: a shipment never reported shipped (a lost or late message) shipped whole.
    A second report of delivery (the 3PL's and the carrier's) changes nothing."""
    if shipment.status is S.DELIVERED or not shipment.active:
        return Change(shipment)
    moves: tuple[StockMove, ...] = ()
    if shipment.shipped_units == 0:
        units = shipment.unshipped
        moves = _moves_per_sku(shipment, units, ship=True) if tracks_stock else ()
        order = order.ship(shipment.shipment_id, shipment.location, units)
        shipment = shipment.ship(units, shipment.carrier or "", shipment.tracking_number or "", at)
    newly = shipment.newly_delivered()
    delivered = shipment.deliver_parcels(at)
    whole = delivered.status is S.DELIVERED
    return Change(delivered, order.deliver(shipment.shipment_id, newly, whole_shipment=whole), moves)


def cancel(order: Order, shipment: Shipment, why: str, at: str) -> Change:
    """The shipment will not happen: its unshipped units are free again (released if the order is cancelled)."""
    if not shipment.active or not shipment.before_shipping:
        return Change(shipment)
    order = order.undispatch(shipment.unshipped).needs_release()
    order = order.record(Entry("shipment_cancelled", {"shipment_id": shipment.shipment_id, "why": why}))
    return Change(shipment.cancel(at), order)


def reject(
    order: Order, shipment: Shipment, reason: str, message: str | None, at: str, *, tracks_stock: bool
) -> Change:
    """The provider refused: out of stock there is written off and re-routed; address problems and the rest hold."""
    if not shipment.before_shipping:
        return Change(shipment)
    unshipped = shipment.unshipped
    order = order.undispatch(unshipped).record(
        Entry("shipment_rejected", {"shipment_id": shipment.shipment_id, "reason": reason, "message": message})
    )
    rejected = shipment.reject(at, reason)
    if order.cancelled:  # nothing to re-route or hold: just give the units back
        return Change(rejected, order.needs_release())
    if reason == "INVENTORY_OUT_OF_STOCK" and tracks_stock:
        gone = {n: min(u, order.line(n).allocations.get(shipment.location, 0)) for n, u in unshipped.items()}
        gone = {n: u for n, u in gone.items() if u > 0}
        for line_no, units in gone.items():
            order = order.release(line_no, shipment.location, units)
        order = replace(order, reservation_state=WorkState.PENDING, reservation_cursor=0)
        order = order.record(Entry("rerouted", {"shipment_id": shipment.shipment_id, "from": shipment.location}))
        return Change(rejected, order, _moves_per_sku(shipment, gone, ship=False, at=at))
    if reason in ("INCORRECT_ADDRESS", "UNDELIVERABLE_DESTINATION"):
        return Change(rejected, order.place_hold(Hold.ADDRESS_INVALID, f"{shipment.provider}: {reason}"))
    detail = f"{shipment.provider}: {reason} {message or ''}".strip()
    return Change(rejected, order.place_hold(Hold.FULFILLMENT_REJECTED, detail))


def unresponsive(order: Order, shipment: Shipment) -> Change:
    cleared = replace(shipment, timer_due=None)
    if order.cancelled:
        return Change(cleared)
    detail = f"{shipment.provider} did not answer {shipment.attempts} requests for {shipment.shipment_id}"
    return Change(cleared, order.place_hold(Hold.PROVIDER_UNRESPONSIVE, detail))


def delayed(shipment: Shipment) -> Change:
    """No news of a parcel for too long: ShipmentDelayed once, never after it arrived (or before it left)."""
    if shipment.delay_notified or shipment.status in TERMINAL or shipment.before_shipping:
        return Change(replace(shipment, timer_due=None))
    entry = Entry(
        "shipment_delayed",
        {
            "shipment_id": shipment.shipment_id,
            "last_scan_at": shipment.last_scan_at,
            "est_delivery": shipment.est_delivery,
        },
        CustomerEvent.SHIPMENT_DELAYED,
        occurrence=shipment.shipment_id,
    )
    return Change(replace(shipment, delay_notified=True, timer_due=None), shipment_entries=(entry,))
