"""Signed storefront requests through the intake function's real handler."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fulfillment.signatures import sign_native

from tests.support.events import Context, api_event, response_json

NATIVE_SECRET = "native-dev-secret"  # template.yaml: NativeWebhookSecret Metadata.LocalValue

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Analytical Way",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}


def native_body(
    lines: list[tuple[str, int]],
    *,
    external_id: str | None = None,
    payment_status: str = "paid",
    fill_policy: str | None = None,
    address: dict | None = ADDRESS,
    **extra: Any,
) -> dict:
    body = {
        "external_id": external_id or uuid.uuid4().hex,
        "currency": "USD",
        "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
        "shipping_address": address,
        "payment_status": payment_status,
        "lines": [{"sku": sku, "quantity": qty, "unit_price": "10.00"} for sku, qty in lines],
        **extra,
    }
    if fill_policy:
        body["fill_policy"] = fill_policy
    if address is None:
        del body["shipping_address"]
    return body


def native_request(
    raw: bytes,
    *,
    secret: str = NATIVE_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
    signature: str | None = None,
) -> dict:
    header = signature if signature is not None else sign_native(raw, secret, timestamp or int(time.time()))
    return api_event(
        "POST", "/orders", body=raw, headers={"Content-Type": content_type, "X-Fulfillment-Signature": header}
    )


def native_order(intake_fn: Any, stack: Any = None, lines: list[tuple[str, int]] | None = None, **kwargs: Any):
    raw = json.dumps(native_body(lines or [("SKU-1", 1)], **kwargs)).encode()
    response = intake_fn.lambda_handler(native_request(raw), Context())
    return response, response_json(response)
