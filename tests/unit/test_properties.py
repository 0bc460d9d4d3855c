"""Generated attacks on every parser, signature scheme and contract model (hypothesis).

What must hold for any input: a parser either returns a value within the documented limits or raises the one
error its route turns into a 4xx — never anything else (which would be a 5xx). Signatures verify exactly what was
signed. `make fuzz` runs these with many more examples (HYPOTHESIS_PROFILE=fuzz).
"""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal

from fulfillment import shops, signatures, tokens
from fulfillment.contracts import provider as p
from fulfillment.contracts.carriers import AfterShipEvent, EasyPostEvent
from fulfillment.contracts.common import MAX_MONEY, MAX_QUANTITY, MAX_REFERENCE, MAX_TEXT, loads
from fulfillment.contracts.storefront import NativeOrder, ShopifyOrder, ShopifyRefund, WooOrder
from fulfillment.errors import BadRequest, FulfillmentError, SchemaViolation, Unauthorized, Unparseable
from fulfillment.http import parse_json_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.provider import inbound_fields

settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# JSON values as an attacker would send them: deep, huge numbers, odd strings, wrong types.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**45), max_value=10**45)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=200)
    | st.sampled_from(["1e999999999", "-1e20", "NaN", "Infinity", "0.0000000001", "", " ", "x" * 5000])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
)


def _line_like() -> st.SearchStrategy[dict]:
    keys = st.sampled_from(["id", "sku", "title", "name", "quantity", "price", "total", "requires_shipping"])
    return st.dictionaries(keys, json_values, max_size=8)


def _order_like() -> st.SearchStrategy[dict]:
    keys = st.sampled_from(
        ["id", "currency", "financial_status", "status", "order_key", "total_price", "updated_at", "email", "name"]
    )
    return st.dictionaries(keys, json_values, max_size=9).flatmap(
        lambda top: st.lists(_line_like(), max_size=4).map(lambda lines: {**top, "line_items": lines})
    )


def _within_limits(order) -> None:
    for line in order.lines:
        assert 0 < line.quantity <= MAX_QUANTITY
        assert line.unit_price.is_finite() and abs(line.unit_price) < MAX_MONEY
        assert line.sku is None or len(line.sku) <= MAX_REFERENCE
        assert line.title is None or len(line.title) <= MAX_TEXT


@given(st.binary(max_size=2000))
def test_any_bytes_are_json_or_unparseable(raw: bytes) -> None:
    try:
        loads(raw)
    except Unparseable:
        pass


@given(st.integers(min_value=1, max_value=200_000))
def test_any_nesting_depth_is_json_or_unparseable(depth: int) -> None:
    try:
        loads(b"[" * depth + b"]" * depth)
    except Unparseable:
        pass


@given(_order_like(), st.sampled_from([ShopifyOrder, WooOrder]))
def test_storefront_orders_parse_within_limits_or_are_refused(body: dict, model) -> None:
    raw = json.dumps(body).encode()
    try:
        parsed = parse_json_model(model, raw)
    except (SchemaViolation, Unparseable):
        return
    _within_limits(parsed.to_order("shop.example"))


@given(json_values)
def test_any_json_is_a_native_order_or_a_schema_violation(body) -> None:
    try:
        order = parse_json_model(NativeOrder, json.dumps(body).encode()).to_order()
    except (SchemaViolation, Unparseable):
        return
    _within_limits(order)


@given(st.dictionaries(st.sampled_from(["id", "order_id", "note", "refund_line_items"]), json_values))
def test_any_json_is_a_refund_or_a_schema_violation(body: dict) -> None:
    try:
        parse_json_model(ShopifyRefund, json.dumps(body).encode())
    except (SchemaViolation, Unparseable):
        pass


@given(json_values, st.sampled_from([EasyPostEvent, AfterShipEvent]))
def test_carrier_payloads_normalise_or_are_refused(body, model) -> None:
    try:
        update = parse_json_model(model, json.dumps(body).encode()).normalise()
    except (SchemaViolation, Unparseable):
        return
    assert len(update.tracking_number) <= MAX_REFERENCE and len(update.event_id) <= 256


@given(
    st.dictionaries(
        st.sampled_from(inbound_fields()),
        json_values,
        max_size=12,
    )
)
def test_3pl_messages_validate_or_are_refused(body: dict) -> None:
    from pydantic import ValidationError

    try:
        p.INBOUND.validate_python(loads(json.dumps(body).encode()))
    except (ValidationError, FulfillmentError):
        pass


@given(st.binary(max_size=500), st.text(min_size=1, max_size=40), st.integers(min_value=0, max_value=499))
def test_hmac_schemes_verify_exactly_what_was_signed(body: bytes, secret: str, flip: int) -> None:
    import base64
    import hashlib
    import hmac

    b64 = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    signatures.verify_shopify(body, b64, [secret])
    signatures.verify_aftership(body, b64, [secret])
    if body:
        tampered = bytearray(body)
        tampered[flip % len(body)] ^= 0x01
        for verify in (signatures.verify_shopify, signatures.verify_aftership):
            try:
                verify(bytes(tampered), b64, [secret])
            except Unauthorized:
                continue
            raise AssertionError("a changed body verified")


@given(st.binary(max_size=300), st.text(max_size=300))
def test_any_native_signature_header_verifies_or_is_unauthorized(body: bytes, header: str) -> None:
    try:
        signatures.verify_native(body, header, ["native-dev-secret"])
    except Unauthorized:
        return
    raise AssertionError("a made-up header verified")


@given(st.binary(max_size=300))
def test_a_native_signature_verifies_its_body_only(body: bytes) -> None:
    now = int(time.time())
    header = signatures.sign_native(body, "s3cret", now)
    signatures.verify_native(body, header, ["s3cret"], now=now)
    try:
        signatures.verify_native(body + b" ", header, ["s3cret"], now=now)
    except Unauthorized:
        return
    raise AssertionError("a longer body verified")


@given(st.text(max_size=300))
def test_shop_domains_normalise_to_one_name_or_are_refused(header: str) -> None:
    for normalise in (shops.shopify_domain, shops.woocommerce_source):
        try:
            name = normalise(header)
        except BadRequest:
            continue
        assert normalise(name) == name  # normalising twice changes nothing: one shop, one name
        assert len(name) <= shops.MAX_SOURCE_LENGTH


@given(st.text(max_size=100), st.text(min_size=1, max_size=30))
def test_order_tokens_verify_only_when_derived_from_the_key(token: str, order_suffix: str) -> None:
    order_id = "o_" + order_suffix
    key = "order-token-dev-key"
    assert tokens.verify(order_id, tokens.token_for(order_id, key), ["old", key])
    assert tokens.verify(order_id, token, [key]) == (token == tokens.token_for(order_id, key))


@given(st.text(max_size=300))
def test_download_tokens_are_ours_or_nothing(token: str) -> None:
    assert tokens.read_download_token(token, ["download-dev-key"]) is None or token.startswith("d1.")


@given(st.decimals(allow_nan=True, allow_infinity=True) | st.sampled_from([Decimal("1e999999999")]))
def test_money_is_finite_and_bounded_or_refused(value: Decimal) -> None:
    from fulfillment.contracts.common import Money
    from pydantic import TypeAdapter, ValidationError

    try:
        money = TypeAdapter(Money).validate_python(value)
    except ValidationError:
        return
    assert money.is_finite() and abs(money) < MAX_MONEY
