"""Dispatch: shipments per location, fulfillment requests to each provider's queue, cancellations.

One step writes the order and its new shipments — already `submitted`, their acknowledgement timer armed — and
then sends their requests. The write comes first: a cancellation racing it sees `submitted` and asks the provider
to cancel. A crash between the write and the send is healed twice over: the redelivered `dispatch_order` finds
nothing left to dispatch and sends again the requests nobody answered yet (the same `request_id`, which the
provider dedupes), and the acknowledgement timer re-sends them too. Every shipment is requested, and acted on, once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from pydantic import BaseModel

from fulfillment import keys
from fulfillment.config import Settings
from fulfillment.contracts.provider import CancellationRequest, FulfillmentRequest, ShipTo
from fulfillment.domain import progress
from fulfillment.domain.events import Entry
from fulfillment.domain.model import Order
from fulfillment.domain.shipments import Shipment, ShipmentEvent, ShipmentLine, ShipmentStatus, units_in_flight
from fulfillment.errors import OrderNotFound
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import Outcome, apply_once, require, utc_now

S = ShipmentStatus
Sender = Callable[[str, BaseModel], None]  # (provider, message) -> the provider's own queue


def fulfillment_request(order: Order, shipment: Shipment, now: str) -> FulfillmentRequest:
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


def cancellation_request(shipment: Shipment) -> CancellationRequest:
    return CancellationRequest(
        request_id=f"{shipment.request_id}:cancel", shipment_id=shipment.shipment_id, order_id=shipment.order_id
    )


def save(
    uow: UnitOfWork,
    read: Shipment,
    change: progress.Change,
    order: Order | None = None,
    *,
    heard: ShipmentEvent | None = None,
    kept: int = 0,
) -> None:
    """Write what a shipment decision produced, each item conditional on the version that was read; `heard` is
    the message that led to it (the shipment is written to remember it, even when nothing else changed); `kept`,
    the carrier updates read as kept for the tracking number the change points at."""
    if change.shipment != read or change.shipment_entries or heard is not None:
        uow.save_shipment(
            change.shipment.bump(utc_now()),
            expected_version=read.version,
            changes=change.shipment_entries,
            heard=heard,
        )
    if change.order is not None and order is not None:
        uow.save_order(change.order, expected_version=order.version)
    for move in change.moves:
        uow.move_stock(move, change.shipment.status_at or utc_now())
    if change.tracking is not None:
        uow.point_tracking(*change.tracking, change.shipment.shipment_id, kept=kept)


def unanswered(order: Order, shipments: list[Shipment], now: str) -> list[FulfillmentRequest]:
    """The requests of shipments sent once and not answered yet: what a crash between a commit and its sends may
    have left unsent (the same request_id goes again; the provider dedupes)."""
    return [
        fulfillment_request(order, s, s.submitted_at or now)
        for s in shipments
        if s.status is S.SUBMITTED and s.attempts == 1 and not s.cancel_requested
    ]


def send_each(send: Sender, requests: list[FulfillmentRequest]) -> None:
    """Every request gets its chance: one provider's queue failing does not hold back another's. The first failure
    is raised afterwards, so the message is redelivered and what did not go goes again."""
    failures: list[Exception] = []
    for request in requests:
        try:
            send(request.provider, request)
        except Exception as exc:  # noqa: BLE001 - re-raised below once the others had their turn
            failures.append(exc)
    if failures:
        raise failures[0]


def plan_shipments(
    settings: Settings, order: Order, shipments: list[Shipment], now: str
) -> tuple[Order, list[Shipment]]:
    """The shipments that put the order's reserved, not yet dispatched units on their way: one per location, each
    recorded on the order. None when nothing is to be dispatched (held, cancelled, or all in shipments already)."""
    if not order.undispatched:
        return order, []
    in_flight = units_in_flight(shipments)
    wanted: dict[str, dict[int, int]] = defaultdict(dict)
    for line in order.lines:
        for allocated_at, allocated in line.allocations.items():
            free = allocated - in_flight.get((line.line_no, allocated_at), 0)
            if free > 0:
                wanted[allocated_at][line.line_no] = free
    made: list[Shipment] = []
    for location_id, units in sorted(wanted.items()):
        shipment = new_shipment(settings, order, location_id, units, now)
        order = order.dispatch(units).record(
            Entry(
                "shipment_created",
                {"shipment_id": shipment.shipment_id, "location": location_id, "units": sum(units.values())},
            )
        )
        made.append(shipment)
    return order, made


def new_shipment(settings: Settings, order: Order, location_id: str, units: dict[int, int], now: str) -> Shipment:
    """The in-house warehouse's shipments go straight to its pick list; a provider's are submitted to it."""
    location = settings.location(location_id)
    shipment_id = keys.shipment_id_for(order.order_id, order.shipment_seq + 1)
    shipment = Shipment(
        shipment_id=shipment_id,
        order_id=order.order_id,
        location=location_id,
        provider=location.provider if location else "unknown",
        provider_kind=location.kind if location else "unknown",
        lines=tuple(ShipmentLine(line_no=n, sku=str(order.line(n).sku), quantity=u) for n, u in sorted(units.items())),
        request_id=shipment_id,
        created_at=now,
        status=S.ACCEPTED,
        status_at=now,
        updated_at=now,
        version=1,
    )
    return shipment if shipment.in_house else shipment.submit(now, settings.ack_timeout_seconds)


class Dispatch:
    def __init__(self, settings: Settings, store: Store, send: Sender) -> None:
        self.settings = settings
        self.store = store
        self.send = send

    def dispatch(self, order_id: str) -> int:
        """Put every reserved, not yet dispatched unit into a shipment per location and request it from the location's
        provider. Returns the shipments made."""
        requests: list[FulfillmentRequest] = []

        def step(uow: UnitOfWork) -> int:
            requests.clear()
            order, shipments = self.store.order_with_shipments(order_id)
            if order is None:
                raise OrderNotFound(f"no order {order_id}")
            now = utc_now()
            updated, made = plan_shipments(self.settings, order.begin(now), shipments, now)
            if not made:
                # Nothing new: a redelivery, maybe after a crash before the send. Requests nobody answered yet go
                # out again (same request_id; the provider dedupes).
                requests.extend(unanswered(order, shipments, now))
                return 0
            for shipment in made:
                uow.add_shipment(shipment)
            requests.extend(fulfillment_request(order, s, now) for s in made if not s.in_house)
            uow.save_order(updated, expected_version=order.version)
            return len(made)

        made = apply_once(self.store, step, what=f"dispatch {order_id}")
        send_each(self.send, requests)
        return made

    def cancel_shipments(self, order_id: str) -> int:
        """The order was cancelled: stop its shipments that have not shipped. Returns how many were touched."""
        _, shipments = self.store.order_with_shipments(order_id)
        touched = 0
        for shipment in shipments:
            if not shipment.active or not shipment.before_shipping:
                continue
            if shipment.in_house:
                self.change(shipment.shipment_id, lambda o, s: progress.cancel(o, s, "order cancelled", utc_now()))
                touched += 1
            elif not shipment.cancel_sent:
                self.send(shipment.provider, cancellation_request(shipment))
                now = utc_now()
                self.change(
                    shipment.shipment_id,
                    lambda o, s, now=now: progress.Change(  # type: ignore[misc]
                        s.request_cancellation(now, self.settings.ack_timeout_seconds)
                    ),
                )
                touched += 1
        return touched

    def change(self, shipment_id: str, decide: Callable[[Order, Shipment], progress.Change]) -> Outcome:
        """Apply a decision about a shipment (and its order) atomically, from a fresh read on contention."""

        def step(uow: UnitOfWork) -> Outcome:
            found, order = self.store.shipment_and_order(shipment_id)
            shipment = require(found, shipment_id)
            if order is None:
                raise OrderNotFound(f"no order for {shipment_id}")
            change = decide(order.begin(utc_now()), shipment)
            save(uow, shipment, change, order)
            return Outcome.APPLIED if len(uow) else Outcome.NOTHING_TO_DO

        return apply_once(self.store, step, what=f"shipment {shipment_id}")
