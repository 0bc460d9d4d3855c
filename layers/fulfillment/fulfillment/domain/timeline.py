"""Timeline entries: what happened to an order, in order. Some of them are customer events."""

from __future__ import annotations

from dataclasses import dataclass, field

from fulfillment.domain.events import CustomerEvent


@dataclass(frozen=True)
class Entry:
    type: str  # received, hold_placed, hold_released, reserved, backordered, cancelled, stock_released, ...
    detail: dict = field(default_factory=dict)  # never PII
    event: CustomerEvent | None = None
    occurrence: str = ""  # with the order id and event name, identifies the business occurrence
