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


MAX_ORDER_TOKEN_LENGTH = 64


def verify(order_id: str, token: str | None, keys: list[str]) -> bool:
    """Whether `token` is the order's access token under one of the keys (the first signs; all verify during a
    rotation). No read and no early exit: every key's token is derived and compared in constant time."""
    if not token or len(token) > MAX_ORDER_TOKEN_LENGTH or not keys:
        return False
    presented = token.encode("utf-8", "replace")
    found = False
    for key in keys:
        found |= hmac.compare_digest(token_for(order_id, key).encode(), presented)
    return found


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def matches(token: str | None, stored_hash: str) -> bool:
    if not token or not stored_hash:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)


# ---------------------------------------------------------------------------- download links
# A download token is a capability checked without a read: `d1.<payload>.<kid>.<mac>` where payload is
# base64url("<entitlement_id>|<link_version>"), kid names the signing key (so keys can rotate: the first key of
# the secret signs, every listed key verifies) and mac is HMAC-SHA256 over version, kid and payload, truncated
# to 128 bits. Anything that does not verify is "not found" before the table is touched.
DOWNLOAD_TOKEN_VERSION = "d1"
MAX_DOWNLOAD_TOKEN_LENGTH = 256


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(key: str) -> str:
    return hashlib.sha256(f"download-key:{key}".encode()).hexdigest()[:8]


def _download_mac(key: str, kid: str, payload: str) -> str:
    message = f"{DOWNLOAD_TOKEN_VERSION}.{payload}.{kid}".encode()
    return _b64(hmac.new(key.encode(), message, hashlib.sha256).digest()[:16])


def download_token(entitlement_id: str, link_version: int, key: str) -> str:
    payload = _b64(f"{entitlement_id}|{link_version}".encode())
    kid = key_id(key)
    return f"{DOWNLOAD_TOKEN_VERSION}.{payload}.{kid}.{_download_mac(key, kid, payload)}"


def read_download_token(token: str, keys: list[str]) -> tuple[str, int] | None:
    """(entitlement id, link version) of an authentic token; None for anything else."""
    if not token or len(token) > MAX_DOWNLOAD_TOKEN_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != DOWNLOAD_TOKEN_VERSION:
        return None
    _, payload, kid, mac = parts
    key = next((k for k in keys if key_id(k) == kid), None)
    if key is None or not hmac.compare_digest(_download_mac(key, kid, payload).encode(), mac.encode()):
        return None
    try:
        entitlement_id, _, version = _unb64(payload).decode().rpartition("|")
        return entitlement_id, int(version)
    except (ValueError, UnicodeDecodeError):
        return None
