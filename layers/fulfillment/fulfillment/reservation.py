"""Stock reservation: reserve an order's lines, release a cancelled order's stock, serve backorders FIFO.

Every step is idempotent by construction: each transaction carries the order item's version
condition, so a redelivered message either finds the work done (and does nothing) or does it once.
Large orders are reserved in chunks that fit one TransactWriteItems (<= 100 items); the order's
`reservation_cursor` records how far it got, so a crash between chunks resumes where it stopped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime

from fulfillment import keys
from fulfillment.adapters import dynamo
from fulfillment.adapters import stock_store as stock_ops
from fulfillment.adapters.order_store import OrderStore
from fulfillment.adapters.shipment_store import ShipmentStore
from fulfillment.adapters.stock_store import CatalogStore, StockStore
from fulfillment.config import Settings
from fulfillment.domain import transitions
from fulfillment.domain.allocation import LinePlan, plan_lines
from fulfillment.domain.events import CustomerEvent
from fulfillment.domain.model import FillPolicy, Hold, Line, Order, WorkState
from fulfillment.domain.shipments import units_in_flight
from fulfillment.domain.timeline import Entry
from fulfillment.errors import ConcurrentModification

MAX_ATTEMPTS = 12
CHUNK_BUDGET = dynamo.MAX_TRANSACTION_ITEMS - 4  # the order item and up to three timeline entries


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Reservations:
    def __init__(
        self,
        settings: Settings,
        orders: OrderStore | None = None,
        stock: StockStore | None = None,
        catalog: CatalogStore | None = None,
        shipments: ShipmentStore | None = None,
    ) -> None:
        self.settings = settings
        self.orders = orders or OrderStore()
        self.stock = stock or StockStore()
        self.catalog = catalog or CatalogStore()
        self.shipments = shipments or ShipmentStore()
        self.location_ids = settings.stocked_location_ids

    # ---------------------------------------------------------------- reserve
    def reserve(self, order_id: str) -> str:
        """Reserve what the order still needs. Returns what happened (for logs and metrics)."""
        outcome = "nothing to do"
        for _ in range(MAX_ATTEMPTS * 4):
            order = self.orders.get(order_id)
            if order.cancelled or order.reservation_state is not WorkState.PENDING:
                return outcome
            try:
                outcome = self._reserve_next_chunk(order)
            except (ConcurrentModification, dynamo.TransactionCancelled):
                continue  # someone changed the order or took the stock we planned on: read again
        raise ConcurrentModification(f"could not reserve order {order_id}: too much contention")

    def _reserve_next_chunk(self, order: Order) -> str:
        now = utc_now()
        pending = [line for line in order.lines if line.line_no > order.reservation_cursor]
        skus = {line.sku for line in pending if line.needs_stock}
        levels = self.stock.levels(skus, self.location_ids)
        available = {pair: max(int(item.get("available", 0)), 0) for pair, item in levels.items()}
        catalog = self.catalog.lookup(skus)
        # Units waiting as backorders are promised to earlier orders (FIFO): new orders may not take them.
        waiting = {sku: int(item.get("backordered_units", 0)) for sku, item in catalog.items()}
        available = _cap_for_backlog(available, waiting, self.location_ids)
        # Dropshipped SKUs come from their supplier, whose stock we do not count: always available there.
        dropship = {sku: item["dropship_location"] for sku, item in catalog.items() if item.get("dropship_location")}

        first_pass = not any(ln.reserved or ln.backordered or ln.shipped for ln in order.lines)
        if order.fill_policy is FillPolicy.FILL_OR_KILL and order.reservation_cursor == 0 and first_pass:
            whole = plan_lines(
                [(ln.line_no, ln.sku, ln.unallocated) for ln in pending if ln.needs_stock and ln.sku not in dropship],
                available,
                self.location_ids,
            )
            if any(p.backordered for p in whole):
                return self._kill(order, now)

        ops: list[dynamo.Op] = []
        taken: dict[tuple[str, str], int] = defaultdict(int)
        backlog: dict[str, int] = defaultdict(int)
        new_lines = {line.line_no: line for line in order.lines}
        cursor = order.reservation_cursor
        for line in pending:
            if line.needs_stock and line.unallocated and line.sku in dropship:
                plan = LinePlan(line.line_no, line.sku, allocations={dropship[line.sku]: line.unallocated})
                if len(ops) + len(taken) + len(backlog) + 1 > CHUNK_BUDGET:
                    break
                ops.append(
                    stock_ops.add_reservation(
                        order.order_id,
                        line.line_no,
                        line.sku,
                        dropship[line.sku],
                        line.unallocated,
                        now,
                        untracked=True,
                    )
                )
                new_lines[line.line_no] = _allocated(line, plan)
            elif line.needs_stock and line.unallocated:
                [plan] = plan_lines(
                    [(line.line_no, line.sku, line.unallocated)], _minus(available, taken), self.location_ids
                )
                if order.fill_policy is FillPolicy.FILL_OR_KILL and plan.backordered and first_pass:
                    return self._kill(order, now)
                line_ops = self._line_ops(order, line, plan, now)
                used = len(ops) + len(taken) + len(backlog)
                needed = len(line_ops) + len(_new_stock_items(taken, plan)) + len(_new_backlog_items(backlog, plan))
                if used + needed > CHUNK_BUDGET:
                    break
                ops += line_ops
                for location, units in plan.allocations.items():
                    taken[(line.sku, location)] += units
                if plan.backordered:
                    backlog[line.sku] += plan.backordered
                new_lines[line.line_no] = _allocated(line, plan)
            cursor = line.line_no

        ops += [stock_ops.take_stock(sku, loc, units, now) for (sku, loc), units in taken.items()]
        ops += [stock_ops.backlog(sku, units) for sku, units in backlog.items()]
        done = cursor >= max((ln.line_no for ln in order.lines), default=0)
        updated = replace(
            transitions.begin(order, now),
            lines=tuple(new_lines[ln.line_no] for ln in order.lines),
            reservation_cursor=cursor,
            reservation_state=WorkState.DONE if done else WorkState.PENDING,
        )
        entries = self._completion_entries(updated) if done else []
        self.orders.save(updated, expected_version=order.version, entries=entries, extra=ops)
        return "reserved" if done else "reserved a chunk"

    def _line_ops(self, order: Order, line: Line, plan: LinePlan, now: str) -> list[dynamo.Op]:
        ops = [
            stock_ops.add_reservation(order.order_id, line.line_no, line.sku, loc, units, now)
            for loc, units in plan.allocations.items()
        ]
        if plan.backordered:
            ops.append(
                stock_ops.queue_backorder(line.sku, order.created_at, order.order_id, line.line_no, plan.backordered)
            )
        return ops

    def _completion_entries(self, order: Order) -> list[Entry]:
        reserved = sum(line.reserved for line in order.lines)
        waiting = sum(line.backordered for line in order.lines)
        entries = [Entry("reserved", {"units": reserved, "backordered": waiting})]
        if waiting:
            entries.append(
                Entry(
                    "backordered",
                    {
                        "lines": [
                            {"line_no": ln.line_no, "sku": ln.sku, "units": ln.backordered}
                            for ln in order.lines
                            if ln.backordered
                        ]
                    },
                    CustomerEvent.ORDER_BACKORDERED,
                    occurrence=str(order.version),
                )
            )
        return entries

    def _kill(self, order: Order, now: str) -> str:
        """fill_or_kill: not everything can be reserved now, so nothing is: the order is cancelled."""
        updated = replace(transitions.begin(order, now), reservation_state=WorkState.DONE)
        updated, entries = transitions.cancel(updated, reason="insufficient_stock", by="fill_or_kill")
        if order.reservation_cursor == 0:
            updated = replace(updated, release_state=WorkState.NONE)  # nothing was taken
        self.orders.save(updated, expected_version=order.version, entries=entries)
        return "killed"

    # ---------------------------------------------------------------- unpaid expiry
    def expire_unpaid(self, order_id: str, *, expire_after: int) -> str:
        """Cancel an order still awaiting payment `expire_after` s after the hold was placed; its stock returns."""
        for _ in range(MAX_ATTEMPTS):
            order = self.orders.get(order_id)
            hold = order.holds.get(Hold.AWAITING_PAYMENT.value)
            if order.cancelled or hold is None:
                return "paid or cancelled meanwhile"
            now = utc_now()
            since = datetime.fromisoformat(hold["since"])
            if (datetime.fromisoformat(now) - since).total_seconds() < expire_after:
                return "not yet"
            updated, entries = transitions.cancel(transitions.begin(order, now), reason="payment_expired", by="timer")
            try:
                self.orders.save(updated, expected_version=order.version, entries=entries)
                return "expired"
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"could not expire order {order_id}")

    # ---------------------------------------------------------------- release
    def release(self, order_id: str) -> str:
        """Give back everything a cancelled order holds: reservations and places in backorder queues."""
        for _ in range(MAX_ATTEMPTS * 4):
            order = self.orders.get(order_id)
            if order.release_state is not WorkState.PENDING:
                return "nothing to do"
            try:
                if self._release_next_chunk(order):
                    return "released"
            except (ConcurrentModification, dynamo.TransactionCancelled):
                continue
        raise ConcurrentModification(f"could not release order {order_id}")

    def _release_next_chunk(self, order: Order) -> bool:
        """Release a chunk. Units in a shipment the provider has not yet given up are kept: they are
        released when the provider accepts the cancellation (the shipment then leaves `in_flight`)."""
        now = utc_now()
        in_flight = units_in_flight(self.shipments.of_order(order.order_id)) if order.shipment_seq else {}
        releasable = []
        for res in self.orders.reservations(order.order_id):
            units = int(res["quantity"]) - in_flight.get((int(res["line_no"]), res["location"]), 0)
            if units > 0:
                releasable.append((res, units))
        per_item = 2
        batch = releasable[: (CHUNK_BUDGET - 2 * len(order.lines)) // per_item]
        ops: list[dynamo.Op] = []
        lines = {line.line_no: line for line in order.lines}
        returned: dict[tuple[str, str], int] = defaultdict(int)
        for res, units in batch:
            if not res.get("untracked"):
                returned[(res["sku"], res["location"])] += units
            key = {"PK": res["PK"], "SK": res["SK"]}
            ops.append(
                stock_ops.drop_reservation(key)
                if units == int(res["quantity"])
                else dynamo.update(key, "ADD quantity :d", values={":d": -units})
            )
            line = lines[int(res["line_no"])]
            remaining = line.allocations.get(res["location"], 0) - units
            allocations = {k: v for k, v in {**line.allocations, res["location"]: remaining}.items() if v > 0}
            lines[line.line_no] = replace(line, reserved=max(line.reserved - units, 0), allocations=allocations)
        ops += [stock_ops.return_stock(sku, loc, units, now) for (sku, loc), units in returned.items()]
        finished = len(batch) == len(releasable)
        entries: list[Entry] = []
        if finished:
            backlog: dict[str, int] = defaultdict(int)
            for line in order.lines:
                if line.backordered:
                    ops.append(
                        dynamo.delete(keys.backorder_key(line.sku, order.created_at, order.order_id, line.line_no))
                    )
                    backlog[line.sku] -= line.backordered
                    lines[line.line_no] = replace(lines[line.line_no], backordered=0)
            ops += [stock_ops.backlog(sku, units) for sku, units in backlog.items()]
            released_units = sum(units for _, units in releasable)
            entries.append(Entry("stock_released", {"units": released_units}))
        updated = replace(
            transitions.begin(order, now),
            lines=tuple(lines[ln.line_no] for ln in order.lines),
            release_state=WorkState.DONE if finished else WorkState.PENDING,
        )
        self.orders.save(updated, expected_version=order.version, entries=entries, extra=ops)
        return finished

    # ---------------------------------------------------------------- backorders
    def allocate_backorders(self, sku: str) -> int:
        """Serve the SKU's waiting lines oldest first from whatever is available now. Returns units served."""
        served = 0
        for _ in range(MAX_ATTEMPTS * 4):
            waiting = self.stock.waiting(sku, limit=25)
            if not waiting:
                return served
            levels = {
                (sku, item["location"]): max(int(item.get("available", 0)), 0) for item in self.stock.locations_of(sku)
            }
            if sum(levels.values()) <= 0:
                return served
            progressed = False
            for entry in waiting:
                try:
                    units = self._serve(entry, levels)
                except (ConcurrentModification, dynamo.TransactionCancelled):
                    break  # re-read queue and levels
                served += units
                progressed = True
                if sum(levels.values()) <= 0:
                    return served
            if not progressed:
                continue
            if len(waiting) < 25:
                return served
        raise ConcurrentModification(f"could not finish serving the {sku} backorder queue: retry")

    def _serve(self, entry: dict, levels: dict[tuple[str, str], int]) -> int:
        now = utc_now()
        sku, order_id, line_no = entry["sku"], entry["order_id"], int(entry["line_no"])
        key = {"PK": entry["PK"], "SK": entry["SK"]}
        order = self.orders.find(order_id)
        line = next((ln for ln in order.lines if ln.line_no == line_no), None) if order else None
        if order is None or order.cancelled or line is None or line.backordered <= 0:
            return 0  # the release of a cancelled order removes its entries; nothing to serve here
        [plan] = plan_lines([(line_no, sku, line.backordered)], levels, self.location_ids)
        if not plan.allocations:
            return 0
        ops = [
            stock_ops.add_reservation(order_id, line_no, sku, loc, units, now)
            for loc, units in plan.allocations.items()
        ]
        ops += [stock_ops.take_stock(sku, loc, units, now) for loc, units in plan.allocations.items()]
        ops.append(stock_ops.serve_backorder(key, plan.backordered))
        ops.append(stock_ops.backlog(sku, -plan.reserved))
        allocations = dict(line.allocations)
        for loc, units in plan.allocations.items():
            allocations[loc] = allocations.get(loc, 0) + units
        new_line = replace(
            line, reserved=line.reserved + plan.reserved, backordered=plan.backordered, allocations=allocations
        )
        updated = replace(
            transitions.begin(order, now), lines=tuple(new_line if ln.line_no == line_no else ln for ln in order.lines)
        )
        entries = [
            Entry(
                "backorder_allocated",
                {"line_no": line_no, "sku": sku, "units": plan.reserved, "still_waiting": plan.backordered},
            )
        ]
        self.orders.save(updated, expected_version=order.version, entries=entries, extra=ops)
        for loc, units in plan.allocations.items():
            levels[(sku, loc)] -= units
        return plan.reserved


def _allocated(line: Line, plan: LinePlan) -> Line:
    allocations = dict(line.allocations)
    for loc, units in plan.allocations.items():
        allocations[loc] = allocations.get(loc, 0) + units
    return replace(
        line,
        reserved=line.reserved + plan.reserved,
        backordered=line.backordered + plan.backordered,
        allocations=allocations,
    )


def _minus(available: dict, taken: dict) -> dict:
    return {pair: units - taken.get(pair, 0) for pair, units in available.items()}


def _cap_for_backlog(available: dict[tuple[str, str], int], waiting: dict[str, int], locations: list[str]) -> dict:
    """Hide `waiting[sku]` units from new orders, taking them from the lowest-priority locations first."""
    capped = dict(available)
    for sku, units in waiting.items():
        for location in reversed(locations):
            if units <= 0:
                break
            hidden = min(units, capped.get((sku, location), 0))
            if hidden:
                capped[(sku, location)] -= hidden
                units -= hidden
    return capped


def _new_stock_items(taken: dict, plan: LinePlan) -> set:
    """Stock items this line would add to the chunk's transaction (ones not already in it)."""
    return {(plan.sku, loc) for loc in plan.allocations} - set(taken)


def _new_backlog_items(backlog: dict, plan: LinePlan) -> set:
    return {plan.sku} - set(backlog) if plan.backordered else set()
