"""What every tier shares: a test AWS environment (no real credentials) and the vendor fixtures beside the project.

The moto server and the template's resources are fixtures of the tiers that use them (integration, local), so the
unit tier never imports an AWS emulator.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "FulfillmentTests")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
# Local stacks fork their workers from one process that imported boto3, pydantic and Powertools (see
# fulfillment_local.zygote): a cold start costs ~0.1 s instead of ~1 s. The bench and the demo measure real ones.
os.environ.setdefault("FULFILLMENT_LOCAL_PRELOAD", "1")

pytest_plugins = ["tests.support.moto_fixtures"]
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "clients"


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/clients is not beside the project")
    return FIXTURES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests (and the few marked long) first: each runs for 5-40 s, and with the suite spread over
    workers (`make test`), a long test that starts last is the run's tail."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("e2e") or item.get_closest_marker("long") else 1)
