"""Returns against the in-memory store: never more than delivered, received once, refunded right."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from fulfillment import tokens
from fulfillment.domain.events import CustomerEvent
from fulfillment.domain.returns import Disposition, RmaStatus
from fulfillment.errors import NotFound
from fulfillment.services.returns import NotReturnable, QuantityExceedsReturnable, Returns
from fulfillment.services.unit import NotOwner, Outcome

from tests.unit.test_services import World, delivered_message, submitted

NOW = "2026-11-05T10:00:00+00:00"  # four days after the test orders' delivery


def delivered(world: World, *lines: tuple[str, int]) -> str:
    order_id, shipment_id = submitted(world, *lines)
    world.shipped(shipment_id)
    world.tracking.provider_message(delivered_message(shipment_id, "m-del"))
    return order_id


def returns(world: World, now: str = NOW, **settings: object) -> Returns:
    sent: list[tuple[str, object]] = []
    service = Returns(replace(world.settings, **settings), world.store, lambda: now, lambda p, m: sent.append((p, m)))
    service.sent = sent  # type: ignore[attr-defined]
    return service


def ask(service: Returns, order_id: str, *lines: tuple[int, int], key: str | None = None):  # type: ignore[no-untyped-def]
    return service.request(
        order_id,
        [(n, q, "too small") for n, q in lines],
        note=None,
        by="customer",
        idempotency_key=key,
        token=tokens.token_for(order_id, "token-key"),  # the customer's access token (World's intake key)
    )


def test_never_more_than_delivered_and_duplicate_lines_are_summed() -> None:
    world = World()
    world.stock("W", WH_EAST=3)
    order_id = delivered(world, ("W", 3))
    service = returns(world)

    results = []
    for _ in range(5):
        try:
            results.append(ask(service, order_id, (1, 1))[0].status)
        except QuantityExceedsReturnable:
            results.append("refused")
    assert results == [RmaStatus.AUTHORIZED] * 3 + ["refused"] * 2
    assert world.order(order_id).line(1).returning == 3

    other = World()
    other.stock("W", WH_EAST=3)
    order_id = delivered(other, ("W", 3))
    with pytest.raises(QuantityExceedsReturnable):
        ask(returns(other), order_id, (1, 2), (1, 2))  # 2 + 2 of one line: 4 > 3
    assert ask(returns(other), order_id, (1, 1), (1, 2))[0].lines[0].quantity == 3


def test_digital_final_sale_late_and_undelivered_lines_are_not_returnable() -> None:
    world = World()
    world.stock("W", WH_EAST=2)
    world.store.add_catalog("FINAL", kind="physical", returnable=False)
    world.store.put_stock("FINAL", "WH-EAST", 1)
    order_id = delivered(world, ("W", 1), ("FINAL", 1))
    with pytest.raises(NotReturnable):
        ask(returns(world), order_id, (2, 1))
    with pytest.raises(NotReturnable):
        ask(returns(world, now="2026-12-05T10:00:00+00:00"), order_id, (1, 1))  # 34 days after delivery
    with pytest.raises(NotFound):
        ask(returns(world), order_id, (9, 1))
    fresh = World()
    fresh.stock("W", WH_EAST=1)
    undelivered, _ = submitted(fresh, ("W", 1))
    with pytest.raises(QuantityExceedsReturnable):
        ask(returns(fresh), undelivered, (1, 1))


def test_a_retried_request_with_its_idempotency_key_answers_the_same_rma() -> None:
    world = World()
    world.stock("W", WH_EAST=2)
    order_id = delivered(world, ("W", 2))
    first, created = ask(returns(world), order_id, (1, 1), key="k-1")
    again, created_again = ask(returns(world), order_id, (1, 1), key="k-1")
    assert (created, created_again) == (True, False) and again.rma_id == first.rma_id
    assert world.order(order_id).line(1).returning == 1


def test_a_receipt_applies_once_restocks_and_says_what_is_due() -> None:
    world = World()
    world.stock("W", WH_EAST=3)
    order_id = delivered(world, ("W", 3))
    service = returns(world, restocking_fee_percent=Decimal("10"))
    rma, _ = ask(service, order_id, (1, 3))
    assert world.events(CustomerEvent.RETURN_AUTHORIZED) == [order_id]
    units = [("W", 1, Disposition.RESTOCK), ("W", 1, Disposition.DAMAGED), ("W", 1, Disposition.MISSING)]

    outcome, receipt = service.receive(
        rma.rma_id, units, source="tpl-east", message_id="r1", by="x", provider="tpl-east"
    )
    assert outcome is Outcome.APPLIED and receipt is not None and receipt.units == 3
    for message_id in ("r1", "r1-resent-under-a-new-id"):
        again, _ = service.receive(
            rma.rma_id, units, source="tpl-east", message_id=message_id, by="x", provider="tpl-east"
        )
        assert again is Outcome.DUPLICATE

    received = world.store.rmas[rma.rma_id]
    assert received.status is RmaStatus.RECEIVED
    assert received.refund_due == Decimal("18.00")  # 2 units at 10.00 (missing not refunded) less 10%
    assert world.level("W", "WH-EAST")[0] == 1  # 3 shipped, 1 restocked
    line = world.order(order_id).line(1)
    assert (line.returned, line.returning) == (2, 0)
    assert world.events(CustomerEvent.RETURN_RECEIVED) == [order_id]
    assert world.events(CustomerEvent.REFUND_DUE) == [order_id]
    [refund] = [e for _, e in world.store.history if e.event is CustomerEvent.REFUND_DUE]
    assert refund.detail["amount"] == "18.00" and refund.detail["currency"] == "USD"


def test_units_beyond_the_authorisation_are_refused_and_another_provider_cannot_receive() -> None:
    world = World()
    world.stock("W", WH_EAST=2)
    order_id = delivered(world, ("W", 2))
    service = returns(world)
    rma, _ = ask(service, order_id, (1, 1))
    with pytest.raises(NotOwner):
        service.receive(
            rma.rma_id, [("W", 1, Disposition.RESTOCK)], source="tpl-west", message_id="x", by="x", provider="tpl-west"
        )
    _, receipt = service.receive(
        rma.rma_id, [("W", 2, Disposition.RESTOCK)], source="tpl-east", message_id="y", by="x", provider="tpl-east"
    )
    assert (
        receipt is not None and receipt.units == 1 and receipt.refused == ["1 x W (restock) beyond what was authorised"]
    )
    assert world.level("W", "WH-EAST")[0] == 1


def test_a_return_over_the_review_threshold_waits_for_an_operator() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    order_id = delivered(world, ("W", 1))
    service = returns(world, return_review_over=Decimal("5"), provider_queues={"tpl-east": "q-east"})
    rma, _ = ask(service, order_id, (1, 1))
    assert rma.status is RmaStatus.REQUESTED and world.events(CustomerEvent.RETURN_AUTHORIZED) == []
    assert service.expect(rma.rma_id) is Outcome.NOTHING_TO_DO
    assert service.approve(rma.rma_id, by="ops").status is RmaStatus.AUTHORIZED
    assert world.events(CustomerEvent.RETURN_AUTHORIZED) == [order_id]
    assert service.expect(rma.rma_id) is Outcome.APPLIED
    [(provider, message)] = service.sent  # type: ignore[attr-defined]
    assert provider == "tpl-east" and message.type == "return_expected" and message.lines[0].quantity == 1

    rejected_world = World()
    rejected_world.stock("W", WH_EAST=1)
    other = delivered(rejected_world, ("W", 1))
    service = returns(rejected_world, return_review_over=Decimal("5"))
    rma, _ = ask(service, other, (1, 1))
    service.reject(rma.rma_id, by="ops", reason="worn")
    assert rejected_world.order(other).line(1).returning == 0  # returnable again


def test_another_customers_token_finds_no_order() -> None:
    world = World()
    world.stock("W", WH_EAST=1)
    order_id = delivered(world, ("W", 1))
    with pytest.raises(NotFound):
        returns(world).request(order_id, [(1, 1, None)], note=None, by="customer", idempotency_key=None, token="x")
    assert world.store.rmas == {}
