"""Integration tier: the handlers against moto's DynamoDB/SQS/EventBridge semantics, resources from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fulfillment_local.moto_server import SerialisedMotoServer

from tests.support.admin import Admin
from tests.support.flow import Flow
from tests.support.stack import FreshStack, StackResources, clear_caches, function_module

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


@pytest.fixture(scope="session")
def fresh_stack(moto_server: SerialisedMotoServer) -> FreshStack:
    return FreshStack(moto_server)


@pytest.fixture
def stack(
    moto_server: SerialisedMotoServer, fresh_stack: FreshStack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StackResources]:
    """A fresh copy of the template's resources; the process env is the union of the functions' env."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    test_stack = fresh_stack.fresh()
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
