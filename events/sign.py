"""Re-sign the sample API events in events/ for other secrets (or a fresh native timestamp).

The samples are signed with the sample secrets below: the `Metadata.LocalValue` of each secret in
template.yaml, i.e. what the local runtime (`make stack`, `make demo`) stores in Secrets Manager.
A deployed stack generates random secrets, so to invoke a sample against it, re-sign:

    .venv/bin/python events/sign.py --shopify-secret "$SHOPIFY" --admin-token "$ADMIN" --now
    .venv/bin/python events/sign.py --out /tmp/signed-events --now      # copies, originals untouched

What it rewrites, per route (the same schemes `fulfillment.signatures` verifies):

    POST /webhooks/shopify             X-Shopify-Hmac-Sha256   base64 HMAC-SHA256(secret, body)
    POST /webhooks/woocommerce         X-WC-Webhook-Signature  base64 HMAC-SHA256(wp_specialchars_decode(secret), body)
                                                               (the unsigned `webhook_id=N` ping stays unsigned)
    POST /orders                       X-Fulfillment-Signature t=<unix>,v1=hex HMAC-SHA256(secret, "{t}.{body}")
    POST /webhooks/tracking/easypost   X-Hmac-Signature        "hmac-sha256-hex=" + hex HMAC-SHA256(NFKD(secret), body)
    POST /webhooks/tracking/aftership  aftership-hmac-sha256   base64 HMAC-SHA256(secret, body)
    any route with `Authorization: Bearer`                     the admin token
    GET /orders/{order_id}?token=      the order access token  base64url(HMAC-SHA256(key, "order-access:{order_id}"))

The native scheme rejects timestamps more than 300 s from now: pass `--now` right before invoking
`native_order.json`. `events/generate.py` restores the committed samples.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent

# template.yaml Metadata.LocalValue of each secret (what the local runtime creates).
SAMPLE_SECRETS: dict[str, str] = {
    "shopify": "shopify-dev-secret",  # ShopifyWebhookSecret
    "woocommerce": "woocommerce-dev-secret",  # WooCommerceWebhookSecret
    "native": "native-dev-secret",  # NativeWebhookSecret
    "easypost": "easypost-dev-secret",  # EasyPostWebhookSecret
    "aftership": "aftership-dev-secret",  # AfterShipWebhookSecret
    "admin": "admin-dev-token",  # AdminApiSecret (bearer token of the admin routes)
    "order_token": "order-token-dev-key",  # OrderTokenSecret (derives order access tokens)
    "download_signing": "download-dev-key",  # DownloadSigningSecret (signs download links)
}


# ------------------------------------------------------------------ schemes
def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def shopify_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(_hmac(secret.encode(), body)).decode()


_WP_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#039;", "'"), ("&#39;", "'"), ("&amp;", "&"))


def woocommerce_signature(body: bytes, secret: str) -> str:
    """WooCommerce signs with wp_specialchars_decode(secret, ENT_QUOTES)."""
    for entity, char in _WP_ENTITIES:
        secret = secret.replace(entity, char)
    return base64.b64encode(_hmac(secret.encode(), body)).decode()


def native_signature(body: bytes, secret: str, timestamp: int) -> str:
    return f"t={timestamp},v1={_hmac(secret.encode(), f'{timestamp}.'.encode() + body).hex()}"


def easypost_signature(body: bytes, secret: str) -> str:
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def aftership_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(_hmac(secret.encode(), body)).decode()


def order_token(order_id: str, key: str) -> str:
    """The customer's order access token (fulfillment.tokens.token_for)."""
    return base64.urlsafe_b64encode(_hmac(key.encode(), f"order-access:{order_id}".encode())).decode().rstrip("=")


# (method, resource) -> (header, secret name, signer(body, secret, timestamp))
WEBHOOKS: dict[tuple[str, str], tuple[str, str, Callable[[bytes, str, int], str]]] = {
    ("POST", "/webhooks/shopify"): ("X-Shopify-Hmac-Sha256", "shopify", lambda b, s, t: shopify_signature(b, s)),
    ("POST", "/webhooks/woocommerce"): (
        "X-WC-Webhook-Signature",
        "woocommerce",
        lambda b, s, t: woocommerce_signature(b, s),
    ),
    ("POST", "/orders"): ("X-Fulfillment-Signature", "native", native_signature),
    ("POST", "/webhooks/tracking/easypost"): (
        "X-Hmac-Signature",
        "easypost",
        lambda b, s, t: easypost_signature(b, s),
    ),
    ("POST", "/webhooks/tracking/aftership"): (
        "aftership-hmac-sha256",
        "aftership",
        lambda b, s, t: aftership_signature(b, s),
    ),
}


# ------------------------------------------------------------------ events
def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


def set_header(event: dict[str, Any], name: str, value: str) -> None:
    """Set a header in `headers` and `multiValueHeaders`, keeping the spelling already used."""
    headers = event.setdefault("headers", {}) or {}
    event["headers"] = headers
    existing = next((k for k in headers if k.lower() == name.lower()), name)
    headers[existing] = value
    multi = event.get("multiValueHeaders")
    if multi is not None:
        multi[existing] = [value]


def get_header(event: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == name.lower()), None)


def _native_timestamp(current: str | None) -> int | None:
    for part in (current or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None


def sign_event(event: dict[str, Any], secrets: dict[str, str], *, timestamp: int | None = None) -> bool:
    """Rewrite the signature / credentials of one API event in place. Returns whether it is an API event.

    `timestamp`: the native scheme's `t`; None keeps the one already in the event (or uses now).
    """
    if "httpMethod" not in event:
        return False
    route = (event["httpMethod"], event.get("resource"))
    webhook = WEBHOOKS.get(route)
    if webhook is not None:
        header, secret_name, signer = webhook
        # The WooCommerce ping (`webhook_id=N`) is sent unsigned; so are samples without the header.
        if get_header(event, header) is not None:
            t = timestamp or _native_timestamp(get_header(event, header)) or int(time.time())
            set_header(event, header, signer(raw_body(event), secrets[secret_name], t))
    authorization = get_header(event, "Authorization")
    if authorization and authorization.lower().startswith("bearer "):
        set_header(event, "Authorization", f"Bearer {secrets['admin']}")
    query = event.get("queryStringParameters") or {}
    if route == ("GET", "/orders/{order_id}") and "token" in query:
        token = order_token(event["pathParameters"]["order_id"], secrets["order_token"])
        query["token"] = token
        if event.get("multiValueQueryStringParameters"):
            event["multiValueQueryStringParameters"]["token"] = [token]
    return True


def dump(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def sample_files(paths: Iterable[str] = ()) -> list[Path]:
    chosen = [Path(p) for p in paths]
    return chosen or sorted(EVENTS_DIR.glob("*/*.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("shopify", "woocommerce", "native", "easypost", "aftership"):
        parser.add_argument(f"--{name}-secret", default=SAMPLE_SECRETS[name], help=f"default {SAMPLE_SECRETS[name]}")
    parser.add_argument("--admin-token", default=SAMPLE_SECRETS["admin"], help="default %(default)s")
    parser.add_argument("--order-token-key", default=SAMPLE_SECRETS["order_token"], help="default %(default)s")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--now", action="store_true", help="sign native orders with the current time")
    when.add_argument("--timestamp", type=int, help="sign native orders with this unix time")
    parser.add_argument("--out", type=Path, help="write signed copies under this directory instead of in place")
    parser.add_argument("files", nargs="*", help="event files (default: every events/*/*.json)")
    args = parser.parse_args(argv)

    secrets = {
        "shopify": args.shopify_secret,
        "woocommerce": args.woocommerce_secret,
        "native": args.native_secret,
        "easypost": args.easypost_secret,
        "aftership": args.aftership_secret,
        "admin": args.admin_token,
        "order_token": args.order_token_key,
    }
    timestamp = int(time.time()) if args.now else args.timestamp
    signed = 0
    for path in sample_files(args.files):
        event = json.loads(path.read_text(encoding="utf-8"))
        if not sign_event(event, secrets, timestamp=timestamp):
            continue
        target = path
        if args.out is not None:
            try:
                relative = path.resolve().relative_to(EVENTS_DIR)
            except ValueError:
                relative = Path(path.name)
            target = args.out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dump(event), encoding="utf-8")
        signed += 1
    sys.stdout.write(f"signed {signed} API events\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
