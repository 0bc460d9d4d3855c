"""Lambda's SQS event source mapping: poll, batch, invoke, delete what succeeded.

Failed messages are made visible again after `retry_delay_seconds` (the queue's own visibility
timeout, e.g. 180 s, is far too slow locally); moto moves a message to the queue's DLQ when it is
received more than maxReceiveCount times, exactly like SQS redrive.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .cfn import REGION
from .chaos import Chaos
from .filtering import matches_any
from .functions import Activity, InvocationResult

log = logging.getLogger(__name__)

Invoker = Callable[[str, Any], InvocationResult]

ASYNC_MAX_ATTEMPTS = 3  # Lambda async invocation: the first try and 2 retries


@dataclass
class SqsSource:
    """One `Type: SQS` event of a function (values evaluated)."""

    function: str
    name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window: float = 0.0
    report_batch_item_failures: bool = False
    filters: list[dict[str, Any]] = field(default_factory=list)
    max_concurrency: int = 4
    fifo: bool = False
    # Internal queue standing in for Lambda's async invocation queue (EventBridge -> function):
    # one record per invocation, the message body is the event, retried twice, then dropped.
    async_invoke: bool = False


_IDLE_RECHECK_SECONDS = 0.25


class SqsPoller:
    def __init__(
        self,
        source: SqsSource,
        *,
        sqs: Any,
        invoke: Invoker,
        activity: Activity,
        chaos: Chaos | None,
        retry_delay_seconds: float,
        idle_poll_seconds: float = 0.1,
        signals: Any = None,
    ) -> None:
        self.source = source
        self._signals = signals  # moto_server.QueueSignals: wake on a send instead of re-polling
        self._sqs = sqs
        self._invoke = invoke
        self._activity = activity
        self._chaos = chaos
        self._retry_delay = max(0, int(round(retry_delay_seconds)))
        self._idle_poll = idle_poll_seconds
        self._stop = threading.Event()
        self._slots = threading.Semaphore(source.max_concurrency)
        self._executor = ThreadPoolExecutor(
            max_workers=source.max_concurrency, thread_name_prefix=f"sqs-{source.function}"
        )
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"sqs-poller-{source.function}-{source.name}"
        )
        self.batches = 0
        self.messages = 0
        self.filtered_out = 0
        self.failed_messages = 0
        self.dropped_async = 0

    # -- lifecycle
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._executor.shutdown(wait=True, cancel_futures=False)

    # -- polling
    def _run(self) -> None:
        idle = self._idle_poll / 8
        while not self._stop.is_set():
            self._slots.acquire()
            generation = self._signals.generation(self.source.queue_url) if self._signals else 0
            try:
                messages = self._receive_batch()
            except Exception:  # noqa: BLE001 - keep polling, like the real poller
                log.exception("%s: receive failed", self.source.queue_url)
                messages = []
            if not messages:
                self._slots.release()
                if self._signals is not None:
                    # Like a long poll: back as soon as something is sent, or after a while to pick
                    # up messages whose visibility timeout ran out (failed deliveries coming back).
                    self._signals.wait(self.source.queue_url, _IDLE_RECHECK_SECONDS, since=generation)
                else:
                    self._stop.wait(idle)
                    idle = min(self._idle_poll, idle * 2)
                continue
            idle = self._idle_poll / 8
            self._activity.begin()
            self._executor.submit(self._process_and_release, messages)

    def _receive_batch(self) -> list[dict[str, Any]]:
        size = 1 if self.source.async_invoke else self.source.batch_size
        deadline = time.monotonic() + self.source.batching_window
        batch: list[dict[str, Any]] = []
        while len(batch) < size and not self._stop.is_set():
            response = self._sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(10, size - len(batch)),
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            batch.extend(received)
            # Loosely MaximumBatchingWindowInSeconds: keep filling while messages keep coming.
            if not received or time.monotonic() >= deadline:
                break
        return batch

    def _process_and_release(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._process(messages)
        except Exception:  # noqa: BLE001 - a poller bug must not kill the thread pool silently
            log.exception("%s: batch processing failed", self.source.function)
        finally:
            self._activity.end()
            self._slots.release()

    def _process(self, messages: list[dict[str, Any]]) -> None:
        source = self.source
        records = [self._record(m) for m in messages]
        by_id = {m["MessageId"]: m for m in messages}

        if source.filters:
            kept = [r for r in records if matches_any(source.filters, _filter_view(r))]
            dropped = [by_id[r["messageId"]] for r in records if r not in kept]
            if dropped:  # Lambda deletes messages that match no filter
                self.filtered_out += len(dropped)
                self._delete(dropped)
            records = kept
            if not records:
                return

        if source.async_invoke:
            self._process_async(records[0], by_id[records[0]["messageId"]])
            return

        if self._chaos and not source.fifo:
            self._chaos.shuffle(records)
        self.batches += 1
        self.messages += len(records)
        ids = [r["messageId"] for r in records]

        deliveries = [lambda: self._invoke(source.function, {"Records": records})]
        if self._chaos and self._chaos.duplicate():
            duplicate = [dict(r, attributes=_bump_receive_count(r["attributes"])) for r in records]
            deliveries.append(lambda: self._invoke(source.function, {"Records": duplicate}))
        results = _run_concurrently(deliveries)

        # With duplicates, a message needs another try only if every delivery failed it.
        failed = set(ids)
        for result in results:
            failed &= self._failed_ids(result, ids)
        succeeded = [by_id[i] for i in ids if i not in failed]
        retry = [by_id[i] for i in ids if i in failed]
        self.failed_messages += len(retry)
        self._delete(succeeded)
        self._retry_later(retry)

    def _process_async(self, record: dict[str, Any], message: dict[str, Any]) -> None:
        try:
            event = json.loads(record["body"])
        except ValueError:
            event = record["body"]
        self.messages += 1
        result = self._invoke(self.source.function, event)
        if result.ok:
            self._delete([message])
        elif int(record["attributes"].get("ApproximateReceiveCount", "1")) >= ASYNC_MAX_ATTEMPTS:
            self.dropped_async += 1
            log.warning(
                "%s: async event dropped after %d attempts (%s: %s)",
                self.source.function,
                ASYNC_MAX_ATTEMPTS,
                result.error_type,
                result.error_message,
            )
            self._delete([message])
        else:
            self._retry_later([message])

    def _failed_ids(self, result: InvocationResult, ids: list[str]) -> set[str]:
        """Message ids that failed in one delivery, with Lambda's partial-batch-response rules."""
        if not result.ok:
            return set(ids)
        if not self.source.report_batch_item_failures:
            return set()
        payload = result.payload
        if payload is None or payload == {} or payload == "":
            return set()
        if not isinstance(payload, dict):
            return set(ids)
        failures = payload.get("batchItemFailures")
        if not failures:
            return set()
        failed: set[str] = set()
        for item in failures if isinstance(failures, list) else [None]:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in ids:
                log.warning("%s: invalid batchItemFailures %r; whole batch failed", self.source.function, item)
                return set(ids)
            failed.add(identifier)
        return failed

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for chunk in _chunks(messages, 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _retry_later(self, messages: list[dict[str, Any]]) -> None:
        for chunk in _chunks(messages, 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self._retry_delay,
                    }
                    for i, m in enumerate(chunk)
                ],
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: _message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.source.queue_arn,
            "awsRegion": REGION,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "messages": self.messages,
            "failed_messages": self.failed_messages,
            "filtered_out": self.filtered_out,
            "dropped_async": self.dropped_async,
        }


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    def b64(data: Any) -> str:
        return base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode()

    out: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [b64(v) for v in value.get("BinaryListValues") or []],
        "dataType": value.get("DataType"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = b64(value["BinaryValue"])
    return out


def _filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What SQS filters see: the record, with a JSON body parsed (a plain body stays a string)."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return dict(record, body=body) if isinstance(body, dict) else record


def _bump_receive_count(attributes: dict[str, Any]) -> dict[str, Any]:
    count = int(attributes.get("ApproximateReceiveCount", "1")) + 1
    return dict(attributes, ApproximateReceiveCount=str(count))


def _run_concurrently(calls: list[Callable[[], InvocationResult]]) -> list[InvocationResult]:
    if len(calls) == 1:
        return [calls[0]()]
    results: list[InvocationResult | None] = [None] * len(calls)

    def run(i: int) -> None:
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(calls))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
