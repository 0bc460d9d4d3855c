"""Lambda's DynamoDB Streams event source mapping, reading moto's dynamodbstreams API.

Per shard, in order, one batch at a time: records are filtered (FilterCriteria; non-matching
records are skipped for good), batched up to BatchSize and delivered. On failure the batch is
retried from the checkpoint (the first reported failure with ReportBatchItemFailures, else the
batch start), split in halves first with BisectBatchOnFunctionError, and after
MaximumRetryAttempts the remaining records are discarded with a failure record sent to the
OnFailure destination (SQS).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cfn import REGION
from .filtering import matches_any
from .functions import Activity, InvocationResult

log = logging.getLogger(__name__)

Invoker = Callable[[str, Any], InvocationResult]
_SQS_MAX_MESSAGE = 256 * 1024


@dataclass
class StreamSource:
    """One `Type: DynamoDB` event of a function (values evaluated)."""

    function: str
    function_arn: str
    name: str
    stream_arn: str
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 100
    batching_window: float = 0.0
    maximum_retry_attempts: int = -1
    maximum_record_age: int = -1
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    filters: list[dict[str, Any]] = field(default_factory=list)
    on_failure_queue_url: str | None = None


@dataclass
class _Shard:
    shard_id: str
    iterator: str
    buffer: deque[dict[str, Any]] = field(default_factory=deque)


class StreamPoller:
    def __init__(
        self,
        source: StreamSource,
        *,
        streams: Any,
        sqs: Any,
        invoke: Invoker,
        activity: Activity,
        retry_delay_seconds: float,
        idle_poll_seconds: float = 0.1,
    ) -> None:
        self.source = source
        self._streams = streams
        self._sqs = sqs
        self._invoke = invoke
        self._activity = activity
        self._retry_delay = retry_delay_seconds
        self._idle_poll = idle_poll_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._shards: dict[str, _Shard] = {}
        self._busy = False
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"stream-poller-{source.function}-{source.name}"
        )
        self.batches = 0
        self.records = 0
        self.filtered_out = 0
        self.retries = 0
        self.discarded = 0

    # -- lifecycle
    def start(self) -> None:
        self._discover_shards()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _discover_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self.source.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            if shard["ShardId"] in self._shards:
                continue
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.source.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType=self.source.starting_position,
            )["ShardIterator"]
            self._shards[shard["ShardId"]] = _Shard(shard["ShardId"], iterator)

    # -- idle detection
    def pending(self) -> bool:
        """True while records wait to be delivered (buffered, being delivered or not yet read)."""
        with self._lock:
            if self._busy or any(s.buffer for s in self._shards.values()):
                return True
            iterators = [s.iterator for s in self._shards.values()]
        for iterator in iterators:
            if self._streams.get_records(ShardIterator=iterator, Limit=1).get("Records"):
                return True
        return False

    # -- polling
    def _run(self) -> None:
        idle = self._idle_poll / 8
        while not self._stop.is_set():
            worked = False
            for shard in list(self._shards.values()):
                try:
                    worked |= self._poll_shard(shard)
                except Exception:  # noqa: BLE001 - keep polling, like the real poller
                    log.exception("%s: stream polling failed", self.source.function)
            if worked:
                idle = self._idle_poll / 8
            else:
                self._stop.wait(idle)
                idle = min(self._idle_poll, idle * 2)

    def _fetch(self, shard: _Shard) -> int:
        """Read new records into the shard's buffer (filtered). Returns how many were read."""
        response = self._streams.get_records(ShardIterator=shard.iterator, Limit=1000)
        records = response.get("Records", [])
        if not records:
            return 0  # moto's iterators do not expire: keep the current one while idle
        with self._lock:
            shard.iterator = response["NextShardIterator"]
            for raw in records:
                record = self._lambda_record(raw)
                if matches_any(self.source.filters, record):
                    shard.buffer.append(record)
                else:
                    self.filtered_out += 1
        return len(records)

    def _poll_shard(self, shard: _Shard) -> bool:
        with self._lock:
            self._busy = True
        try:
            read = self._fetch(shard) if len(shard.buffer) < self.source.batch_size else 0
            # Loosely MaximumBatchingWindowInSeconds: top the batch up while records keep coming.
            deadline = time.monotonic() + self.source.batching_window
            while read and len(shard.buffer) < self.source.batch_size and time.monotonic() < deadline:
                read = self._fetch(shard)
            if not shard.buffer:
                return False
            batch = [shard.buffer[i] for i in range(min(self.source.batch_size, len(shard.buffer)))]
            self._activity.begin()
            try:
                self._deliver(shard, batch)
            finally:
                self._activity.end()
            return True
        finally:
            with self._lock:
                self._busy = False

    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        """Deliver one batch until every record is processed or discarded (in order)."""
        self.batches += 1
        pending: deque[tuple[list[dict[str, Any]], int]] = deque([(batch, 0)])
        while pending and not self._stop.is_set():
            records, attempts = pending.popleft()
            self.records += len(records)
            result = self._invoke(self.source.function, {"Records": records})
            failed_at = self._failure_index(result, records)
            if failed_at is None:
                self._checkpoint(shard, len(records))
                continue
            self._checkpoint(shard, failed_at)
            remaining = records[failed_at:]
            attempts += 1
            limit = self.source.maximum_retry_attempts
            if 0 <= limit < attempts:
                self._discard(shard, remaining, result, attempts, "RetryAttemptsExhausted")
                continue
            if self._too_old(remaining[0]):
                self._discard(shard, remaining, result, attempts, "RecordAgeExceeded")
                continue
            self.retries += 1
            if not result.ok and self.source.bisect_on_error and len(remaining) > 1:
                middle = len(remaining) // 2
                pending.appendleft((remaining[middle:], attempts))
                pending.appendleft((remaining[:middle], attempts))
            else:
                pending.appendleft((remaining, attempts))
            self._stop.wait(min(self._retry_delay, 0.05 * 2 ** (attempts - 1)))

    def _checkpoint(self, shard: _Shard, count: int) -> None:
        with self._lock:
            for _ in range(count):
                shard.buffer.popleft()

    def _failure_index(self, result: InvocationResult, records: list[dict[str, Any]]) -> int | None:
        """None when the batch succeeded, else the index to retry from."""
        if not result.ok:
            return 0
        if not self.source.report_batch_item_failures:
            return None
        payload = result.payload
        if payload is None or payload == {} or payload == "":
            return None
        if not isinstance(payload, dict):
            return 0
        failures = payload.get("batchItemFailures")
        if not failures:
            return None
        positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(records)}
        indexes = []
        for item in failures if isinstance(failures, list) else [None]:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in positions:
                log.warning("%s: invalid batchItemFailures %r; whole batch failed", self.source.function, item)
                return 0
            indexes.append(positions[identifier])
        return min(indexes)

    def _too_old(self, record: dict[str, Any]) -> bool:
        max_age = self.source.maximum_record_age
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        return max_age >= 0 and isinstance(created, int | float) and time.time() - created > max_age

    def _discard(
        self,
        shard: _Shard,
        records: list[dict[str, Any]],
        result: InvocationResult,
        attempts: int,
        condition: str,
    ) -> None:
        """Retries exhausted: skip the records, tell the OnFailure destination."""
        self.discarded += len(records)
        self._checkpoint(shard, len(records))
        log.warning(
            "%s: %d stream records discarded after %d attempts (%s)",
            self.source.function,
            len(records),
            attempts,
            result.error_type or "batchItemFailures",
        )
        if not self.source.on_failure_queue_url:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        document: dict[str, Any] = {
            "requestContext": {
                "requestId": result.request_id,
                "functionArn": self.source.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"}
            | ({} if result.ok else {"functionError": "Unhandled"}),
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _iso(last["ApproximateCreationDateTime"]),
                "batchSize": len(records),
                "streamArn": self.source.stream_arn,
            },
            # Local extensions: why it failed and the records themselves (AWS sends neither).
            "error": None if result.ok else {"errorType": result.error_type, "errorMessage": result.error_message},
            "records": records,
        }
        body = json.dumps(document)
        if len(body.encode()) > _SQS_MAX_MESSAGE:
            document["records"] = None
            document["recordsOmitted"] = "too large for one SQS message"
            body = json.dumps(document)
        self._sqs.send_message(QueueUrl=self.source.on_failure_queue_url, MessageBody=body)

    def _lambda_record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A GetRecords record as Lambda hands it to the function."""
        data = dict(raw["dynamodb"])
        created = data.get("ApproximateCreationDateTime")
        if isinstance(created, dt.datetime):
            data["ApproximateCreationDateTime"] = int(created.timestamp())
        return _jsonable(
            {
                "eventID": raw["eventID"],
                "eventName": raw["eventName"],
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": raw.get("awsRegion", REGION),
                "dynamodb": data,
                "eventSourceARN": self.source.stream_arn,
                **({"userIdentity": raw["userIdentity"]} if raw.get("userIdentity") else {}),
            }
        )

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "records": self.records,
            "filtered_out": self.filtered_out,
            "retries": self.retries,
            "discarded": self.discarded,
        }


def _jsonable(value: Any) -> Any:
    """boto3 hands binary attributes over as bytes; Lambda events carry them base64-encoded."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
