"""The order's aggregate status, by the contract's precedence.

cancelled > on_hold > delivered > shipped > partially_shipped > backordered > dispatched > reserved > received
"""

from __future__ import annotations

from fulfillment.domain.model import LineKind, Order, OrderStatus


def aggregate(order: Order, *, digital_issued: bool = False) -> OrderStatus:
    if order.cancelled:
        return OrderStatus.CANCELLED
    if order.holds:
        return OrderStatus.ON_HOLD
    physical = [line for line in order.lines if line.kind is LineKind.PHYSICAL]
    has_digital = any(line.kind is LineKind.DIGITAL for line in order.lines)
    if physical and all(line.delivered >= line.quantity for line in physical) and (digital_issued or not has_digital):
        return OrderStatus.DELIVERED
    if physical and all(line.shipped >= line.quantity for line in physical):
        return OrderStatus.SHIPPED
    if any(line.shipped > 0 for line in physical):
        return OrderStatus.PARTIALLY_SHIPPED
    if any(line.backordered > 0 for line in physical):
        return OrderStatus.BACKORDERED
    stocked = [line for line in physical if line.needs_stock]
    if stocked and all(line.dispatched + line.shipped >= line.quantity for line in stocked):
        return OrderStatus.DISPATCHED
    if physical and all(line.reserved >= line.quantity for line in physical if line.needs_stock):
        return OrderStatus.RESERVED
    if not physical and has_digital:
        return OrderStatus.RESERVED  # nothing to reserve: ready as soon as it is received
    return OrderStatus.RECEIVED
