"""The system's invariants (ARCHITECTURE.md §4), checked over a snapshot of the whole table.

Development tooling: it scans the table, which production code never does. Used by the tests,
the demo's final check and the chaos runs. Each check returns a list of violations (empty = holds).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fulfillment.adapters.codecs import order as order_codec

TERMINAL_OR_WAITING = {
    "reserved",
    "backordered",
    "on_hold",
    "cancelled",
    "dispatched",
    "partially_shipped",
    "shipped",
    "delivered",
}


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    checked: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, message: str) -> None:
        self.violations.append(message)


def scan_all(table: Any) -> list[dict]:
    items: list[dict] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def check(
    items: Iterable[dict], events: Iterable[dict] | None = None, *, settled: bool = True, crashes: bool = False
) -> Report:
    """`settled`: no work is in flight, so pending reservations/releases are violations too.

    `crashes`: faults were injected, so a publish may have been repeated after a crash. The contract then allows
    the same event id more than once (at-least-once; consumers dedupe on it) but still one id per occurrence.
    """
    items = list(items)
    report = Report()
    by_type: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        by_type[item.get("type", "?")].append(item)

    # The order lines are the reservation record (allocations: units per location); stock items count them too.
    untracked = {(c["sku"], c["dropship_location"]) for c in by_type["catalog"] if c.get("dropship_location")}
    reservations: dict[tuple[str, str], int] = defaultdict(int)
    per_line: dict[tuple[str, int], int] = defaultdict(int)
    for order in by_type["order"]:
        for line in order["lines"]:
            for location, units in (line.get("allocations") or {}).items():
                if int(units) <= 0:
                    report.fail(f"{order['order_id']} line {line['line_no']}: {units} units allocated at {location}")
                if (line["sku"], location) not in untracked:  # a dropship supplier's stock is not counted
                    reservations[(line["sku"], location)] += int(units)
                per_line[(order["order_id"], int(line["line_no"]))] += int(units)

    adjustments: dict[tuple[str, str], int] = defaultdict(int)
    for adj in by_type["adjustment"]:
        adjustments[(adj["sku"], adj["location"])] += int(adj["delta"])

    # Invariant 3 (no oversell) and 4 (conservation), per SKU and location: over every item a level is kept on (a
    # sharded level's items each keep available = on_hand - reserved >= 0; only their sum must match the orders).
    levels: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for stock in by_type["stock"]:
        report.checked["stock items"] += 1
        pair = (stock["sku"], stock["location"])
        on_hand, reserved, available = (int(stock.get(k, 0)) for k in ("on_hand", "reserved", "available"))
        name = f"{pair[0]}@{pair[1]}" + (f"#{stock['shard']}" if stock.get("shard") else "")
        if available != on_hand - reserved or available < 0:
            report.fail(f"{name}: available {available} != on_hand {on_hand} - reserved {reserved}")
        total = levels[pair]
        for n, value in enumerate((on_hand, reserved, available, int(stock.get("shipped", 0)))):
            total[n] += value
    for pair, (on_hand, reserved, _available, shipped) in levels.items():
        name = f"{pair[0]}@{pair[1]}"
        if not 0 <= reserved <= on_hand:
            report.fail(f"{name}: reserved {reserved} outside 0..on_hand {on_hand}")
        if reserved != reservations.get(pair, 0):
            report.fail(f"{name}: reserved {reserved} != sum of open reservations {reservations.get(pair, 0)}")
        if adjustments.get(pair, 0) != on_hand + shipped:
            report.fail(f"{name}: audited stock in {adjustments.get(pair, 0)} != on_hand {on_hand} + shipped {shipped}")
    for pair, units in reservations.items():
        if units and pair not in levels:
            report.fail(f"reservations of {units} units at {pair} without a stock item")

    # The SKU's units available over its tracked locations, kept on the catalog item for LowStock.
    available_total: dict[str, int] = defaultdict(int)
    for stock in by_type["stock"]:
        if (stock["sku"], stock["location"]) not in untracked:
            available_total[stock["sku"]] += int(stock.get("available", 0))
    for catalog in by_type["catalog"]:
        if "available_total" in catalog and int(catalog["available_total"]) != available_total.get(catalog["sku"], 0):
            report.fail(
                f"catalog {catalog['sku']}: available_total {catalog['available_total']} != available over its "
                f"locations {available_total.get(catalog['sku'], 0)}"
            )

    backorders: dict[tuple[str, int], int] = defaultdict(int)
    backlog: dict[str, int] = defaultdict(int)
    for entry in by_type["backorder"]:
        backorders[(entry["order_id"], int(entry["line_no"]))] += int(entry["quantity"])
        backlog[entry["sku"]] += int(entry["quantity"])
    for catalog in by_type["catalog"]:
        if int(catalog.get("backordered_units", 0)) != backlog.get(catalog["sku"], 0):
            report.fail(
                f"catalog {catalog['sku']}: backordered_units {catalog.get('backordered_units')} != "
                f"queued {backlog.get(catalog['sku'], 0)}"
            )

    # Digital delivery: downloads are conserved (served + remaining = granted), never below zero, and each
    # issued digital line has exactly its entitlement.
    entitlements = {(e["order_id"], int(e["line_no"])): e for e in by_type["entitlement"]}
    for entitlement in by_type["entitlement"]:
        report.checked["entitlements"] += 1
        served, remaining = int(entitlement["downloads_served"]), int(entitlement["downloads_remaining"])
        granted = int(entitlement["granted"])
        name = entitlement["entitlement_id"]
        if remaining < 0 or served + remaining != granted:
            report.fail(f"{name}: served {served} + remaining {remaining} != granted {granted}")
    for order in by_type["order"]:
        for line in order["lines"]:
            if line.get("kind") != "digital":
                continue
            has = (order["order_id"], int(line["line_no"])) in entitlements
            if bool(int(line.get("issued", 0))) != has:
                report.fail(
                    f"{order['order_id']} line {line['line_no']}: issued {line.get('issued', 0)}, "
                    f"entitlement {'present' if has else 'missing'}"
                )

    # Returns: a line's units in open returns and returned are what its RMAs say; never more than delivered.
    returning: dict[tuple[str, int], int] = defaultdict(int)
    came_back: dict[tuple[str, int], int] = defaultdict(int)
    for rma in by_type["rma"]:
        report.checked["returns"] += 1
        for line in rma["lines"]:
            key = (rma["order_id"], int(line["line_no"]))
            received = {k: int(v) for k, v in (line.get("received") or {}).items()}
            if sum(received.values()) > int(line["quantity"]):
                report.fail(f"{rma['rma_id']} line {line['line_no']}: received {received} of {line['quantity']}")
            came_back[key] += received.get("restock", 0) + received.get("damaged", 0)
            if rma["status"] in ("requested", "authorized"):
                returning[key] += int(line["quantity"]) - sum(received.values())
    for order in by_type["order"]:
        for line in order["lines"]:
            key = (order["order_id"], int(line["line_no"]))
            held, back = int(line.get("returning", 0)), int(line.get("returned", 0))
            if (held, back) != (returning.get(key, 0), came_back.get(key, 0)):
                report.fail(
                    f"{key[0]} line {key[1]}: returning {held} / returned {back}, RMAs say "
                    f"{returning.get(key, 0)} / {came_back.get(key, 0)}"
                )
            if held + back > int(line.get("delivered", 0)):
                report.fail(f"{key[0]} line {key[1]}: {held} returning + {back} returned > {line.get('delivered')}")

    # Shipments: what the order lines say was shipped / is in flight is what the shipments say.
    shipped_per_line: dict[tuple[str, int], int] = defaultdict(int)
    in_flight_per_line: dict[tuple[str, int], int] = defaultdict(int)
    for shipment in by_type["shipment"]:
        report.checked["shipments"] += 1
        active = shipment["status"] not in ("rejected", "cancelled")
        for ln in shipment["lines"]:
            key = (shipment["order_id"], int(ln["line_no"]))
            shipped, quantity = int(ln.get("shipped", 0)), int(ln["quantity"])
            if not 0 <= shipped <= quantity:
                report.fail(f"shipment {shipment['shipment_id']} line {key[1]}: shipped {shipped} of {quantity}")
            shipped_per_line[key] += shipped
            if active:
                in_flight_per_line[key] += quantity - shipped
        if settled and shipment["status"] == "pending":
            report.fail(f"shipment {shipment['shipment_id']} left pending")

    # Orders: lines agree with their reservations and backorders; nothing stuck.
    for order in by_type["order"]:
        report.checked["orders"] += 1
        order_id = order["order_id"]
        for line in order["lines"]:
            key = (order_id, int(line["line_no"]))
            reserved, waiting = int(line.get("reserved", 0)), int(line.get("backordered", 0))
            quantity = int(line["quantity"])
            if reserved != per_line.get(key, 0):
                report.fail(f"{order_id} line {key[1]}: reserved {reserved} != reservations {per_line.get(key, 0)}")
            if waiting != backorders.get(key, 0):
                report.fail(f"{order_id} line {key[1]}: backordered {waiting} != queued {backorders.get(key, 0)}")
            shipped = int(line.get("shipped", 0))
            if shipped != shipped_per_line.get(key, 0):
                report.fail(f"{order_id} line {key[1]}: shipped {shipped} != shipments' {shipped_per_line.get(key, 0)}")
            if int(line.get("dispatched", 0)) != in_flight_per_line.get(key, 0):
                report.fail(
                    f"{order_id} line {key[1]}: dispatched {line.get('dispatched')} != in flight "
                    f"{in_flight_per_line.get(key, 0)}"
                )
            if reserved + waiting + shipped > quantity:
                report.fail(
                    f"{order_id} line {key[1]}: reserved {reserved} + backordered {waiting} + shipped {shipped}"
                    f" > quantity {quantity}"
                )
        if order.get("status") not in TERMINAL_OR_WAITING | {"received"}:
            report.fail(f"{order_id}: unknown status {order.get('status')}")
        if settled:
            if order.get("reservation_state") == "pending" and not order.get("cancelled"):
                report.fail(f"{order_id}: reservation still pending")
            if order.get("release_state") == "pending":
                report.fail(f"{order_id}: release still pending")
            if order.get("cancelled") and any(
                int(line.get("reserved", 0)) or int(line.get("backordered", 0)) for line in order["lines"]
            ):
                report.fail(f"{order_id}: cancelled but still holds stock")
            if order.get("status") == "received" and any(
                line.get("kind") == "physical" and line.get("known") for line in order["lines"]
            ):
                report.fail(f"{order_id}: stuck in received")

    # Exactly one event per occurrence.
    if events is not None:
        events = list(events)
        ids = Counter(e["detail"]["event_id"] for e in events)
        report.checked["event deliveries"] = len(events)
        report.checked["repeated deliveries"] = sum(count - 1 for count in ids.values())
        for event_id, count in ids.items():
            if count > 1 and not crashes:
                report.fail(f"event {event_id} published {count} times")
        timelines = order_codec.timeline_items(
            [i for t in ("timeline", "shipment_event", "order_detail") for i in by_type[t]]
        )
        expected = {e["event_id"] for i in timelines for e in i.get("entries") or () if e.get("event_id")}
        missing = expected - set(ids)
        if missing:
            report.fail(f"{len(missing)} customer events recorded on timelines but never published")
        # Stock alerts belong to no order: they come from the catalog item's availability crossing its reorder point.
        alerts = {e["detail"]["event_id"] for e in events if e.get("detail-type") == "LowStock"}
        phantom = set(ids) - expected - alerts
        if phantom:
            report.fail(f"{len(phantom)} published events match no timeline entry (one id per occurrence)")
        report.checked["events"] = len(ids)
    return report
