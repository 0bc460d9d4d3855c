"""Parsing helpers shared by the wire-format models."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from fulfillment.errors import SchemaViolation, Unparseable


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


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "problem": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def schema_violation(exc: ValidationError) -> SchemaViolation:
    details = field_errors(exc)
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    return SchemaViolation(f"body does not match the schema: {summary}", details=details)


def blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def json_default(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal. Money is stored as strings, so these are counts."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
