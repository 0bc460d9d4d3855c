"""What customers and operators read: the order view and status lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fulfillment import tokens
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.adapters.store import DynamoStore
from fulfillment.contracts.views import order_view
from fulfillment.domain.entitlements import Entitlement
from fulfillment.errors import OrderNotFound
from fulfillment.services.unit import utc_now


class OrderViews:
    def __init__(self, store: DynamoStore, download_url: Callable[[Entitlement], str] | None = None) -> None:
        self.store = store
        self.download_url = download_url

    def order(self, order_id: str, *, token: str | None, admin: bool) -> dict[str, Any]:
        items = self.store.partition(order_id)
        order = order_codec.from_items(items)
        # Unknown order and someone else's order look the same: 404.
        if order is None or not (admin or tokens.matches(token, order.access_token_hash)):
            raise OrderNotFound(f"no order {order_id}")
        return order_view(items, admin=admin, now=utc_now(), download_url=self.download_url)

    def list(self, status: str | None, *, limit: int, cursor: str | None) -> dict[str, Any]:
        """Orders in `status`, or every order when None; newest first, a page at a time."""
        if status is None:
            items, next_cursor = self.store.list_all(limit=limit, cursor=cursor)
        else:
            items, next_cursor = self.store.list_by_status(status, limit=limit, cursor=cursor)
        return {
            "orders": [
                {
                    "order_id": i["order_id"],
                    "status": i["status"],
                    "channel": i["channel"],
                    "external_id": i["external_id"],
                    "created_at": i["created_at"],
                    "holds": sorted(i.get("holds") or {}),
                    # when each hold was placed: an operator's queue tells a hold placed again from one it handled
                    "hold_since": {reason: (h or {}).get("since") for reason, h in (i.get("holds") or {}).items()},
                }
                for i in items
            ],
            "next_cursor": next_cursor,
        }
