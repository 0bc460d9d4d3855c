"""End-to-end tests: the whole stack through the local runtime, driven by the simulated peers.

They start `LocalStack` from the real template.yaml (worker processes, API on 127.0.0.1, pollers)
and talk to it only through public contracts, like the demo does. Kept small so the folder runs in
about a minute on two cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# E2E_TEMPLATE runs the same tests against another template (e.g. a candidate change) - default: ours.
TEMPLATE = Path(os.environ.get("E2E_TEMPLATE") or ROOT / "template.yaml")


@pytest.fixture
def template() -> Path:
    return TEMPLATE
