"""The demo at small scale: every capability the stack has, every invariant holding - also under chaos."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fulfillment_local.demo import DemoOptions, DemoResult, run_demo

pytestmark = pytest.mark.e2e
# Calls whose IAM action is not named after them: a transaction is authorised item by item (PutItem, UpdateItem...,
# which the same steps also use on their own), a batch send by sqs:SendMessage.
IAM_ACTION: dict[str, str | None] = {"dynamodb:TransactWriteItems": None, "sqs:SendMessageBatch": "sqs:SendMessage"}
# The emulator names an operation by its X-Amz-Target prefix (JSON protocols) or its credential scope.
SERVICE = {
    "DynamoDB_20120810": "dynamodb",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "secretsmanager": "secretsmanager",
}


def iam_action(operation: str) -> str | None:
    prefix, _, name = operation.partition(".")
    action = f"{SERVICE.get(prefix, prefix)}:{name}"
    return IAM_ACTION.get(action, action)


def allowed_actions(function: str) -> set[str]:
    from tests.support.stack import template as sam_template

    actions: set[str] = set()
    for policy in sam_template()["Resources"][function]["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            listed = statement["Action"]
            actions |= set(listed if isinstance(listed, list) else [listed])
    return actions


def small_run(template: Path, state_dir: Path, **options) -> DemoResult:
    out = io.StringIO()
    result = run_demo(
        DemoOptions(
            template=template,
            state_dir=state_dir,
            quiet=True,
            rate=20.0,
            time_scale=0.15,
            late_parcels=0.0,
            lost_requests=0.0,
            timeout=240.0,
            **{"concurrency": 2, **options},
        ),
        out,
    )
    print(out.getvalue())  # the whole summary, shown by pytest when the test fails
    return result


def test_twelve_orders_under_chaos_end_where_the_scenario_leads_and_every_invariant_holds(
    template: Path, tmp_path: Path
) -> None:
    # Given the storefronts, operators, 3PLs, in-house warehouse and carriers of the demo - and chaos: 10% of
    # invocations failing before or after their writes, every SQS message and every webhook delivered twice, shuffled
    # batches, 3PLs and carriers that duplicate and reorder (a superset of the normal run: its first deliveries are
    # the normal run's; `make demo` runs 200 orders without chaos, `make demo ARGS=--chaos` with it)
    # When 12 orders go through the whole stack (seed 12: an unpaid order held and released, a cancellation by the
    # storefront, digital lines, four returns)
    result = small_run(template, tmp_path, orders=12, seed=12, chaos=True)

    # Then the faults really happened...
    faults = sum(fn.get("chaos_faults", 0) for fn in result.stats["functions"].values())
    assert faults > 0
    storefront = result.run.peers["storefront"]
    assert storefront.answers["200 duplicate"] > 0  # redeliveries reached the intake
    # ...and every check passes: invariants over the table and the events, nothing lost, duplicated in effect,
    # oversold or stuck, one request per shipment, shelves == on_hand, FIFO backorders, empty DLQs
    failed = {name: problems for name, problems in result.checks.items() if problems}
    assert result.ok, failed
    assert sum(result.statuses.values()) == 12
    assert result.events.get("OrderReceived") == 12
    if result.run is not None and result.run.capabilities.get("providers"):
        assert result.statuses.get("delivered", 0) >= 6, result.statuses  # the 3PLs and carriers did their part
    # And every AWS call a function made is one its least-privilege policy in template.yaml allows
    # (moto does not enforce IAM: this is where a missing action would otherwise only show on AWS)
    for function, operations in result.stats["aws_calls_by_caller"].items():
        if function in result.stats["functions"]:
            needed = {action for op in operations if (action := iam_action(op))}
            assert needed <= allowed_actions(function), (function, sorted(needed - allowed_actions(function)))
