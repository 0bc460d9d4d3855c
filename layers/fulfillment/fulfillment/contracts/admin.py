"""Request bodies of the operator API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, StringConstraints, model_validator

from fulfillment.contracts.common import Contract
from fulfillment.domain.stock import SKU_PATTERN

Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]


FILENAME = r'^[^/\\"\x00-\x1f\x7f]+$'


class DigitalAsset(Contract):
    model_config = ConfigDict(extra="forbid")
    bucket_key: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    # What the customer's browser saves it as (default: the key's last part); no path, quote or control char.
    filename: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=FILENAME)] | None = None
    max_downloads: StrictInt = Field(default=5, ge=1, le=1000)  # per unit bought
    link_ttl_seconds: StrictInt = Field(default=7 * 24 * 3600, ge=5, le=365 * 24 * 3600)


class ReissueRequest(Contract):
    """POST /orders/{id}/downloads/{entitlement_id}/reissue (every field optional)."""

    model_config = ConfigDict(extra="forbid")
    downloads_remaining: StrictInt | None = Field(default=None, ge=1, le=100_000)
    link_ttl_seconds: StrictInt | None = Field(default=None, ge=5, le=365 * 24 * 3600)


class RevokeRequest(Contract):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class CatalogEntry(Contract):
    """PUT /catalog/{sku}."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["physical", "digital"]
    title: Annotated[str, StringConstraints(max_length=256)] | None = None
    reorder_point: StrictInt = Field(default=0, ge=0, le=10_000_000)
    returnable: bool = True  # false: final sale, returns answer 409 not_returnable
    digital: DigitalAsset | None = None
    dropship_location: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _digital_has_asset(self) -> CatalogEntry:
        if self.kind == "digital" and self.digital is None:
            raise ValueError("a digital SKU needs its digital asset (digital.bucket_key)")
        if self.kind == "digital" and self.dropship_location:
            raise ValueError("a digital SKU is not dropshipped")
        return self


AdjustmentReason = Literal["received", "restock", "write_off", "correction", "count"]


class StockLevel(Contract):
    """PUT /inventory/{sku}/{location}: set on-hand to a counted value (audited as reason `count`)."""

    model_config = ConfigDict(extra="forbid")
    on_hand: StrictInt = Field(ge=0, le=10_000_000)
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class Shards(Contract):
    """PUT /inventory/{sku}/{location}/shards: keep the level on this many items (a flash sale's SKU: each item
    takes ~500 reservations/s on AWS); 1 gathers it on one item again."""

    model_config = ConfigDict(extra="forbid")
    shards: StrictInt = Field(ge=1, le=32)


class Adjustment(Contract):
    """POST /inventory/{sku}/{location}/adjustments."""

    model_config = ConfigDict(extra="forbid")
    delta: StrictInt = Field(ge=-10_000_000, le=10_000_000)
    reason: AdjustmentReason
    note: Annotated[str, StringConstraints(max_length=500)] | None = None
    adjustment_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")] | None
    ) = None

    @model_validator(mode="after")
    def _sign_fits_reason(self) -> Adjustment:
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        if self.reason in ("received", "restock") and self.delta < 0:
            raise ValueError(f"{self.reason} adds stock: delta must be positive")
        if self.reason == "write_off" and self.delta > 0:
            raise ValueError("write_off removes stock: delta must be negative")
        return self


class CancelRequest(Contract):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None
