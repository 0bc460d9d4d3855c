"""The serialised moto server's additions: write-unit metering, per-caller counts, partition-scoped
Query, the GetRecords fast path and long polls woken by sends. Each must not change an answer."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from fulfillment_local.moto_server import SerialisedMotoServer

from tests.support.stack import reset_moto


@pytest.fixture
def server(moto_server: SerialisedMotoServer) -> SerialisedMotoServer:
    reset_moto(moto_server.endpoint_url)
    moto_server.app.reset_counters()
    return moto_server


def client(server: SerialisedMotoServer, service: str, key: str = "tester") -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key="x",
    )


def make_table(ddb: Any, name: str = "T") -> None:
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK", "G1", "G1S")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "GSI1",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "G1", "KeyType": "HASH"}, {"AttributeName": "G1S", "KeyType": "RANGE"}],
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def test_write_units_follow_item_size_transactions_and_indexes(server: SerialisedMotoServer) -> None:
    ddb = client(server, "dynamodb", key="writer")
    make_table(ddb)
    server.app.reset_counters()
    blob = "x" * 2500  # an item of ~2.5 KB: 3 write units
    ddb.put_item(TableName="T", Item={"PK": {"S": "a"}, "SK": {"S": "1"}, "blob": {"S": blob}})
    ddb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "T",
                    "Item": {
                        "PK": {"S": "b"},
                        "SK": {"S": "1"},
                        "blob": {"S": blob},
                        "G1": {"S": "g"},
                        "G1S": {"S": "1"},
                    },
                }
            }
        ]
    )
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(
            TableName="T", Item={"PK": {"S": "a"}, "SK": {"S": "1"}}, ConditionExpression="attribute_not_exists(PK)"
        )

    writes = server.app.writes.by_caller()["writer"]
    assert writes["PutItem"]["units"] == 3 and writes["PutItem"]["index_units"] == 0
    assert writes["PutItem"]["failed_calls"] == 1 and writes["PutItem"]["failed_units"] == 3
    assert writes["TransactWriteItems"]["units"] == 6  # twice the size-based units
    assert writes["TransactWriteItems"]["index_units"] == 3  # the item is in GSI1 (projection ALL)
    assert server.app.by_caller["writer"]["DynamoDB_20120810.PutItem"] == 2


def test_partition_scoped_query_answers_like_moto(server: SerialisedMotoServer) -> None:
    ddb = client(server, "dynamodb")
    make_table(ddb)
    for pk in ("p1", "p2", "p3"):
        for n in range(12):
            item = {"PK": {"S": pk}, "SK": {"S": f"S#{n:02d}"}, "n": {"N": str(n)}}
            if n % 3 == 0:
                item |= {"G1": {"S": f"g-{pk}"}, "G1S": {"S": f"{n:02d}"}}
            ddb.put_item(TableName="T", Item=item)

    def all_pages(**kwargs: Any) -> list[str]:
        keys, start = [], None
        while True:
            page = ddb.query(TableName="T", Limit=5, **kwargs, **({"ExclusiveStartKey": start} if start else {}))
            keys += [f"{i['PK']['S']}/{i['SK']['S']}" for i in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return keys

    assert all_pages(KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "p2"}}) == [
        f"p2/S#{n:02d}" for n in range(12)
    ]
    assert all_pages(
        KeyConditionExpression="PK = :p AND SK BETWEEN :a AND :b",
        ScanIndexForward=False,
        ExpressionAttributeValues={":p": {"S": "p1"}, ":a": {"S": "S#03"}, ":b": {"S": "S#06"}},
    ) == ["p1/S#06", "p1/S#05", "p1/S#04", "p1/S#03"]
    assert all_pages(
        IndexName="GSI1",
        KeyConditionExpression="G1 = :g AND G1S >= :s",
        ExpressionAttributeValues={":g": {"S": "g-p3"}, ":s": {"S": "03"}},
    ) == ["p3/S#03", "p3/S#06", "p3/S#09"]
    assert (
        ddb.query(TableName="T", KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "nobody"}})[
            "Items"
        ]
        == []
    )


def test_get_records_fast_path_returns_the_stream_in_order(server: SerialisedMotoServer) -> None:
    ddb, streams = client(server, "dynamodb"), client(server, "dynamodbstreams")
    make_table(ddb)
    ddb.put_item(TableName="T", Item={"PK": {"S": "a"}, "SK": {"S": "1"}, "v": {"N": "1"}})
    ddb.put_item(
        TableName="T",
        Item={"PK": {"S": "a"}, "SK": {"S": "1"}, "v": {"N": "2"}, "m": {"M": {"x": {"L": [{"S": "deep"}]}}}},
    )
    arn = ddb.describe_table(TableName="T")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]

    page = streams.get_records(ShardIterator=iterator, Limit=10)
    records = page["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["m"] == {"M": {"x": {"L": [{"S": "deep"}]}}}
    assert records[0]["dynamodb"]["ApproximateCreationDateTime"].year >= 2024  # a timestamp, as boto3 parses it
    assert streams.get_records(ShardIterator=page["NextShardIterator"])["Records"] == []
    with pytest.raises(streams.exceptions.ClientError):
        streams.get_records(ShardIterator="no-such-iterator")  # moto's own error path still answers


def test_a_long_poll_returns_as_soon_as_a_message_is_sent(server: SerialisedMotoServer) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName="wake")["QueueUrl"]
    threading.Timer(0.3, lambda: client(server, "sqs").send_message(QueueUrl=url, MessageBody="hi")).start()
    started = time.monotonic()
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
    assert [m["Body"] for m in messages] == ["hi"]
    assert time.monotonic() - started < 2.0
    started = time.monotonic()
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    assert 0.9 < time.monotonic() - started < 3.0


def test_calls_share_one_kept_alive_connection_and_an_emulator_error_is_a_500(
    server: SerialisedMotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import http.client
    import socket

    connects: list[object] = []
    real_connect = socket.socket.connect

    def counting_connect(sock: socket.socket, address: Any) -> None:
        connects.append(address)
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", counting_connect)
    sqs = client(server, "sqs")
    sqs.create_queue(QueueName="kept-alive")
    for _ in range(20):
        sqs.list_queues()
    assert len(connects) == 1  # werkzeug's server closed every connection: one handshake per call

    host, port = server.endpoint_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    original = type(server.app).__call__

    def failing(self: Any, environ: dict, start_response: Any) -> Any:
        if environ.get("HTTP_X_FAIL"):
            raise RuntimeError("emulator bug")
        return original(self, environ, start_response)

    monkeypatch.setattr(type(server.app), "__call__", failing)
    conn.request(
        "POST", "/", b"Action=ListQueues", {"X-Fail": "1", "Content-Type": "application/x-www-form-urlencoded"}
    )
    response = conn.getresponse()
    assert (response.status, response.read()) == (500, b"Internal Server Error")  # the application failed...
    kept = conn.sock
    sqs_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=tester/20261201/us-east-1/sqs/aws4_request, Signature=x",
    }
    conn.request("POST", "/", b"Action=ListQueues&Version=2012-11-05", sqs_headers)
    response = conn.getresponse()
    assert b"kept-alive" in response.read() and conn.sock is kept  # ...and the same connection serves the next call
