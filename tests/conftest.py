"""Shared fixtures: a serialised moto server per session, the template's resources per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "FulfillmentTests")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from fulfillment_local.moto_server import SerialisedMotoServer  # noqa: E402

from tests.support.stack import StackResources, clear_caches, function_module, reset_moto  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "clients"
FUNCTIONS = (
    "OrderIntakeFunction",
    "OrderApiFunction",
    "EventRouterFunction",
    "StockReservationFunction",
    "DispatchFunction",
    "TrackingUpdatesFunction",
    "TimersFunction",
)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[SerialisedMotoServer]:
    with SerialisedMotoServer() as server:
        yield server


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
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/clients is not beside the project")
    return FIXTURES


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
