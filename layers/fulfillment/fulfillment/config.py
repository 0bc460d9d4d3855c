"""Settings read from the environment the template gives each function, once per container."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any


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
    """Every setting a function reads, validated once per container. No other module reads the environment."""

    table_name: str
    locations: tuple[Location, ...]
    allowed_payment_states: frozenset[str]
    fraud_rules: FraudRules
    public_api_url: str
    event_bus_name: str | None = None
    reservation_queue_url: str | None = None
    dispatch_queue_url: str | None = None
    digital_queue_url: str | None = None
    assets_bucket: str | None = None  # the private bucket of digital goods
    presign_seconds: int = 300  # life of the S3 URL a download link redirects to (at most 300)
    resend_interval_seconds: int = 60  # a customer's "send my links again", at most once a minute
    return_window_days: float = 30  # counted from the delivery of the line (fractions of a day allowed)
    return_review_over: Decimal | None = None  # customers' returns worth more than this wait for an operator
    restocking_fee_percent: Decimal = Decimal(0)
    dlq_urls: dict[str, str] = field(default_factory=dict)  # RESERVATION | DISPATCH | INBOUND -> its DLQ
    provider_queues: dict[str, str] = field(default_factory=dict)  # provider -> its outbound queue
    provider_senders: dict[str, list[str]] = field(default_factory=dict)  # provider -> SQS sender ids it may use
    ack_timeout_seconds: int = 900
    max_submit_attempts: int = 3
    delay_after_seconds: int = 3 * 24 * 3600
    sweep_after_seconds: int = 600
    unpaid_expiry_seconds: int = 3 * 24 * 3600
    secret_arns: dict[str, str] = field(default_factory=dict)  # SHOPIFY, WOOCOMMERCE, NATIVE, ORDER_TOKEN, ADMIN, ...

    def location(self, location_id: str) -> Location | None:
        return next((loc for loc in self.locations if loc.id == location_id), None)

    @property
    def stocked_location_ids(self) -> list[str]:
        return [loc.id for loc in self.locations if loc.tracks_stock]

    def tracks_stock(self, location_id: str) -> bool:
        location = self.location(location_id)
        return location is None or location.tracks_stock

    def refuse_sender(self, provider: str, sender_id: str | None) -> str | None:
        """Why `sender_id` may not speak for `provider` on the shared inbound queue, or None if it may.

        Deny by default: a provider is believed only from the senders `ProviderSenders` lists for it, and nobody
        speaks for an in-house location (the warehouse acts through the admin API, never the queue)."""
        served = [loc for loc in self.locations if loc.provider == provider]
        if served and all(loc.kind == "in_house" for loc in served):
            return f"sender_not_allowed: no message may speak for the in-house provider {provider}"
        allowed = self.provider_senders.get(provider)
        if not allowed:
            return f"sender_not_allowed: ProviderSenders lists no senders for {provider or 'this provider'}"
        if sender_id not in allowed:
            return f"sender_not_allowed: {sender_id} may not speak for {provider}"
        return None

    def status_url(self, order_id: str, token: str) -> str:
        return f"{self.public_api_url}/orders/{order_id}?token={token}"

    def download_url(self, token: str) -> str:
        return f"{self.public_api_url}/downloads/{token}"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        raise RuntimeError(f"setting {name} must be an integer, got {raw!r}") from None


def _json_map(name: str) -> dict[str, Any]:
    raw = _env(name)
    value = json.loads(raw) if raw else {}
    if not isinstance(value, dict):
        raise RuntimeError(f"setting {name} must be a JSON object")
    return value


def parse_locations(raw: str) -> tuple[Location, ...]:
    items = [Location(**{k: v for k, v in loc.items() if k in Location.__annotations__}) for loc in json.loads(raw)]
    return tuple(sorted(items, key=lambda loc: (loc.priority, loc.id)))


SECRETS = ("SHOPIFY", "WOOCOMMERCE", "NATIVE", "ORDER_TOKEN", "ADMIN", "EASYPOST", "AFTERSHIP", "DOWNLOAD_SIGNING")
DLQ_QUEUES = ("RESERVATION", "DISPATCH", "INBOUND", "DIGITAL")


@cache
def settings() -> Settings:
    return Settings(
        table_name=_env("TABLE_NAME", "fulfillment") or "fulfillment",
        locations=parse_locations(_env("LOCATIONS", DEFAULT_LOCATIONS) or DEFAULT_LOCATIONS),
        allowed_payment_states=frozenset(
            s.strip() for s in (_env("ALLOWED_PAYMENT_STATES", "paid,authorized") or "").split(",") if s.strip()
        ),
        fraud_rules=FraudRules.from_json(_env("FRAUD_RULES")),
        public_api_url=(_env("PUBLIC_API_URL", "http://localhost") or "").rstrip("/"),
        event_bus_name=_env("EVENT_BUS_NAME"),
        reservation_queue_url=_env("RESERVATION_QUEUE_URL"),
        dispatch_queue_url=_env("DISPATCH_QUEUE_URL"),
        digital_queue_url=_env("DIGITAL_QUEUE_URL"),
        assets_bucket=_env("ASSETS_BUCKET"),
        presign_seconds=min(_int("PRESIGN_SECONDS", 300), 300),
        resend_interval_seconds=_int("RESEND_INTERVAL_SECONDS", 60),
        return_window_days=float(_env("RETURN_WINDOW_DAYS", "30") or "30"),
        return_review_over=Decimal(raw) if (raw := _env("RETURN_REVIEW_OVER")) else None,
        restocking_fee_percent=Decimal(_env("RESTOCKING_FEE_PERCENT", "0") or "0"),
        dlq_urls={name: url for name in DLQ_QUEUES if (url := _env(f"{name}_DLQ_URL"))},
        provider_queues={str(k): str(v) for k, v in _json_map("PROVIDER_QUEUES").items()},
        provider_senders={str(k): [str(s) for s in v] for k, v in _json_map("PROVIDER_SENDERS").items()},
        ack_timeout_seconds=_int("ACK_TIMEOUT_SECONDS", 900),
        max_submit_attempts=_int("MAX_SUBMIT_ATTEMPTS", 3),
        delay_after_seconds=_int("DELAY_AFTER_SECONDS", 3 * 24 * 3600),
        sweep_after_seconds=_int("SWEEP_AFTER_SECONDS", 600),
        unpaid_expiry_seconds=_int("UNPAID_EXPIRY_SECONDS", 3 * 24 * 3600),
        secret_arns={name: arn for name in SECRETS if (arn := _env(f"{name}_SECRET_ARN"))},
    )
