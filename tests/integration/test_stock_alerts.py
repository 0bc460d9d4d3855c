"""LowStock: once each time a SKU's units available over its locations fall below its reorder point."""

from __future__ import annotations

from fulfillment_local.invariants import check

from tests.support.flow import Flow, place


def test_low_stock_fires_once_per_crossing_and_rearms_when_stock_rises(stack, admin, intake_fn, flow: Flow):
    admin.catalog("W", reorder_point=3)
    admin.stock("W", "WH-EAST", 3)
    admin.stock("W", "WH-WEST", 2)  # 5 available over two locations
    flow.pump()
    place(intake_fn, flow, [("W", 2)])  # 3 left: not below 3
    assert flow.events_of("LowStock") == []
    place(intake_fn, flow, [("W", 1)])  # 2 left: crossed
    place(intake_fn, flow, [("W", 1)])  # 1 left: still below, no new alert
    [alert] = flow.events_of("LowStock")
    assert alert["detail"]["detail"] == {"sku": "W", "available": 2, "reorder_point": 3}
    assert alert["detail"]["order_id"] is None

    admin.adjust("W", "WH-EAST", 5, "received", adjustment_id="delivery-1")  # 6 available: re-armed
    flow.pump()
    place(intake_fn, flow, [("W", 4)])  # 2 left: a new crossing
    alerts = flow.events_of("LowStock")
    assert len(alerts) == 2 and len({a["detail"]["event_id"] for a in alerts}) == 2
    report = check(stack.items(), flow.customer_events)
    assert report.ok, report.violations


def test_a_redelivered_batch_of_stock_changes_is_counted_once(stack, admin, router_fn, flow: Flow):
    """The router's count of a SKU's units over its locations survives a batch delivered again (Lambda retries a
    stream batch whose output failed) and one that overlaps the last: each stock change counts once."""
    from tests.support.events import Context

    admin.catalog("A", reorder_point=2)
    admin.catalog("B", reorder_point=2)
    admin.stock("A", "WH-EAST", 4)
    admin.stock("A", "WH-WEST", 3)
    admin.stock("B", "WH-EAST", 5)
    records = flow._stream_records()
    for batch in (records, records, records[len(records) // 2 :]):  # first, again, and a tail of it again
        assert router_fn.lambda_handler({"Records": batch}, Context())["batchItemFailures"] == []
    catalog = {i["sku"]: i for i in stack.items() if i["SK"] == "CATALOG"}
    assert (catalog["A"]["available_total"], catalog["B"]["available_total"]) == (7, 5)
    report = check(stack.items())
    assert report.ok, report.violations
