"""Catalog, stock levels, the stock audit trail and backorder queues in the single table.

Stock item (PK SKU#sku, SK LOC#location): on_hand, reserved, available = on_hand - reserved.
`available` is stored so that a reservation is one conditional decrement (`available >= :q`).
Every change of on_hand writes an audit item (ADJ#...) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.conditions import Key as K

from fulfillment import keys
from fulfillment.adapters import dynamo
from fulfillment.adapters.aws import ddb_client, table
from fulfillment.config import settings
from fulfillment.errors import AlreadyExists, ConcurrentModification, InsufficientStock

BATCH_GET_LIMIT = 100


def batch_get(key_list: list[dict]) -> list[dict]:
    """BatchGetItem with consistent reads, chunked and with unprocessed keys retried."""
    found: list[dict] = []
    name = settings().table_name
    unique = list({(k["PK"], k["SK"]): k for k in key_list}.values())
    for start in range(0, len(unique), BATCH_GET_LIMIT):
        request: dict[str, Any] = {name: {"Keys": unique[start : start + BATCH_GET_LIMIT], "ConsistentRead": True}}
        for _ in range(8):
            response = ddb_client().batch_get_item(RequestItems=request)
            found += response.get("Responses", {}).get(name, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
    return found


class CatalogStore:
    def lookup(self, skus: Iterable[str]) -> dict[str, dict]:
        wanted = sorted({s for s in skus if s})
        if not wanted:
            return {}
        items = batch_get([keys.catalog_key(s) for s in wanted])
        return {item["sku"]: item for item in items}

    def get(self, sku: str) -> dict | None:
        return table().get_item(Key=keys.catalog_key(sku), ConsistentRead=True).get("Item")

    def put(self, sku: str, fields: dict, now: str) -> dict:
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
        response = table().update_item(
            Key=keys.catalog_key(sku),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames={**names, "#type": "type"},
            ExpressionAttributeValues={**values, ":sku": sku, ":type": "catalog", ":now": now, ":zero": 0},
            ReturnValues="ALL_NEW",
        )
        return response["Attributes"]


class StockStore:
    def get(self, sku: str, location: str) -> dict | None:
        return table().get_item(Key=keys.stock_key(sku, location), ConsistentRead=True).get("Item")

    def levels(self, skus: Iterable[str], locations: Iterable[str]) -> dict[tuple[str, str], dict]:
        """Stock items for every (sku, location) pair that exists: one BatchGetItem per 100 pairs."""
        pairs = [(s, loc) for s in sorted(set(skus)) for loc in locations]
        items = batch_get([keys.stock_key(s, loc) for s, loc in pairs])
        return {(item["sku"], item["location"]): item for item in items}

    def locations_of(self, sku: str) -> list[dict]:
        response = table().query(
            KeyConditionExpression=K("PK").eq(keys.catalog_key(sku)["PK"]) & K("SK").begins_with(keys.LOCATION_PREFIX),
            ConsistentRead=True,
        )
        return response.get("Items", [])

    def adjust(
        self,
        sku: str,
        location: str,
        *,
        delta: int,
        reason: str,
        adjustment_id: str,
        actor: str,
        now: str,
        note: str | None = None,
        expected_on_hand: int | None = None,
    ) -> None:
        """Change on_hand by `delta`, audited, exactly once per `adjustment_id`.

        A negative delta may not take away reserved units (available stays >= 0): InsufficientStock.
        `expected_on_hand` makes the change conditional on the level the caller read (PUT semantics).
        A repeated `adjustment_id` raises AlreadyExists and changes nothing.
        """
        condition = ["(attribute_not_exists(PK) OR available >= :needed)"]
        values: dict[str, Any] = {
            ":d": delta,
            ":zero": 0,
            ":now": now,
            ":sku": sku,
            ":loc": location,
            ":type": "stock",
            ":needed": max(-delta, 0),
        }
        if expected_on_hand is not None:
            condition.append("(attribute_not_exists(PK) OR on_hand = :seen)")
            values[":seen"] = expected_on_hand
        stock = dynamo.update(
            keys.stock_key(sku, location),
            "SET on_hand = if_not_exists(on_hand, :zero) + :d, available = if_not_exists(available, :zero) + :d,"
            " reserved = if_not_exists(reserved, :zero), sku = :sku, #loc = :loc, #type = :type, updated_at = :now"
            " ADD #counter :d",
            values=values,
            names={"#loc": "location", "#type": "type", "#counter": f"adjusted_{reason}"},
            condition=" AND ".join(condition),
        )
        audit = dynamo.put(
            {
                **keys.adjustment_key(sku, location, adjustment_id),
                "type": "adjustment",
                "sku": sku,
                "location": location,
                "delta": delta,
                "reason": reason,
                "adjustment_id": adjustment_id,
                "actor": actor,
                "note": note,
                "at": now,
            },
            condition="attribute_not_exists(PK)",
        )
        try:
            dynamo.transact([audit, stock])
        except dynamo.TransactionCancelled as exc:
            if exc.failed(0):
                raise AlreadyExists(f"adjustment {adjustment_id} was already applied") from None
            if exc.failed(1):
                if expected_on_hand is not None:
                    raise ConcurrentModification("stock changed since it was read") from None
                raise InsufficientStock(f"removing {-delta} would take reserved units of {sku} at {location}") from None
            raise ConcurrentModification("concurrent stock change") from None

    def adjustments(self, sku: str, location: str, limit: int = 50) -> list[dict]:
        response = table().query(
            KeyConditionExpression=K("PK").eq(keys.catalog_key(sku)["PK"])
            & K("SK").begins_with(f"{keys.ADJUSTMENT_PREFIX}{location}#"),
            ScanIndexForward=False,
            Limit=limit,
        )
        return response.get("Items", [])

    def waiting(self, sku: str, limit: int = 50) -> list[dict]:
        """Backorders of a SKU, oldest first (FIFO)."""
        response = table().query(
            KeyConditionExpression=K("PK").eq(keys.backorder_partition(sku)),
            ConsistentRead=True,
            Limit=limit,
        )
        return response.get("Items", [])


# ------------------------------------------------------------------ transaction pieces


def take_stock(sku: str, location: str, units: int, now: str) -> dynamo.Op:
    return dynamo.update(
        keys.stock_key(sku, location),
        "SET available = available - :q, reserved = reserved + :q, updated_at = :now",
        values={":q": units, ":now": now},
        condition="available >= :q",
    )


def return_stock(sku: str, location: str, units: int, now: str) -> dynamo.Op:
    return dynamo.update(
        keys.stock_key(sku, location),
        "SET available = available + :q, reserved = reserved - :q, updated_at = :now",
        values={":q": units, ":now": now},
        condition="reserved >= :q",
    )


def add_reservation(
    order_id: str, line_no: int, sku: str, location: str, units: int, now: str, *, untracked: bool = False
) -> dynamo.Op:
    """`untracked`: held at a dropship supplier, whose stock we do not count (no stock item moves)."""
    return dynamo.update(
        keys.reservation_key(order_id, line_no, location),
        "SET order_id = :o, line_no = :n, sku = :s, #loc = :l, #type = :t, untracked = :u,"
        " created_at = if_not_exists(created_at, :now) ADD quantity :q",
        values={
            ":o": order_id,
            ":n": line_no,
            ":s": sku,
            ":l": location,
            ":t": "reservation",
            ":now": now,
            ":q": units,
            ":u": untracked,
        },
        names={"#loc": "location", "#type": "type"},
    )


def drop_reservation(key: dict) -> dynamo.Op:
    return dynamo.delete(key, condition="attribute_exists(PK)")


def queue_backorder(sku: str, queued_at: str, order_id: str, line_no: int, units: int) -> dynamo.Op:
    return dynamo.update(
        keys.backorder_key(sku, queued_at, order_id, line_no),
        "SET order_id = :o, line_no = :n, sku = :s, #type = :t ADD quantity :q",
        values={":o": order_id, ":n": line_no, ":s": sku, ":t": "backorder", ":q": units},
        names={"#type": "type"},
    )


def serve_backorder(key: dict, remaining: int) -> dynamo.Op:
    if remaining <= 0:
        return dynamo.delete(key)
    return dynamo.update(key, "SET quantity = :q", values={":q": remaining})


def backlog(sku: str, delta: int) -> dynamo.Op:
    """Units of a SKU waiting as backorders, kept on its catalog item (FIFO fairness for new orders)."""
    return dynamo.update(keys.catalog_key(sku), "ADD backordered_units :d", values={":d": delta})


def ship_units(sku: str, location: str, units: int, now: str) -> dynamo.Op:
    """Units leave the building: on-hand and reserved fall together; `shipped` counts them for conservation."""
    return dynamo.update(
        keys.stock_key(sku, location),
        "SET on_hand = on_hand - :q, reserved = reserved - :q, updated_at = :now ADD shipped :q",
        values={":q": units, ":now": now},
        condition="reserved >= :q AND on_hand >= :q",
    )


def write_off_reserved(
    sku: str, location: str, units: int, now: str, *, adjustment_id: str, actor: str, note: str
) -> list[dynamo.Op]:
    """Reserved units that turned out not to exist: on-hand and reserved fall, audited as a correction."""
    return [
        dynamo.update(
            keys.stock_key(sku, location),
            "SET on_hand = on_hand - :q, reserved = reserved - :q, updated_at = :now ADD adjusted_correction :neg",
            values={":q": units, ":neg": -units, ":now": now},
            condition="reserved >= :q AND on_hand >= :q",
        ),
        dynamo.put(
            {
                **keys.adjustment_key(sku, location, adjustment_id),
                "type": "adjustment",
                "sku": sku,
                "location": location,
                "delta": -units,
                "reason": "correction",
                "adjustment_id": adjustment_id,
                "actor": actor,
                "note": note,
                "at": now,
            },
            condition="attribute_not_exists(PK)",
        ),
    ]
