"""Catalog (SK CATALOG), stock levels (SK LOC#location), audited adjustments (SK ADJ#...) and backorders, and the
conditional updates that move stock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fulfillment import keys
from fulfillment.domain.stock import Adjustment, Backorder, CatalogItem, StockLevel, StockMove

Item = dict[str, Any]


def level_from_item(item: Item | None, sku: str, location: str) -> StockLevel:
    if item is None:
        return StockLevel(sku, location, exists=False)
    return StockLevel(
        sku=sku,
        location=location,
        on_hand=int(item.get("on_hand", 0)),
        reserved=int(item.get("reserved", 0)),
        available=int(item.get("available", 0)),
        shipped=int(item.get("shipped", 0)),
        updated_at=item.get("updated_at"),
        shards=int(item.get("shards", 1)),
        shard=int(item.get("shard", 0)),
    )


def catalog_from_item(item: Item) -> CatalogItem:
    digital = item.get("digital")
    return CatalogItem(
        sku=item["sku"],
        kind=item.get("kind", "physical"),
        title=item.get("title"),
        reorder_point=int(item["reorder_point"]) if item.get("reorder_point") is not None else None,
        dropship_location=item.get("dropship_location"),
        backordered_units=int(item.get("backordered_units", 0)),
        digital=dict(digital) if digital else None,
        returnable=item.get("returnable") is not False,
        raw={k: v for k, v in item.items() if k not in ("PK", "SK", "type")},
    )


def backorder_from_item(item: Item) -> Backorder:
    return Backorder(
        sku=item["sku"],
        queued_at=str(item["SK"]).split("#", 1)[0],
        order_id=item["order_id"],
        line_no=int(item["line_no"]),
        quantity=int(item["quantity"]),
    )


def adjustment_item(adjustment: Adjustment) -> Item:
    return {
        **keys.adjustment_key(adjustment.sku, adjustment.location, adjustment.adjustment_id),
        "type": "adjustment",
        "sku": adjustment.sku,
        "location": adjustment.location,
        "delta": adjustment.delta,
        "reason": adjustment.reason,
        "adjustment_id": adjustment.adjustment_id,
        "actor": adjustment.actor,
        "note": adjustment.note,
        "at": adjustment.at,
    }


def adjustment_from_item(item: Item) -> Adjustment:
    return Adjustment(
        sku=item["sku"],
        location=item["location"],
        delta=int(item["delta"]),
        reason=item["reason"],
        adjustment_id=item["adjustment_id"],
        actor=item.get("actor") or "",
        at=item["at"],
        note=item.get("note"),
    )


@dataclass(frozen=True)
class Update:
    """An UpdateItem's expression, condition and placeholders."""

    expression: str
    condition: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] | None = None


def move_update(move: StockMove, now: str) -> Update:
    """A stock move as one conditional update: `available` must cover what is reserved (or moved out), `reserved`
    what is released, shipped or written off, `on_hand` what leaves. `available = on_hand - reserved` holds by
    construction.

    A sharded level (its base item says `shards`) is counted over its items: reservations take units from any of
    them, while releases, shipments and write-offs land on the base item, whose own `reserved` and `on_hand` may
    then fall below zero (the sum over the items is the level; `available` stays >= 0 on every item, which is what
    keeps a reservation from overselling). The base item's conditions on those two accept that once it is sharded.
    """
    held = move.release + move.ship + move.write_off
    gone = move.ship + move.write_off
    sets = ["updated_at = :now"]
    values: dict[str, Any] = {":now": now}
    names = {"#version": "version"}
    moved = move.transfer + move.transfer_reserved
    creates = bool(move.transfer or move.transfer_reserved)  # a rebalance may make a shard item
    for name, delta in (
        ("available", move.release - move.reserve + move.transfer),
        ("reserved", move.reserve - held + move.transfer_reserved),
        ("on_hand", -gone + moved),
    ):
        if delta or creates:  # a new item gets every count
            current = f"if_not_exists({name}, :zero)" if creates else name
            sets.append(f"{name} = {current} + :{name}")
            values[f":{name}"] = delta
    if creates:
        sets += ["sku = :sku", "#loc = :loc", "#type = :type"]
        values.update({":zero": 0, ":sku": move.sku, ":loc": move.location, ":type": "stock"})
        names.update({"#loc": "location", "#type": "type"})
        if move.shard:
            sets.append("#shard = :shard")
            values[":shard"] = move.shard
            names["#shard"] = "shard"
    if move.set_shards is not None:
        sets.append("#shards = :shards")
        values[":shards"] = move.set_shards
        names["#shards"] = "shards"
    adds = ["#version :one"]  # every change of a stock item counts (the router applies each to the SKU's total once)
    values[":one"] = 1
    if move.transfer or move.transfer_reserved or move.expect_shards is not None:
        adds.append("transfers :one")  # units moved between a level's items: not a change of the SKU's total
    if move.ship:
        adds.append("shipped :ship")
        values[":ship"] = move.ship
    if move.write_off:
        adds.append("adjusted_correction :wo")
        values[":wo"] = -move.write_off
    conditions = []
    need = move.reserve - move.release - move.transfer
    if need > 0:
        conditions.append("available >= :need")
        values[":need"] = need
    if held:
        conditions.append("(reserved >= :held OR #shards > :one)")
        values[":held"] = held
        names["#shards"] = "shards"
    if gone:
        conditions.append("(on_hand >= :gone OR #shards > :one)")
        values[":gone"] = gone
        names["#shards"] = "shards"
    if move.expect_shards is not None:
        names["#shards"] = "shards"
        values[":counted"] = move.expect_shards
        conditions.append(
            "(attribute_not_exists(#shards) OR #shards = :counted)" if move.expect_shards <= 1 else "#shards = :counted"
        )
    if not conditions and not creates:
        conditions.append("attribute_exists(PK)")
    expression = "SET " + ", ".join(sets) + " ADD " + ", ".join(adds)
    return Update(expression, " AND ".join(conditions) or None, values, names)


def adjustment_update(adjustment: Adjustment, expected_on_hand: int | None) -> Update:
    """On-hand changes by the adjustment's delta (the item is created on the first one); never below reserved."""
    condition = ["(attribute_not_exists(PK) OR available >= :needed)"]
    values: dict[str, Any] = {
        ":d": adjustment.delta,
        ":zero": 0,
        ":now": adjustment.at,
        ":sku": adjustment.sku,
        ":loc": adjustment.location,
        ":type": "stock",
        ":needed": max(-adjustment.delta, 0),
        ":one": 1,
    }
    if expected_on_hand is not None:
        condition.append("(attribute_not_exists(PK) OR on_hand = :seen)")
        values[":seen"] = expected_on_hand
    return Update(
        "SET on_hand = if_not_exists(on_hand, :zero) + :d, available = if_not_exists(available, :zero) + :d,"
        " reserved = if_not_exists(reserved, :zero), sku = :sku, #loc = :loc, #type = :type, updated_at = :now"
        " ADD #counter :d, #version :one",
        " AND ".join(condition),
        values,
        {"#loc": "location", "#type": "type", "#counter": f"adjusted_{adjustment.reason}", "#version": "version"},
    )


def catalog_update(sku: str, fields: dict[str, Any], now: str) -> Update:
    """Create or replace a catalog entry's fields; the backorder counter is kept."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": value for i, value in enumerate(fields.values())}
    sets = [f"#f{i} = :v{i}" for i in range(len(fields))]
    sets += [
        "sku = :sku",
        "#type = :type",
        "updated_at = :now",
        "created_at = if_not_exists(created_at, :now)",
        "backordered_units = if_not_exists(backordered_units, :zero)",
    ]
    return Update(
        "SET " + ", ".join(sets),
        values={**values, ":sku": sku, ":type": "catalog", ":now": now, ":zero": 0},
        names={**names, "#type": "type"},
    )


@dataclass(frozen=True)
class StockChange:
    """One stored change of a stock item, as the stream shows it: how `available` moved, and the item's version
    after it (stock items count their writes)."""

    sku: str
    location: str
    version: int
    delta: int
    at: str
    shard: int = 0

    @property
    def counter(self) -> str:
        """Whose versions these are: the location's base item, or one of its shard items (`{location}#{n}`)."""
        return f"{self.location}#{self.shard}" if self.shard else self.location


def stock_change(new: Item, old: Item | None) -> StockChange | None:
    """The change a stream record of a stock item shows; None when it does not count toward the SKU's total:
    `available` did not move, or the item was written before stock items counted their versions (its writer kept
    the total in the same transaction)."""
    delta = int(new.get("available", 0)) - int((old or {}).get("available", 0))
    if "version" not in new or not delta:
        return None
    if int(new.get("transfers", 0)) != int((old or {}).get("transfers", 0)):
        # A rebalance moved units between a sharded level's items: its legs sum to zero, and counted one at a time
        # (items of different partitions, so in different stream batches) they would dip the SKU's total.
        return None
    at = str(new.get("updated_at") or "")
    shard = int(new.get("shard", 0))
    return StockChange(str(new["sku"]), str(new["location"]), int(new["version"]), delta, at, shard)


def applied_versions(catalog: Item | None) -> dict[str, int]:
    """The last version of each location's stock item counted in the catalog item's `available_total`."""
    return {name.removeprefix("applied_"): int(v) for name, v in (catalog or {}).items() if name.startswith("applied_")}


def total_update(changes: list[StockChange], applied: dict[str, int] | None = None) -> Update | None:
    """Count a batch's changes of one SKU's stock items into its catalog item's `available_total`, each once: the
    catalog remembers the last version counted per location (`applied_{location}`) and the update requires every
    change it counts to be newer. Refused, the caller reads `applied` and counts only what is not counted yet
    (a redelivered batch, or one that split differently). None: nothing left to count."""
    per_location: dict[str, list[StockChange]] = {}
    for change in changes:
        if change.version > (applied or {}).get(change.counter, 0):
            per_location.setdefault(change.counter, []).append(change)
    if not per_location:
        return None
    names: dict[str, str] = {"#total": "available_total"}
    values: dict[str, Any] = {":delta": 0, ":at": max(c.at for c in changes)}
    sets, conditions = ["stock_changed_at = :at"], []
    for i, (location, counted) in enumerate(sorted(per_location.items())):
        names[f"#v{i}"] = f"applied_{location}"
        values[f":v{i}"] = max(c.version for c in counted)
        values[f":f{i}"] = min(c.version for c in counted)
        values[":delta"] += sum(c.delta for c in counted)
        sets.append(f"#v{i} = :v{i}")
        conditions.append(f"(attribute_not_exists(#v{i}) OR #v{i} < :f{i})")
    return Update("SET " + ", ".join(sets) + " ADD #total :delta", " AND ".join(conditions), values, names)
