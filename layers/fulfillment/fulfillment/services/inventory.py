"""Catalog and stock: what operators set and count, and the 3PLs' inventory snapshots."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fulfillment.config import Settings
from fulfillment.contracts import provider as p
from fulfillment.contracts.admin import Adjustment as AdjustmentRequest
from fulfillment.contracts.admin import CatalogEntry
from fulfillment.contracts.admin import StockLevel as StockLevelRequest
from fulfillment.domain.stock import Adjustment, CatalogItem, StockLevel
from fulfillment.errors import (
    AlreadyApplied,
    ConcurrentModification,
    InsufficientStock,
    NotFound,
    UnknownLocation,
    UnknownSku,
)
from fulfillment.services.ports import Store
from fulfillment.services.unit import MAX_ATTEMPTS, NotOwner, utc_now


def stock_view(level: StockLevel) -> dict[str, Any]:
    return {
        "sku": level.sku,
        "location": level.location,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
        "updated_at": level.updated_at,
    }


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

    def _adjust(self, adjustment: Adjustment, expected_on_hand: int | None = None) -> None:
        uow = self.store.unit()
        uow.adjust_stock(adjustment, expected_on_hand=expected_on_hand)
        uow.commit()

    def set_level(self, sku: str, location: str, level: StockLevelRequest, *, actor: str) -> dict[str, Any]:
        """Set on-hand to a counted value; audited as a `count` adjustment of the difference."""
        self._check(sku, location)
        for _ in range(MAX_ATTEMPTS):
            current = self.store.level(sku, location)
            delta = current.recount(level.on_hand)
            if delta == 0:
                return stock_view(current)
            try:
                self._adjust(
                    Adjustment(sku, location, delta, "count", uuid.uuid4().hex, actor, utc_now(), level.note),
                    expected_on_hand=current.on_hand if current.exists else None,
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
                current = self.store.level(item.sku, message.location)
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
                        expected_on_hand=current.on_hand if current.exists else None,
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
