"""Lambda event builders shaped like API Gateway (REST proxy) and SQS deliver them."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any


def api_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict:
    raw = body.encode() if isinstance(body, str) else body
    is_b64 = False
    text = None
    if raw is not None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(raw).decode(), True
    headers = headers or {}
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "dev",
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/dev{path}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def sender_of(provider: str) -> str:
    """The SQS SenderId a provider's own credentials produce in the tests (tests/support/stack.py lists them
    in ProviderSenders): tpl-east -> AIDATPLEAST."""
    return "AIDA" + "".join(c for c in provider.upper() if c.isalnum())


def _sender(body: str) -> str:
    try:
        provider = json.loads(body).get("provider")
    except (ValueError, AttributeError):
        provider = None
    return sender_of(provider) if isinstance(provider, str) and provider else "AIDAUNKNOWNSENDER"


def sqs_event(bodies: list[str], queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:q") -> dict:
    """Records as SQS delivers them; each record's SenderId is the credentials of the provider it names."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": str(uuid.uuid4()),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": _sender(body)},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (SQS's own checksum)
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


@dataclass
class Context:
    function_name: str = "test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def response_json(response: dict) -> Any:
    return json.loads(response["body"]) if response.get("body") else None
