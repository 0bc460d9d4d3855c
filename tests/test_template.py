"""template.yaml and the code agree: key names, indexes, queues with DLQs, partial-batch reporting."""

from __future__ import annotations

import re
from pathlib import Path

from fulfillment import keys

from tests.support.stack import ROOT, resources, template


def functions() -> dict[str, dict]:
    return resources("AWS::Serverless::Function")


def test_table_keys_and_indexes_match_the_keys_module() -> None:
    [table] = resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["PK", "SK"]
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in props["GlobalSecondaryIndexes"]}
    assert indexes == {keys.STATUS_INDEX: ["GSI1PK", "GSI1SK"], keys.TIMER_INDEX: ["GSI2PK", "GSI2SK"]}
    assert set(keys.status_index_keys("on_hold", "t", "o")) == {"GSI1PK", "GSI1SK"}
    assert keys.status_index_keys("shipped", "t", "o") == {}  # not a listed status: the order leaves GSI1
    assert keys.ORDER_LIST_INDEX == keys.TIMER_INDEX and set(keys.order_list_keys("t", "o")) == {"GSI2PK", "GSI2SK"}
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


SECRET_USE = re.compile(r'(?:secret_values|first_secret)\("([A-Z_]+)"\)')
DLQ_USE = re.compile(r'queue="([A-Z]+)"')


def test_every_secret_and_dlq_a_function_uses_is_given_by_the_template() -> None:
    """Handlers name secrets and queues by their setting (config.Settings); the template must give each one."""
    from fulfillment.config import DLQ_QUEUES, SECRETS

    for name, fn in functions().items():
        code = (ROOT / fn["Properties"]["CodeUri"] / "app.py").read_text()
        needed = {f"{s}_SECRET_ARN" for s in SECRET_USE.findall(code)}
        if "admin_only" in code or "is_admin" in code:
            needed.add("ADMIN_SECRET_ARN")  # fulfillment/http.py checks the admin bearer token
        needed |= {f"{q}_DLQ_URL" for q in DLQ_USE.findall(code)}
        assert {n.removesuffix("_SECRET_ARN") for n in needed if n.endswith("_SECRET_ARN")} <= set(SECRETS)
        assert {n.removesuffix("_DLQ_URL") for n in needed if n.endswith("_DLQ_URL")} <= set(DLQ_QUEUES)
        given = set(fn["Properties"].get("Environment", {}).get("Variables", {})) | set(
            template()["Globals"]["Function"]["Environment"]["Variables"]
        )
        assert needed <= given, f"{name} uses {sorted(needed - given)} which the template does not set"


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = [
        path.relative_to(ROOT)
        for folder in ("layers/fulfillment/fulfillment", "functions")
        for path in (ROOT / folder).rglob("*.py")
        if "os.environ" in path.read_text()
    ]
    assert readers == [Path("layers/fulfillment/fulfillment/config.py")]


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


# ---------------------------------------------------------------------------------------------- hardening
def _ref(value: object) -> str:
    """The logical id a !Ref / !GetAtt names."""
    assert isinstance(value, dict), value
    return str(value.get("Ref") or str(value.get("GetAtt")).split(".")[0])


def test_every_queue_or_stream_consumer_is_bounded_to_what_it_consumes() -> None:
    """SAM's managed execution role for SQS/stream triggers may read every queue in the account: a boundary cuts
    each consumer down to its own queue (the router to the table's stream)."""
    policies = resources("AWS::IAM::ManagedPolicy")
    for name, fn in functions().items():
        events = (fn["Properties"].get("Events") or {}).values()
        consumed = [e for e in events if e["Type"] in ("SQS", "DynamoDB")]
        if not consumed:
            continue
        boundary = policies[_ref(fn["Properties"]["PermissionsBoundary"])]["Properties"]["PolicyDocument"]
        [deny] = [s for s in boundary["Statement"] if s["Effect"] == "Deny"]
        source = consumed[0]["Properties"].get("Queue") or consumed[0]["Properties"]["Stream"]
        assert _ref(deny["NotResource"]) == _ref(source), name
        allowed = [a for s in boundary["Statement"] if s["Effect"] == "Allow" for a in s["Action"]]
        assert not [a for a in allowed if a.endswith("*")], f"{name}: wildcards in its boundary"


def test_dead_letters_errors_throttles_and_lag_are_alarmed_to_one_topic() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    watched: dict[str, set[str]] = {}
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert [_ref(a) for a in props["AlarmActions"]] == ["AlarmTopic"]
        for query in props.get("Metrics") or []:
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                for dim in metric["Dimensions"]:
                    watched.setdefault(metric["MetricName"], set()).add(_ref(dim["Value"]))
        for dim in props.get("Dimensions") or []:
            watched.setdefault(props["MetricName"], set()).add(_ref(dim["Value"]))
    dlqs = {name for name in resources("AWS::SQS::Queue") if name.endswith("DLQ")}
    assert watched["ApproximateNumberOfMessagesVisible"] == dlqs
    assert watched["Errors"] == watched["Throttles"] == set(functions())
    assert watched["IteratorAge"] == {"EventRouterFunction"}
    work_queues = {name for name, q in resources("AWS::SQS::Queue").items() if "RedrivePolicy" in q["Properties"]}
    assert watched["ApproximateAgeOfOldestMessage"] == work_queues


def test_logs_are_kept_for_a_set_time_and_the_api_logs_access() -> None:
    groups = resources("AWS::Logs::LogGroup")
    named = {str(g["Properties"].get("LogGroupName", {}).get("Sub", "")) for g in groups.values()}
    assert {f"/aws/lambda/${{{name}}}" for name in functions()} <= named
    assert all(_ref(g["Properties"]["RetentionInDays"]) == "LogRetentionDays" for g in groups.values())
    [api] = resources("AWS::Serverless::Api").values()
    assert _ref(api["Properties"]["AccessLogSetting"]["DestinationArn"]) == "ApiAccessLogs"


def test_every_function_can_reserve_concurrency() -> None:
    for name, fn in functions().items():
        reserved = fn["Properties"]["ReservedConcurrentExecutions"]["If"]
        assert reserved[0] == "ReserveConcurrency" and reserved[2] == {"Ref": "AWS::NoValue"}, name


def test_what_holds_state_or_evidence_outlives_the_stack() -> None:
    [table] = resources("AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Retain" and table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    kept = {
        **resources("AWS::SecretsManager::Secret"),
        **{n: q for n, q in resources("AWS::SQS::Queue").items() if n.endswith("DLQ")},
    }
    for name, resource in kept.items():
        assert resource.get("DeletionPolicy") == resource.get("UpdateReplacePolicy") == "Retain", name


def test_the_bus_rule_retries_and_keeps_what_it_cannot_deliver() -> None:
    for rule in resources("AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600
            assert _ref(target["DeadLetterConfig"]["Arn"]).endswith("DLQ")


def test_the_layer_requirements_are_the_locked_versions() -> None:
    lock = dict(line.split("==") for line in (ROOT / "requirements-dev.lock").read_text().splitlines() if "==" in line)
    layer = (ROOT / "layers/fulfillment/requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in layer if "==" in line)
    assert pins and {name: lock.get(name) for name in pins} == pins
