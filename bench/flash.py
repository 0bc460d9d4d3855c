"""A flash sale on one SKU, with its level on one item and sharded: conflicts and retries per reservation, and
what that means on AWS. Run on demand (bench/bench.py runs it too):

    .venv/bin/python bench/flash.py [--orders 500] [--units 300] [--shards 8] [--threads 16]

The reservations run in threads against the local emulator (moto, every request serialised, so a conditional
write that fails failed on what it read: a stale read, the only kind of conflict the emulator has). Counted from
the SDK's own events: transactions tried and refused per reservation, reads, and how the stock writes spread
over items. DynamoDB serves ~1,000 write units/s per partition; a reservation writes its stock item in a
transaction (2 units for an item under 1 KB), so one item takes ~500 reservations/s, and a SKU whose busiest
item takes a share s of the writes sustains ~500/s / s. It prints counts and ratios; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in ("local", "layers/fulfillment"):
    sys.path.insert(0, str(ROOT / folder))

PER_ITEM_RESERVATIONS = 500  # ~1,000 WCU/s per partition, 2 units per transactional write of a small item
LOCATIONS = '[{"id": "WH-EAST", "provider": "tpl-east", "kind": "3pl", "priority": 1}]'


@dataclass
class Counts:
    calls: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # refused transactions by reason
    stock_writes: Counter[str] = field(default_factory=Counter)  # attempted writes per stock item
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self.lock:
            self.calls[model.name] += 1
            if model.name == "TransactWriteItems":
                for item in params.get("TransactItems", []):
                    key = (item.get("Update") or item.get("Put") or item.get("ConditionCheck") or {}).get("Key")
                    pk, sk = (
                        (v if isinstance(v, str) else v.get("S", ""))
                        for v in ((key or {}).get(n, "") for n in ("PK", "SK"))
                    )
                    if sk.startswith("LOC#"):
                        self.stock_writes[f"{pk}/{sk}"] += 1

    def on_error(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        error = (parsed or {}).get("Error", {})
        if model.name == "TransactWriteItems" and error.get("Code"):
            reasons = [r.get("Code", "None") for r in parsed.get("CancellationReasons", [])]
            with self.lock:
                self.refused["/".join(sorted(set(reasons) - {"None"})) or error["Code"]] += 1


def _environment(endpoint: str, table: str) -> None:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",  # noqa: S105 (the emulator's)
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "TABLE_NAME": table,
        }
    )


def _create_table(client: Any, table: str) -> None:
    from fulfillment_local.template import SamTemplate

    props = SamTemplate(ROOT / "template.yaml").resources["FulfillmentTable"]["Properties"]
    client.create_table(
        TableName=table,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
            for index in props["GlobalSecondaryIndexes"]
        ],
    )


def run(table: str, orders: int, units: int, shards: int, threads: int) -> dict[str, Any]:
    """One sale in a fresh table: `orders` shoppers of one unit each, `units` on the shelf, the level on `shards`
    items. Returns what was counted."""
    from fulfillment.adapters import aws
    from fulfillment.adapters.store import DynamoStore
    from fulfillment.config import FraudRules, Settings, parse_locations
    from fulfillment.domain.model import Address, Channel, Customer, Line, LineKind, Order
    from fulfillment.domain.stock import Adjustment
    from fulfillment.services.intake import Intake
    from fulfillment.services.inventory import Inventory
    from fulfillment.services.reservation import Reservations
    from fulfillment.services.unit import Outcome

    sku = f"DROP-{shards}"
    settings = Settings(
        table_name=table,
        locations=parse_locations(LOCATIONS),
        allowed_payment_states=frozenset({"paid"}),
        fraud_rules=FraudRules(),
        public_api_url="https://bench.invalid",
    )
    store = DynamoStore(table)
    uow = store.unit()
    uow.put_catalog(sku, {"kind": "physical"}, "2026-11-01T09:00:00+00:00")
    uow.adjust_stock(Adjustment(sku, "WH-EAST", units, "count", "seed", "bench", "2026-11-01T09:00:00+00:00"))
    uow.commit()
    if shards > 1:
        Inventory(settings, store).set_shards(sku, "WH-EAST", shards)
    intake = Intake(settings, "bench-token-key", store)
    address = Address(name="A", line1="1 Way", city="Town", postal_code="12345", country="US")
    order_ids = [
        intake.accept(
            Order(
                order_id="",
                channel=Channel.NATIVE,
                shop="native",
                external_id=f"{sku}-{n}",
                currency="USD",
                lines=(Line(line_no=1, sku=sku, quantity=1, unit_price=Decimal("10"), kind=LineKind.PHYSICAL),),
                customer=Customer(email=f"c{n}@example.com"),
                shipping_address=address,
                payment_status="paid",
            ),
            now="2026-11-01T10:00:00+00:00",
        ).order_id
        for n in range(orders)
    ]

    counts = Counts()
    # On the SDK's session: every thread builds its own client from it (after this), each with these handlers.
    import boto3

    events = boto3._get_default_session()._session.get_component("event_emitter")
    events.register("before-parameter-build.dynamodb", counts.on_call)
    events.register("after-call.dynamodb", counts.on_error)
    aws.dynamodb.cache_clear()
    reservations = Reservations(settings, store)
    began = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            outcomes = Counter(pool.map(reservations.reserve, order_ids))
    finally:
        events.unregister("before-parameter-build.dynamodb", counts.on_call)
        events.unregister("after-call.dynamodb", counts.on_error)
    seconds = time.perf_counter() - began
    level = store.level(sku, "WH-EAST")
    reserved = sum(o.lines[0].reserved for o in (store.order(oid) for oid in order_ids) if o)
    return {
        "shards": shards,
        "outcomes": {str(k): v for k, v in outcomes.items()},
        "all_reserved": outcomes == Counter({Outcome.RESERVED: orders}),
        "reserved": reserved,
        "level": (level.on_hand, level.reserved, level.available),
        "seconds": seconds,
        "calls": dict(counts.calls),
        "refused": dict(counts.refused),
        "stock_writes": dict(counts.stock_writes),
    }


def report(result: dict[str, Any], orders: int) -> list[str]:
    calls, writes = result["calls"], result["stock_writes"]
    transactions = calls.get("TransactWriteItems", 0)
    refused = sum(result["refused"].values())
    busiest = max(writes.values()) / sum(writes.values()) if writes else 1.0
    reads = sum(v for k, v in calls.items() if k in ("GetItem", "BatchGetItem", "Query"))
    return [
        f"  level on {result['shards']} item(s): {result['reserved']} reserved of {orders} shoppers, level (on_hand,"
        f" reserved, available) = {result['level']}; outcomes {result['outcomes']}",
        f"    per reservation: {transactions / orders:.2f} transactions tried, {refused / orders:.2f} refused"
        f" ({', '.join(f'{k} {v}' for k, v in result['refused'].items()) or 'none'}), {reads / orders:.2f} reads",
        f"    stock writes over {len(writes)} item(s); the busiest takes {busiest:.0%} -> on AWS about"
        f" {PER_ITEM_RESERVATIONS / busiest:,.0f} reservations/s for the SKU (~{PER_ITEM_RESERVATIONS}/s an item)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--shards", type=int, default=32)
    parser.add_argument("--threads", type=int, default=10)
    args = parser.parse_args(argv)
    for line in flash_sale(args.orders, args.units, args.shards, args.threads):
        print(line)
    return 0


def flash_sale(orders: int, units: int, shards: int, threads: int) -> list[str]:
    from fulfillment_local.moto_server import SerialisedMotoServer

    server = SerialisedMotoServer().start()
    try:
        _environment(server.endpoint_url, "flash")
        from fulfillment.adapters import aws

        _create_table(aws.ddb_client(), "flash")
        lines = [f"== a flash sale: {orders} shoppers in {threads} threads, {units} units, one SKU and location"]
        for n in (1, shards):
            lines += report(run("flash", orders, units, n, threads), orders)
        return lines
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
