from tests.support.admin import Admin
from tests.support.flow import Flow
from tests.support.storefront import native_order


def test_native_order_flows_to_reserved_and_dispatched(stack, intake_fn, api_fn, router_fn, reservation_fn):
    admin = Admin(api_fn)
    admin.catalog("SKU-1")
    admin.stock("SKU-1", "WH-EAST", 5)
    flow = Flow(stack, router_fn, reservation_fn)
    response, body = native_order(intake_fn, stack, lines=[("SKU-1", 2)])
    assert response["statusCode"] == 202, body
    flow.pump()
    view = admin.order(body["order_id"])
    assert view["status"] == "dispatched", view  # reserved whole: its shipment made in the same step
    assert view["lines"][0]["reserved"] == 2
    assert [(s["provider"], s["status"]) for s in view["shipments"]] == [("tpl-east", "submitted")]
    assert [e["detail-type"] for e in flow.customer_events] == ["OrderReceived"]
    assert "status_url" in flow.customer_events[0]["detail"]
