"""The runtime is driven by the template alone; chaos switches act on a running stack."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from fulfillment_local.cfn import load_yaml
from fulfillment_local.chaos import Chaos
from fulfillment_local.stack import LocalStack

from .conftest import bodies, drain, write_toy_project

ROOT = Path(__file__).resolve().parents[2]

GIFT_WRAP_HANDLER = """
import json, os
import boto3

def lambda_handler(event, context):
    sqs = boto3.client("sqs")
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["DONE_QUEUE_URL"], MessageBody=json.dumps({
            "wrapped": json.loads(record["body"]),
            "table": os.environ["TABLE_NAME"],
            "function": context.function_name,
        }))
    return {"batchItemFailures": []}
"""


def test_a_function_and_queue_added_to_the_template_are_served_without_runtime_changes(
    tmp_path: Path,
) -> None:
    # Given a copy of the project's template with one more function fed by one more queue
    template = load_yaml(ROOT / "template.yaml")
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = str(ROOT / props[key])
    template["Resources"]["GiftWrapDLQ"] = {"Type": "AWS::SQS::Queue"}
    template["Resources"]["GiftWrapQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "VisibilityTimeout": 60,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["GiftWrapDLQ", "Arn"]},
                "maxReceiveCount": 3,
            },
        },
    }
    template["Resources"]["GiftWrapDoneQueue"] = {"Type": "AWS::SQS::Queue"}
    template["Resources"]["GiftWrapFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": "gift_wrap/",
            "Handler": "app.lambda_handler",
            "Environment": {"Variables": {"DONE_QUEUE_URL": {"Ref": "GiftWrapDoneQueue"}}},
            "Events": {
                "Work": {
                    "Type": "SQS",
                    "Properties": {
                        "Queue": {"Fn::GetAtt": ["GiftWrapQueue", "Arn"]},
                        "BatchSize": 5,
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    },
                }
            },
        },
    }
    template.setdefault("Outputs", {})["GiftWrapQueueUrl"] = {"Value": {"Ref": "GiftWrapQueue"}}
    (tmp_path / "gift_wrap").mkdir()
    (tmp_path / "gift_wrap" / "app.py").write_text(textwrap.dedent(GIFT_WRAP_HANDLER))
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))

    # When the stack runs it and a message arrives on the new queue
    with LocalStack(path, port=0, schedules=False, retry_delay_seconds=0) as stack:
        sqs = stack.boto3_client("sqs")
        sqs.send_message(QueueUrl=stack.outputs["GiftWrapQueueUrl"], MessageBody=json.dumps({"order": "o-1"}))
        stack.wait_idle(timeout=30)

        # Then the new function processed it, with Globals applied to it
        done = bodies(drain(sqs, stack.physical_id("GiftWrapDoneQueue")))
        assert done == [
            {"wrapped": {"order": "o-1"}, "table": stack.outputs["TableName"], "function": "GiftWrapFunction"}
        ]
        stats = stack.stats()
        assert stats["functions"]["GiftWrapFunction"]["invocations"] == 1
        assert stats["dlq_depths"]["GiftWrapDLQ"] == 0
        assert "GiftWrapFunction.Work" in stats["sqs_sources"]


def test_chaos_duplicates_sqs_deliveries_and_injects_faults(tmp_path: Path) -> None:
    project = write_toy_project(tmp_path)
    chaos = Chaos(duplicate_sqs=True, fault_rate=1.0, functions=["ApiFunction"], seed=3)
    with LocalStack(project, port=0, retry_delay_seconds=0, chaos=chaos, schedules=False) as stack:
        sqs = stack.boto3_client("sqs")
        sqs.send_message(QueueUrl=stack.outputs["WorkQueueUrl"], MessageBody=json.dumps({"id": "dup-1"}))
        stack.wait_idle(timeout=30)
        item = stack.boto3_client("dynamodb").get_item(
            TableName="ToyTable", Key={"PK": {"S": "MSG#dup-1"}, "SK": {"S": "ATTEMPTS"}}
        )
        assert item["Item"]["attempts"]["N"] == "2"  # delivered twice

        for _ in range(6):
            try:
                urllib.request.urlopen(stack.api_url + "/env", timeout=30)
                raise AssertionError("every ApiFunction invocation should fail")
            except urllib.error.HTTPError as error:
                assert error.code == 502
        api = stack.stats()["functions"]["ApiFunction"]
        assert api["chaos_faults"] == 6 and api["errors"] == 6
        # "after" faults ran the handler (so a worker exists), "before" faults never reach one
        assert api["workers"] >= 1
