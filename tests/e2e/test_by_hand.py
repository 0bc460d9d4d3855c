"""The README's "Try it by hand", command for command: a newcomer seeds, orders, plays the 3PL and the carrier with
`python -m fulfillment_local.cli`, and sees the order delivered — no HMAC code, no reading of the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from fulfillment_local import cli
from fulfillment_local.cfn import load_yaml
from fulfillment_local.peers.base import peer_senders
from fulfillment_local.stack import LocalStack

pytestmark = pytest.mark.e2e


def run(capsys: pytest.CaptureFixture[str], state: Path, *args: str) -> dict | list | None:
    capsys.readouterr()
    assert cli.main(["--state-dir", str(state), *args]) == 0
    out = capsys.readouterr().out
    if not out.lstrip().startswith("HTTP"):
        return None
    last = out[out.rfind("HTTP ") :]  # the last answer, when a command made several calls
    return json.loads(last[last.find("{") :])


def test_an_order_placed_shipped_and_tracked_with_the_command_line_client(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    senders = {"ProviderSenders": json.dumps(peer_senders(load_yaml(template)))}  # as `make stack` sets them
    with LocalStack(template, port=0, concurrency=2, state_dir=tmp_path, schedules=False, parameters=senders) as stack:
        run(capsys, tmp_path, "seed", "SKU-1", "--units", "10")
        answer = run(capsys, tmp_path, "order", "SKU-1", "--qty", "2")
        assert isinstance(answer, dict) and answer["status"] == "received"
        order_id, token = answer["order_id"], answer["access_token"]
        stack.wait_idle(timeout=60)

        view = run(capsys, tmp_path, "show", order_id)
        assert isinstance(view, dict) and view["status"] == "dispatched"
        shipment_id = view["shipments"][0]["shipment_id"]
        capsys.readouterr()
        assert cli.main(["--state-dir", str(tmp_path), "requests"]) == 0  # the 3PL reads its queue
        assert shipment_id in capsys.readouterr().out
        run(capsys, tmp_path, "tpl", "accepted", shipment_id)
        run(capsys, tmp_path, "tpl", "shipped", shipment_id, "--tracking", "1Z999")
        stack.wait_idle(timeout=60)
        scanned = run(capsys, tmp_path, "scan", "1Z999", "--status", "in_transit")
        assert scanned == {"matched": True, "outcome": "applied"}
        run(capsys, tmp_path, "scan", "1Z999", "--status", "delivered")
        stack.wait_idle(timeout=60)

        customer = requests.get(f"{stack.api_url}/orders/{order_id}", params={"token": token}, timeout=30).json()
        assert customer["status"] == "delivered"
        listed = run(capsys, tmp_path, "list")
        assert isinstance(listed, dict) and listed["orders"][0]["order_id"] == order_id
