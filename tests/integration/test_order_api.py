"""The order view per the contract: customers see only their own order; operators see and change all."""

from __future__ import annotations

import pytest

from tests.support.admin import Admin
from tests.support.events import response_json
from tests.support.flow import Flow
from tests.support.storefront import native_order


@pytest.fixture
def admin(api_fn) -> Admin:
    a = Admin(api_fn)
    a.catalog("SKU-1", title="Widget", reorder_point=2)
    a.catalog("EBOOK", kind="digital")
    a.stock("SKU-1", "WH-EAST", 5)
    return a


@pytest.fixture
def placed(stack, admin, intake_fn, router_fn, reservation_fn):
    flow = Flow(stack, router_fn, reservation_fn)
    _, body = native_order(intake_fn, lines=[("SKU-1", 2), ("EBOOK", 1)])
    flow.pump()
    return body


def view(admin: Admin, order_id: str, **kwargs) -> dict:
    return admin.call("GET", f"/orders/{order_id}", "/orders/{order_id}", {"order_id": order_id}, **kwargs)


def test_the_customer_reads_their_order_with_the_access_token(admin, placed):
    for kwargs in ({"query": {"token": placed["access_token"]}, "token": None}, {"token": placed["access_token"]}):
        response = view(admin, placed["order_id"], **kwargs)
        assert response["statusCode"] == 200, response["body"]
        body = response_json(response)
        assert set(body) >= {
            "order_id",
            "channel",
            "external_id",
            "status",
            "holds",
            "created_at",
            "updated_at",
            "lines",
            "shipments",
            "downloads",
            "returns",
            "timeline",
        }
        assert body["status"] == "dispatched"  # reserved whole: dispatched in the same step
        assert [(ln["sku"], ln["kind"], ln["reserved"]) for ln in body["lines"]] == [
            ("SKU-1", "physical", 2),
            ("EBOOK", "digital", 0),
        ]
        assert [t["type"] for t in body["timeline"]] == ["received", "reserved", "shipment_created"]
        assert "access_token_hash" not in response["body"]


def test_another_orders_token_gets_404_like_an_unknown_order(admin, placed, intake_fn):
    _, other = native_order(intake_fn, lines=[("SKU-1", 1)])
    for token in (other["access_token"], "guess", None):
        response = view(admin, placed["order_id"], query={"token": token} if token else None, token=None)
        assert response["statusCode"] == 404
    assert view(admin, "o_unknown", token=None, query={"token": placed["access_token"]})["statusCode"] == 404


def test_a_wrong_token_is_refused_before_anything_is_read(admin, placed, moto_server, api_fn):
    """No existence leak: an unknown order and someone else's order are both refused before any table read."""
    view(admin, placed["order_id"], query={"token": placed["access_token"]}, token=None)  # warm: secrets cached
    for order_id, token in ((placed["order_id"], "x" * 43), ("o_" + "a" * 24, placed["access_token"])):
        moto_server.app.reset_counters()
        assert view(admin, order_id, query={"token": token}, token=None)["statusCode"] == 404
        table_calls = {op for op in moto_server.app.by_operation if op.startswith("DynamoDB")}
        assert table_calls == set(), table_calls


def test_the_access_token_is_stored_only_as_a_hash(stack, placed):
    assert placed["access_token"] not in str(stack.items())


def test_operators_list_orders_by_status(admin, placed, intake_fn):
    native_order(intake_fn, lines=[("SKU-1", 1)], payment_status="pending")
    response = admin.call("GET", "/orders", "/orders", {}, query={"status": "dispatched"})
    listed = response_json(response)["orders"]
    assert [o["order_id"] for o in listed] == [placed["order_id"]]
    assert response_json(admin.call("GET", "/orders", "/orders", {}, query={"status": "reserved"}))["orders"] == []
    held = response_json(admin.call("GET", "/orders", "/orders", {}, query={"status": "on_hold"}))["orders"]
    assert len(held) == 1 and held[0]["holds"] == ["awaiting_payment"]


def test_without_a_status_every_order_is_listed_newest_first_a_page_at_a_time(admin, placed, intake_fn):
    later = [native_order(intake_fn, lines=[("SKU-1", 1)], payment_status="pending")[1]["order_id"] for _ in range(3)]
    newest_first = [*reversed(later), placed["order_id"]]  # on_hold and reserved orders, in one list
    seen, cursor = [], None
    while True:
        page = response_json(
            admin.call("GET", "/orders", "/orders", {}, query={"limit": "2", **({"cursor": cursor} if cursor else {})})
        )
        seen += [o["order_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == newest_first
    bad = admin.call("GET", "/orders", "/orders", {}, query={"cursor": "bm9wZQ"})
    assert bad["statusCode"] == 400


def test_a_status_list_spread_over_index_shards_pages_newest_first_without_gaps_or_repeats(admin, stack, intake_fn):
    # Given orders of one status whose index entries land in several shards of the status index
    placed = [native_order(intake_fn, lines=[("SKU-1", 1)], payment_status="pending")[1]["order_id"] for _ in range(9)]
    partitions = {i["GSI1PK"] for i in stack.items() if i.get("SK") == "ORDER"}
    assert len(partitions) > 1, partitions  # nine ids over eight shards: at least two

    # When the list is read a page of 4 at a time
    seen, cursor, pages = [], None, 0
    while True:
        query = {"status": "on_hold", "limit": "4", **({"cursor": cursor} if cursor else {})}
        page = response_json(admin.call("GET", "/orders", "/orders", {}, query=query))
        seen += [o["order_id"] for o in page["orders"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break

    # Then every order comes once, newest first, in three pages; a cursor of this list is refused for another
    assert seen == list(reversed(placed)) and pages == 3
    other = admin.call("GET", "/orders", "/orders", {}, query={"status": "reserved", "cursor": _cursor_of(admin)})
    assert other["statusCode"] == 400


def _cursor_of(admin) -> str:
    query = {"status": "on_hold", "limit": "1"}
    return response_json(admin.call("GET", "/orders", "/orders", {}, query=query))["next_cursor"]


def test_releasing_a_hold_is_recorded_and_clears_the_status(admin, stack, intake_fn, router_fn, reservation_fn):
    flow = Flow(stack, router_fn, reservation_fn)
    _, body = native_order(intake_fn, lines=[("SKU-1", 1)], payment_status="pending")
    flow.pump()
    response = admin.release(body["order_id"], "awaiting_payment")
    assert response["statusCode"] == 200 and response_json(response)["status"] == "reserved"
    flow.pump()  # the timeline is written from the change by the stream's router
    timeline = admin.order(body["order_id"])["timeline"]
    assert timeline[-1]["type"] == "hold_released" and timeline[-1]["detail"] == {
        "reason": "awaiting_payment",
        "by": "operator",
    }


def test_unknown_sku_hold_is_released_only_once_the_catalog_knows_the_sku(
    admin, stack, intake_fn, router_fn, reservation_fn
):
    flow = Flow(stack, router_fn, reservation_fn)
    _, body = native_order(intake_fn, lines=[("NEW-SKU", 1), ("SKU-1", 1)])
    flow.pump()
    assert admin.order(body["order_id"])["holds"] == ["unknown_sku"]
    assert admin.release(body["order_id"], "unknown_sku")["statusCode"] == 409

    admin.catalog("NEW-SKU")
    admin.stock("NEW-SKU", "WH-WEST", 3)
    assert admin.release(body["order_id"], "unknown_sku")["statusCode"] == 200
    flow.pump()
    view_ = admin.order(body["order_id"])
    assert view_["status"] == "dispatched"  # the release's reservation dispatched what it reserved
    assert [ln["reserved"] for ln in view_["lines"]] == [1, 1]


def test_stock_adjustments_are_audited_and_applied_once_per_key(admin):
    first = admin.adjust("SKU-1", "WH-EAST", 4, "received", adjustment_id="asn-77")
    again = admin.adjust("SKU-1", "WH-EAST", 4, "received", adjustment_id="asn-77")
    assert first["statusCode"] == 201 and again["statusCode"] == 200
    assert response_json(again)["duplicate"] is True
    level = admin.inventory("SKU-1", "WH-EAST")
    assert level["on_hand"] == 9
    assert [(a["delta"], a["reason"]) for a in level["recent_adjustments"]][:1] in ([(4, "received")], [(5, "count")])
    assert sorted((a["delta"], a["reason"]) for a in level["recent_adjustments"]) == [(4, "received"), (5, "count")]


def test_cancelling_twice_is_harmless(admin, placed, stack, router_fn, reservation_fn):
    assert admin.cancel(placed["order_id"])["statusCode"] == 200
    second = admin.cancel(placed["order_id"])
    assert second["statusCode"] == 200 and response_json(second)["status"] == "cancelled"
    Flow(stack, router_fn, reservation_fn).pump()
    timeline = admin.order(placed["order_id"])["timeline"]
    assert [t["type"] for t in timeline].count("cancelled") == 1


def test_an_operator_change_that_keeps_colliding_is_a_409_not_a_500(admin, placed, api_fn, monkeypatch):
    """Someone else changes the order between every read and write: after its retries the API says 409."""
    from dataclasses import replace

    store = api_fn.store()
    real_read = store.order
    monkeypatch.setattr(store, "order", lambda order_id: replace(real_read(order_id), version=0))
    response = admin.cancel(placed["order_id"])
    assert response["statusCode"] == 409
    assert response_json(response)["error"]["code"] == "concurrent_modification"
    monkeypatch.setattr(store, "order", real_read)
    assert admin.order(placed["order_id"])["status"] != "cancelled"


def test_customers_do_not_see_fraud_rules_or_provider_messages(stack, admin, intake_fn, flow):
    _, body = native_order(intake_fn, lines=[("W", 60)])  # above max_line_quantity; W unknown
    flow.pump()
    customer = admin.call(
        "GET",
        f"/orders/{body['order_id']}",
        "/orders/{order_id}",
        {"order_id": body["order_id"]},
        token=body["access_token"],
    )
    view = response_json(customer)
    assert view["holds"] == ["fraud_review", "unknown_sku"]
    assert "hold_details" not in view and "above" not in customer["body"]
    assert (
        "above"
        in admin.call("GET", f"/orders/{body['order_id']}", "/orders/{order_id}", {"order_id": body["order_id"]})[
            "body"
        ]
    )


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "eyJQSyI6IDF9"])
def test_a_bad_list_cursor_is_a_400(stack, admin, cursor):
    response = admin.call("GET", "/orders", "/orders", {}, query={"status": "received", "cursor": cursor})
    assert response["statusCode"] == 400


def test_orders_on_their_way_leave_the_status_index_and_are_listed_from_the_list_of_every_order(
    stack, admin, intake_fn, router_fn, reservation_fn, dispatch_fn
):
    # Given five paid orders carried to `dispatched` and two held ones placed after them
    admin.stock("SKU-1", "WH-EAST", 50)
    flow = Flow(stack, router_fn, reservation_fn, dispatch_fn)
    dispatched = [native_order(intake_fn, lines=[("SKU-1", 1)])[1]["order_id"] for _ in range(5)]
    flow.pump()
    held = [native_order(intake_fn, lines=[("SKU-1", 1)], payment_status="pending")[1]["order_id"] for _ in range(2)]

    # Then a dispatched order has no status-index entry (its steps from here cost that index nothing); every order
    # keeps its entry in the list of every order
    states = {i["order_id"]: i for i in stack.items() if i.get("SK") == "ORDER"}
    assert all(states[o]["status"] == "dispatched" and "GSI1PK" not in states[o] for o in dispatched)
    assert all(states[o]["GSI1PK"].startswith("ORDERS#STATUS#on_hold") for o in held)
    assert all(states[o]["GSI2PK"].startswith("ORDERS#") for o in dispatched + held)

    # When the dispatched list is read two at a time, it comes from the list of every order, filtered
    seen, cursor = [], None
    while True:
        query = {"status": "dispatched", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = response_json(admin.call("GET", "/orders", "/orders", {}, query=query))
        assert len(page["orders"]) <= 2 and all(o["status"] == "dispatched" for o in page["orders"])
        seen += [o["order_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # Then every dispatched order comes once, newest first, and no other
    assert seen == list(reversed(dispatched))
    every = response_json(admin.call("GET", "/orders", "/orders", {}, query={"limit": "100"}))["orders"]
    assert [o["order_id"] for o in every] == list(reversed(held)) + list(reversed(dispatched))
    shipped = response_json(admin.call("GET", "/orders", "/orders", {}, query={"status": "shipped"}))
    assert shipped == {"orders": [], "next_cursor": None}
