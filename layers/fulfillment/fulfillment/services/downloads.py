"""Digital delivery: entitlements granted once, links that are capabilities, a click that is one write.

- `issue` (work message IssueDownloads, sent by the router when an order's digital lines become due) grants every
  due line's entitlement in one transaction with the order's new state: the order's version and the entitlement
  items' absence make it exactly once, whatever the redeliveries. A SKU without a file puts the order on hold.
- `click` verifies the token without touching the table (a forged token is 404 at no cost) and then counts the
  download with one conditional update (`Store.take_download`): the condition decides, so parallel clicks can
  never exceed the allowance; a refusal comes back with the item, so explaining it (410) needs no read either.
- `reissue`, `revoke` (operators) and `resend` (the customer) change the order too, so the router publishes
  DownloadReady from the order's change like every other customer event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fulfillment import tokens
from fulfillment.config import Settings
from fulfillment.contracts.views import download_view
from fulfillment.domain.entitlements import Asset, Entitlement, Refusal
from fulfillment.domain.model import Hold, Order
from fulfillment.errors import (
    AlreadyApplied,
    Conflict,
    DownloadGone,
    NotFound,
    OrderNotFound,
    TooManyRequests,
)
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import Outcome, apply_once, utc_now

_MESSAGES = {
    Refusal.REVOKED: "this download link was revoked or replaced by a newer one",
    Refusal.LINK_EXPIRED: "this download link has expired",
    Refusal.DOWNLOAD_LIMIT_REACHED: "this download link has no downloads left",
}


class DownloadNotFound(NotFound):
    code = "not_found"


class EntitlementNotFound(NotFound):
    code = "entitlement_not_found"


class NoActiveDownloads(Conflict):
    code = "no_active_downloads"


@dataclass(frozen=True)
class Redirect:
    location: str
    entitlement: Entitlement


class Downloads:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        signing_keys: Callable[[], list[str]],
        presign: Callable[[Entitlement, int], str] | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.settings, self.store = settings, store
        self.signing_keys, self.presign, self.clock = signing_keys, presign, clock

    # ------------------------------------------------------------------ links
    def url(self, entitlement: Entitlement, base_url: str) -> str:
        token = tokens.download_token(entitlement.entitlement_id, entitlement.link_version, self.signing_keys()[0])
        return f"{base_url}/downloads/{token}"

    def view(self, entitlement: Entitlement, base_url: str | None = None) -> dict[str, Any]:
        return download_view(entitlement, self.clock(), self.url(entitlement, base_url) if base_url else None)

    def _verify(self, token: str) -> tuple[str, int]:
        verified = tokens.read_download_token(token, self.signing_keys())
        if verified is None:
            raise DownloadNotFound("no such download")
        return verified

    # ------------------------------------------------------------------ customers' browsers
    def click(self, token: str) -> Redirect:
        entitlement_id, link_version = self._verify(token)
        now = self.clock()
        counted, entitlement = self.store.take_download(entitlement_id, link_version, now)
        if entitlement is None:
            raise DownloadNotFound("no such download")
        if not counted:
            refusal = entitlement.refusal(now, link_version) or Refusal.DOWNLOAD_LIMIT_REACHED
            raise DownloadGone(refusal.value, _MESSAGES[refusal])
        assert self.presign is not None, "a click needs the presigner"
        return Redirect(self.presign(entitlement, self.settings.presign_seconds), entitlement)

    def peek(self, token: str) -> Entitlement:
        """What a HEAD answers: the link's state, nothing counted."""
        entitlement_id, link_version = self._verify(token)
        entitlement = self.store.entitlement(entitlement_id)
        if entitlement is None:
            raise DownloadNotFound("no such download")
        refusal = entitlement.refusal(self.clock(), link_version)
        if refusal is not None:
            raise DownloadGone(refusal.value, _MESSAGES[refusal])
        return entitlement

    # ------------------------------------------------------------------ grant and revoke (work messages)
    def issue(self, order_id: str) -> Outcome:
        def step(uow: UnitOfWork) -> Outcome:
            order = self.store.order(order_id)
            if order is None:
                raise OrderNotFound(f"no order {order_id}")
            due = order.digital_due
            if not due:
                return Outcome.NOTHING_TO_DO
            catalog = self.store.catalog(str(line.sku) for line in due)
            assets = {
                line.line_no: Asset.from_catalog(item.digital if (item := catalog.get(str(line.sku))) else None)
                for line in due
            }
            now = self.clock()
            missing = sorted({str(line.sku) for line in due if assets[line.line_no] is None})
            if missing:
                held = order.begin(now).place_hold(Hold.DIGITAL_ASSET_MISSING, f"no file for {', '.join(missing)}")
                uow.save_order(held, expected_version=order.version)
                return Outcome.HELD
            granted = [
                Entitlement.grant(order_id, line.line_no, str(line.sku), line.quantity, asset, now)
                for line in due
                if (asset := assets[line.line_no]) is not None
            ]
            uow.save_order(
                order.begin(now).issue_downloads([e.summary() for e in granted]), expected_version=order.version
            )
            for entitlement in granted:
                uow.add_entitlement(entitlement)
            return Outcome.APPLIED

        try:
            return apply_once(self.store, step, what=f"issue downloads of {order_id}")
        except AlreadyApplied:  # a concurrent copy of this message granted them first
            return Outcome.DUPLICATE

    def revoke_order(self, order_id: str, reason: str) -> Outcome:
        def step(uow: UnitOfWork) -> Outcome:
            _, entitlements = self.store.order_and_entitlements(order_id)
            now = self.clock()
            for entitlement in entitlements:
                if not entitlement.revoked:
                    uow.save_entitlement(entitlement.revoke(reason, now), expected=entitlement)
            return Outcome.APPLIED if len(uow) else Outcome.NOTHING_TO_DO

        return apply_once(self.store, step, what=f"revoke downloads of {order_id}")

    # ------------------------------------------------------------------ operators and customers
    def _load(self, order_id: str, entitlement_id: str) -> tuple[Order, Entitlement]:
        order, entitlements = self.store.order_and_entitlements(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        found = next((e for e in entitlements if e.entitlement_id == entitlement_id), None)
        if found is None:
            raise EntitlementNotFound(f"order {order_id} has no download {entitlement_id}")
        return order, found

    def reissue(
        self,
        order_id: str,
        entitlement_id: str,
        *,
        downloads: int | None,
        ttl_seconds: int | None,
        by: str,
        idempotency_key: str | None = None,
    ) -> Entitlement:
        """A new link; a retried request (same Idempotency-Key) answers the link it made instead of revoking it."""
        key = (
            hashlib.sha256(f"{entitlement_id}:{idempotency_key}".encode()).hexdigest()[:32] if idempotency_key else None
        )

        def step(uow: UnitOfWork) -> Entitlement:
            order, entitlement = self._load(order_id, entitlement_id)
            now = self.clock()
            if order.cancelled:
                raise Conflict(f"order {order_id} is cancelled")
            fresh = entitlement.reissue(now, downloads=downloads, ttl_seconds=ttl_seconds, key=key)
            if fresh is entitlement:
                return entitlement  # this very request was applied before
            uow.save_entitlement(fresh, expected=entitlement)
            uow.save_order(order.begin(now).reissue_download(fresh.summary(), by=by), expected_version=order.version)
            return fresh

        return apply_once(self.store, step, what=f"reissue {entitlement_id}")

    def revoke(self, order_id: str, entitlement_id: str, *, reason: str | None, by: str) -> Entitlement:
        def step(uow: UnitOfWork) -> Entitlement:
            order, entitlement = self._load(order_id, entitlement_id)
            if entitlement.revoked:
                return entitlement
            now = self.clock()
            revoked = entitlement.revoke(reason or "revoked by operator", now)
            uow.save_entitlement(revoked, expected=entitlement)
            uow.save_order(
                order.begin(now).revoke_download(entitlement_id, reason=revoked.revoked_reason or "", by=by),
                expected_version=order.version,
            )
            return revoked

        return apply_once(self.store, step, what=f"revoke {entitlement_id}")

    def resend(self, order_id: str, *, token: str | None, admin: bool) -> dict[str, Any]:
        """DownloadReady again with the same links, once a minute at most, for the order's token holder."""

        def step(uow: UnitOfWork) -> list[Entitlement]:
            order, entitlements = self.store.order_and_entitlements(order_id)
            if order is None or not (admin or tokens.matches(token, order.access_token_hash)):
                raise OrderNotFound(f"no order {order_id}")  # someone else's order looks like no order
            now = self.clock()
            active = [e for e in entitlements if e.refusal(now) is None]
            if not active:
                raise NoActiveDownloads(f"order {order_id} has no working download links to send")
            if order.downloads_resent_at and _seconds_between(order.downloads_resent_at, now) < (
                self.settings.resend_interval_seconds
            ):
                raise TooManyRequests(
                    f"links were sent at {order.downloads_resent_at}; "
                    f"ask again in {self.settings.resend_interval_seconds} seconds"
                )
            changed = order.begin(now).resend_downloads([e.summary() for e in active])
            uow.save_order(changed, expected_version=order.version)
            return active

        active = apply_once(self.store, step, what=f"resend downloads of {order_id}")
        return {"order_id": order_id, "resent": [e.entitlement_id for e in active]}


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
