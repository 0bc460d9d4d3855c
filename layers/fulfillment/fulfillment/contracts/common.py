"""Parsing helpers shared by the wire-format models."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

# Re-exported: they live in contracts.encoding, which needs no pydantic.
from fulfillment.contracts.encoding import json_default as json_default
from fulfillment.contracts.encoding import loads as loads
from fulfillment.errors import SchemaViolation


class Contract(BaseModel):
    """Every wire-format model. Its validator is built when it is first used, not at import: a cold start pays
    for the models its first request needs, not for every model the handler could meet."""

    model_config = ConfigDict(defer_build=True)


DEFERRED = ConfigDict(defer_build=True)
ADAPTERS: list[TypeAdapter[Any]] = []  # every adapter made by `adapter` (fulfillment.snapstart builds them all)


def adapter(kind: Any) -> TypeAdapter[Any]:
    """A TypeAdapter over a union of contracts, built at first use like the contracts themselves."""
    made: TypeAdapter[Any] = TypeAdapter(kind, config=DEFERRED)
    ADAPTERS.append(made)
    return made


# ------------------------------------------------------------------ limits of what any sender may send
# Enforced while parsing, before any work: nothing outside them reaches the table (DynamoDB numbers carry 38 digits,
# exponents -130..125; keys at most 2,048 bytes (partition) and 1,024 (sort); items 400 KB).
MAX_QUANTITY = 1_000_000  # units in one line or one count
MAX_MONEY = Decimal(10) ** 12  # any amount in an order's currency
MONEY_PLACES = Decimal("0.000001")  # finer than any currency's minor unit; beyond it is rounding noise
MAX_TEXT = 1024  # descriptive text (titles, names, address lines, messages): longer is cut, never refused
MAX_REFERENCE = 128  # a value that becomes part of a key (tracking numbers, carrier codes, ids)
MAX_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("an amount must be a finite number")
    if value and value.adjusted() >= 12:  # by its exponent: abs() of 1e999999999 would itself overflow
        raise ValueError(f"an amount must be below {MAX_MONEY:,}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        return value.quantize(MONEY_PLACES).normalize()
    return value


def clip(value: Any) -> Any:
    if isinstance(value, str):
        value = value[:MAX_TEXT]
        return value if value.strip() else None
    return value


Money = Annotated[Decimal, AfterValidator(_money)]
Text = Annotated[str | None, BeforeValidator(clip)]  # optional descriptive text, blank = None, cut at MAX_TEXT
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
Reference = Annotated[str, Field(min_length=1, max_length=MAX_REFERENCE)]
EpochSeconds = Annotated[int, Field(ge=0, le=MAX_EPOCH_SECONDS)]


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
