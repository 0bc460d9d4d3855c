"""What providers, carriers and the in-house warehouse say about shipments, applied exactly once each.

A message that changes what is owed (accepted, shipped, delivered, rejected, ...) is one write of the shipment
(with its order when the order changes) that remembers the message; the event router turns it into the shipment's
event item keyed by (source, message id). A scan that only says where a parcel on its way is (in transit, out for
delivery, ...) is that event item alone, written once by its key: no read of the shipment, no write of it. A
redelivered message finds itself remembered, or its item there, and changes nothing (DUPLICATE).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from typing import Any

from fulfillment.config import Settings
from fulfillment.contracts import provider as p
from fulfillment.contracts.carriers import CarrierUpdate
from fulfillment.domain import progress
from fulfillment.domain.events import Entry
from fulfillment.domain.model import Order
from fulfillment.domain.shipments import (
    KeptUpdates,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    carrier_code,
    message_token,
    scan_only,
)
from fulfillment.errors import AlreadyApplied, OrderCancelled, OrderNotFound
from fulfillment.services.dispatch import save
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import NotOwner, Outcome, apply_once, require, utc_now

S = ShipmentStatus
Decide = Callable[[Order, Shipment], progress.Change]


class Tracking:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    # ------------------------------------------------------------------ the one way a message changes a shipment
    def apply(
        self,
        event: ShipmentEvent,
        decide: Decide | None,
        *,
        provider: str | None = None,
        track: Callable[[Shipment], progress.Change] | None = None,
        claims: tuple[str, str] | None = None,
        kept: list[KeptUpdates] | None = None,
    ) -> Outcome:
        """Apply `event`'s decision once and record it. `decide` needs the order; `track` only the shipment.
        `claims`: the (carrier, tracking number) the decision points at the shipment; the carrier updates kept
        for it are read with the shipment and put in `kept` (duplicates included: theirs may never have been
        replayed).

        The shipment remembers the tokens of its last messages and is written at the version read, so a copy of a
        message (redelivered, or racing itself) finds its token and changes nothing; one older than the window is
        looked up as an event item. The event item itself is written by the event router from the shipment write:
        a carrier scan costs one conditional write of one item.
        """
        token = message_token(event.source, event.message_id)

        def step(uow: UnitOfWork) -> Outcome:
            waiting = KeptUpdates()
            if claims is not None:
                found, order, waiting = self.store.shipped_context(event.shipment_id, *claims)
                if kept is not None:
                    kept[:] = [waiting]
            elif decide is not None:
                found, order = self.store.shipment_and_order(event.shipment_id)
            else:
                found, order = self.store.shipment(event.shipment_id), None
            shipment = require(found, event.shipment_id)
            if provider is not None and shipment.provider != provider:
                raise NotOwner(f"provider {provider} does not fulfil shipment {event.shipment_id}")
            if shipment.has_heard(token) or (
                shipment.may_have_forgotten and self.store.has_event(event.shipment_id, event.source, event.message_id)
            ):
                raise AlreadyApplied(f"{event.source} message {event.message_id[:80]} was applied")
            now = utc_now()
            if decide is not None:
                if order is None:
                    raise OrderNotFound(f"no order for {event.shipment_id}")
                change = decide(order.begin(now), shipment)
            elif track is not None:
                change = track(shipment)
            else:
                change = progress.Change(shipment)
            effective = (
                change.shipment != shipment
                or change.order is not None
                or bool(change.shipment_entries or change.moves or change.tracking)
            )
            if not effective:  # history only (a 3PL's `delivered` after the carrier's): its event item, nothing else
                return Outcome.RECORDED
            remembered = replace(change, shipment=change.shipment.hear(token, max(event.at, now)))
            save(uow, shipment, remembered, order, heard=replace(event, recorded_at=now), kept=waiting.count)
            return Outcome.APPLIED

        try:
            outcome = apply_once(self.store, step, what=f"shipment {event.shipment_id}")
        except AlreadyApplied:
            return Outcome.DUPLICATE
        if outcome is Outcome.RECORDED and self.record(event) is Outcome.DUPLICATE:
            return Outcome.DUPLICATE
        return outcome

    def record(self, event: ShipmentEvent) -> Outcome:
        """A scan that only says where the parcel is: its event item, written once by its key (source, message id)
        and nothing else - one conditional write, no read. Views and the delay check read the parcel's whereabouts
        from the shipment and these items (`Shipment.with_scans`)."""
        if self.store.record_event(replace(event, recorded_at=utc_now())):
            return Outcome.APPLIED  # its effect is its record: where the parcel is
        return Outcome.DUPLICATE

    def _scanned(
        self, status: ShipmentStatus | None, at: str, est_delivery: str | None
    ) -> Callable[[Shipment], progress.Change]:
        """A report that changes the shipment item (returned to sender; any scan before it shipped), judged against
        where the parcel is: the item moved by the scans recorded beside it (one Query; such reports are rare)."""

        def track(shipment: Shipment) -> progress.Change:
            if shipment.before_shipping:
                return progress.Change(shipment.track(status, at, est_delivery))
            scanned = shipment.with_scans(self.store.shipment_events(shipment.shipment_id))
            return progress.Change(scanned.track(status, at, est_delivery))

        return track

    def _tracks(self, shipment: Shipment) -> bool:
        return self.settings.tracks_stock(shipment.location)

    def _arm(self, shipment: Shipment) -> Shipment:
        """The delay timer, armed when a parcel leaves. Scans do not move it (that would rewrite the shipment and its
        index entry at every scan): when it is due, the timer looks at the last scan and re-arms if there was one."""
        return shipment.arm_delay_timer(utc_now(), self.settings.delay_after_seconds)

    # ------------------------------------------------------------------ provider messages (shared inbound queue)
    def provider_message(self, message: p.Inbound) -> Outcome:
        if isinstance(message, p.InventorySnapshot | p.ReturnReceived):
            raise TypeError("not a shipment message")
        at = p.iso(message.sent_at)
        event = ShipmentEvent(message.shipment_id, message.provider, message.message_id, at, message.type, {})
        provider = message.provider
        match message:
            case p.Accepted():
                return self.apply(
                    replace(event, type="accepted"),
                    None,
                    provider=provider,
                    track=lambda s: progress.Change(s.accept(at)),
                )
            case p.Rejected():
                ev = replace(event, type="rejected", detail={"reason": message.reason, "message": message.message})
                return self.apply(
                    ev,
                    lambda o, s: progress.reject(
                        o, s, message.reason, message.message, at, tracks_stock=self._tracks(s)
                    ),
                    provider=provider,
                )
            case p.Shipped():
                lines = [(ln.sku, ln.quantity) for ln in message.lines] if message.lines is not None else None
                return self.shipped(
                    event,
                    carrier_code(message.carrier),
                    message.tracking_number,
                    p.iso(message.shipped_at),
                    lines,
                    provider=provider,
                )
            case p.Tracking():
                occurred = p.iso(message.occurred_at)
                ev = replace(
                    event,
                    type="tracking",
                    at=occurred,
                    detail={
                        "status": message.status.value,
                        "description": message.description,
                        "location": message.location,
                    },
                )
                if message.status is S.DELIVERED:
                    return self.apply(
                        ev,
                        lambda o, s: progress.deliver(o, s, occurred, tracks_stock=self._tracks(s)),
                        provider=provider,
                    )
                if scan_only(message.status):
                    shipment = require(self.store.shipment(message.shipment_id), message.shipment_id)
                    if shipment.provider != provider:
                        raise NotOwner(f"provider {provider} does not fulfil shipment {message.shipment_id}")
                    if not shipment.before_shipping:  # before its `shipped`, a scan moves the item, as it always did
                        return self.record(ev)
                return self.apply(ev, None, provider=provider, track=self._scanned(message.status, occurred, None))
            case p.Delivered():
                delivered_at = p.iso(message.delivered_at)
                return self.apply(
                    replace(event, type="delivered", at=delivered_at),
                    lambda o, s: progress.deliver(o, s, delivered_at, tracks_stock=self._tracks(s)),
                    provider=provider,
                )
            case p.CancellationAccepted():
                return self.apply(
                    replace(event, type="cancellation_accepted"),
                    lambda o, s: progress.cancel(o, s, "provider accepted the cancellation", at),
                    provider=provider,
                )
            case p.CancellationRejected():
                ev = replace(event, type="cancellation_rejected", detail={"message": message.message})
                entry = Entry("cancellation_rejected", {"shipment_id": message.shipment_id, "message": message.message})
                return self.apply(
                    ev, None, provider=provider, track=lambda s: progress.Change(s, shipment_entries=(entry,))
                )
        raise TypeError(f"unhandled message type {message.type}")

    def shipped(
        self,
        event: ShipmentEvent,
        carrier: str,
        tracking_number: str,
        shipped_at: str,
        lines: list[tuple[str, int]] | None,
        *,
        provider: str | None = None,
        refuse_if_cancelled: bool = False,
    ) -> Outcome:
        ev = replace(
            event, type="shipped", at=shipped_at, detail={"carrier": carrier, "tracking_number": tracking_number}
        )

        def decide(order: Order, shipment: Shipment) -> progress.Change:
            if refuse_if_cancelled and (order.cancelled or not shipment.active):
                raise OrderCancelled(
                    f"shipment {shipment.shipment_id} is {shipment.status.value}: the order was cancelled"
                )
            if not shipment.active:  # shipped after it was cancelled or rejected: history only
                return progress.Change(shipment)
            change = progress.ship(
                order,
                shipment,
                shipment.units_to_ship(lines),
                carrier,
                tracking_number,
                shipped_at,
                tracks_stock=self._tracks(shipment),
            )
            return replace(change, shipment=self._arm(change.shipment))

        kept: list[KeptUpdates] = []
        outcome = self.apply(ev, decide, provider=provider, claims=(carrier, tracking_number), kept=kept)
        if kept and kept[0].updates:
            self.replay(kept[0].updates, event.shipment_id)
        return outcome

    # ------------------------------------------------------------------ carriers (EasyPost, AfterShip)
    def carrier_update(self, update: CarrierUpdate, *, keep_if_unknown: bool = False) -> Outcome:
        """Apply a carrier's update to the shipment with that (carrier, tracking number).

        With `keep_if_unknown`, an update for a number not known yet (the carrier can be faster than the 3PL's
        shipment.shipped) is kept on the number's pointer item, in a write that fails once a shipment claims the
        number (and then names it). The `shipped` that claims it reads what was kept and commits only if nothing
        was kept since, so whichever side comes second applies the update; remembering it makes twice a no-op.
        """
        shipment_id = self.store.by_tracking(update.carrier, update.tracking_number)
        if shipment_id is None and keep_if_unknown:
            shipment_id = self.store.keep_early(
                update.carrier, update.tracking_number, update.event_id, _update_item(update)
            )
            if shipment_id is None:
                return Outcome.KEPT_FOR_LATER
        if shipment_id is None:
            return Outcome.UNMATCHED
        return self._apply_update(update, shipment_id)

    def _apply_update(self, update: CarrierUpdate, shipment_id: str) -> Outcome:
        event = ShipmentEvent(
            shipment_id,
            update.source,
            update.event_id,
            update.occurred_at,
            "tracking",
            {
                "status": update.status.value if update.status else update.raw_status or "info",
                "description": update.description,
                "location": update.location,
            },
        )
        status = update.status
        if status is S.DELIVERED:
            return self.apply(
                event, lambda o, s: progress.deliver(o, s, update.occurred_at, tracks_stock=self._tracks(s))
            )
        if scan_only(status):  # a number is claimed when its parcel ships: the shipment is on its way
            return self.record(
                replace(
                    event, detail=event.detail | ({"est_delivery": update.est_delivery} if update.est_delivery else {})
                )
            )
        return self.apply(event, None, track=self._scanned(status, update.occurred_at, update.est_delivery))

    def replay(self, kept: Iterable[dict[str, Any]], shipment_id: str) -> int:
        """Apply carrier updates kept before their number was known, oldest first. Returns how many applied."""
        applied = 0
        for item in sorted(kept, key=lambda u: str(u["occurred_at"])):
            update = CarrierUpdate(**{**item, "status": ShipmentStatus(item["status"]) if item.get("status") else None})
            if self._apply_update(update, shipment_id) is not Outcome.DUPLICATE:
                applied += 1
        return applied


def _update_item(update: CarrierUpdate) -> dict[str, Any]:
    return asdict(update) | {"status": update.status.value if update.status else None}
