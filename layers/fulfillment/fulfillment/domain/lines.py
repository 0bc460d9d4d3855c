"""An order line: what was bought, and how many of its units are reserved (where), dispatched, backordered,
shipped, delivered, returned or issued. Part of the order aggregate (`domain/model.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum


class LineKind(StrEnum):
    PHYSICAL = "physical"
    DIGITAL = "digital"


@dataclass(frozen=True)
class Line:
    line_no: int
    sku: str | None
    quantity: int
    unit_price: Decimal
    kind: LineKind
    title: str | None = None
    source_line_id: str | None = None
    known: bool = True  # the SKU exists in the catalog
    requires_shipping: bool | None = None  # what the storefront said, when it says (Shopify does)
    reserved: int = 0  # units held for this line now (falls when units ship)
    dispatched: int = 0  # reserved units already in an active, not yet shipped shipment
    backordered: int = 0
    shipped: int = 0
    delivered: int = 0
    returned: int = 0  # units received back (restocked or damaged)
    returning: int = 0  # units in open returns (requested or authorised, not received yet)
    issued: int = 0  # digital units whose download entitlement is issued
    allocations: dict[str, int] = field(default_factory=dict)  # location -> units reserved there (the reservation)

    @property
    def needs_stock(self) -> bool:
        return self.kind is LineKind.PHYSICAL and self.known and self.sku is not None

    @property
    def undispatched(self) -> int:
        return max(self.reserved - self.dispatched, 0)

    @property
    def unallocated(self) -> int:
        """Units neither reserved nor waiting as a backorder (what a reservation pass must place)."""
        placed = self.reserved + self.backordered + self.shipped
        return max(self.quantity - placed, 0) if self.needs_stock else 0

    def allocate(self, allocations: Mapping[str, int], backordered: int = 0) -> Line:
        merged = dict(self.allocations)
        for location, units in allocations.items():
            merged[location] = merged.get(location, 0) + units
        return replace(
            self,
            reserved=self.reserved + sum(allocations.values()),
            backordered=self.backordered + backordered,
            allocations=merged,
        )

    def take_from(self, location: str, units: int) -> Line:
        """`units` reserved at `location` stop being reserved (released, shipped or written off)."""
        left = self.allocations.get(location, 0) - units
        allocations = {k: v for k, v in {**self.allocations, location: left}.items() if v > 0}
        return replace(self, reserved=max(self.reserved - units, 0), allocations=allocations)
