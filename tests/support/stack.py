"""Resources from template.yaml in the serialised moto server, for integration tests.

The table, secrets, queues and bus are created from the template's own properties, so a test
cannot pass against a key schema the template does not deploy.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import yaml
from fulfillment_local.invariants import scan_all
from fulfillment_local.openapi import app_module

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
PUBLIC_API_URL = "https://api.test/dev"


def _test_parameters() -> dict[str, str]:
    """Parameters the tests deploy with instead of the defaults: every 3PL and supplier of the default
    Locations may send from its own credentials (tests/support/events.sender_of)."""
    from tests.support.events import sender_of

    locations = json.loads(template()["Parameters"]["Locations"]["Default"])
    senders = {loc["provider"]: [sender_of(loc["provider"])] for loc in locations if loc["kind"] != "in_house"}
    return {"ProviderSenders": json.dumps(senders)}


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


@cache
def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)


def resources(kind: str) -> dict[str, dict]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


# The tests' own clients, one per emulator (building a client costs ~20 ms; tests make hundreds).
@cache
def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION)


@cache
def _resource(endpoint_url: str) -> Any:
    return boto3.resource("dynamodb", endpoint_url=endpoint_url, region_name=REGION)


class StackResources:
    """Creates the template's data and messaging resources; resolves each function's environment."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.physical: dict[str, str] = {}
        self.arns: dict[str, str] = {}

    def client(self, service: str) -> Any:
        return _client(service, self.endpoint_url)

    def create(self) -> StackResources:
        ddb = self.client("dynamodb")
        for name, res in resources("AWS::DynamoDB::Table").items():
            props = res["Properties"]
            kwargs: dict[str, Any] = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamEnabled": True, **props["StreamSpecification"]},
            }
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            description = ddb.create_table(**kwargs)["TableDescription"]
            self.physical[name] = name
            self.arns[name] = description["TableArn"]
            self.arns[f"{name}.StreamArn"] = description["LatestStreamArn"]
        self.create_secrets()
        sqs = self.client("sqs")
        queues = resources("AWS::SQS::Queue")
        for name in sorted(queues, key=lambda n: "RedrivePolicy" in queues[n].get("Properties", {})):
            attributes = {}
            redrive = queues[name].get("Properties", {}).get("RedrivePolicy")
            if redrive:
                dlq = redrive["deadLetterTargetArn"]["GetAtt"].split(".")[0]
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": self.arns[dlq], "maxReceiveCount": redrive["maxReceiveCount"]}
                )
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self.physical[name] = url
            self.arns[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        s3 = self.client("s3")
        for name in resources("AWS::S3::Bucket"):
            bucket = name.lower()
            s3.create_bucket(Bucket=bucket)
            self.physical[name] = bucket
        events = self.client("events")
        for name in resources("AWS::Events::EventBus"):
            events.create_event_bus(Name=name)
            self.physical[name] = name
        for name, res in resources("AWS::Events::Rule").items():
            props = res["Properties"]
            bus = props["EventBusName"]["Ref"]
            events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]))
            events.put_targets(
                Rule=name,
                EventBusName=bus,
                Targets=[{"Id": t["Id"], "Arn": self.arns[t["Arn"]["GetAtt"].split(".")[0]]} for t in props["Targets"]],
            )
        return self

    def create_secrets(self) -> None:
        sm = self.client("secretsmanager")
        for name, res in resources("AWS::SecretsManager::Secret").items():
            arn = sm.create_secret(Name=name, SecretString=res["Metadata"]["LocalValue"])["ARN"]
            self.physical[name] = arn

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            params = template().get("Parameters", {})
            if ref in params:
                return _test_parameters().get(ref, params[ref]["Default"])
            return self.physical[ref]
        if isinstance(value, dict) and "Sub" in value:
            text = str(value["Sub"])
            if "execute-api" in text:
                return PUBLIC_API_URL
            return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: self.physical[m.group(1)], text)
        if isinstance(value, dict) and "GetAtt" in value:
            return self.arns[value["GetAtt"].split(".")[0]]
        return value

    def function_env(self, logical_id: str) -> dict[str, str]:
        globals_env = template()["Globals"]["Function"]["Environment"]["Variables"]
        fn_env = template()["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        return {k: str(self.resolve(v)) for k, v in {**globals_env, **fn_env}.items()}

    def table(self) -> Any:
        return _resource(self.endpoint_url).Table("FulfillmentTable")

    def items(self) -> list[dict]:
        """Every item in the table (tests may scan; production code never does)."""
        return scan_all(self.table())


# Secrets are created again for each test: tests add versions to them, and moto's secret store does not survive
# a deep copy intact (a later test could not find a secret). Everything else is restored from the snapshot.
SNAPSHOT_SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "s3", "events")


def _copyable_locks() -> None:
    """Let deepcopy copy moto's locks and conditions (SQS queues hold them) as new, unlocked ones: a snapshot is
    taken while nothing runs, so no lock is held in it."""
    import copyreg
    import threading

    for lock_type in (type(threading.Lock()), type(threading.RLock())):
        copyreg.pickle(lock_type, lambda lock, lock_type=lock_type: (lock_type, ()))
    # A Condition keeps its lock's bound methods, which deepcopy would share with the original: a new one instead
    copyreg.pickle(threading.Condition, lambda condition: (threading.Condition, ()))


class FreshStack:
    """The template's resources, created in the emulator once per test process and restored from a snapshot of
    the emulator's state before each test: every test starts from the same freshly created resources, without the
    ~50 calls that create them (~0.1 s a test)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._snapshot: dict[str, dict[str, Any]] | None = None
        self._stack: StackResources | None = None

    def fresh(self) -> StackResources:
        import copy

        from moto.backends import get_backend
        from moto.core.base_backend import BackendDict
        from moto.core.models import reset_model_data

        if self._snapshot is None or self._stack is None:
            reset_moto(self.server.endpoint_url)
            self._stack = StackResources(self.server.endpoint_url).create()
            _copyable_locks()
            with self.server.app.lock:
                self._snapshot = {name: copy.deepcopy(dict(get_backend(name))) for name in SNAPSHOT_SERVICES}
            return self._stack
        with self.server.app.lock:
            BackendDict.reset()  # every service (a test may have used one the stack does not create)...
            reset_model_data()
            for name, saved in self._snapshot.items():  # ...then the stack's resources as they were created
                backend = get_backend(name)
                backend.clear()
                backend.update(copy.deepcopy(saved))
        stack = StackResources(self.server.endpoint_url)
        stack.physical, stack.arns = dict(self._stack.physical), dict(self._stack.arns)
        stack.create_secrets()
        return stack


def reset_moto(endpoint_url: str) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(request).read()  # noqa: S310 (loopback moto server)


def function_module(name: str, instance: str = "") -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every handler file is app.py).

    `instance` loads a separate copy, like a second Lambda execution environment: handlers keep
    per-invocation state on module objects, so concurrent invocations need one copy each.
    """
    return app_module(ROOT / "functions" / name / "app.py", f"fn_{name}{'_' + instance if instance else ''}")


def clear_caches() -> None:
    """Forget settings, clients, secrets and every handler's cached services (as a new Lambda environment would)."""
    from aws_lambda_powertools.utilities import parameters
    from fulfillment.adapters import assets, aws, secrets
    from fulfillment.config import settings

    settings.cache_clear()
    secrets._provider.cache_clear()
    aws.client.cache_clear()
    aws.dynamodb.cache_clear()
    assets.presigner.cache_clear()
    parameters.clear_caches()
    for name in (
        "order_intake",
        "order_api",
        "event_router",
        "stock_reservation",
        "dispatch",
        "tracking_updates",
        "digital_delivery",
        "returns",
    ):
        module = sys.modules.get(f"fn_{name}")
        for cached in vars(module).values() if module else ():
            if callable(getattr(cached, "cache_clear", None)):
                cached.cache_clear()


def shipments(stack) -> list[dict]:
    """Shipment items, each with what was said about it (its event items, oldest first) as `events`, and where
    the parcel is as the order view says it (the item's status moved by the scans recorded beside it)."""
    from fulfillment.adapters.codecs import shipment as shipment_codec

    items = stack.items()
    found = sorted((i for i in items if i.get("type") == "shipment"), key=lambda i: i["SK"])
    for shipment in found:
        said = [i for i in items if i.get("type") == "shipment_event" and i["shipment_id"] == shipment["shipment_id"]]
        shipment["events"] = [
            {"at": e["at"], "type": e["event"], **e["detail"]} for e in sorted(said, key=lambda e: e["at"])
        ]
        tracked = shipment_codec.from_item(shipment).with_scans(shipment_codec.event_from_item(e) for e in said)
        shipment.update(status=tracked.status.value, status_at=tracked.status_at, est_delivery=tracked.est_delivery)
    return found
