"""State changes of an order. Each returns the new order and the timeline entries that record it.

Callers bump `version` once per write (`begin`), apply any number of transitions, and store the
result conditionally on the version they read. Event occurrences include the version, so a
transition that is retried after a crash either already happened (the version moved on and the
caller re-reads) or happens once.
"""

from __future__ import annotations

from dataclasses import replace

from fulfillment.config import FraudRules
from fulfillment.domain import holds as hold_rules
from fulfillment.domain.events import CustomerEvent
from fulfillment.domain.model import Hold, Order, WorkState
from fulfillment.domain.timeline import Entry

Change = tuple[Order, list[Entry]]


def begin(order: Order, now: str) -> Order:
    return replace(order, version=order.version + 1, updated_at=now)


def place_hold(order: Order, reason: Hold, detail: str) -> Change:
    if reason.value in order.holds:
        return order, []
    placed = replace(order, holds={**order.holds, reason.value: {"since": order.updated_at, "detail": detail}})
    entry = Entry(
        "hold_placed",
        {"reason": reason.value, "detail": detail},
        CustomerEvent.ORDER_ON_HOLD,
        occurrence=f"{reason.value}:{order.version}",
    )
    return placed, [entry]


def release_hold(order: Order, reason: str, *, by: str) -> Change:
    if reason not in order.holds:
        return order, []
    remaining = {k: v for k, v in order.holds.items() if k != reason}
    return replace(order, holds=remaining), [Entry("hold_released", {"reason": reason, "by": by})]


def cancel(order: Order, *, reason: str | None, by: str) -> Change:
    """Cancel; stock the order holds (reserved or waiting) is released asynchronously."""
    if order.cancelled:
        return order, []
    needs_release = order.reservation_state is not WorkState.NONE
    cancelled = replace(
        order,
        cancelled=True,
        cancel_reason=reason,
        release_state=WorkState.PENDING if needs_release else order.release_state,
    )
    entry = Entry("cancelled", {"reason": reason, "by": by}, CustomerEvent.ORDER_CANCELLED)
    return cancelled, [entry]


def initial_holds(order: Order, *, allowed_payment_states: frozenset[str], rules: FraudRules) -> Change:
    entries: list[Entry] = []
    for reason, detail in hold_rules.evaluate(
        order, allowed_payment_states=allowed_payment_states, rules=rules
    ).items():
        order, placed = place_hold(order, reason, detail)
        entries += placed
    return order, entries


def reevaluate_payment(order: Order, allowed_payment_states: frozenset[str]) -> Change:
    if order.payment_status in allowed_payment_states:
        return release_hold(order, Hold.AWAITING_PAYMENT.value, by="payment")
    return place_hold(order, Hold.AWAITING_PAYMENT, f"payment status is {order.payment_status}")


def reevaluate_address(order: Order) -> Change:
    if not order.physical_lines:
        return release_hold(order, Hold.ADDRESS_INVALID.value, by="address_update")
    problems = hold_rules.address_problems(order.shipping_address)
    if problems:
        return place_hold(order, Hold.ADDRESS_INVALID, "; ".join(problems))
    return release_hold(order, Hold.ADDRESS_INVALID.value, by="address_update")


def is_newer(incoming: str | None, stored: str | None) -> bool:
    """Storefront snapshots are applied only when strictly newer (ISO-8601 UTC strings compare)."""
    if incoming is None:
        return False
    return stored is None or incoming > stored


def apply_snapshot(
    existing: Order, snapshot: Order, *, now: str, allowed_payment_states: frozenset[str]
) -> Change | None:
    """A later storefront snapshot of a stored order (orders/paid, orders/cancelled, order.updated).

    None means nothing to apply: a redelivery, or an older snapshot arriving late.
    """
    if not is_newer(snapshot.source_updated_at, existing.source_updated_at):
        return None
    order = replace(begin(existing, now), source_updated_at=snapshot.source_updated_at)
    entries: list[Entry] = []
    if existing.cancelled:
        return order, entries
    if snapshot.payment_status != existing.payment_status:
        order = replace(order, payment_status=snapshot.payment_status)
        entries.append(Entry("payment_updated", {"from": existing.payment_status, "to": snapshot.payment_status}))
        order, changed = reevaluate_payment(order, allowed_payment_states)
        entries += changed
    if snapshot.cancelled:
        order, changed = cancel(order, reason=snapshot.cancel_reason or "storefront", by=str(snapshot.channel))
        return order, entries + changed
    if snapshot.shipping_address != existing.shipping_address:
        order = replace(order, shipping_address=snapshot.shipping_address)
        entries.append(Entry("address_updated", {}))
        order, changed = reevaluate_address(order)
        entries += changed
    return order, entries
