"""schemathesis against the local stack's HTTP API, from its OpenAPI description (docs/openapi.json): requests
generated from every operation's parameters and body schema, sent over HTTP to the local API Gateway.

For every request: never a 5xx (a function error answers 502 here, as API Gateway does), and a refused request
writes nothing to the table. `make fuzz` runs many cases per operation; `make test` a slice.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(str(ROOT / "docs" / "openapi.json"))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
TALLY: Counter[str] = Counter()

settings.register_profile("api-default", max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("api-fuzz", max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
PROFILE = "api-fuzz" if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else "api-default"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from fulfillment_local.stack import LocalStack

    state = tmp_path_factory.mktemp("schemathesis")
    with LocalStack(ROOT / "template.yaml", port=0, concurrency=2, state_dir=state, schedules=False) as local:
        yield local
    total = sum(v for k, v in TALLY.items() if k.startswith("http "))
    print(
        f"\nschemathesis: {total} requests over {len(OPERATIONS)} operations: {TALLY['5xx']} server errors, "
        f"{TALLY['refused_writes']} writes by refused requests; answers "
        f"{dict(sorted((k, v) for k, v in TALLY.items() if k.startswith('http ')))}"
    )


def _writes(local: object) -> int:
    totals = local._moto.app.writes.totals()  # type: ignore[attr-defined]
    return totals.calls - totals.failed_calls


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_generated_request_is_a_server_error_or_writes_when_refused(stack, operation) -> None:
    @settings(parent=settings.get_profile(PROFILE))
    @given(case=operation.as_strategy())
    def attack(case) -> None:
        before = _writes(stack)
        response = case.call(base_url=stack.api_url, timeout=30)  # type: ignore[attr-defined]
        status = response.status_code
        TALLY[f"http {status // 100}xx"] += 1
        if status >= 500:
            TALLY["5xx"] += 1
        refused = status >= 400 and _writes(stack) != before
        TALLY["refused_writes"] += refused
        assert status < 500, (case.method, case.formatted_path, status, response.text[:300])
        assert not refused, ("a refused request wrote", case.method, case.formatted_path, status)

    attack()
