"""RMA items (PK ORDER#order, SK ORDER#RMA#rma_id): in the order's partition, after its detail, so the order view
reads them with everything else and the order's state read never does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fulfillment import keys
from fulfillment.domain.returns import Rma, RmaLine, RmaStatus

Item = dict[str, Any]


def to_item(rma: Rma) -> Item:
    item: Item = {
        **keys.rma_key(rma.rma_id),
        "type": "rma",
        "rma_id": rma.rma_id,
        "order_id": rma.order_id,
        "status": rma.status.value,
        "lines": [
            {
                "line_no": line.line_no,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                **({"reason": line.reason} if line.reason else {}),
                "received": dict(line.received),
            }
            for line in rma.lines
        ],
        "location": rma.location,
        "provider": rma.provider,
        "currency": rma.currency,
        "created_at": rma.created_at,
        "updated_at": rma.updated_at,
        "requested_by": rma.requested_by,
        "receipts": rma.receipts,
        "refund_due": str(rma.refund_due),
        "restocking_fee_percent": str(rma.restocking_fee_percent),
        "version": rma.version,
    }
    if rma.note:
        item["note"] = rma.note
    if rma.idempotency_key:
        item["idempotency_key"] = rma.idempotency_key
    return item


def from_item(item: Item) -> Rma:
    return Rma(
        rma_id=item["rma_id"],
        order_id=item["order_id"],
        status=RmaStatus(item["status"]),
        lines=tuple(
            RmaLine(
                line_no=int(line["line_no"]),
                sku=line["sku"],
                quantity=int(line["quantity"]),
                unit_price=Decimal(str(line.get("unit_price", "0"))),
                reason=line.get("reason"),
                received={k: int(v) for k, v in (line.get("received") or {}).items()},
            )
            for line in item["lines"]
        ),
        location=item["location"],
        provider=item["provider"],
        currency=item.get("currency", ""),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        note=item.get("note"),
        requested_by=item.get("requested_by", "customer"),
        idempotency_key=item.get("idempotency_key"),
        receipts=int(item.get("receipts", 0)),
        refund_due=Decimal(str(item.get("refund_due", "0"))),
        restocking_fee_percent=Decimal(str(item.get("restocking_fee_percent", "0"))),
        version=int(item.get("version", 1)),
    )


def is_rma(item: Item) -> bool:
    return str(item.get("SK", "")).startswith(keys.RMA_PREFIX)
