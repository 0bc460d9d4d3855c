"""Signed carrier webhooks through the tracking function's real handler."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from tests.support.events import Context, api_event, response_json

AFTERSHIP_DEV_SECRET = b"aftership-dev-secret"  # template.yaml: AfterShipWebhookSecret Metadata.LocalValue


def aftership(tracking_fn: Any, tracking_number: str, tag: str, *, event_id: str, at: str | None = None) -> dict:
    """POST an AfterShip tracking_update for (usps, tracking_number); returns the JSON answer."""
    msg: dict = {"tracking_number": tracking_number, "slug": "usps", "tag": tag}
    if at:
        msg["checkpoints"] = [{"checkpoint_time": at, "message": tag}]
    body = json.dumps({"event_id": event_id, "event": "tracking_update", "msg": msg}).encode()
    signature = base64.b64encode(hmac.new(AFTERSHIP_DEV_SECRET, body, hashlib.sha256).digest()).decode()
    event = api_event(
        "POST",
        "/webhooks/tracking/aftership",
        body=body,
        headers={"Content-Type": "application/json", "aftership-hmac-sha256": signature},
    )
    response = tracking_fn.lambda_handler(event, Context())
    assert response["statusCode"] == 200, response["body"]
    return response_json(response)
