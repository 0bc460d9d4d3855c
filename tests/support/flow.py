"""Drives the asynchronous chain in integration tests, the way Lambda's pollers would:
table stream -> event router -> reservation queue -> stock reservation, until nothing moves."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tests.support.events import Context, sqs_event
from tests.support.stack import StackResources
from tests.support.storefront import native_order


class Flow:
    def __init__(
        self,
        stack: StackResources,
        router_fn: Any,
        reservation_fn: Any,
        dispatch_fn: Any = None,
        tracking_fn: Any = None,
        digital_fn: Any = None,
    ) -> None:
        self.stack = stack
        self.router = router_fn
        self.reservation = reservation_fn
        self.dispatch = dispatch_fn
        self.tracking = tracking_fn
        self.digital = digital_fn
        self.streams = stack.client("dynamodbstreams")
        self.sqs = stack.client("sqs")
        self.stream_arn = stack.arns["FulfillmentTable.StreamArn"]
        self.iterators: dict[str, str] = {}
        self.customer_events: list[dict] = []

    def _stream_records(self) -> list[dict]:
        if not self.iterators:  # the table's shards, once (the emulator's stream keeps its shards)
            shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
            self.iterators = {shard["ShardId"]: "" for shard in shards}
        records = []
        for shard_id in list(self.iterators):
            if not self.iterators[shard_id]:
                self.iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            response = self.streams.get_records(ShardIterator=self.iterators[shard_id], Limit=1000)
            self.iterators[shard_id] = response["NextShardIterator"]
            for record in response["Records"]:
                record = dict(record)
                dynamodb = dict(record["dynamodb"])
                created = dynamodb.get("ApproximateCreationDateTime")
                if isinstance(created, datetime):
                    dynamodb["ApproximateCreationDateTime"] = created.timestamp()
                record["dynamodb"] = dynamodb
                record["eventSourceARN"] = self.stream_arn
                records.append(record)
        return records

    def skip(self) -> int:
        """Route the stream's records so far and drop the work they made (a test's seeding: stock set on SKUs nobody
        waits for would only allocate empty backorder queues); how many records were routed."""
        records = self._stream_records()
        if records:
            result = self.router.lambda_handler({"Records": records}, Context())
            assert result["batchItemFailures"] == [], result
        self._drain("ReservationQueue")
        return len(records)

    def route_stock_only(self) -> int:
        """Route only the stream's records of stock and catalog items (the SKUs' counted totals), dropping the
        rest: a test of stock alone that made hundreds of orders need not make their history. How many routed."""
        records = [r for r in self._stream_records() if _is_stock(r)]
        if records:
            result = self.router.lambda_handler({"Records": records}, Context())
            assert result["batchItemFailures"] == [], result
        self._drain("ReservationQueue")
        return len(records)

    def _drain(self, queue: str) -> list[dict]:
        url = self.stack.physical[queue]
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
                "Messages", []
            )
            if not batch:
                return messages
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)]
            self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            messages += batch

    def pump(self, max_rounds: int = 100, *, redeliver_failures: bool = False) -> None:
        """Run every consumer until nothing moves. Failed records are redelivered (as SQS would) only when
        `redeliver_failures`; otherwise a failure fails the test."""
        for _ in range(max_rounds):
            moved = False
            records = self._stream_records()
            if records:
                moved = True
                result = self.router.lambda_handler({"Records": records}, Context())
                assert result["batchItemFailures"] == [], result
            for queue, handler in (
                ("ReservationQueue", self.reservation),
                ("DispatchQueue", self.dispatch),
                ("InboundQueue", self.tracking),
                ("DigitalQueue", self.digital),
            ):
                if handler is None:
                    continue
                work = self._drain(queue)
                if work:
                    moved = True
                    event = sqs_event([m["Body"] for m in work])
                    try:
                        result = handler.lambda_handler(event, Context())
                    except Exception:  # Powertools raises when every record failed: Lambda then fails the batch
                        if not redeliver_failures:
                            raise
                        result = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
                    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
                    assert redeliver_failures or not failed, result
                    for record in event["Records"]:
                        if record["messageId"] in failed:
                            self.sqs.send_message(QueueUrl=self.stack.physical[queue], MessageBody=record["body"])
            self.customer_events += [json.loads(m["Body"]) for m in self._drain("CustomerNotificationsQueue")]
            if not moved:
                return
        raise AssertionError("the flow did not settle")

    def events_of(self, detail_type: str) -> list[dict]:
        return [e for e in self.customer_events if e["detail-type"] == detail_type]

    def dead_letters(self, queue: str = "ReservationDLQ") -> list[dict]:
        return self._drain(queue)

    def provider_requests(self, queue: str = "ProviderTplEastQueue") -> list[dict]:
        return [json.loads(m["Body"]) for m in self._drain(queue)]

    def to_inbound(self, *messages: dict) -> None:
        for message in messages:
            self.sqs.send_message(QueueUrl=self.stack.physical["InboundQueue"], MessageBody=json.dumps(message))


def place(intake_fn, flow: Flow, lines, **kwargs) -> str:
    response, body = native_order(intake_fn, lines=lines, **kwargs)
    assert response["statusCode"] == 202, body
    flow.pump()
    return body["order_id"]


def event_types(flow: Flow) -> list[str]:
    return sorted(e["detail-type"] for e in flow.customer_events)


def _is_stock(record: dict) -> bool:
    sort_key = record["dynamodb"]["Keys"]["SK"]["S"]
    return bool(sort_key.startswith("LOC#") or sort_key == "CATALOG")
