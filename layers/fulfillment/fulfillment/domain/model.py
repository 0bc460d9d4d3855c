"""The order aggregate: what the whole system knows of one order, and every rule that changes it.

Each change is a method returning a new `Order` whose `changes` lists the timeline entries of that change.
A caller starts a change with `begin(now)` (one new version per stored write), applies any number of
rules, and stores the result conditionally on the version it read: a retried step either finds its work
done or does it once. Nothing here does I/O.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from fulfillment.domain.events import CustomerEvent, Entry
from fulfillment.domain.lines import Line, LineKind
from fulfillment.domain.returns import Receipt, Rma
from fulfillment.domain.values import Address, Channel, Customer, FillPolicy, Hold, OrderStatus, WorkState

# The order aggregate's public names: its value types and lines live in their own modules.
__all__ = [
    "Address",
    "Channel",
    "Customer",
    "FillPolicy",
    "Hold",
    "Line",
    "LineKind",
    "Order",
    "OrderStatus",
    "WorkState",
    "is_newer",
    "order_id_for",
]


@dataclass(frozen=True)
class Order:
    """A normalised order. `external_id` is always a string (Shopify ids exceed 2^53)."""

    order_id: str
    channel: Channel
    shop: str
    external_id: str
    currency: str
    lines: tuple[Line, ...]
    customer: Customer = Customer()
    shipping_address: Address | None = None
    payment_status: str = "pending"
    fill_policy: FillPolicy = FillPolicy.SHIP_AVAILABLE
    name: str | None = None
    total: Decimal | None = None
    cancelled: bool = False
    cancel_reason: str | None = None
    source_updated_at: str | None = None  # the storefront's own updated_at (UTC ISO), orders snapshots
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)  # reason -> {"since", "detail"}
    created_at: str = ""
    updated_at: str = ""
    version: int = 0
    reservation_state: WorkState = WorkState.NONE
    reservation_cursor: int = 0
    release_state: WorkState = WorkState.NONE
    access_token_hash: str = ""
    payload_hash: str = ""
    shipment_seq: int = 0  # shipments created so far (ids are order_id.NNN)
    detail_parts: int = 1  # items the order's detail is stored in (more than one only for very big orders)
    downloads_resent_at: str | None = None  # the customer's last "send my links again" (rate limit)
    return_seq: int = 0  # return authorisations opened so far (ids are order_id.rNN)
    changes: tuple[Entry, ...] = ()  # timeline entries of this version (the stream turns them into history/events)

    # ------------------------------------------------------------------ what the order is
    @property
    def status(self) -> OrderStatus:
        """The aggregate status, by the contract's precedence:
        cancelled > on_hold > delivered > shipped > partially_shipped > backordered > dispatched > reserved > received
        """
        if self.cancelled:
            return OrderStatus.CANCELLED
        if self.holds:
            return OrderStatus.ON_HOLD
        physical = self.physical_lines
        if self.is_delivered:
            return OrderStatus.DELIVERED
        if physical and all(line.shipped >= line.quantity for line in physical):
            return OrderStatus.SHIPPED
        if any(line.shipped > 0 for line in physical):
            return OrderStatus.PARTIALLY_SHIPPED
        if any(line.backordered > 0 for line in physical):
            return OrderStatus.BACKORDERED
        stocked = [line for line in physical if line.needs_stock]
        if stocked and all(line.dispatched + line.shipped >= line.quantity for line in stocked):
            return OrderStatus.DISPATCHED
        if physical and all(line.reserved >= line.quantity for line in physical if line.needs_stock):
            return OrderStatus.RESERVED
        if not physical and self.lines:
            return OrderStatus.RESERVED  # nothing to reserve: ready as soon as it is received
        return OrderStatus.RECEIVED

    @property
    def is_delivered(self) -> bool:
        """Every physical unit delivered and every digital unit's download issued: the one definition of
        "delivered", used by the status, the router and OrderDelivered alike."""
        if not self.lines or self.cancelled:
            return False
        return all(
            line.delivered >= line.quantity if line.kind is LineKind.PHYSICAL else line.issued >= line.quantity
            for line in self.lines
        )

    @property
    def undispatched(self) -> int:
        """Reserved units waiting to be put into a shipment when nothing blocks it (0 otherwise)."""
        if self.cancelled or self.holds:
            return 0
        return sum(line.undispatched for line in self.lines)

    @property
    def digital_due(self) -> tuple[Line, ...]:
        """Digital lines whose downloads are owed now: paid (no hold blocks them) and not issued yet."""
        if self.cancelled or self.holds:
            return ()
        return tuple(
            line
            for line in self.lines
            if line.kind is LineKind.DIGITAL and line.known and line.sku and line.issued < line.quantity
        )

    @property
    def downloads_issued(self) -> bool:
        return any(line.kind is LineKind.DIGITAL and line.issued for line in self.lines)

    @property
    def physical_lines(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.kind is LineKind.PHYSICAL)

    @property
    def holds_stock(self) -> bool:
        return any(line.reserved or line.backordered for line in self.lines)

    @property
    def may_reserve(self) -> bool:
        """An order under fraud review takes no stock until a person releases it: one order for a billion units
        would otherwise reserve every unit and head every backorder queue."""
        return Hold.FRAUD_REVIEW.value not in self.holds

    @property
    def may_backorder(self) -> bool:
        """Only a paid order waits in a backorder queue: an unpaid one reserves what is on the shelf and expires;
        the rest of it queues when the payment arrives (at its place by order time, as every backorder)."""
        return self.may_reserve and Hold.AWAITING_PAYMENT.value not in self.holds

    @property
    def order_value(self) -> Decimal:
        if self.total is not None:
            return self.total
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))

    def line(self, line_no: int) -> Line:
        return next(line for line in self.lines if line.line_no == line_no)

    # ------------------------------------------------------------------ changes
    def begin(self, now: str) -> Order:
        """Start a change: one new version, no entries yet."""
        return replace(self, version=self.version + 1, updated_at=now, changes=())

    def record(self, *entries: Entry) -> Order:
        return replace(self, changes=(*self.changes, *entries))

    def with_line(self, line: Line) -> Order:
        return replace(self, lines=tuple(line if ln.line_no == line.line_no else ln for ln in self.lines))

    def place_hold(self, reason: Hold, detail: str) -> Order:
        if reason.value in self.holds:
            return self
        placed = replace(self, holds={**self.holds, reason.value: {"since": self.updated_at, "detail": detail}})
        return placed.record(
            Entry(
                "hold_placed",
                {"reason": reason.value, "detail": detail},
                CustomerEvent.ORDER_ON_HOLD,
                occurrence=f"{reason.value}:{self.version}",
            )
        )

    def place_holds(self, holds: Mapping[Hold, str]) -> Order:
        order = self
        for reason, detail in holds.items():
            order = order.place_hold(reason, detail)
        return order

    def release_hold(self, reason: str, *, by: str) -> Order:
        if reason not in self.holds:
            return self
        remaining = {k: v for k, v in self.holds.items() if k != reason}
        released = replace(self, holds=remaining).record(Entry("hold_released", {"reason": reason, "by": by}))
        return released.request_stock()

    def request_stock(self) -> Order:
        """Ask for a reservation pass when lines need units the order may take now: its first pass, or the rest
        of an order that may now wait for stock (paid, released from review, its SKUs known)."""
        if self.cancelled or not self.may_reserve or self.reservation_state is WorkState.PENDING:
            return self
        if not any(line.needs_stock and line.unallocated for line in self.lines):
            return self
        if self.reservation_state is WorkState.NONE or self.may_backorder:
            return replace(self, reservation_state=WorkState.PENDING, reservation_cursor=0)
        return self

    def cancel(self, *, reason: str | None, by: str) -> Order:
        """Cancel; stock the order holds (reserved or waiting) is released asynchronously."""
        if self.cancelled:
            return self
        cancelled = replace(
            self,
            cancelled=True,
            cancel_reason=reason,
            release_state=WorkState.PENDING if self.reservation_state is not WorkState.NONE else self.release_state,
        )
        return cancelled.record(Entry("cancelled", {"reason": reason, "by": by}, CustomerEvent.ORDER_CANCELLED))

    def needs_release(self) -> Order:
        """Stock held for a cancelled order must go back (after a shipment gave its units up)."""
        if self.cancelled and self.reservation_state is not WorkState.NONE:
            return replace(self, release_state=WorkState.PENDING)
        return self

    def reevaluate_payment(self, allowed_payment_states: frozenset[str]) -> Order:
        if self.payment_status in allowed_payment_states:
            return self.release_hold(Hold.AWAITING_PAYMENT.value, by="payment")
        return self.place_hold(Hold.AWAITING_PAYMENT, f"payment status is {self.payment_status}")

    def reevaluate_address(self, problems: list[str]) -> Order:
        if self.physical_lines and problems:
            return self.place_hold(Hold.ADDRESS_INVALID, "; ".join(problems))
        return self.release_hold(Hold.ADDRESS_INVALID.value, by="address_update")

    # ------------------------------------------------------------------ stock
    def reserve(self, line_no: int, allocations: Mapping[str, int], backordered: int) -> Order:
        return self.with_line(self.line(line_no).allocate(allocations, backordered))

    def serve_backorder(self, line_no: int, allocations: Mapping[str, int]) -> Order:
        line = self.line(line_no)
        units = sum(allocations.values())
        served = replace(line.allocate(allocations), backordered=line.backordered - units)
        detail = {"line_no": line_no, "sku": line.sku, "units": units, "still_waiting": served.backordered}
        return self.with_line(served).record(Entry("backorder_allocated", detail))

    def release(self, line_no: int, location: str, units: int) -> Order:
        return self.with_line(self.line(line_no).take_from(location, units))

    def reservation_finished(self) -> Order:
        reserved = sum(line.reserved for line in self.lines)
        waiting = [line for line in self.lines if line.backordered]
        order = replace(self, reservation_state=WorkState.DONE).record(
            Entry("reserved", {"units": reserved, "backordered": sum(line.backordered for line in waiting)})
        )
        if waiting:
            detail = {"lines": [{"line_no": ln.line_no, "sku": ln.sku, "units": ln.backordered} for ln in waiting]}
            order = order.record(
                Entry("backordered", detail, CustomerEvent.ORDER_BACKORDERED, occurrence=str(self.version))
            )
        return order

    # ------------------------------------------------------------------ digital delivery
    def issue_downloads(self, downloads: list[dict[str, Any]]) -> Order:
        """The due digital lines' entitlements were granted (`downloads`: their summaries): DownloadReady once
        for this grant, and OrderDelivered when that completes the order."""
        was_delivered = self.is_delivered
        issued = {int(d["line_no"]) for d in downloads}
        order = replace(
            self,
            lines=tuple(replace(ln, issued=ln.quantity) if ln.line_no in issued else ln for ln in self.lines),
        )
        occurrence = "issued:" + ",".join(str(n) for n in sorted(issued))
        order = order.record(
            Entry("downloads_issued", {"downloads": downloads}, CustomerEvent.DOWNLOAD_READY, occurrence=occurrence)
        )
        if order.is_delivered and not was_delivered:
            order = order.record(Entry("delivered", {}, CustomerEvent.ORDER_DELIVERED))
        return order

    def reissue_download(self, download: dict[str, Any], *, by: str) -> Order:
        occurrence = f"{download['entitlement_id']}:{download['link_version']}"
        return self.record(
            Entry(
                "download_reissued",
                {"downloads": [download], "by": by},
                CustomerEvent.DOWNLOAD_READY,
                occurrence=occurrence,
            )
        )

    def revoke_download(self, entitlement_id: str, *, reason: str, by: str) -> Order:
        return self.record(Entry("download_revoked", {"entitlement_id": entitlement_id, "reason": reason, "by": by}))

    def resend_downloads(self, downloads: list[dict[str, Any]]) -> Order:
        """The customer asked for their links again: DownloadReady with the same links."""
        resent = replace(self, downloads_resent_at=self.updated_at)
        return resent.record(
            Entry(
                "downloads_resent",
                {"downloads": downloads},
                CustomerEvent.DOWNLOAD_READY,
                occurrence=f"resend:{self.version}",
            )
        )

    # ------------------------------------------------------------------ returns
    def _returning(self, units: Mapping[int, int], sign: int) -> tuple[Line, ...]:
        return tuple(
            replace(ln, returning=max(ln.returning + sign * units[ln.line_no], 0)) if ln.line_no in units else ln
            for ln in self.lines
        )

    def open_return(self, rma_id: str, units: Mapping[int, int], *, authorized: bool, summary: dict[str, Any]) -> Order:
        """Units of delivered lines are now in an open return: no other return can take them."""
        order = replace(self, lines=self._returning(units, +1), return_seq=self.return_seq + 1)
        order = order.record(Entry("return_requested", {"rma_id": rma_id, "units": sum(units.values())}))
        return order.authorize_return(summary, by="policy") if authorized else order

    def authorize_return(self, summary: dict[str, Any], *, by: str) -> Order:
        return self.record(
            Entry(
                "return_authorized",
                {**summary, "by": by},
                CustomerEvent.RETURN_AUTHORIZED,
                occurrence=str(summary["rma_id"]),
            )
        )

    def close_return(self, rma_id: str, units: Mapping[int, int], *, status: str, by: str, reason: str | None) -> Order:
        """A return that will not come (rejected, cancelled): its outstanding units are returnable again."""
        return replace(self, lines=self._returning(units, -1)).record(
            Entry(f"return_{status}", {"rma_id": rma_id, "by": by, **({"reason": reason} if reason else {})})
        )

    def receive_return(self, rma: Rma, receipt: Receipt, refund: Decimal) -> Order:
        """What came back: restocked and damaged units are returned; missing ones leave the return (they can be
        sent later under a new one). ReturnReceived and RefundDue once per receipt."""
        lines = []
        for line in self.lines:
            by_disposition = receipt.applied.get(line.line_no, {})
            arrived = sum(by_disposition.values())
            back = by_disposition.get("restock", 0) + by_disposition.get("damaged", 0)
            lines.append(
                replace(line, returning=max(line.returning - arrived, 0), returned=line.returned + back)
                if arrived
                else line
            )
        occurrence = f"{rma.rma_id}:{rma.receipts}"
        detail_lines = [
            {"line_no": n, "sku": rma.line(n).sku, "dispositions": dict(d)} for n, d in sorted(receipt.applied.items())
        ]
        received = {"rma_id": rma.rma_id, "lines": detail_lines, "status": rma.status.value}
        if receipt.refused:
            received["refused"] = list(receipt.refused)
        refund_lines = [
            {"line_no": n, "sku": rma.line(n).sku, "units": d.get("restock", 0) + d.get("damaged", 0)}
            for n, d in sorted(receipt.applied.items())
        ]
        return (
            replace(self, lines=tuple(lines))
            .record(Entry("return_received", received, CustomerEvent.RETURN_RECEIVED, occurrence=occurrence))
            .record(
                Entry(
                    "refund_due",
                    {"rma_id": rma.rma_id, "amount": str(refund), "currency": rma.currency, "lines": refund_lines},
                    CustomerEvent.REFUND_DUE,
                    occurrence=occurrence,
                )
            )
        )

    # ------------------------------------------------------------------ shipments
    def dispatch(self, units: Mapping[int, int]) -> Order:
        """Units of these lines went into a new shipment."""
        lines = tuple(
            replace(line, dispatched=line.dispatched + units[line.line_no]) if line.line_no in units else line
            for line in self.lines
        )
        return replace(self, lines=lines, shipment_seq=self.shipment_seq + 1)

    def undispatch(self, units: Mapping[int, int]) -> Order:
        """A shipment gave its unshipped units back (rejected or cancelled)."""
        lines = tuple(
            replace(line, dispatched=max(line.dispatched - units[line.line_no], 0)) if line.line_no in units else line
            for line in self.lines
        )
        return replace(self, lines=lines)

    def ship(self, shipment_id: str, location: str, units: Mapping[int, int]) -> Order:
        """Units left `location`: no longer reserved nor in flight, shipped. OrderShipped with the first units."""
        if not any(units.values()):
            return self
        first = not any(line.shipped for line in self.lines)
        order = self
        for line_no, count in units.items():
            line = order.line(line_no).take_from(location, count)
            order = order.with_line(
                replace(line, dispatched=max(line.dispatched - count, 0), shipped=line.shipped + count)
            )
        order = order.record(Entry("shipment_shipped", {"shipment_id": shipment_id, "units": sum(units.values())}))
        if first:
            order = order.record(Entry("shipped", {"shipment_id": shipment_id}, CustomerEvent.ORDER_SHIPPED))
        return order

    def deliver(self, shipment_id: str, units: Mapping[int, int], *, whole_shipment: bool) -> Order:
        was_delivered = self.is_delivered
        order = self
        for line_no, count in units.items():
            line = order.line(line_no)
            order = order.with_line(replace(line, delivered=min(line.delivered + count, line.quantity)))
        if not whole_shipment:
            return order.record(Entry("parcel_delivered", {"shipment_id": shipment_id}))
        order = order.record(
            Entry(
                "shipment_delivered",
                {"shipment_id": shipment_id},
                CustomerEvent.SHIPMENT_DELIVERED,
                occurrence=shipment_id,
            )
        )
        if order.is_delivered and not was_delivered:
            order = order.record(Entry("delivered", {}, CustomerEvent.ORDER_DELIVERED))
        return order


def order_id_for(channel: Channel, shop: str, external_id: str) -> str:
    """The order id is derived from the business key, so every delivery of one order finds one id.

    Redeliveries, out-of-order topics (orders/paid before orders/create) and concurrent
    duplicates all compute the same id, and one conditional put decides which one stores it.
    """
    digest = hashlib.sha256(f"{channel}\x1f{shop.lower()}\x1f{external_id}".encode()).digest()
    return "o_" + base64.b32encode(digest[:15]).decode().lower()


def is_newer(incoming: str | None, stored: str | None) -> bool:
    """Storefront snapshots are applied only when strictly newer (ISO-8601 UTC strings compare)."""
    if incoming is None:
        return False
    return stored is None or incoming > stored
