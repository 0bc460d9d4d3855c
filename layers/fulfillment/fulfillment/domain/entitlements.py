"""Download entitlements: the right to download a digital line's file, a limited number of times, until a date.

One entitlement per digital line, granted once when the line is paid and the order has no hold. A link names the
entitlement and its `link_version`; reissuing bumps the version (old links answer `revoked`). What a click may do
is decided by one conditional update (`adapters.codecs.entitlement.take_download`) whose condition is
`Entitlement.refusal` written as a DynamoDB expression; this module is the same rule for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fulfillment import keys

DEFAULT_MAX_DOWNLOADS = 5
DEFAULT_LINK_TTL_SECONDS = 7 * 24 * 3600


class DownloadStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    REVOKED = "revoked"


class Refusal(StrEnum):
    """Why an authentic link does not work (410). Precedence: revoked > expired > exhausted."""

    REVOKED = "revoked"
    LINK_EXPIRED = "link_expired"
    DOWNLOAD_LIMIT_REACHED = "download_limit_reached"


@dataclass(frozen=True)
class Asset:
    """A digital SKU's file, from its catalog entry: the key is the catalog's, never a request's."""

    bucket_key: str
    filename: str
    max_downloads: int = DEFAULT_MAX_DOWNLOADS
    link_ttl_seconds: int = DEFAULT_LINK_TTL_SECONDS

    @classmethod
    def from_catalog(cls, digital: dict[str, Any] | None) -> Asset | None:
        if not digital or not digital.get("bucket_key"):
            return None
        key = str(digital["bucket_key"])
        return cls(
            bucket_key=key,
            filename=str(digital.get("filename") or key.rsplit("/", 1)[-1]),
            max_downloads=int(digital.get("max_downloads") or DEFAULT_MAX_DOWNLOADS),
            link_ttl_seconds=int(digital.get("link_ttl_seconds") or DEFAULT_LINK_TTL_SECONDS),
        )


def _epoch(at: str) -> int:
    return int(datetime.fromisoformat(at).timestamp())


def _after(at: str, seconds: int) -> str:
    return (datetime.fromisoformat(at) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Entitlement:
    entitlement_id: str
    order_id: str
    line_no: int
    sku: str
    bucket_key: str
    filename: str
    units: int  # the line's quantity
    max_downloads: int  # per unit
    ttl_seconds: int
    issued_at: str
    expires_at: str
    downloads_remaining: int
    downloads_served: int = 0
    granted: int = 0  # downloads ever granted: always downloads_served + downloads_remaining
    refunded_units: int = 0
    link_version: int = 1
    revoked: bool = False
    revoked_reason: str | None = None
    updated_at: str = ""
    reissue_key: str | None = None  # hash of the Idempotency-Key of the last reissue: a retry of it changes nothing

    @classmethod
    def grant(cls, order_id: str, line_no: int, sku: str, units: int, asset: Asset, now: str) -> Entitlement:
        return cls(
            entitlement_id=keys.entitlement_id_for(order_id, line_no),
            order_id=order_id,
            line_no=line_no,
            sku=sku,
            bucket_key=asset.bucket_key,
            filename=asset.filename,
            units=units,
            max_downloads=asset.max_downloads,
            ttl_seconds=asset.link_ttl_seconds,
            issued_at=now,
            expires_at=_after(now, asset.link_ttl_seconds),
            downloads_remaining=asset.max_downloads * units,
            granted=asset.max_downloads * units,
            updated_at=now,
        )

    # ------------------------------------------------------------------ what it is
    @property
    def allowance(self) -> int:
        """Downloads the customer is entitled to in all: per unit, for the units not refunded."""
        return self.max_downloads * max(self.units - self.refunded_units, 0)

    @property
    def expires_epoch(self) -> int:
        return _epoch(self.expires_at)

    def refusal(self, now: str, link_version: int | None = None) -> Refusal | None:
        """Why a click now on a link of `link_version` would be refused; None if it would be served."""
        if self.revoked or (link_version is not None and link_version != self.link_version):
            return Refusal.REVOKED
        if _epoch(now) >= self.expires_epoch:
            return Refusal.LINK_EXPIRED
        if self.downloads_remaining <= 0:
            return Refusal.DOWNLOAD_LIMIT_REACHED
        return None

    def status(self, now: str) -> DownloadStatus:
        refusal = self.refusal(now)
        if refusal is Refusal.REVOKED:
            return DownloadStatus.REVOKED
        if refusal is Refusal.LINK_EXPIRED:
            return DownloadStatus.EXPIRED
        if refusal is Refusal.DOWNLOAD_LIMIT_REACHED:
            return DownloadStatus.EXHAUSTED
        return DownloadStatus.ACTIVE

    def summary(self) -> dict[str, Any]:
        """What DownloadReady and the timeline say of it (no token: the router and views sign the link)."""
        return {
            "entitlement_id": self.entitlement_id,
            "sku": self.sku,
            "line_no": self.line_no,
            "link_version": self.link_version,
            "expires_at": self.expires_at,
            "downloads_remaining": self.downloads_remaining,
        }

    # ------------------------------------------------------------------ changes
    def reissue(
        self, now: str, *, downloads: int | None = None, ttl_seconds: int | None = None, key: str | None = None
    ) -> Entitlement:
        """A new link (old ones answer `revoked`), a fresh expiry and, unless told otherwise, the full allowance
        again: an operator reissues to fix a customer's problem (lost, expired or used-up link). The same request
        again (`key`: its Idempotency-Key) is the same reissue: the link just sent keeps working."""
        if key is not None and key == self.reissue_key:
            return self
        ttl = ttl_seconds or self.ttl_seconds
        remaining = self.allowance if downloads is None else downloads
        return replace(
            self,
            link_version=self.link_version + 1,
            revoked=False,
            revoked_reason=None,
            expires_at=_after(now, ttl),
            downloads_remaining=remaining,
            granted=self.granted + remaining - self.downloads_remaining,
            updated_at=now,
            reissue_key=key,
        )

    def revoke(self, reason: str, now: str) -> Entitlement:
        if self.revoked:
            return self
        return replace(self, revoked=True, revoked_reason=reason, updated_at=now)

    def refund(self, units: int, now: str) -> Entitlement:
        """Refunded units take their downloads with them; refunding every unit revokes the entitlement."""
        refunded = min(self.refunded_units + units, self.units)
        taken = self.max_downloads * (refunded - self.refunded_units)
        remaining = max(self.downloads_remaining - taken, 0)
        changed = replace(
            self,
            refunded_units=refunded,
            downloads_remaining=remaining,
            granted=self.granted - (self.downloads_remaining - remaining),
            updated_at=now,
        )
        return changed.revoke("refunded", now) if refunded >= self.units else changed
