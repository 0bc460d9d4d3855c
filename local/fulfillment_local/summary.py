"""What the demo prints at the end, and the checks it runs from the outside.

Everything here is computed from what a run collected: the order views (GET /orders/{id} with the
admin token), the customer events the email service received, the runtime's stats, the peers'
own records, and (for the invariant checker only) a scan of the table.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .invariants import Report

# (label, from timeline entry, to timeline entry): the first entry of each type in an order's timeline.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("intake -> reserved", "received", "reserved"),
    ("reserved -> dispatched", "reserved", "shipment_created"),
    ("dispatched -> shipped", "shipment_created", "shipment_shipped"),
    ("shipped -> delivered", "shipment_shipped", "delivered"),
    ("intake -> delivered", "received", "delivered"),
)
NON_TERMINAL_AFTER_DISPATCH = {"received", "reserved", "dispatched"}
PASS, FAIL = "ok", "FAILED"


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class RunData:
    """Everything a run collected (see demo.Demo.collect)."""

    orders_planned: int
    options: dict[str, Any]
    capabilities: dict[str, bool]
    timings: dict[str, float]
    plans: list[Any]  # storefront.PlannedOrder
    views: dict[str, dict[str, Any]]  # order id -> GET /orders/{id}
    events: list[dict[str, Any]]  # every delivery from the notifications queue
    stats: dict[str, Any]  # LocalStack.stats()
    dlqs: dict[str, dict[str, Any]]  # logical id -> {"depth", "samples": [...]}
    invariants: Report
    peers: dict[str, Any]
    inventory: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ledgers: dict[str, dict[str, int]] = field(default_factory=dict)  # location -> 3PL shelf count per sku
    function_names: list[str] = field(default_factory=list)
    setup_stats: dict[str, Any] = field(default_factory=dict)


# ====================================================================== numbers
def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q * len(ordered)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def stage_latencies(views: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {label: [] for label, _, _ in STAGES}
    for view in views:
        first: dict[str, str] = {}
        for entry in view.get("timeline", []):
            first.setdefault(entry["type"], entry["at"])
        for label, start, end in STAGES:
            if start in first and end in first:
                out[label].append(_seconds(first[start], first[end]))
    return out


def fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def fmt_counter(counter: dict[str, int] | Counter, *, limit: int | None = None) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if limit is not None:
        items = items[:limit]
    return ", ".join(f"{k} {v}" for k, v in items) if items else "none"


def fmt_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


# ====================================================================== checks from the outside
def scenario_checks(run: RunData) -> list[Check]:
    checks = [
        _invariants(run),
        _no_order_lost(run),
        _nothing_stuck(run),
        _events_once(run),
        _fifo(run),
        _dlqs_empty(run),
        _peer_anomalies(run),
    ]
    if run.capabilities.get("providers"):
        checks.insert(3, _one_request_per_shipment(run))
        checks.insert(4, _shelves_match(run))
    if run.capabilities.get("digital"):
        checks += [_downloads_within_allowance(run), _digital_not_waiting(run)]
    if run.capabilities.get("returns"):
        checks.append(_returns_add_up(run))
    return checks


def _returns_add_up(run: RunData) -> Check:
    """Never more authorised than delivered; what the RMAs received is what the lines say came back; each receipt
    announced its refund once, and the refunds add up to what the RMAs say is due."""
    check = Check("returns: authorised <= delivered, received once, refunds add up")
    rmas = 0
    for view in run.views.values():
        for line in view["lines"]:
            if line["returned"] + line.get("returning", 0) > line["delivered"]:
                check.problems.append(
                    f"{view['order_id']} line {line['line_no']}: returned {line['returned']} + returning "
                    f"{line.get('returning', 0)} > delivered {line['delivered']}"
                )
        back: Counter[int] = Counter()
        for rma in view.get("returns", []):
            rmas += 1
            for rl in rma["lines"]:
                if rl["received"] > rl["quantity"]:
                    check.problems.append(f"{rma['rma_id']}: {rl['received']} received of {rl['quantity']}")
                back[rl["line_no"]] += int(rl["disposition"].get("restock", 0)) + int(
                    rl["disposition"].get("damaged", 0)
                )
        for line in view["lines"]:
            if back[line["line_no"]] != line["returned"]:
                check.problems.append(
                    f"{view['order_id']} line {line['line_no']}: RMAs received {back[line['line_no']]}, "
                    f"line says returned {line['returned']}"
                )
    due = sum((Decimal(r["refund_due"]) for v in run.views.values() for r in v.get("returns", [])), Decimal(0))
    announced = sum((Decimal(e["detail"]["detail"]["amount"]) for e in _refund_events(run)), Decimal(0))
    if due != announced:
        check.problems.append(f"RefundDue events announce {announced}, the RMAs say {due} is due")
    check.note = f"{rmas} RMAs, refunds due {due}"
    return check


def _downloads_within_allowance(run: RunData) -> Check:
    """What customers got never exceeds what they were granted: the order views' downloads (the table's
    entitlements) against what the customers saw."""
    check = Check("downloads served <= allowance (+ reissues) for every entitlement")
    customers = run.peers.get("customers")
    seen = customers.served_per_entitlement() if customers is not None else {}
    count = 0
    for view in run.views.values():
        for download in view.get("downloads", []):
            count += 1
            name = download["entitlement_id"]
            served, remaining = int(download["downloads_served"]), int(download["downloads_remaining"])
            if remaining < 0:
                check.problems.append(f"{name}: {remaining} downloads remaining")
            if seen.get(name, 0) > served:
                check.problems.append(f"{name}: customers got {seen[name]} files, the backend counted {served}")
            if served > int(download["allowance"]) * (1 + (name in (customers.reissued if customers else []))):
                check.problems.append(f"{name}: {served} downloads served, allowance {download['allowance']}")
    check.note = f"{count} entitlements, {sum(seen.values())} files fetched by customers"
    return check


def _digital_not_waiting(run: RunData) -> Check:
    check = Check("no orders with digital lines left waiting (paid, unheld digital lines have their links)")
    for view in run.views.values():
        if view["status"] == "cancelled" or view.get("holds"):
            continue
        issued = {d["line_no"] for d in view.get("downloads", [])}
        for line in view["lines"]:
            if line["kind"] == "digital" and line.get("known", True) and line["line_no"] not in issued:
                check.problems.append(f"{view['order_id']} line {line['line_no']} ({line['sku']}): no download link")
    check.note = f"{sum(len(v.get('downloads', [])) for v in run.views.values())} links issued"
    return check


def _invariants(run: RunData) -> Check:
    check = Check("invariants (invariants.check over the table + customer events)")
    check.problems = list(run.invariants.violations)
    check.note = ", ".join(f"{v} {k}" for k, v in sorted(run.invariants.checked.items()))
    return check


def _no_order_lost(run: RunData) -> Check:
    check = Check("no order lost (every order a storefront sent is stored and readable)")
    for plan in run.plans:
        if plan.sent_at is None:
            continue
        if not plan.order_id:
            check.problems.append(f"#{plan.index} ({plan.channel} {plan.external_id}): no order id was ever returned")
        elif plan.order_id not in run.views:
            check.problems.append(f"#{plan.index}: order {plan.order_id} not readable")
    check.note = f"{sum(1 for p in run.plans if p.order_id)} orders"
    return check


def _expected_holds(plan: Any, run: RunData) -> set[str]:
    """Holds nobody in the scenario resolves, so an order may legitimately end with them."""
    holds = set()
    if "unpaid" in plan.problems and not plan.paid_now:
        holds.add("awaiting_payment")
    if "missing_address" in plan.problems and not plan.address_fixed and plan.channel != "native":
        holds.add("address_invalid")
    return holds


# Why a hold nobody resolves is where the scenario leaves an order.
_HOLD_WHY = {
    "awaiting_payment": "the shopper never paid",
    "address_invalid": "the address was never fixed",
}


def _why_cancelled(plan: Any, run: RunData, operator_cancelled: dict[str, str]) -> str | None:
    """Who in the scenario cancelled the order, or None when nobody did."""
    if plan.cancelled_by_storefront:
        return "the storefront cancelled it"
    if plan.fill_or_kill:
        return "fill-or-kill, not enough stock"
    if plan.order_id in operator_cancelled:
        return f"an operator cancelled it ({operator_cancelled[plan.order_id].split(':')[0]})"
    # The unpaid-order expiry cancels it - also when the payment reached the backend only after the expiry
    # (a loaded emulator under chaos can delay the storefront's payment webhook that long).
    expiry = float(run.options.get("unpaid_expiry") or 0)
    paid_late = (
        plan.paid_delivered_at is not None
        and plan.sent_at is not None
        and plan.paid_delivered_at - plan.sent_at > expiry - 2
    )
    if "unpaid" in plan.problems and (not plan.paid_now or paid_late):
        return "unpaid when the payment window closed"
    return None


def _operator_cancelled(run: RunData) -> dict[str, str]:
    operator = run.peers.get("operator")
    return dict(operator.cancelled) if operator else {}


def _why_it_ended_there(plan: Any, view: dict[str, Any], run: RunData, operator_cancelled: dict[str, str]) -> str:
    """The scenario's reason for an order's final status, in the words of the summary (the `nothing stuck` check
    fails the run for an order no reason covers)."""
    status, holds = view["status"], sorted(view.get("holds", []))
    if status == "cancelled":
        return _why_cancelled(plan, run, operator_cancelled) or "no reason in the scenario"
    if holds:
        return "; ".join(f"{h}: {_HOLD_WHY.get(h, 'nobody released it')}" for h in holds)
    waiting = sorted({ln["sku"] for ln in view["lines"] if ln["backordered"]})
    if status == "delivered":
        return "everything arrived (or was downloaded)"
    if waiting:
        return f"waiting for a restock of {', '.join(waiting)}"
    if status in ("shipped", "partially_shipped", "dispatched"):
        return "parcels still on their way"
    return "in progress"


def _why_section(run: RunData, add: Any) -> None:
    operator_cancelled = _operator_cancelled(run)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for plan in run.plans:
        view = run.views.get(plan.order_id or "")
        if view is not None:
            reasons[view["status"]][_why_it_ended_there(plan, view, run, operator_cancelled)] += 1
    first = True
    for status, why in sorted(reasons.items(), key=lambda kv: -sum(kv[1].values())):
        label = "why they ended " if first else ""
        add(f"{label:<17}{status} {sum(why.values())}: " + "; ".join(f"{r} {n}" for r, n in why.most_common()))
        first = False


def _nothing_stuck(run: RunData) -> Check:
    check = Check("nothing stuck (each order ended where the scenario leads it)")
    dispatch = run.capabilities.get("dispatch")
    fulfil = run.capabilities.get("providers") and run.capabilities.get("tracking")
    available = defaultdict(int)
    for (sku, _loc), level in run.inventory.items():
        available[sku] += int(level.get("available", 0))
    operator_cancelled = _operator_cancelled(run)
    ends: Counter[str] = Counter()
    for plan in run.plans:
        view = run.views.get(plan.order_id or "")
        if view is None:
            continue
        status, holds = view["status"], set(view.get("holds", []))
        ends[status] += 1
        name = f"{plan.order_id} (#{plan.index} {plan.channel}, {','.join(plan.problems) or 'clean'})"
        if status == "cancelled":
            if _why_cancelled(plan, run, operator_cancelled) is None:
                check.problems.append(f"{name}: cancelled, but nobody in the scenario cancelled it")
            continue
        if plan.cancelled_by_storefront and not any(ln["shipped"] for ln in view["lines"]):
            check.problems.append(f"{name}: the storefront cancelled it before anything shipped, status {status}")
        if holds:
            unexpected = holds - _expected_holds(plan, run)
            if unexpected:
                check.problems.append(f"{name}: still on hold for {sorted(unexpected)}")
            continue
        if status == "received" and any(ln["kind"] == "physical" for ln in view["lines"]):
            check.problems.append(f"{name}: still received")
        waiting = [ln for ln in view["lines"] if ln["backordered"]]
        for line in waiting:
            if available[line["sku"]] > 0:
                check.problems.append(
                    f"{name}: {line['backordered']} x {line['sku']} backordered while "
                    f"{available[line['sku']]} are available"
                )
        if (
            dispatch
            and status in NON_TERMINAL_AFTER_DISPATCH
            and any(ln["kind"] == "physical" and ln["reserved"] for ln in view["lines"])
        ):
            check.problems.append(f"{name}: {status} - reserved stock was never dispatched/shipped")
        digital_pending = all(
            ln["kind"] == "digital" for ln in view["lines"] if ln["delivered"] < ln["quantity"]
        ) and not run.capabilities.get("digital")
        if fulfil and status in ("shipped", "partially_shipped", "dispatched") and not waiting and not digital_pending:
            open_shipments = [
                s
                for s in view.get("shipments", [])
                if s.get("status") not in ("delivered", "cancelled", "rejected", "return_to_sender")
            ]
            lines = [(ln["sku"], ln["quantity"], ln["shipped"], ln["delivered"]) for ln in view["lines"]]
            check.problems.append(
                f"{name}: {status}; open shipments "
                f"{[(s.get('shipment_id'), s.get('status')) for s in open_shipments][:3]}; "
                f"lines (sku, qty, shipped, delivered) {lines}"
            )
    check.note = fmt_counter(ends)
    return check


def _one_request_per_shipment(run: RunData) -> Check:
    check = Check("each shipment requested once (3PLs saw one request id per shipment)")
    total = 0
    for tpl in run.peers.get("tpls", []):
        total += len(tpl.acted)
        for shipment_id, request_ids in tpl.double_requests().items():
            check.problems.append(f"{tpl.provider}: {shipment_id} requested as {request_ids}")
    check.note = f"{total} shipments"
    return check


def _shelves_match(run: RunData) -> Check:
    check = Check("3PL shelves == backend on_hand (stock conservation seen from the warehouse)")
    compared = 0
    for location, ledger in run.ledgers.items():
        for sku, units in sorted(ledger.items()):
            level = run.inventory.get((sku, location))
            if level is None:
                continue
            compared += 1
            if int(level.get("on_hand", 0)) != units:
                check.problems.append(f"{sku}@{location}: shelf {units}, backend on_hand {level.get('on_hand')}")
    check.note = f"{compared} sku/location pairs"
    return check


def _events_once(run: RunData) -> Check:
    check = Check("customer events: one id per occurrence, one per milestone")
    per_order: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in run.events:
        detail = event.get("detail", {})
        per_order[(detail.get("order_id"), event.get("detail-type"))].add(detail.get("event_id"))
    for (order_id, kind), ids in per_order.items():
        if kind in ("OrderReceived", "OrderShipped", "OrderDelivered", "OrderCancelled") and len(ids) > 1:
            check.problems.append(f"{order_id}: {len(ids)} different {kind} event ids")
    for order_id, view in run.views.items():
        status = view["status"]
        wanted = {"OrderReceived"}
        if status == "cancelled":
            wanted.add("OrderCancelled")
        if status == "delivered" and any(ln["kind"] == "physical" for ln in view["lines"]):
            wanted |= {"OrderShipped", "OrderDelivered"}
        for kind in sorted(wanted):
            if not per_order.get((order_id, kind)):
                check.problems.append(f"{order_id} is {status} but no {kind} event arrived")
    for view in run.views.values():  # a "your parcel is late" notice after its delivery is wrong
        delivered_at = {
            e["detail"].get("shipment_id"): e["at"]
            for e in view.get("timeline", [])
            if e["type"] == "shipment_delivered"
        }
        for entry in view.get("timeline", []):
            shipment = entry["detail"].get("shipment_id")
            if (
                entry["type"] == "shipment_delayed"
                and shipment in delivered_at
                and entry["at"] > delivered_at[shipment]
            ):
                check.problems.append(
                    f"{shipment}: ShipmentDelayed at {entry['at']}, after its delivery was "
                    f"recorded at {delivered_at[shipment]}"
                )
    deliveries = len(run.events)
    unique = len({e.get("detail", {}).get("event_id") for e in run.events})
    check.note = f"{unique} events, {deliveries - unique} redelivered"
    return check


def _fifo(run: RunData) -> Check:
    """Backorders are served oldest order first: a line that was waiting is not passed by a newer one."""
    check = Check("backorders served first-in-first-out")
    waiting: dict[str, list[tuple[str, str, str, str | None, str | None]]] = defaultdict(list)
    for view in run.views.values():
        timeline = view.get("timeline", [])
        backordered_at = {}
        for entry in timeline:
            if entry["type"] == "backordered":
                for line in entry["detail"].get("lines", []):
                    backordered_at.setdefault(line["sku"], entry["at"])
        for sku, since in backordered_at.items():
            served = next(
                (e["at"] for e in timeline if e["type"] == "backorder_allocated" and e["detail"].get("sku") == sku),
                None,
            )
            ended = next((e["at"] for e in timeline if e["type"] in ("cancelled", "stock_released")), None)
            waiting[sku].append((view["created_at"], view["order_id"], since, served, ended))
    served_lines = 0
    for sku, lines in waiting.items():
        for created_a, order_a, since_a, served_a, ended_a in lines:
            for created_b, order_b, _since_b, served_b, _ in lines:
                if served_b is None or created_b <= created_a:
                    continue
                a_waiting = (
                    since_a < served_b
                    and (served_a is None or served_a > served_b)
                    and (ended_a is None or ended_a > served_b)
                )
                if a_waiting:
                    check.problems.append(
                        f"{sku}: {order_b} (newer) was served at {served_b} while {order_a} (older) waited"
                    )
        served_lines += sum(1 for line in lines if line[3])
    check.note = f"{sum(len(v) for v in waiting.values())} backordered lines, {served_lines} served after restock"
    return check


def _dlqs_empty(run: RunData) -> Check:
    check = Check("dead-letter queues empty")
    for name, info in sorted(run.dlqs.items()):
        if info["depth"]:
            samples = "; ".join(info["samples"][:3])
            check.problems.append(f"{name}: {info['depth']} messages - {samples}")
    check.note = f"{len(run.dlqs)} DLQs"
    return check


def _peer_anomalies(run: RunData) -> Check:
    check = Check("peers saw only contract-conforming answers")
    for name, peer in _named_peers(run):
        for anomaly in getattr(peer, "anomalies", []):
            check.problems.append(f"{name}: {anomaly}")
    scheduler = run.peers.get("scheduler")
    if scheduler is not None:
        check.problems += [f"peer action failed: {e}" for e in scheduler.errors]
    carrier = run.peers.get("carrier")
    if carrier is not None:
        check.problems += [
            f"carrier: tracking updates never matched: {p}" for p in sorted(set(carrier.unmatched_final))
        ]
    return check


def _named_peers(run: RunData) -> list[tuple[str, Any]]:
    named = []
    for key in ("storefront", "operator", "warehouse", "carrier", "customers", "returners"):
        if run.peers.get(key) is not None:
            named.append((key, run.peers[key]))
    named += [(f"3PL {t.provider}", t) for t in run.peers.get("tpls", [])]
    return named


# ====================================================================== the report
def render(run: RunData, checks: list[Check]) -> str:
    lines: list[str] = []
    add = lines.append
    opts = run.options
    orders = max(len([p for p in run.plans if p.order_id]), 1)
    mode = "chaos" if opts.get("chaos") else ("duplicates" if opts.get("duplicates") else "normal")
    if opts.get("fault_rate"):
        mode += f", fault rate {opts['fault_rate']:.0%}"
    add("")
    add("=" * 100)
    add(
        f" Fulfillment demo - {run.orders_planned} orders, mode {mode}, seed {opts.get('seed')} - "
        f"{fmt_duration(run.timings['total'])} (orders sent in {fmt_duration(run.timings['drive'])}, "
        f"settled {fmt_duration(run.timings['settle'])} later)"
    )
    add("=" * 100)
    add(
        "legend: counts are over the whole run; '(duplicate)' = sent twice on purpose; 'early' = a carrier scan that "
        "came before the 3PL's shipped; p50/p95 = median/95th percentile; 'per order' = divided by the orders sent; "
        "every check at the end says what it verified"
    )
    caps = run.capabilities
    add("capabilities     " + "  ".join(f"{'+' if v else '-'}{k}" for k, v in caps.items()))

    storefront = run.peers.get("storefront")
    if storefront is not None:
        by_channel = Counter(p.channel for p in run.plans if p.sent_at is not None)
        problems = Counter(x for p in run.plans for x in p.problems)
        add(
            f"storefronts      {sum(by_channel.values())} orders ({fmt_counter(by_channel)}); "
            f"{sum(storefront.sent.values())} webhook deliveries"
        )
        add(f"                 deliveries: {fmt_counter(storefront.sent)}")
        add(
            f"                 answers: {fmt_counter(storefront.answers)}; "
            f"retried after: {fmt_counter(storefront.http.retried) if storefront.http.retried else 'nothing'}"
        )
        add(f"                 problems planted: {fmt_counter(problems)}")

    statuses = Counter(v["status"] for v in run.views.values())
    add(f"orders by status {fmt_counter(statuses)}")
    _why_section(run, add)
    holds_now = Counter(h for v in run.views.values() if v["status"] != "cancelled" for h in v.get("holds", []))
    holds_ever = Counter(
        e["detail"].get("reason")
        for v in run.views.values()
        for e in v.get("timeline", [])
        if e["type"] == "hold_placed"
    )
    add(f"holds by reason  orders on hold now: {fmt_counter(holds_now)}")
    add(f"                 placed during the run: {fmt_counter(holds_ever)}")
    operator = run.peers.get("operator")
    if operator is not None:
        add(f"operators        {fmt_counter(operator.actions)}")
    _digital_section(run, add)
    _returns_section(run, add)

    backordered_lines = Counter()
    served = Counter()
    still = Counter()
    spill = 0
    for view in run.views.values():
        for entry in view.get("timeline", []):
            if entry["type"] == "backordered":
                for line in entry["detail"].get("lines", []):
                    backordered_lines[line["sku"]] += 1
            elif entry["type"] == "backorder_allocated":
                served[entry["detail"].get("sku")] += int(entry["detail"].get("units", 0))
        for line in view["lines"]:
            if line["backordered"]:
                still[line["sku"]] += line["backordered"]
            if len(line.get("allocations") or {}) > 1:
                spill += 1
        spill += sum(1 for e in view.get("timeline", []) if e["type"] == "rerouted")
    add(f"backorders       lines backordered: {fmt_counter(backordered_lines)}")
    add(
        f"                 units served FIFO after restocks: {fmt_counter(served)}; still waiting: "
        f"{fmt_counter(still)}; lines split over locations or rerouted: {spill}"
    )

    add("latency          (from order timelines; p50 / p95 / max, n - on this machine's serialised emulator, not AWS)")
    for label, values in stage_latencies(run.views.values()).items():
        if values:
            add(
                f"  {label:<22} {fmt_s(percentile(values, 0.5)):>8} / {fmt_s(percentile(values, 0.95)):>8} / "
                f"{fmt_s(max(values)):>8}   n={len(values)}"
            )
    if storefront is not None:
        http_lat = [
            v / 1000 for k, vals in storefront.http.latencies_ms.items() if k.startswith("intake") for v in vals
        ]
        if http_lat:
            add(
                f"  {'webhook -> 2xx (HTTP)':<22} {fmt_s(percentile(http_lat, 0.5)):>8} / "
                f"{fmt_s(percentile(http_lat, 0.95)):>8} / {fmt_s(max(http_lat)):>8}   n={len(http_lat)}"
            )

    for tpl in run.peers.get("tpls", []):
        add(f"3PL {tpl.provider:<12} received {fmt_counter(tpl.received)}; {fmt_counter(tpl.outcomes)}")
        add(f"                 sent {fmt_counter(tpl.sent)}")
    warehouse = run.peers.get("warehouse")
    if warehouse is not None and (warehouse.shipped or warehouse.outcomes):
        add(f"in-house HQ      shipped {len(warehouse.shipped)} shipments ({fmt_counter(warehouse.outcomes)})")
    carrier = run.peers.get("carrier")
    if carrier is not None and carrier.parcels:
        add(
            f"carriers         {len(carrier.parcels)} parcels; webhooks {fmt_counter(carrier.sent)}; "
            f'{carrier.unmatched_resent} early updates re-sent after {{"matched": false}}'
        )

    if carrier is not None:
        delayed = {
            e["detail"].get("shipment_id")
            for v in run.views.values()
            for e in v.get("timeline", [])
            if e["type"] == "shipment_delayed"
        }
        if delayed:
            on_time = len(delayed - carrier.late)
            add(
                f"delays           ShipmentDelayed for {len(delayed & carrier.late)} of {len(carrier.late)} parcels "
                f"held back on purpose, and for {on_time} parcels the carrier scanned on time"
                + (" (their scans were processed late: backlog)" if on_time else "")
            )
    by_type = Counter(e.get("detail-type") for e in run.events)
    unique = {e.get("detail", {}).get("event_id"): e.get("detail-type") for e in run.events}
    add(
        f"events           {len(unique)} distinct ({len(run.events) - len(unique)} redeliveries): "
        f"{fmt_counter(Counter(unique.values()))}"
    )
    if len(run.events) != len(unique):
        add(f"                 deliveries by type: {fmt_counter(by_type)}")

    _aws_section(run, orders, add)
    _lambda_section(run, add)

    add("DLQs             " + ", ".join(f"{name} {info['depth']}" for name, info in sorted(run.dlqs.items())))
    for name, info in sorted(run.dlqs.items()):
        for sample in info["samples"][:3]:
            add(f"                 {name}: {sample}")

    add("")
    add("checks")
    for check in checks:
        mark = PASS if check.ok else FAIL
        add(f"  [{mark:^6}] {check.name}" + (f" - {check.note}" if check.note else ""))
        for problem in check.problems[:12]:
            add(f"            - {problem}")
        if len(check.problems) > 12:
            add(f"            ... and {len(check.problems) - 12} more")
    failed = [c for c in checks if not c.ok]
    add("")
    add(f"RESULT: {'all checks passed' if not failed else f'{len(failed)} check(s) FAILED'}")
    return "\n".join(lines)


def _digital_section(run: RunData, add: Any) -> None:
    downloads = [d for v in run.views.values() for d in v.get("downloads", [])]
    customers = run.peers.get("customers")
    if not downloads and customers is None:
        return
    by_status = Counter(d["status"] for d in downloads)
    add(
        f"digital          {len(downloads)} links issued ({fmt_counter(Counter(d['sku'] for d in downloads))}); "
        f"now {fmt_counter(by_status)}; {sum(int(d['downloads_served']) for d in downloads)} downloads counted"
    )
    if customers is not None:
        outcomes = customers.outcomes
        add(
            f"                 customers: {fmt_counter(customers.behaviours)}; files served {outcomes['served']}, "
            f"refused {fmt_counter(customers.refused()) or 'none'}; HEAD {outcomes['HEAD']} (not counted); "
            f"reissued {len(customers.reissued)}"
        )


def _returns_section(run: RunData, add: Any) -> None:
    rmas = [r for v in run.views.values() for r in v.get("returns", [])]
    returners = run.peers.get("returners")
    if not rmas and returners is None:
        return
    units: Counter[str] = Counter()
    for rma in rmas:
        for line in rma["lines"]:
            units.update({k: int(v) for k, v in line["disposition"].items()})
    refunds = sum((Decimal(r["refund_due"]) for r in rmas), Decimal(0))
    add(
        f"returns          {len(rmas)} RMAs ({fmt_counter(Counter(r['status'] for r in rmas))}); units received "
        f"{fmt_counter(units) or 'none'}; refunds due {refunds} (in {len(_refund_events(run))} RefundDue events)"
    )
    if returners is not None:
        add(
            f"                 customers: {fmt_counter(returners.behaviours)}; answers {fmt_counter(returners.answers)}"
        )
    low = [e for e in run.events if e.get("detail-type") == "LowStock"]
    if low:
        add(f"stock alerts     LowStock {fmt_counter(Counter(e['detail']['detail'].get('sku') for e in low))}")


def _refund_events(run: RunData) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for event in run.events:
        if event.get("detail-type") == "RefundDue":
            seen[event["detail"]["event_id"]] = event
    return list(seen.values())


def _aws_section(run: RunData, orders: int, add: Any) -> None:
    functions = set(run.function_names)
    by_caller = run.stats.get("aws_calls_by_caller", {})
    fn_calls: Counter[str] = Counter()
    per_fn: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for caller, calls in by_caller.items():
        for op, n in calls.items():
            if caller in functions:
                fn_calls[op] += n
                per_fn[caller] += n
            else:
                other[caller] += n
    total = sum(fn_calls.values())
    add(
        f"AWS calls        by the functions: {total} = {total / orders:.1f} per order "
        f"(measured after seeding the catalog and stock)"
    )
    add(
        f"                 by function: {', '.join(f'{k} {v / orders:.1f}' for k, v in per_fn.most_common())} per order"
    )
    top_ops = ", ".join(f"{_op(k)} {v / orders:.1f}" for k, v in fn_calls.most_common(8))
    add(f"                 by operation: {top_ops}")
    add(f"                 outside the functions: {fmt_counter(other)} (runtime pollers as 'testing', peers)")
    writes = run.stats.get("dynamodb_writes", {})
    calls = units = index_units = failed_calls = failed_units = 0
    per_fn_units: Counter[str] = Counter()
    for caller, ops in writes.items():
        if caller not in functions:
            continue
        for totals in ops.values():
            calls += totals["calls"]
            units += totals["units"]
            index_units += totals["index_units"]
            failed_calls += totals["failed_calls"]
            failed_units += totals["failed_units"]
            per_fn_units[caller] += totals["units"] + totals["index_units"]
    add(
        f"DynamoDB writes  {calls} write calls = {calls / orders:.1f} per order; ~{units + index_units} write units = "
        f"~{(units + index_units) / orders:.1f} per order (table {units}, GSIs {index_units}; estimated from sizes)"
    )
    add(
        f"                 rejected writes (failed conditions, cancelled transactions): {failed_calls} calls, "
        f"~{failed_units} units; units by function: "
        f"{', '.join(f'{k} {v / orders:.1f}' for k, v in per_fn_units.most_common())} per order"
    )
    busy = run.stats.get("aws_busy_seconds", {})
    if busy:
        top = ", ".join(f"{_op(k)} {v:.1f}s" for k, v in sorted(busy.items(), key=lambda kv: -kv[1])[:5])
        add(f"emulator time    {sum(busy.values()):.1f} s serialised in moto; top: {top}")


def _op(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _lambda_section(run: RunData, add: Any) -> None:
    add("functions        invocations / errors (injected) / cold starts, init mean / duration p50, p95")
    for name, fn in sorted(run.stats.get("functions", {}).items()):
        init = fn.get("init_ms", {})
        duration = fn.get("duration_ms", {})
        add(
            f"  {name:<26} {fn['invocations']:>5} / {fn['errors']:>3} ({fn.get('chaos_faults', 0)}) / "
            f"{fn['cold_starts']}, {init.get('mean') or 0:.0f} ms / {duration.get('p50') or 0:.0f} ms, "
            f"{duration.get('p95') or 0:.0f} ms"
        )
