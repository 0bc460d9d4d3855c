"""Stock reservation: no oversell under concurrency, spill-over, backorders FIFO, large orders, release."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fulfillment_local.invariants import check

from tests.support import provider as tpl
from tests.support.admin import Admin
from tests.support.events import Context, sqs_event
from tests.support.flow import Flow
from tests.support.stack import clear_caches
from tests.support.storefront import native_order


@pytest.fixture
def flow(stack, router_fn, reservation_fn) -> Flow:
    return Flow(stack, router_fn, reservation_fn)


def place_orders(intake_fn, flow: Flow, count: int, lines) -> list[str]:
    ids = []
    for _ in range(count):
        response, body = native_order(intake_fn, lines=lines)
        assert response["statusCode"] == 202, body
        ids.append(body["order_id"])
    return ids


def reserve_concurrently(reservation_fn, order_ids: list[str], workers: int = 16) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(lambda oid: reservation_fn.reservations().reserve(oid), order_ids))
    assert set(outcomes) <= {"reserved"}, outcomes


def totals(api: Admin, order_ids: list[str]) -> tuple[int, int]:
    views = [api.order(oid) for oid in order_ids]
    return (sum(v["lines"][0]["reserved"] for v in views), sum(v["lines"][0]["backordered"] for v in views))


def test_last_units_are_sold_once_under_concurrency(stack, intake_fn, reservation_fn, admin, flow):
    admin.catalog("HOT")
    admin.stock("HOT", "WH-EAST", 10)
    order_ids = place_orders(intake_fn, flow, 20, [("HOT", 1)])

    reserve_concurrently(reservation_fn, order_ids)
    flow.pump()

    assert totals(admin, order_ids) == (10, 10)
    level = admin.inventory("HOT", "WH-EAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (10, 10, 0)
    statuses = [admin.order(oid)["status"] for oid in order_ids]
    assert statuses.count("dispatched") == 10 and statuses.count("backordered") == 10
    report = check(stack.items())
    assert report.ok, report.violations


@pytest.mark.long
def test_a_flash_sale_on_a_sharded_sku_sells_exactly_its_units(stack, intake_fn, api_fn, reservation_fn, admin, flow):
    """500 shoppers at once for 300 units of a SKU whose level is kept on 8 items (8 partitions on AWS): exactly
    300 reserved, 200 waiting in line, and the reservations spread over the items."""
    from decimal import Decimal

    from fulfillment.domain.model import Address, Channel, Customer, Line, LineKind, Order
    from fulfillment.errors import ConcurrentModification
    from fulfillment.services.inventory import rebalance
    from fulfillment.services.reservation import Reservations
    from fulfillment.services.unit import Outcome

    admin.catalog("DROP")
    admin.stock("DROP", "WH-EAST", 300)
    api_fn.inventory().set_shards("DROP", "WH-EAST", 8)
    flow.skip()
    intake = intake_fn.intake()
    address = Address(name="A", line1="1 Way", city="Town", postal_code="12345", country="US")
    order_ids = [
        intake.accept(
            Order(
                order_id="",
                channel=Channel.NATIVE,
                shop="native",
                external_id=f"drop-{n}",
                currency="USD",
                lines=(Line(line_no=1, sku="DROP", quantity=1, unit_price=Decimal("10"), kind=LineKind.PHYSICAL),),
                customer=Customer(email=f"c{n}@example.com"),
                shipping_address=address,
                payment_status="paid",
            ),
            now="2026-11-01T10:00:00+00:00",
        ).order_id
        for n in range(500)
    ]
    flow.route_stock_only()  # the orders' stream records (their reserve_order messages): reserved below, at once

    # Reserved only (the inline dispatch, its shipments and requests, is another test's): 500 reservations from as
    # many threads as the SDK's connection pool holds, every one against the same 300 units, while the rebalancer
    # keeps moving units between the items under them.
    reservations = reservation_fn.reservations()
    plain = Reservations(reservations.settings, reservations.store)
    selling = threading.Event()
    moved: list[int] = []

    def rebalance_meanwhile() -> None:
        while selling.is_set():
            try:
                moved.append(rebalance(reservations.store, "DROP", "WH-EAST"))
            except ConcurrentModification:  # gave up under contention: its message would be retried
                moved.append(0)

    with ThreadPoolExecutor(max_workers=10) as pool:
        selling.set()
        mover = threading.Thread(target=rebalance_meanwhile)
        mover.start()
        try:
            outcomes = list(pool.map(plain.reserve, order_ids))
        finally:
            selling.clear()
            mover.join()
    assert set(outcomes) == {Outcome.RESERVED}
    assert len(moved) > 10 and sum(moved) > 0  # it ran throughout, and moved units

    level = admin.inventory("DROP", "WH-EAST")
    assert (level["on_hand"], level["reserved"], level["available"], level["shards"]) == (300, 300, 0, 8)
    items = [i for i in stack.items() if i.get("type") == "stock" and i["sku"] == "DROP"]
    assert len(items) == 8 and all(int(i["reserved"]) > 0 for i in items), items  # every item took its share
    assert flow.route_stock_only() >= 300  # the items' changes, counted into the SKU's total
    from fulfillment.adapters.codecs import order as order_codec

    states = [order_codec.from_item(i) for i in stack.items() if i["SK"] == "ORDER" and i.get("type") == "order"]
    lines = [o.lines[0] for o in states if o.order_id in set(order_ids)]
    assert len(lines) == 500
    assert (sum(ln.reserved for ln in lines), sum(ln.backordered for ln in lines)) == (300, 200)
    report = check(stack.items())
    assert report.ok, report.violations


def shard_levels(stack, sku: str) -> list[int]:
    return sorted(int(i["available"]) for i in stack.items() if i.get("type") == "stock" and i["sku"] == sku)


def test_a_level_on_the_most_items_is_read_counted_and_folded_as_one(stack, admin, flow):
    """32 items (the most a level may have): read in one consistent snapshot (TransactGetItems of 32), counted down
    below what the base item holds (the units are gathered first), and folded back into one item."""
    admin.catalog("MAX")
    admin.stock("MAX", "WH-EAST", 64)
    view = admin.ok(admin.shards("MAX", "WH-EAST", 32))
    assert (view["on_hand"], view["available"], view["shards"]) == (64, 64, 32)
    assert shard_levels(stack, "MAX") == [2] * 32
    counted = admin.stock("MAX", "WH-EAST", 10)
    assert (counted["on_hand"], counted["available"]) == (10, 10)
    assert sum(shard_levels(stack, "MAX")) == 10
    folded = admin.ok(admin.shards("MAX", "WH-EAST", 1))
    assert (folded["on_hand"], folded["available"]) == (10, 10)
    assert [lvl for lvl in shard_levels(stack, "MAX") if lvl] == [10]
    report = check(stack.items())
    assert report.ok, report.violations


def test_a_sharded_level_is_rebalanced_when_a_shard_runs_dry_and_when_units_come_back(
    stack, intake_fn, reservation_fn, admin, flow
):
    admin.catalog("SPIN")
    admin.stock("SPIN", "WH-EAST", 8)
    for bad in (0, 33, "8"):
        assert admin.shards("SPIN", "WH-EAST", bad)["statusCode"] == 422
    assert admin.shards("NOPE", "WH-EAST", 4)["statusCode"] == 404
    level = admin.ok(admin.shards("SPIN", "WH-EAST", 4))
    assert (level["on_hand"], level["available"], level["shards"]) == (8, 8, 4)
    assert shard_levels(stack, "SPIN") == [2, 2, 2, 2]
    flow.skip()

    # An order of 2 takes both units of the shard item it picked: the router sees it run dry and has it rebalanced
    _, body = native_order(intake_fn, lines=[("SPIN", 2)])
    flow.pump()
    assert admin.order(body["order_id"])["lines"][0]["reserved"] == 2
    assert shard_levels(stack, "SPIN") == [1, 1, 2, 2]

    # A receipt lands on the base item and is spread too
    assert admin.adjust("SPIN", "WH-EAST", 4, "received")["statusCode"] == 201
    flow.pump()
    assert shard_levels(stack, "SPIN") == [2, 2, 3, 3]
    level = admin.inventory("SPIN", "WH-EAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (12, 2, 10)
    assert check(stack.items()).ok

    # A count of the whole level (its items read in one transaction) and a removal gathered from several items
    level = admin.stock("SPIN", "WH-EAST", 14)
    assert (level["on_hand"], level["reserved"], level["available"]) == (14, 2, 12)
    assert admin.adjust("SPIN", "WH-EAST", -9, "write_off")["statusCode"] == 201
    flow.pump()
    level = admin.inventory("SPIN", "WH-EAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 2, 3)

    # Gathered on one item again
    level = admin.ok(admin.shards("SPIN", "WH-EAST", 1))
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 2, 3) and "shards" not in level
    assert shard_levels(stack, "SPIN") == [0, 0, 0, 3]
    flow.pump()
    report = check(stack.items())
    assert report.ok, report.violations


def test_last_units_across_two_locations_spill_over_and_never_oversell(stack, intake_fn, reservation_fn, admin, flow):
    admin.catalog("HOT")
    admin.stock("HOT", "WH-EAST", 6)
    admin.stock("HOT", "WH-WEST", 4)
    order_ids = place_orders(intake_fn, flow, 20, [("HOT", 1)])

    reserve_concurrently(reservation_fn, order_ids)
    flow.pump()

    assert totals(admin, order_ids) == (10, 10)
    east, west = admin.inventory("HOT", "WH-EAST"), admin.inventory("HOT", "WH-WEST")
    assert (east["reserved"], east["available"], west["reserved"], west["available"]) == (6, 0, 4, 0)
    assert check(stack.items()).ok


def test_a_line_splits_across_locations_by_priority(stack, intake_fn, admin, flow):
    admin.catalog("SPLIT")
    admin.stock("SPLIT", "WH-EAST", 3)
    admin.stock("SPLIT", "WH-WEST", 5)
    _, body = native_order(intake_fn, lines=[("SPLIT", 7)])
    flow.pump()
    line = admin.order(body["order_id"])["lines"][0]
    assert line["allocations"] == {"WH-EAST": 3, "WH-WEST": 4}
    assert (line["reserved"], line["backordered"]) == (7, 0)


def test_an_order_of_over_a_hundred_lines_reserves_in_several_transactions(stack, intake_fn, api_fn, flow):
    from fulfillment.domain.stock import Adjustment

    # The catalog and stock written through the store's unit of work (the same writes as the operator API's, a
    # transaction of many at a time: 238 API calls would cost ~750 round trips; their HTTP is tested elsewhere)
    store = api_fn.inventory().store
    lines, writes = [], []
    for n in range(102):  # 136 stock writes: more than one transaction holds
        sku = f"BULK-{n:03d}"
        writes.append(lambda uow, sku=sku: uow.put_catalog(sku, {"kind": "physical"}, "2026-11-01T09:00:00+00:00"))
        levels = {0: {"WH-EAST": 2}, 1: {"WH-EAST": 1, "WH-WEST": 1}, 2: {"WH-WEST": 1}}[n % 3]
        # n % 3: 0 enough at the first location, 1 spills to the second, 2 one short (one unit backordered)
        for location, units in levels.items():
            adjustment = Adjustment(sku, location, units, "count", f"seed-{sku}-{location}", "test", "2026-11-01")
            writes.append(lambda uow, adjustment=adjustment: uow.adjust_stock(adjustment))
        lines.append((sku, 2))
    for start in range(0, len(writes), 40):  # <= 80 items a transaction (an adjustment is its audit and its level)
        uow = store.unit()
        for write in writes[start : start + 40]:
            write(uow)
        uow.commit()
    assert flow.skip() >= 102 + 136  # the seeding's stream records: counted, but no backorder waits for these SKUs
    admin = Admin(api_fn)
    _, body = native_order(intake_fn, lines=lines)
    flow.pump()

    view = admin.order(body["order_id"])
    assert len(view["lines"]) == 102
    for n, line in enumerate(view["lines"]):
        expected = (2, 0) if n % 3 != 2 else (1, 1)
        assert (line["reserved"], line["backordered"]) == expected, (n, line)
    assert view["status"] == "backordered"
    reserved_entries = [t for t in view["timeline"] if t["type"] == "reserved"]
    assert len(reserved_entries) == 1 and reserved_entries[0]["detail"]["units"] == 2 * 68 + 34
    order_item = next(i for i in stack.items() if i["SK"] == "ORDER")
    assert order_item["version"] >= 3  # intake, then at least two reservation transactions (<= 100 items each)
    assert len(flow.events_of("OrderBackordered")) == 1
    report = check(stack.items())
    assert report.ok, report.violations


def test_fill_or_kill_takes_nothing_when_it_cannot_take_everything(stack, intake_fn, admin, flow):
    admin.catalog("A")
    admin.catalog("B")
    admin.stock("A", "WH-EAST", 5)
    admin.stock("B", "WH-EAST", 1)
    _, body = native_order(intake_fn, lines=[("A", 2), ("B", 2)], fill_policy="fill_or_kill")
    flow.pump()

    view = admin.order(body["order_id"])
    assert view["status"] == "cancelled"
    assert [line["reserved"] for line in view["lines"]] == [0, 0]
    assert admin.inventory("A", "WH-EAST")["available"] == 5
    assert admin.inventory("B", "WH-EAST")["available"] == 1
    assert len(flow.events_of("OrderCancelled")) == 1
    assert check(stack.items()).ok


def test_fill_or_kill_reserves_when_everything_is_there(stack, intake_fn, admin, flow):
    admin.catalog("A")
    admin.stock("A", "WH-EAST", 2)
    _, body = native_order(intake_fn, lines=[("A", 2)], fill_policy="fill_or_kill")
    flow.pump()
    assert admin.order(body["order_id"])["status"] == "dispatched"  # reserved whole, and so dispatched at once


def test_cancel_releases_reserved_and_backordered_stock(
    stack, intake_fn, admin, router_fn, reservation_fn, dispatch_fn, tracking_fn
):
    """The places in the backorder queue go at once; the units in the shipment the reservation made go when the
    provider confirms it will not ship them."""
    flow = Flow(stack, router_fn, reservation_fn, dispatch_fn, tracking_fn)
    admin.catalog("C")
    admin.stock("C", "WH-EAST", 3)
    _, body = native_order(intake_fn, lines=[("C", 5)])
    flow.pump()
    assert admin.order(body["order_id"])["lines"][0]["backordered"] == 2
    [request] = flow.provider_requests()

    response = admin.cancel(body["order_id"], reason="customer changed mind")
    assert response["statusCode"] == 200
    flow.pump()
    assert admin.order(body["order_id"])["lines"][0]["backordered"] == 0
    assert admin.inventory("C", "WH-EAST")["available"] == 0  # held until the provider answers
    [cancellation] = flow.provider_requests()
    assert cancellation["type"] == "cancellation_request"
    flow.to_inbound(tpl.message("cancellation_request.accepted", shipment_id=request["shipment_id"]))
    flow.pump()

    view = admin.order(body["order_id"])
    assert view["status"] == "cancelled"
    assert (view["lines"][0]["reserved"], view["lines"][0]["backordered"]) == (0, 0)
    assert admin.inventory("C", "WH-EAST")["available"] == 3
    assert len(flow.events_of("OrderCancelled")) == 1
    report = check(stack.items())
    assert report.ok, report.violations


def test_arriving_stock_serves_backorders_first_in_first_out(stack, intake_fn, admin, flow):
    admin.catalog("F")
    admin.stock("F", "WH-EAST", 0)
    first = native_order(intake_fn, lines=[("F", 2)])[1]["order_id"]
    second = native_order(intake_fn, lines=[("F", 2)])[1]["order_id"]
    flow.pump()
    assert admin.order(first)["status"] == "backordered"

    response = admin.adjust("F", "WH-EAST", 3, "received", adjustment_id="po-1")
    assert response["statusCode"] == 201, response["body"]
    flow.pump()

    assert admin.order(first)["lines"][0]["reserved"] == 2
    assert admin.order(first)["status"] == "reserved"
    assert (admin.order(second)["lines"][0]["reserved"], admin.order(second)["lines"][0]["backordered"]) == (1, 1)
    # A new order may not jump the queue: the last unit is promised to the second order.
    third = native_order(intake_fn, lines=[("F", 1)])[1]["order_id"]
    admin.adjust("F", "WH-EAST", 1, "received", adjustment_id="po-2")
    flow.pump()
    assert admin.order(second)["lines"][0]["reserved"] == 2
    assert admin.order(third)["lines"][0]["backordered"] == 1
    report = check(stack.items())
    assert report.ok, report.violations


def test_held_orders_reserve_stock_too(stack, intake_fn, admin, flow):
    admin.catalog("H")
    admin.stock("H", "WH-EAST", 1)
    _, body = native_order(intake_fn, lines=[("H", 1)], payment_status="pending")
    flow.pump()
    view = admin.order(body["order_id"])
    assert view["status"] == "on_hold" and view["holds"] == ["awaiting_payment"]
    assert view["lines"][0]["reserved"] == 1


def test_a_redelivered_reservation_message_changes_nothing(stack, intake_fn, reservation_fn, admin, flow):
    admin.catalog("R")
    admin.stock("R", "WH-EAST", 5)
    _, body = native_order(intake_fn, lines=[("R", 2)])
    flow.pump()
    before = sorted(stack.items(), key=lambda i: (i["PK"], i["SK"]))

    message = json.dumps({"type": "reserve_order", "version": 1, "order_id": body["order_id"]})
    result = reservation_fn.lambda_handler(sqs_event([message, message]), Context())

    assert result["batchItemFailures"] == []
    assert sorted(stack.items(), key=lambda i: (i["PK"], i["SK"])) == before


def test_a_malformed_work_message_goes_to_the_dlq_with_its_reason(stack, reservation_fn, flow):
    result = reservation_fn.lambda_handler(
        sqs_event(['{"type": "reserve_order", "version": 1}', "not json"]), Context()
    )
    assert result["batchItemFailures"] == []  # not retried pointlessly
    dead = flow.dead_letters("ReservationDLQ")
    assert len(dead) == 2
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert all(r.startswith("malformed message") for r in reasons)
    assert any("order_id" in r for r in reasons)


def test_an_order_that_stays_unpaid_expires_and_its_stock_returns(
    stack, intake_fn, admin, timers_fn, router_fn, reservation_fn, monkeypatch
):
    flow = Flow(stack, router_fn, reservation_fn)
    admin.catalog("U")
    admin.stock("U", "WH-EAST", 2)
    _, unpaid = native_order(intake_fn, lines=[("U", 2)], payment_status="pending")
    _, fraud = native_order(intake_fn, lines=[("U", 60)])  # on hold, but not for payment: never expires
    flow.pump()
    assert admin.inventory("U", "WH-EAST")["available"] == 0

    monkeypatch.setenv("UNPAID_EXPIRY_SECONDS", "0")
    clear_caches()  # settings are read once per environment
    timers_fn.lambda_handler({}, Context())
    flow.pump()

    assert admin.order(unpaid["order_id"])["status"] == "cancelled"
    assert admin.order(fraud["order_id"])["status"] == "on_hold"
    assert [t["detail"] for t in admin.order(unpaid["order_id"])["timeline"] if t["type"] == "cancelled"] == [
        {"reason": "payment_expired", "by": "timer"}
    ]
    assert check(stack.items(), flow.customer_events).ok


def test_stock_arriving_while_a_backorder_is_queued_is_allocated(
    stack, admin, intake_fn, flow, reservation_fn, monkeypatch
):
    admin.catalog("B")
    admin.stock("B", "WH-EAST", 0)
    store = reservation_fn.reservations().store
    real_read = store.order_and_stock  # the order with its SKUs' stock (the reserve_order message names them)

    def levels_then_restock(order_id, skus, locations):
        seen = real_read(order_id, skus, locations)  # reserve reads 0 available ...
        monkeypatch.setattr(store, "order_and_stock", real_read)
        admin.adjust("B", "WH-EAST", 5, "received", adjustment_id="po-race")  # ... then stock arrives
        return seen

    monkeypatch.setattr(store, "order_and_stock", levels_then_restock)
    _, body = native_order(intake_fn, lines=[("B", 2)])
    flow.pump()
    view = admin.order(body["order_id"])
    assert (view["lines"][0]["reserved"], view["lines"][0]["backordered"]) == (2, 0)
    assert check(stack.items()).ok


def test_an_order_under_fraud_review_takes_no_stock_until_a_person_releases_it(stack, intake_fn, admin, flow):
    admin.catalog("HOARD")
    admin.stock("HOARD", "WH-EAST", 5)
    hoarder = native_order(intake_fn, lines=[("HOARD", 100_000)])[1]["order_id"]
    flow.pump()
    view = admin.order(hoarder)
    assert "fraud_review" in view["holds"]
    assert (view["lines"][0]["reserved"], view["lines"][0]["backordered"]) == (0, 0)
    assert admin.catalog_entry("HOARD")["backordered_units"] == 0
    # Later customers are served as if it did not exist.
    customer = native_order(intake_fn, lines=[("HOARD", 2)])[1]["order_id"]
    flow.pump()
    assert admin.order(customer)["lines"][0]["reserved"] == 2

    assert (
        admin.release(hoarder, "fraud_review")["statusCode"] == 200
    )  # a person decided it is genuine: now it takes what is left and waits
    flow.pump()
    line = admin.order(hoarder)["lines"][0]
    assert (line["reserved"], line["backordered"]) == (3, 100_000 - 3)
    report = check(stack.items())
    assert report.ok, report.violations


def test_an_unpaid_order_takes_what_is_on_the_shelf_and_queues_only_once_paid(stack, intake_fn, admin, flow):
    admin.catalog("U")
    admin.stock("U", "WH-EAST", 1)
    unpaid = native_order(intake_fn, lines=[("U", 3)], payment_status="pending")[1]["order_id"]
    flow.pump()
    line = admin.order(unpaid)["lines"][0]
    assert (line["reserved"], line["backordered"]) == (1, 0)
    assert admin.catalog_entry("U")["backordered_units"] == 0
    paid = native_order(intake_fn, lines=[("U", 1)])[1]["order_id"]
    flow.pump()
    assert admin.order(paid)["lines"][0]["backordered"] == 1

    assert admin.release(unpaid, "awaiting_payment")["statusCode"] == 200  # paid: the rest of it may now wait for stock
    flow.pump()
    line = admin.order(unpaid)["lines"][0]
    assert (line["reserved"], line["backordered"]) == (1, 2)
    assert admin.catalog_entry("U")["backordered_units"] == 3
    report = check(stack.items())
    assert report.ok, report.violations
