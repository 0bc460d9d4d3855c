"""Planning where a line's units come from: locations by priority, spilling over, the rest backordered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class LinePlan:
    line_no: int
    sku: str
    allocations: dict[str, int] = field(default_factory=dict)  # location -> units
    backordered: int = 0

    @property
    def reserved(self) -> int:
        return sum(self.allocations.values())


def plan_lines(
    wanted: Sequence[tuple[int, str, int]],
    available: Mapping[tuple[str, str], int],
    locations: Sequence[str],
) -> list[LinePlan]:
    """Allocate each (line_no, sku, units) in order against `available[(sku, location)]`.

    Locations are tried in priority order; a line may split across them. Lines earlier in the
    order are served first when they compete for the same SKU. `available` is not mutated.
    """
    remaining = dict(available)
    plans = []
    for line_no, sku, units in wanted:
        plan = LinePlan(line_no=line_no, sku=sku)
        need = units
        for location in locations:
            if need == 0:
                break
            take = min(need, max(remaining.get((sku, location), 0), 0))
            if take:
                plan.allocations[location] = take
                remaining[(sku, location)] -= take
                need -= take
        plan.backordered = need
        plans.append(plan)
    return plans
