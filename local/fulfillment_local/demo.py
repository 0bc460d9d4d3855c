"""The demo: the whole stack on this machine, driven by simulated storefronts, operators, 3PLs and
carriers, then checked from the outside.

    python -m fulfillment_local.demo [--orders 200] [--chaos] [--fault-rate 0.1] [--duplicates]
                                     [--seed 7] [--rate 10] [--keep-running] [--json summary.json]

It starts the local runtime from template.yaml, seeds a catalog and stock through the admin API,
has the storefronts send the orders (Shopify, WooCommerce and native, with redeliveries, late
payments, cancellations and problem orders), restocks scarce SKUs mid-run, lets the 3PLs, the
in-house warehouse and the carriers do their part, waits until nothing moves any more, and prints
a summary and the result of the invariant checks. It exits 1 if any check fails.

Every peer uses only public contracts (HTTP routes, its own SQS queue, the inbound queue). The
invariant checker is the one exception: it scans the table, as a test would.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3

from .cfn import REGION, load_yaml
from .chaos import Chaos
from .invariants import check, scan_all
from .peers.base import HttpClient, Scheduler, peer_senders, read_secret
from .peers.carrier import Carrier, CarrierConfig
from .peers.catalog import RESTOCKS, initial_stock, products
from .peers.customer import CustomerConfig, Customers
from .peers.events import EventCollector
from .peers.operator import Operator
from .peers.returner import ReturnerConfig, Returners
from .peers.storefront import SHOPIFY_SHOP, WOO_SOURCE, Storefront, StorefrontConfig, woocommerce_source
from .peers.tpl import ThirdPartyLogistics, TplConfig
from .peers.warehouse import InHouseWarehouse
from .stack import LocalStack
from .summary import RunData, render, scenario_checks

log = logging.getLogger("fulfillment_local.demo")

DEFAULT_TEMPLATE = Path("template.yaml")


@dataclass
class DemoOptions:
    orders: int = 200
    rate: float = 10.0  # orders per second
    chaos: bool = False
    fault_rate: float | None = None  # None: 0.1 with --chaos, else 0
    duplicates: bool = False  # every SQS message and webhook delivered twice (no faults)
    seed: int = 7
    keep_running: bool = False
    port: int = 0
    concurrency: int = 4
    preload: bool | None = None  # fork workers from a preloaded server (fast, not Lambda's cold starts; see zygote)
    timeout: float = 900.0  # give up waiting for the run to settle after this long
    template: Path = DEFAULT_TEMPLATE
    state_dir: Path | None = None
    time_scale: float = 1.0  # multiplies every peer delay (tests use less than 1)
    progress_every: float = 5.0
    quiet: bool = False
    json_path: Path | None = None
    ack_timeout: int = 60  # AckTimeoutSeconds for the run: how long before an unanswered request is re-sent
    delay_after: int = 45  # DelayAfterSeconds for the run: how long a silent parcel takes to be "delayed"
    late_parcels: float = 0.02  # parcels with no scan for longer than delay_after (ShipmentDelayed)
    unpaid_expiry: int = 60  # UnpaidExpirySeconds for the run: unpaid orders are cancelled after this
    lost_requests: float = 0.0  # requests a 3PL loses once (the backend re-sends after ack_timeout)
    partial_shipments: float = 0.05  # multi-line 3PL shipments that leave in two parcels, the second later
    return_window: float = 90.0  # ReturnWindowDays for the run, in seconds: some customers come back too late

    @property
    def effective_fault_rate(self) -> float:
        if self.fault_rate is not None:
            return self.fault_rate
        return 0.1 if self.chaos else 0.0

    @property
    def effective_return_window(self) -> float:
        """Chaos slows the emulator down: customers get to their returns later, so the window is longer."""
        return self.return_window * (3 if self.chaos else 1)

    @property
    def doubled(self) -> bool:
        return self.chaos or self.duplicates


@dataclass
class DemoResult:
    ok: bool
    report: str
    checks: dict[str, list[str]]
    statuses: dict[str, int]
    timings: dict[str, float]
    events: dict[str, int]
    aws_calls_per_order: float
    write_units_per_order: float
    stats: dict[str, Any] = field(default_factory=dict)
    run: RunData | None = None


# ====================================================================== the run
class Demo:
    def __init__(self, stack: LocalStack, options: DemoOptions, out: TextIO | None = None) -> None:
        self.stack = stack
        self.options = options
        self.out = out or sys.stdout
        outputs = stack.outputs
        self.locations = locations(stack)
        providers = [
            loc
            for loc in self.locations
            if loc.get("kind") in ("3pl", "dropship") and provider_queue_output(loc["provider"]) in outputs
        ]
        self.stock_locations = [loc["id"] for loc in self.locations if loc.get("kind") != "dropship"]
        dropship = next((loc["id"] for loc in providers if loc.get("kind") == "dropship"), None)
        self.products = products(dropship=dropship is not None)
        self.dropship_location = dropship
        self.capabilities = {
            "intake": "OrderIntakeFunction" in stack.functions,
            "reservation": "StockReservationFunction" in stack.functions,
            "dispatch": "DispatchFunction" in stack.functions and bool(providers),
            "tracking": "TrackingUpdatesFunction" in stack.functions and "InboundQueueUrl" in outputs,
            "carrier_webhooks": stack.has_route("POST", "/webhooks/tracking/easypost"),
            "in_house": stack.has_route("GET", "/warehouse/{location}/picklist"),
            "timers": "TimersFunction" in stack.functions,
            "dropship": dropship is not None,
            "digital": stack.has_route("GET", "/downloads/{token}"),
            "returns": stack.has_route("POST", "/orders/{order_id}/returns"),
        }
        self.capabilities["providers"] = self.capabilities["dispatch"] and self.capabilities["tracking"]
        self.scheduler = Scheduler(workers=24)
        scale = options.time_scale
        secrets = self._secrets()
        self.admin_http = HttpClient(
            stack.api_url, seed=options.seed, default_headers={"Authorization": f"Bearer {secrets['admin']}"}
        )
        self.operator = Operator(self.admin_http, self.scheduler, seed=options.seed)
        doubled = options.doubled
        self.storefront = Storefront(
            HttpClient(stack.api_url, seed=options.seed),
            self.scheduler,
            secrets,
            StorefrontConfig(rate=options.rate, seed=options.seed, duplicate_all=doubled),
            operator=self.operator,
            products=self.products,
        )
        self.carrier: Carrier | None = None
        if self.capabilities["carrier_webhooks"]:
            self.carrier = Carrier(
                HttpClient(stack.api_url, seed=options.seed),
                self.scheduler,
                secrets,
                CarrierConfig(
                    first_scan=(0.8 * scale, 2.0 * scale),
                    step=(0.6 * scale, 1.6 * scale),
                    duplicate_rate=0.3 if doubled else 0.05,
                    shuffle=options.chaos,
                    late=options.late_parcels if self.capabilities["timers"] else 0.0,
                    late_seconds=options.delay_after + 15,
                    seed=options.seed,
                ),
            )
        self.tpls: list[ThirdPartyLogistics] = []
        if self.capabilities["providers"]:
            for loc in providers:
                provider, location = loc["provider"], loc["id"]
                config = TplConfig(
                    accept_delay=(0.3 * scale, 1.5 * scale),
                    ship_delay=(1.0 * scale, 3.0 * scale),
                    reject_rate=0.05 if options.chaos else 0.03,
                    duplicate_rate=0.3 if doubled else 0.05,
                    reorder=options.chaos,
                    lost_rate=options.lost_requests if self.capabilities["timers"] else 0.0,
                    partial_rate=options.partial_shipments,
                    seed=options.seed,
                )
                sqs = stack.boto3_client(
                    "sqs", aws_access_key_id=provider, aws_secret_access_key="3pl-secret", aws_session_token=None
                )
                self.tpls.append(
                    ThirdPartyLogistics(
                        provider,
                        location,
                        sqs=sqs,
                        request_queue_url=outputs[provider_queue_output(provider)],
                        inbound_queue_url=outputs["InboundQueueUrl"],
                        scheduler=self.scheduler,
                        carrier=self.carrier,
                        config=config,
                        tracks_stock=loc.get("kind") != "dropship",
                    )
                )
        self.warehouse: InHouseWarehouse | None = None
        in_house = next((loc["id"] for loc in self.locations if loc.get("kind") == "in_house"), None)
        if self.capabilities["in_house"] and in_house:
            self.warehouse = InHouseWarehouse(
                in_house,
                self.admin_http,
                self.scheduler,
                self.carrier,
                pick_delay=(0.5 * scale, 2.0 * scale),
                seed=options.seed,
                ship_twice=options.chaos,
            )
        self.events = EventCollector(
            stack.boto3_client(
                "sqs", aws_access_key_id="email-service", aws_secret_access_key="x", aws_session_token=None
            ),
            outputs["CustomerNotificationsQueueUrl"],
        )
        self.customers: Customers | None = None
        if self.capabilities["digital"]:
            self.customers = Customers(
                self.events,
                self.scheduler,
                CustomerConfig(seed=options.seed, exact=not options.effective_fault_rate),
                reissue=self.operator.reissue_download,
            )
        self.returners: Returners | None = None
        if self.capabilities["returns"]:
            self.returners = Returners(
                HttpClient(stack.api_url, seed=options.seed),
                self.events,
                self.scheduler,
                ReturnerConfig(seed=options.seed, window_seconds=options.effective_return_window),
                in_house=in_house,
                receive_in_house=self.operator.receive_return,
            )
        self._inspector = stack.boto3_client(
            "sqs", aws_access_key_id="demo", aws_secret_access_key="x", aws_session_token=None
        )
        self._stop = threading.Event()
        self._operator_thread = threading.Thread(target=self._operator_loop, name="operator", daemon=True)
        self.timings: dict[str, float] = {}
        self._started = 0.0

    def _secrets(self) -> dict[str, str]:
        """Signing secrets as an integrator would read them: from Secrets Manager, by the ARNs in the outputs."""
        sm = self.stack.boto3_client(
            "secretsmanager", aws_access_key_id="integrator", aws_secret_access_key="x", aws_session_token=None
        )
        names = {
            "shopify": "ShopifyWebhookSecretArn",
            "woocommerce": "WooCommerceWebhookSecretArn",
            "native": "NativeWebhookSecretArn",
            "admin": "AdminApiSecretArn",
            "easypost": "EasyPostWebhookSecretArn",
            "aftership": "AfterShipWebhookSecretArn",
        }
        shops = {"shopify": SHOPIFY_SHOP, "woocommerce": woocommerce_source(WOO_SOURCE)}
        return {
            key: read_secret(sm, self.stack.outputs[output], shops.get(key))
            for key, output in names.items()
            if output in self.stack.outputs
        }

    # ------------------------------------------------------------------ phases
    def run(self) -> DemoResult:
        self._started = time.monotonic()
        self._say(
            f"stack up at {self.stack.api_url}; capabilities: "
            + ", ".join(k for k, v in self.capabilities.items() if v)
        )
        self.seed()
        self.stack.reset_counters()  # per-order numbers exclude the setup
        setup_done = time.monotonic()
        self.events.start()
        if self.customers is not None:
            self.customers.start()
        if self.returners is not None:
            self.returners.start()
        for tpl in self.tpls:
            tpl.start()
        if self.warehouse is not None:
            self.warehouse.start()
        self.storefront.plan(self.options.orders)
        self.storefront.start()
        self._schedule_restocks()
        self._operator_thread.start()
        progress = Progress(self, self.options.progress_every, quiet=self.options.quiet)
        progress.start()
        try:
            self._wait(lambda: all(p.sent_at is not None for p in self.storefront.orders), "orders sent")
            sent = time.monotonic()
            self.settle()
        finally:
            progress.stop()
        settled = time.monotonic()
        self.timings = {
            "setup": setup_done - self._started,
            "drive": sent - setup_done,
            "settle": settled - sent,
            "total": settled - self._started,
        }
        return self.collect()

    def seed(self) -> None:
        counts = {pair: units for pair, units in initial_stock().items() if pair[1] in self.stock_locations}
        bucket = self.stack.outputs.get("DigitalAssetsBucketName")
        if bucket:  # the shop uploads its digital goods to the private bucket (aws s3 cp, in real life)
            s3 = self.stack.boto3_client("s3", aws_access_key_id="shop", aws_secret_access_key="x")
            for product in (p for p in self.products if p.digital):
                s3.put_object(Bucket=bucket, Key=product.asset_key, Body=product.content)
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda p: self.operator.put_product(p, dropship_location=self.dropship_location), self.products
                )
            )
            list(pool.map(lambda kv: self.operator.set_stock(kv[0][0], kv[0][1], kv[1]), counts.items()))
        for tpl in self.tpls:
            for (sku, location), units in counts.items():
                if location == tpl.location:
                    tpl.ledger[sku] += units
        self._say(
            f"seeded {len(self.products)} SKUs and {sum(counts.values())} units over "
            f"{', '.join(self.stock_locations)}"
            + (f"; dropship from {self.dropship_location}" if self.dropship_location else "")
        )

    def _schedule_restocks(self) -> None:
        span = self.options.orders / self.options.rate
        for n, (fraction, sku, location, units) in enumerate(RESTOCKS):
            if location not in self.stock_locations:
                continue

            def receive(sku: str = sku, location: str = location, units: int = units, n: int = n) -> None:
                applied = self.operator.receive(
                    sku, location, units, delivery_id=f"delivery-{self.options.seed}-{n}", twice=self.options.doubled
                )
                if applied:
                    for tpl in self.tpls:
                        if tpl.location == location:
                            tpl.ledger[sku] += units

            self.scheduler.after(fraction * span, receive, "operator.restock")

    def _operator_loop(self) -> None:
        while not self._stop.wait(3.0 * max(self.options.time_scale, 0.3)):
            try:
                self.operator.review_holds()
            except Exception as exc:  # noqa: BLE001 - an operator error is reported by the checks
                self.operator.anomalies.append(f"reviewing holds: {exc}")

    def busy_reasons(self) -> list[str]:
        reasons = []
        if not self.scheduler.idle():
            reasons.append(f"{self.scheduler.outstanding} peer actions pending")
        reasons += self.stack.busy_reasons()
        for tpl in self.tpls:
            depth = self._depth(tpl.request_queue_url)
            if depth or tpl.busy():
                reasons.append(f"{depth} requests for {tpl.provider}")
            lost = [j for j in tpl.jobs.values() if j.lost_once]
            if lost:
                reasons.append(f"{len(lost)} lost requests waiting for the backend's re-send")
        if self.customers is not None or self.returners is not None:
            unread = self._depth(self.stack.outputs["CustomerNotificationsQueueUrl"])
            unread += self.customers.pending() if self.customers is not None else 0
            unread += self.returners.pending() if self.returners is not None else 0
            if unread:
                reasons.append(f"{unread} customer events not acted on yet")
        if self.warehouse is not None and self.warehouse.pending():
            reasons.append(f"{self.warehouse.pending()} in-house shipments being picked")
        return reasons

    def settle(self) -> None:
        """Wait until nothing moves: peers idle, stack idle, provider queues empty - twice in a row,
        with the operators' and the warehouse's last passes in between."""
        deadline = time.monotonic() + self.options.timeout
        quiet_rounds = 0
        while True:
            reasons = self.busy_reasons()
            if not reasons:
                acted = self.operator.review_holds()
                picked = self.warehouse.poll_once() if self.warehouse is not None else 0
                quiet_rounds = 0 if (acted or picked) else quiet_rounds + 1
                if quiet_rounds >= 2:
                    return
            else:
                quiet_rounds = 0
            if time.monotonic() > deadline:
                raise TimeoutError(f"the run did not settle within {self.options.timeout:.0f} s: {reasons}")
            time.sleep(0.3)

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.options.timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for: {what}")
            time.sleep(0.2)

    def _depth(self, queue_url: str) -> int:
        attributes = self._inspector.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )
        return sum(int(v) for v in attributes["Attributes"].values())

    # ------------------------------------------------------------------ results
    def collect(self) -> DemoResult:
        started = time.monotonic()
        self.events.drain()
        stats = self.stack.stats()
        plans = self.storefront.orders
        views: dict[str, dict[str, Any]] = {}
        ids = sorted({p.order_id for p in plans if p.order_id})
        with ThreadPoolExecutor(8) as pool:
            for order_id, view in zip(ids, pool.map(self.operator.order, ids), strict=True):
                views[order_id] = view
        inventory = {}
        pairs = sorted(
            {(p.sku, loc) for p in self.products if not p.digital and not p.dropship for loc in self.stock_locations}
        )
        with ThreadPoolExecutor(8) as pool:
            for pair, level in zip(pairs, pool.map(lambda pl: self.operator.inventory(*pl), pairs), strict=True):
                inventory[pair] = level
        ledgers = {}
        for tpl in self.tpls:
            if tpl.tracks_stock:
                ledgers[tpl.location] = tpl.send_snapshot(sorted(tpl.ledger))  # end-of-day count, also sent
        if self.tpls:
            try:
                self.stack.wait_idle(timeout=60)
            except TimeoutError as exc:
                log.warning("after the snapshots: %s", exc)
        dynamodb = boto3.resource(
            "dynamodb",
            endpoint_url=self.stack.endpoint_url,
            region_name=REGION,
            aws_access_key_id="invariant-checker",
            aws_secret_access_key="x",
        )
        items = scan_all(dynamodb.Table(self.stack.outputs["TableName"]))
        events = self.events.snapshot()
        # Without injected crashes each occurrence is published once; with them, a repeated publish
        # (same event id) is allowed by the contract and consumers deduplicate.
        report = check(items, events, crashes=bool(self.options.effective_fault_rate))
        run = RunData(
            orders_planned=self.options.orders,
            options=_jsonable(asdict(self.options)),
            capabilities=self.capabilities,
            timings=self.timings,
            plans=plans,
            views=views,
            events=events,
            stats=stats,
            dlqs=self._dead_letters(stats),
            invariants=report,
            inventory=inventory,
            ledgers=ledgers,
            function_names=sorted(self.stack.functions),
            peers={
                "storefront": self.storefront,
                "operator": self.operator,
                "tpls": self.tpls,
                "warehouse": self.warehouse,
                "carrier": self.carrier,
                "customers": self.customers,
                "returners": self.returners,
                "scheduler": self.scheduler,
            },
        )
        self.timings["collect"] = time.monotonic() - started
        checks = scenario_checks(run)
        text = render(run, checks)
        orders = max(len(views), 1)
        functions = set(self.stack.functions)
        calls = sum(
            n for caller, ops in stats["aws_calls_by_caller"].items() if caller in functions for n in ops.values()
        )
        units = sum(
            t["units"] + t["index_units"]
            for caller, ops in stats["dynamodb_writes"].items()
            if caller in functions
            for t in ops.values()
        )
        return DemoResult(
            ok=all(c.ok for c in checks),
            report=text,
            checks={c.name: c.problems for c in checks},
            statuses=dict(Counter(v["status"] for v in views.values())),
            timings=self.timings,
            events=dict(Counter(e.get("detail-type") for e in self.events.unique())),
            aws_calls_per_order=calls / orders,
            write_units_per_order=units / orders,
            stats=stats,
            run=run,
        )

    def _dead_letters(self, stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {}
        for logical_id, depth in stats.get("dlq_depths", {}).items():
            samples: list[str] = []
            if depth:
                url = self.stack.physical_id(logical_id)
                messages = self._inspector.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
                ).get("Messages", [])
                for message in messages:
                    reason = (message.get("MessageAttributes") or {}).get("reason", {}).get("StringValue")
                    if reason is None:
                        try:
                            body = json.loads(message["Body"])
                            reason = body.get("error") or body.get("requestContext", {}).get("condition")
                        except (ValueError, AttributeError):
                            reason = None
                    samples.append(f"{reason or 'no reason attribute'} | {message['Body'][:160]}")
            out[logical_id] = {"depth": depth, "samples": samples}
        return out

    # ------------------------------------------------------------------ lifecycle
    def stop_peers(self) -> None:
        self._stop.set()
        if self._operator_thread.is_alive():
            self._operator_thread.join(timeout=10)
        for tpl in self.tpls:
            tpl.stop()
        if self.warehouse is not None:
            self.warehouse.stop()
        if self.customers is not None:
            self.customers.stop()
        if self.returners is not None:
            self.returners.stop()
        self.events.stop()
        self.scheduler.stop()

    def _say(self, text: str) -> None:
        if not self.options.quiet:
            print(f"[{time.monotonic() - self._started:6.1f}s] {text}", file=self.out, flush=True)


class Progress:
    """A status line: rewritten in place on a terminal, one line every few seconds otherwise (CI logs)."""

    def __init__(self, demo: Demo, every: float, *, quiet: bool = False) -> None:
        self.demo = demo
        self.every = every
        self.quiet = quiet
        self.tty = demo.out.isatty() if hasattr(demo.out, "isatty") else False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def start(self) -> None:
        if not self.quiet:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.tty and not self.quiet:
            print(file=self.demo.out, flush=True)

    def _run(self) -> None:
        interval = 1.0 if self.tty else self.every
        while not self._stop.wait(interval):
            try:
                line = self.line()
            except Exception as exc:  # noqa: BLE001 - progress must never break the run
                line = f"(progress unavailable: {exc})"
            if self.tty:
                print("\r\x1b[2K" + line[: os.get_terminal_size().columns - 1], end="", file=self.demo.out, flush=True)
            else:
                print(line, file=self.demo.out, flush=True)

    def line(self) -> str:
        demo = self.demo
        elapsed = time.monotonic() - demo._started
        plans = demo.storefront.orders
        sent = sum(1 for p in plans if p.sent_at is not None)
        stored = sum(1 for p in plans if p.order_id)
        events = demo.events.by_type()
        functions = {name: runtime.stats() for name, runtime in demo.stack.functions.items()}
        invocations = sum(f["invocations"] for f in functions.values())
        errors = sum(f["errors"] for f in functions.values())
        shipped_requests = sum(t.received.get("fulfillment_request", 0) for t in demo.tpls)
        parts = [
            f"[{elapsed:6.1f}s] orders {sent}/{len(plans)} sent, {stored} stored",
            f"on hold {events.get('OrderOnHold', 0)}, backordered {events.get('OrderBackordered', 0)}",
        ]
        if demo.capabilities["providers"]:
            parts.append(f"3PL requests {shipped_requests}")
        parts.append(
            f"shipped {events.get('OrderShipped', 0)}, delivered {events.get('OrderDelivered', 0)}, "
            f"cancelled {events.get('OrderCancelled', 0)}"
        )
        parts.append(f"lambda {invocations} inv/{errors} err")
        parts.append(f"peers pending {demo.scheduler.outstanding}")
        return " | ".join(parts)


# ====================================================================== entry points
def template_parameters(template: Path, options: DemoOptions) -> dict[str, str]:
    declared = (load_yaml(template).get("Parameters") or {}).keys()
    wanted = {
        "AckTimeoutSeconds": str(options.ack_timeout),
        "DelayAfterSeconds": str(options.delay_after),
        "UnpaidExpirySeconds": str(options.unpaid_expiry),
        "ReturnWindowDays": f"{options.effective_return_window / 86400:.8f}",
        "ProviderSenders": json.dumps(peer_senders(load_yaml(template))),
    }
    return {k: v for k, v in wanted.items() if k in declared}


def locations(stack: LocalStack) -> list[dict[str, Any]]:
    """The stock locations the template configures (the Locations parameter), with their providers."""
    try:
        return list(json.loads(str(stack.template.parameters.get("Locations") or "[]")))
    except ValueError:
        return []


def provider_queue_output(provider: str) -> str:
    """tpl-east -> ProviderTplEastQueueUrl: the output naming a provider's own request queue."""
    return "Provider" + "".join(part.capitalize() for part in provider.split("-")) + "QueueUrl"


def run_demo(options: DemoOptions, out: TextIO | None = None) -> DemoResult:
    out = out or sys.stdout
    template = options.template.resolve()
    chaos = None
    if options.effective_fault_rate or options.doubled:
        chaos = Chaos(
            fault_rate=options.effective_fault_rate,
            duplicate_sqs=1.0 if options.doubled else 0.0,
            reorder=options.chaos,
            seed=options.seed,
        )
    stack = LocalStack(
        template,
        port=options.port,
        moto_port=options.port + 1 if options.port else 0,
        concurrency=options.concurrency,
        retry_delay_seconds=1.0,
        chaos=chaos,
        parameters=template_parameters(template, options),
        state_dir=options.state_dir or template.parent / ".local" / "demo",
        schedule_speedup=6.0,  # the timers' rate(1 minute) fires every 10 s
        preload=options.preload,
    )
    with stack:
        demo = Demo(stack, options, out)
        try:
            result = demo.run()
        finally:
            if not options.keep_running:
                demo.stop_peers()
        print(result.report, file=out, flush=True)
        if options.json_path:
            options.json_path.write_text(json.dumps(_json_summary(result), indent=2, default=str) + "\n")
        if options.keep_running:
            keep_running(stack, demo, result, out)
            demo.stop_peers()
    return result


def keep_running(stack: LocalStack, demo: Demo, result: DemoResult, out: TextIO) -> None:
    admin = demo.admin_http.default_headers["Authorization"]
    sample = next((p for p in demo.storefront.orders if p.access_token), None)
    print(
        f"\nThe stack keeps running (the 3PLs, the warehouse and the carriers too). Ctrl-C to stop.\n"
        f"  HTTP API      {stack.api_url}\n"
        f"  AWS endpoint  {stack.endpoint_url}  (region {REGION}, any credentials)\n"
        f"  outputs       {stack.outputs_file}\n"
        f"  logs          {stack.state_dir / 'logs'}/<Function>.log\n\n"
        f"  curl -s -H 'Authorization: {admin}' "
        f"'{stack.api_url}/orders?status=delivered&limit=5'",
        file=out,
    )
    received = [e["detail"] for e in demo.events.snapshot() if e.get("detail-type") == "OrderReceived"]
    status_url = next((d.get("status_url") or d.get("detail", {}).get("status_url") for d in received), None)
    if sample is not None:
        print(f"  curl -s '{stack.api_url}/orders/{sample.order_id}?token={sample.access_token}'", file=out)
    elif status_url:
        print(f"  curl -s '{status_url}'   # a customer's status link, from its OrderReceived event", file=out)
    print(
        f"  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION={REGION} aws --endpoint-url "
        f"{stack.endpoint_url} dynamodb scan --table-name {stack.outputs['TableName']} --max-items 5",
        file=out,
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping...", file=out, flush=True)


def _json_summary(result: DemoResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "timings": result.timings,
        "statuses": result.statuses,
        "events": result.events,
        "checks": result.checks,
        "aws_calls_per_order": result.aws_calls_per_order,
        "write_units_per_order": result.write_units_per_order,
        "functions": result.stats.get("functions"),
        "dynamodb_writes": result.stats.get("dynamodb_writes"),
        "aws_calls_by_caller": result.stats.get("aws_calls_by_caller"),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def parse_args(argv: list[str] | None = None) -> DemoOptions:
    parser = argparse.ArgumentParser(
        prog="python -m fulfillment_local.demo",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=200, help="orders the storefronts send (default 200)")
    parser.add_argument("--rate", type=float, default=10.0, help="orders per second (default 10)")
    parser.add_argument(
        "--chaos",
        action="store_true",
        help="10%% of invocations fail before or after their writes, every SQS message and webhook "
        "is delivered twice, batches are shuffled, 3PLs and carriers duplicate and reorder, "
        "5%% of fulfillment requests are rejected",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=None,
        help="probability an invocation fails (default 0.1 with --chaos, else 0)",
    )
    parser.add_argument(
        "--duplicates",
        action="store_true",
        help="every SQS message and webhook delivered twice, without injected faults",
    )
    parser.add_argument("--seed", type=int, default=7, help="makes the scenario and the chaos reproducible")
    parser.add_argument(
        "--partial-shipments", type=float, default=0.05, help="share of multi-line 3PL shipments sent in two parcels"
    )
    parser.add_argument("--keep-running", action="store_true", help="leave the stack up afterwards (Ctrl-C stops)")
    parser.add_argument("--port", type=int, default=None, help="HTTP API port (default: any; 3000 with --keep-running)")
    parser.add_argument("--concurrency", type=int, default=4, help="execution environments per function (default 4)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the run to settle")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--state-dir", type=Path, default=None, help="logs and outputs (default .local/demo)")
    parser.add_argument("--json", dest="json_path", type=Path, default=None, help="also write the summary as JSON")
    parser.add_argument("--progress-every", type=float, default=5.0, help="seconds between progress lines (no TTY)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    port = args.port if args.port is not None else (3000 if args.keep_running else 0)
    return DemoOptions(
        orders=args.orders,
        rate=args.rate,
        chaos=args.chaos,
        fault_rate=args.fault_rate,
        duplicates=args.duplicates,
        seed=args.seed,
        keep_running=args.keep_running,
        port=port,
        concurrency=args.concurrency,
        timeout=args.timeout,
        template=args.template,
        state_dir=args.state_dir,
        json_path=args.json_path,
        progress_every=args.progress_every,
        quiet=args.quiet,
        partial_shipments=args.partial_shipments,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if not options.template.exists():
        print(f"no {options.template} here: run from the project root or pass --template", file=sys.stderr)
        return 2
    try:
        result = run_demo(options)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except TimeoutError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
