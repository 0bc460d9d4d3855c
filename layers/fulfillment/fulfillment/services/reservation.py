"""Stock reservation: reserve an order's lines, release a cancelled order's stock, expire unpaid orders.

Every step carries the order item's version condition, so a redelivered message either finds the work done
(and does nothing) or does it once. The order's lines are the reservation record (`allocations`: units per
location); the stock items count the same units, in the same transaction. Large orders are reserved in chunks
that fit one TransactWriteItems; `reservation_cursor` records how far it got.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from fulfillment.config import Settings
from fulfillment.contracts.provider import FulfillmentRequest
from fulfillment.domain.allocation import LinePlan, plan_lines
from fulfillment.domain.events import Entry
from fulfillment.domain.model import FillPolicy, Hold, Order, WorkState
from fulfillment.domain.shipments import units_in_flight
from fulfillment.domain.stock import Backorder, CatalogItem, StockLevel, StockMove, cap_for_backlog
from fulfillment.errors import ConcurrentModification, InsufficientStock, OrderNotFound
from fulfillment.services.dispatch import Sender, fulfillment_request, plan_shipments, send_each, unanswered
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import MAX_ATTEMPTS, Outcome, apply_once, utc_now

CHUNK_BUDGET = 99  # writes per transaction besides the order item (a SKU's backlog counter is one write)
HOT_SECONDS = 5.0  # how long a sharded SKU's catalog entry and shard counts are reused without reading them


@dataclass(frozen=True)
class _Hot:
    """A SKU whose every stocked level is sharded, as last read: its catalog entry and each location's count of
    items. Reused for a few seconds so that a flash sale's reservations read one shard item each instead of the
    SKU's base and catalog items, which share one partition (~3,000 reads/s). Fresh reads whenever the shard picked
    cannot cover the order (the level runs low, or units gathered on the base item for waiting backorders)."""

    until: float
    catalog: CatalogItem | None
    shards: dict[str, int]


class Reservations:
    """`send`: the providers' queues. With it, an order reserved whole, with nothing blocking it, is dispatched in
    the same transaction (its shipments made, submitted and requested here): one order write instead of two. The
    dispatch queue's `dispatch_order` remains the way for everything else (a hold released, backorders served, a
    rejected shipment re-routed, an order too big for one transaction with its shipments)."""

    def __init__(self, settings: Settings, store: Store, send: Sender | None = None) -> None:
        self.settings = settings
        self.store = store
        self.send = send
        self.location_ids = settings.stocked_location_ids
        self._hot: dict[str, _Hot] = {}

    def _order(self, order_id: str) -> Order:
        order = self.store.order(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        return order

    # ---------------------------------------------------------------- reserve
    def _in_chunks(self, step: Callable[[UnitOfWork], Outcome], *, more: Outcome, what: str) -> Outcome:
        """Run a step that does a transaction's worth at a time until it says there is no `more`."""
        for _ in range(MAX_ATTEMPTS * 4):
            result = apply_once(self.store, step, what=what, retry_on=(ConcurrentModification, InsufficientStock))
            if result is not more:
                return result
        raise ConcurrentModification(f"{what}: not finished after {MAX_ATTEMPTS * 4} transactions")

    def reserve(self, order_id: str, skus: Iterable[str] = ()) -> Outcome:
        """Reserve what the order still needs, a transaction per chunk of lines; then request the shipments the
        last one made (after the commit: a cancellation racing it sees them `submitted` and asks to cancel).
        `skus`: the SKUs the order reserves, when the message says them: read with the order, in one call."""
        requests: list[FulfillmentRequest] = []
        hint = frozenset(skus)
        outcome = self._in_chunks(
            lambda uow: self._reserve_chunk(order_id, uow, requests, hint),
            more=Outcome.RESERVED_CHUNK,
            what=f"reserve {order_id}",
        )
        if self.send is not None:
            send_each(self.send, requests)
        return outcome

    def _reserve_chunk(
        self, order_id: str, uow: UnitOfWork, requests: list[FulfillmentRequest], hint: frozenset[str] = frozenset()
    ) -> Outcome:
        requests.clear()
        read: tuple[dict[tuple[str, str], StockLevel], dict[str, CatalogItem]] | None = None
        asked: frozenset[str] = frozenset()
        if hint:  # the order and its stock in one read (a hot SKU's stock is what was last read: not again)
            asked = hint - self._hot_skus()
            found, stock, entries = self.store.order_and_stock(order_id, asked, self.location_ids)
            if found is None:
                raise OrderNotFound(f"no order {order_id}")
            order, read = found, (stock, entries)
        else:
            order = self._order(order_id)
        if order.cancelled or order.reservation_state is not WorkState.PENDING:
            if self.send is not None and order.shipment_seq and not order.cancelled:
                # A redelivery, maybe after a crash between the commit and the sends: what nobody answered goes
                # again (the same request_id; the provider dedupes). The acknowledgement timer would, later.
                _, shipments = self.store.order_with_shipments(order_id)
                requests.extend(unanswered(order, shipments, utc_now()))
            return Outcome.NOTHING_TO_DO
        now = utc_now()
        pending = [line for line in order.lines if line.line_no > order.reservation_cursor]
        skus = {line.sku for line in pending if line.needs_stock and line.sku}
        needed: dict[str, int] = defaultdict(int)
        for line in pending:
            if line.needs_stock and line.sku:
                needed[line.sku] += line.unallocated
        levels, catalog = self._levels(skus, read, asked)
        levels, parts = self._shards(levels, catalog, needed)

        def items(pairs: Iterable[tuple[str, str]]) -> list[int]:
            """Stock items a reservation of each (sku, location) writes: one, or each item read of a sharded one."""
            return [max(len(parts.get(pair) or ()), 1) for pair in pairs]

        available = {pair: max(level.available, 0) for pair, level in levels.items()}
        # Units waiting as backorders are promised to earlier orders (FIFO): new orders may not take them.
        available = cap_for_backlog(available, {s: c.backordered_units for s, c in catalog.items()}, self.location_ids)
        # Dropshipped SKUs come from their supplier, whose stock we do not count: always available there.
        dropship = {sku: c.dropship_location for sku, c in catalog.items() if c.dropship_location}

        first_pass = not any(ln.reserved or ln.backordered or ln.shipped for ln in order.lines)
        kill_if_short = order.fill_policy is FillPolicy.FILL_OR_KILL and order.reservation_cursor == 0 and first_pass
        if kill_if_short:
            whole = plan_lines(
                [
                    (ln.line_no, ln.sku, ln.unallocated)
                    for ln in pending
                    if ln.needs_stock and ln.sku and ln.sku not in dropship
                ],
                available,
                self.location_ids,
            )
            if any(p.backordered for p in whole):
                return self._kill(order, now, uow)

        updated = order.begin(now)
        taken: dict[tuple[str, str], int] = defaultdict(int)
        backlog: dict[str, int] = defaultdict(int)
        backorders: list[Backorder] = []
        cursor = order.reservation_cursor
        for line in pending:
            if line.needs_stock and line.unallocated and line.sku:
                if line.sku in dropship:
                    plan = LinePlan(line.line_no, line.sku, allocations={str(dropship[line.sku]): line.unallocated})
                else:
                    free = {pair: units - taken.get(pair, 0) for pair, units in available.items()}
                    [plan] = plan_lines([(line.line_no, line.sku, line.unallocated)], free, self.location_ids)
                if not order.may_backorder:  # unpaid: what is on the shelf, no place in the queue
                    plan = replace(plan, backordered=0)
                tracked = {
                    loc for loc in plan.allocations if self.settings.tracks_stock(loc) and line.sku not in dropship
                }
                # Stock items, backorder entries, and the catalog item of each SKU that queues a backorder (its
                # backlog counter; the units available over its locations are counted by the event router).
                adds = sum(items({(plan.sku, loc) for loc in tracked} - set(taken))) + bool(plan.backordered)
                adds += bool(plan.backordered) and plan.sku not in backlog
                if sum(items(taken)) + len(backorders) + len(backlog) + adds > CHUNK_BUDGET:
                    break
                for location in tracked:
                    taken[(line.sku, location)] += plan.allocations[location]
                if plan.backordered:
                    backlog[line.sku] += plan.backordered
                    backorders.append(
                        Backorder(line.sku, order.created_at, order.order_id, line.line_no, plan.backordered)
                    )
                updated = updated.reserve(line.line_no, plan.allocations, plan.backordered)
            cursor = line.line_no
        done = cursor >= max((ln.line_no for ln in order.lines), default=0)
        updated = replace(updated, reservation_cursor=cursor)
        updated = updated.reservation_finished() if done else updated
        if done and self.send is not None and not order.shipment_seq:
            dispatched, made = plan_shipments(self.settings, updated, [], now)
            writes = sum(items(taken)) + len(backorders) + len(backlog) + len(made)
            if made and writes <= CHUNK_BUDGET:
                updated = dispatched
                for shipment in made:
                    uow.add_shipment(shipment)
                requests.extend(fulfillment_request(order, s, now) for s in made if not s.in_house)
        uow.save_order(updated, expected_version=order.version)
        for (sku, location), units in taken.items():
            for shard, share in _take(parts.get((sku, location)), units):
                uow.move_stock(StockMove(sku, location, reserve=share, shard=shard), now)
        for backorder in backorders:
            uow.queue_backorder(backorder)
        for sku, units in backlog.items():
            uow.backlog(sku, units)
        return Outcome.RESERVED if done else Outcome.RESERVED_CHUNK

    def _hot_skus(self) -> set[str]:
        clock = time.monotonic()
        return {sku for sku, entry in self._hot.items() if entry.until > clock}

    def _levels(
        self,
        skus: set[str],
        read: tuple[dict[tuple[str, str], StockLevel], dict[str, CatalogItem]] | None = None,
        read_skus: frozenset[str] = frozenset(),
    ) -> tuple[dict[tuple[str, str], StockLevel], dict[str, CatalogItem]]:
        """The SKUs' levels (base items) and catalog entries, from one read (or `read` with the order, for
        `read_skus`); a hot SKU's from what was last read (its base item's units then count only if the shard picked
        falls short: see `_shards`)."""
        clock = time.monotonic()
        hot = {sku: entry for sku in skus if (entry := self._hot.get(sku)) and entry.until > clock}
        have = (read_skus & skus) - set(hot) if read is not None else frozenset()
        missing = skus - set(hot) - have
        levels, catalog = self.store.stock_and_catalog(missing, self.location_ids) if missing else ({}, {})
        if read is not None:
            levels.update({pair: level for pair, level in read[0].items() if pair[0] in have})
            catalog.update({sku: entry for sku, entry in read[1].items() if sku in have})
        for sku, entry in hot.items():
            if entry.catalog is not None:
                catalog[sku] = entry.catalog
            for location, shards in entry.shards.items():
                levels[(sku, location)] = StockLevel(sku, location, shards=shards, exists=False)
        for sku in skus - set(hot):
            mine = {loc: lvl.shards for (s, loc), lvl in levels.items() if s == sku}
            waiting = catalog.get(sku) is not None and catalog[sku].backordered_units > 0
            if mine and all(n > 1 for n in mine.values()) and not waiting:  # a backlog is read fresh each time
                self._hot[sku] = _Hot(clock + HOT_SECONDS, catalog.get(sku), mine)
        return levels, catalog

    def _shards(
        self, levels: dict[tuple[str, str], StockLevel], catalog: dict[str, CatalogItem], needed: dict[str, int]
    ) -> tuple[dict[tuple[str, str], StockLevel], dict[tuple[str, str], list[StockLevel]]]:
        """Levels kept on several items (a flash sale's SKU): read one of their other items, picked at random, so
        concurrent reservations spread over the items' partitions; all of them (with the base item and the catalog
        entry, afresh) only when what was read cannot cover what the order needs of the SKU: the level is running
        low, and every unit counts. Returns the levels as far as they were read, and for each sharded one the items
        read (units are taken from them in that order: the picked shard first, the base item last)."""
        sharded = {pair: level for pair, level in levels.items() if level.shards > 1}
        if not sharded:
            return levels, {}
        # Spreading load, not a secret: the module's generator (reseeded after a SnapStart restore).
        picks = {pair: [random.randrange(1, lvl.shards)] for pair, lvl in sharded.items()}  # noqa: S311
        picked = self.store.stock_shards(picks)
        parts = {pair: [*_of(picked, pair), base] for pair, base in sharded.items() if base.exists}
        parts |= {pair: _of(picked, pair) for pair, base in sharded.items() if not base.exists}
        # What was read must cover the order once the units promised to waiting backorders are set aside.
        short = {
            pair
            for pair in sharded
            if sum(max(p.available, 0) for p in parts[pair]) - _waiting(catalog, pair[0]) < needed.get(pair[0], 0)
        }
        if short:
            fresh, entries = self.store.stock_and_catalog({sku for sku, _ in short}, self.location_ids)
            catalog.update(entries)
            for sku in entries:
                self._hot.pop(sku, None)  # read again next time: the level is low, or its shards changed
            every = self.store.stock_shards({pair: range(1, fresh[pair].shards) for pair in short if pair in fresh})
            for pair in short:
                others = _of(every, pair)
                random.shuffle(others)  # noqa: S311
                base = fresh.get(pair)
                parts[pair] = [*others, base] if base is not None else others
                if base is not None:
                    sharded[pair] = base
        out = dict(levels)
        for pair, items in parts.items():
            out[pair] = replace(
                sharded[pair],
                available=sum(max(p.available, 0) for p in items),
                exists=bool(items) or sharded[pair].exists,
            )
        return out, parts

    def _kill(self, order: Order, now: str, uow: UnitOfWork) -> Outcome:
        """fill_or_kill: not everything can be reserved now, so nothing is: the order is cancelled."""
        updated = replace(order.begin(now), reservation_state=WorkState.DONE)
        updated = updated.cancel(reason="insufficient_stock", by="fill_or_kill")
        if not order.holds_stock:
            updated = replace(updated, release_state=WorkState.NONE)  # nothing was taken
        uow.save_order(updated, expected_version=order.version)
        return Outcome.KILLED

    # ---------------------------------------------------------------- unpaid expiry
    def expire_unpaid(self, order_id: str) -> Outcome:
        """Cancel an order still awaiting payment past the expiry after the hold was placed; its stock returns."""

        def step(uow: UnitOfWork) -> Outcome:
            order = self._order(order_id)
            hold = order.holds.get(Hold.AWAITING_PAYMENT.value)
            if order.cancelled or hold is None:
                return Outcome.NOTHING_TO_DO
            now = utc_now()
            waited = (datetime.fromisoformat(now) - datetime.fromisoformat(hold["since"])).total_seconds()
            if waited < self.settings.unpaid_expiry_seconds:
                return Outcome.NOT_YET
            uow.save_order(
                order.begin(now).cancel(reason="payment_expired", by="timer"), expected_version=order.version
            )
            return Outcome.EXPIRED

        return apply_once(self.store, step, what=f"expire {order_id}")

    # ---------------------------------------------------------------- release
    def release(self, order_id: str) -> Outcome:
        """Give back everything a cancelled order holds: reserved units and places in backorder queues."""
        return self._in_chunks(
            lambda uow: self._release_chunk(order_id, uow), more=Outcome.RELEASED_CHUNK, what=f"release {order_id}"
        )

    def _release_chunk(self, order_id: str, uow: UnitOfWork) -> Outcome:
        """Give back what fits one transaction: reserved units (one stock item per SKU and location) and places in
        backorder queues (one queue entry each, plus the SKU's backlog counter). Units in a shipment the provider
        has not yet given up are kept: they are released when it accepts the cancellation (they leave `in_flight`).
        """
        order, shipments = self.store.order_with_shipments(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        if order.release_state is not WorkState.PENDING:
            return Outcome.NOTHING_TO_DO
        now = utc_now()
        in_flight = units_in_flight(shipments)
        updated = order.begin(now)
        returned: dict[tuple[str, str], int] = defaultdict(int)
        backlog: dict[str, int] = defaultdict(int)
        catalogs: set[str] = set()  # one write per SKU whose backlog counter changes
        writes, finished = 0, True

        def fits(cost: int) -> bool:
            nonlocal writes, finished
            if writes + cost > CHUNK_BUDGET:
                finished = False
                return False
            writes += cost
            return True

        for line in order.lines:
            for location, held in line.allocations.items():
                units = held - in_flight.get((line.line_no, location), 0)
                if units <= 0:
                    continue
                if line.sku and self.settings.tracks_stock(location):
                    if (line.sku, location) not in returned and not fits(1):
                        continue
                    returned[(line.sku, location)] += units
                updated = updated.release(line.line_no, location, units)
            if line.backordered and line.sku and fits(1 + (line.sku not in catalogs)):
                catalogs.add(line.sku)
                uow.settle_backorder(Backorder(line.sku, order.created_at, order.order_id, line.line_no, 0), 0)
                backlog[line.sku] -= line.backordered
                updated = updated.with_line(replace(updated.line(line.line_no), backordered=0))
        for sku, delta in backlog.items():
            uow.backlog(sku, delta)
        for (sku, location), units in returned.items():
            uow.move_stock(StockMove(sku, location, release=units), now)
        if finished:
            released = sum(line.reserved for line in order.lines) - sum(line.reserved for line in updated.lines)
            updated = replace(updated, release_state=WorkState.DONE).record(
                Entry("stock_released", {"units": released})
            )
        uow.save_order(updated, expected_version=order.version)
        return Outcome.RELEASED if finished else Outcome.RELEASED_CHUNK


def _of(found: dict[tuple[str, str, int], StockLevel], pair: tuple[str, str]) -> list[StockLevel]:
    return [level for (sku, loc, _), level in found.items() if (sku, loc) == pair]


def _take(items: Iterable[StockLevel] | None, units: int) -> list[tuple[int, int]]:
    """(shard, units) to reserve from a level's items, in their order, each at most what it had when read (the
    write's condition checks it again). An unsharded level: all from its one item."""
    if items is None:
        return [(0, units)]
    shares: dict[int, int] = defaultdict(int)
    for item in items:
        share = min(units, max(item.available, 0))
        if share:
            shares[item.shard] += share
            units -= share
    if units:  # more than was read (cannot happen: the plan took at most that): let the base item's condition say
        shares[0] += units
    return list(shares.items())


def _waiting(catalog: dict[str, CatalogItem], sku: str) -> int:
    entry = catalog.get(sku)
    return entry.backordered_units if entry is not None else 0
