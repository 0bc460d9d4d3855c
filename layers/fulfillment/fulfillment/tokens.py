"""Order access tokens: derived from the order id with a server key, stored only as a hash.

Deriving (instead of storing a random token) lets a redelivered native order get the same
token back, and lets the router put the status link into OrderReceived, while a copy of the
table alone reveals no token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def token_for(order_id: str, key: str) -> str:
    mac = hmac.new(key.encode(), f"order-access:{order_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def matches(token: str | None, stored_hash: str) -> bool:
    if not token or not stored_hash:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)
