"""Catalog and stock: what operators set and count, and the 3PLs' inventory snapshots."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from fulfillment.config import Settings
from fulfillment.contracts import provider as p
from fulfillment.contracts.admin import Adjustment as AdjustmentRequest
from fulfillment.contracts.admin import CatalogEntry
from fulfillment.contracts.admin import StockLevel as StockLevelRequest
from fulfillment.domain.stock import MAX_SHARDS, Adjustment, CatalogItem, StockLevel, StockMove, rebalance_moves
from fulfillment.errors import (
    AlreadyApplied,
    BadRequest,
    ConcurrentModification,
    InsufficientStock,
    NotFound,
    UnknownLocation,
    UnknownSku,
)
from fulfillment.services.ports import Store
from fulfillment.services.unit import MAX_ATTEMPTS, NotOwner, utc_now


def stock_view(level: StockLevel) -> dict[str, Any]:
    view = {
        "sku": level.sku,
        "location": level.location,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
        "updated_at": level.updated_at,
    }
    if level.shards > 1:
        view["shards"] = level.shards
    return view


def rebalance(
    store: Store, sku: str, location: str, *, consolidate: bool | None = None, shards: int | None = None
) -> int:
    """Move a sharded level's available units to where they should be (`domain.stock.rebalance_moves`): spread
    evenly over its items, or all on the base item while the SKU has backorders waiting (`consolidate` None: ask
    the catalog), and fold items beyond its count into the base. `shards`: a new count, written on the base item in
    the same transaction. One transaction; a reservation that takes units from an item being emptied makes it fail
    and start again from a fresh read. Returns the units moved."""
    for _ in range(MAX_ATTEMPTS):
        base = store.base_level(sku, location)
        if not base.exists:
            return 0
        # Items beyond the count are empty (a count is lowered by the transaction that folds them): read up to the
        # larger of the old and the new count.
        known = max(base.shards, shards or 1)
        items = [base, *store.stock_shards({(sku, location): range(1, known)}).values()]
        waiting = consolidate
        if waiting is None:
            catalog = store.catalog_item(sku)
            waiting = bool(catalog and catalog.backordered_units > 0)
        count = base.shards if shards is None else shards
        moves = rebalance_moves(sku, location, items, count, consolidate=waiting, recount=shards is not None)
        if not moves:
            return 0
        # Every rebalance writes the base item, conditional on the count it read (see StockMove.expect_shards).
        first = moves[0] if moves[0].shard == 0 else StockMove(sku, location)
        moves = [replace(first, expect_shards=base.shards), *(m for m in moves if m is not first)]
        uow = store.unit()
        now = utc_now()
        for move in moves:
            uow.move_stock(move, now)
        try:
            uow.commit()
        except (InsufficientStock, ConcurrentModification):
            continue
        return sum(abs(m.transfer) + abs(m.transfer_reserved) for m in moves if m.shard)
    raise ConcurrentModification(f"stock of {sku} at {location} kept changing while it was rebalanced")


def catalog_view(item: CatalogItem) -> dict[str, Any]:
    view = dict(item.raw)
    for key in ("reorder_point", "backordered_units"):
        if key in view:
            view[key] = int(view[key])
    if view.get("digital"):
        view["digital"] = {k: v if isinstance(v, str) else int(v) for k, v in view["digital"].items()}
    return view


@dataclass(frozen=True)
class Reconciliation:
    """What a 3PL's snapshot changed (units of drift) and which SKUs it could not set, each with its reason."""

    drift: int
    refused: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"reconciled, drift {self.drift} units" + (f", refused {list(self.refused)}" if self.refused else "")


class Inventory:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def put_catalog(self, sku: str, entry: CatalogEntry) -> dict[str, Any]:
        if entry.dropship_location:
            location = self.settings.location(entry.dropship_location)
            if location is None or location.kind != "dropship":
                dropship = [loc.id for loc in self.settings.locations if loc.kind == "dropship"]
                raise UnknownLocation(f"{entry.dropship_location} is not a dropship location; configured: {dropship}")
        uow = self.store.unit()
        uow.put_catalog(sku, entry.model_dump(exclude_none=True), utc_now())
        uow.commit()
        return self.get_catalog(sku)

    def get_catalog(self, sku: str) -> dict[str, Any]:
        item = self.store.catalog_item(sku)
        if item is None:
            raise UnknownSku(f"no SKU {sku} in the catalog")
        return catalog_view(item)

    def _check(self, sku: str, location: str) -> None:
        if self.settings.location(location) is None:
            raise UnknownLocation(f"no location {location}; configured: {[loc.id for loc in self.settings.locations]}")
        if self.store.catalog_item(sku) is None:
            raise UnknownSku(f"no SKU {sku} in the catalog: PUT /catalog/{sku} first")

    def level(self, sku: str, location: str) -> dict[str, Any]:
        if self.settings.location(location) is None:
            raise UnknownLocation(f"no location {location}")
        view = stock_view(self.store.level(sku, location))
        view["recent_adjustments"] = [
            {"adjustment_id": a.adjustment_id, "delta": a.delta, "reason": a.reason, "at": a.at, "actor": a.actor}
            for a in self.store.adjustments(sku, location, limit=10)
        ]
        return view

    def set_shards(self, sku: str, location: str, shards: int) -> dict[str, Any]:
        """Keep a level on `shards` items (a SKU about to sell fast: each item takes ~500 reservations/s), or on its
        base item alone again (1); the units are rebalanced at once."""
        self._check(sku, location)
        if not 1 <= shards <= MAX_SHARDS:
            raise BadRequest(f"shards must be 1..{MAX_SHARDS}")
        if self.settings.location(location) is not None and not self.settings.tracks_stock(location):
            raise BadRequest(f"{location} does not count stock: nothing to shard")
        if not self.store.base_level(sku, location).exists:
            raise NotFound(f"no stock of {sku} at {location}: set a level first")
        rebalance(self.store, sku, location, shards=shards)
        return stock_view(self.store.level(sku, location))

    def _adjust(self, adjustment: Adjustment, expected_on_hand: int | None = None, *, shards: int = 1) -> None:
        """A sharded level's adjustments land on its base item: a removal the base item alone cannot cover gathers
        the available units there first (its condition is the base item's own), and they are spread again once it
        is applied. `shards`: as read by the caller (a caller that did not read the level says 1, and the base
        item's refusal tells)."""
        sku, location = adjustment.sku, adjustment.location
        try:
            self._commit_adjustment(adjustment, expected_on_hand)
        except (InsufficientStock, ConcurrentModification) as refused:
            if adjustment.delta >= 0:
                raise
            base = self.store.base_level(sku, location)
            if base.shards <= 1:
                raise
            # A count's refusal says "changed" for both halves of its condition: it is the base item's shortfall
            # only if the on-hand it expected is still there.
            if isinstance(refused, ConcurrentModification) and base.on_hand != expected_on_hand:
                raise
            moved = rebalance(self.store, sku, location, consolidate=True)
            if moved and expected_on_hand is not None:  # the base item's count changed: the caller reads again
                raise ConcurrentModification(f"units of {sku} gathered on the base item") from None
            self._commit_adjustment(adjustment, expected_on_hand)
            shards = 2  # known sharded now
        if shards > 1:
            rebalance(self.store, sku, location)  # a receipt on the base item is spread (the router would, later)

    def _commit_adjustment(self, adjustment: Adjustment, expected_on_hand: int | None) -> None:
        uow = self.store.unit()
        uow.adjust_stock(adjustment, expected_on_hand=expected_on_hand)
        uow.commit()

    def set_level(self, sku: str, location: str, level: StockLevelRequest, *, actor: str) -> dict[str, Any]:
        """Set on-hand to a counted value; audited as a `count` adjustment of the difference."""
        self._check(sku, location)
        for _ in range(MAX_ATTEMPTS):
            current, expected = self.store.counted_level(sku, location)
            delta = current.recount(level.on_hand)
            if delta == 0:
                return stock_view(current)
            try:
                self._adjust(
                    Adjustment(sku, location, delta, "count", uuid.uuid4().hex, actor, utc_now(), level.note),
                    expected_on_hand=expected,
                    shards=current.shards,
                )
                return stock_view(self.store.level(sku, location))
            except ConcurrentModification:
                continue
        raise ConcurrentModification("stock kept changing")

    def adjust(
        self, sku: str, location: str, request: AdjustmentRequest, *, idempotency_key: str | None, actor: str
    ) -> tuple[dict[str, Any], bool]:
        """Apply an audited delta once per adjustment id. Returns the level and whether it was new."""
        self._check(sku, location)
        adjustment_id = request.adjustment_id or idempotency_key or uuid.uuid4().hex
        try:
            self._adjust(
                Adjustment(sku, location, request.delta, request.reason, adjustment_id, actor, utc_now(), request.note)
            )
            applied = True
        except AlreadyApplied:
            applied = False
        view = stock_view(self.store.level(sku, location))
        view["adjustment_id"] = adjustment_id
        return view, applied

    def reconcile(self, message: p.InventorySnapshot) -> Reconciliation:
        """Set on-hand at the provider's location to what it counted; report what could not be applied.

        Each item's adjustment id derives from the message id, so a redelivered snapshot changes nothing.
        """
        location = self.settings.location(message.location)
        if location is None:
            raise NotFound(f"no location {message.location}")
        if location.provider != message.provider:
            raise NotOwner(f"provider {message.provider} does not operate {message.location}")
        drift, refused = 0, []
        # A count from the future (a skewed clock) is taken as of now: kept as is, it would make every later,
        # correct snapshot look older than the level and be refused as stale.
        as_of = min(p.iso(message.as_of), utc_now())
        for item in message.items:
            for _ in range(5):
                current, expected = self.store.counted_level(item.sku, message.location)
                if current.exists and (current.updated_at or "") > as_of:
                    refused.append(f"{item.sku} (stale: stock moved after the count)")
                    break
                try:
                    delta = current.recount(item.on_hand)
                except InsufficientStock:
                    refused.append(f"{item.sku} (insufficient_stock: {current.reserved} reserved)")
                    break
                if delta == 0:
                    break
                try:
                    self._adjust(
                        Adjustment(
                            item.sku,
                            message.location,
                            delta,
                            "count",
                            f"snapshot-{message.message_id}-{item.sku}",
                            message.provider,
                            as_of,
                            "inventory.snapshot",
                        ),
                        expected_on_hand=expected,
                        shards=current.shards,
                    )
                    drift += abs(delta)
                    break
                except AlreadyApplied:
                    break
                except ConcurrentModification:
                    continue  # moved between our read and our write: read again
                except InsufficientStock:  # reservations landed between our read and our write
                    continue
            else:
                refused.append(f"{item.sku} (still changing)")
        return Reconciliation(drift, tuple(refused))
