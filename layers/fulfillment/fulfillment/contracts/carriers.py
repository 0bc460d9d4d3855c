"""Carrier tracking webhooks (EasyPost tracker.updated, AfterShip tracking_update), normalised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import datetime as DateTime
from typing import Annotated

from pydantic import ConfigDict, Field

from fulfillment.contracts.common import Contract, EpochSeconds, Reference, Text
from fulfillment.domain.shipments import AFTERSHIP_TAG, EASYPOST_STATUS, ShipmentStatus, carrier_code


@dataclass(frozen=True)
class CarrierUpdate:
    source: str  # easypost | aftership
    event_id: str  # the webhook event's own id: duplicates are no-ops
    carrier: str
    tracking_number: str
    status: ShipmentStatus | None  # None: informational, recorded only
    raw_status: str
    occurred_at: str
    description: str | None
    location: str | None
    est_delivery: str | None


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat(
        timespec="microseconds"
    )


Short = Annotated[str, Field(max_length=64)]  # statuses, tags, event names
EventId = Annotated[str, Field(min_length=1, max_length=256)]  # hashed into keys: its length is only a limit


class _Lenient(Contract):
    model_config = ConfigDict(extra="ignore")


class EasyPostLocation(_Lenient):
    city: Text = None
    state: Text = None
    country: Text = None


class EasyPostDetail(_Lenient):
    datetime: DateTime | None = None
    status: Short | None = None
    message: Text = None
    tracking_location: EasyPostLocation | None = None


class EasyPostTracker(_Lenient):
    tracking_code: Reference
    carrier: Reference
    status: Short
    est_delivery_date: datetime | None = None
    updated_at: datetime | None = None
    tracking_details: list[EasyPostDetail] = Field(default=[], max_length=1000)


class EasyPostEvent(_Lenient):
    id: EventId
    description: Short
    result: EasyPostTracker
    updated_at: datetime | None = None

    def normalise(self) -> CarrierUpdate:
        tracker = self.result
        last = tracker.tracking_details[-1] if tracker.tracking_details else None
        where = None
        if last and last.tracking_location:
            where = (
                ", ".join(
                    p
                    for p in (last.tracking_location.city, last.tracking_location.state, last.tracking_location.country)
                    if p
                )
                or None
            )
        occurred = (last.datetime if last and last.datetime else None) or tracker.updated_at or self.updated_at
        return CarrierUpdate(
            source="easypost",
            event_id=self.id,
            carrier=carrier_code(tracker.carrier),
            tracking_number=tracker.tracking_code,
            status=EASYPOST_STATUS.get(tracker.status),
            raw_status=tracker.status,
            occurred_at=_iso(occurred) or "",
            description=last.message if last else None,
            location=where,
            est_delivery=_iso(tracker.est_delivery_date),
        )


class AfterShipCheckpoint(_Lenient):
    checkpoint_time: datetime | None = None
    message: Text = None
    location: Text = None
    city: Text = None
    tag: Short | None = None


class AfterShipTracking(_Lenient):
    tracking_number: Reference
    slug: Reference
    tag: Short
    expected_delivery: datetime | None = None
    checkpoints: list[AfterShipCheckpoint] = Field(default=[], max_length=1000)


class AfterShipEvent(_Lenient):
    event_id: EventId
    event: Short
    ts: EpochSeconds | None = None
    msg: AfterShipTracking

    def normalise(self) -> CarrierUpdate:
        tracking = self.msg
        last = tracking.checkpoints[-1] if tracking.checkpoints else None
        occurred = (
            last.checkpoint_time
            if last and last.checkpoint_time
            else (datetime.fromtimestamp(self.ts, UTC) if self.ts else None)
        )
        return CarrierUpdate(
            source="aftership",
            event_id=self.event_id,
            carrier=carrier_code(tracking.slug),
            tracking_number=tracking.tracking_number,
            status=AFTERSHIP_TAG.get(tracking.tag),
            raw_status=tracking.tag,
            occurred_at=_iso(occurred) or "",
            description=last.message if last else None,
            location=(last.location or last.city) if last else None,
            est_delivery=_iso(tracking.expected_delivery),
        )
