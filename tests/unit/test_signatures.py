"""Signature schemes against the vendors' published test vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fulfillment import signatures
from fulfillment.errors import Unauthorized

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "clients"


@pytest.fixture
def fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/clients is not beside the project")
    return FIXTURES


def test_shopify_own_vector() -> None:
    signatures.verify_shopify(b'{"foo": "bar"}', "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=", ["test_secret_key"])


def test_shopify_rejects_a_wrong_secret_and_a_missing_header() -> None:
    with pytest.raises(Unauthorized):
        signatures.verify_shopify(b'{"foo": "bar"}', "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=", ["other"])
    with pytest.raises(Unauthorized):
        signatures.verify_shopify(b'{"foo": "bar"}', None, ["test_secret_key"])


def test_rotation_any_listed_secret_verifies() -> None:
    signatures.verify_shopify(
        b'{"foo": "bar"}', "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=", ["new", "test_secret_key"]
    )


def test_easypost_vector_needs_the_nfkd_secret(fixtures: Path) -> None:
    raw = (fixtures / "easypost_tracker_updated.json").read_bytes()
    good = "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db"
    signatures.verify_easypost(raw, good, ["sécret"])
    signatures.verify_easypost(raw, good, ["se\u0301cret"])  # already decomposed: same key after NFKD
    with pytest.raises(Unauthorized):
        signatures.verify_easypost(raw + b" ", good, ["sécret"])


def test_aftership_vector(fixtures: Path) -> None:
    raw = (fixtures / "aftership_tracking_update.json").read_bytes()
    signatures.verify_aftership(raw, "YhHT8F217EV1cSmFv1p+Ifq168sWgQtVH4dxmXsGVPY=", ["aftership_test_secret"])


def test_woocommerce_vector_and_reserialisation_fails(fixtures: Path) -> None:
    raw = (fixtures / "woocommerce_order_created.body").read_bytes()
    vector = "3PyE8fJTsjur6pUHJxTvv/qu1Mp/fM39//YXo8YjumM="
    signatures.verify_woocommerce(raw, vector, ["wc_test_secret"])
    with pytest.raises(Unauthorized):
        signatures.verify_woocommerce(json.dumps(json.loads(raw)).encode(), vector, ["wc_test_secret"])


def test_woocommerce_secret_is_html_entity_decoded_like_wordpress() -> None:
    import base64
    import hashlib
    import hmac

    raw = b'{"id":1}'
    header = base64.b64encode(hmac.new(b"a&b", raw, hashlib.sha256).digest()).decode()
    signatures.verify_woocommerce(raw, header, ["a&amp;b"])


def test_native_signature_window_and_multiple_v1() -> None:
    raw = b'{"x":1}'
    header = signatures.sign_native(raw, "s3cret", 1_000_000)
    signatures.verify_native(raw, header, ["s3cret"], now=1_000_299)
    signatures.verify_native(raw, "t=1000000,v1=deadbeef," + header.split(",")[1], ["s3cret"], now=1_000_000)
    for now in (1_000_301, 999_699):
        with pytest.raises(Unauthorized):
            signatures.verify_native(raw, header, ["s3cret"], now=now)
    with pytest.raises(Unauthorized):
        signatures.verify_native(raw + b" ", header, ["s3cret"], now=1_000_000)
    for garbled in ("", "t=abc,v1=00", "v1=00", "t=1000000"):
        with pytest.raises(Unauthorized):
            signatures.verify_native(raw, garbled, ["s3cret"], now=1_000_000)


@pytest.mark.parametrize("t", ["9" * 500, "1e9", "-5", " ", "１２３"])
def test_a_native_timestamp_that_is_not_unix_seconds_is_401_not_a_crash(t: str) -> None:
    with pytest.raises(Unauthorized):
        signatures.verify_native(b"{}", f"t={t},v1=00", ["secret"], now=1_700_000_000.5)


def test_json_nested_deeper_than_the_parser_is_400_not_a_crash() -> None:
    from fulfillment.contracts.common import loads
    from fulfillment.errors import Unparseable

    with pytest.raises(Unparseable):
        loads(b"[" * 100_000 + b"]" * 100_000)
