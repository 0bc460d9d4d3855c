"""What a million orders cost, and what 1,000 orders a second need, from one demo run's measured counts.

Every figure here is a measured count per order (AWS calls by operation, write units, records per function,
events, API requests, download clicks) times a list price, or divided into a rate. What is *not* measured is
said where it is assumed: read units (from read calls), Lambda duration on AWS (from calls per invocation and
the CPU each record costs), and nothing at all for CloudWatch Logs or data transfer of downloaded files.

Prices: AWS list prices for us-east-1, on-demand, as published in 2025 (DynamoDB on-demand after the
November 2024 reduction). Check https://aws.amazon.com/pricing before quoting them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

PRICES = {
    "dynamodb_wru": 0.625 / 1e6,  # per write request unit
    "dynamodb_rru": 0.125 / 1e6,  # per read request unit
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "eventbridge_event": 1.00 / 1e6,  # custom events
    "apigw_rest_request": 3.50 / 1e6,  # REST API, first 333 million a month
    "s3_get": 0.0004 / 1e3,
}
# Read request units per read call (items are small, < 4 KB): a GetItem 1 (strongly consistent); a BatchGetItem
# reads 2-3 items of one order; a Query reads an order's partition or an index page (2).
READ_UNITS = {"GetItem": 1.0, "BatchGetItem": 2.5, "Query": 2.0, "Scan": 2.0}
# Duration on AWS: a DynamoDB/SQS call from Lambda in the same region takes ~6 ms; the rest is the CPU the
# handler spends (measured here per record with the emulator's time taken out, see `cpu_ms`).
AWS_CALL_MS = 6.0
LAMBDA_MIN_MS = 1.0
PARTITION_WCU_PER_SECOND = 1000
PARTITION_RCU_PER_SECOND = 3000
MEMORY_MB = 512


@dataclass
class FunctionLoad:
    name: str
    invocations: float  # per order, at the demo's rate (small batches)
    records: float  # per order: SQS messages, stream records (after filtering), API requests
    calls: float  # AWS calls per order
    cpu_ms_per_record: float  # warm handler CPU, the emulator's time excluded (the worker measures its own CPU)
    sdk_cpu_ms_per_record: float  # the part of it inside AWS SDK calls (serialising, signing, parsing)
    batch_size: int  # the template's BatchSize (1 for API functions)
    scheduled: bool = False  # runs on a schedule: its load does not grow with orders

    @property
    def ms_per_record_on_aws(self) -> float:
        per_record_calls = self.calls / self.records if self.records else 0.0
        return per_record_calls * AWS_CALL_MS + self.cpu_ms_per_record

    @property
    def invocations_at_volume(self) -> float:
        """Per order, when batches fill (at 1,000 orders/s they do)."""
        return self.records / self.batch_size if self.batch_size > 1 else self.records


def loads(
    stats: dict[str, Any], orders: int, batch_sizes: dict[str, int], scheduled: frozenset[str] = frozenset()
) -> list[FunctionLoad]:
    out = []
    records: Counter[str] = Counter()
    for key, source in stats.get("sqs_sources", {}).items():
        records[key.split(".")[0]] += source.get("messages", 0)
    for key, source in stats.get("stream_sources", {}).items():
        records[key.split(".")[0]] += source.get("records", 0) - source.get("filtered_out", 0)
    for name, fn in sorted(stats["functions"].items()):
        calls = sum(stats["aws_calls_by_caller"].get(name, {}).values())
        count = records[name] or fn["invocations"]
        out.append(
            FunctionLoad(
                name,
                fn["invocations"] / orders,
                count / orders,
                calls / orders,
                fn.get("warm_cpu_ms", 0.0) / fn["warm_records"] if fn.get("warm_records") else 0.0,
                fn.get("warm_sdk_cpu_ms", 0.0) / fn["warm_records"] if fn.get("warm_records") else 0.0,
                batch_sizes.get(name, 1),
                name in scheduled,
            )
        )
    return out


def _per_order(counter: dict[str, float], orders: int) -> dict[str, float]:
    return {k: v / orders for k, v in counter.items()}


def cost_per_million(
    stats: dict[str, Any],
    orders: int,
    events: int,
    downloads: int,
    wru: float,
    batch_sizes: dict[str, int],
    scheduled: frozenset[str] = frozenset(),
) -> dict[str, float]:
    """Dollars per million orders by service, from one run's counts (`wru` = write units per order)."""
    functions = set(stats["functions"])
    by_op: Counter[str] = Counter()
    for caller, ops in stats["aws_calls_by_caller"].items():
        if caller in functions:
            for op, n in ops.items():
                by_op[op.rsplit(".", 1)[-1]] += n
    per = _per_order(dict(by_op), orders)
    rru = sum(per.get(op, 0.0) * units for op, units in READ_UNITS.items())
    api_requests = stats.get("api", {}).get("requests", 0) / orders
    sqs_messages = sum(s.get("messages", 0) for s in stats.get("sqs_sources", {}).values()) / orders
    # Our sends, plus the event source's receive and delete: one each per batch (at volume, batches fill).
    sqs_requests = per.get("SendMessage", 0.0) + per.get("SendMessageBatch", 0.0) + 2 * sqs_messages / 10
    gb_seconds = 0.0
    invocations = 0.0
    for load in loads(stats, orders, batch_sizes, scheduled):
        if load.scheduled:
            continue  # a few runs a minute whatever the volume: pennies a month
        invocations += load.invocations_at_volume
        gb_seconds += load.records * load.ms_per_record_on_aws / 1000 * MEMORY_MB / 1024
    million = 1e6
    return {
        "DynamoDB writes": wru * PRICES["dynamodb_wru"] * million,
        "DynamoDB reads": rru * PRICES["dynamodb_rru"] * million,
        "Lambda requests": invocations * PRICES["lambda_request"] * million,
        "Lambda compute (arm64)": gb_seconds * PRICES["lambda_gb_second_arm64"] * million,
        "SQS": sqs_requests * PRICES["sqs_request"] * million,
        "EventBridge": events / orders * PRICES["eventbridge_event"] * million,
        "API Gateway (REST)": api_requests * PRICES["apigw_rest_request"] * million,
        "S3 download GETs": downloads / orders * PRICES["s3_get"] * million,
    }


def capacity(
    stats: dict[str, Any],
    orders: int,
    wru: float,
    rate: float,
    batch_sizes: dict[str, int],
    scheduled: frozenset[str] = frozenset(),
) -> list[str]:
    """What `rate` orders/s needs: records and concurrency per function, table write throughput."""
    lines = []
    for load in loads(stats, orders, batch_sizes, scheduled):
        if load.scheduled:
            lines.append(f"  {load.name:<26} scheduled: its runs do not grow with orders (concurrency 1)")
            continue
        records_per_s = load.records * rate
        invocation_ms = load.ms_per_record_on_aws * load.batch_size
        concurrency = load.invocations_at_volume * rate * invocation_ms / 1000
        lines.append(
            f"  {load.name:<26} {records_per_s:7.0f} records/s  batch {load.batch_size:>3}  "
            f"{load.ms_per_record_on_aws:5.1f} ms a record ({load.cpu_ms_per_record:4.1f} CPU)  "
            f"concurrency ~{max(1, math.ceil(concurrency)):>4}"
        )
    wcu = wru * rate
    lines.append(
        f"  table writes               {wcu:7.0f} WRU/s: >= {math.ceil(wcu / PARTITION_WCU_PER_SECOND)} partitions' "
        "worth (on-demand follows up to twice its previous peak: warm the table to this before a launch)"
    )
    return lines
