"""Pure domain rules: allocation, aggregate status precedence, holds, event identity."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from fulfillment.config import FraudRules
from fulfillment.domain import holds
from fulfillment.domain.allocation import plan_lines
from fulfillment.domain.events import CustomerEvent, event_id
from fulfillment.domain.model import (
    Address,
    Channel,
    Customer,
    Hold,
    Line,
    LineKind,
    Order,
    OrderStatus,
    WorkState,
    order_id_for,
)
from fulfillment.domain.shipments import Shipment, ShipmentLine, ShipmentStatus
from fulfillment.services.intake import apply_snapshot

ADDRESS = Address(name="A", line1="1 Way", city="Town", postal_code="12345", country="US")


def order(*lines: Line, **kwargs) -> Order:
    base = Order(
        order_id="o_1",
        channel=Channel.NATIVE,
        shop="native",
        external_id="e1",
        currency="USD",
        lines=lines,
        customer=Customer(email="a@example.com"),
        shipping_address=ADDRESS,
        payment_status="paid",
    )
    return replace(base, **kwargs)


def line(n: int = 1, qty: int = 2, kind: LineKind = LineKind.PHYSICAL, **kwargs) -> Line:
    return Line(line_no=n, sku=f"S{n}", quantity=qty, unit_price=Decimal("10"), kind=kind, **kwargs)


def test_allocation_fills_by_priority_and_spills_over() -> None:
    available = {("A", "L1"): 2, ("A", "L2"): 5}
    [plan] = plan_lines([(1, "A", 4)], available, ["L1", "L2"])
    assert plan.allocations == {"L1": 2, "L2": 2} and plan.backordered == 0
    assert available == {("A", "L1"): 2, ("A", "L2"): 5}  # not mutated


def test_allocation_serves_earlier_lines_first_and_backorders_the_rest() -> None:
    plans = plan_lines([(1, "A", 3), (2, "A", 3)], {("A", "L1"): 4}, ["L1"])
    assert [(p.reserved, p.backordered) for p in plans] == [(3, 0), (1, 2)]


def test_status_precedence() -> None:
    assert (order(line())).status is OrderStatus.RECEIVED
    assert (order(line(reserved=2))).status is OrderStatus.RESERVED
    assert (order(line(reserved=1, backordered=1))).status is OrderStatus.BACKORDERED
    assert (order(line(reserved=2, shipped=1))).status is OrderStatus.PARTIALLY_SHIPPED
    assert (order(line(shipped=2))).status is OrderStatus.SHIPPED
    assert (order(line(shipped=2, delivered=2))).status is OrderStatus.DELIVERED
    held = order(line(shipped=2, delivered=2), holds={"fraud_review": {}})
    assert (held).status is OrderStatus.ON_HOLD
    assert (replace(held, cancelled=True)).status is OrderStatus.CANCELLED


def test_mixed_order_is_delivered_only_when_its_digital_lines_are_issued_too() -> None:
    physical = line(shipped=2, delivered=2)
    digital = replace(line(kind=LineKind.DIGITAL), line_no=2)
    mixed = order(physical, digital)
    assert mixed.status is OrderStatus.SHIPPED and not mixed.is_delivered
    issued = order(physical, replace(digital, issued=digital.quantity))
    assert issued.status is OrderStatus.DELIVERED and issued.is_delivered
    delivering = order(line(shipped=2, delivered=0), digital).begin("t")
    delivered = delivering.deliver("o.001", {1: 2}, whole_shipment=True)
    assert CustomerEvent.ORDER_DELIVERED not in [e.event for e in delivered.changes]  # the same rule as the status


def test_digital_only_order_needs_no_reservation() -> None:
    assert (order(line(kind=LineKind.DIGITAL))).status is OrderStatus.RESERVED


def test_holds_from_content() -> None:
    rules = FraudRules(
        max_order_value=Decimal("100"),
        max_line_quantity=5,
        high_value_without_email=Decimal("15"),
        high_risk_countries=frozenset({"XX"}),
    )
    clean = order(line(qty=2))
    assert holds.evaluate(clean, allowed_payment_states={"paid"}, rules=rules) == {}
    problem = replace(
        order(line(qty=6), line(2, known=False)),
        payment_status="pending",
        customer=Customer(email=None),
        shipping_address=Address(line1="x", country="XX"),
    )
    found = holds.evaluate(problem, allowed_payment_states={"paid"}, rules=rules)
    assert set(found) == {Hold.AWAITING_PAYMENT, Hold.FRAUD_REVIEW, Hold.ADDRESS_INVALID, Hold.UNKNOWN_SKU}
    assert "high-risk country XX" in found[Hold.FRAUD_REVIEW]
    assert "missing city" in found[Hold.ADDRESS_INVALID]


def test_digital_only_orders_need_no_address() -> None:
    digital = order(line(kind=LineKind.DIGITAL), shipping_address=None)
    assert Hold.ADDRESS_INVALID not in holds.evaluate(digital, allowed_payment_states={"paid"}, rules=FraudRules())


def test_countries_without_postcodes_are_deliverable() -> None:
    assert holds.address_problems(Address(line1="1 Road", city="Hong Kong", country="HK")) == []
    assert holds.address_problems(Address(line1="1 Road", city="Paris", country="FR")) == ["missing postal_code"]


def test_order_id_is_the_same_for_every_delivery_of_one_order() -> None:
    assert order_id_for(Channel.SHOPIFY, "Shop.myshopify.com", "1") == order_id_for(
        Channel.SHOPIFY, "shop.myshopify.com", "1"
    )
    assert order_id_for(Channel.SHOPIFY, "a", "1") != order_id_for(Channel.WOOCOMMERCE, "a", "1")


def test_event_ids_are_stable_per_occurrence() -> None:
    assert event_id("o_1", CustomerEvent.ORDER_RECEIVED, "") == event_id("o_1", CustomerEvent.ORDER_RECEIVED, "")
    assert event_id("o_1", CustomerEvent.ORDER_ON_HOLD, "fraud_review:1") != event_id(
        "o_1", CustomerEvent.ORDER_ON_HOLD, "fraud_review:4"
    )


def test_older_snapshots_never_overwrite_newer_ones() -> None:
    stored = order(line(), source_updated_at="2026-01-02T00:00:00+00:00", payment_status="paid", version=3)
    older = replace(stored, payment_status="pending", source_updated_at="2026-01-01T00:00:00+00:00")
    same = replace(stored)
    assert apply_snapshot(stored, older, now="t", allowed_payment_states=frozenset({"paid"})) is None
    assert apply_snapshot(stored, same, now="t", allowed_payment_states=frozenset({"paid"})) is None


def test_cancelling_a_reserved_order_asks_for_a_release() -> None:
    reserved = order(line(reserved=2), reservation_state=WorkState.DONE)
    cancelled = reserved.cancel(reason="x", by="operator")
    assert cancelled.release_state is WorkState.PENDING
    assert [e.event for e in cancelled.changes] == [CustomerEvent.ORDER_CANCELLED]
    assert cancelled.cancel(reason="again", by="operator") == cancelled


def shipment(**kwargs) -> Shipment:
    lines = kwargs.pop("lines", (ShipmentLine(1, "S1", 2), ShipmentLine(2, "S2", 1)))
    return Shipment("o_1.001", "o_1", "tpl", "3pl", "WH", lines, "o_1.001", "t0", **kwargs)


def test_shipment_progress_never_moves_backwards_nor_out_of_a_terminal_status() -> None:
    moving = shipment(status=ShipmentStatus.OUT_FOR_DELIVERY, status_at="2026-01-02")
    assert not moving.can_progress(ShipmentStatus.IN_TRANSIT, "2026-01-01")  # older report: history only
    assert moving.can_progress(ShipmentStatus.ATTEMPT_FAILED, "2026-01-03")  # same rank, newer: allowed
    assert not moving.can_progress(ShipmentStatus.ACCEPTED, "2026-01-03")  # carriers never reach pre-shipping
    assert not shipment(status=ShipmentStatus.DELIVERED).can_progress(ShipmentStatus.EXCEPTION, "2026-02-01")
    assert shipment(status=ShipmentStatus.SUBMITTED).can_progress(ShipmentStatus.IN_TRANSIT, "2026-01-01")


def test_a_partial_shipment_ships_the_reported_skus_and_delivery_waits_for_the_last_parcel() -> None:
    s = shipment(status=ShipmentStatus.ACCEPTED)
    units = s.units_to_ship([("S1", 1)])
    assert units == {1: 1}
    first = s.ship(units, "ups", "T1", "t1")
    assert first.status is ShipmentStatus.SHIPPED and first.unshipped == {1: 1, 2: 1}
    parcel = first.deliver_parcels("t2")
    assert parcel.status is ShipmentStatus.SHIPPED and [ln.delivered for ln in parcel.lines] == [1, 0]
    rest = parcel.ship(parcel.units_to_ship(None), "ups", "T2", "t3")
    assert rest.newly_delivered() == {1: 1, 2: 1}
    assert rest.deliver_parcels("t4").status is ShipmentStatus.DELIVERED


def test_a_shipments_due_time_is_kept_once_as_its_timer_index_key_and_old_items_still_decode() -> None:
    from fulfillment.adapters.codecs import shipment as shipment_codec

    armed = shipment(status=ShipmentStatus.SUBMITTED, timer_due="2026-01-02T00:00:00.000000+00:00")
    item = shipment_codec.to_item(armed)
    assert "timer_due" not in item and item["GSI2SK"] == armed.timer_due
    assert shipment_codec.from_item(item).timer_due == armed.timer_due
    earlier = {**item, "GSI2SK": f"{armed.timer_due}#{armed.shipment_id}", "timer_due": armed.timer_due}
    assert shipment_codec.from_item(earlier).timer_due == armed.timer_due
    assert shipment_codec.from_item(shipment_codec.to_item(replace(armed, timer_due=None))).timer_due is None


# ---------------------------------------------------------------------- history the router writes
def test_a_batchs_timeline_items_ride_on_one_history_item_of_their_order_and_are_read_once() -> None:
    from fulfillment.adapters.codecs import order as order_codec
    from fulfillment.adapters.codecs import shipment as shipment_codec
    from fulfillment.domain.shipments import ShipmentEvent
    from fulfillment.router import fold_history

    def change(order_id: str, version: int, entry: str) -> dict:
        at = f"2026-11-01T10:00:0{version}+00:00"
        return order_codec.timeline_item(order_id, at, "o", version, [{"type": entry, "detail": {}}])

    def heard(order_id: str, message_id: str) -> dict:
        event = ShipmentEvent(f"{order_id}.001", "tpl-east", message_id, "2026-11-01T10:00:00+00:00", "shipped")
        return shipment_codec.event_to_item(event)

    a_shipped, a_message, a_scan = change("o_a", 5, "shipped"), heard("o_a", "m1"), heard("o_a", "m2")
    b_paid, b_reserved = change("o_b", 2, "payment_updated"), change("o_b", 3, "reserved")
    folded = fold_history([(0, a_shipped), (1, a_message), (2, b_paid), (3, b_reserved), (4, a_scan)])

    assert [(n, item["SK"]) for n, item in folded] == [(0, a_message["SK"]), (4, a_scan["SK"]), (2, b_paid["SK"])]
    assert [carried["SK"] for carried in folded[0][1]["timelines"]] == [a_shipped["SK"]]
    assert [carried["SK"] for carried in folded[2][1]["timelines"]] == [b_reserved["SK"]]
    # a retried batch that wrote the change on its own as well: the order's timeline holds it once
    stored = [folded[0][1], folded[1][1], a_shipped]
    assert [e["entry"] for i in order_codec.timeline_items(stored) for e in order_codec.timeline_entries(i)] == [
        "shipped"
    ]
    b_items = [folded[2][1]]
    assert [i["SK"] for i in order_codec.timeline_items(b_items)] == [b_paid["SK"], b_reserved["SK"]]


def test_stock_changes_count_into_the_total_once_whatever_the_redeliveries() -> None:
    from fulfillment.adapters.codecs.stock import StockChange, applied_versions, stock_change, total_update

    east = [StockChange("W", "WH-EAST", v, d, f"t{v}") for v, d in ((1, 5), (2, -1), (4, -2))]  # 3 shipped: no move
    west = [StockChange("W", "WH-WEST", 5, -1, "t9")]
    first = total_update([*east, *west])
    assert first is not None and first.values[":delta"] == 5 - 1 - 2 - 1
    assert first.values[":f0"] == 1 and first.values[":v0"] == 4 and first.values[":f1"] == first.values[":v1"] == 5
    # refused: the catalog had counted WH-EAST up to version 2 already (a batch that split differently)
    applied = applied_versions({"applied_WH-EAST": 2, "applied_WH-WEST": 4, "available_total": 4})
    again = total_update([*east, *west], applied)
    assert again is not None and again.values[":delta"] == -2 - 1 and again.values[":f0"] == 4
    assert total_update([*east, *west], {"WH-EAST": 4, "WH-WEST": 5}) is None  # all counted: nothing to write
    shipped = {"sku": "W", "location": "WH-EAST", "available": 3, "version": 3}
    assert stock_change(shipped, {**shipped, "version": 2}) is None  # available did not move: nothing to count
    assert stock_change({**shipped, "version": 3}, None) == StockChange("W", "WH-EAST", 3, 3, "")
