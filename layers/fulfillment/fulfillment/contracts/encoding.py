"""JSON in and out of the API: exact numbers in, DynamoDB's Decimals out. No pydantic here, so a request that
parses no model (the order view, a download click) does not import it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fulfillment.errors import Unparseable


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes) -> Any:
    """JSON with exact numbers: big integers stay integers, fractions become Decimal, never float."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unparseable(f"body is not valid JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the parser's stack: refused, not a 5xx
        raise Unparseable("body is nested too deeply") from None


def json_default(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal. Money is stored as strings, so these are counts."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
