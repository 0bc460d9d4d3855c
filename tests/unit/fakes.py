"""In-memory implementations of the services' ports (`fulfillment.services.ports`): no moto, no sockets.

`MemoryUnitOfWork` keeps the same promises as `adapters.uow.DynamoUnitOfWork`: every write of a step is checked
first and applied all together or not at all, and a failed condition raises the domain error the write declared
(`AlreadyApplied` > `AlreadyExists` > `OrderOfAnotherShop` > `ConcurrentModification` > `InsufficientStock` when
several fail).
The integration tier checks the DynamoDB adapter against the same services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fulfillment.domain.entitlements import Entitlement
from fulfillment.domain.events import Entry
from fulfillment.domain.model import Order
from fulfillment.domain.returns import Rma
from fulfillment.domain.shipments import KeptUpdates, Shipment, ShipmentEvent
from fulfillment.domain.stock import Adjustment, Backorder, CatalogItem, StockLevel, StockMove
from fulfillment.errors import (
    AlreadyApplied,
    AlreadyExists,
    ConcurrentModification,
    FulfillmentError,
    InsufficientStock,
    OrderOfAnotherShop,
)

_PRECEDENCE = (AlreadyApplied, AlreadyExists, OrderOfAnotherShop, ConcurrentModification, InsufficientStock)


@dataclass
class MemoryStore:
    orders: dict[str, Order] = field(default_factory=dict)
    platform_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, platform id) -> order id
    shipments: dict[str, Shipment] = field(default_factory=dict)
    events: dict[tuple[str, str, str], ShipmentEvent] = field(default_factory=dict)
    markers: set[tuple[str, str]] = field(default_factory=set)
    pointers: dict[tuple[str, str], str] = field(default_factory=dict)
    kept: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    kept_count: dict[tuple[str, str], int] = field(default_factory=dict)
    stock: dict[tuple[str, str], StockLevel] = field(default_factory=dict)
    shard_items: dict[tuple[str, str, int], StockLevel] = field(default_factory=dict)
    audit: dict[tuple[str, str, str], Adjustment] = field(default_factory=dict)
    catalog_items: dict[str, CatalogItem] = field(default_factory=dict)
    queue: dict[tuple[str, str, str, int], Backorder] = field(default_factory=dict)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    rmas: dict[str, Rma] = field(default_factory=dict)
    history: list[tuple[str, Entry]] = field(default_factory=list)  # (order id, entry), as the router would write
    commits: int = 0
    combined_reads: int = 0  # order_and_stock: an order read with its stock in one call
    before_commit: Callable[[], None] | None = None  # a test's hook: another writer lands between read and write

    def unit(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    # ------------------------------------------------------------------ reads
    def order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def order_with_shipments(self, order_id: str) -> tuple[Order | None, list[Shipment]]:
        return self.orders.get(order_id), sorted(
            (s for s in self.shipments.values() if s.order_id == order_id), key=lambda s: s.shipment_id
        )

    def shipment(self, shipment_id: str) -> Shipment | None:
        return self.shipments.get(shipment_id)

    def order_and_entitlements(self, order_id: str) -> tuple[Order | None, list[Entitlement]]:
        found = [e for e in self.entitlements.values() if e.order_id == order_id]
        return self.orders.get(order_id), sorted(found, key=lambda e: e.line_no)

    def entitlement(self, entitlement_id: str) -> Entitlement | None:
        return self.entitlements.get(entitlement_id)

    def returns_context(self, order_id: str) -> tuple[Order | None, list[Shipment], list[Rma]]:
        order, shipments = self.order_with_shipments(order_id)
        return order, shipments, [r for r in self.rmas.values() if r.order_id == order_id]

    def rma_and_order(self, rma_id: str) -> tuple[Order | None, Rma | None]:
        rma = self.rmas.get(rma_id)
        return (self.orders.get(rma.order_id) if rma else None), rma

    def take_download(self, entitlement_id: str, link_version: int, now: str) -> tuple[bool, Entitlement | None]:
        """The conditional update, as DynamoDB evaluates it (one item, atomically)."""
        current = self.entitlements.get(entitlement_id)
        if current is None or current.refusal(now, link_version) is not None:
            return False, current
        served = replace(
            current,
            downloads_remaining=current.downloads_remaining - 1,
            downloads_served=current.downloads_served + 1,
        )
        self.entitlements[entitlement_id] = served
        return True, served

    def shipment_and_order(self, shipment_id: str) -> tuple[Shipment | None, Order | None]:
        shipment = self.shipments.get(shipment_id)
        return shipment, self.orders.get(shipment_id.rsplit(".", 1)[0])

    def shipment_events(self, shipment_id: str) -> list[ShipmentEvent]:
        return sorted((e for e in self.events.values() if e.shipment_id == shipment_id), key=lambda e: e.at)

    def has_event(self, shipment_id: str, source: str, message_id: str) -> bool:
        return (shipment_id, source, message_id) in self.events

    def record_event(self, event: ShipmentEvent) -> bool:
        key = (event.shipment_id, event.source, event.message_id)
        if key in self.events:
            return False
        self.events[key] = event
        return True

    def by_tracking(self, carrier: str, tracking_number: str, *, consistent: bool = False) -> str | None:
        return self.pointers.get((carrier, tracking_number))

    def _kept(self, carrier: str, tracking_number: str) -> KeptUpdates:
        updates = tuple(u for (c, n, _), u in sorted(self.kept.items()) if (c, n) == (carrier, tracking_number))
        return KeptUpdates(self.kept_count.get((carrier, tracking_number), 0), updates)

    def shipped_context(
        self, shipment_id: str, carrier: str, tracking_number: str
    ) -> tuple[Shipment | None, Order | None, KeptUpdates]:
        shipment, order = self.shipment_and_order(shipment_id)
        return shipment, order, self._kept(carrier, tracking_number)

    def keep_early(self, carrier: str, tracking_number: str, event_id: str, update: dict[str, Any]) -> str | None:
        """The conditional update, as DynamoDB evaluates it: refused, naming the shipment, once one claims it."""
        claimed = self.pointers.get((carrier, tracking_number))
        if claimed is not None:
            return claimed
        self.kept[(carrier, tracking_number, event_id)] = update
        self.kept_count[(carrier, tracking_number)] = self.kept_count.get((carrier, tracking_number), 0) + 1
        return None

    def catalog(self, skus: Iterable[str]) -> dict[str, CatalogItem]:
        return {s: self.catalog_items[s] for s in skus if s in self.catalog_items}

    def catalog_item(self, sku: str) -> CatalogItem | None:
        return self.catalog_items.get(sku)

    def intake_context(self, order_id: str, skus: Iterable[str]) -> tuple[bool, dict[str, CatalogItem]]:
        return order_id in self.orders, self.catalog(skus)

    def stock_and_catalog(
        self, skus: Iterable[str], locations: Iterable[str]
    ) -> tuple[dict[tuple[str, str], StockLevel], dict[str, CatalogItem]]:
        return self._stock_and_catalog(skus, locations)

    def _stock_and_catalog(
        self, skus: Iterable[str], locations: Iterable[str]
    ) -> tuple[dict[tuple[str, str], StockLevel], dict[str, CatalogItem]]:
        skus, locations = set(skus), list(locations)
        levels = {(s, loc): self.stock[(s, loc)] for s in skus for loc in locations if (s, loc) in self.stock}
        return levels, self.catalog(skus)

    def order_and_stock(
        self, order_id: str, skus: Iterable[str], locations: Iterable[str]
    ) -> tuple[Order | None, dict[tuple[str, str], StockLevel], dict[str, CatalogItem]]:
        self.combined_reads += 1
        return (self.order(order_id), *self._stock_and_catalog(skus, locations))

    def stock_shards(self, wanted: Mapping[tuple[str, str], Iterable[int]]) -> dict[tuple[str, str, int], StockLevel]:
        keys = [(sku, loc, n) for (sku, loc), shards in wanted.items() for n in shards if n]
        return {key: self.shard_items[key] for key in keys if key in self.shard_items}

    def counted_level(self, sku: str, location: str) -> tuple[StockLevel, int | None]:
        base = self.base_level(sku, location)
        return self._summed(base), base.on_hand if base.exists else None

    def base_level(self, sku: str, location: str) -> StockLevel:
        return self.stock.get((sku, location), StockLevel(sku, location, exists=False))

    def _summed(self, base: StockLevel) -> StockLevel:
        total = replace(base, shard=0)
        for (sku, loc, _), part in sorted(self.shard_items.items()):
            if (sku, loc) == (base.sku, base.location) and base.shards > 1:
                total = total.plus(part)
        return total

    def level(self, sku: str, location: str) -> StockLevel:
        return self._summed(self.base_level(sku, location))

    def levels_of(self, sku: str) -> list[StockLevel]:
        return [self._summed(level) for (s, _), level in sorted(self.stock.items()) if s == sku]

    def backorders(self, sku: str, limit: int = 50) -> list[Backorder]:
        return [b for key, b in sorted(self.queue.items()) if key[0] == sku][:limit]

    def adjustments(self, sku: str, location: str, limit: int = 50) -> list[Adjustment]:
        return [a for (s, loc, _), a in self.audit.items() if (s, loc) == (sku, location)][-limit:]

    # ------------------------------------------------------------------ test set-up
    def add_catalog(self, sku: str, **fields: Any) -> None:
        self.catalog_items[sku] = CatalogItem(sku=sku, raw={"sku": sku, **fields}, **fields)

    def put_stock(self, sku: str, location: str, on_hand: int) -> None:
        self.stock[(sku, location)] = StockLevel(sku, location, on_hand=on_hand, available=on_hand)


Check = Callable[[], FulfillmentError | None]
Apply = Callable[[], None]


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.writes: list[tuple[Check, Apply]] = []

    def __len__(self) -> int:
        return len(self.writes)

    def _write(self, check: Check, apply: Apply) -> None:
        self.writes.append((check, apply))

    # ------------------------------------------------------------------ orders and shipments
    def add_order(self, order: Order) -> None:
        s = self.store
        self._write(
            lambda: AlreadyExists(order.order_id) if order.order_id in s.orders else None,
            lambda: self._store_order(order),
        )

    def claim_platform_id(self, order: Order, platform_id: str) -> None:
        s, key = self.store, (order.channel.value, platform_id)
        self._write(
            lambda: OrderOfAnotherShop(platform_id) if key in s.platform_ids else None,
            lambda: s.platform_ids.__setitem__(key, order.order_id),
        )

    def save_order(self, order: Order, *, expected_version: int, with_detail: bool = False) -> None:
        s = self.store

        def check() -> FulfillmentError | None:
            current = s.orders.get(order.order_id)
            return None if current and current.version == expected_version else ConcurrentModification(order.order_id)

        self._write(check, lambda: self._store_order(order))

    def _store_order(self, order: Order) -> None:
        self.store.orders[order.order_id] = order
        self.store.history += [(order.order_id, entry) for entry in order.changes]

    def add_shipment(self, shipment: Shipment) -> None:
        s = self.store
        self._write(
            lambda: ConcurrentModification(shipment.shipment_id) if shipment.shipment_id in s.shipments else None,
            lambda: s.shipments.__setitem__(shipment.shipment_id, shipment),
        )

    def save_shipment(
        self,
        shipment: Shipment,
        *,
        expected_version: int,
        changes: tuple[Entry, ...] = (),
        heard: ShipmentEvent | None = None,
    ) -> None:
        s = self.store

        def check() -> FulfillmentError | None:
            current = s.shipments.get(shipment.shipment_id)
            ok = current is not None and current.version == expected_version
            return None if ok else ConcurrentModification(shipment.shipment_id)

        def apply() -> None:
            s.shipments[shipment.shipment_id] = shipment
            s.history += [(shipment.order_id, entry) for entry in changes]
            if heard is not None:  # the event item, as the router writes it from the shipment write
                s.events[(heard.shipment_id, heard.source, heard.message_id)] = heard

        self._write(check, apply)

    def add_entitlement(self, entitlement: Entitlement) -> None:
        s = self.store
        eid = entitlement.entitlement_id
        self._write(
            lambda: AlreadyApplied(eid) if eid in s.entitlements else None,
            lambda: s.entitlements.__setitem__(eid, entitlement),
        )

    def save_entitlement(self, entitlement: Entitlement, *, expected: Entitlement) -> None:
        s = self.store

        def check() -> FulfillmentError | None:
            current = s.entitlements.get(entitlement.entitlement_id)
            same = current is not None and (current.link_version, current.downloads_served) == (
                expected.link_version,
                expected.downloads_served,
            )
            return None if same else ConcurrentModification(entitlement.entitlement_id)

        self._write(check, lambda: s.entitlements.__setitem__(entitlement.entitlement_id, entitlement))

    def add_rma(self, rma: Rma) -> None:
        s = self.store
        self._write(
            lambda: ConcurrentModification(rma.rma_id) if rma.rma_id in s.rmas else None,
            lambda: s.rmas.__setitem__(rma.rma_id, rma),
        )

    def save_rma(self, rma: Rma, *, expected_version: int) -> None:
        s = self.store

        def check() -> FulfillmentError | None:
            current = s.rmas.get(rma.rma_id)
            return None if current and current.version == expected_version else ConcurrentModification(rma.rma_id)

        self._write(check, lambda: s.rmas.__setitem__(rma.rma_id, rma))

    def mark(self, source: str, message_id: str, kind: str) -> None:
        s = self.store
        self._write(
            lambda: AlreadyApplied(message_id) if (source, message_id) in s.markers else None,
            lambda: s.markers.add((source, message_id)),
        )

    def point_tracking(self, carrier: str, tracking_number: str, shipment_id: str, *, kept: int) -> None:
        s, key = self.store, (carrier, tracking_number)
        self._write(
            lambda: None if s.kept_count.get(key, 0) == kept else ConcurrentModification(f"kept for {key}"),
            lambda: s.pointers.__setitem__(key, shipment_id),
        )

    # ------------------------------------------------------------------ stock
    def move_stock(self, move: StockMove, now: str) -> None:
        s = self.store
        items: dict[Any, StockLevel] = s.shard_items if move.shard else s.stock
        key: Any = (move.sku, move.location, move.shard) if move.shard else (move.sku, move.location)
        need = move.reserve - move.release - move.transfer
        held = move.release + move.ship + move.write_off
        gone = move.ship + move.write_off
        creates = bool(move.transfer or move.transfer_reserved)

        def check() -> FulfillmentError | None:
            level = items.get(key)
            if move.audit is not None and (move.sku, move.location, move.audit.adjustment_id) in s.audit:
                return AlreadyApplied(move.audit.adjustment_id)
            if level is None:
                return None if creates else InsufficientStock(f"{move}")
            if move.expect_shards is not None and level.shards != move.expect_shards:
                return ConcurrentModification(f"the count of {move.sku}'s items changed")
            sharded = level.shards > 1
            if level.available < need or (not sharded and (level.reserved < held or level.on_hand < gone)):
                return InsufficientStock(f"{move}")
            return None

        def apply() -> None:
            level = items.get(key) or StockLevel(move.sku, move.location, shard=move.shard)
            moved = move.transfer + move.transfer_reserved
            items[key] = replace(
                level,
                shards=level.shards if move.set_shards is None else move.set_shards,
                available=level.available - need,
                reserved=level.reserved + move.reserve - held + move.transfer_reserved,
                on_hand=level.on_hand - gone + moved,
                shipped=level.shipped + move.ship,
                updated_at=now,
            )
            if move.audit is not None:
                s.audit[(move.sku, move.location, move.audit.adjustment_id)] = move.audit

        self._write(check, apply)

    def audit(self, adjustment: Adjustment) -> None:
        s = self.store
        key = (adjustment.sku, adjustment.location, adjustment.adjustment_id)
        self._write(
            lambda: AlreadyApplied(adjustment.adjustment_id) if key in s.audit else None,
            lambda: s.audit.__setitem__(key, adjustment),
        )

    def adjust_stock(self, adjustment: Adjustment, *, expected_on_hand: int | None = None) -> None:
        s = self.store
        key = (adjustment.sku, adjustment.location)

        def check() -> FulfillmentError | None:
            if (*key, adjustment.adjustment_id) in s.audit:
                return AlreadyApplied(adjustment.adjustment_id)
            level = s.stock.get(key)
            if level is None:
                return None
            refused = (expected_on_hand is not None and level.on_hand != expected_on_hand) or (
                level.available < -adjustment.delta
            )
            if not refused:
                return None
            # As the DynamoDB unit of work says it: one condition, so a count's refusal is "changed" either way.
            if expected_on_hand is not None:
                return ConcurrentModification("stock changed since it was read")
            return InsufficientStock(f"removing {-adjustment.delta} would take reserved units")

        def apply() -> None:
            level = s.stock.get(key, StockLevel(*key))
            s.stock[key] = replace(
                level,
                on_hand=level.on_hand + adjustment.delta,
                available=level.available + adjustment.delta,
                updated_at=adjustment.at,
                exists=True,
            )
            s.audit[(*key, adjustment.adjustment_id)] = adjustment

        self._write(check, apply)

    def put_catalog(self, sku: str, fields: dict[str, Any], now: str) -> None:
        def apply() -> None:
            current = self.store.catalog_items.get(sku)
            raw = {**(current.raw if current else {}), **fields, "sku": sku}
            self.store.catalog_items[sku] = CatalogItem(
                sku=sku,
                kind=raw.get("kind", "physical"),
                title=raw.get("title"),
                reorder_point=raw.get("reorder_point"),
                dropship_location=raw.get("dropship_location"),
                backordered_units=current.backordered_units if current else 0,
                digital=raw.get("digital"),
                raw=raw,
            )

        self._write(lambda: None, apply)

    def backlog(self, sku: str, delta: int) -> None:
        def apply() -> None:
            item = self.store.catalog_items.get(sku) or CatalogItem(sku)
            self.store.catalog_items[sku] = replace(item, backordered_units=item.backordered_units + delta)

        if delta:
            self._write(lambda: None, apply)

    def expect_backlog(self, sku: str, units: int) -> None:
        def check() -> Exception | None:
            item = self.store.catalog_items.get(sku)
            if (item.backordered_units if item else 0) != units:
                return ConcurrentModification(f"catalog {sku} changed")
            return None

        self.writes.append((check, lambda: None))

    def queue_backorder(self, backorder: Backorder) -> None:
        key = (backorder.sku, backorder.queued_at, backorder.order_id, backorder.line_no)

        def apply() -> None:
            current = self.store.queue.get(key)
            quantity = backorder.quantity + (current.quantity if current else 0)
            self.store.queue[key] = replace(backorder, quantity=quantity)

        self._write(lambda: None, apply)

    def settle_backorder(self, backorder: Backorder, remaining: int) -> None:
        key = (backorder.sku, backorder.queued_at, backorder.order_id, backorder.line_no)

        def apply() -> None:
            if remaining <= 0:
                self.store.queue.pop(key, None)
            else:
                self.store.queue[key] = replace(self.store.queue[key], quantity=remaining)

        self._write(lambda: None, apply)

    # ------------------------------------------------------------------ commit
    def commit(self) -> None:
        if not self.writes:
            return
        if self.store.before_commit is not None:
            hook, self.store.before_commit = self.store.before_commit, None
            hook()
        failures = [error for check, _ in self.writes if (error := check()) is not None]
        try:
            if failures:
                raise min(failures, key=lambda e: next(n for n, cls in enumerate(_PRECEDENCE) if isinstance(e, cls)))
            for _, apply in self.writes:
                apply()
            self.store.commits += 1
        finally:
            self.writes = []
