"""What every service shares: typed outcomes, the clock, and the one "apply exactly once" loop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from fulfillment.domain.shipments import Shipment
from fulfillment.errors import ConcurrentModification, FulfillmentError, NotFound
from fulfillment.services.ports import Store, UnitOfWork

T = TypeVar("T")
MAX_ATTEMPTS = 12


class Outcome(StrEnum):
    """What a step did, for logs and metrics (never compared as free text)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # the message was applied before
    NOTHING_TO_DO = "nothing to do"
    RESERVED = "reserved"
    RESERVED_CHUNK = "reserved a chunk"
    KILLED = "killed"  # fill_or_kill could not be filled
    RELEASED = "released"
    RELEASED_CHUNK = "released a chunk"
    EXPIRED = "expired"
    NOT_YET = "not yet"
    RESENT = "re-sent"
    CANCELLATION_RESENT = "cancellation re-sent"
    HELD = "held"
    DELAYED = "delayed"
    REARMED = "re-armed"
    NOT_DUE = "not due"
    TIMER_CLEARED = "timer cleared"
    KEPT_FOR_LATER = "kept for later"
    UNMATCHED = "unmatched"
    RECORDED = "recorded"


class ShipmentNotFound(NotFound):
    code = "shipment_not_found"


class NotOwner(FulfillmentError):
    code, status = "not_owner", 403


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def apply_once(
    store: Store,
    step: Callable[[UnitOfWork], T],
    *,
    what: str,
    retry_on: tuple[type[Exception], ...] = (ConcurrentModification,),
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """Load -> decide -> commit, again from a fresh read when someone else changed what we read.

    A write whose marker exists (the message was applied before, by us or a concurrent copy) raises
    `AlreadyApplied`: the caller that wrote a marker decides what a duplicate means.
    """
    for _ in range(attempts):
        uow = store.unit()
        result = step(uow)
        try:
            uow.commit()
        except retry_on:
            continue
        return result
    raise ConcurrentModification(f"{what}: still contended after {attempts} attempts, retry later")


def require(shipment: Shipment | None, shipment_id: str) -> Shipment:
    if shipment is None:
        raise ShipmentNotFound(f"no shipment {shipment_id}")
    return shipment
