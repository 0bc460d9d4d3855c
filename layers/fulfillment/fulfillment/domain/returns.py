"""Returns: the return merchandise authorisation (RMA) aggregate and its rules.

An RMA names units of an order's delivered lines. Authorising it reserves them against the line on the order
(`Line.returning`), so the eligible units of a line are always delivered − returned − returning, and the order's
conditional write makes concurrent requests take turns. A receipt applies each line's disposition once, up to the
authorised units: `restock` (back on the shelf of the location it goes back to), `damaged` (written off) or
`missing` (recorded for a claim, not refunded). The refund due is the units received (restock or damaged) at the
line's unit price, less the restocking fee.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any


class RmaStatus(StrEnum):
    REQUESTED = "requested"  # waiting for an operator (the policy wants one)
    AUTHORIZED = "authorized"
    REJECTED = "rejected"
    RECEIVED = "received"  # every authorised unit accounted for
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN = frozenset({RmaStatus.REQUESTED, RmaStatus.AUTHORIZED})


class Disposition(StrEnum):
    RESTOCK = "restock"
    DAMAGED = "damaged"
    MISSING = "missing"


REFUNDED_DISPOSITIONS = frozenset({Disposition.RESTOCK, Disposition.DAMAGED})


@dataclass(frozen=True)
class RmaLine:
    line_no: int
    sku: str
    quantity: int  # units authorised (or requested)
    unit_price: Decimal
    reason: str | None = None
    received: dict[str, int] = field(default_factory=dict)  # disposition -> units received

    @property
    def received_units(self) -> int:
        return sum(self.received.values())

    @property
    def outstanding(self) -> int:
        return max(self.quantity - self.received_units, 0)


@dataclass(frozen=True)
class Receipt:
    """What one receipt applied: per line and disposition, the units taken; and what it refused."""

    applied: dict[int, dict[str, int]]  # line_no -> disposition -> units
    refused: list[str]

    @property
    def units(self) -> int:
        return sum(sum(d.values()) for d in self.applied.values())


@dataclass(frozen=True)
class Rma:
    rma_id: str
    order_id: str
    status: RmaStatus
    lines: tuple[RmaLine, ...]
    location: str  # where the parcel goes back to (the location that shipped the units)
    provider: str
    currency: str
    created_at: str
    updated_at: str
    note: str | None = None
    requested_by: str = "customer"
    idempotency_key: str | None = None  # hashed
    receipts: int = 0
    refund_due: Decimal = Decimal(0)
    restocking_fee_percent: Decimal = Decimal(0)
    version: int = 1

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def outstanding(self) -> dict[int, int]:
        return {line.line_no: line.outstanding for line in self.lines if line.outstanding}

    def line(self, line_no: int) -> RmaLine:
        return next(line for line in self.lines if line.line_no == line_no)

    def summary(self) -> dict[str, Any]:
        return {
            "rma_id": self.rma_id,
            "lines": [{"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity} for ln in self.lines],
            "return_to": {"location": self.location},
        }

    # ------------------------------------------------------------------ changes
    def with_status(self, status: RmaStatus, now: str) -> Rma:
        return replace(self, status=status, updated_at=now, version=self.version + 1)

    def receive(self, units: list[tuple[str, int, Disposition]], now: str) -> tuple[Rma, Receipt]:
        """Apply (sku, quantity, disposition) triples: each up to what is still outstanding on a line of that
        SKU; anything beyond is refused and reported, never applied."""
        lines = {line.line_no: line for line in self.lines}
        applied: dict[int, dict[str, int]] = {}
        refused: list[str] = []
        for sku, quantity, disposition in units:
            left = quantity
            for line_no, line in lines.items():
                if line.sku != sku or not left:
                    continue
                take = min(left, line.outstanding)
                if take:
                    received = dict(line.received)
                    received[disposition.value] = received.get(disposition.value, 0) + take
                    lines[line_no] = replace(line, received=received)
                    per_line = applied.setdefault(line_no, {})
                    per_line[disposition.value] = per_line.get(disposition.value, 0) + take
                    left -= take
            if left:
                refused.append(f"{left} x {sku} ({disposition.value}) beyond what was authorised")
        receipt = Receipt(applied, refused)
        if not receipt.units:
            return self, receipt
        updated = replace(self, lines=tuple(lines[n] for n in sorted(lines)), receipts=self.receipts + 1)
        done = all(line.outstanding == 0 for line in updated.lines)
        status = RmaStatus.RECEIVED if done else self.status
        refund = self.refund_due + self.refund_for(receipt)
        return replace(updated, status=status, refund_due=refund, updated_at=now, version=self.version + 1), receipt

    def refund_for(self, receipt: Receipt) -> Decimal:
        """Units received restocked or damaged, at the line's price, less the restocking fee (missing: nothing)."""
        gross = sum(
            (
                self.line(line_no).unit_price * units
                for line_no, by_disposition in receipt.applied.items()
                for disposition, units in by_disposition.items()
                if Disposition(disposition) in REFUNDED_DISPOSITIONS
            ),
            Decimal(0),
        )
        fee = (gross * self.restocking_fee_percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return (gross - fee).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def merge_requested(lines: list[tuple[int, int, str | None]]) -> dict[int, tuple[int, str | None]]:
    """Duplicate lines in one request are summed (the first reason given wins)."""
    merged: dict[int, tuple[int, str | None]] = {}
    for line_no, quantity, reason in lines:
        units, first = merged.get(line_no, (0, reason))
        merged[line_no] = (units + quantity, first)
    return merged
