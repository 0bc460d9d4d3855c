"""Which holds an order deserves. Orders are stored, never rejected, when the content is the problem."""

from __future__ import annotations

from collections.abc import Iterable

from fulfillment.config import FraudRules
from fulfillment.domain.model import Address, Hold, Order

LISTED = 10  # lines named in a hold's detail (it is stored on the order's state item: kept small)

# Countries whose addresses carry no postal code (ISO 3166-1 alpha-2).
COUNTRIES_WITHOUT_POSTCODE = frozenset({"AE", "AG", "AO", "BS", "BZ", "FJ", "GH", "HK", "JM", "KI", "MO", "QA", "TV"})


def address_problems(address: Address | None) -> list[str]:
    if address is None:
        return ["no shipping address"]
    missing = [name for name in ("line1", "city", "country") if not (getattr(address, name) or "").strip()]
    country = (address.country or "").strip().upper()
    if country and len(country) != 2:
        missing.append("country (ISO 3166-1 alpha-2)")
    if country and country not in COUNTRIES_WITHOUT_POSTCODE and not (address.postal_code or "").strip():
        missing.append("postal_code")
    return [f"missing {name}" for name in missing]


def fraud_signals(order: Order, rules: FraudRules) -> list[str]:
    signals = []
    value = order.order_value
    if value > rules.max_order_value:
        signals.append(f"order value {value} above {rules.max_order_value}")
    for line in order.lines:
        if line.quantity > rules.max_line_quantity:
            signals.append(f"line {line.line_no} quantity {line.quantity} above {rules.max_line_quantity}")
    if not order.customer.email and value > rules.high_value_without_email:
        signals.append(f"no customer email on an order worth {value}")
    country = (order.shipping_address.country or "").upper() if order.shipping_address else ""
    if country in rules.high_risk_countries:
        signals.append(f"ships to high-risk country {country}")
    return signals


def evaluate(order: Order, *, allowed_payment_states: Iterable[str], rules: FraudRules) -> dict[Hold, str]:
    """Every hold the order's content calls for, with a human-readable reason (never PII)."""
    holds: dict[Hold, str] = {}
    if order.payment_status not in set(allowed_payment_states):
        holds[Hold.AWAITING_PAYMENT] = f"payment status is {order.payment_status}"
    signals = fraud_signals(order, rules)
    if signals:
        holds[Hold.FRAUD_REVIEW] = "; ".join(signals)
    if order.physical_lines:
        problems = address_problems(order.shipping_address)
        if problems:
            holds[Hold.ADDRESS_INVALID] = "; ".join(problems)
    unknown = [line for line in order.lines if not line.known]
    if unknown:
        shown = ", ".join(f"{line.line_no} ({(line.sku or 'no sku')[:64]})" for line in unknown[:LISTED])
        more = f" and {len(unknown) - LISTED} more" if len(unknown) > LISTED else ""
        holds[Hold.UNKNOWN_SKU] = f"lines without a catalog SKU: {shown}{more}"
    return holds
