"""Integration tier: the handlers against moto's DynamoDB/SQS/EventBridge semantics, resources from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fulfillment_local.moto_server import SerialisedMotoServer

from tests.support.admin import Admin
from tests.support.flow import Flow
from tests.support.stack import StackResources, clear_caches, function_module, reset_moto

FUNCTIONS = (
    "OrderIntakeFunction",
    "OrderApiFunction",
    "EventRouterFunction",
    "StockReservationFunction",
    "DispatchFunction",
    "TrackingUpdatesFunction",
    "TimersFunction",
    "DigitalDeliveryFunction",
    "ReturnsFunction",
)


@pytest.fixture
def stack(moto_server: SerialisedMotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackResources]:
    """A fresh copy of the template's resources; the process env is the union of the functions' env."""
    reset_moto(moto_server.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    test_stack = StackResources(moto_server.endpoint_url).create()
    for function in FUNCTIONS:
        for name, value in test_stack.function_env(function).items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    clear_caches()
    yield test_stack
    clear_caches()


@pytest.fixture
def intake_fn(stack: StackResources):
    return function_module("order_intake")


@pytest.fixture
def api_fn(stack: StackResources):
    return function_module("order_api")


@pytest.fixture
def router_fn(stack: StackResources):
    return function_module("event_router")


@pytest.fixture
def reservation_fn(stack: StackResources):
    return function_module("stock_reservation")


@pytest.fixture
def dispatch_fn(stack: StackResources):
    return function_module("dispatch")


@pytest.fixture
def tracking_fn(stack: StackResources):
    return function_module("tracking_updates")


@pytest.fixture
def timers_fn(stack: StackResources):
    return function_module("timers")


@pytest.fixture
def digital_fn(stack: StackResources):
    return function_module("digital_delivery")


@pytest.fixture
def returns_fn(stack: StackResources):
    return function_module("returns")


@pytest.fixture
def admin(api_fn) -> Admin:
    return Admin(api_fn)


@pytest.fixture
def flow(stack, router_fn, reservation_fn, dispatch_fn, tracking_fn, digital_fn) -> Flow:
    return Flow(stack, router_fn, reservation_fn, dispatch_fn, tracking_fn, digital_fn)
