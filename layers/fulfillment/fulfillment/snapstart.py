"""Lambda SnapStart (python3.12+): what goes into a function's snapshot, and what each restored environment renews.

With SnapStart, Lambda runs a function's init once per published version, snapshots the environment and resumes
new environments from that snapshot, so the import is no longer paid at a cold start. The snapshot is shared by
every environment restored from it, so:

- before the snapshot, the work every first request would repeat is done once: the AWS clients the function uses
  are built (endpoint rules and service models loaded), the modules the handler imports only on some paths are
  imported (a cold start without SnapStart does not pay for them; a restored environment need not either), and
  every contract model imported by then gets its validator (they are built lazily otherwise, see
  `contracts.common.Contract`);
- after each restore, what must not be shared is renewed: the `random` module's state, the clients' pooled
  connections (none should exist, as init makes no calls, but one would be dead after a restore) and cached
  secrets (their age was measured on another clock).

The hooks come from the runtime's `snapshot_restore_py`; anywhere else (tests, the local stack) `register` does
nothing and says so.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterable
from typing import Any

from fulfillment.adapters import aws, secrets


def register(
    *, clients: Iterable[str] = (), also: Iterable[Callable[[], object]] = (), modules: Iterable[str] = ()
) -> bool:
    """Register the hooks; `clients`: the services besides DynamoDB the function calls, `also`: more to build
    before the snapshot (a presigner), `modules`: what the handler imports on some paths only. False without
    SnapStart."""
    try:
        # In the python3.12+ managed runtimes only (pypi: snapshot-restore-py); no stubs.
        from snapshot_restore_py import (  # type: ignore[import-not-found]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return False
    register_before_snapshot(warm, tuple(clients), tuple(also), tuple(modules))
    register_after_restore(renew)
    return True


def warm(clients: Iterable[str] = (), also: Iterable[Callable[[], object]] = (), modules: Iterable[str] = ()) -> None:
    aws.table()  # the resource and its Table object (building one is most of a first call's own CPU)
    for service in clients:
        aws.client(service)
    if "secretsmanager" in clients:
        secrets.prepare()
    for build in also:
        build()
    for module in modules:
        importlib.import_module(module)
    build_contracts()


def build_contracts() -> int:
    """Build the validator of every contract model and adapter imported so far. Returns how many were built."""
    from fulfillment.contracts.common import ADAPTERS, Contract

    built = 0
    pending: list[type[Contract]] = list(Contract.__subclasses__())
    while pending:
        model = pending.pop()
        pending += model.__subclasses__()
        if not model.__pydantic_complete__:
            model.model_rebuild()
            built += 1
    for adapter in ADAPTERS:
        if adapter.rebuild() is not None:
            built += 1
    return built


def renew() -> None:
    random.seed()  # from os.urandom: no two restored environments draw the same numbers
    for client in aws.built_clients():
        _close_connections(client)
    secrets.forget()


def _close_connections(client: Any) -> None:
    """Drop the client's pooled connections; the next request opens a new one (botocore has no public call)."""
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if session is not None:
        session.close()
