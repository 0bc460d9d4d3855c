"""Drive the local stack by hand, as a storefront, an operator, a 3PL or a carrier would — no HMAC code to write.

Start the stack first (`make stack`, another terminal); this reads where it runs from .local/endpoints.json and
its secrets from the stack's own Secrets Manager.

    python -m fulfillment_local.cli secrets                       # the local signing secrets and admin token
    python -m fulfillment_local.cli seed SKU-1 --units 10         # catalog entry + stock at a location
    python -m fulfillment_local.cli order SKU-1 --qty 2           # a signed native order (or --channel shopify)
    python -m fulfillment_local.cli show o_...                    # the order, as an operator sees it
    python -m fulfillment_local.cli list --status dispatched      # orders by status (all, newest first, without)
    python -m fulfillment_local.cli requests                      # what a 3PL received (its shipment ids)
    python -m fulfillment_local.cli tpl accepted o_....001        # a 3PL's answer: accepted, shipped, delivered
    python -m fulfillment_local.cli tpl shipped o_....001 --tracking 1Z999
    python -m fulfillment_local.cli scan 1Z999 --status in_transit   # a carrier's signed AfterShip webhook
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from .peers.base import read_secret

STATE = Path(".local")
SECRETS = {
    "native": "NativeWebhookSecretArn",
    "shopify": "ShopifyWebhookSecretArn",
    "woocommerce": "WooCommerceWebhookSecretArn",
    "admin": "AdminApiSecretArn",
    "easypost": "EasyPostWebhookSecretArn",
    "aftership": "AfterShipWebhookSecretArn",
}
SHOP = "my-shop.myshopify.com"
WOO_STORE = "https://shop.example/"


class Stack:
    """The running local stack: its API, its AWS endpoint, its outputs and secrets."""

    def __init__(self, state: Path) -> None:
        try:
            self.endpoints = json.loads((state / "endpoints.json").read_text())
            self.outputs = json.loads((state / "outputs.json").read_text())
        except OSError:
            raise SystemExit(f"no running stack found in {state}/: start it with `make stack`") from None
        self.api_url = str(self.endpoints["api_url"])

    def client(self, service: str, access_key: str = "cli") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoints["endpoint_url"],
            region_name=self.endpoints["region"],
            aws_access_key_id=access_key,  # locally, the access key id is who you are (a 3PL's SenderId)
            aws_secret_access_key="local",
        )

    def secret(self, name: str, shop: str | None = None) -> str:
        return read_secret(self.client("secretsmanager"), self.outputs[SECRETS[name]], shop)

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(self.api_url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the local stack)
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = text
        print(f"HTTP {status}")
        print(json.dumps(answer, indent=2) if isinstance(answer, (dict, list)) else answer)
        return answer

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.secret('admin')}", "Content-Type": "application/json"}
        return self.call(method, path, json.dumps(body).encode() if body is not None else None, headers)


def _b64_hmac(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def _now() -> str:
    return datetime.now(UTC).isoformat()


# ------------------------------------------------------------------ commands
def secrets(stack: Stack, _: argparse.Namespace) -> None:
    for name in SECRETS:
        print(f"{name:<12} {stack.secret(name)}")
    print(f"\nHTTP API     {stack.api_url}\nAWS endpoint {stack.endpoints['endpoint_url']} (any credentials)")


def seed(stack: Stack, args: argparse.Namespace) -> None:
    entry: dict[str, Any] = {"kind": args.kind, "title": args.title or args.sku}
    if args.kind == "digital":
        entry["digital"] = {"bucket_key": f"assets/{args.sku}.zip"}
    stack.admin("PUT", f"/catalog/{args.sku}", entry)
    if args.kind == "physical":
        stack.admin("PUT", f"/inventory/{args.sku}/{args.location}", {"on_hand": args.units})


def order(stack: Stack, args: argparse.Namespace) -> None:
    external = args.id or f"cli-{uuid.uuid4().hex[:8]}"
    address = {"name": "Ada Lovelace", "line1": "1 Way", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
    if args.channel == "native":
        body = {
            "external_id": external,
            "currency": "USD",
            "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
            "shipping_address": address,
            "payment_status": "pending" if args.unpaid else "paid",
            "lines": [{"sku": args.sku, "quantity": args.qty, "unit_price": args.price}],
        }
        raw = json.dumps(body).encode()
        now = int(time.time())
        mac = hmac.new(stack.secret("native").encode(), f"{now}.".encode() + raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Fulfillment-Signature": f"t={now},v1={mac}"}
        stack.call("POST", "/orders", raw, headers)
        return
    if args.channel == "shopify":
        body = {
            "id": int(time.time() * 1000),
            "currency": "USD",
            "financial_status": "pending" if args.unpaid else "paid",
            "email": "ada@example.com",
            "updated_at": _now(),
            "shipping_address": {"address1": "1 Way", "city": "London", "zip": "N1 9GU", "country_code": "GB"},
            "line_items": [{"id": 1, "sku": args.sku, "quantity": args.qty, "price": args.price, "title": args.sku}],
        }
        raw = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Hmac-Sha256": _b64_hmac(stack.secret("shopify", SHOP), raw),
        }
        stack.call("POST", "/webhooks/shopify", raw, headers)
        return
    body = {
        "id": int(time.time()),
        "order_key": f"wc_order_{uuid.uuid4().hex[:12]}",
        "status": "pending" if args.unpaid else "processing",
        "currency": "USD",
        "date_modified_gmt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "billing": {"email": "ada@example.com"},
        "shipping": {"address_1": "1 Way", "city": "London", "postcode": "N1 9GU", "country": "GB"},
        "line_items": [{"id": 1, "sku": args.sku, "quantity": args.qty, "price": args.price, "name": args.sku}],
    }
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Source": WOO_STORE,
        "X-WC-Webhook-Signature": _b64_hmac(stack.secret("woocommerce", "shop.example"), raw),
    }
    stack.call("POST", "/webhooks/woocommerce", raw, headers)


def show(stack: Stack, args: argparse.Namespace) -> None:
    stack.admin("GET", f"/orders/{args.order_id}")


def list_orders(stack: Stack, args: argparse.Namespace) -> None:
    stack.admin("GET", "/orders" + (f"?status={args.status}" if args.status else ""))


def requests(stack: Stack, args: argparse.Namespace) -> None:
    """Read (and acknowledge) what a 3PL received on its queue, as the 3PL would."""
    queue = stack.outputs["Provider" + "".join(p.capitalize() for p in args.provider.split("-")) + "QueueUrl"]
    sqs = stack.client("sqs", args.provider)
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    for message in received:
        body = json.loads(message["Body"])
        print(json.dumps(body, indent=2))
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    if not received:
        print(f"nothing waiting for {args.provider}")


def tpl(stack: Stack, args: argparse.Namespace) -> None:
    """A 3PL's answer on the shared inbound queue, sent with that 3PL's own credentials (its SenderId)."""
    message: dict[str, Any] = {
        "type": {
            "accepted": "fulfillment_request.accepted",
            "shipped": "shipment.shipped",
            "delivered": "shipment.delivered",
        }[args.event],
        "version": 1,
        "message_id": uuid.uuid4().hex,
        "provider": args.provider,
        "shipment_id": args.shipment_id,
        "sent_at": _now(),
    }
    if args.event == "shipped":
        message |= {"carrier": args.carrier, "tracking_number": args.tracking, "shipped_at": _now()}
    if args.event == "delivered":
        message["delivered_at"] = _now()
    stack.client("sqs", args.provider).send_message(
        QueueUrl=stack.outputs["InboundQueueUrl"], MessageBody=json.dumps(message)
    )
    print(f"sent {message['type']} for {args.shipment_id} as {args.provider}")


def scan(stack: Stack, args: argparse.Namespace) -> None:
    tags = {"in_transit": "InTransit", "out_for_delivery": "OutForDelivery", "delivered": "Delivered"}
    body = {
        "event_id": uuid.uuid4().hex,
        "event": "tracking_update",
        "msg": {
            "tracking_number": args.tracking,
            "slug": args.carrier,
            "tag": tags[args.status],
            "checkpoints": [
                {"checkpoint_time": _now(), "message": args.status.replace("_", " "), "tag": tags[args.status]}
            ],
        },
    }
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "aftership-hmac-sha256": _b64_hmac(stack.secret("aftership"), raw)}
    stack.call("POST", "/webhooks/tracking/aftership", raw, headers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fulfillment_local.cli", description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", type=Path, default=STATE, help="the stack's state directory (default .local)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("secrets", help="the local secrets, API URL and AWS endpoint").set_defaults(run=secrets)
    p = sub.add_parser("seed", help="a catalog entry and its stock")
    p.add_argument("sku")
    p.add_argument("--units", type=int, default=10)
    p.add_argument("--location", default="WH-EAST")
    p.add_argument("--kind", choices=["physical", "digital"], default="physical")
    p.add_argument("--title")
    p.set_defaults(run=seed)
    p = sub.add_parser("order", help="a signed order from a storefront")
    p.add_argument("sku")
    p.add_argument("--qty", type=int, default=1)
    p.add_argument("--price", default="19.99")
    p.add_argument("--channel", choices=["native", "shopify", "woocommerce"], default="native")
    p.add_argument("--unpaid", action="store_true")
    p.add_argument("--id", help="the storefront's order id (native external_id); default: a new one")
    p.set_defaults(run=order)
    p = sub.add_parser("show", help="an order, as an operator sees it")
    p.add_argument("order_id")
    p.set_defaults(run=show)
    p = sub.add_parser("list", help="orders, newest first")
    p.add_argument("--status")
    p.set_defaults(run=list_orders)
    p = sub.add_parser("requests", help="read a 3PL's queue (fulfillment and cancellation requests)")
    p.add_argument("--provider", default="tpl-east")
    p.set_defaults(run=requests)
    p = sub.add_parser("tpl", help="answer as a 3PL on the inbound queue")
    p.add_argument("event", choices=["accepted", "shipped", "delivered"])
    p.add_argument("shipment_id")
    p.add_argument("--provider", default="tpl-east")
    p.add_argument("--carrier", default="usps")
    p.add_argument("--tracking", default="9400100000000000000001")
    p.set_defaults(run=tpl)
    p = sub.add_parser("scan", help="a carrier's tracking update (signed AfterShip webhook)")
    p.add_argument("tracking")
    p.add_argument("--carrier", default="usps")
    p.add_argument("--status", choices=["in_transit", "out_for_delivery", "delivered"], default="in_transit")
    p.set_defaults(run=scan)
    args = parser.parse_args(argv)
    args.run(Stack(args.state_dir), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
