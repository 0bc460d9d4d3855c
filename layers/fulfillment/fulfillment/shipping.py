"""Shipments: dispatch to providers, their answers, carrier tracking, timers and cancellation.

Every change to a shipment is one transaction with, where it matters, the order item (version
condition) and the stock it moves. Inbound messages and webhook events write a marker item in the
same transaction, so a redelivered message finds its marker and changes nothing.

Dispatch uses the table as an outbox: shipments are written `pending` with the order change; the
stream makes the router queue `submit_shipment`; submitting sends the request and then marks the
shipment `submitted`. A crash between the two re-sends the same `request_id`, which the provider
dedupes — so every shipment is requested, and acted on, exactly once, and none stays `pending`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from fulfillment import keys
from fulfillment.adapters import dynamo
from fulfillment.adapters import shipment_store as ship_ops
from fulfillment.adapters import stock_store as stock_ops
from fulfillment.adapters.order_store import OrderStore
from fulfillment.adapters.shipment_store import ShipmentStore
from fulfillment.config import Settings
from fulfillment.contracts.carriers import CarrierUpdate
from fulfillment.contracts.provider import CancellationRequest, FulfillmentRequest, ShipTo
from fulfillment.domain import transitions
from fulfillment.domain.events import CustomerEvent
from fulfillment.domain.model import Hold, Line, Order, WorkState
from fulfillment.domain.shipments import (
    BEFORE_SHIPPING,
    TERMINAL,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    progress,
    units_in_flight,
)
from fulfillment.domain.timeline import Entry
from fulfillment.errors import ConcurrentModification, NotFound

S = ShipmentStatus
MAX_ATTEMPTS = 10
Sender = Callable[[str, BaseModel], None]  # (provider, message)


class ShipmentNotFound(NotFound):
    code = "shipment_not_found"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def plus(iso: str, seconds: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


Mutation = Callable[[Order, Shipment], "tuple[Order | None, Shipment, list[Entry], list[dynamo.Op]]"]


class Shipping:
    def __init__(
        self,
        settings: Settings,
        send: Sender | None = None,
        *,
        ack_timeout: int = 900,
        max_submit_attempts: int = 3,
        delay_after: int = 3 * 24 * 3600,
        orders: OrderStore | None = None,
        shipments: ShipmentStore | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.settings = settings
        self.send = send
        self.ack_timeout = ack_timeout
        self.max_submit_attempts = max_submit_attempts
        self.delay_after = delay_after
        self.orders = orders or OrderStore()
        self.shipments = shipments or ShipmentStore()
        self.now = clock

    # ================================================================ dispatch
    def dispatch(self, order_id: str) -> int:
        """Put every reserved, not yet dispatched unit into a shipment per location. Returns shipments made."""
        for _ in range(MAX_ATTEMPTS):
            order = self.orders.get(order_id)
            if not order.dispatchable:
                return 0
            now = self.now()
            in_flight = units_in_flight(self.shipments.of_order(order_id))
            wanted: dict[str, list[ShipmentLine]] = defaultdict(list)
            for res in self.orders.reservations(order_id):
                line_no, location = int(res["line_no"]), res["location"]
                free = int(res["quantity"]) - in_flight.get((line_no, location), 0)
                if free > 0:
                    wanted[location].append(ShipmentLine(line_no=line_no, sku=res["sku"], quantity=free))
            if not wanted:
                return 0
            updated = transitions.begin(order, now)
            created, entries = [], []
            lines = {line.line_no: line for line in order.lines}
            for seq, (location_id, ship_lines) in enumerate(sorted(wanted.items()), start=order.shipment_seq + 1):
                location = self.settings.location(location_id)
                in_house = location is not None and location.kind == "in_house"
                shipment_id = keys.shipment_id_for(order_id, seq)
                shipment = Shipment(
                    shipment_id=shipment_id,
                    order_id=order_id,
                    location=location_id,
                    provider=location.provider if location else "unknown",
                    provider_kind=location.kind if location else "unknown",
                    lines=tuple(sorted(ship_lines, key=lambda ln: ln.line_no)),
                    request_id=shipment_id,
                    created_at=now,
                    status=S.ACCEPTED if in_house else S.PENDING,
                    status_at=now,
                    version=1,
                )
                created.append(shipment)
                for ln in ship_lines:
                    lines[ln.line_no] = replace(
                        lines[ln.line_no], dispatched=lines[ln.line_no].dispatched + ln.quantity
                    )
                entries.append(
                    Entry(
                        "shipment_created",
                        {
                            "shipment_id": shipment_id,
                            "location": location_id,
                            "units": sum(ln.quantity for ln in ship_lines),
                        },
                    )
                )
            updated = replace(
                updated,
                lines=tuple(lines[ln.line_no] for ln in order.lines),
                shipment_seq=order.shipment_seq + len(created),
            )
            try:
                self.orders.save(
                    updated,
                    expected_version=order.version,
                    entries=entries,
                    extra=[ship_ops.put_new(s) for s in created],
                )
                return len(created)
            except (ConcurrentModification, dynamo.TransactionCancelled):
                continue
        raise ConcurrentModification(f"could not dispatch order {order_id}")

    def submit(self, shipment_id: str) -> str:
        """Mark a pending shipment submitted, then send its fulfillment_request (the outbox's second half).

        The write comes first: a cancellation racing this either wins `pending` (and nothing is ever sent)
        or sees `submitted` (and asks the provider to cancel). A crash between the write and the send is
        healed by the redelivered message (a `submitted` shipment is sent again: same request_id, which
        the provider dedupes) and, failing that, by the acknowledgement timer.
        """
        for _ in range(MAX_ATTEMPTS):
            shipment = self._get(shipment_id)
            order = self.orders.get(shipment.order_id)
            if shipment.status is S.SUBMITTED and not shipment.cancel_requested and shipment.attempts <= 1:
                self._send(shipment.provider, self._request(order, shipment, shipment.submitted_at or self.now()))
                return "sent again"
            if shipment.status is not S.PENDING:
                return f"already {shipment.status.value}"
            now = self.now()
            if order.cancelled or shipment.cancel_requested:
                result = self._change(
                    shipment_id, lambda o, s: self._cancelled(o, s, "order cancelled before submission")
                )
                return f"cancelled before submission ({result})"
            submitted = replace(
                shipment,
                status=S.SUBMITTED,
                status_at=now,
                submitted_at=now,
                attempts=1,
                timer_due=plus(now, self.ack_timeout),
                version=shipment.version + 1,
            )
            try:
                self.shipments.save(submitted, shipment.version)
            except dynamo.TransactionCancelled:
                continue  # cancelled or answered meanwhile: read again
            self._send(shipment.provider, self._request(order, submitted, now))
            return "submitted"
        raise ConcurrentModification(f"could not submit {shipment_id}")

    def _request(self, order: Order, shipment: Shipment, now: str) -> FulfillmentRequest:
        a = order.shipping_address
        ship_to = ShipTo(**({k: getattr(a, k) for k in ShipTo.model_fields} if a else {}))
        return FulfillmentRequest(
            request_id=shipment.request_id,
            shipment_id=shipment.shipment_id,
            order_id=order.order_id,
            provider=shipment.provider,
            location=shipment.location,
            ship_to=ship_to,
            lines=[{"sku": ln.sku, "quantity": ln.quantity} for ln in shipment.lines],
            requested_at=now,
        )

    def _send(self, provider: str, message: BaseModel) -> None:
        if self.send is None:
            raise RuntimeError("this Shipping has no sender")
        self.send(provider, message)

    # ================================================================ timers
    def check_timer(self, shipment_id: str) -> str:
        """A shipment's timer is due: re-send an unanswered request, hold the order, or flag a delay."""
        shipment = self._get(shipment_id)
        now = self.now()
        if shipment.timer_due is None or shipment.timer_due > now:
            return "not due"
        if shipment.cancel_requested and shipment.status in (S.SUBMITTED, S.ACCEPTED):
            return self._resend_cancellation(shipment, now)
        if shipment.status is S.SUBMITTED:
            if shipment.attempts < self.max_submit_attempts:
                order = self.orders.get(shipment.order_id)
                if order.cancelled:
                    return self._change(shipment_id, lambda o, s: (None, replace(s, timer_due=None), [], []))
                self._send(shipment.provider, self._request(order, shipment, now))
                resent = replace(
                    shipment,
                    attempts=shipment.attempts + 1,
                    timer_due=plus(now, self.ack_timeout),
                    version=shipment.version + 1,
                )
                resent = resent.record({"at": now, "type": "request_resent", "attempt": resent.attempts})
                self.shipments.save(resent, shipment.version)
                return f"re-sent (attempt {resent.attempts})"
            return self._change(shipment_id, self._unresponsive)
        if shipment.status not in TERMINAL and shipment.status not in BEFORE_SHIPPING and not shipment.delay_notified:
            return self._change(shipment_id, self._delayed)
        return self._change(shipment_id, lambda o, s: (None, replace(s, timer_due=None), [], []))

    def _resend_cancellation(self, shipment: Shipment, now: str) -> str:
        if shipment.attempts >= self.max_submit_attempts + 3:
            return self._change(
                shipment.shipment_id,
                lambda o, s: (
                    o,
                    replace(s, timer_due=None),
                    [Entry("cancellation_unanswered", {"shipment_id": s.shipment_id, "provider": s.provider})],
                    [],
                ),
            )
        self._send(
            shipment.provider,
            CancellationRequest(
                request_id=f"{shipment.request_id}:cancel", shipment_id=shipment.shipment_id, order_id=shipment.order_id
            ),
        )
        resent = replace(
            shipment,
            attempts=shipment.attempts + 1,
            timer_due=plus(now, self.ack_timeout),
            version=shipment.version + 1,
        ).record({"at": now, "type": "cancellation_resent"})
        self.shipments.save(resent, shipment.version)
        return "cancellation re-sent"

    def _unresponsive(self, order: Order, shipment: Shipment):
        if order.cancelled:
            return None, replace(shipment, timer_due=None), [], []
        detail = f"{shipment.provider} did not answer {shipment.attempts} requests for {shipment.shipment_id}"
        order, entries = transitions.place_hold(order, Hold.PROVIDER_UNRESPONSIVE, detail)
        return order, replace(shipment, timer_due=None), entries, []

    def _delayed(self, order: Order, shipment: Shipment):
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
        return order, replace(shipment, delay_notified=True, timer_due=None), [entry], []

    # ================================================================ cancellation
    def cancel_shipments(self, order_id: str) -> int:
        """The order was cancelled: stop its shipments that have not shipped. Returns how many were touched."""
        touched = 0
        for shipment in self.shipments.of_order(order_id):
            if shipment.status is S.PENDING:
                self._change(shipment.shipment_id, lambda o, s: self._cancelled(o, s, "order cancelled"))
                touched += 1
            elif shipment.status in (S.SUBMITTED, S.ACCEPTED) and shipment.provider_kind == "in_house":
                self._change(shipment.shipment_id, lambda o, s: self._cancelled(o, s, "order cancelled"))
                touched += 1
            elif shipment.status in (S.SUBMITTED, S.ACCEPTED) and not shipment.cancel_sent:
                self._send(
                    shipment.provider,
                    CancellationRequest(
                        request_id=f"{shipment.request_id}:cancel", shipment_id=shipment.shipment_id, order_id=order_id
                    ),
                )
                self._change(
                    shipment.shipment_id,
                    lambda o, s: (
                        None,
                        replace(
                            s,
                            cancel_requested=True,
                            cancel_sent=True,
                            timer_due=plus(self.now(), self.ack_timeout),
                        ).record({"at": self.now(), "type": "cancellation_requested"}),
                        [],
                        [],
                    ),
                )
                touched += 1
        return touched

    def _cancelled(self, order: Order, shipment: Shipment, why: str):
        if not shipment.active or shipment.status not in BEFORE_SHIPPING:
            return None, shipment, [], []
        lines = _adjust_lines(order, shipment, dispatched=-1)
        order = replace(order, lines=lines)
        if order.cancelled and order.reservation_state is not WorkState.NONE:
            order = replace(order, release_state=WorkState.PENDING)
        entry = Entry("shipment_cancelled", {"shipment_id": shipment.shipment_id, "why": why})
        return order, replace(shipment, status=S.CANCELLED, status_at=self.now(), timer_due=None), [entry], []

    # ================================================================ provider answers
    def accepted(self, shipment_id: str, *, marker: dynamo.Op, at: str) -> str:
        def mutate(order: Order, shipment: Shipment):
            shipment = shipment.record({"at": at, "type": "accepted"})
            if shipment.status in (S.PENDING, S.SUBMITTED):
                shipment = replace(shipment, status=S.ACCEPTED, status_at=at, timer_due=None)
            return None, shipment, [], []

        return self._change(shipment_id, mutate, marker)

    def rejected(self, shipment_id: str, reason: str, message: str | None, *, marker: dynamo.Op, at: str) -> str:
        def mutate(order: Order, shipment: Shipment):
            shipment = shipment.record({"at": at, "type": "rejected", "reason": reason})
            if shipment.status not in BEFORE_SHIPPING:
                return None, shipment, [], []
            rejected = replace(shipment, status=S.REJECTED, status_at=at, timer_due=None, reject_reason=reason)
            order = replace(order, lines=_adjust_lines(order, shipment, dispatched=-1))
            entries = [Entry("shipment_rejected", {"shipment_id": shipment_id, "reason": reason, "message": message})]
            ops: list[dynamo.Op] = []
            if order.cancelled:  # nothing to re-route or hold: just give the units back
                if order.reservation_state is not WorkState.NONE:
                    order = replace(order, release_state=WorkState.PENDING)
            elif reason == "INVENTORY_OUT_OF_STOCK" and self._tracks_stock(shipment.location):
                order, ops = self._write_down_and_reroute(order, shipment, at)
                entries.append(Entry("rerouted", {"shipment_id": shipment_id, "from": shipment.location}))
            elif reason in ("INCORRECT_ADDRESS", "UNDELIVERABLE_DESTINATION"):
                order, placed = transitions.place_hold(order, Hold.ADDRESS_INVALID, f"{shipment.provider}: {reason}")
                entries += placed
            else:
                order, placed = transitions.place_hold(
                    order, Hold.FULFILLMENT_REJECTED, f"{shipment.provider}: {reason} {message or ''}".strip()
                )
                entries += placed
            return order, rejected, entries, ops

        return self._change(shipment_id, mutate, marker)

    def _tracks_stock(self, location_id: str) -> bool:
        location = self.settings.location(location_id)
        return location is None or location.tracks_stock

    def _write_down_and_reroute(self, order: Order, shipment: Shipment, at: str):
        """The location does not have the units after all: write them off there and reserve elsewhere."""
        ops: list[dynamo.Op] = []
        reservations = {
            int(r["line_no"]): r for r in self.orders.reservations(order.order_id) if r["location"] == shipment.location
        }
        lines = {line.line_no: line for line in order.lines}
        per_sku: dict[str, int] = defaultdict(int)
        for ln in shipment.lines:
            units = ln.unshipped
            if units <= 0:
                continue
            res = reservations.get(ln.line_no)
            held = int(res["quantity"]) if res else 0
            units = min(units, held)
            if units <= 0:
                continue
            key = keys.reservation_key(order.order_id, ln.line_no, shipment.location)
            ops.append(
                dynamo.delete(key) if held == units else dynamo.update(key, "ADD quantity :d", values={":d": -units})
            )
            per_sku[ln.sku] += units
            line = lines[ln.line_no]
            allocations = dict(line.allocations)
            allocations[shipment.location] = allocations.get(shipment.location, 0) - units
            allocations = {k: v for k, v in allocations.items() if v > 0}
            lines[ln.line_no] = replace(line, reserved=line.reserved - units, allocations=allocations)
        for sku, units in per_sku.items():
            ops += stock_ops.write_off_reserved(
                sku,
                shipment.location,
                units,
                at,
                adjustment_id=f"reject-{shipment.shipment_id}-{sku}",
                actor=shipment.provider,
                note="provider reported out of stock",
            )
        order = replace(
            order,
            lines=tuple(lines[ln.line_no] for ln in order.lines),
            reservation_state=WorkState.PENDING,
            reservation_cursor=0,
        )
        return order, ops

    def shipped(
        self,
        shipment_id: str,
        carrier: str,
        tracking_number: str,
        shipped_at: str,
        lines: list[tuple[str, int]] | None,
        *,
        marker: dynamo.Op,
    ) -> str:
        def mutate(order: Order, shipment: Shipment):
            if not shipment.active:
                return (
                    None,
                    shipment.record(
                        {
                            "at": shipped_at,
                            "type": "shipped_after_" + shipment.status.value,
                            "tracking_number": tracking_number,
                        }
                    ),
                    [],
                    [],
                )
            units = _units_to_ship(shipment, lines)
            order, shipment, entries, ops = self._commit(order, shipment, units, shipped_at)
            shipment = replace(
                shipment,
                carrier=carrier,
                tracking_number=tracking_number,
                shipped_at=shipment.shipped_at or shipped_at,
                last_scan_at=max(filter(None, (shipment.last_scan_at, shipped_at))),
            )
            shipment = shipment.record(
                {"at": shipped_at, "type": "shipped", "carrier": carrier, "tracking_number": tracking_number}
            )
            if progress(shipment, S.SHIPPED, shipped_at) or shipment.status in BEFORE_SHIPPING:
                shipment = replace(shipment, status=S.SHIPPED, status_at=shipped_at)
            shipment = self._arm_delay_timer(shipment)
            ops.append(ship_ops.tracking_pointer(carrier, tracking_number, shipment_id))
            return order, shipment, entries, ops

        return self._change(shipment_id, mutate, marker)

    def _commit(self, order: Order, shipment: Shipment, units: dict[int, int], at: str):
        """Units leave the warehouse: on-hand and reserved both fall (available unchanged)."""
        if not any(units.values()):
            return order, shipment, [], []
        was_shipped = any(line.shipped for line in order.lines)
        reservations = {
            int(r["line_no"]): r for r in self.orders.reservations(order.order_id) if r["location"] == shipment.location
        }
        ops: list[dynamo.Op] = []
        per_sku: dict[str, int] = defaultdict(int)
        lines = {line.line_no: line for line in order.lines}
        new_ship_lines = []
        for ln in shipment.lines:
            u = units.get(ln.line_no, 0)
            if u:
                held = int(reservations[ln.line_no]["quantity"]) if ln.line_no in reservations else 0
                key = keys.reservation_key(order.order_id, ln.line_no, shipment.location)
                ops.append(
                    dynamo.delete(key) if held <= u else dynamo.update(key, "ADD quantity :d", values={":d": -u})
                )
                per_sku[ln.sku] += u
                line = lines[ln.line_no]
                allocations = {
                    k: v
                    for k, v in {
                        **line.allocations,
                        shipment.location: line.allocations.get(shipment.location, 0) - u,
                    }.items()
                    if v > 0
                }
                lines[ln.line_no] = replace(
                    line,
                    reserved=line.reserved - u,
                    dispatched=line.dispatched - u,
                    shipped=line.shipped + u,
                    allocations=allocations,
                )
            new_ship_lines.append(replace(ln, shipped=ln.shipped + u))
        if self._tracks_stock(shipment.location):
            ops += [stock_ops.ship_units(sku, shipment.location, u, at) for sku, u in per_sku.items()]
        order = replace(order, lines=tuple(lines[ln.line_no] for ln in order.lines))
        entries = [Entry("shipment_shipped", {"shipment_id": shipment.shipment_id, "units": sum(units.values())})]
        if not was_shipped:
            entries.append(Entry("shipped", {"shipment_id": shipment.shipment_id}, CustomerEvent.ORDER_SHIPPED))
        return order, replace(shipment, lines=tuple(new_ship_lines)), entries, ops

    def tracking(
        self,
        shipment_id: str,
        status: ShipmentStatus | None,
        occurred_at: str,
        *,
        description: str | None,
        location: str | None,
        est_delivery: str | None,
        marker: dynamo.Op,
        raw: str | None = None,
    ) -> str:
        if status is S.DELIVERED:
            return self.delivered(shipment_id, occurred_at, marker=marker, description=description)

        def mutate(order: Order, shipment: Shipment):
            shipment = shipment.record(
                {
                    "at": occurred_at,
                    "type": "tracking",
                    "status": (status or raw or "info"),
                    "description": description,
                    "location": location,
                }
            )
            if est_delivery:
                shipment = replace(shipment, est_delivery=est_delivery)
            if shipment.status not in BEFORE_SHIPPING or status is not None:
                latest = max(filter(None, (shipment.last_scan_at, occurred_at)))
                shipment = replace(shipment, last_scan_at=latest)
            if status is not None and progress(shipment, status, occurred_at):
                shipment = replace(shipment, status=status, status_at=occurred_at)
            return None, self._arm_delay_timer(shipment), [], []

        return self._change(shipment_id, mutate, marker)

    def delivered(
        self, shipment_id: str, delivered_at: str, *, marker: dynamo.Op, description: str | None = None
    ) -> str:
        def mutate(order: Order, shipment: Shipment):
            shipment = shipment.record({"at": delivered_at, "type": "delivered", "description": description})
            if shipment.status is S.DELIVERED or not shipment.active:
                return None, shipment, [], []
            # Delivered implies shipped: a shipment never reported shipped (lost or late message) shipped whole.
            # After a partial shipment, only what shipped was delivered; the rest is still in flight, and a shipment
            # sent in several parcels is delivered when its last parcel is.
            implied = {ln.line_no: ln.unshipped for ln in shipment.lines} if shipment.shipped_units == 0 else {}
            order, shipment, entries, ops = self._commit(order, shipment, implied, delivered_at)
            lines = {line.line_no: line for line in order.lines}
            ship_lines = []
            for ln in shipment.lines:
                newly = ln.shipped - ln.delivered
                if newly > 0:
                    line = lines[ln.line_no]
                    lines[ln.line_no] = replace(line, delivered=min(line.delivered + newly, line.quantity))
                ship_lines.append(replace(ln, delivered=ln.shipped))
            order = replace(order, lines=tuple(lines[ln.line_no] for ln in order.lines))
            shipment = replace(shipment, lines=tuple(ship_lines))
            if any(ln.delivered < ln.quantity for ln in shipment.lines):
                entries.append(Entry("parcel_delivered", {"shipment_id": shipment_id}))
                return order, shipment, entries, ops
            shipment = replace(
                shipment, status=S.DELIVERED, status_at=delivered_at, delivered_at=delivered_at, timer_due=None
            )
            entries.append(
                Entry(
                    "shipment_delivered",
                    {"shipment_id": shipment_id},
                    CustomerEvent.SHIPMENT_DELIVERED,
                    occurrence=shipment_id,
                )
            )
            physical = [line for line in order.physical_lines if line.needs_stock]
            if physical and all(line.delivered >= line.quantity for line in physical):
                entries.append(Entry("delivered", {}, CustomerEvent.ORDER_DELIVERED))
            return order, shipment, entries, ops

        return self._change(shipment_id, mutate, marker)

    def cancellation_answer(
        self, shipment_id: str, accepted: bool, message: str | None, *, marker: dynamo.Op, at: str
    ) -> str:
        if accepted:
            return self._change(
                shipment_id, lambda o, s: self._cancelled(o, s, "provider accepted the cancellation"), marker
            )

        def mutate(order: Order, shipment: Shipment):
            entry = Entry("cancellation_rejected", {"shipment_id": shipment_id, "message": message})
            return order, shipment.record({"at": at, "type": "cancellation_rejected", "message": message}), [entry], []

        return self._change(shipment_id, mutate, marker)

    def carrier_update(self, update: CarrierUpdate, *, marker: dynamo.Op, keep_if_unknown: bool = False) -> str:
        """Apply a carrier's update to the shipment with that (carrier, tracking number).

        With `keep_if_unknown`, an update for a number not known yet (the carrier can be faster than the
        3PL's shipment.shipped) is kept and replayed when the number arrives. Both sides look again after
        writing, so whichever comes second applies it; the marker makes applying twice a no-op.
        """
        shipment_id = self.shipments.by_tracking(update.carrier, update.tracking_number)
        if shipment_id is None and keep_if_unknown:
            self.shipments.keep_early(asdict(update) | {"status": update.status and update.status.value}, epoch())
            shipment_id = self.shipments.by_tracking(update.carrier, update.tracking_number)
            if shipment_id is None:
                return "kept for later"
        if shipment_id is None:
            return "unmatched"
        return self.tracking(
            shipment_id,
            update.status,
            update.occurred_at,
            description=update.description,
            location=update.location,
            est_delivery=update.est_delivery,
            marker=marker,
            raw=update.raw_status,
        )

    def replay_early_updates(self, carrier: str, tracking_number: str) -> int:
        """Apply carrier updates that arrived before this tracking number was known. Returns how many applied."""
        applied = 0
        for kept in sorted(self.shipments.early(carrier, tracking_number), key=lambda u: u["occurred_at"]):
            update = CarrierUpdate(**{**kept, "status": ShipmentStatus(kept["status"]) if kept["status"] else None})
            marker = ship_ops.mark_message(update.source, update.event_id, "carrier_webhook", epoch())
            if self.carrier_update(update, marker=marker) not in ("duplicate", "unmatched"):
                applied += 1
        return applied

    def _arm_delay_timer(self, shipment: Shipment) -> Shipment:
        if shipment.status in TERMINAL or shipment.delay_notified or shipment.status in BEFORE_SHIPPING:
            return replace(shipment, timer_due=None) if shipment.status in TERMINAL else shipment
        # "No scan for too long" counts from when we last heard of the parcel: a backlog on our side (a shipped
        # message applied late) must not make a parcel look delayed.
        heard = max(filter(None, (shipment.last_scan_at, shipment.shipped_at, self.now())))
        due = plus(heard, self.delay_after)
        if shipment.est_delivery:
            due = min(due, shipment.est_delivery)
        return replace(shipment, timer_due=due)

    # ================================================================ the unit of work
    def _get(self, shipment_id: str) -> Shipment:
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise ShipmentNotFound(f"no shipment {shipment_id}")
        return shipment

    def _change(self, shipment_id: str, mutate: Mutation, marker: dynamo.Op | None = None) -> str:
        """Apply `mutate` to the shipment (and the order, when it returns one) atomically, at most once per marker."""
        for _ in range(MAX_ATTEMPTS):
            shipment = self._get(shipment_id)
            order = self.orders.get(shipment.order_id)
            now = self.now()
            new_order, new_shipment, entries, ops = mutate(transitions.begin(order, now), shipment)
            new_shipment = replace(new_shipment, version=shipment.version + 1)
            writes = [*([marker] if marker else []), ship_ops.put_changed(new_shipment, shipment.version), *ops]
            try:
                if new_order is not None:
                    self.orders.save(new_order, expected_version=order.version, entries=entries, extra=writes)
                else:
                    dynamo.transact(writes)
                return new_shipment.status.value
            except (ConcurrentModification, dynamo.TransactionCancelled):
                if marker is not None and self._marker_exists(marker):
                    return "duplicate"
                continue
        raise ConcurrentModification(f"could not update shipment {shipment_id}")

    def _marker_exists(self, marker: dynamo.Op) -> bool:
        key = {"PK": marker.body["Item"]["PK"], "SK": marker.body["Item"]["SK"]}
        source, message_id = key["PK"].removeprefix("MSG#").split("#", 1)
        return self.shipments.seen(source, message_id)


def _adjust_lines(order: Order, shipment: Shipment, *, dispatched: int) -> tuple[Line, ...]:
    changed = {ln.line_no: ln.unshipped for ln in shipment.lines}
    return tuple(
        replace(line, dispatched=max(line.dispatched + dispatched * changed[line.line_no], 0))
        if line.line_no in changed
        else line
        for line in order.lines
    )


def _units_to_ship(shipment: Shipment, lines: list[tuple[str, int]] | None) -> dict[int, int]:
    if lines is None:
        return {ln.line_no: ln.unshipped for ln in shipment.lines}
    wanted: dict[str, int] = defaultdict(int)
    for sku, quantity in lines:
        wanted[sku] += quantity
    units: dict[int, int] = {}
    for ln in shipment.lines:
        take = min(wanted.get(ln.sku, 0), ln.unshipped)
        if take:
            units[ln.line_no] = take
            wanted[ln.sku] -= take
    return units


def epoch() -> int:
    return int(time.time())
