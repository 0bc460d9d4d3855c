"""SnapStart hooks: what the snapshot holds and what every restored environment renews (no AWS calls)."""

from __future__ import annotations

import random
import sys
import types
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from fulfillment import snapstart
from fulfillment.adapters import aws, secrets
from fulfillment.config import settings


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[Callable[..., Any], tuple[Any, ...]]]]:
    """The managed runtime's `snapshot_restore_py`, recording what is registered."""
    hooks: dict[str, list[tuple[Callable[..., Any], tuple[Any, ...]]]] = {"before": [], "after": []}
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = lambda fn, *args: hooks["before"].append((fn, args))  # type: ignore[attr-defined]
    module.register_after_restore = lambda fn, *args: hooks["after"].append((fn, args))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(aws, "_BUILT", weakref.WeakSet())
    monkeypatch.setenv("TABLE_NAME", "unit")
    settings.cache_clear()
    aws.client.cache_clear()
    aws.dynamodb.cache_clear()
    secrets._provider.cache_clear()
    yield hooks
    settings.cache_clear()
    aws.client.cache_clear()
    aws.dynamodb.cache_clear()
    secrets._provider.cache_clear()


def test_without_the_runtime_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as outside Lambda
    assert snapstart.register(clients=("sqs",)) is False


def test_before_the_snapshot_clients_and_every_imported_contract_are_built(runtime: dict) -> None:
    from fulfillment.contracts.common import ADAPTERS
    from fulfillment.contracts.provider import INBOUND, Accepted, Shipped

    built: list[str] = []
    assert snapstart.register(clients=("sqs",), also=(lambda: built.append("presigner"),)) is True
    [(before, args)] = runtime["before"]
    before(*args)
    assert Accepted.__pydantic_complete__ and Shipped.__pydantic_complete__
    assert INBOUND in ADAPTERS and all(a.pydantic_complete for a in ADAPTERS)
    assert built == ["presigner"]
    assert {c.meta.service_model.service_name for c in aws.built_clients()} == {"sqs", "dynamodb"}
    assert snapstart.build_contracts() == 0  # nothing left to build


def test_after_a_restore_randomness_connections_and_secrets_are_renewed(runtime: dict) -> None:
    snapstart.register(clients=("sqs",))
    [(before, args)] = runtime["before"]
    [(after, _)] = runtime["after"]
    before(*args)
    secrets._provider()  # a provider holding cached values
    closed: list[str] = []
    for client in aws.built_clients():
        client._endpoint.http_session.close = lambda name=client.meta.service_model.service_name: closed.append(name)

    random.seed(1234)  # the state every environment restored from one snapshot would share
    shared = random.getstate()
    after()
    assert random.getstate() != shared
    assert sorted(closed) == ["dynamodb", "secretsmanager", "sqs"]
    assert secrets._provider.cache_info().currsize == 0  # the next use fetches secrets again
