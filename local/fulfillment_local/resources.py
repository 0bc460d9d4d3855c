"""The template's resources, created in the embedded moto server, and their Ref/GetAtt values.

Local physical names are the logical ids unless the template names the resource (TableName,
QueueName, Name...). Resource types moto cannot hold or that mean nothing locally (IAM, policies,
API Gateway, layers...) get placeholder values so that Ref/GetAtt still evaluate.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from .cfn import ACCOUNT_ID, REGION, Resolver, TemplateError, references
from .template import LAMBDA_FUNCTION, SERVERLESS_FUNCTION, SamTemplate

log = logging.getLogger(__name__)

ClientFactory = Callable[[str], Any]

IMPLICIT_API = "ServerlessRestApi"
_API_TYPES = {"AWS::Serverless::Api", "AWS::ApiGateway::RestApi"}
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


@dataclass
class Physical:
    """A resource as it exists locally: the value of `!Ref` and of each `!GetAtt`."""

    logical_id: str
    type: str
    ref: Any
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class FunctionTarget:
    """An EventBridge rule target that is a local function: delivered through an internal queue."""

    function: str
    queue_url: str
    queue_arn: str
    origin: str


@dataclass
class ScheduledRule:
    """An `AWS::Events::Rule` with a ScheduleExpression; the local scheduler fires its targets."""

    logical_id: str
    arn: str
    expression: str
    targets: list[dict[str, Any]]


def api_marker(logical_id: str) -> str:
    """The local stand-in for an API's id (it ends up inside execute-api URLs)."""
    return f"local-{logical_id.lower()}"


class ResourceManager:
    """Creates resources in moto and evaluates template values against them."""

    def __init__(
        self,
        template: SamTemplate,
        client: ClientFactory,
        *,
        api_url: str,
        stack_name: str = "local",
    ) -> None:
        self.template = template
        self._client = client
        self.api_url = api_url.rstrip("/")
        self.stack_name = stack_name
        self.physical: dict[str, Physical] = {}
        self.function_targets: list[FunctionTarget] = []
        self.scheduled_rules: list[ScheduledRule] = []
        self.dead_letter_queues: set[str] = set()  # logical ids of queues used as DLQs
        self.resolver = Resolver(
            parameters=template.parameters,
            ref=self._ref,
            getatt=self._getatt,
            conditions=template.conditions,
            mappings=template.mappings,
            stack_name=stack_name,
            string_hook=self._localise_api_urls,
        )
        self.active = {
            logical_id
            for logical_id, resource in template.resources.items()
            if not resource.get("Condition") or self.resolver.condition(resource["Condition"])
        }

    # ------------------------------------------------------------------ evaluation
    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def _entry(self, logical_id: str) -> Physical:
        if logical_id in self.physical:
            return self.physical[logical_id]
        if logical_id == IMPLICIT_API and IMPLICIT_API not in self.template.resources:
            return Physical(IMPLICIT_API, "AWS::Serverless::Api", api_marker(IMPLICIT_API))
        rtype = self.template.resource_type(logical_id)
        if logical_id not in self.active:
            raise TemplateError(f"{logical_id} is referenced but its Condition is false")
        if rtype in _CREATORS:
            raise TemplateError(f"{logical_id} is referenced before it was created (dependency cycle?)")
        entry = self._placeholder(logical_id, rtype)
        self.physical[logical_id] = entry
        return entry

    def _ref(self, logical_id: str) -> Any:
        return self._entry(logical_id).ref

    def _getatt(self, logical_id: str, attribute: str) -> Any:
        entry = self._entry(logical_id)
        if attribute not in entry.attrs:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: not available locally for {entry.type}")
        return entry.attrs[attribute]

    def _localise_api_urls(self, text: str) -> str:
        """`https://<api>.execute-api.<region>.amazonaws.com/<stage>` -> the local API base URL."""
        if "execute-api" not in text:
            return text
        for logical_id in [*self.api_ids(), IMPLICIT_API]:
            marker = api_marker(logical_id)
            if marker not in text:
                continue
            stage = re.escape(self.api_stage(logical_id))
            pattern = rf"https?://{re.escape(marker)}\.execute-api\.[A-Za-z0-9.-]+(?:/{stage})?(?=[/?#]|$)"
            text = re.sub(pattern, lambda _m: self.api_url, text)
        return text

    def api_ids(self) -> list[str]:
        return [k for k, r in self.template.resources.items() if r.get("Type") in _API_TYPES]

    def api_stage(self, logical_id: str) -> str:
        if logical_id == IMPLICIT_API:
            return "Prod"
        props = self.template.resources[logical_id].get("Properties") or {}
        return str(self.resolve(props.get("StageName", "Prod")))

    def _placeholder(self, logical_id: str, rtype: str) -> Physical:
        props = self.template.resources[logical_id].get("Properties") or {}
        if rtype in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION):
            name = str(self.resolve(props.get("FunctionName", logical_id)))
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
            return Physical(logical_id, rtype, name, {"Arn": arn})
        if rtype in _API_TYPES:
            marker = api_marker(logical_id)
            return Physical(logical_id, rtype, marker, {"RootResourceId": f"{marker}-root"})
        if rtype in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            name = props.get("LayerName", logical_id)
            name = str(self.resolve(name))
            return Physical(logical_id, rtype, f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1")
        if rtype == "AWS::IAM::Role":
            name = str(self.resolve(props.get("RoleName", logical_id)))
            return Physical(logical_id, rtype, name, {"Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"})
        service = rtype.split("::")[1].lower() if rtype.count("::") >= 2 else "local"
        arn = f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{logical_id}"
        return Physical(logical_id, rtype, logical_id, _AnyAttribute(arn))

    # ------------------------------------------------------------------ provisioning
    def provision(self) -> None:
        """Create every supported resource, dependencies first."""
        creatable = {k for k in self.active if self.template.resource_type(k) in _CREATORS}
        graph: dict[str, set[str]] = {}
        for logical_id in creatable:
            resource = self.template.resources[logical_id]
            deps = references(resource.get("Properties") or {})
            depends_on = resource.get("DependsOn") or []
            deps |= set([depends_on] if isinstance(depends_on, str) else depends_on)
            graph[logical_id] = self._creatable_deps(deps, creatable, set())
        try:
            order = list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise TemplateError(f"dependency cycle between resources: {exc.args[1]}") from exc
        for logical_id in order:
            rtype = self.template.resource_type(logical_id)
            resource = self.template.resources[logical_id]
            self.physical[logical_id] = _CREATORS[rtype](self, logical_id, resource)
            log.debug("created %s %s", rtype, logical_id)
        for logical_id in self.active - creatable:
            rtype = self.template.resource_type(logical_id)
            if rtype not in _KNOWN_SKIPPED and not rtype.startswith("AWS::IAM::"):
                log.info("%s (%s) is not emulated locally; skipped", logical_id, rtype)

    def _creatable_deps(self, deps: set[str], creatable: set[str], seen: set[str]) -> set[str]:
        """Direct creatable dependencies, looking through placeholders (e.g. a function's name)."""
        out: set[str] = set()
        for dep in deps:
            if dep in seen or dep not in self.template.resources:
                continue
            seen.add(dep)
            if dep in creatable:
                out.add(dep)
            elif self.template.resource_type(dep) not in _CREATORS:
                props = self.template.resources[dep].get("Properties") or {}
                name_props = {k: v for k, v in props.items() if k.endswith("Name") or k == "StageName"}
                out |= self._creatable_deps(references(name_props), creatable, seen)
        return out

    # ------------------------------------------------------------------ lookups
    def by_arn(self, arn: str) -> Physical | None:
        for entry in self.physical.values():
            if entry.attrs.get("Arn") == arn or entry.ref == arn:
                return entry
        return None

    def queue_url(self, arn_or_url: str) -> str:
        if arn_or_url.startswith("http"):
            return arn_or_url
        entry = self.by_arn(arn_or_url)
        if entry is not None and entry.type == "AWS::SQS::Queue":
            return str(entry.ref)
        name = arn_or_url.rsplit(":", 1)[-1]
        return str(self._client("sqs").get_queue_url(QueueName=name)["QueueUrl"])

    def function_for_arn(self, arn: str) -> str | None:
        """Logical id of the local function a Lambda ARN (or name) points at."""
        arn = re.sub(r":(\$LATEST|\d+|live)$", "", arn)
        for logical_id in self.active:
            if self.template.resource_type(logical_id) in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION):
                entry = self._entry(logical_id)
                if arn in (entry.attrs["Arn"], entry.ref):
                    return logical_id
        return None

    # ------------------------------------------------------------------ creators
    def _create_table(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        name = str(props.get("TableName") or logical_id)
        billing = props.get("BillingMode", "PROVISIONED")
        throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": billing,
        }
        if billing != "PAY_PER_REQUEST":
            args["ProvisionedThroughput"] = throughput
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(key):
                indexes = []
                for index in props[key]:
                    index = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")} | (
                        {"ProvisionedThroughput": throughput} if billing != "PAY_PER_REQUEST" and key[0] == "G" else {}
                    )
                    indexes.append(index)
                args[key] = indexes
        stream = props.get("StreamSpecification")
        if stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        ddb = self._client("dynamodb")
        table = ddb.create_table(**args)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and _truthy(ttl.get("Enabled")):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        attrs = {"Arn": table["TableArn"]}
        if stream:
            attrs["StreamArn"] = table["LatestStreamArn"]
        return Physical(logical_id, resource["Type"], name, attrs)

    def _create_simple_table(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        name = str(props.get("TableName") or logical_id)
        table = self._client("dynamodb").create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key["Name"], "AttributeType": kind}],
            KeySchema=[{"AttributeName": key["Name"], "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]
        return Physical(logical_id, resource["Type"], name, {"Arn": table["TableArn"]})

    def _create_queue(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        fifo = _truthy(props.get("FifoQueue"))
        name = str(props.get("QueueName") or (f"{logical_id}.fifo" if fifo else logical_id))
        attributes = {k: _attr(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
        redrive = props.get("RedrivePolicy")
        if redrive:
            redrive = json.loads(redrive) if isinstance(redrive, str) else redrive
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": redrive["deadLetterTargetArn"],
                    "maxReceiveCount": int(redrive["maxReceiveCount"]),
                }
            )
            target = self.by_arn(redrive["deadLetterTargetArn"])
            if target is not None:
                self.dead_letter_queues.add(target.logical_id)
        url = self._client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        return Physical(logical_id, resource["Type"], url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _create_bus(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        name = str(props.get("Name") or logical_id)
        arn = self._client("events").create_event_bus(Name=name)["EventBusArn"]
        return Physical(logical_id, resource["Type"], name, {"Arn": arn, "Name": name})

    def _create_rule(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        name = str(props.get("Name") or logical_id)
        bus = str(props.get("EventBusName") or "default").split("event-bus/")[-1]
        events = self._client("events")
        args: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if props.get("Description"):
            args["Description"] = props["Description"]
        if props.get("EventPattern") is not None:
            pattern = props["EventPattern"]
            args["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if props.get("ScheduleExpression"):
            args["ScheduleExpression"] = props["ScheduleExpression"]
        arn = events.put_rule(**args)["RuleArn"]
        targets = []
        for target in props.get("Targets") or []:
            target = dict(target)
            function = self.function_for_arn(str(target["Arn"]))
            if function is not None:
                target["Arn"] = self.internal_queue(function, f"{logical_id}-{target['Id']}")
            targets.append(target)
        if props.get("ScheduleExpression"):
            if args["State"] == "ENABLED":
                self.scheduled_rules.append(ScheduledRule(logical_id, arn, props["ScheduleExpression"], targets))
        elif targets:
            allowed = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "SqsParameters", "RoleArn")
            events.put_targets(
                Rule=name, EventBusName=bus, Targets=[{k: t[k] for k in allowed if k in t} for t in targets]
            )
        return Physical(logical_id, resource["Type"], name, {"Arn": arn})

    def internal_queue(self, function: str, origin: str) -> str:
        """A hidden queue that carries async events (EventBridge) to a local function; its ARN."""
        name = re.sub(r"[^A-Za-z0-9_-]", "-", f"local-async-{origin}")[:80]
        url = self._client("sqs").create_queue(QueueName=name)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        self.function_targets.append(FunctionTarget(function, url, arn, origin))
        return arn

    def _create_bucket(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        name = str(props.get("BucketName") or re.sub(r"[^a-z0-9-]", "-", f"{self.stack_name}-{logical_id}".lower()))
        s3 = self._client("s3")
        s3.create_bucket(Bucket=name)
        if props.get("CorsConfiguration"):
            s3.put_bucket_cors(Bucket=name, CORSConfiguration=props["CorsConfiguration"])
        if props.get("NotificationConfiguration"):
            log.warning("%s: S3 notifications are not emulated locally", logical_id)
        attrs = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{REGION}.amazonaws.com",
        }
        return Physical(logical_id, resource["Type"], name, attrs)

    def _create_secret(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        name = str(props.get("Name") or logical_id)
        local_value = (resource.get("Metadata") or {}).get("LocalValue")
        if local_value is not None:
            value = local_value if isinstance(local_value, str) else json.dumps(self.resolve(local_value))
        elif props.get("SecretString") is not None:
            value = str(props["SecretString"])
        else:
            value = _generate_secret(props.get("GenerateSecretString") or {})
        args = {"Name": name, "SecretString": value}
        if props.get("Description"):
            args["Description"] = props["Description"]
        arn = self._client("secretsmanager").create_secret(**args)["ARN"]
        return Physical(logical_id, resource["Type"], arn, {"Id": arn, "Arn": arn})

    def _create_parameter(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        name = str(props.get("Name") or f"/{self.stack_name}/{logical_id}")
        kind = props.get("Type", "String")
        value = props.get("Value", "")
        value = ",".join(value) if isinstance(value, list) else str(value)
        self._client("ssm").put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)
        return Physical(logical_id, resource["Type"], name, {"Type": kind, "Value": value})

    def _create_topic(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        name = str(props.get("TopicName") or logical_id)
        sns = self._client("sns")
        arn = sns.create_topic(Name=name)["TopicArn"]
        for sub in props.get("Subscription") or []:
            self._subscribe(arn, sub["Protocol"], sub["Endpoint"], {})
        return Physical(logical_id, resource["Type"], arn, {"TopicArn": arn, "TopicName": name})

    def _create_subscription(self, logical_id: str, resource: dict[str, Any]) -> Physical:
        props = self.resolve(resource.get("Properties") or {})
        attributes = {}
        if _truthy(props.get("RawMessageDelivery")):
            attributes["RawMessageDelivery"] = "true"
        if props.get("FilterPolicy"):
            policy = props["FilterPolicy"]
            attributes["FilterPolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
        arn = self._subscribe(props["TopicArn"], props["Protocol"], props["Endpoint"], attributes)
        return Physical(logical_id, resource["Type"], arn)

    def _subscribe(self, topic_arn: str, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
        if protocol != "sqs":
            log.warning("SNS %s subscriptions are not emulated locally (%s)", protocol, endpoint)
            return f"{topic_arn}:unsupported"
        result = self._client("sns").subscribe(
            TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint, Attributes=attributes
        )
        return str(result["SubscriptionArn"])


class _AnyAttribute(dict):
    """Attributes of an unemulated resource: every `!GetAtt` gets a placeholder ARN-ish value."""

    def __init__(self, arn: str) -> None:
        super().__init__(Arn=arn)
        self._arn = arn

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return self._arn if key.endswith("Arn") else f"{self._arn}/{key}"


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _generate_secret(spec: dict[str, Any]) -> str:
    alphabet = string.ascii_letters + string.digits
    if not _truthy(spec.get("ExcludePunctuation")):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = value
        return json.dumps(document)
    return value


_CREATORS: dict[str, Callable[[ResourceManager, str, dict[str, Any]], Physical]] = {
    "AWS::DynamoDB::Table": ResourceManager._create_table,
    "AWS::Serverless::SimpleTable": ResourceManager._create_simple_table,
    "AWS::SQS::Queue": ResourceManager._create_queue,
    "AWS::Events::EventBus": ResourceManager._create_bus,
    "AWS::Events::Rule": ResourceManager._create_rule,
    "AWS::S3::Bucket": ResourceManager._create_bucket,
    "AWS::SecretsManager::Secret": ResourceManager._create_secret,
    "AWS::SSM::Parameter": ResourceManager._create_parameter,
    "AWS::SNS::Topic": ResourceManager._create_topic,
    "AWS::SNS::Subscription": ResourceManager._create_subscription,
}

# Types that are expected not to exist locally (no log line for them).
_KNOWN_SKIPPED = {
    SERVERLESS_FUNCTION,
    LAMBDA_FUNCTION,
    *_API_TYPES,
    "AWS::Serverless::LayerVersion",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventSourceMapping",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::Logs::LogGroup",
    "AWS::CloudWatch::Alarm",
}
