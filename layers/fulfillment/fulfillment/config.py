"""Settings read from the environment the template gives each function, once per container."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache


@dataclass(frozen=True)
class Location:
    id: str
    provider: str
    kind: str  # 3pl | dropship | in_house
    priority: int

    @property
    def tracks_stock(self) -> bool:
        """A dropship supplier's stock is not ours to count: reservations there take no stock."""
        return self.kind != "dropship"


@dataclass(frozen=True)
class FraudRules:
    """Thresholds of the fraud_review hold (docs/operations.md). Money in the order's currency."""

    max_order_value: Decimal = Decimal("5000")
    max_line_quantity: int = 50
    high_value_without_email: Decimal = Decimal("500")
    high_risk_countries: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_json(cls, raw: str | None) -> FraudRules:
        data = json.loads(raw) if raw else {}
        defaults = cls()
        return cls(
            max_order_value=Decimal(str(data.get("max_order_value", defaults.max_order_value))),
            max_line_quantity=int(data.get("max_line_quantity", defaults.max_line_quantity)),
            high_value_without_email=Decimal(
                str(data.get("high_value_without_email", defaults.high_value_without_email))
            ),
            high_risk_countries=frozenset(c.upper() for c in data.get("high_risk_countries", [])),
        )


DEFAULT_LOCATIONS = (
    '[{"id": "WH-EAST", "provider": "tpl-east", "kind": "3pl", "priority": 1},'
    ' {"id": "WH-WEST", "provider": "tpl-west", "kind": "3pl", "priority": 2}]'
)


@dataclass(frozen=True)
class Settings:
    table_name: str
    locations: tuple[Location, ...]
    allowed_payment_states: frozenset[str]
    fraud_rules: FraudRules
    public_api_url: str
    event_bus_name: str | None
    reservation_queue_url: str | None
    dispatch_queue_url: str | None

    def location(self, location_id: str) -> Location | None:
        return next((loc for loc in self.locations if loc.id == location_id), None)

    @property
    def stocked_location_ids(self) -> list[str]:
        return [loc.id for loc in self.locations if loc.tracks_stock]


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def parse_locations(raw: str) -> tuple[Location, ...]:
    items = [Location(**{k: v for k, v in loc.items() if k in Location.__annotations__}) for loc in json.loads(raw)]
    return tuple(sorted(items, key=lambda loc: (loc.priority, loc.id)))


@cache
def settings() -> Settings:
    return Settings(
        table_name=_env("TABLE_NAME", "fulfillment"),
        locations=parse_locations(_env("LOCATIONS", DEFAULT_LOCATIONS)),
        allowed_payment_states=frozenset(
            s.strip() for s in _env("ALLOWED_PAYMENT_STATES", "paid,authorized").split(",") if s.strip()
        ),
        fraud_rules=FraudRules.from_json(_env("FRAUD_RULES")),
        public_api_url=_env("PUBLIC_API_URL", "http://localhost").rstrip("/"),
        event_bus_name=_env("EVENT_BUS_NAME"),
        reservation_queue_url=_env("RESERVATION_QUEUE_URL"),
        dispatch_queue_url=_env("DISPATCH_QUEUE_URL"),
    )
