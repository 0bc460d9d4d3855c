"""Refunds the shop made in its storefront (Shopify `refunds/create`): recorded on the order once per refund, and
refunded digital units take their downloads with them (`Entitlement.refund`: the allowance falls by the units'
downloads; refunding every unit revokes the links)."""

from __future__ import annotations

from collections.abc import Callable

from fulfillment.domain.events import Entry
from fulfillment.domain.model import LineKind
from fulfillment.errors import AlreadyApplied
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import Outcome, apply_once, utc_now

MARKER_SOURCE = "storefront-refund"


class Refunds:
    def __init__(self, store: Store, clock: Callable[[], str] = utc_now) -> None:
        self.store, self.clock = store, clock

    def record(self, order_id: str, refund_id: str, lines: list[tuple[str, int]], *, note: str | None) -> Outcome:
        """`lines`: (the storefront's line id, units refunded)."""

        def step(uow: UnitOfWork) -> Outcome:
            order, entitlements = self.store.order_and_entitlements(order_id)
            if order is None:
                return Outcome.UNMATCHED
            by_source = {line.source_line_id: line for line in order.lines if line.source_line_id}
            now = self.clock()
            refunded = []
            for source_line_id, units in lines:
                line = by_source.get(source_line_id)
                if line is None:
                    continue
                refunded.append({"line_no": line.line_no, "sku": line.sku, "units": units, "kind": line.kind.value})
                entitlement = next((e for e in entitlements if e.line_no == line.line_no), None)
                if line.kind is LineKind.DIGITAL and entitlement is not None:
                    uow.save_entitlement(entitlement.refund(units, now), expected=entitlement)
            uow.mark(MARKER_SOURCE, f"{order_id}:{refund_id}", "refund")
            detail = {"refund_id": refund_id, "lines": refunded, **({"note": note} if note else {})}
            uow.save_order(order.begin(now).record(Entry("refund_recorded", detail)), expected_version=order.version)
            return Outcome.RECORDED

        try:
            return apply_once(self.store, step, what=f"refund {refund_id} of {order_id}")
        except AlreadyApplied:
            return Outcome.DUPLICATE
