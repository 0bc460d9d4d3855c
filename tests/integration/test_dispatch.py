"""Dispatch: shipments per location, requests and answers, rejections, cancellation, timers, in-house, dropship."""

from __future__ import annotations

import json

import pytest
from fulfillment_local.invariants import check

from tests.support import provider as tpl
from tests.support.events import Context, api_event, response_json
from tests.support.flow import event_types, place
from tests.support.stack import clear_caches, shipments
from tests.support.storefront import native_order


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


@pytest.mark.parametrize("via", ["reservation", "dispatch"])
@pytest.mark.parametrize("crash", ["after_send", "before_send"])
def test_a_dispatch_crash_around_the_send_still_requests_each_shipment_exactly_once(
    stack, admin, intake_fn, flow, reservation_fn, dispatch_fn, monkeypatch, crash, via
):
    """An order reserved whole is dispatched by the reservation step; one released from a hold by the dispatch
    step. Either way a crash before or after a send neither loses a request nor makes a second shipment."""
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    admin.stock("W", "WH-WEST", 1)
    crashed: set[str] = set()

    def flaky(real_send):
        def flaky_send(provider, message):
            first = message.shipment_id not in crashed
            if first and crash == "before_send":
                crashed.add(message.shipment_id)
                raise RuntimeError("killed before the send")
            real_send(provider, message)
            if first and crash == "after_send":
                crashed.add(message.shipment_id)
                raise RuntimeError("killed after the send, before the handler returned")

        return flaky_send

    for fn in (reservation_fn, dispatch_fn):
        monkeypatch.setattr(fn, "send_to_provider", flaky(fn.send_to_provider))
    reservation_fn.reservations.cache_clear()
    dispatch_fn.dispatch.cache_clear()
    dispatch_fn.timers.cache_clear()
    response, body = native_order(
        intake_fn, lines=[("W", 2)], payment_status="paid" if via == "reservation" else "pending"
    )
    flow.pump(redeliver_failures=True)
    if via == "dispatch":
        assert not shipments(stack)
        assert admin.release(body["order_id"], "awaiting_payment")["statusCode"] == 200
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


def test_a_cancel_racing_the_submission_still_reaches_the_provider(
    stack, admin, intake_fn, flow, reservation_fn, dispatch_fn, monkeypatch
):
    """The order is cancelled while the step that made its shipment (the reservation, for an order reserved whole)
    is between its write and its send."""
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 2)
    real_send = reservation_fn.send_to_provider
    cancelled = []

    def send_then_cancel(provider, message):
        if message.type == "fulfillment_request" and not cancelled:
            cancelled.append(admin.cancel(message.order_id))  # lands between submit's write and its send
            dispatch_fn.dispatch().cancel_shipments(message.order_id)
        real_send(provider, message)

    monkeypatch.setattr(reservation_fn, "send_to_provider", send_then_cancel)
    reservation_fn.reservations.cache_clear()
    native_order(intake_fn, lines=[("W", 2)])
    flow.pump()

    requests = flow.provider_requests()
    assert [r["type"] for r in requests] == ["cancellation_request", "fulfillment_request"]
    assert admin.inventory("W", "WH-EAST")["reserved"] == 2  # held until the provider answers
    flow.to_inbound(tpl.message("cancellation_request.accepted", shipment_id=requests[1]["shipment_id"]))
    flow.pump()
    assert admin.inventory("W", "WH-EAST")["available"] == 2
    assert check(stack.items(), flow.customer_events).ok


def test_a_rejection_after_a_cancel_releases_the_stock(stack, admin, intake_fn, flow):
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 2)
    _, body = native_order(intake_fn, lines=[("W", 2)])
    flow.pump()
    [request] = flow.provider_requests()
    admin.cancel(body["order_id"])
    flow.pump()
    flow.to_inbound(tpl.rejected(request["shipment_id"], "OTHER"))
    flow.pump()
    assert admin.inventory("W", "WH-EAST")["available"] == 2
    assert admin.order(body["order_id"])["holds"] == []
    report = check(stack.items(), flow.customer_events)
    assert report.ok, report.violations


def test_an_unanswered_cancellation_is_resent_not_the_request(
    stack, admin, intake_fn, flow, dispatch_fn, timers_fn, monkeypatch
):
    monkeypatch.setenv("ACK_TIMEOUT_SECONDS", "0")
    clear_caches()  # settings are read once per environment
    dispatch_fn.dispatch.cache_clear()
    dispatch_fn.timers.cache_clear()
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    _, body = native_order(intake_fn, lines=[("W", 1)])
    flow.pump()
    admin.cancel(body["order_id"])
    flow.pump()
    for _ in range(3):
        timers_fn.lambda_handler({}, Context())
        flow.pump()
    kinds = [r["type"] for r in flow.provider_requests()]
    assert kinds[0] == "fulfillment_request" and set(kinds[1:]) == {"cancellation_request"} and len(kinds) >= 3
    assert "OrderOnHold" not in [e["detail-type"] for e in flow.customer_events]


def test_the_sweep_requeues_work_whose_trigger_was_lost(stack, admin, intake_fn, flow, timers_fn, monkeypatch):
    """A stream record that exhausted its retries must not leave an order stuck forever."""
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 1)
    native_order(intake_fn, lines=[("W", 1)])
    flow._stream_records()  # the router never sees the new order: its records are lost
    monkeypatch.setenv("SWEEP_AFTER_SECONDS", "-5")
    clear_caches()  # settings are read once per environment
    result = timers_fn.lambda_handler({}, Context())
    assert result["swept"] >= 1
    flow.pump()
    assert [s["status"] for s in shipments(stack)] == ["submitted"]


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
    assert response_json(response)["error"]["code"] == "order_cancelled"
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
    real_read = store.shipped_context
    cancelled = []

    def read_then_cancel(sid, carrier, tracking_number):
        read = real_read(sid, carrier, tracking_number)
        if not cancelled:
            cancelled.append(admin.cancel(order_id)["statusCode"])
        return read

    monkeypatch.setattr(store, "shipped_context", read_then_cancel)
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


def lose_triggers(intake_fn, flow, count: int) -> list[str]:
    """Orders whose stream records never reach the router (their batch exhausted its retries)."""
    ids = [native_order(intake_fn, lines=[("W", 1)])[1]["order_id"] for _ in range(count)]
    flow._stream_records()
    return ids


def requeued(flow) -> list[str]:
    return [json.loads(m["Body"])["order_id"] for m in flow._drain("ReservationQueue")]


def test_the_sweep_pages_through_every_stalled_order(stack, admin, intake_fn, flow, timers_fn, monkeypatch):
    from fulfillment import keys
    from fulfillment.services import sweep

    monkeypatch.setattr(sweep, "SWEEP_LIMIT", 2)
    monkeypatch.setattr(keys, "STATUS_SHARDS", 1)  # one list: how a list is paged is what this test is about
    monkeypatch.setenv("SWEEP_AFTER_SECONDS", "-5")
    clear_caches()
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 5)
    stalled = lose_triggers(intake_fn, flow, 5)

    seen = []
    for _ in range(3):  # pages of 2, 2 and 1: the newest order is reached although the oldest keep stalling
        timers_fn.lambda_handler({}, Context())
        seen += requeued(flow)
    assert sorted(seen) == sorted(stalled)
    timers_fn.lambda_handler({}, Context())  # the end was reached: the next run starts again from the oldest
    assert requeued(flow) == stalled[:2]


def test_an_order_that_does_not_move_gets_the_stalled_hold(stack, admin, intake_fn, flow, timers_fn, monkeypatch):
    from fulfillment.services import sweep

    monkeypatch.setenv("SWEEP_AFTER_SECONDS", "-5")
    clear_caches()
    admin.catalog("W")
    admin.stock("W", "WH-EAST", 5)
    [order_id] = lose_triggers(intake_fn, flow, 1)
    for attempt in range(sweep.MAX_SWEEPS):
        assert timers_fn.lambda_handler({}, Context())["held"] == 0
        assert requeued(flow) == [order_id], attempt  # its work is queued again ... and lost again
    result = timers_fn.lambda_handler({}, Context())
    assert result["held"] == 1 and requeued(flow) == []
    view = admin.order(order_id)
    assert view["status"] == "on_hold" and view["holds"] == ["stalled"]

    assert admin.release(order_id, "stalled")["statusCode"] == 200  # a person looked: the sweep tries again
    assert timers_fn.lambda_handler({}, Context())["swept"] == 1
    flow.pump()
    assert admin.order(order_id)["status"] == "dispatched"


def test_an_order_whose_lines_were_all_removed_is_closed_at_once(stack, admin, intake_fn, flow):
    from tests.integration.test_identity import SHOPIFY_ORDER, shopify

    body = json.loads(SHOPIFY_ORDER)
    body["line_items"][0]["quantity"] = 0
    response = shopify(intake_fn, "shop-a.myshopify.com", raw=json.dumps(body).encode())
    assert response["statusCode"] == 202, response["body"]
    flow.pump()
    view = admin.order(response_json(response)["order_id"])
    assert view["status"] == "cancelled" and view["lines"] == []
    assert [t["detail"].get("reason") for t in view["timeline"] if t["type"] == "cancelled"] == ["nothing_to_fulfil"]
