"""Backorders: when units of a SKU become available, the oldest waiting lines get them first (FIFO)."""

from __future__ import annotations

from functools import partial

from fulfillment.config import Settings
from fulfillment.domain.allocation import plan_lines
from fulfillment.domain.stock import Backorder, StockMove
from fulfillment.errors import ConcurrentModification, InsufficientStock
from fulfillment.services.inventory import rebalance
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import MAX_ATTEMPTS, apply_once, utc_now

PAGE = 25


class Backorders:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.location_ids = settings.stocked_location_ids

    def allocate(self, sku: str) -> int:
        """Serve the SKU's waiting lines oldest first from whatever is available now. Returns units served.
        A sharded level's units are gathered on its base item while lines wait (they are served from there), and
        spread again when none waits any more."""
        sharded: set[str] = set()
        try:
            return self._allocate(sku, sharded)
        finally:
            for location in sharded:
                rebalance(self.store, sku, location)

    def _allocate(self, sku: str, sharded: set[str]) -> int:
        served = 0
        for _ in range(MAX_ATTEMPTS * 4):
            # The queue's size before its page: each serve commits only if no line joined the queue since (an older
            # order re-routed after a provider's out-of-stock takes its place by order time, ahead of this page).
            catalog = self.store.catalog_item(sku)
            backlog = [catalog.backordered_units if catalog else 0]
            if backlog[0] <= 0:  # the counter moves with the queue, in the same transactions: nobody waits
                return served
            waiting = self.store.backorders(sku, limit=PAGE)
            if not waiting:
                return served
            found = self.store.levels_of(sku)
            for level in found:
                if level.shards > 1 and level.location not in sharded:
                    sharded.add(level.location)
                    rebalance(self.store, sku, level.location, consolidate=True)
            levels = {(sku, lvl.location): max(lvl.available, 0) for lvl in found}
            if sum(levels.values()) <= 0:
                return served
            for entry in waiting:
                try:
                    result = apply_once(
                        self.store,
                        partial(self._serve, entry, levels, backlog),
                        what=f"backorder of {sku}",
                        retry_on=(ConcurrentModification, InsufficientStock),
                        attempts=1,
                    )
                except ConcurrentModification:
                    break  # someone else moved the stock or the order: read the queue and the levels again
                for location, units in result.items():
                    levels[(sku, location)] -= units
                    served += units
                if sum(levels.values()) <= 0:
                    return served
            else:
                if len(waiting) < PAGE:
                    return served
        raise ConcurrentModification(f"could not finish serving the {sku} backorder queue: retry")

    def _serve(
        self, entry: Backorder, levels: dict[tuple[str, str], int], backlog: list[int], uow: UnitOfWork
    ) -> dict[str, int]:
        """Units given to one waiting line, per location ({} when it no longer waits). `backlog` holds the queue's
        units as this run knows them: the commit checks it and it follows what this run serves."""
        now = utc_now()
        order = self.store.order(entry.order_id)
        line = next((ln for ln in order.lines if ln.line_no == entry.line_no), None) if order else None
        if order is None or order.cancelled or line is None or line.backordered <= 0:
            return {}  # the release of a cancelled order removes its entries; nothing to serve here
        [plan] = plan_lines([(entry.line_no, entry.sku, line.backordered)], levels, self.location_ids)
        if not plan.allocations:
            return {}
        uow.save_order(
            order.begin(now).serve_backorder(entry.line_no, plan.allocations), expected_version=order.version
        )
        for location, units in plan.allocations.items():
            uow.move_stock(StockMove(entry.sku, location, reserve=units), now)
        uow.settle_backorder(entry, plan.backordered)
        uow.expect_backlog(entry.sku, backlog[0])
        uow.backlog(entry.sku, -plan.reserved)
        backlog[0] -= plan.reserved  # taken as committed: a failed commit ends this page (the caller reads again)
        return dict(plan.allocations)
