"""Sending work messages (SQS), customer events (EventBridge), history items, and quarantining bad messages.

The batch calls return the indexes of the entries that did not go, so a caller can report exactly which
records to retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fulfillment.adapters.aws import client, ddb_client

if TYPE_CHECKING:  # messages arrive as models: whoever made them has imported pydantic
    from mypy_boto3_dynamodb.type_defs import WriteRequestOutputTypeDef, WriteRequestTypeDef
    from pydantic import BaseModel

PUT_EVENTS_LIMIT = 10
SEND_BATCH_LIMIT = 10
WRITE_BATCH_LIMIT = 25


def send(queue_url: str, message: BaseModel) -> None:
    client("sqs").send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json())


def send_batch(queue_url: str, messages: Sequence[BaseModel]) -> set[int]:
    """SendMessageBatch in tens. Returns the indexes SQS did not take."""
    failed: set[int] = set()
    for start in range(0, len(messages), SEND_BATCH_LIMIT):
        chunk = messages[start : start + SEND_BATCH_LIMIT]
        response = client("sqs").send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(start + i), "MessageBody": m.model_dump_json()} for i, m in enumerate(chunk)],
        )
        failed |= {int(f["Id"]) for f in response.get("Failed", [])}
    return failed


def depth(queue_url: str) -> int:
    """Messages waiting or in flight on a queue (approximate, as SQS counts them)."""
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def publish(entries: Sequence[dict[str, Any]]) -> set[int]:
    """PutEvents in tens. Returns the indexes EventBridge did not take."""
    failed: set[int] = set()
    for start in range(0, len(entries), PUT_EVENTS_LIMIT):
        response = client("events").put_events(Entries=list(entries[start : start + PUT_EVENTS_LIMIT]))
        if response.get("FailedEntryCount"):
            failed |= {start + i for i, e in enumerate(response["Entries"]) if e.get("ErrorCode")}
    return failed


def write_items(table_name: str, items: Sequence[dict[str, Any]]) -> set[int]:
    """BatchWriteItem puts in 25s (idempotent items only), unprocessed ones retried. Returns indexes not written."""
    failed: set[int] = set()
    for start in range(0, len(items), WRITE_BATCH_LIMIT):
        chunk = {i: items[i] for i in range(start, min(start + WRITE_BATCH_LIMIT, len(items)))}
        puts: list[WriteRequestTypeDef] = [{"PutRequest": {"Item": item}} for item in chunk.values()]
        request: Mapping[str, Sequence[WriteRequestTypeDef | WriteRequestOutputTypeDef]] = {table_name: puts}
        for _ in range(5):
            response = ddb_client().batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
            if not request:
                break
        if request:
            left = {(r["PutRequest"]["Item"]["PK"], r["PutRequest"]["Item"]["SK"]) for r in request[table_name]}
            failed |= {i for i, item in chunk.items() if (item["PK"], item["SK"]) in left}
    return failed


def quarantine(dlq_url: str, body: str, reason: str, source: str) -> None:
    """A message that can never succeed goes straight to the DLQ with its reason, not round the retries."""
    client("sqs").send_message(
        QueueUrl=dlq_url,
        MessageBody=body,
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason[:1000]},
            "source": {"DataType": "String", "StringValue": source},
        },
    )


def dumps(value: object) -> str:
    return json.dumps(value, default=str)
