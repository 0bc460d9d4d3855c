"""Tracking: what 3PLs and carriers report about shipments, applied once each, never regressing."""

from __future__ import annotations

import json
import random

import pytest
from fulfillment_local.invariants import check

from tests.support import provider as tpl
from tests.support.carriers import aftership
from tests.support.events import Context, api_event, response_json, sqs_event
from tests.support.flow import Flow, event_types, place
from tests.support.stack import clear_caches, shipments
from tests.support.storefront import native_order


def lifecycle(shipment_id: str) -> list[dict]:
    return [
        tpl.accepted(shipment_id, sent_minute=1),
        tpl.shipped(shipment_id, "TRK1", minute=10),
        tpl.tracking(shipment_id, "in_transit", 20),
        tpl.tracking(shipment_id, "out_for_delivery", 60),
        tpl.delivered(shipment_id, 90),
    ]


def test_a_shipment_goes_from_request_to_delivered_with_each_event_once(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 5)
    order_id = place(intake_fn, flow, [("W", 2)])
    [request] = flow.provider_requests()

    flow.to_inbound(*lifecycle(request["shipment_id"]))
    flow.pump()

    view = admin.order(order_id)
    assert view["status"] == "delivered"
    assert (view["lines"][0]["shipped"], view["lines"][0]["delivered"], view["lines"][0]["reserved"]) == (2, 2, 0)
    level = admin.inventory("W", "WH-EAST")
    assert (level["on_hand"], level["reserved"], level["available"]) == (3, 0, 3)
    assert event_types(flow) == ["OrderDelivered", "OrderReceived", "OrderShipped", "ShipmentDelivered"]
    [shipment] = shipments(stack)
    assert shipment["status"] == "delivered" and shipment["tracking_number"] == "TRK1"
    [shown] = view["shipments"]
    assert (shown["status"], shown["carrier"], shown["tracking_number"], shown["location"]) == (
        "delivered",
        "usps",
        "TRK1",
        "WH-EAST",
    )
    assert [e["type"] for e in shown["events"]] == ["accepted", "shipped", "tracking", "tracking", "delivered"]
    report = check(stack.items(), flow.customer_events)
    assert report.ok, report.violations


def run_tracking(stack, admin, intake_fn, flow, messages_for) -> tuple[str, list[str], set[str]]:
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 5)
    place(intake_fn, flow, [("W", 1)], external_id="same-order-both-runs")
    [request] = flow.provider_requests()
    flow.to_inbound(*messages_for(request["shipment_id"]))
    flow.pump()
    [shipment] = shipments(stack)
    events = [e for e in flow.customer_events if e["detail-type"] != "OrderReceived"]
    return shipment["status"], sorted(e["detail-type"] for e in events), {e["detail"]["event_id"] for e in events}


def test_tracking_shuffled_and_duplicated_ends_like_tracking_in_order(stack, admin, intake_fn, flow, moto_server):
    in_order = run_tracking(stack, admin, intake_fn, flow, lifecycle)

    from tests.support.stack import reset_moto

    reset_moto(moto_server.endpoint_url)
    stack.create()
    shuffled_flow = Flow(stack, flow.router, flow.reservation, flow.dispatch, flow.tracking)

    def shuffled(shipment_id: str) -> list[dict]:
        messages = lifecycle(shipment_id)
        messages = messages + [dict(m) for m in messages]  # every message twice, same message_id
        random.Random(7).shuffle(messages)
        return messages

    shuffled_run = run_tracking(stack, admin, intake_fn, shuffled_flow, shuffled)
    assert shuffled_run[0] == in_order[0] == "delivered"
    assert shuffled_run[1] == in_order[1] == ["OrderDelivered", "OrderShipped", "ShipmentDelivered"]
    assert shuffled_run[2] == in_order[2]  # the very same event ids
    assert check(stack.items(), shuffled_flow.customer_events).ok


def test_a_late_older_scan_is_recorded_but_does_not_regress(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    place(intake_fn, flow, [("W", 1)])
    [request] = flow.provider_requests()
    sid = request["shipment_id"]
    flow.to_inbound(tpl.shipped(sid, "T9", minute=1), tpl.tracking(sid, "out_for_delivery", 50))
    flow.pump()
    flow.to_inbound(tpl.tracking(sid, "in_transit", 20))
    flow.pump()
    [shipment] = shipments(stack)
    assert shipment["status"] == "out_for_delivery"
    # both recorded; history reads in the order things happened, whatever order they arrived in
    assert [e["status"] for e in shipment["events"] if e["type"] == "tracking"] == ["in_transit", "out_for_delivery"]


def test_no_scan_for_too_long_raises_shipment_delayed_once(
    stack, admin, intake_fn, flow, tracking_fn, timers_fn, monkeypatch
):
    monkeypatch.setenv("DELAY_AFTER_SECONDS", "0")
    clear_caches()  # settings are read once per environment
    tracking_fn.tracking.cache_clear()
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    place(intake_fn, flow, [("W", 1)])
    [request] = flow.provider_requests()
    flow.to_inbound(tpl.shipped(request["shipment_id"], "SLOW1"))
    flow.pump()
    for _ in range(3):
        timers_fn.lambda_handler({}, Context())
        flow.pump()
    assert event_types(flow).count("ShipmentDelayed") == 1


@pytest.mark.parametrize(
    "body,reason",
    [
        ({"type": "shipment.shipped", "version": 1}, "malformed message"),
        ("not json", "unparseable"),
    ],
)
def test_malformed_inbound_messages_go_to_the_dlq_with_their_reason(stack, flow, tracking_fn, body, reason):
    raw = body if isinstance(body, str) else json.dumps(body)

    result = tracking_fn.lambda_handler(sqs_event([raw]), Context())
    assert result["batchItemFailures"] == []
    [dead] = flow.dead_letters("InboundDLQ")
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith(reason)


def test_a_provider_cannot_act_on_another_providers_shipment(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    place(intake_fn, flow, [("W", 1)])
    [request] = flow.provider_requests()
    before = shipments(stack)
    flow.to_inbound(tpl.shipped(request["shipment_id"], "EVIL", provider="tpl-west"))
    flow.pump()
    assert shipments(stack) == before
    [dead] = flow.dead_letters("InboundDLQ")
    assert "not_owner" in dead["MessageAttributes"]["reason"]["StringValue"]


def test_a_provider_is_believed_only_from_its_own_senders(stack, admin, intake_fn, flow, tracking_fn, monkeypatch):

    monkeypatch.setenv("PROVIDER_SENDERS", '{"tpl-east": ["AIDAEAST"]}')
    clear_caches()  # settings are read once per environment
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    native_order(intake_fn, lines=[("W", 1)])
    flow.pump()
    [request] = flow.provider_requests()
    import json

    event = sqs_event([json.dumps(tpl.shipped(request["shipment_id"], "X1"))])
    event["Records"][0]["attributes"]["SenderId"] = "AIDAINTRUDER"
    tracking_fn.lambda_handler(event, Context())
    assert shipments(stack)[0]["status"] == "submitted"
    [dead] = flow.dead_letters("InboundDLQ")
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith("sender_not_allowed")
    event["Records"][0]["attributes"]["SenderId"] = "AIDAEAST"
    tracking_fn.lambda_handler(event, Context())
    assert shipments(stack)[0]["status"] == "shipped"


def test_a_3pl_tracking_message_cannot_set_a_non_carrier_status(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    native_order(intake_fn, lines=[("W", 1)])
    flow.pump()
    [request] = flow.provider_requests()
    before = shipments(stack)
    flow.to_inbound(tpl.tracking(request["shipment_id"], "cancelled", 5))
    flow.pump()
    assert shipments(stack) == before
    [dead] = flow.dead_letters("InboundDLQ")
    assert "status" in dead["MessageAttributes"]["reason"]["StringValue"]


def test_delivery_after_a_partial_shipment_delivers_only_what_shipped(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 3)
    _, body = native_order(intake_fn, lines=[("W", 3)])
    flow.pump()
    [request] = flow.provider_requests()
    sid = request["shipment_id"]
    flow.to_inbound(tpl.shipped(sid, "P1", lines=[{"sku": "W", "quantity": 2}]), tpl.delivered(sid))
    flow.pump()
    line = admin.order(body["order_id"])["lines"][0]
    assert (line["shipped"], line["delivered"], line["reserved"]) == (2, 2, 1)
    assert admin.inventory("W", "WH-EAST")["on_hand"] == 1
    assert "OrderDelivered" not in [e["detail-type"] for e in flow.customer_events]
    assert check(stack.items(), flow.customer_events).ok


def test_a_shipment_sent_in_two_parcels_is_delivered_when_both_are(stack, admin, intake_fn, flow):
    admin.catalog("A")
    admin.catalog("B")
    admin.stock("A", "WH-EAST", 1)
    admin.stock("B", "WH-EAST", 1)
    _, body = native_order(intake_fn, lines=[("A", 1), ("B", 1)])
    flow.pump()
    [request] = flow.provider_requests()
    sid = request["shipment_id"]
    flow.to_inbound(
        tpl.shipped(sid, "PARCEL-1", lines=[{"sku": "A", "quantity": 1}], minute=10),
        tpl.delivered(sid, 20),
        tpl.shipped(sid, "PARCEL-2", lines=[{"sku": "B", "quantity": 1}], minute=30),
    )
    flow.pump()
    assert admin.order(body["order_id"])["status"] == "shipped"
    flow.to_inbound(tpl.delivered(sid, 40))
    flow.pump()
    view = admin.order(body["order_id"])
    assert view["status"] == "delivered"
    assert [(ln["shipped"], ln["delivered"]) for ln in view["lines"]] == [(1, 1), (1, 1)]
    types = [e["detail-type"] for e in flow.customer_events]
    assert types.count("ShipmentDelivered") == 1 and types.count("OrderDelivered") == 1
    assert check(stack.items(), flow.customer_events).ok


EASYPOST_VECTOR = "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db"
AFTERSHIP_VECTOR = "YhHT8F217EV1cSmFv1p+Ifq168sWgQtVH4dxmXsGVPY="


def shipped_with(stack, admin, intake_fn, flow, carrier: str, tracking_number: str) -> str:
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    place(intake_fn, flow, [("W", 1)])
    [request] = flow.provider_requests()
    shipped = tpl.shipped(request["shipment_id"], tracking_number, carrier=carrier)
    shipped["shipped_at"] = "2020-01-01T00:00:00Z"  # before the fixtures' own scans (2021, 2024)
    flow.to_inbound(shipped)
    flow.pump()
    return request["shipment_id"]


@pytest.mark.parametrize(
    "name,path,header,vector,secret_name,secret,carrier,tracking",
    [
        (
            "easypost_tracker_updated.json",
            "/webhooks/tracking/easypost",
            "X-Hmac-Signature",
            EASYPOST_VECTOR,
            "EasyPostWebhookSecret",
            "sécret",
            "FedEx",
            "1",
        ),
        (
            "aftership_tracking_update.json",
            "/webhooks/tracking/aftership",
            "aftership-hmac-sha256",
            AFTERSHIP_VECTOR,
            "AfterShipWebhookSecret",
            "aftership_test_secret",
            "usps",
            "9361289676091361892011",
        ),
    ],
)
def test_carrier_fixtures_verify_and_update_the_matching_shipment(
    stack,
    admin,
    intake_fn,
    flow,
    tracking_fn,
    fixtures_dir,
    name,
    path,
    header,
    vector,
    secret_name,
    secret,
    carrier,
    tracking,
):
    stack.client("secretsmanager").put_secret_value(SecretId=stack.physical[secret_name], SecretString=secret)
    shipped_with(stack, admin, intake_fn, flow, carrier, tracking)
    raw = (fixtures_dir / name).read_bytes()

    tampered = bytearray(raw)
    tampered[len(raw) // 2] ^= 1
    before = shipments(stack)
    bad = tracking_fn.lambda_handler(
        api_event("POST", path, body=bytes(tampered), headers={"Content-Type": "application/json", header: vector}),
        Context(),
    )
    assert bad["statusCode"] == 401 and shipments(stack) == before

    good = tracking_fn.lambda_handler(
        api_event("POST", path, body=raw, headers={"Content-Type": "application/json", header: vector}), Context()
    )
    assert good["statusCode"] == 200 and response_json(good)["matched"] is True
    [shipment] = shipments(stack)
    assert shipment["status"] == "in_transit"
    flow.pump()  # the event router stores the scan as the shipment's event item
    [shipment] = shipments(stack)
    assert shipment["events"][-1]["type"] == "tracking"

    again = tracking_fn.lambda_handler(
        api_event("POST", path, body=raw, headers={"Content-Type": "application/json", header: vector}), Context()
    )
    assert response_json(again)["outcome"] == "duplicate"


def test_carrier_names_match_however_the_3pl_spells_them(stack, admin, intake_fn, flow, tracking_fn):

    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    native_order(intake_fn, lines=[("W", 1)])
    flow.pump()
    [request] = flow.provider_requests()
    flow.to_inbound(tpl.shipped(request["shipment_id"], "9400X", carrier="United States Postal Service"))
    flow.pump()
    response = aftership(tracking_fn, "9400X", "OutForDelivery", event_id="ev-1", at="2026-11-01T16:00:00Z")
    assert response["matched"] is True
    assert shipments(stack)[0]["status"] == "out_for_delivery"


def test_scans_faster_than_the_3pl_are_all_kept_then_applied_in_order_when_the_number_arrives(
    stack, admin, intake_fn, flow, tracking_fn
):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    native_order(intake_fn, lines=[("W", 1)])
    flow.pump()
    [request] = flow.provider_requests()
    first = aftership(tracking_fn, "FAST2", "InTransit", event_id="early-1", at="2026-11-01T13:00:00Z")
    second = aftership(tracking_fn, "FAST2", "OutForDelivery", event_id="early-2", at="2026-11-01T15:00:00Z")
    again = aftership(tracking_fn, "FAST2", "InTransit", event_id="early-1", at="2026-11-01T13:00:00Z")
    assert [r["outcome"] for r in (first, second, again)] == ["kept for later"] * 3

    flow.to_inbound(tpl.shipped(request["shipment_id"], "FAST2", carrier="USPS", minute=10))
    flow.pump()
    [shipment] = shipments(stack)
    assert shipment["status"] == "out_for_delivery"
    scans = [e["status"] for e in shipment["events"] if e["type"] == "tracking"]
    assert scans == ["in_transit", "out_for_delivery"]  # each once, in the carrier's order
    late = aftership(tracking_fn, "FAST2", "Delivered", event_id="late-1", at="2026-11-01T17:00:00Z")
    assert late["matched"] is True


def test_an_unknown_tracking_number_is_answered_200_and_kept_for_later(stack, tracking_fn):
    response = aftership(tracking_fn, "NOPE", "InTransit", event_id="e1")
    assert response["matched"] is False
    [kept] = stack.items()  # the number's pointer item, no shipment yet, holding the update
    assert kept["type"] == "tracking" and "shipment_id" not in kept and kept["kept"] == 1
    assert [k for k in kept if k.startswith("early_")] and kept["expires_at"] > 0  # an unknown number expires
