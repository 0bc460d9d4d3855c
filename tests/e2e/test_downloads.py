"""Twenty browsers click one download link with three downloads left, through the runtime's HTTP API:
exactly three are redirected to the file, seventeen are told the limit is reached."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fulfillment_local.peers.base import read_secret
from fulfillment_local.peers.storefront import sign_native
from fulfillment_local.stack import LocalStack

pytestmark = pytest.mark.e2e

CLICKS = 20
CONTENT = b"PK\x03\x04 a course bundle"


def test_twenty_parallel_clicks_on_three_remaining_downloads_serve_exactly_three(template: Path, tmp_path: Path):
    with LocalStack(template, port=0, concurrency=4, state_dir=tmp_path, schedules=False) as stack:
        sm = stack.boto3_client("secretsmanager")
        admin = {"Authorization": f"Bearer {read_secret(sm, stack.outputs['AdminApiSecretArn'])}"}
        api = stack.api_url
        stack.boto3_client("s3").put_object(
            Bucket=stack.outputs["DigitalAssetsBucketName"], Key="courses/bundle.zip", Body=CONTENT
        )
        requests.put(
            f"{api}/catalog/COURSE",
            json={"kind": "digital", "digital": {"bucket_key": "courses/bundle.zip", "max_downloads": 3}},
            headers=admin,
            timeout=30,
        ).raise_for_status()
        body = json.dumps(
            {
                "external_id": "digital-race",
                "currency": "USD",
                "payment_status": "paid",
                "customer": {"email": "c@example.com", "name": "C"},
                "lines": [{"sku": "COURSE", "quantity": 1, "unit_price": "49.00"}],
            }
        ).encode()
        placed = requests.post(
            f"{api}/orders",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Fulfillment-Signature": sign_native(body, read_secret(sm, stack.outputs["NativeWebhookSecretArn"])),
            },
            timeout=30,
        )
        assert placed.status_code == 202, placed.text
        order_id, token = placed.json()["order_id"], placed.json()["access_token"]
        stack.wait_idle(timeout=60)
        view = requests.get(f"{api}/orders/{order_id}", params={"token": token}, timeout=30).json()
        [download] = view["downloads"]
        assert download["downloads_remaining"] == 3 and download["url"].startswith(f"{api}/downloads/")

        start = threading.Barrier(CLICKS)

        def click(_: int) -> requests.Response:
            start.wait()
            return requests.get(download["url"], allow_redirects=False, timeout=60)

        with ThreadPoolExecutor(CLICKS) as pool:
            answers = list(pool.map(click, range(CLICKS)))

        redirects = [a for a in answers if a.status_code == 302]
        refused = [a for a in answers if a.status_code == 410]
        assert (len(redirects), len(refused)) == (3, 17), [a.status_code for a in answers]
        assert {a.json()["error"]["code"] for a in refused} == {"download_limit_reached"}
        for answer in redirects:
            assert answer.headers["Cache-Control"] == "no-store"
            location = answer.headers["Location"]
            assert int(parse_qs(urlsplit(location).query)["X-Amz-Expires"][0]) <= 300
            assert requests.get(location, timeout=30).content == CONTENT
        after = requests.get(f"{api}/orders/{order_id}", params={"token": token}, timeout=30).json()
        assert after["downloads"][0]["downloads_remaining"] == 0
        assert after["downloads"][0]["status"] == "exhausted"
