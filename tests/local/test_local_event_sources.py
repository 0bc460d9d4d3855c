"""Event filtering, stream retry policy, schedules and chaos: the pieces, with fakes."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import deque
from typing import Any

import pytest
from fulfillment_local.chaos import Chaos
from fulfillment_local.filtering import matches, matches_any, parse_filters
from fulfillment_local.functions import Activity, InvocationResult
from fulfillment_local.schedules import Expression, Schedule, ScheduleError, Scheduler
from fulfillment_local.stream_poller import StreamPoller, StreamSource, _Shard

# ------------------------------------------------------------------ filtering

RECORD = {
    "eventName": "MODIFY",
    "dynamodb": {
        "Keys": {"PK": {"S": "SKU#A"}, "SK": {"S": "LOC#WH-EAST"}},
        "NewImage": {"qty": {"N": "5"}, "tags": {"L": [{"S": "x"}]}},
    },
    "n": 7,
    "list": ["a", "b"],
    "nothing": None,
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["MODIFY"]}, True),
        ({"eventName": ["INSERT", "MODIFY"]}, True),
        ({"eventName": ["INSERT"]}, False),
        ({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "LOC#"}]}}}}, True),
        ({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ORDER"}]}}}}, False),
        ({"dynamodb": {"Keys": {"SK": {"S": [{"suffix": "EAST"}]}}}}, True),
        ({"dynamodb": {"Keys": {"SK": {"S": [{"equals-ignore-case": "loc#wh-east"}]}}}}, True),
        ({"dynamodb": {"Keys": {"SK": {"S": [{"wildcard": "LOC#*-EAST"}]}}}}, True),
        ({"dynamodb": {"OldImage": [{"exists": False}]}}, True),
        ({"dynamodb": {"NewImage": [{"exists": True}]}}, True),
        ({"dynamodb": {"OldImage": {"qty": [{"exists": False}]}}}, True),
        ({"missing": [{"exists": True}]}, False),
        ({"eventName": [{"anything-but": ["REMOVE", "INSERT"]}]}, True),
        ({"eventName": [{"anything-but": "MODIFY"}]}, False),
        ({"eventName": [{"anything-but": {"prefix": "MOD"}}]}, False),
        ({"n": [{"numeric": [">", 5, "<=", 7]}]}, True),
        ({"n": [{"numeric": ["<", 5]}]}, False),
        ({"n": [7.0]}, True),
        ({"list": ["b"]}, True),  # any element of an array
        ({"nothing": [None]}, True),
        ({"eventName": ["MODIFY"], "dynamodb": {"Keys": {"PK": {"S": ["SKU#B"]}}}}, False),  # AND of fields
        ({"$or": [{"eventName": ["INSERT"]}, {"n": [7]}]}, True),
    ],
)
def test_filter_patterns(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, RECORD) is expected


def test_filter_criteria_are_ored_and_empty_criteria_pass_everything() -> None:
    patterns = parse_filters({"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}, {"Pattern": {"n": [7]}}]})
    assert matches_any(patterns, RECORD)
    assert not matches_any(patterns[:1], RECORD)
    assert matches_any([], RECORD)


# ------------------------------------------------------------------ stream retry policy


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # noqa: N803 - boto3 names
        self.sent.append(json.loads(MessageBody))


def stream_records(count: int) -> list[dict[str, Any]]:
    return [
        {
            "eventID": str(i),
            "eventName": "INSERT",
            "dynamodb": {
                "SequenceNumber": str(100 + i),
                "ApproximateCreationDateTime": 1_700_000_000,
                "Keys": {"id": {"N": str(i)}},
            },
        }
        for i in range(count)
    ]


def run_batch(poison: set[int], count: int, **options: Any) -> tuple[list[list[int]], FakeSqs, _Shard]:
    """Deliver one batch through the retry policy; the handler fails batches containing poison."""
    calls: list[list[int]] = []

    def invoke(function: str, event: dict[str, Any]) -> InvocationResult:
        ids = [int(r["dynamodb"]["Keys"]["id"]["N"]) for r in event["Records"]]
        calls.append(ids)
        bad = [r for r in event["Records"] if int(r["dynamodb"]["Keys"]["id"]["N"]) in poison]
        if options.get("report_batch_item_failures"):
            return InvocationResult(
                function,
                "req",
                True,
                payload={"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in bad]},
            )
        if bad:
            return InvocationResult(function, "req", False, error_type="ValueError", error_message="poison")
        return InvocationResult(function, "req", True)

    sqs = FakeSqs()
    source = StreamSource("Fn", "arn:fn", "Ev", "arn:stream", on_failure_queue_url="dlq", **options)
    poller = StreamPoller(source, streams=None, sqs=sqs, invoke=invoke, activity=Activity(), retry_delay_seconds=0)
    batch = stream_records(count)
    shard = _Shard("shard-1", "iterator", deque(batch))
    poller._deliver(shard, batch)
    return calls, sqs, shard


def test_stream_bisects_a_failing_batch_and_discards_only_the_poison_record() -> None:
    calls, sqs, shard = run_batch({2}, 4, bisect_on_error=True, maximum_retry_attempts=3)
    # Halves keep the attempt count: record 2 is invoked 1 + 3 retries times, then discarded.
    assert calls == [[0, 1, 2, 3], [0, 1], [2, 3], [2], [2], [3]]
    assert not shard.buffer  # every record processed or discarded
    assert len(sqs.sent) == 1
    failure = sqs.sent[0]
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == "102"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert failure["requestContext"]["approximateInvokeCount"] == 4
    assert failure["error"]["errorType"] == "ValueError"
    assert [r["eventID"] for r in failure["records"]] == ["2"]


def test_stream_partial_failure_retries_from_the_first_failed_record() -> None:
    calls, sqs, shard = run_batch({1}, 3, report_batch_item_failures=True, maximum_retry_attempts=1)
    assert calls == [[0, 1, 2], [1, 2]]  # checkpoint at record 1, then the rest is discarded together
    assert [r["eventID"] for r in sqs.sent[0]["records"]] == ["1", "2"]
    assert "functionError" not in sqs.sent[0]["responseContext"]
    assert not shard.buffer


def test_stream_batch_success_checkpoints_everything() -> None:
    calls, sqs, shard = run_batch(set(), 3)
    assert calls == [[0, 1, 2]] and not sqs.sent and not shard.buffer


# ------------------------------------------------------------------ schedules


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_rate_and_cron_expressions() -> None:
    start = ts("2024-01-01T00:00:00")
    assert Expression("rate(5 minutes)").next_after(start + 1, start) == start + 300
    assert Expression("rate(1 hour)").next_after(start + 3600, start) == start + 7200
    assert Expression("cron(0 12 * * ? *)").next_after(start, start) == ts("2024-01-01T12:00:00")
    assert Expression("cron(0/15 * * * ? *)").next_after(ts("2024-01-01T00:07:00"), start) == ts("2024-01-01T00:15:00")
    # 10:00 on weekdays: 2024-01-06 is a Saturday -> Monday the 8th
    assert Expression("cron(0 10 ? * MON-FRI *)").next_after(ts("2024-01-05T11:00:00"), start) == ts(
        "2024-01-08T10:00:00"
    )
    assert Expression("cron(0 0 L * ? *)").next_after(ts("2024-02-02T00:00:00"), start) == ts("2024-02-29T00:00:00")
    assert Expression("cron(30 9 ? * 2#1 *)").next_after(ts("2024-01-02T00:00:00"), start) == ts("2024-02-05T09:30:00")
    with pytest.raises(ScheduleError):
        Expression("every day")


# ------------------------------------------------------------------ chaos


def test_chaos_is_reproducible_with_a_seed_and_splits_fault_points() -> None:
    first = Chaos(fault_rate=0.5, seed=7)
    second = Chaos(fault_rate=0.5, seed=7)
    draws = [first.fault("Fn") for _ in range(400)]
    assert draws == [second.fault("Fn") for _ in range(400)]
    assert 150 < sum(d is not None for d in draws) < 250
    assert {d for d in draws if d} == {"before", "after"}
    assert Chaos(fault_rate=1.0, functions=["Other"]).fault("Fn") is None
    assert Chaos(duplicate_sqs=True).duplicate()
    items = list(range(20))
    Chaos(reorder=True, seed=1).shuffle(items)
    assert sorted(items) == list(range(20)) and items != list(range(20))


def test_scheduler_runs_a_faster_clock() -> None:
    fired: list[dt.datetime] = []
    scheduler = Scheduler([Schedule("Fn.Tick", "rate(1 minute)", fired.append)], speedup=600)  # every 0.1 s
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while len(fired) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
    times = sorted(fired)  # each firing runs on its own thread
    assert len(times) >= 3
    assert (times[1] - times[0]).total_seconds() == 60  # event times are on the virtual clock
