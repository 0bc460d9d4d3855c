"""Shipment timers (acknowledgement timeouts, cancellation re-sends, delays) and the sweep for stalled work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel

from fulfillment.adapters.store import DynamoStore
from fulfillment.config import Settings
from fulfillment.contracts.messages import CheckShipmentTimer
from fulfillment.domain import progress
from fulfillment.domain.events import Entry
from fulfillment.domain.shipments import TERMINAL, Shipment, ShipmentStatus, plus
from fulfillment.services.dispatch import Dispatch, cancellation_request, fulfillment_request, save
from fulfillment.services.ports import UnitOfWork
from fulfillment.services.unit import Outcome, apply_once, require, utc_now

S = ShipmentStatus


class Timers:
    def __init__(self, settings: Settings, dispatch: Dispatch) -> None:
        self.settings = settings
        self.dispatch = dispatch
        self.store = dispatch.store

    def check(self, shipment_id: str) -> Outcome:
        """A shipment's timer is due: re-send an unanswered request, hold the order, or flag a delay."""
        shipment = require(self.store.shipment(shipment_id), shipment_id)
        now = utc_now()
        if shipment.timer_due is None or shipment.timer_due > now:
            return Outcome.NOT_DUE
        max_attempts = self.settings.max_submit_attempts
        if shipment.cancel_requested and shipment.status in (S.SUBMITTED, S.ACCEPTED):
            if shipment.attempts >= max_attempts + 3:
                entry = Entry(
                    "cancellation_unanswered", {"shipment_id": shipment.shipment_id, "provider": shipment.provider}
                )
                return self._save(
                    shipment_id,
                    lambda s: progress.Change(replace(s, timer_due=None), shipment_entries=(entry,)),
                    Outcome.TIMER_CLEARED,
                )
            self.dispatch.send(shipment.provider, cancellation_request(shipment))
            return self._save(
                shipment_id, lambda s: s.resent(now, self.settings.ack_timeout_seconds), Outcome.CANCELLATION_RESENT
            )
        if shipment.status is S.SUBMITTED:
            if shipment.attempts >= max_attempts:
                self.dispatch.change(shipment_id, progress.unresponsive)
                return Outcome.HELD
            order = self.store.order(shipment.order_id)
            if order is None or order.cancelled:
                return self._save(shipment_id, lambda s: replace(s, timer_due=None), Outcome.TIMER_CLEARED)
            self.dispatch.send(shipment.provider, fulfillment_request(order, shipment, now))
            return self._save(shipment_id, lambda s: s.resent(now, self.settings.ack_timeout_seconds), Outcome.RESENT)
        if shipment.status not in TERMINAL and not shipment.before_shipping and not shipment.delay_notified:
            # Scans are event items of their own (the shipment item is not written for them): when we last heard
            # of the parcel, and when the carrier expects it, are the shipment's with its scans. Read only when due.
            tracked = shipment.with_scans(self.store.shipment_events(shipment_id))
            heard = max(filter(None, (tracked.heard_at, tracked.last_scan_at)), default="")
            due = plus(heard, self.settings.delay_after_seconds) if heard else now
            if tracked.est_delivery:
                due = min(due, tracked.est_delivery)
            if due > now:
                return self._save(shipment_id, lambda s: replace(s, timer_due=due), Outcome.REARMED)
            return self._save(
                shipment_id,
                lambda s: progress.delayed(replace(s, last_scan_at=heard or None, est_delivery=tracked.est_delivery)),
                Outcome.DELAYED,
            )
        return self._save(shipment_id, lambda s: replace(s, timer_due=None), Outcome.TIMER_CLEARED)

    def _save(
        self, shipment_id: str, decide: Callable[[Shipment], Shipment | progress.Change], outcome: Outcome
    ) -> Outcome:
        """Change the shipment alone, conditional on the version read."""

        def step(uow: UnitOfWork) -> Outcome:
            shipment = require(self.store.shipment(shipment_id), shipment_id)
            result = decide(shipment)
            change = result if isinstance(result, progress.Change) else progress.Change(result)
            save(uow, shipment, change)
            return outcome

        return apply_once(self.store, step, what=f"timer of {shipment_id}")


BACKLOG_FLOOR = 100


def behind(due: int, queued: int) -> bool:
    """Back-pressure for timer checks: the dispatch queue already holds more than twice the due checks (and more
    than a small floor), so the consumer is behind and re-queuing the same timers every run would snowball."""
    return queued > max(BACKLOG_FLOOR, 2 * due)


def due(settings: Settings, store: DynamoStore, now: datetime) -> list[tuple[str, BaseModel]]:
    return [
        (str(settings.dispatch_queue_url), CheckShipmentTimer(shipment_id=s))
        for s in store.due(now.isoformat(timespec="microseconds"))
    ]


__all__ = ["Timers", "due", "utc_now"]
