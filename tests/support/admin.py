"""Operator calls through the order API's real handler."""

from __future__ import annotations

import json
from typing import Any

from tests.support.events import Context, api_event, response_json

ADMIN_TOKEN = "admin-dev-token"  # template.yaml: AdminApiSecret Metadata.LocalValue


class Admin:
    def __init__(self, api_fn: Any) -> None:
        self.api = api_fn

    def call(
        self,
        method: str,
        path: str,
        resource: str,
        params: dict,
        body: Any = None,
        headers: dict | None = None,
        query: dict | None = None,
        token: str | None = ADMIN_TOKEN,
    ) -> dict:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        raw = json.dumps(body) if body is not None and not isinstance(body, (str, bytes)) else body
        event = api_event(method, path, body=raw, headers=hdrs, resource=resource, path_parameters=params, query=query)
        return self.api.lambda_handler(event, Context())

    def ok(self, response: dict) -> Any:
        assert 200 <= response["statusCode"] < 300, response["body"]
        return response_json(response)

    def catalog(self, sku: str, kind: str = "physical", **fields: Any) -> dict:
        body = {"kind": kind, **fields}
        if kind == "digital" and "digital" not in body:
            body["digital"] = {"bucket_key": f"assets/{sku}.zip"}
        return self.ok(self.call("PUT", f"/catalog/{sku}", "/catalog/{sku}", {"sku": sku}, body))

    def stock(self, sku: str, location: str, on_hand: int) -> dict:
        return self.ok(
            self.call(
                "PUT",
                f"/inventory/{sku}/{location}",
                "/inventory/{sku}/{location}",
                {"sku": sku, "location": location},
                {"on_hand": on_hand},
            )
        )

    def shards(self, sku: str, location: str, shards: Any) -> dict:
        """PUT /inventory/{sku}/{location}/shards, the raw response (bad values are tested too)."""
        path = f"/inventory/{sku}/{location}/shards"
        params = {"sku": sku, "location": location}
        return self.call("PUT", path, "/inventory/{sku}/{location}/shards", params, {"shards": shards})

    def adjust(self, sku: str, location: str, delta: int, reason: str, **extra: Any) -> dict:
        return self.call(
            "POST",
            f"/inventory/{sku}/{location}/adjustments",
            "/inventory/{sku}/{location}/adjustments",
            {"sku": sku, "location": location},
            {"delta": delta, "reason": reason, **extra},
        )

    def catalog_entry(self, sku: str) -> dict:
        return self.ok(self.call("GET", f"/catalog/{sku}", "/catalog/{sku}", {"sku": sku}))

    def inventory(self, sku: str, location: str) -> dict:
        return self.ok(
            self.call(
                "GET", f"/inventory/{sku}/{location}", "/inventory/{sku}/{location}", {"sku": sku, "location": location}
            )
        )

    def order(self, order_id: str) -> dict:
        return self.ok(self.call("GET", f"/orders/{order_id}", "/orders/{order_id}", {"order_id": order_id}))

    def cancel(self, order_id: str, reason: str | None = None) -> dict:
        return self.call(
            "POST",
            f"/orders/{order_id}/cancel",
            "/orders/{order_id}/cancel",
            {"order_id": order_id},
            {"reason": reason} if reason else None,
        )

    def release(self, order_id: str, hold: str) -> dict:
        return self.call(
            "POST",
            f"/orders/{order_id}/holds/{hold}/release",
            "/orders/{order_id}/holds/{reason}/release",
            {"order_id": order_id, "reason": hold},
        )
