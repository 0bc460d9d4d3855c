"""The services against in-memory fakes of their ports: every use case's rules, no AWS, no sockets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from fulfillment.config import FraudRules, Settings, parse_locations
from fulfillment.contracts.carriers import CarrierUpdate
from fulfillment.domain.events import CustomerEvent
from fulfillment.domain.model import Address, Channel, Customer, FillPolicy, Line, LineKind, Order, OrderStatus
from fulfillment.domain.shipments import Shipment, ShipmentEvent, ShipmentStatus
from fulfillment.errors import ConcurrentModification, Conflict
from fulfillment.services.backorders import Backorders
from fulfillment.services.dispatch import Dispatch
from fulfillment.services.intake import Intake
from fulfillment.services.operations import Operations
from fulfillment.services.reservation import CHUNK_BUDGET, Reservations
from fulfillment.services.timers import Timers
from fulfillment.services.tracking import Tracking
from fulfillment.services.unit import NotOwner, Outcome

from tests.unit.fakes import MemoryStore

LOCATIONS = (
    '[{"id": "WH-EAST", "provider": "tpl-east", "kind": "3pl", "priority": 1},'
    ' {"id": "WH-WEST", "provider": "tpl-west", "kind": "3pl", "priority": 2},'
    ' {"id": "HQ", "provider": "in-house", "kind": "in_house", "priority": 3}]'
)
ADDRESS = Address(name="A", line1="1 Way", city="Town", postal_code="12345", country="US")


def settings(**overrides: Any) -> Settings:
    base = Settings(
        table_name="unit",
        locations=parse_locations(LOCATIONS),
        allowed_payment_states=frozenset({"paid", "authorized"}),
        fraud_rules=FraudRules(),
        public_api_url="https://api.test",
    )
    return replace(base, **overrides)


class World:
    """The services wired to one in-memory store, and what they sent to providers."""

    def __init__(self, **overrides: Any) -> None:
        self.settings = settings(**overrides)
        self.store = MemoryStore()
        self.sent: list[Any] = []
        self.intake = Intake(self.settings, "token-key", self.store)
        self.reservations = Reservations(self.settings, self.store)
        self.backorders = Backorders(self.settings, self.store)
        self.dispatch = Dispatch(self.settings, self.store, lambda provider, message: self.sent.append(message))
        self.tracking = Tracking(self.settings, self.store)
        self.timers = Timers(self.settings, self.dispatch)
        self.operations = Operations(self.settings, self.store)

    def stock(self, sku: str, **per_location: int) -> None:
        self.store.add_catalog(sku, kind="physical")
        for location, units in per_location.items():
            self.store.put_stock(sku, location.replace("_", "-"), units)

    def place(
        self, *lines: tuple[str, int], external_id: str = "e1", now: str = "2026-11-01T10:00:00+00:00", **fields: Any
    ) -> str:
        order = Order(
            order_id="",
            channel=Channel.NATIVE,
            shop="native",
            external_id=external_id,
            currency="USD",
            lines=tuple(
                Line(line_no=n, sku=sku, quantity=q, unit_price=Decimal("10"), kind=LineKind.PHYSICAL)
                for n, (sku, q) in enumerate(lines, start=1)
            ),
            customer=Customer(email="c@example.com"),
            shipping_address=ADDRESS,
            payment_status=fields.pop("payment_status", "paid"),
            **fields,
        )
        return self.intake.accept(order, now=now).order_id

    def order(self, order_id: str) -> Order:
        order = self.store.order(order_id)
        assert order is not None
        return order

    def events(self, event: CustomerEvent) -> list[str]:
        return [oid for oid, entry in self.store.history if entry.event is event]

    def shipped(self, shipment_id: str, message_id: str = "m-ship", tracking: str = "T1") -> Outcome:
        event = ShipmentEvent(shipment_id, "tpl-east", message_id, "2026-11-01T11:00:00+00:00", "shipped")
        return self.tracking.shipped(event, "ups", tracking, "2026-11-01T11:00:00+00:00", None, provider="tpl-east")

    def tracked(self, shipment_id: str) -> Shipment:
        """Where the parcel is, as views and the delay check read it: the shipment item moved by its scans."""
        shipment = self.store.shipment(shipment_id)
        assert shipment is not None
        return shipment.with_scans(self.store.shipment_events(shipment_id))

    def level(self, sku: str, location: str) -> tuple[int, int, int]:
        level = self.store.level(sku, location)
        return level.on_hand, level.reserved, level.available


def delivered_message(shipment_id: str, message_id: str) -> Any:
    from fulfillment.contracts.provider import INBOUND

    return INBOUND.validate_python(
        {
            "type": "shipment.delivered",
            "version": 1,
            "message_id": message_id,
            "provider": "tpl-east",
            "sent_at": "2026-11-01T12:00:00Z",
            "shipment_id": shipment_id,
            "delivered_at": "2026-11-01T12:00:00Z",
        }
    )


def accepted_message(shipment_id: str, message_id: str = "m-acc", provider: str = "tpl-east") -> Any:
    from fulfillment.contracts.provider import INBOUND

    return INBOUND.validate_python(
        {
            "type": "fulfillment_request.accepted",
            "version": 1,
            "message_id": message_id,
            "provider": provider,
            "sent_at": "2026-11-01T10:30:00Z",
            "shipment_id": shipment_id,
        }
    )


# ---------------------------------------------------------------------- intake
def test_an_order_is_stored_once_whatever_the_redeliveries() -> None:
    world = World()
    world.stock("W", WH_EAST=5)
    first = world.place(("W", 1))
    again = world.place(("W", 1))
    assert first == again and len(world.store.orders) == 1
    assert world.events(CustomerEvent.ORDER_RECEIVED) == [first]


def test_a_native_external_id_reused_for_another_order_is_a_conflict() -> None:
    world = World()
    world.stock("W", WH_EAST=5)
    world.place(("W", 1))
    with pytest.raises(Conflict):
        world.place(("W", 2))


def test_unpaid_orders_are_held_and_reserve_their_stock() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    order_id = world.place(("W", 1), payment_status="pending")
    assert world.reservations.reserve(order_id) is Outcome.RESERVED
    order = world.order(order_id)
    assert order.status is OrderStatus.ON_HOLD and "awaiting_payment" in order.holds
    assert world.level("W", "WH-EAST") == (1, 1, 0)
    assert world.dispatch.dispatch(order_id) == 0  # holds block dispatch


# ---------------------------------------------------------------------- reservation
def test_a_reservation_told_its_skus_reads_the_order_and_their_stock_in_one_read() -> None:
    world = World()
    world.stock("W", WH_EAST=2)
    world.stock("V", WH_EAST=2)
    separate: list[set[str]] = []
    stock_and_catalog = world.store.stock_and_catalog
    world.store.stock_and_catalog = lambda skus, locations: (  # type: ignore[method-assign]
        separate.append(set(skus)),
        stock_and_catalog(skus, locations),
    )[1]
    told = world.place(("W", 1), ("V", 1), external_id="told")
    assert world.reservations.reserve(told, skus=("V", "W")) is Outcome.RESERVED
    assert world.store.combined_reads == 1 and separate == []
    # A message naming fewer SKUs than the order has (an older router, an order changed since): the rest are read.
    partly = world.place(("W", 1), ("V", 1), external_id="partly")
    assert world.reservations.reserve(partly, skus=("W",)) is Outcome.RESERVED
    assert world.store.combined_reads == 2 and separate == [{"V"}]
    assert [ln.reserved for ln in world.order(partly).lines] == [1, 1]
    assert world.level("W", "WH-EAST") == (2, 2, 0) and world.level("V", "WH-EAST") == (2, 2, 0)


def test_the_last_unit_is_reserved_once_and_the_other_order_waits_first_in_line() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    first, second = world.place(("W", 1), external_id="a"), world.place(("W", 1), external_id="b")
    world.reservations.reserve(first)
    world.reservations.reserve(second)
    assert world.order(first).status is OrderStatus.RESERVED
    assert world.order(second).status is OrderStatus.BACKORDERED
    assert world.level("W", "WH-EAST") == (1, 1, 0)
    assert world.store.catalog_items["W"].backordered_units == 1
    assert world.events(CustomerEvent.ORDER_BACKORDERED) == [second]


def test_stock_taken_between_the_read_and_the_write_is_not_oversold() -> None:
    world = World()
    world.stock("W", WH_EAST=1, WH_WEST=1)
    order_id = world.place(("W", 1))

    def someone_else_takes_east() -> None:
        level = world.store.stock[("W", "WH-EAST")]
        world.store.stock[("W", "WH-EAST")] = replace(level, reserved=1, available=0)

    world.store.before_commit = someone_else_takes_east
    assert world.reservations.reserve(order_id) is Outcome.RESERVED
    assert world.order(order_id).line(1).allocations == {"WH-WEST": 1}  # re-planned from a fresh read
    assert world.level("W", "WH-WEST") == (1, 1, 0)


def test_fill_or_kill_takes_nothing_when_it_cannot_take_everything() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    order_id = world.place(("W", 2), fill_policy=FillPolicy.FILL_OR_KILL)
    assert world.reservations.reserve(order_id) is Outcome.KILLED
    assert world.order(order_id).status is OrderStatus.CANCELLED
    assert world.level("W", "WH-EAST") == (1, 0, 1)


def test_a_large_order_is_reserved_in_transactions_that_fit() -> None:
    world = World()
    lines = [(f"S{n}", 1) for n in range(1, CHUNK_BUDGET + 31)]
    for sku, _ in lines:
        world.stock(sku, WH_EAST=1)
    order_id = world.place(*lines)
    commits = world.store.commits
    assert world.reservations.reserve(order_id) is Outcome.RESERVED
    # 129 SKUs in stock: a stock item each (their catalog items are the event router's to count) = 129 writes, 99 a
    # transaction besides the order.
    assert world.store.commits - commits == 2
    assert all(line.reserved == 1 for line in world.order(order_id).lines)


def test_cancelling_releases_the_units_and_the_place_in_the_queue() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    order_id = world.place(("W", 3))
    world.reservations.reserve(order_id)
    world.operations.cancel(order_id, reason="customer")
    assert world.reservations.release(order_id) is Outcome.RELEASED
    order = world.order(order_id)
    assert (order.line(1).reserved, order.line(1).backordered) == (0, 0)
    assert world.level("W", "WH-EAST") == (1, 0, 1)
    assert world.store.queue == {} and world.store.catalog_items["W"].backordered_units == 0


def test_restocked_units_go_to_the_oldest_backorder_first() -> None:
    world = World()
    world.stock("W", WH_EAST=0)
    older, newer = world.place(("W", 1), external_id="a"), world.place(("W", 1), external_id="b")
    world.reservations.reserve(older)
    world.reservations.reserve(newer)
    world.store.put_stock("W", "WH-EAST", 1)
    assert world.backorders.allocate("W") == 1
    assert world.order(older).line(1).reserved == 1 and world.order(newer).line(1).backordered == 1


def test_an_older_order_that_joins_the_queue_while_it_is_served_is_served_first() -> None:
    # Given a newer order waiting for W, and an older one not yet in the queue (say re-routed after a provider's
    # out-of-stock: it takes its place by order time)
    world = World()
    world.stock("W", WH_EAST=0)
    older = world.place(("W", 1), external_id="a", now="2026-11-01T09:00:00+00:00")
    newer = world.place(("W", 1), external_id="b", now="2026-11-01T10:00:00+00:00")
    world.reservations.reserve(newer)
    world.store.put_stock("W", "WH-EAST", 1)

    # When the older one joins the queue between the restock's read of the queue and its first serve
    world.store.before_commit = lambda: world.reservations.reserve(older)
    assert world.backorders.allocate("W") == 1

    # Then the unit goes to the older order: the serve saw the queue change and read it again
    assert world.order(older).line(1).reserved == 1 and world.order(newer).line(1).backordered == 1
    assert world.store.catalog_items["W"].backordered_units == 1


# ---------------------------------------------------------------------- dispatch
def reserved_and_dispatched(world: World, *lines: tuple[str, int]) -> tuple[str, str]:
    order_id = world.place(*lines)
    world.reservations.reserve(order_id)
    assert world.dispatch.dispatch(order_id) == 1
    [shipment] = world.store.order_with_shipments(order_id)[1]
    return order_id, shipment.shipment_id


def test_a_shipment_is_requested_once_and_a_redelivery_resends_only_what_nobody_answered() -> None:
    world = World()
    world.stock("W", WH_EAST=2)
    order_id, shipment_id = reserved_and_dispatched(world, ("W", 2))
    assert [m.request_id for m in world.sent] == [shipment_id]
    assert world.order(order_id).status is OrderStatus.DISPATCHED
    # a redelivered dispatch_order (say the first one crashed after its write): nothing new, the request again
    assert world.dispatch.dispatch(order_id) == 0
    assert [m.request_id for m in world.sent] == [shipment_id, shipment_id]
    # once the provider answered, a redelivery sends nothing
    world.tracking.provider_message(accepted_message(shipment_id))
    assert world.dispatch.dispatch(order_id) == 0 and len(world.sent) == 2


def test_an_order_reserved_whole_is_dispatched_in_the_same_write() -> None:
    world = World()
    world.stock("W", WH_EAST=1, WH_WEST=2)
    reservations = Reservations(world.settings, world.store, lambda provider, message: world.sent.append(message))
    order_id = world.place(("W", 3))
    commits = world.store.commits
    assert reservations.reserve(order_id) is Outcome.RESERVED
    assert world.store.commits == commits + 1  # the stock, the order and its two shipments: one transaction
    order, shipments = world.store.order_with_shipments(order_id)
    assert order is not None and order.status is OrderStatus.DISPATCHED and order.undispatched == 0
    assert sorted((s.location, s.status.value) for s in shipments) == [
        ("WH-EAST", "submitted"),
        ("WH-WEST", "submitted"),
    ]
    assert sorted(m.request_id for m in world.sent) == sorted(s.shipment_id for s in shipments)
    assert world.dispatch.dispatch(order_id) == 0 and len(world.sent) == 4  # nothing new: re-sends the unanswered
    # a redelivered reserve_order (the first one crashed after its write): the unanswered requests again
    world.sent.clear()
    world.tracking.provider_message(accepted_message(shipments[0].shipment_id))
    assert reservations.reserve(order_id) is Outcome.NOTHING_TO_DO
    assert [m.request_id for m in world.sent] == [shipments[1].shipment_id]


def test_a_held_order_is_reserved_but_left_for_the_dispatch_step() -> None:
    world = World()
    world.stock("W", WH_EAST=2)
    reservations = Reservations(world.settings, world.store, lambda provider, message: world.sent.append(message))
    order_id = world.place(("W", 2), payment_status="pending")
    assert reservations.reserve(order_id) is Outcome.RESERVED
    order, shipments = world.store.order_with_shipments(order_id)
    assert order is not None and order.status is OrderStatus.ON_HOLD and order.lines[0].reserved == 2
    assert shipments == [] and world.sent == []


def test_cancelling_a_requested_shipment_asks_the_provider_and_keeps_the_units_until_it_answers() -> None:
    from fulfillment.contracts.provider import INBOUND

    world = World()
    world.stock("W", WH_EAST=2)
    order_id, shipment_id = reserved_and_dispatched(world, ("W", 2))
    world.operations.cancel(order_id, reason=None)
    assert world.dispatch.cancel_shipments(order_id) == 1
    assert [m.type for m in world.sent] == ["fulfillment_request", "cancellation_request"]
    world.reservations.release(order_id)
    assert world.level("W", "WH-EAST") == (2, 2, 0)  # the provider may still ship them
    answer = {"type": "cancellation_request.accepted", "version": 1, "message_id": "m-c", "provider": "tpl-east"}
    world.tracking.provider_message(
        INBOUND.validate_python({**answer, "sent_at": "2026-11-01T10:40:00Z", "shipment_id": shipment_id})
    )
    world.reservations.release(order_id)
    assert world.level("W", "WH-EAST") == (2, 0, 2)


# ---------------------------------------------------------------------- provider messages and carriers
def submitted(world: World, *lines: tuple[str, int]) -> tuple[str, str]:
    return reserved_and_dispatched(world, *lines)


def test_a_provider_message_is_applied_once_and_only_from_its_provider() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    _, shipment_id = submitted(world, ("W", 1))
    assert world.tracking.provider_message(accepted_message(shipment_id)) is Outcome.APPLIED
    assert world.tracking.provider_message(accepted_message(shipment_id)) is Outcome.DUPLICATE
    with pytest.raises(NotOwner):
        world.tracking.provider_message(accepted_message(shipment_id, "m-2", provider="tpl-west"))
    shipment = world.store.shipment(shipment_id)
    assert shipment is not None and shipment.status is ShipmentStatus.ACCEPTED and shipment.timer_due is None


def test_shipping_moves_the_stock_and_the_order_once() -> None:
    world = World()
    world.stock("W", WH_EAST=2)
    order_id, shipment_id = submitted(world, ("W", 2))
    assert world.shipped(shipment_id) is Outcome.APPLIED
    assert world.shipped(shipment_id) is Outcome.DUPLICATE
    assert world.level("W", "WH-EAST") == (0, 0, 0)
    assert world.store.stock[("W", "WH-EAST")].shipped == 2
    assert world.order(order_id).status is OrderStatus.SHIPPED
    assert world.events(CustomerEvent.ORDER_SHIPPED) == [order_id]


def test_delivery_reported_by_the_3pl_and_the_carrier_is_one_delivery() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    order_id, shipment_id = submitted(world, ("W", 1))
    world.shipped(shipment_id)
    world.tracking.provider_message(delivered_message(shipment_id, "m-del"))
    carrier = CarrierUpdate(
        "easypost",
        "ev-1",
        "ups",
        "T1",
        ShipmentStatus.DELIVERED,
        "delivered",
        "2026-11-01T12:05:00+00:00",
        None,
        None,
        None,
    )
    assert world.tracking.carrier_update(carrier) is Outcome.RECORDED
    assert world.order(order_id).status is OrderStatus.DELIVERED
    assert world.events(CustomerEvent.SHIPMENT_DELIVERED) == [order_id]
    assert world.events(CustomerEvent.ORDER_DELIVERED) == [order_id]


def shipped_and_scanned() -> tuple[World, str, Callable[[str, ShipmentStatus, str], Outcome]]:
    """A shipped shipment (tracking T1 at UPS) and a way to scan it: (event id, status, when) -> outcome."""
    world = World()
    world.stock("W", WH_EAST=1)
    _, shipment_id = submitted(world, ("W", 1))
    world.shipped(shipment_id)

    def scan(event_id: str, status: ShipmentStatus, at: str) -> Outcome:
        update = CarrierUpdate("aftership", event_id, "ups", "T1", status, status.value, at, None, None, None)
        return world.tracking.carrier_update(update)

    return world, shipment_id, scan


def test_a_late_older_scan_is_recorded_but_never_regresses_the_status() -> None:
    world, shipment_id, scan = shipped_and_scanned()

    assert scan("e1", ShipmentStatus.OUT_FOR_DELIVERY, "2026-11-01T11:50:00+00:00") is Outcome.APPLIED
    assert scan("e2", ShipmentStatus.IN_TRANSIT, "2026-11-01T11:20:00+00:00") is Outcome.APPLIED
    assert scan("e2", ShipmentStatus.IN_TRANSIT, "2026-11-01T11:20:00+00:00") is Outcome.DUPLICATE
    assert world.tracked(shipment_id).status is ShipmentStatus.OUT_FOR_DELIVERY
    assert [e.detail["status"] for e in world.store.shipment_events(shipment_id) if e.type == "tracking"] == [
        "in_transit",
        "out_for_delivery",
    ]


def test_a_return_to_sender_older_than_the_last_scan_does_not_end_the_shipment() -> None:
    """Scans are event items beside the shipment: a report that would end it is judged against them too."""
    world, shipment_id, scan = shipped_and_scanned()

    scan("e1", ShipmentStatus.OUT_FOR_DELIVERY, "2026-11-01T11:50:00+00:00")
    scan("e2", ShipmentStatus.RETURN_TO_SENDER, "2026-11-01T11:20:00+00:00")  # older than the last scan
    assert world.tracked(shipment_id).status is ShipmentStatus.OUT_FOR_DELIVERY
    scan("e3", ShipmentStatus.RETURN_TO_SENDER, "2026-11-01T12:30:00+00:00")
    assert world.tracked(shipment_id).status is ShipmentStatus.RETURN_TO_SENDER
    shipment = world.store.shipment(shipment_id)
    assert shipment is not None and shipment.status is ShipmentStatus.RETURN_TO_SENDER  # on the item: it is owed


def test_a_scan_on_the_way_is_its_event_item_alone() -> None:
    """In transit, out for delivery...: one conditional write of the scan's own item, keyed by the message. The
    shipment is neither read nor written (its version stays); its whereabouts are the item moved by its scans."""
    world, shipment_id, _ = shipped_and_scanned()
    before = world.store.shipment(shipment_id)
    reads: list[str] = []
    for name in ("shipment", "shipment_and_order", "shipped_context"):
        original = getattr(world.store, name)
        setattr(world.store, name, lambda *a, _n=name, _o=original, **k: (reads.append(_n), _o(*a, **k))[1])
    update = CarrierUpdate(
        "easypost",
        "ev-9",
        "ups",
        "T1",
        ShipmentStatus.IN_TRANSIT,
        "in_transit",
        "2026-11-01T11:30:00+00:00",
        "Departed",
        "Memphis",
        "2026-11-03T18:00:00+00:00",
    )
    commits = world.store.commits
    assert world.tracking.carrier_update(update) is Outcome.APPLIED
    assert world.store.commits == commits and reads == []
    assert world.store.shipment(shipment_id) == before
    (event,) = [e for e in world.store.shipment_events(shipment_id) if e.source == "easypost"]
    assert (event.message_id, event.detail["status"], event.detail["location"]) == ("ev-9", "in_transit", "Memphis")
    assert event.recorded_at
    tracked = world.tracked(shipment_id)
    assert (tracked.status, tracked.est_delivery) == (ShipmentStatus.IN_TRANSIT, "2026-11-03T18:00:00+00:00")
    assert tracked.heard_at is not None and tracked.heard_at >= event.recorded_at
    assert world.tracking.carrier_update(update) is Outcome.DUPLICATE


def test_a_message_that_changes_the_shipment_is_one_write_and_the_router_makes_its_event_item() -> None:
    from fulfillment import keys, router
    from fulfillment.adapters.codecs import shipment as shipment_codec

    world, shipment_id, _ = shipped_and_scanned()
    before = world.store.shipment(shipment_id)
    written: list[Any] = []
    unit = world.store.unit

    def counting_unit() -> Any:
        uow = unit()
        original = uow.save_shipment

        def save_shipment(shipment: Any, **kw: Any) -> None:
            written.append((shipment, kw))
            original(shipment, **kw)

        uow.save_shipment = save_shipment  # type: ignore[method-assign]
        return uow

    world.store.unit = counting_unit  # type: ignore[method-assign]
    update = CarrierUpdate(
        "easypost",
        "ev-9",
        "ups",
        "T1",
        ShipmentStatus.RETURN_TO_SENDER,
        "return_to_sender",
        "2026-11-01T11:30:00+00:00",
        "Refused",
        "Memphis",
        None,
    )
    commits = world.store.commits
    assert world.tracking.carrier_update(update) is Outcome.APPLIED
    assert world.store.commits == commits + 1 and len(written) == 1  # one commit, of the shipment alone
    shipment, kw = written[0]
    assert shipment.status is ShipmentStatus.RETURN_TO_SENDER
    heard = kw["heard"]
    assert (heard.source, heard.message_id, heard.detail["status"]) == ("easypost", "ev-9", "return_to_sender")
    # The stream image of that write: the router stores the message as the shipment's event item.
    assert before is not None
    new = shipment_codec.to_item(shipment, kw["changes"], heard)
    old = shipment_codec.to_item(before)
    routed = router.route(new["SK"], new, old)
    event_items = [h for h in routed.history if shipment_codec.is_shipment_event(h)]
    assert [(i["PK"], i["SK"]) for i in event_items] == [
        tuple(keys.shipment_event_key(shipment_id, "easypost", "ev-9").values())
    ]
    assert shipment_codec.event_from_item(event_items[0]).detail["location"] == "Memphis"
    assert router.route(new["SK"], new, new).history == []  # the same version again (a retried record): nothing


def test_two_copies_of_shipped_racing_each_other_ship_once() -> None:
    """The copy that loses finds the shipment changed and its stock gone: the changed shipment wins (read
    again: the message is known), not the stock (which would dead-letter a message that was applied)."""
    world = World()
    world.stock("W", WH_EAST=2)
    order_id, shipment_id = submitted(world, ("W", 2))
    outcomes: list[Outcome] = []
    world.store.before_commit = lambda: outcomes.append(world.shipped(shipment_id))
    outcomes.append(world.shipped(shipment_id))
    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert world.store.stock[("W", "WH-EAST")].shipped == 2 and world.level("W", "WH-EAST") == (0, 0, 0)
    assert world.events(CustomerEvent.ORDER_SHIPPED) == [order_id]


def test_a_message_heard_again_after_many_others_is_still_a_duplicate() -> None:
    from fulfillment.domain.shipments import SEEN_LIMIT

    parcels = SEEN_LIMIT + 3
    world = World()
    world.stock("W", WH_EAST=parcels)
    _, shipment_id = submitted(world, ("W", parcels))

    def parcel(n: int) -> Outcome:  # the 3PL ships it a unit at a time: each message a write of the shipment
        at = f"2026-11-01T11:{n:02d}:00+00:00"
        event = ShipmentEvent(shipment_id, "tpl-east", f"m-parcel-{n}", at, "shipped")
        return world.tracking.shipped(event, "ups", f"T{n}", at, [("W", 1)], provider="tpl-east")

    for n in range(parcels):
        assert parcel(n) is Outcome.APPLIED
    shipment = world.store.shipment(shipment_id)
    assert shipment is not None and len(shipment.seen) == SEEN_LIMIT and shipment.may_have_forgotten
    version = shipment.version
    # Out of the window: found through its event item, applied no second time.
    assert parcel(0) is Outcome.DUPLICATE
    # In the window: known without that read.
    world.store.events.clear()
    assert parcel(parcels - 1) is Outcome.DUPLICATE
    after = world.store.shipment(shipment_id)
    assert after is not None and after.version == version and world.store.stock[("W", "WH-EAST")].shipped == parcels


def test_a_message_that_changes_nothing_is_its_event_item_alone() -> None:
    """The 3PL's `delivered` after the carrier's: read, found to change nothing, recorded as history - its own event
    item, the shipment not written - once."""
    world = World()
    world.stock("W", WH_EAST=1)
    _, shipment_id = submitted(world, ("W", 1))
    world.shipped(shipment_id)
    assert world.tracking.provider_message(delivered_message(shipment_id, "m-del")) is Outcome.APPLIED
    delivered = world.store.shipment(shipment_id)
    commits = world.store.commits
    assert world.tracking.provider_message(delivered_message(shipment_id, "m-del-again")) is Outcome.RECORDED
    assert world.store.commits == commits and world.store.shipment(shipment_id) == delivered
    assert "m-del-again" in [e.message_id for e in world.store.shipment_events(shipment_id)]
    assert world.tracking.provider_message(delivered_message(shipment_id, "m-del-again")) is Outcome.DUPLICATE


def test_a_carrier_faster_than_the_3pl_is_kept_and_applied_when_the_number_arrives() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    _, shipment_id = submitted(world, ("W", 1))
    early = CarrierUpdate(
        "aftership",
        "e0",
        "ups",
        "T1",
        ShipmentStatus.IN_TRANSIT,
        "InTransit",
        "2026-11-01T11:30:00+00:00",
        None,
        None,
        None,
    )
    assert world.tracking.carrier_update(early, keep_if_unknown=True) is Outcome.KEPT_FOR_LATER
    world.shipped(shipment_id)
    assert world.tracked(shipment_id).status is ShipmentStatus.IN_TRANSIT


def in_transit_scan(event_id: str, at: str = "2026-11-01T11:30:00+00:00") -> CarrierUpdate:
    return CarrierUpdate(
        "aftership", event_id, "ups", "T1", ShipmentStatus.IN_TRANSIT, "InTransit", at, None, None, None
    )


def test_a_scan_kept_while_shipped_is_being_written_is_still_applied() -> None:
    """The carrier's scan is kept between the 3PL's `shipped` reading the number and writing its pointer: the
    write finds a kept update it did not read, reads again, and replays it."""
    world = World()
    world.stock("W", WH_EAST=1)
    _, shipment_id = submitted(world, ("W", 1))
    outcomes: list[Outcome] = []
    world.store.before_commit = lambda: outcomes.append(
        world.tracking.carrier_update(in_transit_scan("e0"), keep_if_unknown=True)
    )
    assert world.shipped(shipment_id) is Outcome.APPLIED
    assert outcomes == [Outcome.KEPT_FOR_LATER]
    assert world.tracked(shipment_id).status is ShipmentStatus.IN_TRANSIT
    # Once the number is claimed, a kept-if-unknown scan is applied at once (the refused keep names the shipment).
    world.store.pointers.clear()  # as an eventually consistent read that has not seen the pointer yet
    world.store.pointers[("ups", "T1")] = shipment_id
    late = in_transit_scan("e1", "2026-11-01T11:40:00+00:00")
    assert world.tracking.carrier_update(late, keep_if_unknown=True) is Outcome.APPLIED
    assert world.tracking.carrier_update(late, keep_if_unknown=True) is Outcome.DUPLICATE


def test_a_redelivered_shipped_replays_what_its_first_delivery_may_not_have() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    _, shipment_id = submitted(world, ("W", 1))
    assert world.tracking.carrier_update(in_transit_scan("e0"), keep_if_unknown=True) is Outcome.KEPT_FOR_LATER
    replay = world.tracking.replay
    world.tracking.replay = lambda kept, sid: 0  # type: ignore[method-assign]  # crashed after the commit
    assert world.shipped(shipment_id) is Outcome.APPLIED
    assert world.tracked(shipment_id).status is ShipmentStatus.SHIPPED
    world.tracking.replay = replay  # type: ignore[method-assign]
    assert world.shipped(shipment_id) is Outcome.DUPLICATE
    assert world.tracked(shipment_id).status is ShipmentStatus.IN_TRANSIT
    assert world.shipped(shipment_id) is Outcome.DUPLICATE  # and replaying again changes nothing
    assert [e.message_id for e in world.store.shipment_events(shipment_id)].count("e0") == 1


def test_an_out_of_stock_rejection_writes_the_units_off_and_reserves_them_elsewhere() -> None:
    from fulfillment.contracts.provider import INBOUND

    world = World()
    world.stock("W", WH_EAST=1, WH_WEST=1)
    order_id, shipment_id = submitted(world, ("W", 1))
    rejected = INBOUND.validate_python(
        {
            "type": "fulfillment_request.rejected",
            "version": 1,
            "message_id": "m-rej",
            "provider": "tpl-east",
            "sent_at": "2026-11-01T10:30:00Z",
            "shipment_id": shipment_id,
            "reason": "INVENTORY_OUT_OF_STOCK",
            "message": "none on the shelf",
        }
    )
    assert world.tracking.provider_message(rejected) is Outcome.APPLIED
    assert world.level("W", "WH-EAST") == (0, 0, 0)
    assert [a.reason for a in world.store.adjustments("W", "WH-EAST")] == ["correction"]
    world.reservations.reserve(order_id)
    assert world.order(order_id).line(1).allocations == {"WH-WEST": 1}


# ---------------------------------------------------------------------- timers and operators
def test_a_silent_provider_gets_resends_then_the_order_is_held() -> None:
    world = World(ack_timeout_seconds=0, max_submit_attempts=2)
    world.stock("W", WH_EAST=1)
    order_id, shipment_id = submitted(world, ("W", 1))
    assert world.timers.check(shipment_id) is Outcome.RESENT
    assert world.timers.check(shipment_id) is Outcome.HELD
    assert "provider_unresponsive" in world.order(order_id).holds
    assert len(world.sent) == 2 and world.events(CustomerEvent.ORDER_ON_HOLD) == [order_id]


def test_no_news_for_too_long_raises_shipment_delayed_once() -> None:
    world = World(delay_after_seconds=0)
    world.stock("W", WH_EAST=1)
    order_id, shipment_id = submitted(world, ("W", 1))
    world.shipped(shipment_id)
    assert world.timers.check(shipment_id) is Outcome.DELAYED
    assert world.timers.check(shipment_id) is Outcome.NOT_DUE
    assert world.events(CustomerEvent.SHIPMENT_DELAYED) == [order_id]


def test_the_delay_check_hears_scans_recorded_beside_the_shipment() -> None:
    """A scan on the way is its own event item (the shipment is not written): when the delay timer is due, the
    check reads them, so a parcel scanned since it shipped is re-armed from that scan, not reported delayed."""
    from dataclasses import replace

    from fulfillment.services.unit import utc_now

    def shipped_an_hour_ago(scanned: bool) -> tuple[World, str]:
        world = World(delay_after_seconds=3600)
        world.stock("W", WH_EAST=1)
        _, shipment_id = submitted(world, ("W", 1))
        world.shipped(shipment_id)
        shipment = world.store.shipments[shipment_id]  # its timer due now, as if an hour had passed
        world.store.shipments[shipment_id] = replace(shipment, timer_due="2026-01-01T00:00:00+00:00", heard_at=None)
        world.store.events = {k: replace(e, recorded_at=e.at) for k, e in world.store.events.items()}
        if scanned:
            scan = CarrierUpdate(
                "aftership", "e1", "ups", "T1", ShipmentStatus.IN_TRANSIT, "InTransit", utc_now(), None, None, None
            )
            assert world.tracking.carrier_update(scan) is Outcome.APPLIED
        return world, shipment_id

    world, shipment_id = shipped_an_hour_ago(scanned=True)
    assert world.timers.check(shipment_id) is Outcome.REARMED
    rearmed = world.store.shipment(shipment_id)
    assert rearmed is not None and rearmed.timer_due is not None and rearmed.timer_due > utc_now()
    world, shipment_id = shipped_an_hour_ago(scanned=False)
    assert world.timers.check(shipment_id) is Outcome.DELAYED


def test_a_delay_says_when_the_carrier_expected_the_parcel() -> None:
    """The carrier's estimate rides on a scan's event item (the shipment is not written): ShipmentDelayed still
    carries it, as its contract says."""
    from dataclasses import replace

    from fulfillment.services.unit import utc_now

    world = World(delay_after_seconds=3600)
    world.stock("W", WH_EAST=1)
    _, shipment_id = submitted(world, ("W", 1))
    world.shipped(shipment_id)
    expected = "2026-01-02T00:00:00+00:00"  # long ago: the parcel is overdue although scanned just now
    scan = CarrierUpdate(
        "aftership", "e1", "ups", "T1", ShipmentStatus.IN_TRANSIT, "InTransit", utc_now(), None, None, expected
    )
    assert world.tracking.carrier_update(scan) is Outcome.APPLIED
    shipment = world.store.shipments[shipment_id]
    world.store.shipments[shipment_id] = replace(shipment, timer_due="2026-01-01T00:00:00+00:00")
    assert world.timers.check(shipment_id) is Outcome.DELAYED
    [entry] = [e for _, e in world.store.history if e.event is CustomerEvent.SHIPMENT_DELAYED]
    assert entry.detail["est_delivery"] == expected


def test_an_in_house_shipment_of_a_cancelled_order_cannot_ship() -> None:
    world = World()
    world.stock("W", HQ=1)
    order_id = world.place(("W", 1))
    world.reservations.reserve(order_id)
    world.dispatch.dispatch(order_id)
    [shipment] = world.store.order_with_shipments(order_id)[1]
    world.operations.cancel(order_id, reason=None)
    with pytest.raises(Conflict):
        world.operations.ship_in_house(
            shipment.shipment_id, "ups", "1Z", None, idempotency_key="k", tracking=world.tracking
        )
    assert world.order(order_id).line(1).shipped == 0


def test_an_operator_change_that_keeps_colliding_gives_up_with_a_conflict() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    order_id = world.place(("W", 1))
    real = world.store.order
    world.store.order = lambda oid: replace(real(oid), version=0)  # type: ignore[method-assign]
    with pytest.raises(ConcurrentModification) as raised:
        world.operations.cancel(order_id, reason=None)
    assert raised.value.status == 409


def test_timer_checks_wait_while_the_dispatch_queue_is_behind() -> None:
    from fulfillment.services.timers import behind

    assert not behind(due=30, queued=90)  # a normal backlog: queue them
    assert behind(due=30, queued=2767)  # the consumer is far behind: re-queuing the same timers would snowball
    assert not behind(due=200, queued=350)
