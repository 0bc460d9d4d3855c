"""The local runtime serves a template like AWS would: API, SQS, streams, EventBridge, schedules."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from fulfillment_local.functions import InvocationError
from fulfillment_local.stack import LocalStack

from .conftest import bodies, drain, eventually


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# ------------------------------------------------------------------ template evaluation


def test_outputs_resolve_to_local_resources_and_are_written(toy_stack: LocalStack) -> None:
    outputs = toy_stack.outputs
    assert outputs["ApiUrl"] == toy_stack.api_url
    assert outputs["TableName"] == "ToyTable"
    assert outputs["BusName"] == "toy-test"
    assert outputs["WorkQueueUrl"].startswith(toy_stack.endpoint_url) and outputs["WorkQueueUrl"].endswith("/WorkQueue")
    assert "ProdOnlyQueueUrl" not in outputs  # its Condition is false
    assert json.loads(toy_stack.outputs_file.read_text()) == outputs
    queues = toy_stack.boto3_client("sqs").list_queues()["QueueUrls"]
    assert not any(url.endswith("/ProdOnlyQueue") for url in queues)


def test_function_environment_has_resolved_intrinsics_and_lambda_variables(toy_stack: LocalStack) -> None:
    status, _, body = http("GET", toy_stack.api_url + "/env")
    assert status == 200
    env = json.loads(body)
    assert env["TABLE_NAME"] == "ToyTable"  # from Globals
    assert env["STAGE"] == "test"
    assert env["API_URL"] == toy_stack.api_url  # the execute-api URL, localised
    assert env["SECRET_ARN"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:ToySecret")
    assert env["PARAMETER_NAME"] == "/local/ToyParameter"
    assert env["WORK_QUEUE_URL"] == toy_stack.outputs["WorkQueueUrl"]
    assert env["WORK_QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:WorkQueue"
    assert env["TABLE_ARN"] == "arn:aws:dynamodb:us-east-1:123456789012:table/ToyTable/index/GSI1"
    assert env["JOINED"] == "test/b"
    assert env["CHOSEN"] == "other-value"
    assert env["MAPPED"] == "5"
    assert env["ACCOUNT"] == "123456789012:us-east-1"
    assert env["LITERAL"] == "${NotAVariable}"
    assert env["AWS_ENDPOINT_URL"] == toy_stack.endpoint_url
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ApiFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCOUNT_ID_ENDPOINT_MODE"] == "disabled"
    context = env["context"]
    assert context["function_name"] == "ApiFunction"
    assert context["memory_limit_in_mb"] == 256
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ApiFunction"
    assert 0 < context["remaining_ms"] <= 10_000


def test_secret_and_parameter_hold_their_local_values(toy_stack: LocalStack) -> None:
    secret = toy_stack.boto3_client("secretsmanager").get_secret_value(SecretId=toy_stack.physical_id("ToySecret"))
    assert secret["SecretString"] == "toy-secret-value"  # Metadata.LocalValue
    parameter = toy_stack.boto3_client("ssm").get_parameter(Name="/local/ToyParameter")
    assert parameter["Parameter"]["Value"] == "hello-test"
    table = toy_stack.boto3_client("dynamodb").describe_table(TableName="ToyTable")["Table"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


# ------------------------------------------------------------------ HTTP API


def test_api_route_with_path_and_query_parameters(toy_stack: LocalStack) -> None:
    status, headers, body = http(
        "GET", toy_stack.api_url + "/items/abc%20d?x=1&x=2&y=", headers={"X-Custom-Header": "Value"}
    )
    assert status == 200
    event = json.loads(body)
    assert event["resource"] == "/items/{item_id}"
    assert event["path"] == "/items/abc d"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"item_id": "abc d"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["X-Custom-Header"] == "Value"  # original case kept
    assert event["multiValueHeaders"]["X-Custom-Header"] == ["Value"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "test" and context["resourcePath"] == "/items/{item_id}"
    assert context["httpMethod"] == "GET" and context["identity"]["sourceIp"] == "127.0.0.1"
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert headers["Content-Type"] == "application/json"


def test_static_segment_wins_over_path_parameter(toy_stack: LocalStack) -> None:
    status, _, body = http("GET", toy_stack.api_url + "/items/special")
    assert status == 200
    event = json.loads(body)
    assert event["resource"] == "/items/special"
    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None


def test_raw_body_round_trip_including_binary(toy_stack: LocalStack) -> None:
    text = '{"note": "héllo"}'.encode()
    status, headers, body = http("POST", toy_stack.api_url + "/items/a1/raw", text)
    assert status == 201
    assert body == text[::-1]
    assert headers["X-Was-Base64"] == "False"
    binary = bytes(range(256))
    status, headers, body = http("POST", toy_stack.api_url + "/items/a1/raw", binary)
    assert status == 201
    assert body == binary[::-1]  # not valid UTF-8: passed base64-encoded and decoded on the way out
    assert headers["X-Was-Base64"] == "True"
    assert headers["Content-Type"] == "application/octet-stream"


def test_api_gateway_errors(toy_stack: LocalStack) -> None:
    status, _, body = http("GET", toy_stack.api_url + "/nowhere")
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
    status, _, body = http("DELETE", toy_stack.api_url + "/items/special")  # resource exists, method not
    assert status == 403
    status, _, body = http("POST", toy_stack.api_url + "/boom", b"{}")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    status, _, body = http("POST", toy_stack.api_url + "/items/a1/raw", b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413


def test_concurrent_requests_run_in_parallel_workers(toy_stack: LocalStack) -> None:
    http("GET", toy_stack.api_url + "/sleep?seconds=0")  # at least one warm worker
    results: list[int] = []

    def call() -> None:  # each long enough that none ends before the last starts, cold start included, under load
        status, _, body = http("GET", toy_stack.api_url + "/sleep?seconds=1.5")
        assert status == 200
        results.append(json.loads(body)["pid"])

    threads = [threading.Thread(target=call) for _ in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 3  # three execution environments
    assert time.monotonic() - started < 3 * 1.5  # in parallel, not one after another
    assert toy_stack.stats()["functions"]["ApiFunction"]["peak_concurrency"] >= 3


# ------------------------------------------------------------------ direct invocation, timeouts


def test_handler_timeout_kills_the_worker_and_the_next_invocation_cold_starts(toy_stack: LocalStack) -> None:
    assert toy_stack.invoke("SlowFunction", {"sleep": 0})["slept"] == 0
    result = toy_stack.invoke_result("SlowFunction", {"sleep": 3})
    assert not result.ok and result.error_type == "Sandbox.Timedout"
    assert result.duration_ms < 2000
    after = toy_stack.invoke_result("SlowFunction", {"sleep": 0})
    assert after.ok and after.cold_start
    with pytest.raises(InvocationError) as error:
        toy_stack.invoke("SlowFunction", {"sleep": 2})
    assert error.value.result.error_type == "Sandbox.Timedout"
    stats = toy_stack.stats()["functions"]["SlowFunction"]
    assert stats["timeouts"] == 2 and stats["cold_starts"] >= 2


# ------------------------------------------------------------------ SQS


def test_sqs_partial_batch_failure_retries_only_failed_and_redrives_to_dlq(toy_stack: LocalStack) -> None:
    sqs = toy_stack.boto3_client("sqs")
    table = toy_stack.boto3_client("dynamodb")
    sqs.send_message_batch(
        QueueUrl=toy_stack.outputs["WorkQueueUrl"],
        Entries=[
            {"Id": "ok", "MessageBody": json.dumps({"id": "p-ok"})},
            {"Id": "once", "MessageBody": json.dumps({"id": "p-once", "fail": "once"})},
            {"Id": "always", "MessageBody": json.dumps({"id": "p-always", "fail": "always"})},
        ],
    )
    toy_stack.wait_idle(timeout=30)

    def attempts(message_id: str) -> int:
        item = table.get_item(TableName="ToyTable", Key={"PK": {"S": f"MSG#{message_id}"}, "SK": {"S": "ATTEMPTS"}})
        return int(item["Item"]["attempts"]["N"])

    assert attempts("p-ok") == 1  # the successful one was deleted, not retried with the batch
    assert attempts("p-once") == 2
    assert attempts("p-always") == 2  # maxReceiveCount: 2
    dead = drain(sqs, toy_stack.outputs["WorkDLQUrl"])
    assert bodies(dead) == [{"id": "p-always", "fail": "always"}]  # body kept as is
    assert toy_stack.stats()["dlq_depths"]["WorkDLQ"] == 0  # drained above


# ------------------------------------------------------------------ DynamoDB stream


def test_stream_filter_partial_failure_and_on_failure_destination(toy_stack: LocalStack) -> None:
    ddb = toy_stack.boto3_client("dynamodb")
    sqs = toy_stack.boto3_client("sqs")
    put = lambda pk, sk, **extra: ddb.put_item(  # noqa: E731
        TableName="ToyTable", Item={"PK": {"S": pk}, "SK": {"S": sk}, **extra}
    )
    put("S#1", "ORD#1")
    put("S#1", "OTHER#1")  # filtered out: SK does not start with ORD#
    put("S#1", "ORD#2", poison={"BOOL": True})
    toy_stack.wait_idle(timeout=30)

    forwarded = bodies(drain(sqs, toy_stack.outputs["StreamOutQueueUrl"]))
    assert forwarded == [{"keys": {"PK": {"S": "S#1"}, "SK": {"S": "ORD#1"}}, "eventName": "INSERT"}]
    failures = bodies(drain(sqs, toy_stack.outputs["StreamDLQUrl"]))
    assert len(failures) == 1
    failure = failures[0]
    info = failure["DDBStreamBatchInfo"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts: 1
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"] == toy_stack.resources.resolve({"Fn::GetAtt": ["ToyTable", "StreamArn"]})
    assert [r["dynamodb"]["Keys"]["SK"]["S"] for r in failure["records"]] == ["ORD#2"]
    record = failure["records"][0]
    assert record["eventSource"] == "aws:dynamodb" and record["eventName"] == "INSERT"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    stream_stats = toy_stack.stats()["stream_sources"]["StreamFunction.Changes"]
    assert stream_stats["discarded"] == 1 and stream_stats["filtered_out"] >= 1


# ------------------------------------------------------------------ EventBridge, schedules


def test_eventbridge_rule_delivers_matching_events_to_its_queue(toy_stack: LocalStack) -> None:
    events = toy_stack.boto3_client("events")
    sqs = toy_stack.boto3_client("sqs")
    events.put_events(
        Entries=[
            {
                "EventBusName": "toy-test",
                "Source": "toy.orders",
                "DetailType": "OrderShipped",
                "Detail": '{"n": 1}',
            },
            {"EventBusName": "toy-test", "Source": "toy.orders", "DetailType": "Other", "Detail": '{"n": 2}'},
            {
                "EventBusName": "toy-test",
                "Source": "elsewhere",
                "DetailType": "OrderShipped",
                "Detail": '{"n": 3}',
            },
        ]
    )
    delivered = bodies(drain(sqs, toy_stack.outputs["RuleTargetQueueUrl"]))
    assert [(e["detail-type"], e["detail"]) for e in delivered] == [("OrderShipped", {"n": 1})]


def test_eventbridge_rule_event_invokes_the_function(toy_stack: LocalStack) -> None:
    sqs = toy_stack.boto3_client("sqs")
    toy_stack.boto3_client("events").put_events(
        Entries=[{"EventBusName": "toy-test", "Source": "toy.ping", "DetailType": "Ping", "Detail": '{"p": 1}'}]
    )
    received = eventually(lambda: bodies(drain(sqs, toy_stack.outputs["SinkQueueUrl"])))
    assert received[0]["source"] == "toy.ping" and received[0]["detail"] == {"p": 1}


def test_schedule_can_be_triggered_with_its_input(toy_stack: LocalStack) -> None:
    sqs = toy_stack.boto3_client("sqs")
    assert toy_stack.trigger_schedule("EventFunction.Tick") == 1
    assert bodies(drain(sqs, toy_stack.outputs["SinkQueueUrl"])) == [{"kind": "tick"}]


# ------------------------------------------------------------------ stats


def test_stats_count_aws_calls_invocations_and_cold_starts(toy_stack: LocalStack) -> None:
    toy_stack.invoke("ApiFunction", {"resource": "/items/{item_id}", **_minimal_api_event()})
    assert http("GET", toy_stack.api_url + "/nowhere")[0] == 403  # counted by status, whatever ran before
    stats = toy_stack.stats()
    assert stats["aws_calls"]["AmazonSQS.CreateQueue"] >= 6
    api = stats["functions"]["ApiFunction"]
    assert api["invocations"] >= 1 and api["cold_starts"] >= 1 and api["init_ms"]["max"] > 0
    assert stats["api"]["by_status"][403] >= 1
    assert set(stats["dlq_depths"]) == {"WorkDLQ", "StreamDLQ"}


def _minimal_api_event() -> dict[str, Any]:
    return {
        "path": "/items/x",
        "httpMethod": "GET",
        "headers": None,
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"item_id": "x"},
        "requestContext": {},
        "body": None,
        "isBase64Encoded": False,
    }
