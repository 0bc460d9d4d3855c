"""Returns through the real handlers on moto: authorised never beyond what was delivered (also in parallel),
received once whatever the 3PL re-sends, restocked units serving the oldest backorder, refunds due once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fulfillment_local.invariants import check

from tests.support import provider as tpl
from tests.support.admin import Admin
from tests.support.events import Context, api_event, response_json
from tests.support.flow import Flow
from tests.support.stack import function_module
from tests.support.storefront import native_order


def delivered_order(admin: Admin, intake_fn, flow: Flow, lines, **kwargs) -> tuple[str, str, str]:
    """(order id, access token, shipment id) of an order shipped from WH-EAST and delivered an hour ago."""
    response, body = native_order(intake_fn, lines=lines, **kwargs)
    assert response["statusCode"] == 202, body
    flow.pump()
    [request] = flow.provider_requests()
    shipment_id = request["shipment_id"]
    flow.to_inbound(
        tpl.accepted(shipment_id),
        tpl.shipped(shipment_id, f"T-{shipment_id}"),
        tpl.delivered(shipment_id, minute=tpl.minutes_ago(60)),
    )
    flow.pump()
    assert admin.order(body["order_id"])["status"] == "delivered"
    return body["order_id"], body["access_token"], shipment_id


def ask(returns_fn, order_id: str, lines: list[dict], *, token: str | None, key: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    import json

    event = api_event(
        "POST",
        f"/orders/{order_id}/returns",
        body=json.dumps({"lines": lines}),
        headers=headers,
        resource="/orders/{order_id}/returns",
        path_parameters={"order_id": order_id},
        query={"token": token} if token else None,
    )
    return returns_fn.lambda_handler(event, Context())


def test_ten_parallel_requests_for_three_delivered_units_authorise_exactly_three(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 5)
    order_id, token, _ = delivered_order(admin, intake_fn, flow, [("W", 3)])
    handlers = [function_module("returns", instance=f"p{n}") for n in range(10)]
    start = threading.Barrier(10)

    def one(handler) -> dict:
        start.wait()
        return ask(handler, order_id, [{"line_no": 1, "quantity": 1, "reason": "too big"}], token=token)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, handlers))

    statuses = sorted(a["statusCode"] for a in answers)
    assert statuses == [201] * 3 + [409] * 7, [a["body"] for a in answers]
    refused = {response_json(a)["error"]["code"] for a in answers if a["statusCode"] == 409}
    assert refused == {"quantity_exceeds_returnable"}
    authorised = [response_json(a) for a in answers if a["statusCode"] == 201]
    assert len({r["rma_id"] for r in authorised}) == 3
    assert all(r["status"] == "authorized" and r["return_to"] == {"location": "WH-EAST"} for r in authorised)
    view = admin.order(order_id)
    assert view["lines"][0]["returning"] == 3 and len(view["returns"]) == 3


def test_a_receipt_resent_and_duplicated_applies_once_and_restock_serves_the_oldest_backorder(
    stack, admin, intake_fn, flow, returns_fn
):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 3)
    order_id, token, _ = delivered_order(admin, intake_fn, flow, [("W", 3)])
    # Two later orders wait for W, oldest first.
    _, older = native_order(intake_fn, lines=[("W", 1)], external_id="waiting-older")
    flow.pump()
    _, newer = native_order(intake_fn, lines=[("W", 1)], external_id="waiting-newer")
    flow.pump()
    assert admin.order(older["order_id"])["status"] == "backordered"

    answer = ask(returns_fn, order_id, [{"line_no": 1, "quantity": 3}], token=token, key="ret-1")
    assert answer["statusCode"] == 201, answer["body"]
    rma = response_json(answer)
    again = ask(returns_fn, order_id, [{"line_no": 1, "quantity": 3}], token=token, key="ret-1")
    assert response_json(again)["rma_id"] == rma["rma_id"]  # a retried request: the same RMA
    flow.pump()
    [expected] = [m for m in flow.provider_requests() if m["type"] == "return_expected"]
    assert expected["rma_id"] == rma["rma_id"] and expected["lines"] == [{"sku": "W", "quantity": 3}]

    receipt = tpl.return_received(rma["rma_id"], [("W", 1, "restock"), ("W", 1, "damaged"), ("W", 1, "missing")])
    resent = {**receipt, "message_id": "resent-under-a-new-id"}
    flow.to_inbound(receipt, receipt, resent)
    flow.pump()

    view = admin.order(order_id)
    [shown] = view["returns"]
    assert shown["status"] == "received" and shown["refund_due"] == "20.00"
    assert view["lines"][0]["returned"] == 2 and view["lines"][0]["returning"] == 0
    assert [len(flow.events_of(t)) for t in ("ReturnAuthorized", "ReturnReceived", "RefundDue")] == [1, 1, 1]
    [refund] = flow.events_of("RefundDue")
    assert refund["detail"]["detail"]["amount"] == "20.00" and refund["detail"]["detail"]["currency"] == "USD"
    # The restocked unit went to the oldest waiting order, not the newer one.
    assert admin.order(older["order_id"])["lines"][0]["reserved"] == 1
    assert admin.order(newer["order_id"])["status"] == "backordered"
    audits = [(i["reason"], i["delta"]) for i in stack.items() if i.get("type") == "adjustment" and "r01" in i["SK"]]
    assert sorted(audits) == [("return", 1), ("return_damaged", 0)]  # restocked once, written off once
    report = check(stack.items(), flow.customer_events)
    assert report.ok, report.violations
    assert flow.dead_letters("InboundDLQ") == []


def test_another_customers_token_is_404_and_digital_lines_are_not_returnable(stack, admin, intake_fn, flow, returns_fn):
    admin.catalog("W")
    admin.catalog("EBOOK", kind="digital")
    admin.stock("W", "WH-EAST", 3)
    order_id, token, _ = delivered_order(admin, intake_fn, flow, [("W", 1), ("EBOOK", 1)])
    _, other = native_order(intake_fn, lines=[("W", 1)], external_id="someone-else")

    foreign = ask(returns_fn, order_id, [{"line_no": 1, "quantity": 1}], token=other["access_token"])
    assert foreign["statusCode"] == 404
    digital = ask(returns_fn, order_id, [{"line_no": 2, "quantity": 1}], token=token)
    assert (digital["statusCode"], response_json(digital)["error"]["code"]) == (409, "not_returnable")
    bad = ask(returns_fn, order_id, [{"line_no": 1, "quantity": 0}], token=token)
    assert bad["statusCode"] == 422
    assert admin.order(order_id)["returns"] == []


def test_a_receipt_for_more_than_was_authorised_goes_to_the_dlq_with_its_reason(
    stack, admin, intake_fn, flow, returns_fn
):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 3)
    order_id, token, _ = delivered_order(admin, intake_fn, flow, [("W", 2)])
    rma = response_json(ask(returns_fn, order_id, [{"line_no": 1, "quantity": 1}], token=token))
    flow.pump()
    flow.to_inbound(tpl.return_received(rma["rma_id"], [("OTHER-SKU", 1, "restock")]))
    flow.pump()
    [dead] = flow.dead_letters("InboundDLQ")
    assert "quantity_exceeds_returnable" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert admin.inventory("W", "WH-EAST")["on_hand"] == 1
