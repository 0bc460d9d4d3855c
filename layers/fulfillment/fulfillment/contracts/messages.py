"""Work messages between our own functions (SQS bodies). Every message has `type` and `version`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from fulfillment.contracts.common import Contract, adapter


class _Message(Contract):
    model_config = ConfigDict(extra="ignore", frozen=True)
    version: Literal[1] = 1


RESERVE_HINT_SKUS = 50  # an order with more SKUs is read first, as before


class ReserveOrder(_Message):
    type: Literal["reserve_order"] = "reserve_order"
    order_id: str = Field(min_length=1, max_length=64)
    # The SKUs the order reserves (the router says them): read with the order in one BatchGetItem. Optional: without
    # them, or when the order names others, the reservation reads the order first and then its stock.
    skus: tuple[Annotated[str, Field(min_length=1, max_length=128)], ...] = Field(
        default=(), max_length=RESERVE_HINT_SKUS
    )


class ReleaseOrder(_Message):
    type: Literal["release_order"] = "release_order"
    order_id: str = Field(min_length=1, max_length=64)


class AllocateBackorders(_Message):
    type: Literal["allocate_backorders"] = "allocate_backorders"
    sku: str = Field(min_length=1, max_length=64)


class RebalanceStock(_Message):
    """Spread a sharded level's available units over its items again (one ran dry, or units came back)."""

    type: Literal["rebalance_stock"] = "rebalance_stock"
    sku: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=64)


class ExpireUnpaid(_Message):
    type: Literal["expire_unpaid"] = "expire_unpaid"
    order_id: str = Field(min_length=1, max_length=64)


ReservationWork = Annotated[
    ReserveOrder | ReleaseOrder | AllocateBackorders | RebalanceStock | ExpireUnpaid, Field(discriminator="type")
]
RESERVATION_WORK: TypeAdapter[ReserveOrder | ReleaseOrder | AllocateBackorders | RebalanceStock | ExpireUnpaid] = (
    adapter(ReservationWork)
)


class DispatchOrder(_Message):
    type: Literal["dispatch_order"] = "dispatch_order"
    order_id: str = Field(min_length=1, max_length=64)


class CheckShipmentTimer(_Message):
    type: Literal["check_shipment_timer"] = "check_shipment_timer"
    shipment_id: str = Field(min_length=1, max_length=80)


class CancelOrderShipments(_Message):
    type: Literal["cancel_order_shipments"] = "cancel_order_shipments"
    order_id: str = Field(min_length=1, max_length=64)


class ExpectReturn(_Message):
    """A return was authorised: tell the provider of the location it goes back to (`return_expected`)."""

    type: Literal["expect_return"] = "expect_return"
    rma_id: str = Field(min_length=1, max_length=80)


DispatchWork = Annotated[
    DispatchOrder | CheckShipmentTimer | CancelOrderShipments | ExpectReturn, Field(discriminator="type")
]
DISPATCH_WORK: TypeAdapter[DispatchOrder | CheckShipmentTimer | CancelOrderShipments | ExpectReturn] = adapter(
    DispatchWork
)


class IssueDownloads(_Message):
    """An order has digital lines that are paid and free of holds: grant their entitlements."""

    type: Literal["issue_downloads"] = "issue_downloads"
    order_id: str = Field(min_length=1, max_length=64)


class RevokeDownloads(_Message):
    """An order with issued downloads was cancelled: its links stop working."""

    type: Literal["revoke_downloads"] = "revoke_downloads"
    order_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="order_cancelled", max_length=64)


DigitalWork = Annotated[IssueDownloads | RevokeDownloads, Field(discriminator="type")]
DIGITAL_WORK: TypeAdapter[IssueDownloads | RevokeDownloads] = adapter(DigitalWork)
