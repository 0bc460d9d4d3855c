"""Cached boto3 clients/resources: built on first use (never at import), reused on warm starts."""

from __future__ import annotations

import threading
import weakref
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # the stubs are a development dependency; the Lambda runtime has boto3 only
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

# No client-side parameter validation: the service validates every request anyway, and walking each request's
# shape in Python was a sixth of the SDK's CPU per call (bench/bench.py: CPU per record).
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5, parameter_validation=False
)


# Every client built in this environment and still in use (fulfillment.snapstart renews their connections).
_BUILT: weakref.WeakSet[Any] = weakref.WeakSet()


@cache
def client(service: str) -> Any:
    # boto3-stubs overloads boto3.client per literal service name; this cache is keyed by a name given at run time.
    made = boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]
    _BUILT.add(made)
    return made


def built_clients() -> list[Any]:
    return list(_BUILT)


class _PerThread:
    """The DynamoDB resource, one per thread: boto3 resources are not thread-safe (concurrent queries through one
    resource can build each other's condition expressions). A Lambda environment runs one thread; tests and the
    local runtime run several."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._generation = 0

    def __call__(self) -> DynamoDBServiceResource:
        return self._held()[1]

    def _held(self) -> tuple[int, DynamoDBServiceResource, dict[str, Table]]:
        held = getattr(self._local, "held", None)
        if held is None or held[0] != self._generation:
            # boto3's default session is not thread-safe either: a thread of our own builds from a session of its own.
            main = threading.current_thread() is threading.main_thread()
            session = boto3 if main else boto3.session.Session()
            held = self._local.held = (self._generation, session.resource("dynamodb", config=_CONFIG), {})
            _BUILT.add(held[1].meta.client)
        return held

    def table(self, name: str) -> Table:
        """The resource's Table object, built once: building one registers its handlers anew (~0.4 ms of CPU,
        mostly inspecting their signatures), which every call paid when it was built per call."""
        _, resource, tables = self._held()
        if name not in tables:
            tables[name] = resource.Table(name)
        return tables[name]

    def cache_clear(self) -> None:
        self._generation += 1


dynamodb = _PerThread()


def table() -> Table:
    from fulfillment.config import settings

    return dynamodb.table(settings().table_name)


def ddb_client() -> DynamoDBClient:
    """The resource's client: it (de)serialises plain Python values, transactions included."""
    return dynamodb().meta.client
