"""Order intake: store each storefront order exactly once and apply later snapshots in order.

The order id derives from the business key (channel, shop, external id), so every delivery of
one order addresses one item, and a conditional put decides which delivery creates it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from fulfillment import tokens
from fulfillment.adapters.order_store import OrderStore
from fulfillment.adapters.stock_store import CatalogStore
from fulfillment.config import Settings
from fulfillment.domain import transitions
from fulfillment.domain.events import CustomerEvent
from fulfillment.domain.model import Channel, Line, LineKind, Order, WorkState, order_id_for
from fulfillment.domain.status import aggregate
from fulfillment.domain.timeline import Entry
from fulfillment.errors import AlreadyExists, ConcurrentModification, Conflict

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class IntakeResult:
    order_id: str
    status: str
    duplicate: bool
    created: bool
    access_token: str

    def body(self, *, include_token: bool) -> dict:
        body = {"order_id": self.order_id, "status": self.status, "duplicate": self.duplicate}
        if include_token:
            body["access_token"] = self.access_token
        return body


def resolve_lines(lines: tuple[Line, ...], catalog: dict[str, dict]) -> tuple[Line, ...]:
    """The catalog decides what a SKU is; a storefront's requires_shipping flag decides shipping."""
    resolved = []
    for line in lines:
        entry = catalog.get(line.sku) if line.sku else None
        if line.requires_shipping is not None:
            kind = LineKind.PHYSICAL if line.requires_shipping else LineKind.DIGITAL
        elif entry is not None:
            kind = LineKind(entry.get("kind", LineKind.PHYSICAL.value))
        else:
            kind = LineKind.PHYSICAL
        resolved.append(replace(line, kind=kind, known=entry is not None))
    return tuple(resolved)


def payload_hash(order: Order) -> str:
    canonical = json.dumps(
        {
            "lines": [(ln.sku, ln.quantity, str(ln.unit_price)) for ln in order.lines],
            "address": asdict(order.shipping_address) if order.shipping_address else None,
            "customer": asdict(order.customer),
            "currency": order.currency,
            "payment": order.payment_status,
            "fill": order.fill_policy.value,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Intake:
    def __init__(
        self, settings: Settings, token_key: str, orders: OrderStore | None = None, catalog: CatalogStore | None = None
    ) -> None:
        self.settings = settings
        self.token_key = token_key
        self.orders = orders or OrderStore()
        self.catalog = catalog or CatalogStore()

    def accept(self, snapshot: Order, *, now: str) -> IntakeResult:
        order_id = order_id_for(snapshot.channel, snapshot.shop, snapshot.external_id)
        token = tokens.token_for(order_id, self.token_key)
        fingerprint = payload_hash(snapshot)
        order, entries = self._new_order(snapshot, order_id, token, fingerprint, now)
        try:
            self.orders.create(order, entries)
            return IntakeResult(order_id, aggregate(order).value, duplicate=False, created=True, access_token=token)
        except AlreadyExists:
            pass
        for _ in range(MAX_ATTEMPTS):
            existing = self.orders.get(order_id)
            if existing.channel is Channel.NATIVE and existing.payload_hash != fingerprint:
                raise Conflict(f"external_id {snapshot.external_id} was already used for a different order")
            change = transitions.apply_snapshot(
                existing, snapshot, now=now, allowed_payment_states=self.settings.allowed_payment_states
            )
            if change is None:
                return IntakeResult(
                    order_id, aggregate(existing).value, duplicate=True, created=False, access_token=token
                )
            updated, changes = change
            try:
                self.orders.save(updated, expected_version=existing.version, entries=changes)
                return IntakeResult(
                    order_id, aggregate(updated).value, duplicate=False, created=False, access_token=token
                )
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"order {order_id} kept changing while applying an update")

    def _new_order(
        self, snapshot: Order, order_id: str, token: str, fingerprint: str, now: str
    ) -> tuple[Order, list[Entry]]:
        lines = resolve_lines(snapshot.lines, self.catalog.lookup(line.sku for line in snapshot.lines if line.sku))
        order = replace(
            snapshot,
            order_id=order_id,
            lines=lines,
            created_at=now,
            updated_at=now,
            version=1,
            access_token_hash=tokens.token_hash(token),
            payload_hash=fingerprint,
        )
        entries = [
            Entry("received", {"channel": order.channel.value, "lines": len(lines)}, CustomerEvent.ORDER_RECEIVED)
        ]
        if order.cancelled:
            order, cancelled = transitions.cancel(
                replace(order, cancelled=False), reason=order.cancel_reason, by=order.channel.value
            )
            return order, entries + cancelled
        order, held = transitions.initial_holds(
            order, allowed_payment_states=self.settings.allowed_payment_states, rules=self.settings.fraud_rules
        )
        if any(line.needs_stock for line in order.lines):
            order = replace(order, reservation_state=WorkState.PENDING)
        return order, entries + held
