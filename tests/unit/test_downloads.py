"""Digital delivery against the in-memory store: grant once, count exactly, refuse with the right reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fulfillment import tokens
from fulfillment.domain.entitlements import Asset, Entitlement, Refusal
from fulfillment.domain.events import CustomerEvent
from fulfillment.domain.model import Channel, Customer, Hold, Line, LineKind, Order, OrderStatus
from fulfillment.errors import DownloadGone, TooManyRequests
from fulfillment.services.downloads import DownloadNotFound, Downloads
from fulfillment.services.unit import Outcome

from tests.unit.test_services import ADDRESS, World

KEY = "download-key-1"
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> str:
        return self.now.isoformat(timespec="microseconds")

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class DigitalWorld(World):
    def __init__(self, keys: tuple[str, ...] = (KEY,)) -> None:
        super().__init__()
        self.clock = Clock()
        self.keys = list(keys)
        self.downloads = Downloads(
            self.settings,
            self.store,
            signing_keys=lambda: self.keys,
            presign=lambda e, seconds: f"https://bucket.test/{e.bucket_key}?X-Amz-Expires={seconds}",
            clock=self.clock,
        )
        self.store.add_catalog("EBOOK", kind="digital", digital={"bucket_key": "books/guide.pdf", "max_downloads": 3})

    def place_digital(
        self, quantity: int = 1, *, sku: str = "EBOOK", payment_status: str = "paid", with_physical: bool = False
    ) -> str:
        lines = [Line(line_no=1, sku=sku, quantity=quantity, unit_price=Decimal("9"), kind=LineKind.DIGITAL)]
        if with_physical:
            self.stock("MUG", WH_EAST=5)
            lines.append(Line(line_no=2, sku="MUG", quantity=1, unit_price=Decimal("5"), kind=LineKind.PHYSICAL))
        order = Order(
            order_id="",
            channel=Channel.NATIVE,
            shop="native",
            external_id=f"d-{len(self.store.orders)}",
            currency="USD",
            lines=tuple(lines),
            customer=Customer(email="c@example.com"),
            shipping_address=ADDRESS if with_physical else None,
            payment_status=payment_status,
        )
        return self.intake.accept(order, now=self.clock()).order_id

    def token(self, order_id: str, line_no: int = 1) -> str:
        entitlement = self.store.entitlement(f"{order_id}.d{line_no:02d}")
        assert entitlement is not None
        return tokens.download_token(entitlement.entitlement_id, entitlement.link_version, self.keys[0])


def test_a_paid_digital_order_gets_its_entitlement_once_and_is_delivered() -> None:
    world = DigitalWorld()
    order_id = world.place_digital(quantity=2)

    assert world.downloads.issue(order_id) is Outcome.APPLIED
    assert world.downloads.issue(order_id) is Outcome.NOTHING_TO_DO  # a redelivered message grants nothing more

    entitlement = world.store.entitlement(f"{order_id}.d01")
    assert entitlement is not None
    assert (entitlement.allowance, entitlement.downloads_remaining) == (6, 6)  # 3 downloads x 2 units
    assert world.order(order_id).status is OrderStatus.DELIVERED
    assert world.events(CustomerEvent.DOWNLOAD_READY) == [order_id]
    assert world.events(CustomerEvent.ORDER_DELIVERED) == [order_id]


def test_a_mixed_order_is_delivered_only_when_its_parcel_is_too() -> None:
    world = DigitalWorld()
    order_id = world.place_digital(with_physical=True)
    world.reservations.reserve(order_id)
    world.downloads.issue(order_id)
    order = world.order(order_id)
    assert order.line(1).issued == 1
    assert order.status is not OrderStatus.DELIVERED
    assert world.events(CustomerEvent.ORDER_DELIVERED) == []


def test_an_unpaid_order_has_no_link_until_its_hold_is_released() -> None:
    world = DigitalWorld()
    order_id = world.place_digital(payment_status="pending")
    assert Hold.AWAITING_PAYMENT.value in world.order(order_id).holds

    assert world.downloads.issue(order_id) is Outcome.NOTHING_TO_DO
    assert world.store.entitlements == {}

    world.operations.release_hold(order_id, Hold.AWAITING_PAYMENT.value)
    assert world.downloads.issue(order_id) is Outcome.APPLIED
    assert world.downloads.issue(order_id) is Outcome.NOTHING_TO_DO
    assert world.events(CustomerEvent.DOWNLOAD_READY) == [order_id]


def test_a_sku_without_a_file_puts_the_order_on_hold_instead_of_granting_nothing_silently() -> None:
    world = DigitalWorld()
    world.store.add_catalog("COURSE", kind="digital", digital=None)
    order_id = world.place_digital(sku="COURSE")
    assert world.downloads.issue(order_id) is Outcome.HELD
    assert Hold.DIGITAL_ASSET_MISSING.value in world.order(order_id).holds
    assert world.store.entitlements == {}


def test_k_remaining_downloads_are_served_exactly_k_times() -> None:
    world = DigitalWorld()
    order_id = world.place_digital()
    world.downloads.issue(order_id)
    token = world.token(order_id)

    served = [world.downloads.click(token) for _ in range(3)]
    assert [r.entitlement.downloads_remaining for r in served] == [2, 1, 0]
    assert served[0].location.endswith("X-Amz-Expires=300")
    with pytest.raises(DownloadGone) as refused:
        world.downloads.click(token)
    assert refused.value.code == Refusal.DOWNLOAD_LIMIT_REACHED.value
    assert world.store.entitlement(f"{order_id}.d01").downloads_served == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # tampered signature
        lambda t: t[: len(t) // 2],  # truncated
        lambda t: tokens.download_token("o_other.d01", 1, "someone-elses-key"),  # foreign key
        lambda t: "",
        lambda t: "d1." + "x" * 300,
    ],
)
def test_a_token_that_does_not_verify_is_not_found_and_counts_nothing(forge) -> None:  # type: ignore[no-untyped-def]
    world = DigitalWorld()
    order_id = world.place_digital()
    world.downloads.issue(order_id)
    before = world.store.entitlement(f"{order_id}.d01")
    with pytest.raises(DownloadNotFound):
        world.downloads.click(forge(world.token(order_id)))
    assert world.store.entitlement(f"{order_id}.d01") == before


def test_an_expired_link_is_gone_with_link_expired() -> None:
    world = DigitalWorld()
    order_id = world.place_digital()
    world.downloads.issue(order_id)
    world.clock.advance(7 * 24 * 3600 + 1)
    with pytest.raises(DownloadGone) as refused:
        world.downloads.click(world.token(order_id))
    assert refused.value.code == "link_expired"


def test_reissue_revokes_the_old_link_and_announces_the_new_one() -> None:
    world = DigitalWorld()
    order_id = world.place_digital()
    world.downloads.issue(order_id)
    old = world.token(order_id)
    for _ in range(3):
        world.downloads.click(old)

    fresh = world.downloads.reissue(order_id, f"{order_id}.d01", downloads=None, ttl_seconds=None, by="ops")
    view = world.downloads.view(fresh, "https://api.test")
    assert view["url"].startswith("https://api.test/downloads/d1.")

    assert view["downloads_remaining"] == 3 and view["status"] == "active"
    with pytest.raises(DownloadGone) as refused:
        world.downloads.click(old)
    assert refused.value.code == "revoked"
    assert world.downloads.click(world.token(order_id)).entitlement.downloads_remaining == 2
    assert world.events(CustomerEvent.DOWNLOAD_READY) == [order_id, order_id]


def test_cancelling_revokes_and_resend_is_rate_limited() -> None:
    world = DigitalWorld()
    order_id = world.place_digital()
    world.downloads.issue(order_id)
    world.downloads.resend(order_id, token=None, admin=True)
    with pytest.raises(TooManyRequests):
        world.downloads.resend(order_id, token=None, admin=True)
    world.clock.advance(61)
    assert world.downloads.resend(order_id, token=None, admin=True)["resent"] == [f"{order_id}.d01"]

    assert world.downloads.revoke_order(order_id, "order_cancelled") is Outcome.APPLIED
    assert world.downloads.revoke_order(order_id, "order_cancelled") is Outcome.NOTHING_TO_DO
    with pytest.raises(DownloadGone) as refused:
        world.downloads.click(world.token(order_id))
    assert refused.value.code == "revoked"


def test_a_rotated_key_still_verifies_links_already_sent() -> None:
    old = tokens.download_token("o_x.d01", 1, "old-key")
    assert tokens.read_download_token(old, ["new-key", "old-key"]) == ("o_x.d01", 1)
    assert tokens.read_download_token(old, ["new-key"]) is None


def test_a_partial_refund_takes_its_units_downloads_and_a_full_one_revokes() -> None:
    granted = Entitlement.grant("o_x", 1, "EBOOK", 3, Asset("k", "k.pdf", max_downloads=2), T0.isoformat())
    used = replace(granted, downloads_remaining=5, downloads_served=1)
    partial = used.refund(1, T0.isoformat())
    assert (partial.allowance, partial.downloads_remaining, partial.revoked) == (4, 3, False)
    assert partial.refund(2, T0.isoformat()).refusal(T0.isoformat()) is Refusal.REVOKED


def test_served_plus_remaining_is_always_what_was_granted() -> None:
    world = DigitalWorld()
    order_id = world.place_digital()
    world.downloads.issue(order_id)
    token = world.token(order_id)
    world.downloads.click(token)
    world.downloads.reissue(order_id, f"{order_id}.d01", downloads=5, ttl_seconds=None, by="ops")
    world.downloads.click(world.token(order_id))
    entitlement = world.store.entitlement(f"{order_id}.d01")
    assert entitlement is not None
    assert (entitlement.downloads_served, entitlement.downloads_remaining, entitlement.granted) == (2, 4, 6)


def test_two_copies_of_the_grant_racing_grant_once_and_neither_fails() -> None:
    world = DigitalWorld()
    order_id = world.place_digital()
    # The other copy of the message commits between this one's read and its write.
    world.store.before_commit = lambda: world.downloads.issue(order_id)
    assert world.downloads.issue(order_id) in (Outcome.DUPLICATE, Outcome.NOTHING_TO_DO)
    assert len(world.store.entitlements) == 1
    assert world.events(CustomerEvent.DOWNLOAD_READY) == [order_id]


def test_a_refund_takes_its_units_downloads_and_refunding_all_revokes() -> None:
    from fulfillment.services.refunds import Refunds

    world = DigitalWorld()
    order_id = world.place_digital(quantity=2)
    order = world.order(order_id)
    world.store.orders[order_id] = replace(order, lines=(replace(order.lines[0], source_line_id="L1"),))
    world.downloads.issue(order_id)
    refunds = Refunds(world.store, clock=world.clock)

    assert refunds.record(order_id, "r-1", [("L1", 1)], note="one copy") is Outcome.RECORDED
    assert refunds.record(order_id, "r-1", [("L1", 1)], note="one copy") is Outcome.DUPLICATE
    entitlement = world.store.entitlement(f"{order_id}.d01")
    assert entitlement is not None and (entitlement.allowance, entitlement.downloads_remaining) == (3, 3)
    world.downloads.click(world.token(order_id))

    refunds.record(order_id, "r-2", [("L1", 1)], note=None)
    with pytest.raises(DownloadGone) as refused:
        world.downloads.click(world.token(order_id))
    assert refused.value.code == "revoked"
    assert refunds.record("o_unknown", "r-3", [("L1", 1)], note=None) is Outcome.UNMATCHED
