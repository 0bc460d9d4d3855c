"""Estimated DynamoDB write capacity of every write request the embedded moto serves.

DynamoDB bills a write by the size of the item it touches: ceil(max(size before, size after) / 1 KB)
write units (WCU/WRU), twice that inside TransactWriteItems (ConditionCheck included), and every
global secondary index the item is (or was) in pays again for its projection - once to insert the
new index entry, once more to delete the old one when an index key changes. Conditional writes
that fail, and cancelled transactions, are billed too; they are counted separately.

The meter reads the sizes of the addressed items from moto's backend just before and just after
the request, inside the server's serialising lock, so nothing else moves in between. moto's item
size is a close estimate of DynamoDB's (attribute names + values), so the totals are estimates:
good for "units per order" and for comparing designs, not an invoice.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
_UNIT_BYTES = 1024


@dataclass(frozen=True)
class _Target:
    table: str
    key: dict[str, Any]  # the item's primary key, wire format ({"S": ...})
    transactional: bool


@dataclass
class WriteTotals:
    calls: int = 0
    items: int = 0
    units: int = 0  # base table
    index_units: int = 0  # global secondary indexes
    failed_calls: int = 0
    failed_units: int = 0

    def add(self, other: WriteTotals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class _Measurement:
    operation: str
    caller: str
    account: str
    region: str
    targets: list[_Target]
    before: list[tuple[int, dict[str, tuple | None]]] = field(default_factory=list)


class WriteMeter:
    """Counts estimated write units per (caller, operation). Thread-safe; cheap when unused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], WriteTotals] = {}
        self._kinds: dict[tuple[str, str], list[int]] = {}  # (caller, item kind) -> [items, units, index units]

    # ------------------------------------------------------------------ measuring
    def begin(self, operation: str, caller: str, body: bytes, account: str, region: str) -> _Measurement | None:
        """Call inside the server lock, before the request runs."""
        if operation not in WRITE_OPERATIONS:
            return None
        try:
            targets = _targets(operation, json.loads(body or b"{}"))
        except (ValueError, TypeError, AttributeError, KeyError):
            targets = []
        measurement = _Measurement(operation, caller, account, region, targets)
        measurement.before = [_state(t, account, region) for t in targets]
        return measurement

    def end(self, measurement: _Measurement | None, ok: bool) -> None:
        """Call inside the server lock, after the request ran."""
        if measurement is None:
            return
        account, region = measurement.account, measurement.region
        cost = WriteTotals(calls=1, items=len(measurement.targets))
        kinds: list[tuple[str, int, int]] = []
        for target, before in zip(measurement.targets, measurement.before, strict=True):
            after = _state(target, account, region) if ok else before
            size = max(before[0], after[0])
            units = max(1, math.ceil(size / _UNIT_BYTES)) * (2 if target.transactional else 1)
            index_units = _index_units(target, account, region, before, after) if ok else 0
            if ok:
                cost.units += units
                cost.index_units += index_units
            else:
                cost.failed_units += units
            kinds.append((item_kind(target.key), units, index_units))
        if not ok:
            cost.failed_calls = 1
        with self._lock:
            self._totals.setdefault((measurement.caller, measurement.operation), WriteTotals()).add(cost)
            for kind, units, index_units in kinds:
                entry = self._kinds.setdefault((measurement.caller, kind), [0, 0, 0])
                entry[0] += 1
                entry[1] += units
                entry[2] += index_units

    # ------------------------------------------------------------------ reading
    def totals(self, callers: set[str] | None = None) -> WriteTotals:
        total = WriteTotals()
        with self._lock:
            for (caller, _), value in self._totals.items():
                if callers is None or caller in callers:
                    total.add(value)
        return total

    def by_caller(self) -> dict[str, dict[str, dict[str, int]]]:
        out: dict[str, dict[str, dict[str, int]]] = {}
        with self._lock:
            for (caller, operation), value in sorted(self._totals.items()):
                out.setdefault(caller, {})[operation] = value.as_dict()
        return out

    def by_item(self) -> dict[str, dict[str, dict[str, int]]]:
        """Units per caller and kind of item (failed writes included): where a step's units go."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        with self._lock:
            for (caller, kind), (items, units, index_units) in sorted(self._kinds.items()):
                out.setdefault(caller, {})[kind] = {"items": items, "units": units, "index_units": index_units}
        return out

    def reset(self) -> None:
        with self._lock:
            self._totals.clear()
            self._kinds.clear()


def item_kind(key: dict[str, Any]) -> str:
    """A short name for the kind of item a key addresses: its sort key up to the first variable part."""
    sk = str((key.get("SK") or {}).get("S", ""))
    pk = str((key.get("PK") or {}).get("S", ""))
    if sk.startswith("ORDER#DETAIL"):
        return "order detail"
    if sk.startswith("ORDER#DL#"):
        return "entitlement"
    if sk.startswith("ORDER#RMA#"):
        return "return"
    if sk in ("ORDER", "CATALOG", "TRACK", "MSG", "PLATFORM", "SWEEP"):
        return sk.lower()
    if pk.startswith("BACKORDER#"):
        return "backorder"
    return sk.split("#", 1)[0].lower() or "?"


def _targets(operation: str, request: dict[str, Any]) -> list[_Target]:
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        table = request["TableName"]
        return [_Target(table, request.get("Key") or request.get("Item") or {}, False)]
    if operation == "TransactWriteItems":
        targets = []
        for entry in request.get("TransactItems") or []:
            for op in entry.values():
                targets.append(_Target(op["TableName"], op.get("Key") or op.get("Item") or {}, True))
        return targets
    targets = []
    for table, writes in (request.get("RequestItems") or {}).items():  # BatchWriteItem
        for write in writes:
            if "PutRequest" in write:
                targets.append(_Target(table, write["PutRequest"].get("Item") or {}, False))
            elif "DeleteRequest" in write:
                targets.append(_Target(table, write["DeleteRequest"].get("Key") or {}, False))
    return targets


def _table(target: _Target, account: str, region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    try:
        return dynamodb_backends[account][region].get_table(target.table)
    except Exception:  # noqa: BLE001 - unknown table: the request fails on its own
        return None


def _item(table: Any, key: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    if table is None or table.hash_key_attr not in key:
        return None
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
    if table.has_range_key and range_value is None:
        return None
    try:
        return table.get_item(hash_value, range_value)
    except Exception:  # noqa: BLE001
        return None


def _state(target: _Target, account: str, region: str) -> tuple[int, dict[str, tuple | None]]:
    """(item size in bytes, {index name: (index key values, projected attributes, projected size) or None})."""
    table = _table(target, account, region)
    item = _item(table, target.key)
    if item is None:
        return 0, {}
    keys: dict[str, tuple | None] = {}
    for index in getattr(table, "global_indexes", None) or []:
        names = [k["AttributeName"] for k in index.schema]
        values = [item.attrs.get(name) for name in names]
        if any(v is None for v in values):
            keys[index.name] = None
            continue
        key_values = tuple(json.dumps(v, sort_keys=True, default=_plain) for v in values)
        projection = index.projection or {}
        if projection.get("ProjectionType") == "INCLUDE":
            # An INCLUDE entry holds the table and index keys and the named attributes only.
            table_keys = [table.hash_key_attr] + ([table.range_key_attr] if table.has_range_key else [])
            projected = {
                name: item.attrs[name]
                for name in [*table_keys, *names, *projection.get("NonKeyAttributes", [])]
                if name in item.attrs
            }
            signature = json.dumps(projected, sort_keys=True, default=_plain)
            size = sum(len(k.encode()) + v.size() for k, v in projected.items())
            keys[index.name] = (key_values, signature, size)
        else:
            keys[index.name] = (key_values, None, item.size())
    return item.size(), keys


def _index_units(target: _Target, account: str, region: str, before: tuple, after: tuple) -> int:
    """Index writes as DynamoDB bills them: a changed index key deletes the old entry and puts the new one; a write
    that changes no projected attribute costs the index nothing (KEYS_ONLY, INCLUDE); with ALL, any change counts."""
    table = _table(target, account, region)
    units = 0
    for index in getattr(table, "global_indexes", None) or []:
        old, new = before[1].get(index.name), after[1].get(index.name)
        projection = (index.projection or {}).get("ProjectionType", "ALL")
        old_key = old[0] if old else None
        new_key = new[0] if new else None
        if old is not None and old_key != new_key:
            units += 1 if projection == "KEYS_ONLY" else max(1, math.ceil(old[2] / _UNIT_BYTES))
        if new is None:
            continue
        if projection == "KEYS_ONLY":
            changed = old_key != new_key
        elif projection == "INCLUDE":
            changed = old is None or old_key != new_key or old[1] != new[1]
        else:
            changed = True
        if changed:
            units += 1 if projection == "KEYS_ONLY" else max(1, math.ceil(new[2] / _UNIT_BYTES))
    return units


def _plain(value: Any) -> Any:
    """moto's DynamoType (nested in maps and lists) as plain JSON."""
    if hasattr(value, "value") and hasattr(value, "type"):
        return {value.type: value.value}
    return str(value)
