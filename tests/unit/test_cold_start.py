"""A cold start imports what the handler's first request needs, not what only some paths use (issue 11): the order
view and a download click parse no body (no pydantic), and no API request needs the queue consumer's batch
processor. SnapStart still puts those paths' modules into the snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fulfillment import snapstart

ROOT = Path(__file__).resolve().parents[2]
BATCH = "aws_lambda_powertools.utilities.batch"
PARAMETERS = "aws_lambda_powertools.utilities.parameters"
ADMIN = "fulfillment.contracts.admin"  # operators' request bodies (pydantic)


def imported_by(function: str, names: set[str]) -> set[str]:
    """Which of `names` importing the handler module brings in, in a fresh interpreter like a cold start."""
    code_dir = ROOT / "functions" / function
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code_dir), str(ROOT / "layers" / "fulfillment")])}
    probe = f"import sys, app; print('\\n'.join(sorted(n for n in {sorted(names)!r} if n in sys.modules)))"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=code_dir, env=env, capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    ("function", "not_at_import"),
    [
        ("order_api", {"pydantic", BATCH, PARAMETERS, "fulfillment.services.operations", ADMIN}),
        ("digital_delivery", {"pydantic", BATCH, PARAMETERS, "fulfillment.consumer", ADMIN}),
        ("tracking_updates", {BATCH, "fulfillment.consumer", "fulfillment.services.operations"}),
        ("event_router", {PARAMETERS}),
    ],
)
def test_a_cold_start_imports_only_what_the_first_request_needs(function: str, not_at_import: set[str]) -> None:
    assert imported_by(function, not_at_import) == set()


def test_the_paths_modules_are_imported_before_a_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "fulfillment.services.refunds", raising=False)
    monkeypatch.setattr(snapstart.aws, "table", lambda: None)  # no AWS here: only the modules are under test
    snapstart.warm(modules=("fulfillment.services.refunds",))
    assert "fulfillment.services.refunds" in sys.modules
