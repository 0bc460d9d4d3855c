"""Request bodies and views of returns (POST /orders/{id}/returns, /returns/{rma_id}/...)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictInt, StringConstraints

from fulfillment.contracts.common import Contract
from fulfillment.domain.returns import Rma

Text = Annotated[str, StringConstraints(max_length=500)]


class ReturnLine(Contract):
    model_config = ConfigDict(extra="forbid")
    line_no: StrictInt = Field(ge=1)
    quantity: StrictInt = Field(ge=1, le=10_000)
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class ReturnRequest(Contract):
    model_config = ConfigDict(extra="forbid")
    lines: list[ReturnLine] = Field(min_length=1, max_length=100)
    note: Text | None = None


class ReceivedLine(Contract):
    model_config = ConfigDict(extra="forbid")
    line_no: StrictInt = Field(ge=1)
    quantity: StrictInt = Field(ge=1, le=10_000)
    disposition: Literal["restock", "damaged", "missing"]


class ReceiveRequest(Contract):
    model_config = ConfigDict(extra="forbid")
    lines: list[ReceivedLine] = Field(min_length=1, max_length=100)


class RejectRequest(Contract):
    model_config = ConfigDict(extra="forbid")
    reason: Text | None = None


def rma_view(rma: Rma) -> dict[str, Any]:
    """An RMA as the API answers it and the order view lists it."""
    return {
        "rma_id": rma.rma_id,
        "order_id": rma.order_id,
        "status": rma.status.value,
        "lines": [
            {
                "line_no": line.line_no,
                "sku": line.sku,
                "quantity": line.quantity,
                "received": line.received_units,
                "disposition": dict(line.received),
                **({"reason": line.reason} if line.reason else {}),
            }
            for line in rma.lines
        ],
        "return_to": {"location": rma.location},
        "refund_due": str(rma.refund_due),
        "currency": rma.currency,
        "created_at": rma.created_at,
        "updated_at": rma.updated_at,
    }
