"""A minimal 3PL for integration tests: builds inbound messages exactly as the contract says."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import get_args

from fulfillment.contracts import provider as contract

_ids = itertools.count(1)
BASE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


def message(
    kind: str, provider: str = "tpl-east", *, sent_minute: int = 0, message_id: str | None = None, **fields
) -> dict:
    return {
        "type": kind,
        "version": 1,
        "message_id": message_id or f"m-{next(_ids)}",
        "provider": provider,
        "sent_at": at(sent_minute),
        **fields,
    }


def accepted(shipment_id: str, **kw) -> dict:
    return message("fulfillment_request.accepted", shipment_id=shipment_id, **kw)


def rejected(shipment_id: str, reason: str, **kw) -> dict:
    return message("fulfillment_request.rejected", shipment_id=shipment_id, reason=reason, message="from test", **kw)


def shipped(shipment_id: str, tracking_number: str, carrier: str = "usps", minute: int = 10, lines=None, **kw) -> dict:
    body = message(
        "shipment.shipped",
        shipment_id=shipment_id,
        carrier=carrier,
        tracking_number=tracking_number,
        shipped_at=at(minute),
        **kw,
    )
    if lines is not None:
        body["lines"] = lines
    return body


def tracking(shipment_id: str, status: str, minute: int, **kw) -> dict:
    return message(
        "shipment.tracking",
        shipment_id=shipment_id,
        status=status,
        occurred_at=at(minute),
        description=f"{status} scan",
        **kw,
    )


def delivered(shipment_id: str, minute: int = 100, **kw) -> dict:
    return message("shipment.delivered", shipment_id=shipment_id, delivered_at=at(minute), **kw)


def minutes_ago(minutes: int) -> int:
    """A `minute` argument that means "that long before now" (return windows count from real delivery times)."""
    return int((datetime.now(UTC) - BASE).total_seconds() // 60) - minutes


def return_received(rma_id: str, lines: list[tuple[str, int, str]], **kw) -> dict:
    return message(
        "return.received",
        rma_id=rma_id,
        lines=[{"sku": sku, "quantity": quantity, "disposition": disposition} for sku, quantity, disposition in lines],
        received_at=datetime.now(UTC).isoformat(),
        **kw,
    )


def inbound_fields() -> list[str]:
    """Every field name of every inbound message type (the contract's), for generated messages."""
    return sorted({name for model in get_args(contract.Inbound) for name in model.model_fields})
