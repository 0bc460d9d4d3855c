"""Dispatch to providers, their answers, carrier tracking, timers and cancellation (issue 4)."""

from __future__ import annotations

import json
import random

import pytest
from fulfillment_local.invariants import check

from tests.support import provider as tpl
from tests.support.admin import Admin
from tests.support.carriers import aftership
from tests.support.events import Context, api_event, response_json
from tests.support.flow import Flow
from tests.support.stack import clear_caches, shipments
from tests.support.storefront import native_order


@pytest.fixture
def admin(api_fn) -> Admin:
    return Admin(api_fn)


@pytest.fixture
def flow(stack, router_fn, reservation_fn, dispatch_fn, tracking_fn) -> Flow:
    return Flow(stack, router_fn, reservation_fn, dispatch_fn, tracking_fn)


def place(intake_fn, flow: Flow, lines, **kwargs) -> str:
    response, body = native_order(intake_fn, lines=lines, **kwargs)
    assert response["statusCode"] == 202, body
    flow.pump()
    return body["order_id"]


def event_types(flow: Flow) -> list[str]:
    return sorted(e["detail-type"] for e in flow.customer_events)


def test_reserved_lines_become_one_shipment_per_location_sent_to_that_provider(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    admin.stock("W", "WH-WEST", 2)
    order_id = place(intake_fn, flow, [("W", 3)])

    east, west = flow.provider_requests("ProviderTplEastQueue"), flow.provider_requests("ProviderTplWestQueue")
    assert [(r["type"], r["version"], r["provider"], r["location"], r["lines"]) for r in east] == [
        ("fulfillment_request", 1, "tpl-east", "WH-EAST", [{"sku": "W", "quantity": 1}])
    ]
    assert [(r["provider"], r["lines"]) for r in west] == [("tpl-west", [{"sku": "W", "quantity": 2}])]
    request = east[0]
    assert set(request) >= {
        "request_id",
        "shipment_id",
        "order_id",
        "provider",
        "location",
        "ship_to",
        "lines",
        "service_level",
        "requested_at",
    }
    assert request["order_id"] == order_id and request["ship_to"]["country"] == "GB"
    assert [s["status"] for s in shipments(stack)] == ["submitted", "submitted"]
    assert admin.order(order_id)["status"] == "dispatched"


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


@pytest.mark.parametrize("crash", ["after_send", "before_send"])
def test_a_dispatch_crash_around_the_send_still_requests_each_shipment_exactly_once(
    stack, admin, intake_fn, flow, dispatch_fn, monkeypatch, crash
):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    admin.stock("W", "WH-WEST", 1)
    real_send = dispatch_fn.send_to_provider
    crashed: set[str] = set()

    def flaky_send(provider, message):
        first = message.shipment_id not in crashed
        if first and crash == "before_send":
            crashed.add(message.shipment_id)
            raise RuntimeError("killed before the send")
        real_send(provider, message)
        if first and crash == "after_send":
            crashed.add(message.shipment_id)
            raise RuntimeError("killed between the send and marking the shipment submitted")

    monkeypatch.setattr(dispatch_fn, "send_to_provider", flaky_send)
    dispatch_fn.dispatch.cache_clear()
    dispatch_fn.timers.cache_clear()
    response, body = native_order(intake_fn, lines=[("W", 2)])
    flow.pump(redeliver_failures=True)

    requests = flow.provider_requests("ProviderTplEastQueue") + flow.provider_requests("ProviderTplWestQueue")
    acted_on = {r["request_id"] for r in requests}  # a 3PL dedupes by request_id
    assert len(crashed) == 2
    assert len(acted_on) == 2 == len(shipments(stack))
    assert len(requests) == (4 if crash == "after_send" else 2)
    assert all(s["status"] == "submitted" for s in shipments(stack))


def test_an_out_of_stock_rejection_reroutes_to_the_next_location_and_ships_from_there(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    admin.stock("W", "WH-WEST", 1)
    order_id = place(intake_fn, flow, [("W", 1)])
    [east] = flow.provider_requests("ProviderTplEastQueue")

    flow.to_inbound(tpl.rejected(east["shipment_id"], "INVENTORY_OUT_OF_STOCK"))
    flow.pump()

    [west] = flow.provider_requests("ProviderTplWestQueue")
    assert west["shipment_id"] != east["shipment_id"]
    flow.to_inbound(
        tpl.accepted(west["shipment_id"], provider="tpl-west"),
        tpl.shipped(west["shipment_id"], "W1", provider="tpl-west"),
    )
    flow.pump()
    view = admin.order(order_id)
    assert view["status"] == "shipped" and view["lines"][0]["allocations"] == {}
    assert admin.inventory("W", "WH-EAST")["on_hand"] == 0  # written down: the 3PL did not have it
    assert [t["type"] for t in view["timeline"]].count("rerouted") == 1
    report = check(stack.items(), flow.customer_events)
    assert report.ok, report.violations


def test_an_out_of_stock_rejection_with_no_stock_elsewhere_backorders(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    order_id = place(intake_fn, flow, [("W", 1)])
    [east] = flow.provider_requests()
    flow.to_inbound(tpl.rejected(east["shipment_id"], "INVENTORY_OUT_OF_STOCK"))
    flow.pump()
    view = admin.order(order_id)
    assert view["status"] == "backordered" and view["lines"][0]["backordered"] == 1
    assert check(stack.items()).ok


def test_an_address_rejection_holds_the_order_and_release_redispatches(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    order_id = place(intake_fn, flow, [("W", 1)])
    [first] = flow.provider_requests()
    flow.to_inbound(tpl.rejected(first["shipment_id"], "INCORRECT_ADDRESS"))
    flow.pump()
    assert admin.order(order_id)["holds"] == ["address_invalid"]
    assert "OrderOnHold" in event_types(flow)

    assert admin.release(order_id, "address_invalid")["statusCode"] == 200
    flow.pump()
    [second] = flow.provider_requests()
    assert second["shipment_id"] != first["shipment_id"] and second["lines"] == first["lines"]


def test_a_silent_provider_gets_resends_then_the_order_is_held(
    stack, admin, intake_fn, flow, dispatch_fn, timers_fn, monkeypatch
):
    monkeypatch.setenv("ACK_TIMEOUT_SECONDS", "0")
    clear_caches()  # settings are read once per environment
    dispatch_fn.dispatch.cache_clear()
    dispatch_fn.timers.cache_clear()
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    order_id = place(intake_fn, flow, [("W", 1)])
    for _ in range(4):
        timers_fn.lambda_handler({"source": "aws.events"}, Context())
        flow.pump()

    requests = flow.provider_requests()
    assert len(requests) == 3 and len({r["request_id"] for r in requests}) == 1  # same request_id every time
    view = admin.order(order_id)
    assert view["holds"] == ["provider_unresponsive"]
    [shipment] = shipments(stack)
    assert shipment["attempts"] == 3 and "GSI2PK" not in shipment  # timer cleared
    assert event_types(flow).count("OrderOnHold") == 1


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


def test_cancelling_after_submission_asks_the_provider_and_releases_on_acceptance(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 2)
    order_id = place(intake_fn, flow, [("W", 2)])
    [request] = flow.provider_requests()
    admin.cancel(order_id)
    flow.pump()

    [cancel] = flow.provider_requests()
    assert cancel["type"] == "cancellation_request" and cancel["shipment_id"] == request["shipment_id"]
    assert admin.inventory("W", "WH-EAST")["reserved"] == 2  # kept until the provider lets go

    flow.to_inbound(tpl.message("cancellation_request.accepted", shipment_id=request["shipment_id"]))
    flow.pump()
    assert admin.inventory("W", "WH-EAST")["available"] == 2
    assert shipments(stack)[0]["status"] == "cancelled"
    report = check(stack.items(), flow.customer_events)
    assert report.ok, report.violations


def test_a_rejected_cancellation_keeps_the_shipment_going(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    order_id = place(intake_fn, flow, [("W", 1)])
    [request] = flow.provider_requests()
    admin.cancel(order_id)
    flow.pump()
    flow.to_inbound(
        tpl.message("cancellation_request.rejected", shipment_id=request["shipment_id"], message="packed"),
        tpl.shipped(request["shipment_id"], "LATE1"),
    )
    flow.pump()
    view = admin.order(order_id)
    assert "cancellation_rejected" in [t["type"] for t in view["timeline"]]
    assert view["lines"][0]["shipped"] == 1
    assert check(stack.items()).ok


@pytest.mark.parametrize(
    "body,reason",
    [
        ({"type": "shipment.shipped", "version": 1}, "malformed message"),
        ("not json", "unparseable"),
    ],
)
def test_malformed_inbound_messages_go_to_the_dlq_with_their_reason(stack, flow, tracking_fn, body, reason):
    raw = body if isinstance(body, str) else json.dumps(body)
    from tests.support.events import sqs_event

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


# ------------------------------------------------------------------ carrier webhooks
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
    assert shipment["events"][-1]["type"] == "tracking"

    again = tracking_fn.lambda_handler(
        api_event("POST", path, body=raw, headers={"Content-Type": "application/json", header: vector}), Context()
    )
    assert response_json(again)["outcome"] == "duplicate"


def test_an_unknown_tracking_number_is_answered_200_and_kept_for_later(stack, tracking_fn):
    response = aftership(tracking_fn, "NOPE", "InTransit", event_id="e1")
    assert response["matched"] is False
    [kept] = stack.items()
    assert kept["type"] == "early_tracking" and kept["expires_at"] > 0  # TTL: an unknown number is not kept forever


def test_the_in_house_warehouse_ships_from_its_pick_list(stack, admin, intake_fn, flow, tracking_fn):
    admin.catalog("W")
    admin.stock("W", "HQ", 2)
    order_id = place(intake_fn, flow, [("W", 2)])
    headers = {"Authorization": "Bearer admin-dev-token", "Content-Type": "application/json"}
    picklist = response_json(
        tracking_fn.lambda_handler(
            api_event(
                "GET",
                "/warehouse/HQ/picklist",
                headers=headers,
                resource="/warehouse/{location}/picklist",
                path_parameters={"location": "HQ"},
            ),
            Context(),
        )
    )
    [entry] = picklist["shipments"]
    assert entry["lines"] == [{"sku": "W", "quantity": 2}]
    shipped = tracking_fn.lambda_handler(
        api_event(
            "POST",
            f"/shipments/{entry['shipment_id']}/ship",
            headers=headers,
            resource="/shipments/{shipment_id}/ship",
            path_parameters={"shipment_id": entry["shipment_id"]},
            body=json.dumps({"carrier": "UPS", "tracking_number": "1Z999"}),
        ),
        Context(),
    )
    assert shipped["statusCode"] == 200, shipped["body"]
    flow.pump()
    assert admin.order(order_id)["status"] == "shipped"
    assert admin.inventory("W", "HQ")["on_hand"] == 0
    assert "OrderShipped" in event_types(flow)


def ship_in_house(tracking_fn, shipment_id: str, tracking_number: str = "1Z999") -> dict:
    return tracking_fn.lambda_handler(
        api_event(
            "POST",
            f"/shipments/{shipment_id}/ship",
            headers={"Authorization": "Bearer admin-dev-token", "Content-Type": "application/json"},
            resource="/shipments/{shipment_id}/ship",
            path_parameters={"shipment_id": shipment_id},
            body=json.dumps({"carrier": "UPS", "tracking_number": tracking_number}),
        ),
        Context(),
    )


def in_house_order(admin, intake_fn, flow) -> tuple[str, str]:
    admin.catalog("W")
    admin.stock("W", "HQ", 2)
    order_id = place(intake_fn, flow, [("W", 2)])
    [shipment] = shipments(flow.stack)
    return order_id, shipment["shipment_id"]


def test_an_in_house_ship_after_the_cancel_loses_with_409(stack, admin, intake_fn, flow, tracking_fn):
    order_id, shipment_id = in_house_order(admin, intake_fn, flow)
    assert admin.cancel(order_id)["statusCode"] == 200
    response = ship_in_house(tracking_fn, shipment_id)
    assert response["statusCode"] == 409, response["body"]
    flow.pump()
    view = admin.order(order_id)
    assert view["status"] == "cancelled" and view["lines"][0]["shipped"] == 0
    level = admin.inventory("W", "HQ")
    assert (level["on_hand"], level["reserved"], level["available"]) == (2, 0, 2)
    assert check(stack.items(), flow.customer_events).ok


def test_a_cancel_after_the_in_house_ship_loses_with_409(stack, admin, intake_fn, flow, tracking_fn):
    order_id, shipment_id = in_house_order(admin, intake_fn, flow)
    assert ship_in_house(tracking_fn, shipment_id)["statusCode"] == 200
    assert admin.cancel(order_id)["statusCode"] == 409
    flow.pump()
    assert admin.order(order_id)["status"] == "shipped"
    assert check(stack.items(), flow.customer_events).ok


def test_a_cancel_landing_inside_the_in_house_ship_makes_the_ship_lose(
    stack, admin, intake_fn, flow, tracking_fn, monkeypatch
):
    """The cancel commits between the ship's read and its write: the ship's write fails on the order's version,
    it reads again, sees the cancellation and answers 409. Never a cancelled order with a shipped shipment."""
    order_id, shipment_id = in_house_order(admin, intake_fn, flow)
    store = tracking_fn.store()
    real_read = store.shipment_and_order
    cancelled = []

    def read_then_cancel(sid):
        read = real_read(sid)
        if not cancelled:
            cancelled.append(admin.cancel(order_id)["statusCode"])
        return read

    monkeypatch.setattr(store, "shipment_and_order", read_then_cancel)
    response = ship_in_house(tracking_fn, shipment_id)
    assert cancelled == [200]
    assert response["statusCode"] == 409, response["body"]
    flow.pump()
    view = admin.order(order_id)
    assert view["status"] == "cancelled" and view["lines"][0]["shipped"] == 0
    assert [s["status"] for s in view["shipments"]] == ["cancelled"]
    assert check(stack.items(), flow.customer_events).ok


def test_a_dropshipped_sku_goes_to_its_supplier_without_touching_stock(stack, admin, intake_fn, flow):
    admin.catalog("DS1", dropship_location="DS-ACME")
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    order_id = place(intake_fn, flow, [("DS1", 3), ("W", 1)])

    [supplier_request] = flow.provider_requests("ProviderSupplierAcmeQueue")
    [east_request] = flow.provider_requests("ProviderTplEastQueue")
    assert supplier_request["provider"] == "supplier-acme" and supplier_request["lines"] == [
        {"sku": "DS1", "quantity": 3}
    ]
    assert east_request["lines"] == [{"sku": "W", "quantity": 1}]
    assert not [i for i in stack.items() if i.get("type") == "stock" and i["sku"] == "DS1"]

    flow.to_inbound(
        tpl.shipped(supplier_request["shipment_id"], "DS-T1", provider="supplier-acme"),
        tpl.delivered(supplier_request["shipment_id"], provider="supplier-acme"),
    )
    flow.pump()
    view = admin.order(order_id)
    assert (view["lines"][0]["shipped"], view["lines"][0]["delivered"]) == (3, 3)
    assert check(stack.items(), flow.customer_events).ok


def test_a_dropship_supplier_out_of_stock_holds_the_order_for_an_operator(stack, admin, intake_fn, flow):
    admin.catalog("DS1", dropship_location="DS-ACME")
    order_id = place(intake_fn, flow, [("DS1", 1)])
    [request] = flow.provider_requests("ProviderSupplierAcmeQueue")
    flow.to_inbound(tpl.rejected(request["shipment_id"], "INVENTORY_OUT_OF_STOCK", provider="supplier-acme"))
    flow.pump()
    assert admin.order(order_id)["holds"] == ["fulfillment_rejected"]
    admin.cancel(order_id)
    flow.pump()
    assert check(stack.items(), flow.customer_events).ok


def test_catalog_refuses_a_dropship_location_that_is_not_one(admin):
    response = admin.call(
        "PUT", "/catalog/X", "/catalog/{sku}", {"sku": "X"}, {"kind": "physical", "dropship_location": "WH-EAST"}
    )
    assert response["statusCode"] == 404
