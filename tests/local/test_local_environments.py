"""Two ways to start an execution environment - a fresh interpreter (what the demo and the bench measure) and a
fork of the preloaded server (what the test suites use) - and a function cannot tell them apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fulfillment_local.stack import LocalStack


def _env_event() -> dict[str, Any]:
    return {"resource": "/env", "path": "/env", "httpMethod": "GET", "headers": {}, "queryStringParameters": None}


@pytest.mark.parametrize("preload", [False, True], ids=["subprocess", "fork-server"])
def test_both_ways_of_starting_an_environment_give_the_function_only_its_own(
    toy_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preload: bool
) -> None:
    # Given a variable in the runtime's own environment that no function declares
    monkeypatch.setenv("LEAKED_FROM_THE_RUNTIME", "1")
    with LocalStack(toy_project, preload=preload, state_dir=tmp_path, schedules=False) as stack:
        # When an environment starts (a plain interpreter, or a fork of the preloaded server)
        first = stack.invoke_result("ApiFunction", _env_event())
        again = stack.invoke_result("ApiFunction", _env_event())

    # Then it is a cold start once, sees its resolved variables, its Lambda variables and nothing of ours
    assert first.ok and first.cold_start and again.ok and not again.cold_start
    env = json.loads(first.payload["body"])
    assert env["TABLE_NAME"] == "ToyTable" and env["AWS_LAMBDA_FUNCTION_NAME"] == "ApiFunction"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["context"]["function_name"] == "ApiFunction"
    assert env["LEAKED_FROM_THE_RUNTIME"] is None


def test_a_fork_server_that_died_is_replaced_at_the_next_cold_start(
    toy_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalStack(toy_project, preload=True, state_dir=tmp_path, schedules=False) as stack:
        assert stack.invoke_result("ApiFunction", _env_event()).ok
        server = stack._fork_server
        assert server is not None and server._proc is not None
        server._proc.kill()  # say the OOM killer took it
        server._proc.wait()
        after = stack.invoke_result("SlowFunction", {"sleep": 0})  # a cold start: needs the server
    assert after.ok and after.cold_start
