"""Load profile: storefronts sending signed native orders at a rising rate (run by bench/load.py).

Each simulated storefront posts `POST /orders` with the native signature (`X-Fulfillment-Signature: t=<unix>,
v1=<hex HMAC-SHA256 of "<t>." + body>`, docs/contracts.md) as fast as the answers come back; the shape raises the
number of storefronts step by step. Settings come from the environment: LOAD_NATIVE_SECRET, LOAD_SKU and
LOAD_STEPS ("users:seconds,users:seconds,...").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid

from locust import FastHttpUser, LoadTestShape, constant, task

SECRET = os.environ.get("LOAD_NATIVE_SECRET", "")
SKU = os.environ.get("LOAD_SKU", "LOAD-SKU")
STEPS = [tuple(int(n) for n in step.split(":")) for step in os.environ.get("LOAD_STEPS", "2:15,4:15").split(",")]


def signed_order() -> tuple[bytes, dict[str, str]]:
    body = {
        "external_id": f"load-{uuid.uuid4().hex}",
        "currency": "USD",
        "customer": {"email": "load@example.com", "name": "Load Test"},
        "shipping_address": {
            "name": "Load Test",
            "line1": "1 Way",
            "city": "Town",
            "postal_code": "12345",
            "country": "US",
        },
        "payment_status": "paid",
        "lines": [{"sku": SKU, "quantity": 1, "unit_price": "9.50"}],
    }
    raw = json.dumps(body).encode()
    now = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{now}.".encode() + raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Fulfillment-Signature": f"t={now},v1={mac}"}


class Storefront(FastHttpUser):
    wait_time = constant(0)

    @task
    def place_order(self) -> None:
        raw, headers = signed_order()
        with self.client.post("/orders", data=raw, headers=headers, name="POST /orders", catch_response=True) as r:
            if r.status_code not in (200, 201, 202):
                r.failure(f"HTTP {r.status_code}: {(r.text or '')[:200]}")


class RisingRate(LoadTestShape):
    """LOAD_STEPS: so many storefronts for so many seconds, then the next step; stops after the last."""

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for users, seconds in STEPS:
            if elapsed < seconds:
                return users, float(users)
            elapsed -= seconds
        return None
