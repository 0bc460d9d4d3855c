"""The sweep for stalled work: orders whose trigger may have been lost (a stream batch that exhausted its retries,
a message that went to a DLQ), found by the status index and given their due work again.

It makes progress through any number of stalled orders: each run reads the next page of each status (a cursor
item remembers where the last page ended; the end starts over from the oldest), an order is re-queued at most once
per `SWEEP_AFTER_SECONDS`, and an order that still has not moved after `MAX_SWEEPS` re-queues (or has no work due
at all: nothing could ever move it) gets the `stalled` hold for a person instead of being swept forever.

What is due is what the event router would send for the order as it stands (its rules, run on the order with no
previous image): one definition of "what an order needs next". Every work message is idempotent, so sweeping
an order that was merely slow costs one no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel

from fulfillment import keys, router
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.config import Settings
from fulfillment.contracts.messages import ExpireUnpaid
from fulfillment.domain.model import Order
from fulfillment.domain.values import Hold, OrderStatus
from fulfillment.errors import ConcurrentModification
from fulfillment.services.ports import Store, UnitOfWork
from fulfillment.services.unit import apply_once

SWEEP_LIMIT = 50  # orders read per status list (a status's index shard) and run
MAX_SWEEPS = 6  # re-queues without progress before the order is held for a person
STALLED_STATUSES = (OrderStatus.RECEIVED, OrderStatus.RESERVED)

Work = tuple[str, BaseModel]  # (queue url, message)


@dataclass
class SweepResult:
    work: list[Work] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # orders that got the stalled hold


def work_due(order: Order, settings: Settings) -> list[Work]:
    """The work messages the router's rules call for, for the order as it is now (history and events aside)."""
    item = {k: v for k, v in order_codec.to_item(order).items() if k != "changes"}
    routed = router.route(keys.ORDER_SK, item, None)
    return (
        [(str(settings.reservation_queue_url), m) for m in routed.messages]
        + [(str(settings.dispatch_queue_url), m) for m in routed.dispatch]
        + [(str(settings.digital_queue_url), m) for m in routed.digital]
    )


class Sweeper:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def run(self, now: datetime) -> SweepResult:
        result = SweepResult()
        cutoff = (now - timedelta(seconds=self.settings.sweep_after_seconds)).isoformat()
        for status in STALLED_STATUSES:
            self._stalled(status, cutoff, now.isoformat(timespec="microseconds"), result)
        # Orders held since before the unpaid expiry may have waited for their payment too long.
        expiry_cutoff = (now - timedelta(seconds=self.settings.unpaid_expiry_seconds)).isoformat()
        for order, _, _ in self._page(OrderStatus.ON_HOLD, expiry_cutoff):
            if Hold.AWAITING_PAYMENT.value in order.holds:
                result.work.append((str(self.settings.reservation_queue_url), ExpireUnpaid(order_id=order.order_id)))
        return result

    def _page(self, status: OrderStatus, cutoff: str) -> list[tuple[Order, int, str | None]]:
        """The next page of orders in `status` created before `cutoff`, from each of its index shards; each shard's
        cursor moves on (or starts over)."""
        found: list[tuple[Order, int, str | None]] = []
        for shard, after in enumerate(self.store.sweep_cursors(status.value)):
            page, next_after = self.store.stalled_orders(status.value, shard, cutoff, after, SWEEP_LIMIT)
            if next_after != after:
                uow = self.store.unit()
                uow.set_sweep_cursor(status.value, shard, next_after)
                uow.commit()
            found += [entry for entry in page if entry[0].status is status]  # others moved on since the index read
        return found

    def _stalled(self, status: OrderStatus, cutoff: str, now: str, result: SweepResult) -> None:
        for order, sweeps, swept_at in self._page(status, cutoff):
            due = work_due(order, self.settings)
            if not due or sweeps >= MAX_SWEEPS:
                why = (
                    f"its work was queued {sweeps} times and it is still {status.value}"
                    if due
                    else f"it is {status.value} with no work due"
                )
                if self._hold(order, why, now):
                    result.held.append(order.order_id)
                continue
            if swept_at is not None and swept_at > cutoff:
                continue  # re-queued less than SWEEP_AFTER_SECONDS ago: give that a chance
            uow = self.store.unit()
            uow.mark_swept(order, now)
            try:
                uow.commit()
            except ConcurrentModification:
                continue  # it moved meanwhile
            result.work += due

    def _hold(self, order: Order, why: str, now: str) -> bool:
        def step(uow: UnitOfWork) -> bool:
            current = self.store.order(order.order_id)
            if current is None or current.status is not order.status or current.version != order.version:
                return False  # it moved: not stalled after all
            held = current.begin(now).place_hold(Hold.STALLED, why)
            uow.save_order(held, expected_version=current.version)
            return True

        return apply_once(self.store, step, what=f"hold stalled {order.order_id}")
