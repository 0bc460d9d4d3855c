"""template.yaml and the code agree: key names, indexes, queues with DLQs, partial-batch reporting."""

from __future__ import annotations

import re
from pathlib import Path

from fulfillment import keys

from tests.support.stack import ROOT, resources, template

HANDLER_ENV = re.compile(r'"([A-Z][A-Z0-9_]+_(?:ARN|URL|NAME))"')


def functions() -> dict[str, dict]:
    return resources("AWS::Serverless::Function")


def test_table_keys_and_indexes_match_the_keys_module() -> None:
    [table] = resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["PK", "SK"]
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in props["GlobalSecondaryIndexes"]}
    assert indexes == {keys.STATUS_INDEX: ["GSI1PK", "GSI1SK"], keys.TIMER_INDEX: ["GSI2PK", "GSI2SK"]}
    assert set(keys.status_index_keys("x", "t", "o")) == {"GSI1PK", "GSI1SK"}
    assert set(keys.picklist_index_keys("L", "accepted", "t", "o.001")) == {"GSI1PK", "GSI1SK"}
    assert set(keys.timer_keys("o.001", "t")) == {"GSI2PK", "GSI2SK"}
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_every_work_queue_has_a_dlq_and_a_long_enough_visibility_timeout() -> None:
    queues = resources("AWS::SQS::Queue")
    dlqs = {name for name in queues if name.endswith("DLQ")}
    for name, queue in queues.items():
        if name in dlqs:
            continue
        redrive = queue["Properties"].get("RedrivePolicy")
        assert redrive, f"{name} has no DLQ"
        assert redrive["deadLetterTargetArn"]["GetAtt"].split(".")[0] in dlqs
    for fn_name, fn in functions().items():
        timeout = fn["Properties"].get("Timeout", template()["Globals"]["Function"]["Timeout"])
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                queue = event["Properties"]["Queue"]["GetAtt"].split(".")[0]
                visibility = queues[queue]["Properties"].get("VisibilityTimeout", 30)
                assert visibility >= 6 * timeout, f"{queue}: visibility {visibility} < 6 x {fn_name} timeout {timeout}"


def test_every_queue_and_stream_consumer_reports_partial_batch_failures() -> None:
    consumers = 0
    for name, fn in functions().items():
        for event_name, event in fn["Properties"].get("Events", {}).items():
            if event["Type"] in ("SQS", "DynamoDB", "Kinesis"):
                consumers += 1
                assert event["Properties"].get("FunctionResponseTypes") == ["ReportBatchItemFailures"], (
                    name,
                    event_name,
                )
    assert consumers >= 2


def test_only_the_event_router_reads_the_stream() -> None:
    readers = [
        name
        for name, fn in functions().items()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    ]
    assert readers == ["EventRouterFunction"]


def test_the_stream_filters_use_the_keys_modules_sort_keys() -> None:
    filters = functions()["EventRouterFunction"]["Properties"]["Events"]["TableStream"]["Properties"]["FilterCriteria"]
    text = " ".join(f["Pattern"] for f in filters["Filters"])
    for sort_key in (keys.ORDER_SK, keys.CATALOG_SK, keys.SHIPMENT_PREFIX, keys.LOCATION_PREFIX):
        assert f'"{sort_key}"' in text


def test_every_environment_variable_a_function_reads_is_given_by_the_template() -> None:
    shared = (ROOT / "layers/fulfillment/fulfillment").rglob("*.py")
    shared_reads = {m for path in shared for m in HANDLER_ENV.findall(path.read_text())}
    for name, fn in functions().items():
        code = fn["Properties"]["CodeUri"]
        reads = set(HANDLER_ENV.findall((ROOT / code / "app.py").read_text()))
        given = set(fn["Properties"].get("Environment", {}).get("Variables", {})) | set(
            template()["Globals"]["Function"]["Environment"]["Variables"]
        )
        assert reads <= given, f"{name} reads {sorted(reads - given)} which the template does not set"
    assert shared_reads  # the scan itself found something


def test_every_function_has_its_own_code_and_least_privilege_policy() -> None:
    for name, fn in functions().items():
        props = fn["Properties"]
        assert (ROOT / props["CodeUri"] / "app.py").is_file(), name
        statements = props["Policies"][0]["Statement"]
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in a for a in actions), f"{name} has a wildcard action"
            assert statement["Resource"] != "*", f"{name} has a wildcard resource"


def test_the_layer_ships_the_shared_package() -> None:
    [layer] = resources("AWS::Serverless::LayerVersion").values()
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "fulfillment" / "__init__.py").is_file()
    assert (content / "requirements.txt").is_file()
    assert Path(content / "fulfillment").resolve() != (ROOT / "local").resolve()
