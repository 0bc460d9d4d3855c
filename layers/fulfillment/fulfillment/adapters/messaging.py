"""Sending work messages (SQS), customer events (EventBridge), and quarantining bad messages."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import BaseModel

from fulfillment.adapters.aws import client

PUT_EVENTS_LIMIT = 10


class PublishFailed(Exception):
    pass


def send(queue_url: str, message: BaseModel) -> None:
    client("sqs").send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json())


def publish(entries: Sequence[dict]) -> None:
    """PutEvents in batches of ten; any entry EventBridge did not take fails the whole call (retried)."""
    for start in range(0, len(entries), PUT_EVENTS_LIMIT):
        batch = list(entries[start : start + PUT_EVENTS_LIMIT])
        response = client("events").put_events(Entries=batch)
        if response.get("FailedEntryCount"):
            codes = sorted({e.get("ErrorCode", "?") for e in response["Entries"] if e.get("ErrorCode")})
            raise PublishFailed(f"EventBridge refused {response['FailedEntryCount']} entries: {codes}")


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
