"""Many shoppers race for the last units, through the runtime's HTTP API: nothing is oversold."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
import requests
from fulfillment_local.cfn import REGION
from fulfillment_local.invariants import check, scan_all
from fulfillment_local.peers.base import read_secret
from fulfillment_local.peers.storefront import sign_native
from fulfillment_local.stack import LocalStack

pytestmark = pytest.mark.e2e

SHOPPERS = 30
UNITS = {"WH-EAST": 4, "WH-WEST": 3, "HQ": 3}  # 10 units, spread so that spill-over races too
SKU = "LAST-UNITS"


def test_thirty_parallel_orders_for_ten_units_reserve_exactly_ten(template: Path, tmp_path: Path) -> None:
    with LocalStack(template, port=0, concurrency=4, state_dir=tmp_path, schedules=False) as stack:
        sm = stack.boto3_client("secretsmanager")
        admin = {"Authorization": f"Bearer {read_secret(sm, stack.outputs['AdminApiSecretArn'])}"}
        native_secret = read_secret(sm, stack.outputs["NativeWebhookSecretArn"])
        api = stack.api_url

        # Given 10 units of one SKU over three locations
        requests.put(f"{api}/catalog/{SKU}", json={"kind": "physical"}, headers=admin, timeout=30).raise_for_status()
        for location, units in UNITS.items():
            requests.put(
                f"{api}/inventory/{SKU}/{location}", json={"on_hand": units}, headers=admin, timeout=30
            ).raise_for_status()
        stack.wait_idle(timeout=60)

        # When 30 shoppers check out one unit each at the same moment
        start = threading.Barrier(SHOPPERS)

        def checkout(n: int) -> str:
            body = json.dumps(
                {
                    "external_id": f"race-{n}",
                    "currency": "USD",
                    "payment_status": "paid",
                    "customer": {"email": f"shopper{n}@example.com", "name": f"Shopper {n}"},
                    "shipping_address": {
                        "name": "S",
                        "line1": "1 Main St",
                        "city": "Springfield",
                        "postal_code": "12345",
                        "country": "US",
                    },
                    "lines": [{"sku": SKU, "quantity": 1, "unit_price": "10.00"}],
                }
            ).encode()
            start.wait()
            response = requests.post(
                f"{api}/orders",
                data=body,
                timeout=60,
                headers={
                    "Content-Type": "application/json",
                    "X-Fulfillment-Signature": sign_native(body, native_secret),
                },
            )
            assert response.status_code == 202, response.text
            return response.json()["order_id"]

        with ThreadPoolExecutor(SHOPPERS) as pool:
            order_ids = list(pool.map(checkout, range(SHOPPERS)))
        stack.wait_idle(timeout=120)

        # Then exactly 10 orders hold a unit and the other 20 wait for one: nothing is oversold
        with ThreadPoolExecutor(8) as pool:
            views = list(
                pool.map(lambda oid: requests.get(f"{api}/orders/{oid}", headers=admin, timeout=30).json(), order_ids)
            )
        reserved = sum(v["lines"][0]["reserved"] + v["lines"][0]["shipped"] for v in views)
        backordered = sum(v["lines"][0]["backordered"] for v in views)
        assert (reserved, backordered) == (10, SHOPPERS - 10), [
            (v["order_id"], v["status"], v["lines"][0]) for v in views
        ]
        assert sorted(v["status"] for v in views).count("backordered") == SHOPPERS - 10
        for location, units in UNITS.items():
            level = requests.get(f"{api}/inventory/{SKU}/{location}", headers=admin, timeout=30).json()
            assert level["available"] == 0, level
            assert level["reserved"] + (units - level["on_hand"]) == units, level  # held, or already shipped

        # And the table agrees with itself (reserved = sum of reservations, conservation, ...)
        table = boto3.resource(
            "dynamodb",
            endpoint_url=stack.endpoint_url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).Table(stack.outputs["TableName"])
        report = check(scan_all(table))
        assert report.ok, report.violations
