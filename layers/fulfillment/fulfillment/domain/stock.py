"""Stock: levels per location, the catalog entry of a SKU, backorders waiting for units, audited changes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fulfillment.errors import InsufficientStock

SKU_PATTERN = r"^[A-Za-z0-9._\-]{1,64}$"  # what the catalog accepts (and so what can ever be known)
_SKU = re.compile(SKU_PATTERN)


def is_catalog_sku(sku: str | None) -> bool:
    """A storefront's SKU the catalog could hold. Any other (too long, spaces, ...) is unknown without a lookup."""
    return bool(sku) and _SKU.match(sku or "") is not None


@dataclass(frozen=True)
class StockLevel:
    """Units of a SKU at a location. `available = on_hand - reserved` is stored, so a reservation is one
    conditional decrement (`available >= :q`) and DynamoDB's per-item linearizability prevents overselling."""

    sku: str
    location: str
    on_hand: int = 0
    reserved: int = 0
    available: int = 0
    shipped: int = 0
    updated_at: str | None = None
    exists: bool = True

    def recount(self, on_hand: int) -> int:
        """The change that makes a count of `on_hand` true. Units reserved here are promised to orders: a count
        below them cannot simply be written (those orders need a person, or the 3PL's rejection flow)."""
        if on_hand < self.reserved:
            raise InsufficientStock(
                f"counted {on_hand} {self.sku} at {self.location}, but {self.reserved} are reserved for orders"
            )
        return on_hand - self.on_hand


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    kind: str = "physical"
    title: str | None = None
    reorder_point: int | None = None
    dropship_location: str | None = None
    backordered_units: int = 0  # units waiting in the SKU's backorder queue (promised to earlier orders)
    digital: dict[str, Any] | None = None
    returnable: bool = True  # false: final sale
    raw: dict[str, Any] = field(default_factory=dict)  # every stored field, for the operator's view


@dataclass(frozen=True)
class Backorder:
    """Units of one order line waiting for stock of its SKU; the queue is FIFO by `queued_at`."""

    sku: str
    queued_at: str
    order_id: str
    line_no: int
    quantity: int


@dataclass(frozen=True)
class Adjustment:
    """An audited change of on-hand units, applied exactly once per `adjustment_id`."""

    sku: str
    location: str
    delta: int
    reason: str  # receipt | count | correction | damage | return | ...
    adjustment_id: str
    actor: str
    at: str
    note: str | None = None


@dataclass(frozen=True)
class StockMove:
    """How one stock item changes in a step. Each field is a number of units; the adapter turns the move into
    one conditional update (reserve needs `available`, the others need `reserved`/`on_hand`)."""

    sku: str
    location: str
    reserve: int = 0  # available -> reserved
    release: int = 0  # reserved -> available
    ship: int = 0  # reserved units leave the building (on_hand and reserved fall)
    write_off: int = 0  # reserved units that turned out not to exist (on_hand and reserved fall, audited)
    audit: Adjustment | None = None  # the audit record of a write-off (its id makes it happen once)


def cap_for_backlog(
    available: Mapping[tuple[str, str], int], waiting: Mapping[str, int], locations: Sequence[str]
) -> dict[tuple[str, str], int]:
    """Hide `waiting[sku]` units from new orders (FIFO fairness), taking them from the lowest-priority locations."""
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
