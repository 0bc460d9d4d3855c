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


def test_stock_rising_asks_for_backorder_allocation_only_where_units_wait(stack, admin, router_fn, flow: Flow):
    """The count of a batch's stock changes answers with each SKU's catalog item, which says how many units wait
    as backorders: a SKU with none gets no `allocate_backorders` (nothing to serve, a reservation run saved)."""
    import json

    from tests.support.events import Context

    admin.catalog("IDLE")
    admin.catalog("WAITED")
    admin.stock("IDLE", "WH-EAST", 1)
    admin.stock("WAITED", "WH-EAST", 1)
    flow.skip()
    catalog = stack.table().update_item(  # a backorder of WAITED is queued (its counter, as a reservation keeps it)
        Key={"PK": "SKU#WAITED", "SK": "CATALOG"},
        UpdateExpression="SET backordered_units = :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="ALL_NEW",
    )
    assert catalog["Attributes"]["backordered_units"] == 1
    flow._stream_records()  # that write's record is not what this test routes
    admin.adjust("IDLE", "WH-EAST", 3, "received", adjustment_id="idle-po")
    admin.adjust("WAITED", "WH-EAST", 3, "received", adjustment_id="waited-po")
    records = flow._stream_records()
    assert router_fn.lambda_handler({"Records": records}, Context())["batchItemFailures"] == []
    sent = [json.loads(m["Body"]) for m in flow._drain("ReservationQueue")]
    assert [(m["type"], m["sku"]) for m in sent] == [("allocate_backorders", "WAITED")]
    # The same batch again (Lambda retries a batch whose output failed): counted already, the refused counts answer
    # with the catalog items as they stand, and the same one allocation goes.
    assert router_fn.lambda_handler({"Records": records}, Context())["batchItemFailures"] == []
    sent = [json.loads(m["Body"]) for m in flow._drain("ReservationQueue")]
    assert [(m["type"], m["sku"]) for m in sent] == [("allocate_backorders", "WAITED")]
