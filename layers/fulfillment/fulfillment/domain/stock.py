"""Stock: levels per location, the catalog entry of a SKU, backorders waiting for units, audited changes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fulfillment.errors import InsufficientStock

MAX_SHARDS = 32  # items a level may be kept on: a rebalance reads and writes them all in one transaction
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
    shards: int = 1  # the level is kept on this many items (a flash sale's SKU); the base item says how many
    shard: int = 0  # which of them this is (0: the base item), or 0 for a level summed over all of them

    def plus(self, other: StockLevel) -> StockLevel:
        """The level of two items of one SKU and location together (a sharded level is the sum of its items)."""
        return StockLevel(
            self.sku,
            self.location,
            on_hand=self.on_hand + other.on_hand,
            reserved=self.reserved + other.reserved,
            available=self.available + other.available,
            shipped=self.shipped + other.shipped,
            updated_at=max(self.updated_at or "", other.updated_at or "") or None,
            exists=self.exists or other.exists,
            shards=max(self.shards, other.shards),
        )

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
    shard: int = 0  # the item of a sharded level it moves (0: the base item; only reservations take from others)
    transfer: int = 0  # available units (and their on_hand) moved into (+) or out of (-) this item: rebalancing
    transfer_reserved: int = 0  # reserved units (and their on_hand) moved in or out: folding a shard into the base
    set_shards: int | None = None  # the base item's count of items, changed in the same write as the moves
    # The base item's count as a rebalance read it: its moves apply only while the count is still that (a rebalance
    # racing a new count loses and reads again, instead of moving units into items the new count leaves out).
    expect_shards: int | None = None


def split_evenly(total: int, items: int) -> list[int]:
    """`total` units over `items` items, the first ones taking the remainder: the rebalancer's target."""
    share, extra = divmod(max(total, 0), items)
    return [share + (1 if n < extra else 0) for n in range(items)]


def rebalance_moves(
    sku: str, location: str, items: Sequence[StockLevel], shards: int, *, consolidate: bool, recount: bool = False
) -> list[StockMove]:
    """The moves that put a sharded level's available units where they should be. `items`: the base item (shard
    0) and every shard item that exists. Items numbered `shards` or more are folded into the base whole (reserved
    units included: the level was made smaller). `consolidate`: every available unit goes to the base (the SKU has
    backorders waiting: they are served from the base item, first come first served); otherwise the units are
    spread evenly over the `shards` items. Units moved between items keep each item's `available = on_hand -
    reserved`, and the sum of every count is unchanged. `recount`: `shards` is a new count, written on the base item
    by the same transaction (a count lowered before its items are folded would leave releases nowhere to land)."""
    by_shard = {level.shard: level for level in items}
    available = sum(max(level.available, 0) for level in items)
    targets = [available] + [0] * (shards - 1) if consolidate or shards <= 1 else split_evenly(available, shards)
    moves: list[StockMove] = []
    for n, level in sorted(by_shard.items()):
        if n == 0:
            continue
        if n >= shards:  # folded whole
            if level.available or level.reserved:
                moves.append(
                    StockMove(sku, location, shard=n, transfer=-level.available, transfer_reserved=-level.reserved)
                )
            continue
        delta = targets[n] - level.available
        if delta:
            moves.append(StockMove(sku, location, shard=n, transfer=delta))
    for n in range(1, min(shards, len(targets))):
        if n not in by_shard and targets[n]:
            moves.append(StockMove(sku, location, shard=n, transfer=targets[n]))
    base_in = -sum(m.transfer for m in moves)
    base_reserved = -sum(m.transfer_reserved for m in moves)
    if base_in or base_reserved or recount:
        moves.insert(
            0,
            StockMove(
                sku,
                location,
                shard=0,
                transfer=base_in,
                transfer_reserved=base_reserved,
                set_shards=shards if recount else None,
            ),
        )
    return moves


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
