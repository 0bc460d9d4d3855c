"""Which shop sent a storefront webhook, and what its signature proves about that.

A shop header (`X-Shopify-Shop-Domain`, `X-WC-Webhook-Source`) is not covered by the HMAC, yet it is part of an
order's identity. So each secret is bound to the shops it serves:

    "secret"                                   one shared secret (or a JSON list during a rotation): any shop
    {"a.myshopify.com": "s1",                  each shop with its own secret(s); "*" for a secret that may sign
     "b.myshopify.com": ["s2-new", "s2-old"],  for any shop (a public Shopify app signs every shop's webhooks
     "*": "app-secret"}                        with its one client secret)

A signature by a shop's own secret proves the shop. A signature by a shared secret proves only the body: such an
order is also claimed under the platform's own global id (Shopify's order id, WooCommerce's order_key), so the
same signed body replayed under another shop header creates nothing (409 order_of_another_shop).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fulfillment.errors import BadRequest, Unauthorized

MAX_HOST_LENGTH = 253
MAX_SOURCE_LENGTH = 512
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_PATH = re.compile(r"^[a-z0-9._~!$&'()*+,;=:@%/-]*$")
ANY_SHOP = "*"


def _host(value: str) -> str:
    host = value.strip().lower().rstrip(".")
    if not host or len(host) > MAX_HOST_LENGTH or not _HOST.match(host):
        raise BadRequest("the shop header is not a host name")
    return host


def shopify_domain(header: str | None) -> str:
    """`X-Shopify-Shop-Domain`, normalised: case and a trailing dot name the same shop."""
    if not header:
        raise BadRequest("X-Shopify-Shop-Domain header is required")
    return _host(header)


def woocommerce_source(header: str | None) -> str:
    """`X-WC-Webhook-Source` (the store's URL) as host[/path]: scheme, default port, case of the host, a trailing
    dot and trailing slashes do not make another store; a path does (WordPress in a subdirectory)."""
    if not header:
        raise BadRequest("X-WC-Webhook-Source header is required")
    if len(header) > MAX_SOURCE_LENGTH:
        raise BadRequest("X-WC-Webhook-Source is too long")
    text = header.strip()
    try:  # urlsplit refuses some shapes ("[" : an unclosed IPv6 literal), .port others ("host:99999")
        parts = urlsplit(text if "://" in text else f"https://{text}")
        port = parts.port
    except ValueError:
        raise BadRequest("X-WC-Webhook-Source is not a store URL") from None
    if parts.scheme not in ("http", "https") or parts.query or parts.fragment or parts.username:
        raise BadRequest("X-WC-Webhook-Source is not a store URL")
    host = _host(parts.hostname or "")
    if port not in (None, 80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/").lower()
    if not _PATH.match(path):
        raise BadRequest("X-WC-Webhook-Source is not a store URL")
    return host + path


@dataclass(frozen=True)
class ShopSecrets:
    bound: dict[str, tuple[str, ...]]  # normalised shop -> the secrets that prove it
    shared: tuple[str, ...]  # secrets that may sign for any shop (they prove the body, not the shop)

    @classmethod
    def parse(cls, text: str | None, normalise: Callable[[str], str]) -> ShopSecrets:
        """A secret's value as stored; the shops it names are normalised like the headers they must match."""
        if not text:
            return cls({}, ())
        stripped = text.strip()
        if not stripped.startswith(("[", "{")):
            return cls({}, (text,))
        value = json.loads(stripped)
        if isinstance(value, list):
            return cls({}, _secrets(value))
        if not isinstance(value, dict):
            raise RuntimeError("a storefront secret is a string, a JSON list or a JSON object of shops")
        try:
            bound = {normalise(key): _secrets(secrets) for key, secrets in value.items() if key != ANY_SHOP}
        except BadRequest:
            raise RuntimeError("a storefront secret names a shop that is not a host name") from None
        return cls(bound, _secrets(value.get(ANY_SHOP, [])))

    def for_shop(self, shop: str) -> tuple[tuple[str, ...], bool]:
        """(the secrets that may sign for `shop`, whether such a signature proves the shop). It does when the shop's
        secrets are its own: a value also listed for another shop or for "*" proves only the body."""
        if shop in self.bound:
            own = set(self.bound[shop])
            elsewhere = set(self.shared).union(*(set(v) for k, v in self.bound.items() if k != shop))
            return self.bound[shop], not (own & elsewhere)
        if self.shared:
            return self.shared, False
        raise Unauthorized(f"no webhook secret is configured for shop {shop}")


def _secrets(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(str(s) for s in items if s)
