"""The sample events in events/ cover every trigger in template.yaml and speak the public contracts.

Given the template's functions and the samples under events/<function folder>/:
- every function has a sample per trigger it declares (each API route, each message type of each
  queue it reads, its table stream, its schedule): adding a route, a function or a message type
  without a sample fails here;
- every SQS body validates against its queue's contract; every signed webhook verifies with the
  sample secret (the template's Metadata.LocalValue) and fails after a one-byte change; every API
  sample is a template route; every stream record is valid DynamoDB JSON that the router's stream
  filter lets through;
- `fulfillment.router.route` makes of every stream sample exactly the work messages, customer events and
  timeline items in `ROUTED` (which events/README.md states after each sample's `→`), nothing of the same
  image routed again, and the samples between them show every decision the router makes (`DECISIONS`).

Fast and offline: no moto, no network. Imports only the contracts, the signature schemes, the router (and
through it the codecs) and the template loader, which stay stable while the rest is rewritten.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from fulfillment import router, signatures
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.contracts.messages import DIGITAL_WORK, DISPATCH_WORK, RESERVATION_WORK
from fulfillment.contracts.provider import INBOUND
from fulfillment.signatures import Unauthorized
from fulfillment_local.cfn import load_yaml
from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TEMPLATE = load_yaml(ROOT / "template.yaml")
RESOURCES: dict[str, dict] = TEMPLATE["Resources"]

# What each queue carries. A function reading a queue not listed here fails the coverage test.
QUEUE_CONTRACTS: dict[str, TypeAdapter] = {
    "ReservationQueue": RESERVATION_WORK,
    "DispatchQueue": DISPATCH_WORK,
    "InboundQueue": INBOUND,
    "DigitalQueue": DIGITAL_WORK,
}
# Message types whose samples must show more than one shape: (description, predicate over the body).
VARIANTS: dict[str, list[tuple[str, Callable[[dict], bool]]]] = {
    "shipment.shipped": [
        ("a full shipment (no lines)", lambda body: not body.get("lines")),
        ("a partial shipment (lines)", lambda body: bool(body.get("lines"))),
    ],
}


@dataclass(frozen=True)
class Webhook:
    secret_env: str  # the function's env var naming the secret (its LocalValue signs the sample)
    header: str
    verify: Callable[..., None]
    native: bool = False


WEBHOOKS: dict[tuple[str, str], Webhook] = {
    ("POST", "/webhooks/shopify"): Webhook("SHOPIFY_SECRET_ARN", "X-Shopify-Hmac-Sha256", signatures.verify_shopify),
    ("POST", "/webhooks/woocommerce"): Webhook(
        "WOOCOMMERCE_SECRET_ARN", "X-WC-Webhook-Signature", signatures.verify_woocommerce
    ),
    ("POST", "/orders"): Webhook("NATIVE_SECRET_ARN", "X-Fulfillment-Signature", signatures.verify_native, True),
    ("POST", "/webhooks/tracking/easypost"): Webhook(
        "EASYPOST_SECRET_ARN", "X-Hmac-Signature", signatures.verify_easypost
    ),
    ("POST", "/webhooks/tracking/aftership"): Webhook(
        "AFTERSHIP_SECRET_ARN", "aftership-hmac-sha256", signatures.verify_aftership
    ),
}
WOOCOMMERCE_PING = re.compile(r"^webhook_id=\d+$")
CUSTOMER_VIEW = ("GET", "/orders/{order_id}")
ORDER_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of an HMAC-SHA256, unpadded


# ------------------------------------------------------------------ the template
@dataclass
class Function:
    logical_id: str
    folder: str
    environment: dict[str, Any]
    events: dict[str, dict] = field(default_factory=dict)  # event name -> {"Type", "Properties"}

    def routes(self) -> dict[tuple[str, str], dict]:
        """(METHOD, path) -> the Api event's properties."""
        return {
            (e["Properties"]["Method"].upper(), e["Properties"]["Path"]): e["Properties"]
            for e in self.events.values()
            if e["Type"] == "Api"
        }

    def queues(self) -> list[str]:
        return [_logical_id(e["Properties"]["Queue"]) for e in self.events.values() if e["Type"] == "SQS"]


def _logical_id(value: Any) -> str:
    """The logical id behind !GetAtt X.Arn / !Ref X."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    raise AssertionError(f"expected !Ref or !GetAtt, got {value!r}")


def _functions() -> dict[str, Function]:
    functions = {}
    for logical_id, resource in RESOURCES.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        folder = PurePosixPath(str(props["CodeUri"]).rstrip("/")).name
        env = ((props.get("Environment") or {}).get("Variables")) or {}
        functions[logical_id] = Function(logical_id, folder, env, dict(props.get("Events") or {}))
    return functions


FUNCTIONS = _functions()
BY_FOLDER = {f.folder: f for f in FUNCTIONS.values()}


def local_value(function: Function, env_name: str) -> str:
    """The sample secret: LocalValue of the secret the function's env var points at."""
    reference = function.environment.get(env_name)
    assert reference is not None, f"{function.logical_id} has no env var {env_name}"
    value = (RESOURCES[_logical_id(reference)].get("Metadata") or {}).get("LocalValue")
    assert isinstance(value, str), f"{_logical_id(reference)} has no Metadata.LocalValue to sign samples with"
    return value


# ------------------------------------------------------------------ the samples
def _kind(event: dict) -> str | None:
    if "httpMethod" in event and "requestContext" in event:
        return "Api"
    if event.get("detail-type") == "Scheduled Event":
        return "Schedule"
    sources = {r.get("eventSource") for r in event.get("Records") or [{}]}
    if sources == {"aws:sqs"}:
        return "SQS"
    if sources == {"aws:dynamodb"}:
        return "DynamoDB"
    return None


@dataclass(frozen=True)
class Sample:
    path: Path
    event: dict

    @property
    def folder(self) -> str:
        return self.path.parent.name

    @property
    def kind(self) -> str | None:
        return _kind(self.event)

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.path.name}"


SAMPLES = [Sample(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(EVENTS.glob("*/*.json"))]


def samples(kind: str) -> list[Any]:
    return [pytest.param(s, id=s.name) for s in SAMPLES if s.kind == kind]


def raw_body(event: dict) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


def header(event: dict, name: str) -> str | None:
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == name.lower()), None)


def queue_of(record: dict) -> str | None:
    """The queue's logical id in a CloudFormation-named queue ARN (<stack>-<LogicalId>-<suffix>)."""
    name = record["eventSourceARN"].rsplit(":", 1)[-1]
    return next((q for q in QUEUE_CONTRACTS if f"-{q}-" in f"-{name}-"), None)


def message_types(adapter: TypeAdapter) -> set[str]:
    return set(adapter.json_schema()["discriminator"]["mapping"])


def flip_one_byte(raw: bytes) -> bytes:
    i = len(raw) // 2
    return raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]


# ------------------------------------------------------------------ coverage
def test_the_template_and_the_samples_are_found() -> None:
    assert FUNCTIONS, "no AWS::Serverless::Function in template.yaml"
    assert len(SAMPLES) >= len(FUNCTIONS), f"too few samples under {EVENTS}"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_trigger_of_every_function_has_a_sample(logical_id: str) -> None:
    function = FUNCTIONS[logical_id]
    mine = [s for s in SAMPLES if s.folder == function.folder]
    missing: list[str] = []
    for name, definition in function.events.items():
        kind, props = definition["Type"], definition.get("Properties") or {}
        if kind == "Api":
            route = (props["Method"].upper(), props["Path"])
            if not any(s.kind == "Api" and (s.event["httpMethod"], s.event["resource"]) == route for s in mine):
                missing.append(f"{name}: an API event for {route[0]} {route[1]}")
        elif kind == "SQS":
            queue = _logical_id(props["Queue"])
            assert queue in QUEUE_CONTRACTS, f"{logical_id}.{name} reads {queue}: add its contract to QUEUE_CONTRACTS"
            bodies = [
                json.loads(r["body"])
                for s in mine
                if s.kind == "SQS"
                for r in s.event["Records"]
                if queue_of(r) == queue
            ]
            seen = {b.get("type") for b in bodies}
            for message_type in sorted(message_types(QUEUE_CONTRACTS[queue]) - seen):
                missing.append(f"{name}: an SQS record on {queue} with a {message_type} body")
            for message_type, variants in VARIANTS.items():
                if message_type in message_types(QUEUE_CONTRACTS[queue]):
                    for what, shows in variants:
                        if not any(b.get("type") == message_type and shows(b) for b in bodies):
                            missing.append(f"{name}: {message_type} as {what}")
        elif kind == "DynamoDB":
            table = _logical_id(props["Stream"])
            streams = [s for s in mine if s.kind == "DynamoDB"]
            if not streams:
                missing.append(f"{name}: a DynamoDB stream event of {table}")
        elif kind == "Schedule":
            if not any(s.kind == "Schedule" for s in mine):
                missing.append(f"{name}: an EventBridge scheduled event")
        else:
            missing.append(f"{name}: trigger type {kind} has no sample check yet (extend this test)")
    assert not missing, f"events/{function.folder}/ lacks samples:\n  " + "\n  ".join(missing)


def test_every_sample_belongs_to_a_trigger_its_function_declares() -> None:
    problems = []
    for sample in SAMPLES:
        function = BY_FOLDER.get(sample.folder)
        if function is None:
            problems.append(f"{sample.name}: no function has CodeUri functions/{sample.folder}/")
            continue
        declared = {e["Type"] for e in function.events.values()}
        if sample.kind is None:
            problems.append(f"{sample.name}: not an API Gateway, SQS, DynamoDB stream or scheduled event")
        elif sample.kind not in declared:
            problems.append(f"{sample.name}: a {sample.kind} event, but {function.logical_id} has no such trigger")
        elif sample.kind == "SQS":
            for record in sample.event["Records"]:
                if queue_of(record) not in function.queues():
                    problems.append(f"{sample.name}: {record['eventSourceARN']} is not a queue of the function")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ API Gateway
@pytest.mark.parametrize("sample", samples("Api"))
def test_api_sample_is_a_template_route_in_rest_proxy_shape(sample: Sample) -> None:
    event = sample.event
    function = BY_FOLDER[sample.folder]
    route = (event["httpMethod"], event["resource"])
    assert route in function.routes(), f"{route} is not a route of {function.logical_id}: {sorted(function.routes())}"

    context = event["requestContext"]
    assert (context["resourcePath"], context["httpMethod"]) == (event["resource"], event["httpMethod"])
    assert context["stage"] and context["requestId"] and "identity" in context
    expected_path = event["resource"]
    for name, value in (event.get("pathParameters") or {}).items():
        expected_path = expected_path.replace("{" + name + "}", value)
    assert "{" not in expected_path, f"pathParameters do not fill {event['resource']}"
    assert event["path"] == expected_path
    assert context["path"] == f"/{context['stage']}{event['path']}"

    headers = event["headers"] or {}
    assert event["multiValueHeaders"] == {k: [v] for k, v in headers.items()}
    query = event["queryStringParameters"]
    multi_query = event.get("multiValueQueryStringParameters")
    assert (multi_query or None) == ({k: [v] for k, v in query.items()} if query else None)

    assert isinstance(event["isBase64Encoded"], bool)
    if event["body"] is not None:
        assert isinstance(event["body"], str)
        if not event["isBase64Encoded"] and (header(event, "Content-Type") or "").startswith("application/json"):
            json.loads(event["body"])


def _webhook_samples() -> list[Any]:
    return [p for p in samples("Api") if (p.values[0].event["httpMethod"], p.values[0].event["resource"]) in WEBHOOKS]


@pytest.mark.parametrize("sample", _webhook_samples())
def test_webhook_sample_is_signed_with_the_sample_secret(sample: Sample) -> None:
    event = sample.event
    webhook = WEBHOOKS[(event["httpMethod"], event["resource"])]
    raw = raw_body(event)
    signature = header(event, webhook.header)
    if signature is None and event["resource"] == "/webhooks/woocommerce":
        assert WOOCOMMERCE_PING.match(raw.decode()), "only the WooCommerce ping is sent unsigned"
        assert not any(k.lower().startswith("x-wc-webhook-") for k in event["headers"])
        return
    assert signature, f"{sample.name} has no {webhook.header}"
    secret = local_value(BY_FOLDER[sample.folder], webhook.secret_env)
    options: dict[str, Any] = {}
    if webhook.native:
        options["now"] = int(re.search(r"(?:^|,)\s*t=(\d+)", signature).group(1))

    webhook.verify(raw, signature, [secret], **options)  # Then the sample verifies ...
    with pytest.raises(Unauthorized):  # ... and one changed byte does not
        webhook.verify(flip_one_byte(raw), signature, [secret], **options)
    with pytest.raises(Unauthorized):  # ... nor another secret
        webhook.verify(raw, signature, [secret + "x"], **options)


@pytest.mark.parametrize("sample", samples("Api"))
def test_admin_routes_carry_the_sample_admin_token(sample: Sample) -> None:
    event = sample.event
    function = BY_FOLDER[sample.folder]
    props = function.routes()[(event["httpMethod"], event["resource"])]
    identity = event["requestContext"]["identity"]
    if (props.get("Auth") or {}).get("Authorizer") != "AWS_IAM":
        assert not identity.get("caller") and not identity.get("userArn"), "only IAM-signed requests have a caller"
        return
    token = local_value(function, "ADMIN_SECRET_ARN")
    assert header(event, "Authorization") == f"Bearer {token}"
    assert not identity.get("caller") and not identity.get("userArn"), "the bearer token, not IAM, is what is shown"


def test_the_customer_order_view_carries_an_order_token() -> None:
    views = [s for s in SAMPLES if s.kind == "Api" and (s.event["httpMethod"], s.event["resource"]) == CUSTOMER_VIEW]
    assert views, "no sample of GET /orders/{order_id}"
    for sample in views:
        query = sample.event["queryStringParameters"] or {}
        assert ORDER_TOKEN.match(query.get("token", "")), f"{sample.name}: ?token= is not an order access token"
        assert header(sample.event, "Authorization") is None, "the customer view sample shows the ?token= form"


# ------------------------------------------------------------------ SQS
@pytest.mark.parametrize("sample", samples("SQS"))
def test_sqs_sample_is_an_sqs_delivery_of_a_contract_message(sample: Sample) -> None:
    for record in sample.event["Records"]:
        assert record["messageId"] and record["receiptHandle"]
        assert record["eventSource"] == "aws:sqs" and record["awsRegion"]
        assert re.match(r"^arn:aws:sqs:[a-z0-9-]+:\d{12}:[\w-]+$", record["eventSourceARN"])
        attributes = record["attributes"]
        assert attributes["SenderId"] and int(attributes["ApproximateReceiveCount"]) >= 1
        assert int(attributes["SentTimestamp"]) > 0
        assert isinstance(record["messageAttributes"], dict)
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        queue = queue_of(record)
        assert queue is not None, f"{record['eventSourceARN']} names none of {sorted(QUEUE_CONTRACTS)}"
        message = QUEUE_CONTRACTS[queue].validate_json(record["body"])
        assert message.type == json.loads(record["body"])["type"]


# ------------------------------------------------------------------ DynamoDB stream
DESERIALIZER = TypeDeserializer()
IMAGES_BY_EVENT = {"INSERT": {"NewImage"}, "MODIFY": {"NewImage", "OldImage"}, "REMOVE": {"OldImage"}}


def _stream_definition(function: Function) -> tuple[str, dict]:
    streams = [e["Properties"] for e in function.events.values() if e["Type"] == "DynamoDB"]
    assert len(streams) == 1, f"{function.logical_id}: expected one stream trigger"
    return _logical_id(streams[0]["Stream"]), streams[0]


def _deserialise(image: dict) -> dict:
    return {name: DESERIALIZER.deserialize(value) for name, value in image.items()}


def matches(pattern: Any, value: Any) -> bool:
    """The subset of Lambda's event-filter syntax the template uses: nested keys, literals, prefix."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    assert isinstance(pattern, list), f"unsupported filter pattern {pattern!r}"
    for option in pattern:
        if isinstance(option, dict):
            assert set(option) == {"prefix"}, f"filter operator {option} is not understood by this test (extend it)"
            if isinstance(value, str) and value.startswith(option["prefix"]):
                return True
        elif option == value:
            return True
    return False


def passes_filters(record: dict, stream: dict) -> bool:
    filters = ((stream.get("FilterCriteria") or {}).get("Filters")) or []
    return not filters or any(matches(json.loads(f["Pattern"]), record) for f in filters)


@pytest.mark.parametrize("sample", samples("DynamoDB"))
def test_stream_sample_is_valid_dynamodb_json_the_filter_lets_through(sample: Sample) -> None:
    function = BY_FOLDER[sample.folder]
    table, stream = _stream_definition(function)
    view_type = RESOURCES[table]["Properties"]["StreamSpecification"]["StreamViewType"]
    for record in sample.event["Records"]:
        assert record["eventSource"] == "aws:dynamodb" and record["eventID"] and record["awsRegion"]
        assert re.match(r"^arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/[\w.-]+/stream/[\w:.-]+$", record["eventSourceARN"])
        assert table in record["eventSourceARN"], f"the stream ARN should name the table {table}"
        body = record["dynamodb"]
        assert body["StreamViewType"] == view_type
        assert body["SequenceNumber"].isdigit() and int(body["SizeBytes"]) > 0
        assert set(body) & {"NewImage", "OldImage"} == IMAGES_BY_EVENT[record["eventName"]]

        keys = _deserialise(body["Keys"])
        assert set(keys) == {"PK", "SK"} and all(isinstance(v, str) for v in keys.values())
        for image_name in ("NewImage", "OldImage"):
            if image_name in body:
                image = _deserialise(body[image_name])
                assert {"PK": image["PK"], "SK": image["SK"]} == keys, f"{image_name} is another item than Keys"
        assert passes_filters(record, stream), f"{keys['SK']} ({record['eventName']}) is filtered out of the stream"


def test_the_filter_matcher_can_say_no() -> None:
    """Guards the test above: records the router's filter drops are really rejected by `passes_filters`."""
    _, stream = _stream_definition(FUNCTIONS["EventRouterFunction"])
    dropped = {
        "a timeline item (the router's own write)": ("INSERT", "ORDER#o_x", "TL#2025-03-14T10:15:30#o:00000001#00"),
        "a shipment event item": ("INSERT", "ORDER#o_x", "EV#o_x.001#0123456789abcdef0123456789abcdef"),
        "an order item removed": ("REMOVE", "ORDER#o_x", "ORDER"),
        "a backorder queue entry": ("INSERT", "BACKORDER#SKU-1", "2025-03-14T10:15:30+00:00#o_x#0001"),
    }
    for what, (event_name, pk, sk) in dropped.items():
        record = {"eventName": event_name, "dynamodb": {"Keys": _serialise({"PK": pk, "SK": sk})}}
        assert not passes_filters(record, stream), f"the stream filter lets {what} through"


# ------------------------------------------------------------------ what the router makes of the stream samples
@dataclass(frozen=True)
class Routed:
    """What `fulfillment.router.route` makes of one stream sample: work message types per queue, customer event
    types, and how many timeline items it writes. events/README.md says the same for each sample (checked)."""

    reservation: tuple[str, ...] = ()  # ReservationQueue
    dispatch: tuple[str, ...] = ()  # DispatchQueue
    digital: tuple[str, ...] = ()  # DigitalQueue
    events: tuple[str, ...] = ()  # customer events (EventBridge DetailType)
    history: int = 0  # timeline items (one per change that has entries in the new image's `changes`)

    @property
    def outputs(self) -> set[str]:
        return {*self.reservation, *self.dispatch, *self.digital, *self.events}


# The one expectation table: every stream sample, and nothing but them.
ROUTED: dict[str, Routed] = {
    "order_reservation_pending.json": Routed(
        reservation=("reserve_order",), digital=("issue_downloads",), events=("OrderReceived",), history=0
    ),
    "order_undispatched_units.json": Routed(dispatch=("dispatch_order",), history=1),
    "order_release_pending.json": Routed(reservation=("release_order",), events=("OrderCancelled",), history=1),
    "order_cancelled_with_shipments.json": Routed(
        reservation=("release_order",), dispatch=("cancel_order_shipments",), events=("OrderCancelled",), history=1
    ),
    "order_hold_placed.json": Routed(events=("OrderOnHold",), history=1),
    "shipment_delayed.json": Routed(events=("ShipmentDelayed",), history=1),
    "stock_available_rises.json": Routed(reservation=("allocate_backorders",)),
    "catalog_backordered_units.json": Routed(reservation=("allocate_backorders",)),
    "shipment_accepted.json": Routed(history=1),
    "stock_shard_runs_dry.json": Routed(reservation=("rebalance_stock",)),
}
# What the stream samples must show between them: (description, predicate over (event name, SK, new, routed)).
RouteCase = Callable[[str, str, dict, router.Routed], bool]
DECISIONS: list[tuple[str, RouteCase]] = [
    (
        "an order whose reservation becomes pending (the message names its SKUs: read with the order in one call)",
        lambda e, sk, new, r: (
            _types(r.messages) == ["reserve_order"]
            and set(r.messages[0].skus) == {ln["sku"] for ln in new["lines"] if ln.get("kind") == "physical"}
        ),
    ),
    (
        "a cancelled order without shipments whose release becomes pending",
        lambda e, sk, new, r: "release_order" in _types(r.messages) and not r.dispatch,
    ),
    ("an order whose undispatched units appear", lambda e, sk, new, r: "dispatch_order" in _types(r.dispatch)),
    ("an order whose paid digital lines become due", lambda e, sk, new, r: "issue_downloads" in _types(r.digital)),
    ("an order cancelled with shipments", lambda e, sk, new, r: "cancel_order_shipments" in _types(r.dispatch)),
    (
        "an order change (MODIFY) whose `changes` carry a customer event",
        lambda e, sk, new, r: e == "MODIFY" and sk == "ORDER" and bool(r.events) and not r.messages and not r.dispatch,
    ),
    (
        "a shipment change whose `changes` carry a customer event",
        lambda e, sk, new, r: sk.startswith("SHIP#") and bool(r.events),
    ),
    (
        "a shipment write that applied a message (`heard`): its event item",
        lambda e, sk, new, r: (
            sk.startswith("SHIP#") and any(str(h["SK"]).startswith("EV#") for h in r.history) and "heard" in new
        ),
    ),
    (
        "a stock level whose available units rise",
        lambda e, sk, new, r: sk.startswith("LOC#") and _types(r.messages) == ["allocate_backorders"],
    ),
    (
        "a catalog entry whose backordered_units grow",
        lambda e, sk, new, r: sk == "CATALOG" and _types(r.messages) == ["allocate_backorders"],
    ),
    (
        "a shard item of a sharded level running dry",
        lambda e, sk, new, r: sk.startswith("LOC#") and new.get("shard") and _types(r.messages) == ["rebalance_stock"],
    ),
]
SUBJECTS = ("order_id", "shipment_id", "sku")  # the field a work message names its item by
EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
EVENT_NAME = re.compile(r"^(?:[A-Z][a-z]+){2,}$")  # OrderOnHold, ShipmentDelayed, ...
README = (EVENTS / "README.md").read_text(encoding="utf-8")
SERIALIZER = TypeSerializer()


def _serialise(item: dict) -> dict:
    return {name: SERIALIZER.serialize(value) for name, value in item.items()}


def _types(messages: list) -> list[str]:
    return [m.type for m in messages]


def _images(record: dict) -> tuple[str, dict | None, dict | None]:
    """(SK, new, old) as the handler hands them to the router (powertools deserialises with TypeDeserializer)."""
    body = record["dynamodb"]
    new = _deserialise(body["NewImage"]) if "NewImage" in body else None
    old = _deserialise(body["OldImage"]) if "OldImage" in body else None
    return _deserialise(body["Keys"])["SK"], new, old


def _stream_records() -> list[Any]:
    return [
        pytest.param(s, r, id=s.name if len(s.event["Records"]) == 1 else f"{s.name}#{n}")
        for s in SAMPLES
        if s.kind == "DynamoDB"
        for n, r in enumerate(s.event["Records"])
    ]


def test_every_stream_sample_has_an_expectation() -> None:
    names = {s.path.name for s in SAMPLES if s.kind == "DynamoDB"}
    assert sorted(names - set(ROUTED)) == [], "add what the router makes of these samples to ROUTED"
    assert sorted(set(ROUTED) - names) == [], "ROUTED lists samples that events/ no longer has"


@pytest.mark.parametrize(("sample", "record"), _stream_records())
def test_the_router_makes_of_a_stream_sample_what_the_readme_says(sample: Sample, record: dict) -> None:
    expected = ROUTED[sample.path.name]
    sk, new, old = _images(record)
    assert new is not None, "the router reads INSERT and MODIFY records"
    routed = router.route(sk, new, old)

    assert _types(routed.messages) == list(expected.reservation)
    assert _types(routed.dispatch) == list(expected.dispatch)
    assert _types(routed.digital) == list(expected.digital)
    for queue, messages in (
        ("ReservationQueue", routed.messages),
        ("DispatchQueue", routed.dispatch),
        ("DigitalQueue", routed.digital),
    ):
        for message in messages:
            body = message.model_dump_json()
            assert QUEUE_CONTRACTS[queue].validate_json(body).type == message.type, f"{message.type} on {queue}"
            subject = next(name for name in SUBJECTS if name in type(message).model_fields)
            assert getattr(message, subject) == new[subject], f"{message.type} names another {subject}"

    # History: one timeline item per change, holding each of its entries, and one event item per message a shipment
    # write applied, in the item's partition, which the stream filter keeps out of the router (its own writes must
    # not come back to it).
    _, stream = _stream_definition(BY_FOLDER[sample.folder])
    # A new order's creating change is carried by its detail item (written with it at intake): no timeline item.
    carried = old is None and bool(new.get("timeline_on_detail"))
    assert len(routed.history) == expected.history == bool(new.get("changes")) - carried + bool(new.get("heard"))
    for item in routed.history:
        if item["type"] == "shipment_event":  # the message the write applied
            heard = new["heard"]
            assert item["PK"] == new["PK"] and item["SK"].startswith(f"EV#{new['shipment_id']}#")
            assert (item["source"], item["message_id"], item["event"]) == (
                heard["source"],
                heard["message_id"],
                heard["event"],
            )
        else:
            assert [e["entry"] for e in item["entries"]] == [c["type"] for c in new["changes"]]
            assert item["PK"] == new["PK"] and item["SK"].startswith("TL#") and item["type"] == "timeline"
            assert item["order_id"] == new["order_id"]
        insert = {"eventName": "INSERT", "dynamodb": {"Keys": _serialise({"PK": item["PK"], "SK": item["SK"]})}}
        assert not passes_filters(insert, stream), f"the router's timeline write {item['SK']} would loop back"

    # Customer events: the types listed, each with a stable id that its timeline item carries too.
    assert [e["type"] for e in routed.events] == list(expected.events)
    recorded = list(routed.history)
    if carried:  # the timeline the new order's detail item carries (order_codec.creation_items): the same entries
        recorded.append(
            order_codec.timeline_item(new["order_id"], new["updated_at"], "o", int(new["version"]), new["changes"])
        )
    written_ids = {e["event_id"] for item in recorded for e in item.get("entries", ()) if "event_id" in e}
    for detail in routed.events:
        assert EVENT_ID.match(detail["event_id"]) and detail["event_id"] in written_ids
        assert detail["order_id"] == new["order_id"]
        assert detail["occurred_at"] == new["updated_at"]  # the time of the change that made it
        entry = router.event_entry(detail, "fulfillment-bus")
        assert entry["DetailType"] == detail["type"] and json.loads(entry["Detail"])["event_id"] == detail["event_id"]
    assert len({e["event_id"] for e in routed.events}) == len(routed.events), "two events share an id"


@pytest.mark.parametrize(("sample", "record"), _stream_records())
def test_the_same_image_again_routes_to_nothing(sample: Sample, record: dict) -> None:
    """The router acts on transitions: a record whose old image is its new one (a no-op rewrite, a replay of the
    same version) sends no work, writes no history and publishes no event."""
    sk, new, _ = _images(record)
    assert new is not None
    routed = router.route(sk, new, new)
    assert (routed.messages, routed.dispatch, routed.history, routed.events) == ([], [], [], [])


def test_the_stream_samples_show_every_router_decision() -> None:
    routed = []
    for sample in SAMPLES:
        if sample.kind == "DynamoDB":
            for record in sample.event["Records"]:
                sk, new, old = _images(record)
                routed.append((record["eventName"], sk, new or {}, router.route(sk, new, old)))
    missing = [what for what, shows in DECISIONS if not any(shows(*case) for case in routed)]
    assert not missing, "events/event_router/ lacks a sample of:\n  " + "\n  ".join(missing)


def _readme_outputs(folder: str) -> dict[str, set[str]]:
    """`- \\`name.json\\` — ... → outputs` lines of events/README.md: the message types and event names
    (backticked, after the last arrow) each sample of `folder` is said to produce."""
    section = README.split(f"### `{folder}/`", 1)[1].split("\n### ", 1)[0]
    vocabulary = message_types(RESERVATION_WORK) | message_types(DISPATCH_WORK) | message_types(DIGITAL_WORK)
    outputs = {}
    for match in re.finditer(r"^- `([\w.-]+\.json)` — (.*)$", section, re.MULTILINE):
        said = match.group(2).rsplit("→", 1)[1] if "→" in match.group(2) else ""
        tokens = re.findall(r"`([^`]+)`", said)
        outputs[match.group(1)] = {t for t in tokens if t in vocabulary or EVENT_NAME.match(t)}
    return outputs


def test_the_readme_says_what_the_router_makes_of_each_stream_sample() -> None:
    said = _readme_outputs(FUNCTIONS["EventRouterFunction"].folder)
    assert sorted(said) == sorted(ROUTED), "events/README.md should describe exactly the event_router samples"
    wrong = {name: (sorted(said[name]), sorted(routed.outputs)) for name, routed in ROUTED.items()}
    wrong = {name: pair for name, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, f"README says (after →) vs the router makes: {wrong}"


# ------------------------------------------------------------------ schedule
@pytest.mark.parametrize("sample", samples("Schedule"))
def test_scheduled_sample_is_what_eventbridge_sends(sample: Sample) -> None:
    event = sample.event
    assert event["source"] == "aws.events" and event["version"] == "0" and event["detail"] == {}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", event["time"])
    assert event["account"].isdigit() and event["region"] and event["id"]
    assert len(event["resources"]) == 1 and re.match(r"^arn:aws:events:[a-z0-9-]+:\d{12}:rule/", event["resources"][0])


# ------------------------------------------------------------------ the generator
def _load(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """events/<name>.py as module `name` (generate.py imports its sibling as `sign`)."""
    spec = importlib.util.spec_from_file_location(name, EVENTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_the_sample_secrets_are_the_template_local_values(monkeypatch: pytest.MonkeyPatch) -> None:
    sign = _load("sign", monkeypatch)
    secret_of = {
        "shopify": "ShopifyWebhookSecret",
        "woocommerce": "WooCommerceWebhookSecret",
        "native": "NativeWebhookSecret",
        "easypost": "EasyPostWebhookSecret",
        "aftership": "AfterShipWebhookSecret",
        "admin": "AdminApiSecret",
        "order_token": "OrderTokenSecret",
        "download_signing": "DownloadSigningSecret",
    }
    local = {name: RESOURCES[logical_id]["Metadata"]["LocalValue"] for name, logical_id in secret_of.items()}
    assert sign.SAMPLE_SECRETS == local, "update SAMPLE_SECRETS in events/sign.py and run events/generate.py"


def test_the_committed_samples_are_what_generate_py_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    sign = _load("sign", monkeypatch)
    generate = _load("generate", monkeypatch)
    expected = {}
    for folder, build in generate.SAMPLES.items():
        for name, event in build().items():
            sign.sign_event(event, sign.SAMPLE_SECRETS, timestamp=generate.SAMPLE_TIMESTAMP)
            expected[f"{folder}/{name}.json"] = sign.dump(event)
    committed = {s.name: s.path.read_text(encoding="utf-8") for s in SAMPLES}
    assert sorted(committed) == sorted(expected), "run: .venv/bin/python events/generate.py"
    stale = [name for name in expected if committed[name] != expected[name]]
    assert not stale, f"out of date (run .venv/bin/python events/generate.py): {stale}"
