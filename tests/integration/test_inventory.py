"""Counts and 3PL inventory snapshots: what cannot be applied is refused with its reason, never half-written, and
a skewed clock cannot make later snapshots look stale."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import provider as tpl
from tests.support.events import Context, response_json, sqs_event
from tests.support.flow import Flow
from tests.support.storefront import native_order


@pytest.fixture
def reserved(stack, admin, intake_fn, router_fn, reservation_fn) -> None:
    """SKU R: 5 on hand at WH-EAST, 3 of them reserved for an order."""
    admin.catalog("R")
    admin.catalog("S")
    admin.stock("R", "WH-EAST", 5)
    admin.stock("S", "WH-EAST", 5)
    native_order(intake_fn, lines=[("R", 3)])
    Flow(stack, router_fn, reservation_fn).pump()
    assert admin.inventory("R", "WH-EAST")["reserved"] == 3


def snapshot(tracking_fn, items: list[tuple[str, int]], as_of: datetime) -> None:
    message = tpl.message(
        "inventory.snapshot",
        location="WH-EAST",
        as_of=as_of.isoformat(),
        items=[{"sku": sku, "on_hand": units} for sku, units in items],
    )
    result = tracking_fn.lambda_handler(sqs_event([json.dumps(message)]), Context())
    assert result["batchItemFailures"] == []


def test_a_count_below_the_reserved_units_is_refused_as_insufficient_stock(admin, reserved):
    response = admin.call(
        "PUT",
        "/inventory/R/WH-EAST",
        "/inventory/{sku}/{location}",
        {"sku": "R", "location": "WH-EAST"},
        {"on_hand": 2},
    )
    assert response["statusCode"] == 409, response["body"]
    error = response_json(response)["error"]
    assert error["code"] == "insufficient_stock" and "3 are reserved" in error["message"]
    level = admin.inventory("R", "WH-EAST")
    assert (level["on_hand"], level["reserved"]) == (5, 3)
    assert admin.stock("R", "WH-EAST", 3)["on_hand"] == 3  # down to exactly the reserved units is fine


def test_a_snapshot_below_the_reserved_units_refuses_that_sku_and_reports_it(admin, reserved, tracking_fn, caplog):
    snapshot(tracking_fn, [("R", 1), ("S", 7)], datetime.now(UTC))
    assert admin.inventory("R", "WH-EAST")["on_hand"] == 5  # refused, unchanged
    assert admin.inventory("S", "WH-EAST")["on_hand"] == 7  # the rest of the snapshot applies
    [report] = [getattr(r, "refused", None) for r in caplog.records if r.getMessage().startswith("inventory snapshot")]
    assert report == ["R (insufficient_stock: 3 reserved)"]


def test_a_snapshot_from_the_future_does_not_make_later_ones_stale(admin, reserved, tracking_fn):
    snapshot(tracking_fn, [("S", 9)], datetime(2099, 1, 1, tzinfo=UTC))
    level = admin.inventory("S", "WH-EAST")
    assert level["on_hand"] == 9 and level["updated_at"] < "2099"
    snapshot(tracking_fn, [("S", 4)], datetime.now(UTC) + timedelta(seconds=1))
    assert admin.inventory("S", "WH-EAST")["on_hand"] == 4
