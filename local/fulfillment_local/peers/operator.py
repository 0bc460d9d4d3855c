"""The shop's operators, through the admin API only (Authorization: Bearer <AdminApiSecret>).

They set up the catalog and stock, receive deliveries mid-run, and work the hold queue the way a
person would: release fraud reviews that look fine (cancel the others), add a SKU the storefront
sold before it was listed and release `unknown_sku`, cancel orders a provider could not deliver,
and re-dispatch orders whose provider did not answer. Decisions are deterministic per order (a
hash of the seed and the order's external id), so a run can be repeated.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

from .base import HttpClient, Scheduler, UnexpectedAnswer, expect
from .catalog import UNLISTED, Product


def verdict(seed: int, key: str) -> float:
    """A reproducible number in [0, 1) for a decision about `key`."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Operator:
    FRAUD_RELEASE_SHARE = 0.7

    def __init__(self, http: HttpClient, scheduler: Scheduler, *, seed: int = 7) -> None:
        self.http = http
        self.scheduler = scheduler
        self.seed = seed
        self.actions: Counter[str] = Counter()
        self.cancelled: dict[str, str] = {}  # order id -> why the operator cancelled it
        self.released: dict[str, list[str]] = {}  # order id -> holds released
        self.anomalies: list[str] = []
        self._handled: set[tuple[str, str, str]] = set()
        self._listed: set[str] = set()
        self._lock = threading.Lock()
        self.stock_received: Counter[tuple[str, str]] = Counter()  # (sku, location) -> units received

    # ================================================================== setup
    def put_product(self, product: Product, *, dropship_location: str | None = None) -> None:
        body: dict[str, Any] = {"kind": product.kind, "title": product.title}
        if product.reorder_point:
            body["reorder_point"] = product.reorder_point
        if product.dropship and dropship_location:
            body["dropship_location"] = dropship_location
        if product.digital:
            body["digital"] = {
                "bucket_key": product.asset_key,
                "max_downloads": product.max_downloads,
                "link_ttl_seconds": product.link_ttl,
            }
        expect(self.http.put(f"/catalog/{quote(product.sku)}", body=body), 200, what=f"PUT /catalog/{product.sku}")
        with self._lock:
            self._listed.add(product.sku)
            self.actions["catalog entries"] += 1

    def set_stock(self, sku: str, location: str, on_hand: int) -> None:
        expect(
            self.http.put(f"/inventory/{quote(sku)}/{location}", body={"on_hand": on_hand, "note": "opening count"}),
            200,
            what=f"PUT /inventory/{sku}/{location}",
        )
        with self._lock:
            self.actions["stock counts"] += 1

    def receive(self, sku: str, location: str, units: int, *, delivery_id: str, twice: bool = False) -> bool:
        """A delivery arrived: an audited `received` adjustment, idempotent by its delivery id.

        True once the backend has it - also when our first attempt was applied but its answer was lost
        (the retry then answers 200 `duplicate`: the delivery id is ours alone)."""
        path = f"/inventory/{quote(sku)}/{location}/adjustments"
        body = {"delta": units, "reason": "received", "adjustment_id": delivery_id, "note": "supplier delivery"}
        first = expect(self.http.post(path, body=body), 200, 201, what=f"POST {path}")
        if twice:  # the operator's tool retried the request
            again = expect(self.http.post(path, body=body), 200, what=f"POST {path} (repeated)")
            if not (isinstance(again.body, dict) and again.body.get("duplicate")):
                self._anomaly(f"repeated adjustment {delivery_id} was not recognised as a duplicate")
        recorded = first.status == 201 or (isinstance(first.body, dict) and bool(first.body.get("duplicate")))
        with self._lock:
            self.actions["deliveries received"] += 1
            if recorded:
                self.stock_received[(sku, location)] += units
        return recorded

    def inventory(self, sku: str, location: str) -> dict[str, Any]:
        return expect(self.http.get(f"/inventory/{quote(sku)}/{location}"), 200, what="GET /inventory").body

    # ================================================================== orders
    def order(self, order_id: str) -> dict[str, Any]:
        return expect(self.http.get(f"/orders/{order_id}"), 200, what=f"GET /orders/{order_id}").body

    def reissue_download(self, order_id: str, entitlement_id: str) -> dict[str, Any]:
        """A customer wrote in: their link stopped working. A new link, the old one revoked."""
        # One Idempotency-Key for the decision: a retry after a lost answer must not revoke the link it made.
        key = str(uuid.uuid4())
        response = expect(
            self.http.post(f"/orders/{order_id}/downloads/{entitlement_id}/reissue", headers={"Idempotency-Key": key}),
            200,
            what=f"POST /orders/{order_id}/downloads/{entitlement_id}/reissue",
        )
        with self._lock:
            self.actions["download links reissued"] += 1
        return dict(response.body)

    def receive_return(self, rma_id: str, lines: list[dict[str, Any]]) -> None:
        """A returned parcel opened at the in-house warehouse: each unit's disposition, once (Idempotency-Key)."""
        expect(
            self.http.post(
                f"/returns/{rma_id}/receive", body={"lines": lines}, headers={"Idempotency-Key": f"receipt:{rma_id}"}
            ),
            200,
            what=f"POST /returns/{rma_id}/receive",
        )
        with self._lock:
            self.actions["in-house returns received"] += 1

    def list_orders(self, status: str) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"status": status, "limit": "100", **({"cursor": cursor} if cursor else {})}
            page = expect(self.http.get("/orders", params=params), 200, what="GET /orders").body
            orders += page["orders"]
            cursor = page.get("next_cursor")
            if not cursor:
                return orders

    def cancel(self, order_id: str | None, reason: str) -> bool:
        if order_id is None:
            return False
        response = self.http.post(f"/orders/{order_id}/cancel", body={"reason": reason})
        if response.status == 409:  # part of it shipped already: too late to cancel
            with self._lock:
                self.actions["cancel refused (shipped)"] += 1
            return False
        expect(response, 200, what=f"POST /orders/{order_id}/cancel")
        with self._lock:
            self.actions["orders cancelled"] += 1
            self.cancelled.setdefault(order_id, reason)
        return True

    def release(self, order_id: str, hold: str) -> bool:
        response = self.http.post(f"/orders/{order_id}/holds/{hold}/release")
        if response.status in (404, 409):  # already released, or the order moved on (cancelled)
            return False
        expect(response, 200, what=f"POST /orders/{order_id}/holds/{hold}/release")
        with self._lock:
            self.actions[f"released {hold}"] += 1
            self.released.setdefault(order_id, []).append(hold)
        return True

    def payment_confirmed(self, order: Any) -> None:
        """The native checkout's payment provider confirmed a pending payment."""
        if self.release(order.order_id, "awaiting_payment"):
            return
        with self._lock:
            self.actions["payment confirmation without hold"] += 1

    # ================================================================== the hold queue
    def review_holds(self) -> int:
        """One pass over the on_hold orders; returns how many actions were taken."""
        taken = 0
        for summary in self.list_orders("on_hold"):
            order_id = summary["order_id"]
            since = summary.get("hold_since") or {}
            holds = summary.get("holds") or []
            if not holds or all((order_id, h, str(since.get(h) or "")) in self._handled for h in holds):
                continue  # nothing new on this order: no need to read it
            view = self.order(order_id)
            for hold in view.get("hold_details") or [{"reason": h} for h in view.get("holds", [])]:
                reason = hold["reason"]
                # A hold placed again later (another shipment unanswered) is a new case: keyed by when it was placed.
                case = (order_id, reason, str(hold.get("since") or ""))
                if case in self._handled:
                    continue
                decided = self._decide(view, reason, str(hold.get("detail") or ""))
                with self._lock:  # decided, or left to the storefront / a person: not read again until re-placed
                    self._handled.add(case)
                taken += bool(decided)
                if view.get("status") == "cancelled":
                    break
        return taken

    def _decide(self, view: dict[str, Any], reason: str, detail: str) -> bool:
        order_id = view["order_id"]
        if reason == "fraud_review":
            if self.fraud_ok(view["external_id"]):
                return self.release(order_id, reason) or True
            self.cancel(order_id, "fraud review: not approved")
            return True
        if reason == "unknown_sku":
            for line in view.get("lines", []):
                if not line.get("known", True) and line.get("sku") == UNLISTED.sku and UNLISTED.sku not in self._listed:
                    self.list_unlisted()
            if any(not ln.get("known", True) and ln.get("sku") not in self._listed for ln in view.get("lines", [])):
                return False  # a SKU the operators do not sell at all: leave it for a person
            return self.release(order_id, reason) or True
        if reason == "fulfillment_rejected" or (reason == "address_invalid" and ":" in detail):
            # A provider refused (its hold detail is "<provider>: <reason>"). The operator calls the
            # customer: mostly the address is fine after all and the order goes out again; otherwise
            # it is cancelled - unless part of it has shipped, and then the rest goes out too.
            if self.provider_retry_ok(view["external_id"]) or not self.cancel(order_id, f"provider refused: {detail}"):
                return self.release(order_id, reason) or True
            return True
        if reason == "address_invalid" and view.get("channel") == "native":
            self.cancel(order_id, "no deliverable address")
            return True
        if reason == "provider_unresponsive":
            return self.release(order_id, reason) or True
        return False  # awaiting_payment and storefront address fixes are the storefront's business

    def provider_retry_ok(self, external_id: str) -> bool:
        return verdict(self.seed, f"provider:{external_id}") < 0.7

    def fraud_ok(self, external_id: str) -> bool:
        return verdict(self.seed, f"fraud:{external_id}") < self.FRAUD_RELEASE_SHARE

    def list_unlisted(self) -> None:
        with self._lock:
            if UNLISTED.sku in self._listed:
                return
        self.put_product(UNLISTED)
        for location, units in UNLISTED.stock.items():
            self.receive(UNLISTED.sku, location, units, delivery_id=f"first-delivery-{UNLISTED.sku}-{location}")

    def _anomaly(self, text: str) -> None:
        with self._lock:
            self.anomalies.append(text)


__all__ = ["Operator", "UnexpectedAnswer", "verdict"]
