"""The template gate catches what it is there for: bad SAM event properties and bad !GetAtt.

Each mutation runs against a copy of the project's template (tmp_path) and against a small known-good
SAM template, whose unmutated run must pass, so a non-zero exit is shown to come from the mutation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fulfillment_local import template_check

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

MINIMAL_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Runtime: python3.13
    Timeout: 10
Resources:
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.lambda_handler
      CodeUri: functions/worker/
      Environment:
        Variables:
          STAGE: !Ref Stage
      Policies:
        - Statement:
            - Effect: Allow
              Action: sqs:SendMessage
              Resource: !GetAtt WorkQueue.Arn
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
Outputs:
  QueueUrl:
    Value: !Ref WorkQueue
"""


def _source(kind: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "source.yaml"
    if kind == "repo":
        assert REPO_TEMPLATE.is_file(), REPO_TEMPLATE
        path.write_text(REPO_TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    else:
        path.write_text(MINIMAL_TEMPLATE, encoding="utf-8")
    return template_check.load_template(path)


def _sqs_event(template: dict[str, Any]) -> dict[str, Any]:
    """The Properties of the first SQS event of a serverless function."""
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "SQS":
                return event["Properties"]
    pytest.fail("the template has no SQS event any more: point this test at another SAM event")


def _run(template: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    # JSON is a valid CloudFormation/SAM template format and keeps the mutation structural.
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template, indent=2), encoding="utf-8")
    capsys.readouterr()
    rc = template_check.main([str(path), "--no-sam", "-v"])
    return rc, capsys.readouterr().out


def bogus_event_property(template: dict[str, Any]) -> tuple[str, ...]:
    props = _sqs_event(template)
    props["BatchSizee"] = props.pop("BatchSize", 10)
    return (
        "property BatchSizee not defined for resource of type SQS",
        "sam-translator (offline): 1 error(s)",
    )


def getatt_missing_resource_in_output(template: dict[str, Any]) -> tuple[str, ...]:
    template.setdefault("Outputs", {})["Broken"] = {"Value": {"Fn::GetAtt": ["NoSuchResource", "Arn"]}}
    return ("E6101 at Outputs/Broken/Value/Fn::GetAtt/0", "'NoSuchResource' is not one of")


def getatt_missing_resource_in_property(template: dict[str, Any]) -> tuple[str, ...]:
    queue = next(r for r in template["Resources"].values() if r.get("Type") == "AWS::SQS::Queue")
    queue.setdefault("Properties", {})["RedrivePolicy"] = {
        "deadLetterTargetArn": {"Fn::GetAtt": ["NoSuchQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    return (
        "E1010 at Resources/",
        "RedrivePolicy/deadLetterTargetArn/Fn::GetAtt/0",
        "'NoSuchQueue' is not one of",
    )


def getatt_bad_attribute_in_event(template: dict[str, Any]) -> tuple[str, ...]:
    props = _sqs_event(template)
    queue = props["Queue"]["Fn::GetAtt"][0]
    props["Queue"] = {"Fn::GetAtt": [queue, "Arnn"]}
    # cfn-lint does not follow GetAtt inside SAM events on the source; the translated check does.
    return ("E1010", "'Arnn' is not one of", "EventSourceArn/Fn::GetAtt/1")


def malformed_api_path(template: dict[str, Any]) -> tuple[str, ...]:
    """An option pasted into the path string: translates and lints cleanly, fails at deploy."""
    function = next(r for r in template["Resources"].values() if r.get("Type") == "AWS::Serverless::Function")
    function["Properties"].setdefault("Events", {})["Cancel"] = {
        "Type": "Api",
        "Properties": {"Path": "/orders/{order_id, Auth: {Authorizer: AWS_IAM}}/cancel", "Method": "post"},
    }
    return ("API-PATH at Resources/", "not a valid API Gateway path", "'{order_id, Auth: {Authorizer: AWS_IAM}}'")


MUTATIONS: dict[str, Callable[[dict[str, Any]], tuple[str, ...]]] = {
    "bogus-sqs-event-property": bogus_event_property,
    "getatt-missing-resource-in-output": getatt_missing_resource_in_output,
    "getatt-missing-resource-in-property": getatt_missing_resource_in_property,
    "getatt-bad-attribute-in-sam-event": getatt_bad_attribute_in_event,
    "malformed-api-path": malformed_api_path,
}


def test_minimal_template_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(_source("minimal", tmp_path), tmp_path, capsys)
    assert rc == 0, out
    assert "template-check: PASS" in out
    translated = json.loads((tmp_path / ".aws-sam" / "translated-template.json").read_text())
    assert translated["Resources"]["WorkerFunction"]["Type"] == "AWS::Lambda::Function"
    assert "WorkerFunctionWork" in translated["Resources"]  # the SQS event source mapping


# Every mutation against the small template; against the project's own (a lint of the whole stack, ~4 s) the kind
# the gate exists for: a bad SAM event property, which cfn-lint misses on the source (`make template-check` runs the
# gate over the project's template itself).
REPO_MUTATIONS = ("bogus-sqs-event-property",)


@pytest.mark.parametrize(
    ("kind", "mutation"),
    [("minimal", m) for m in MUTATIONS] + [("repo", m) for m in REPO_MUTATIONS],
)
def test_mutation_fails_the_gate(kind: str, mutation: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = _source(kind, tmp_path)
    expected = MUTATIONS[mutation](template)
    rc, out = _run(template, tmp_path, capsys)
    assert rc != 0, out
    assert "template-check: FAIL" in out
    for text in expected:
        assert text in out, f"{text!r} missing from:\n{out}"


def test_every_translation_cause_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = _source("minimal", tmp_path)
    second = json.loads(json.dumps(template["Resources"]["WorkerFunction"]))
    template["Resources"]["OtherFunction"] = second
    _sqs_event(template)["BatchSizee"] = 1
    second["Properties"]["Events"]["Work"]["Properties"]["MaximumBatchingWindowInSecondz"] = 1
    rc, out = _run(template, tmp_path, capsys)
    assert rc == 1, out
    assert "property BatchSizee not defined" in out
    assert "property MaximumBatchingWindowInSecondz not defined" in out
    assert "cfn-lint (translated CloudFormation): skipped" in out
    assert not (tmp_path / ".aws-sam" / "translated-template.json").exists()


def test_translation_is_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    translated = template_check.translate(_source("minimal", tmp_path))
    role = translated["Resources"]["WorkerFunctionRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    ] or all(arn.startswith("arn:aws:iam::aws:policy/") for arn in role["ManagedPolicyArns"])
    code = translated["Resources"]["WorkerFunction"]["Properties"]["Code"]
    assert code == {"S3Bucket": template_check.ARTIFACT_BUCKET, "S3Key": "functions/worker"}


def test_ignored_rules_have_reasons() -> None:
    for check, rules in template_check.IGNORED_RULES.items():
        for rule_id, reason in rules.items():
            assert rule_id[:1] in "EWI" and reason.strip(), (check, rule_id)


def test_command_line_entry_point(tmp_path: Path) -> None:
    # One process (cfn-lint's import is most of its ~6 s): the exit code and the report come from `python -m`; a
    # passing template's exit 0 is test_minimal_template_passes, in-process.
    path = tmp_path / "template.yaml"
    path.write_text(MINIMAL_TEMPLATE.replace("BatchSize: 10", "BatchSizee: 10"), encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "fulfillment_local.template_check", str(path), "--no-sam"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "BatchSizee" in bad.stdout
