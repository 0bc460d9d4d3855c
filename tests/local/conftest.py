"""A small self-made SAM template and toy handlers for testing the local runtime itself.

The toy stack does not depend on the real functions: it exercises every piece of the runtime
(intrinsics, API routes, SQS partial failures and redrive, a filtered stream with an on-failure
destination, EventBridge rules, schedules) with handlers written into a temporary directory.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fulfillment_local.stack import LocalStack

TOY_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: Toy stack for the local runtime's tests

Parameters:
  Stage:
    Type: String
    Default: test
  Greeting:
    Type: String
    Default: hello

Conditions:
  IsProd: !Equals [!Ref Stage, prod]

Mappings:
  Sizes:
    test: {batch: "5"}

Globals:
  Function:
    Runtime: python3.13
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        TABLE_NAME: !Ref ToyTable
        STAGE: !Ref Stage

Resources:
  ToyTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: PK, AttributeType: S}
        - {AttributeName: SK, AttributeType: S}
      KeySchema:
        - {AttributeName: PK, KeyType: HASH}
        - {AttributeName: SK, KeyType: RANGE}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}

  ToySecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 20}
    Metadata:
      LocalValue: toy-secret-value

  ToyParameter:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Sub "${Greeting}-${Stage}"

  ToyBus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub toy-${Stage}

  OrdersRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref ToyBus
      EventPattern:
        source: [toy.orders]
        detail-type: [{prefix: Order}]
      Targets:
        - {Id: RuleTarget, Arn: !GetAtt RuleTargetQueue.Arn}

  RuleTargetQueue:
    Type: AWS::SQS::Queue

  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDLQ.Arn
        maxReceiveCount: 2
  WorkDLQ:
    Type: AWS::SQS::Queue

  StreamOutQueue:
    Type: AWS::SQS::Queue
  StreamDLQ:
    Type: AWS::SQS::Queue
  SinkQueue:
    Type: AWS::SQS::Queue

  ProdOnlyQueue:
    Type: AWS::SQS::Queue
    Condition: IsProd

  ToyQueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref RuleTargetQueue]
      PolicyDocument: {Statement: []}

  ToyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage

  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: api/
      Handler: app.lambda_handler
      Environment:
        Variables:
          API_URL: !Sub https://${ToyApi}.execute-api.${AWS::Region}.amazonaws.com/${Stage}
          SECRET_ARN: !Ref ToySecret
          PARAMETER_NAME: !Ref ToyParameter
          WORK_QUEUE_URL: !Ref WorkQueue
          WORK_QUEUE_ARN: !GetAtt WorkQueue.Arn
          TABLE_ARN: !Sub "${ToyTable.Arn}/index/GSI1"
          JOINED: !Join ["/", [!Ref Stage, !Select [1, [a, b, c]]]]
          CHOSEN: !If [IsProd, prod-value, other-value]
          MAPPED: !FindInMap [Sizes, !Ref Stage, batch]
          ACCOUNT: !Sub "${AWS::AccountId}:${AWS::Region}"
          LITERAL: !Sub "${!NotAVariable}"
      Events:
        GetItem:
          Type: Api
          Properties: {RestApiId: !Ref ToyApi, Path: "/items/{item_id}", Method: get}
        GetSpecial:
          Type: Api
          Properties: {RestApiId: !Ref ToyApi, Path: /items/special, Method: get}
        PostRaw:
          Type: Api
          Properties: {RestApiId: !Ref ToyApi, Path: "/items/{item_id}/raw", Method: post}
        Env:
          Type: Api
          Properties: {RestApiId: !Ref ToyApi, Path: /env, Method: get}
        Boom:
          Type: Api
          Properties: {RestApiId: !Ref ToyApi, Path: /boom, Method: any}
        Sleep:
          Type: Api
          Properties: {RestApiId: !Ref ToyApi, Path: /sleep, Method: get}

  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Handler: app.lambda_handler
      Timeout: 1

  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.lambda_handler
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]

  StreamFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: stream/
      Handler: app.lambda_handler
      Environment:
        Variables:
          OUT_QUEUE_URL: !Ref StreamOutQueue
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt ToyTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            MaximumRetryAttempts: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig:
              OnFailure: {Type: SQS, Destination: !GetAtt StreamDLQ.Arn}
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ORD#"}]}}}}'

  EventFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: events/
      Handler: app.lambda_handler
      Environment:
        Variables:
          SINK_QUEUE_URL: !Ref SinkQueue
      Events:
        Ping:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref ToyBus
            Pattern: {source: [toy.ping]}
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 hour)
            Input: '{"kind": "tick"}'

Outputs:
  ApiUrl:
    Value: !Sub https://${ToyApi}.execute-api.${AWS::Region}.amazonaws.com/${Stage}
  TableName:
    Value: !Ref ToyTable
  WorkQueueUrl:
    Value: !Ref WorkQueue
  WorkDLQUrl:
    Value: !Ref WorkDLQ
  StreamOutQueueUrl:
    Value: !Ref StreamOutQueue
  StreamDLQUrl:
    Value: !Ref StreamDLQ
  RuleTargetQueueUrl:
    Value: !Ref RuleTargetQueue
  SinkQueueUrl:
    Value: !Ref SinkQueue
  BusName:
    Value: !Ref ToyBus
  ProdOnlyQueueUrl:
    Condition: IsProd
    Value: !Ref ProdOnlyQueue
"""

HANDLERS: dict[str, str] = {
    # Stdlib only: a fast cold start. Echoes what API Gateway handed over.
    "api": """
        import base64, json, os, time

        def lambda_handler(event, context):
            resource = event["resource"]
            if resource == "/boom":
                raise RuntimeError("boom")
            if resource == "/sleep":
                time.sleep(float(event["queryStringParameters"]["seconds"]))
                return {"statusCode": 200, "body": json.dumps({"pid": os.getpid()})}
            if resource == "/env":
                names = ["TABLE_NAME", "STAGE", "API_URL", "SECRET_ARN", "PARAMETER_NAME", "WORK_QUEUE_URL",
                         "WORK_QUEUE_ARN", "TABLE_ARN", "JOINED", "CHOSEN", "MAPPED", "ACCOUNT", "LITERAL",
                         "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                         "AWS_REGION", "AWS_ACCOUNT_ID_ENDPOINT_MODE", "LEAKED_FROM_THE_RUNTIME"]
                document = {name: os.environ.get(name) for name in names}
                document["context"] = {
                    "function_name": context.function_name,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "invoked_function_arn": context.invoked_function_arn,
                    "aws_request_id": context.aws_request_id,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                }
                return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                        "body": json.dumps(document)}
            if resource == "/items/{item_id}/raw":
                raw = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
                return {"statusCode": 201, "isBase64Encoded": True,
                        "headers": {"Content-Type": "application/octet-stream",
                                    "X-Was-Base64": str(event["isBase64Encoded"])},
                        "multiValueHeaders": {"X-Multi": ["one", "two"]},
                        "body": base64.b64encode(raw[::-1]).decode()}
            return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({k: event[k] for k in (
                        "resource", "path", "httpMethod", "headers", "multiValueHeaders",
                        "queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
                        "requestContext", "body", "isBase64Encoded")})}
    """,
    "slow": """
        import time

        def lambda_handler(event, context):
            time.sleep(event.get("sleep", 0))
            return {"slept": event.get("sleep", 0), "remaining_ms": context.get_remaining_time_in_millis()}
    """,
    # Counts every delivery of a message in the table; fails per the message's instructions.
    "worker": """
        import json, os
        import boto3

        table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])

        def lambda_handler(event, context):
            failures = []
            for record in event["Records"]:
                body = json.loads(record["body"])
                attempts = table.update_item(
                    Key={"PK": "MSG#" + body["id"], "SK": "ATTEMPTS"},
                    UpdateExpression="ADD attempts :one", ExpressionAttributeValues={":one": 1},
                    ReturnValues="UPDATED_NEW")["Attributes"]["attempts"]
                if body.get("fail") == "always" or (body.get("fail") == "once" and attempts == 1):
                    failures.append({"itemIdentifier": record["messageId"]})
            return {"batchItemFailures": failures}
    """,
    # Forwards ORD# records to a queue; reports records with a "poison" attribute as failed.
    "stream": """
        import json, os
        import boto3

        sqs = boto3.client("sqs")

        def lambda_handler(event, context):
            failures = []
            for record in event["Records"]:
                image = record["dynamodb"].get("NewImage", {})
                if "poison" in image:
                    failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
                    continue
                sqs.send_message(QueueUrl=os.environ["OUT_QUEUE_URL"], MessageBody=json.dumps(
                    {"keys": record["dynamodb"]["Keys"], "eventName": record["eventName"]}))
            return {"batchItemFailures": failures}
    """,
    "events": """
        import json, os
        import boto3

        def lambda_handler(event, context):
            sqs = boto3.client("sqs")
            sqs.send_message(QueueUrl=os.environ["SINK_QUEUE_URL"], MessageBody=json.dumps(event))
    """,
}


def write_toy_project(root: Path, template: str = TOY_TEMPLATE) -> Path:
    """The toy template and its handlers under `root`; returns the template path."""
    for name, source in HANDLERS.items():
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "app.py").write_text(textwrap.dedent(source).lstrip())
    path = root / "template.yaml"
    path.write_text(template)
    return path


@pytest.fixture(scope="module")
def toy_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_project(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="module")
def toy_stack(toy_project: Path) -> Iterator[LocalStack]:
    with LocalStack(toy_project, port=0, concurrency=3, retry_delay_seconds=0, idle_poll_seconds=0.05) as stack:
        yield stack


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy (and return it), or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message currently visible in a queue (received and deleted)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )


def bodies(messages: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(m["Body"]) for m in messages]
