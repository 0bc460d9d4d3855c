"""The serialised moto server, one per test session, for the tiers that need AWS semantics.

Registered for the whole suite (tests/conftest.py), imported lazily: a run of the unit tier never loads moto.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fulfillment_local.moto_server import SerialisedMotoServer


@pytest.fixture(scope="session")
def moto_server() -> Iterator[SerialisedMotoServer]:
    from fulfillment_local.moto_server import SerialisedMotoServer

    with SerialisedMotoServer() as server:
        yield server
