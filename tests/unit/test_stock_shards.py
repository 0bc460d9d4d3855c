"""A flash sale's SKU: its level kept on several items, a partition each. Every rule holds over the sum."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fulfillment.contracts.admin import Adjustment as AdjustmentRequest
from fulfillment.contracts.admin import StockLevel as StockLevelRequest
from fulfillment.domain.model import FillPolicy, OrderStatus
from fulfillment.domain.stock import StockLevel, rebalance_moves
from fulfillment.errors import BadRequest
from fulfillment.services.inventory import Inventory
from fulfillment.services.unit import Outcome

from tests.unit.fakes import MemoryStore
from tests.unit.test_services import World


def items_of(store: MemoryStore, sku: str, location: str) -> list[StockLevel]:
    shards = [lvl for (s, loc, _), lvl in sorted(store.shard_items.items()) if (s, loc) == (sku, location)]
    return [store.stock[(sku, location)], *shards]


def assert_consistent(store: MemoryStore, sku: str, location: str) -> None:
    """Each item keeps available = on_hand - reserved and never goes below zero available; the level is their sum."""
    for item in items_of(store, sku, location):
        assert item.available == item.on_hand - item.reserved and item.available >= 0, item
    level = store.level(sku, location)
    parts = items_of(store, sku, location)
    assert (level.on_hand, level.reserved, level.available) == (
        sum(p.on_hand for p in parts),
        sum(p.reserved for p in parts),
        sum(p.available for p in parts),
    )


def sharded_world(units: int, shards: int) -> tuple[World, Inventory]:
    world = World()
    world.stock("HOT", WH_EAST=units)
    inventory = Inventory(world.settings, world.store)
    inventory.set_shards("HOT", "WH-EAST", shards)
    return world, inventory


def test_rebalance_spreads_available_units_evenly_and_keeps_every_count() -> None:
    base = StockLevel("S", "L", on_hand=10, reserved=0, available=10, shards=4)
    moves = rebalance_moves("S", "L", [base], 4, consolidate=False)
    assert sorted((m.shard, m.transfer) for m in moves) == [(0, -7), (1, 3), (2, 2), (3, 2)]
    assert sum(m.transfer for m in moves) == 0


def test_rebalance_gathers_units_on_the_base_item_or_folds_items_beyond_the_count() -> None:
    items = [
        StockLevel("S", "L", on_hand=-2, reserved=-3, available=1, shards=2),
        StockLevel("S", "L", on_hand=5, reserved=3, available=2, shard=1),
        StockLevel("S", "L", on_hand=4, reserved=0, available=4, shard=2),
    ]
    gathered = {
        m.shard: (m.transfer, m.transfer_reserved) for m in rebalance_moves("S", "L", items, 2, consolidate=True)
    }
    # shard 2 is beyond the count: folded whole (its reserved units too); shard 1 gives its available units
    assert gathered == {0: (6, 0), 1: (-2, 0), 2: (-4, 0)}
    folded = {
        m.shard: (m.transfer, m.transfer_reserved) for m in rebalance_moves("S", "L", items, 1, consolidate=False)
    }
    assert folded == {0: (6, 3), 1: (-2, -3), 2: (-4, 0)}


def test_marking_a_level_sharded_spreads_its_units_and_reads_sum_them() -> None:
    world, inventory = sharded_world(10, 4)
    assert [i.available for i in items_of(world.store, "HOT", "WH-EAST")] == [3, 3, 2, 2]
    view = inventory.level("HOT", "WH-EAST")
    assert (view["on_hand"], view["reserved"], view["available"], view["shards"]) == (10, 0, 10, 4)
    assert_consistent(world.store, "HOT", "WH-EAST")
    with pytest.raises(BadRequest):
        inventory.set_shards("HOT", "WH-EAST", 33)


def test_a_sharded_level_is_never_oversold_and_the_orders_that_miss_out_wait_in_line() -> None:
    world, _ = sharded_world(10, 4)
    orders = [world.place(("HOT", 1), external_id=f"o{n}") for n in range(14)]
    for order_id in orders:
        world.reservations.reserve(order_id)
    statuses = [world.order(o).status for o in orders]
    assert statuses.count(OrderStatus.RESERVED) == 10 and statuses.count(OrderStatus.BACKORDERED) == 4
    # first come, first served: the four that missed out are the last four
    assert all(s is OrderStatus.BACKORDERED for s in statuses[10:])
    level = world.store.level("HOT", "WH-EAST")
    assert (level.on_hand, level.reserved, level.available) == (10, 10, 0)
    assert_consistent(world.store, "HOT", "WH-EAST")


def test_an_order_larger_than_one_item_takes_units_from_several() -> None:
    world, _ = sharded_world(10, 4)  # items of 3, 3, 2, 2: no single one holds 7
    order_id = world.place(("HOT", 7))
    assert world.reservations.reserve(order_id) is Outcome.RESERVED
    assert world.order(order_id).line(1).allocations == {"WH-EAST": 7}
    assert world.store.level("HOT", "WH-EAST").available == 3
    assert_consistent(world.store, "HOT", "WH-EAST")


def test_released_and_restocked_units_of_a_sharded_level_serve_the_oldest_backorder_first() -> None:
    world, inventory = sharded_world(2, 2)
    first, second, third = (world.place(("HOT", 1), external_id=e) for e in ("a", "b", "c"))
    for order_id in (first, second, third):
        world.reservations.reserve(order_id)
    assert world.order(third).status is OrderStatus.BACKORDERED

    # the first order is cancelled: its unit lands on the base item, whose own counts may go below zero
    world.operations.cancel(first, reason="customer")
    assert world.reservations.release(first) is Outcome.RELEASED
    assert world.backorders.allocate("HOT") == 1
    assert world.order(third).line(1).reserved == 1
    level = world.store.level("HOT", "WH-EAST")
    assert (level.on_hand, level.reserved, level.available) == (2, 2, 0)
    assert_consistent(world.store, "HOT", "WH-EAST")

    assert world.store.catalog_items["HOT"].backordered_units == 0


def test_adjustments_of_a_sharded_level_land_on_its_base_item_and_are_spread_again() -> None:
    world, inventory = sharded_world(8, 4)  # 2 units on each item: a removal of 5 needs units of several
    view, applied = inventory.adjust(
        "HOT", "WH-EAST", AdjustmentRequest(delta=-5, reason="write_off"), idempotency_key="k1", actor="ops"
    )
    assert applied and (view["on_hand"], view["available"]) == (3, 3)
    assert [i.available for i in items_of(world.store, "HOT", "WH-EAST")] == [1, 1, 1, 0]
    inventory.set_level("HOT", "WH-EAST", StockLevelRequest(on_hand=12), actor="ops")
    assert [i.available for i in items_of(world.store, "HOT", "WH-EAST")] == [3, 3, 3, 3]
    assert_consistent(world.store, "HOT", "WH-EAST")


def test_a_count_below_what_the_base_item_holds_gathers_the_units_first() -> None:
    """A count (expected on-hand) whose removal the base item alone cannot cover: DynamoDB refuses its one
    condition as "changed", and the base item's on-hand is still the one read, so the units are gathered there."""
    world, inventory = sharded_world(8, 4)  # 2 units on each item
    view = inventory.set_level("HOT", "WH-EAST", StockLevelRequest(on_hand=2), actor="ops")
    assert (view["on_hand"], view["available"]) == (2, 2)
    assert sum(i.available for i in items_of(world.store, "HOT", "WH-EAST")) == 2
    assert_consistent(world.store, "HOT", "WH-EAST")


def test_a_rebalance_that_read_an_older_count_moves_nothing_and_reads_again() -> None:
    """The router's spread reads 8 items; the operator lowers the count to 4 before it commits: the stale spread
    must not move units into items 4-7, which nothing reads any more."""
    from fulfillment.services.inventory import rebalance

    world, _ = sharded_world(16, 8)  # 2 units on each of 8 items
    store = world.store
    for n in (4, 5, 6, 7):  # these items ran dry (reserved there; the releases land on the base item)
        item = store.shard_items[("HOT", "WH-EAST", n)]
        store.shard_items[("HOT", "WH-EAST", n)] = replace(item, reserved=item.reserved + 2, available=0)

    def operator_lowers_the_count() -> None:
        store.before_commit = None
        rebalance(store, "HOT", "WH-EAST", shards=4)

    store.before_commit = operator_lowers_the_count
    rebalance(store, "HOT", "WH-EAST")  # read 8 items; its first commit loses to the new count, its second reads 4
    assert store.stock[("HOT", "WH-EAST")].shards == 4
    beyond = [i for (_, _, n), i in store.shard_items.items() if n >= 4 and (i.available or i.on_hand or i.reserved)]
    assert beyond == []
    assert store.level("HOT", "WH-EAST").available == 8
    assert_consistent(store, "HOT", "WH-EAST")


def test_unsharding_folds_every_item_into_the_base_item() -> None:
    world, inventory = sharded_world(9, 3)
    order_id = world.place(("HOT", 4))
    world.reservations.reserve(order_id)
    inventory.set_shards("HOT", "WH-EAST", 1)
    assert all(i.on_hand == i.reserved == i.available == 0 for i in items_of(world.store, "HOT", "WH-EAST")[1:])
    base = world.store.stock[("HOT", "WH-EAST")]
    assert (base.on_hand, base.reserved, base.available) == (9, 4, 5)


def test_a_hot_sku_is_reserved_from_one_shard_read_without_its_base_and_catalog_items() -> None:
    world, _ = sharded_world(40, 4)  # 10 on each item: plenty
    reads: list[set[str]] = []
    store_read = world.store.stock_and_catalog
    world.store.stock_and_catalog = lambda skus, locations: (reads.append(set(skus)), store_read(skus, locations))[1]  # type: ignore[method-assign]
    first, second = world.place(("HOT", 1), external_id="a"), world.place(("HOT", 1), external_id="b")
    world.reservations.reserve(first)
    world.reservations.reserve(second)
    # the first read the SKU's base and catalog items and learnt it is sharded; the second read one shard item
    assert reads == [{"HOT"}]
    assert world.store.level("HOT", "WH-EAST").reserved == 2
    assert_consistent(world.store, "HOT", "WH-EAST")


def test_a_hot_skus_entry_expiring_between_the_orders_read_and_the_plan_is_read_afresh() -> None:
    """The message names the SKU; it is hot when the order is read (so not read with it) and no longer when the
    reservation plans: its stock is read then, never taken as none (a fill-or-kill order would be cancelled)."""
    import time

    from fulfillment.services import reservation

    world, _ = sharded_world(100, 4)
    warm = world.place(("HOT", 1), external_id="warm")
    assert world.reservations.reserve(warm, skus=("HOT",)) is Outcome.RESERVED
    entry = world.reservations._hot["HOT"]
    read = world.store.order_and_stock

    def read_then_expire(order_id: str, skus: object, locations: object) -> object:
        found = read(order_id, skus, locations)  # type: ignore[arg-type]
        world.reservations._hot["HOT"] = reservation._Hot(time.monotonic() - 1, entry.catalog, entry.shards)
        return found

    world.store.order_and_stock = read_then_expire  # type: ignore[method-assign,assignment]
    order_id = world.place(("HOT", 1), external_id="late", fill_policy=FillPolicy.FILL_OR_KILL)
    assert world.reservations.reserve(order_id, skus=("HOT",)) is Outcome.RESERVED
    assert world.order(order_id).status is OrderStatus.RESERVED


def test_units_promised_to_backorders_are_set_aside_before_a_reservation_trusts_one_shard() -> None:
    # 80 units on 8 items; a backorder of 5 queued meanwhile (its units are promised); a fill-or-kill order of 16
    world, _ = sharded_world(80, 8)
    world.store.catalog_items["HOT"] = replace(world.store.catalog_items["HOT"], backordered_units=5)
    order_id = world.place(("HOT", 16), fill_policy=FillPolicy.FILL_OR_KILL)
    # one shard and the base (20 units) less the 5 promised would not cover it: every item is read, and it is filled
    assert world.reservations.reserve(order_id) is Outcome.RESERVED
    assert world.order(order_id).line(1).reserved == 16


def test_a_new_count_of_items_is_written_with_the_moves_that_fold_them() -> None:
    world, inventory = sharded_world(9, 3)
    commits = world.store.commits
    inventory.set_shards("HOT", "WH-EAST", 1)
    assert world.store.commits - commits == 1  # one transaction: never a count of 1 with units still on shards
    assert world.store.stock[("HOT", "WH-EAST")].shards == 1


def test_units_moved_between_items_are_not_counted_as_a_change_of_the_skus_total() -> None:
    from fulfillment.adapters.codecs.stock import stock_change

    before = {"sku": "S", "location": "L", "available": 5, "version": 3, "transfers": 1}
    assert stock_change({**before, "available": 2, "version": 4, "transfers": 2}, before) is None  # a rebalance
    counted = stock_change({**before, "available": 4, "version": 4}, before)  # a reservation
    assert counted is not None and counted.delta == -1


def test_a_batch_asks_for_each_levels_rebalance_once() -> None:
    from fulfillment import router
    from fulfillment.contracts.messages import AllocateBackorders, RebalanceStock, ReserveOrder

    work = [
        (0, RebalanceStock(sku="S", location="L")),
        (1, AllocateBackorders(sku="S")),
        (2, RebalanceStock(sku="S", location="L")),
        (3, RebalanceStock(sku="S", location="M")),
        (4, AllocateBackorders(sku="S")),
        (5, ReserveOrder(order_id="o1")),
    ]
    assert [n for n, _ in router.distinct(work)] == [0, 1, 3, 5]
