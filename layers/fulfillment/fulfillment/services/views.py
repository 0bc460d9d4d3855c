"""What customers and operators read: the order view and status lists."""

from __future__ import annotations

from typing import Any

from fulfillment import tokens
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.adapters.store import DynamoStore
from fulfillment.contracts.views import order_view
from fulfillment.errors import OrderNotFound


class OrderViews:
    def __init__(self, store: DynamoStore) -> None:
        self.store = store

    def order(self, order_id: str, *, token: str | None, admin: bool) -> dict[str, Any]:
        items = self.store.partition(order_id)
        order = order_codec.from_items(items)
        # Unknown order and someone else's order look the same: 404.
        if order is None or not (admin or tokens.matches(token, order.access_token_hash)):
            raise OrderNotFound(f"no order {order_id}")
        return order_view(items, admin=admin)

    def list(self, status: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
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
                }
                for i in items
            ],
            "next_cursor": next_cursor,
        }
