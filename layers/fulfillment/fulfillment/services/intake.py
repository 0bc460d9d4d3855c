"""Order intake: store each storefront order exactly once and apply later snapshots in order.

The order id derives from the business key (channel, shop, external id), so every delivery of one order
addresses one item, and a conditional put decides which delivery creates it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from fulfillment import tokens
from fulfillment.config import Settings
from fulfillment.domain import holds
from fulfillment.domain.events import CustomerEvent, Entry
from fulfillment.domain.model import Channel, Line, LineKind, Order, is_newer, order_id_for
from fulfillment.domain.stock import CatalogItem, is_catalog_sku
from fulfillment.errors import AlreadyExists, Conflict, OrderNotFound
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import apply_once


@dataclass(frozen=True)
class IntakeResult:
    order_id: str
    status: str
    duplicate: bool
    created: bool
    access_token: str

    def body(self, *, include_token: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"order_id": self.order_id, "status": self.status, "duplicate": self.duplicate}
        if include_token:
            body["access_token"] = self.access_token
        return body


def resolve_lines(lines: tuple[Line, ...], catalog: dict[str, CatalogItem]) -> tuple[Line, ...]:
    """The catalog decides what a SKU is; a storefront's requires_shipping flag decides shipping."""
    resolved = []
    for line in lines:
        entry = catalog.get(line.sku) if line.sku else None
        if line.requires_shipping is not None:
            kind = LineKind.PHYSICAL if line.requires_shipping else LineKind.DIGITAL
        elif entry is not None:
            kind = LineKind(entry.kind)
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


def apply_snapshot(
    existing: Order, snapshot: Order, *, now: str, allowed_payment_states: frozenset[str]
) -> Order | None:
    """A later storefront snapshot of a stored order (orders/paid, orders/cancelled, order.updated).

    None means nothing to apply: a redelivery, or an older snapshot arriving late.
    """
    if not is_newer(snapshot.source_updated_at, existing.source_updated_at):
        return None
    order = replace(existing.begin(now), source_updated_at=snapshot.source_updated_at)
    if existing.cancelled:
        return order
    if snapshot.payment_status != existing.payment_status:
        order = replace(order, payment_status=snapshot.payment_status).record(
            Entry("payment_updated", {"from": existing.payment_status, "to": snapshot.payment_status})
        )
        order = order.reevaluate_payment(allowed_payment_states)
    if snapshot.cancelled:
        return order.cancel(reason=snapshot.cancel_reason or "storefront", by=str(snapshot.channel))
    if snapshot.shipping_address != existing.shipping_address:
        order = replace(order, shipping_address=snapshot.shipping_address).record(Entry("address_updated", {}))
        order = order.reevaluate_address(holds.address_problems(order.shipping_address))
    return order


class Intake:
    def __init__(self, settings: Settings, token_key: str, store: Store) -> None:
        self.settings = settings
        self.token_key = token_key
        self.store = store

    def accept(self, snapshot: Order, *, now: str, platform_id: str | None = None) -> IntakeResult:
        """Store a new order, or apply a later snapshot of a stored one. `platform_id` (the storefront's own global
        id of the order) is claimed with a new order when the signature did not prove its shop (fulfillment.shops):
        taken by an order of another shop, the request is refused with OrderOfAnotherShop and nothing is stored."""
        order_id = order_id_for(snapshot.channel, snapshot.shop, snapshot.external_id)
        token = tokens.token_for(order_id, self.token_key)
        fingerprint = payload_hash(snapshot)
        skus = {line.sku for line in snapshot.lines if line.sku and is_catalog_sku(line.sku)}
        stored, catalog = self.store.intake_context(order_id, skus)
        if not stored:  # a new order, unless another delivery creates it first: the conditional put decides
            order = self._new_order(snapshot, order_id, token, fingerprint, now, catalog)
            uow = self.store.unit()
            uow.add_order(order)
            if platform_id is not None:
                uow.claim_platform_id(order, platform_id)
            try:
                uow.commit()
                return IntakeResult(order_id, order.status.value, duplicate=False, created=True, access_token=token)
            except AlreadyExists:
                pass

        def step(uow: UnitOfWork) -> IntakeResult:
            existing = self.store.order(order_id)
            if existing is None:
                raise OrderNotFound(f"order {order_id} vanished")
            if existing.channel is Channel.NATIVE and existing.payload_hash != fingerprint:
                raise Conflict(f"external_id {snapshot.external_id} was already used for a different order")
            updated = apply_snapshot(
                existing, snapshot, now=now, allowed_payment_states=self.settings.allowed_payment_states
            )
            if updated is None:
                return IntakeResult(order_id, existing.status.value, duplicate=True, created=False, access_token=token)
            address_changed = updated.shipping_address != existing.shipping_address
            uow.save_order(updated, expected_version=existing.version, with_detail=address_changed)
            return IntakeResult(order_id, updated.status.value, duplicate=False, created=False, access_token=token)

        return apply_once(self.store, step, what=f"order {order_id}")

    def _new_order(
        self, snapshot: Order, order_id: str, token: str, fingerprint: str, now: str, catalog: dict[str, CatalogItem]
    ) -> Order:
        lines = resolve_lines(snapshot.lines, catalog)
        order = replace(
            snapshot,
            order_id=order_id,
            lines=lines,
            created_at=now,
            updated_at=now,
            version=1,
            access_token_hash=tokens.token_hash(token),
            payload_hash=fingerprint,
        ).record(
            Entry("received", {"channel": snapshot.channel.value, "lines": len(lines)}, CustomerEvent.ORDER_RECEIVED)
        )
        if snapshot.cancelled:
            return replace(order, cancelled=False).cancel(reason=snapshot.cancel_reason, by=snapshot.channel.value)
        if not lines:  # every line was removed (quantity 0): nothing will ever be fulfilled, so it is closed now
            return order.cancel(reason="nothing_to_fulfil", by=snapshot.channel.value)
        order = order.place_holds(
            holds.evaluate(
                order, allowed_payment_states=self.settings.allowed_payment_states, rules=self.settings.fraud_rules
            )
        )
        return order.request_stock()
