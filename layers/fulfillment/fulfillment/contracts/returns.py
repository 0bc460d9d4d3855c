"""Request bodies of returns (POST /orders/{id}/returns, /returns/{rma_id}/...); their view is views.rma_view."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, StringConstraints

from fulfillment.contracts.common import Contract

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
