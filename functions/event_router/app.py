"""Event router: the table's only stream reader. Changes become work messages, history and customer events.

Records are routed one by one (pure), then their outputs go out in batches across the whole stream batch
(SendMessageBatch, PutEvents and BatchWriteItem take 10/10/25 entries a call): a batch of 100 records costs a
handful of calls instead of one per record. Powertools' batch processor works record by record, so this handler
reports partial failures itself, the same way: the first record with an output that did not go, and every record
after it, are retried (stream order is kept). Every output is idempotent (work messages, stable event ids,
history keyed by the change), so a retry repeats nothing that matters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from fulfillment import router, tokens
from fulfillment.adapters import messaging
from fulfillment.adapters.codecs.stock import StockChange
from fulfillment.adapters.secrets import first_secret
from fulfillment.adapters.store import DynamoStore
from fulfillment.config import settings
from fulfillment.contracts.messages import AllocateBackorders

logger = Logger()
metrics = Metrics()
COUNT_THREADS = 8  # SKUs counted at once (one UpdateItem each) in a batch that touches many


@cache
def _counters() -> ThreadPoolExecutor:
    """The threads that count SKUs side by side, kept for the environment's life: each builds its DynamoDB client
    once (per thread), not at every invocation."""
    return ThreadPoolExecutor(max_workers=COUNT_THREADS, thread_name_prefix="count")


@cache
def store() -> DynamoStore:
    return DynamoStore(settings().table_name)


def _count_stock(stock: Sequence[tuple[int, StockChange]]) -> tuple[int | None, dict[str, int]]:
    """Count the batch's stock changes into each SKU's available total (one conditional update per SKU): the index
    of the earliest record of a SKU whose count did not go, and the units waiting as backorders of each SKU counted
    (its catalog item says them in the update's answer)."""
    by_sku: dict[str, list[tuple[int, StockChange]]] = {}
    for n, change in stock:
        by_sku.setdefault(change.sku, []).append((n, change))
    backlogs: dict[str, int] = {}

    def count(sku: str) -> int | None:
        changes = by_sku[sku]
        try:
            backlog = store().count_stock_changes(sku, [c for _, c in changes])
        except Exception:  # noqa: BLE001 - its records (and every one after) are retried; counting twice is a no-op
            logger.exception("stock total not counted", sku=sku)
            return min(n for n, _ in changes)
        if backlog is not None:
            backlogs[sku] = backlog
        return None

    if len(by_sku) <= 1:
        failed = [count(sku) for sku in by_sku]
    else:  # a batch of many SKUs: their counts are independent items, so they go side by side
        failed = list(_counters().map(count, by_sku))
    return min((n for n in failed if n is not None), default=None), backlogs


def _waiting(work: list[tuple[int, Any]], backlogs: dict[str, int]) -> list[tuple[int, Any]]:
    """The work to send, less `allocate_backorders` for a SKU whose catalog item said, as this batch's stock was
    counted, that no units wait: nothing to serve (a backorder queued after that count grows the counter, and the
    router sends the allocation for that record)."""
    return [(n, m) for n, m in work if not (isinstance(m, AllocateBackorders) and backlogs.get(m.sku) == 0)]


@cache
def token_key() -> str:
    return first_secret("ORDER_TOKEN")


def _add_links(detail: dict[str, Any]) -> None:
    """Each download of a DownloadReady gets its link, signed with the current download key."""
    key = first_secret("DOWNLOAD_SIGNING")
    for download in (detail.get("detail") or {}).get("downloads") or []:
        token = tokens.download_token(download["entitlement_id"], int(download["link_version"]), key)
        download["url"] = settings().download_url(token)


def _first_failed(owners: Sequence[int], send: Callable[[], set[int]]) -> int | None:
    """Send one kind of output; the index of the earliest record whose output did not go."""
    if not owners:
        return None
    try:
        failed = send()
    except Exception:  # noqa: BLE001 - the whole call failed: every record that had output here is retried
        logger.exception("stream output failed")
        return min(owners)
    return min((owners[i] for i in failed), default=None)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = [DynamoDBRecord(raw) for raw in event.get("Records", [])]
    work: list[tuple[int, Any]] = []
    dispatch: list[tuple[int, Any]] = []
    digital: list[tuple[int, Any]] = []
    history: list[tuple[int, dict[str, Any]]] = []
    events: list[tuple[int, dict[str, Any]]] = []
    stock: list[tuple[int, StockChange]] = []
    for n, record in enumerate(records):
        stream = record.dynamodb
        if stream is None:
            continue
        routed = router.route(
            str(stream.keys["SK"]), stream.new_image or None, stream.old_image or None, stream.sequence_number or ""
        )
        work += [(n, m) for m in routed.messages]
        dispatch += [(n, m) for m in routed.dispatch]
        digital += [(n, m) for m in routed.digital]
        history += [(n, h) for h in routed.history]
        events += [(n, e) for e in routed.events]
        stock += [(n, c) for c in routed.stock]

    history = router.fold_history(history)
    work = router.distinct(work)
    config = settings()
    for _, detail in events:
        if router.needs_status_url(detail):
            detail["status_url"] = config.status_url(
                detail["order_id"], tokens.token_for(detail["order_id"], token_key())
            )
        if router.needs_download_urls(detail):
            _add_links(detail)
    not_counted, backlogs = _count_stock(stock)
    work = _waiting(work, backlogs)
    failures = [
        not_counted,
        _first_failed(
            [n for n, _ in work], lambda: messaging.send_batch(str(config.reservation_queue_url), [m for _, m in work])
        ),
        _first_failed(
            [n for n, _ in dispatch],
            lambda: messaging.send_batch(str(config.dispatch_queue_url), [m for _, m in dispatch]),
        ),
        _first_failed(
            [n for n, _ in digital],
            lambda: messaging.send_batch(str(config.digital_queue_url), [m for _, m in digital]),
        ),
        _first_failed(
            [n for n, _ in history], lambda: messaging.write_items(config.table_name, [h for _, h in history])
        ),
        _first_failed(
            [n for n, _ in events],
            lambda: messaging.publish([router.event_entry(d, str(config.event_bus_name)) for _, d in events]),
        ),
    ]
    first = min((f for f in failures if f is not None), default=None)
    done = len(records) if first is None else first
    for _, detail in (e for e in events if e[0] < done):
        logger.info(
            "customer event published", type=detail["type"], event_id=detail["event_id"], order_id=detail["order_id"]
        )
        metrics.add_metric(name=detail["type"], unit=MetricUnit.Count, value=1)
    if first is None:
        return {"batchItemFailures": []}
    return {
        "batchItemFailures": [
            {"itemIdentifier": r.dynamodb.sequence_number} for r in records[first:] if r.dynamodb is not None
        ]
    }
