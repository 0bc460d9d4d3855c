"""Returns: authorise what was delivered (never more, also under concurrent requests), receive once, restock.

- `request` (customer with the order token, or an operator) checks each line against the order as read —
  physical, returnable in the catalog, inside the return window counted from its delivery, and no more units
  than delivered − returned − already in open returns — and commits the RMA with the order's new state
  (`Line.returning` up) conditionally on the order's version: ten parallel requests take turns, and each one
  decides on the order as the previous one left it. An `Idempotency-Key` names the RMA, so a retried request
  answers the same RMA.
- `approve` / `reject` (operators) for RMAs the policy sent to review.
- `receive` (the 3PL's `return.received`, or the operator's in-house receipt) applies each line's disposition up
  to what is outstanding, in one transaction with the order, the stock (restock: on-hand up, audited `return`)
  and the message's marker; `ReturnReceived` and `RefundDue` ride on the order's change (stable ids: the RMA and
  its receipt number). A receipt that applies nothing new (a re-send) changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from fulfillment import keys, tokens
from fulfillment.config import Settings
from fulfillment.contracts.provider import Line as ProviderLine
from fulfillment.contracts.provider import ReturnExpected
from fulfillment.domain.model import LineKind, Order
from fulfillment.domain.returns import (
    OPEN,
    Disposition,
    Receipt,
    Rma,
    RmaLine,
    RmaStatus,
    merge_requested,
)
from fulfillment.domain.shipments import Shipment
from fulfillment.domain.stock import Adjustment
from fulfillment.errors import AlreadyApplied, Conflict, NotFound, OrderNotFound
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import NotOwner, Outcome, apply_once, utc_now


class NotReturnable(Conflict):
    code = "not_returnable"


class QuantityExceedsReturnable(Conflict):
    code = "quantity_exceeds_returnable"


class RmaNotFound(NotFound):
    code = "rma_not_found"


class RmaNotOpen(Conflict):
    code = "rma_not_open"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Returns:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], str] = utc_now,
        send: Callable[[str, BaseModel], None] | None = None,  # (provider, message): its outbound queue
    ) -> None:
        self.settings, self.store, self.clock, self.send = settings, store, clock, send

    # ------------------------------------------------------------------ the provider's heads-up
    def expect(self, rma_id: str) -> Outcome:
        """Tell the provider of the return's location what is coming back (`return_expected`). In-house returns
        need no message: the RMA is the expected receipt the warehouse works from."""
        rma = self.rma(rma_id)
        if rma.status is not RmaStatus.AUTHORIZED:
            return Outcome.NOTHING_TO_DO
        if rma.provider not in self.settings.provider_queues:
            return Outcome.RECORDED
        assert self.send is not None, "expect() needs a sender"
        self.send(
            rma.provider,
            ReturnExpected(
                rma_id=rma.rma_id,
                order_id=rma.order_id,
                location=rma.location,
                lines=[ProviderLine(sku=line.sku, quantity=line.quantity) for line in rma.lines],
                authorized_at=rma.updated_at,
            ),
        )
        return Outcome.APPLIED

    # ------------------------------------------------------------------ request
    def request(
        self,
        order_id: str,
        lines: list[tuple[int, int, str | None]],
        *,
        note: str | None,
        by: str,
        idempotency_key: str | None,
        token: str | None = None,
    ) -> tuple[Rma, bool]:
        """(the RMA, True) when this request created it; (the RMA, False) when a retry found it. A customer
        (`by="customer"`) must hold the order's access token: checked on the order this step reads anyway."""
        wanted = merge_requested(lines)
        key = _key_hash(f"{order_id}:{idempotency_key}") if idempotency_key else None

        def step(uow: UnitOfWork) -> tuple[Rma, bool]:
            order, shipments, rmas = self.store.returns_context(order_id)
            # Unknown order and someone else's order look the same: 404.
            if order is None or (by == "customer" and not tokens.matches(token, order.access_token_hash)):
                raise OrderNotFound(f"no order {order_id}")
            if key is not None:
                again = next((r for r in rmas if r.idempotency_key == key), None)
                if again is not None:
                    return again, False
            now = self.clock()
            rma_lines = self._check(order, shipments, wanted, now)
            location = _return_location(shipments, [line.line_no for line in rma_lines])
            loc = self.settings.location(location)
            status = RmaStatus.AUTHORIZED
            threshold = self.settings.return_review_over
            value = sum((line.unit_price * line.quantity for line in rma_lines), Decimal(0))
            if threshold is not None and value > threshold and by == "customer":
                status = RmaStatus.REQUESTED
            rma = Rma(
                rma_id=keys.rma_id_for(order_id, order.return_seq + 1),
                order_id=order_id,
                status=status,
                lines=tuple(rma_lines),
                location=location,
                provider=loc.provider if loc else "in-house",
                currency=order.currency,
                created_at=now,
                updated_at=now,
                note=note,
                requested_by=by,
                idempotency_key=key,
                restocking_fee_percent=self.settings.restocking_fee_percent,
            )
            changed = order.begin(now).open_return(
                rma.rma_id,
                {ln.line_no: ln.quantity for ln in rma_lines},
                authorized=status is RmaStatus.AUTHORIZED,
                summary=rma.summary(),
            )
            uow.save_order(changed, expected_version=order.version)
            uow.add_rma(rma)
            return rma, True

        return apply_once(self.store, step, what=f"return for {order_id}")

    def _check(
        self, order: Order, shipments: list[Shipment], wanted: dict[int, tuple[int, str | None]], now: str
    ) -> list[RmaLine]:
        skus = {str(order.line(n).sku) for n in wanted if _has_line(order, n) and order.line(n).sku}
        catalog = self.store.catalog(skus)
        window = timedelta(days=self.settings.return_window_days)
        out: list[RmaLine] = []
        for line_no, (quantity, reason) in sorted(wanted.items()):
            if not _has_line(order, line_no):
                raise NotFound(f"order {order.order_id} has no line {line_no}")
            line = order.line(line_no)
            if line.kind is LineKind.DIGITAL:
                raise NotReturnable(f"line {line_no} is a digital good: downloads are not returned")
            item = catalog.get(str(line.sku))
            if item is not None and not item.returnable:
                raise NotReturnable(f"line {line_no} ({line.sku}) is final sale")
            delivered_at = _delivered_at(shipments, line_no)
            if delivered_at and datetime.fromisoformat(now) - datetime.fromisoformat(delivered_at) > window:
                raise NotReturnable(
                    f"line {line_no} was delivered {delivered_at}, more than "
                    f"{self.settings.return_window_days} days ago"
                )
            eligible = line.delivered - line.returned - line.returning
            if quantity > eligible:
                raise QuantityExceedsReturnable(
                    f"line {line_no}: {quantity} requested, {max(eligible, 0)} returnable "
                    f"({line.delivered} delivered, {line.returned} returned, {line.returning} in open returns)"
                )
            out.append(RmaLine(line_no, str(line.sku), quantity, line.unit_price, reason))
        if not out:
            raise QuantityExceedsReturnable("nothing to return")
        return out

    # ------------------------------------------------------------------ operators
    def approve(self, rma_id: str, *, by: str) -> Rma:
        def step(uow: UnitOfWork) -> Rma:
            order, rma = self._load(rma_id)
            if rma.status is RmaStatus.AUTHORIZED:
                return rma
            if rma.status is not RmaStatus.REQUESTED:
                raise RmaNotOpen(f"{rma_id} is {rma.status.value}")
            now = self.clock()
            approved = rma.with_status(RmaStatus.AUTHORIZED, now)
            uow.save_rma(approved, expected_version=rma.version)
            uow.save_order(order.begin(now).authorize_return(approved.summary(), by=by), expected_version=order.version)
            return approved

        return apply_once(self.store, step, what=f"approve {rma_id}")

    def reject(self, rma_id: str, *, by: str, reason: str | None) -> Rma:
        def step(uow: UnitOfWork) -> Rma:
            order, rma = self._load(rma_id)
            if rma.status is RmaStatus.REJECTED:
                return rma
            if rma.status not in OPEN or rma.receipts:
                raise RmaNotOpen(f"{rma_id} is {rma.status.value}")
            now = self.clock()
            rejected = rma.with_status(RmaStatus.REJECTED, now)
            uow.save_rma(rejected, expected_version=rma.version)
            changed = order.begin(now).close_return(rma_id, rma.outstanding, status="rejected", by=by, reason=reason)
            uow.save_order(changed, expected_version=order.version)
            return rejected

        return apply_once(self.store, step, what=f"reject {rma_id}")

    def _load(self, rma_id: str) -> tuple[Order, Rma]:
        order, rma = self.store.rma_and_order(rma_id)
        if rma is None or order is None:
            raise RmaNotFound(f"no return {rma_id}")
        return order, rma

    def rma(self, rma_id: str) -> Rma:
        return self._load(rma_id)[1]

    # ------------------------------------------------------------------ receipt
    def receive(
        self,
        rma_id: str,
        units: list[tuple[str, int, Disposition]],
        *,
        source: str,
        message_id: str,
        by: str,
        provider: str | None,
    ) -> tuple[Outcome, Receipt | None]:
        """`provider`: who says so (a 3PL may only receive returns sent to it); None for the operator."""

        def step(uow: UnitOfWork) -> tuple[Outcome, Receipt | None]:
            order, rma = self._load(rma_id)
            if provider is not None and provider != rma.provider:
                raise NotOwner(f"{rma_id} goes back to {rma.provider}, not {provider}")
            if rma.status is RmaStatus.RECEIVED:
                return Outcome.DUPLICATE, None  # everything authorised has arrived: a re-send
            if rma.status is not RmaStatus.AUTHORIZED:
                raise RmaNotOpen(f"{rma_id} is {rma.status.value}: nothing is expected back")
            now = self.clock()
            received, receipt = rma.receive(units, now)
            if not receipt.units:
                raise QuantityExceedsReturnable(f"{rma_id}: {'; '.join(receipt.refused)}")
            uow.mark(source, message_id, "return.received")
            uow.save_rma(received, expected_version=rma.version)
            refund = received.refund_due - rma.refund_due
            changed = order.begin(now).receive_return(received, receipt, refund)
            uow.save_order(changed, expected_version=order.version)
            tracked = self.settings.tracks_stock(rma.location)
            for line_no, by_disposition in receipt.applied.items():
                sku = rma.line(line_no).sku
                restock = by_disposition.get(Disposition.RESTOCK.value, 0)
                if restock and tracked:
                    uow.adjust_stock(
                        Adjustment(
                            sku,
                            rma.location,
                            restock,
                            "return",
                            f"{rma_id}:{received.receipts}:{line_no}",
                            by,
                            now,
                            note="returned to stock",
                        )
                    )
                damaged = by_disposition.get(Disposition.DAMAGED.value, 0)
                if damaged and tracked:  # the write-off, audited: the units left as shipped and do not come back
                    uow.audit(
                        Adjustment(
                            sku,
                            rma.location,
                            0,
                            "return_damaged",
                            f"{rma_id}:{received.receipts}:{line_no}:damaged",
                            by,
                            now,
                            note=f"{damaged} returned unit(s) damaged, written off ({rma_id})",
                        )
                    )
            return Outcome.APPLIED, receipt

        try:
            return apply_once(self.store, step, what=f"receive {rma_id}")
        except AlreadyApplied:
            return Outcome.DUPLICATE, None


def _has_line(order: Order, line_no: int) -> bool:
    return any(line.line_no == line_no for line in order.lines)


def _delivered_at(shipments: list[Shipment], line_no: int) -> str | None:
    times = [s.delivered_at for s in shipments if s.delivered_at and any(ln.line_no == line_no for ln in s.lines)]
    return max(times) if times else None


def _return_location(shipments: list[Shipment], line_nos: list[int]) -> str:
    """The location that shipped most of these lines' units goes back the parcel."""
    shipped: dict[str, int] = {}
    for shipment in shipments:
        for line in shipment.lines:
            if line.line_no in line_nos and line.shipped:
                shipped[shipment.location] = shipped.get(shipment.location, 0) + line.shipped
    if not shipped:
        raise QuantityExceedsReturnable("nothing of these lines was shipped")
    return max(sorted(shipped), key=lambda location: shipped[location])
