"""Webhook signature schemes, verified over the exact received bytes, constant-time, before parsing.

Each `verify_*` returns None or raises `Unauthorized`. A secret value may hold several secrets
(rotation); any of them verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import unicodedata
from collections.abc import Sequence

from fulfillment.errors import Unauthorized

NATIVE_TOLERANCE_SECONDS = 300


def _hmac(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def _any_base64_matches(raw: bytes, header: str | None, secrets: Sequence[str]) -> None:
    if not header:
        raise Unauthorized("missing signature header")
    presented = header.strip().encode()
    for secret in secrets:
        if hmac.compare_digest(base64.b64encode(_hmac(secret, raw)), presented):
            return
    raise Unauthorized("signature does not match")


def verify_shopify(raw: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(app secret, raw body))."""
    _any_base64_matches(raw, header, secrets)


def verify_woocommerce(raw: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """X-WC-Webhook-Signature: base64(HMAC-SHA256(secret, trim(wp_json_encode(payload))))."""
    _any_base64_matches(raw, header, [_wp_specialchars_decode(s) for s in secrets])


def verify_aftership(raw: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """aftership-hmac-sha256: base64(HMAC-SHA256(account webhook secret, raw body))."""
    _any_base64_matches(raw, header, secrets)


def verify_easypost(raw: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """X-Hmac-Signature: "hmac-sha256-hex=" + hex(HMAC-SHA256(NFKD(secret), raw)), whole string compared."""
    if not header:
        raise Unauthorized("missing signature header")
    for secret in secrets:
        key = unicodedata.normalize("NFKD", secret).encode("utf-8")
        expected = "hmac-sha256-hex=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode(), header.strip().encode()):
            return
    raise Unauthorized("signature does not match")


def sign_native(raw: bytes, secret: str, timestamp: int) -> str:
    mac = _hmac(secret, f"{timestamp}.".encode() + raw).hex()
    return f"t={timestamp},v1={mac}"


MAX_TIMESTAMP_DIGITS = 12


def verify_native(
    raw: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: float | None = None,
    tolerance: int = NATIVE_TOLERANCE_SECONDS,
) -> None:
    """X-Fulfillment-Signature: t=<unix>,v1=<hex>[,v1=<hex>] over "{t}.{raw body}".

    Rejects a timestamp more than `tolerance` seconds from now in either direction (replays and
    badly skewed clocks alike). Any v1 may match, so a sender can sign with old and new secrets.
    """
    if not header:
        raise Unauthorized("missing signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            value = value.strip()
            # Unix seconds: at most 12 digits (an unbounded number would overflow the tolerance check: a 5xx).
            if not (value.isdigit() and len(value) <= MAX_TIMESTAMP_DIGITS):
                raise Unauthorized("malformed signature header")
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise Unauthorized("malformed signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise Unauthorized("signature timestamp outside the tolerance window")
    signed = f"{timestamp}.".encode() + raw
    for secret in secrets:
        expected = _hmac(secret, signed).hex().encode()
        if any(hmac.compare_digest(expected, c.encode()) for c in candidates):
            return
    raise Unauthorized("signature does not match")


_WP_ENTITIES = (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#039;", "'"), ("&#39;", "'"))


def _wp_specialchars_decode(secret: str) -> str:
    """WooCommerce signs with wp_specialchars_decode(secret, ENT_QUOTES): `a&amp;b` signs as `a&b`."""
    for entity, char in _WP_ENTITIES[1:]:
        secret = secret.replace(entity, char)
    return secret.replace("&amp;", "&")
