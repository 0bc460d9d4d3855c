"""The unit of work: the writes of one business step, committed in one call, with failures translated once.

Services add what a step decided (an order saved at the version it read, a stock move, a shipment that remembers
the message it applies, ...). `commit()` sends one conditional write when the step touches one
item and one TransactWriteItems when it touches several. A failed condition becomes the domain error its write
declared (`ConcurrentModification`, `InsufficientStock`, `AlreadyApplied`, `AlreadyExists`); nothing else in the
package sees a DynamoDB error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from fulfillment import keys
from fulfillment.adapters.aws import ddb_client
from fulfillment.adapters.codecs import entitlement as entitlement_codec
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.adapters.codecs import returns as rma_codec
from fulfillment.adapters.codecs import shipment as shipment_codec
from fulfillment.adapters.codecs import stock as stock_codec
from fulfillment.domain.entitlements import Entitlement
from fulfillment.domain.events import Entry
from fulfillment.domain.model import Order
from fulfillment.domain.returns import Rma
from fulfillment.domain.shipments import Shipment, ShipmentEvent
from fulfillment.domain.stock import Adjustment, Backorder, StockMove
from fulfillment.errors import (
    AlreadyApplied,
    AlreadyExists,
    ConcurrentModification,
    FulfillmentError,
    InsufficientStock,
    OrderOfAnotherShop,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MAX_TRANSACTION_ITEMS = 100
MESSAGE_MARKER_TTL_SECONDS = 35 * 24 * 3600
# When several writes of one transaction fail, the most telling reason wins. An item changed since it was read
# outranks a stock verdict: that verdict was reached from a stale read (a copy of the same message may have
# taken the units), so the step reads again rather than failing on it.
_PRECEDENCE: tuple[type[FulfillmentError], ...] = (
    AlreadyApplied,
    AlreadyExists,
    OrderOfAnotherShop,
    ConcurrentModification,
    InsufficientStock,
)


@dataclass
class Write:
    kind: str  # Put | Update | Delete | ConditionCheck
    body: dict[str, Any]
    error: Callable[[], FulfillmentError] = field(default=lambda: ConcurrentModification("item changed"))


def _expression(
    body: dict[str, Any], condition: str | None, values: dict[str, Any] | None, names: dict[str, str] | None
) -> None:
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = values
    if names:
        body["ExpressionAttributeNames"] = names


class DynamoUnitOfWork:
    def __init__(self, table_name: str, now_epoch: Callable[[], int]) -> None:
        self.table_name = table_name
        self.now_epoch = now_epoch
        self.writes: list[Write] = []
        # Counters kept on a SKU's catalog item, added up over the step and written as one update per SKU (a
        # transaction may touch an item once): units waiting as backorders. (Units available over all locations
        # are counted off the request path, by the event router: `DynamoStore.count_stock_changes`.)
        self.catalog_counters: dict[str, dict[str, int]] = {}
        self.expected_backlog: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.writes) + len(self.catalog_counters)

    def _count(self, sku: str, counter: str, delta: int) -> None:
        if delta:
            counters = self.catalog_counters.setdefault(sku, {})
            counters[counter] = counters.get(counter, 0) + delta

    # ------------------------------------------------------------------ building blocks
    def _put(
        self,
        item: dict[str, Any],
        error: Callable[[], FulfillmentError] | None = None,
        *,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        body: dict[str, Any] = {"Item": item}
        _expression(body, condition, values, None)
        self.writes.append(Write("Put", body, error or (lambda: ConcurrentModification("item changed"))))

    def _update(
        self,
        key: keys.Key,
        expression: str,
        error: Callable[[], FulfillmentError],
        *,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        body: dict[str, Any] = {"Key": key, "UpdateExpression": expression}
        _expression(body, condition, values, names)
        self.writes.append(Write("Update", body, error))

    def _delete(self, key: keys.Key, *, condition: str | None = None) -> None:
        body: dict[str, Any] = {"Key": key}
        _expression(body, condition, None, None)
        self.writes.append(Write("Delete", body, lambda: ConcurrentModification(f"{key} is gone")))

    # ------------------------------------------------------------------ orders and shipments
    def add_order(self, order: Order) -> None:
        """A new order: its state and its detail, both only if the order id is new."""
        for item in order_codec.creation_items(order):
            self._put(
                item, lambda: AlreadyExists(f"order {order.order_id} exists"), condition="attribute_not_exists(PK)"
            )

    def claim_platform_id(self, order: Order, platform_id: str) -> None:
        """The storefront's own global id of the order, for this order only (see fulfillment.shops)."""
        self._put(
            {
                **keys.platform_order_key(order.channel.value, platform_id),
                "type": "platform_order",
                "order_id": order.order_id,
                "shop": order.shop,
            },
            lambda: OrderOfAnotherShop(f"{order.channel.value} order {platform_id[:80]} belongs to another shop"),
            condition="attribute_not_exists(PK)",
        )

    def save_order(self, order: Order, *, expected_version: int, with_detail: bool = False) -> None:
        """The order's new state if nobody changed it since `expected_version`; its detail too when it changed."""
        self._put(
            order_codec.to_item(order),
            lambda: ConcurrentModification(f"order {order.order_id} changed since version {expected_version}"),
            condition="version = :expected",
            values={":expected": expected_version},
        )
        if with_detail:  # what changes is the first part's (customer, address); the lines' parts stay
            key, expression, values, names = order_codec.detail_update(order)
            self._update(
                key,
                expression,
                lambda: ConcurrentModification(f"order {order.order_id}'s detail"),
                values=values,
                names=names,
            )

    def add_shipment(self, shipment: Shipment) -> None:
        self._put(
            shipment_codec.to_item(shipment),
            lambda: ConcurrentModification(f"{shipment.shipment_id} exists"),
            condition="attribute_not_exists(PK)",
        )

    def save_shipment(
        self,
        shipment: Shipment,
        *,
        expected_version: int,
        changes: tuple[Entry, ...] = (),
        heard: ShipmentEvent | None = None,
    ) -> None:
        """The shipment's new state if nobody changed it since `expected_version`; `heard` is the message it
        applies (remembered on the shipment, so the version condition also makes the message count once)."""
        self._put(
            shipment_codec.to_item(shipment, changes, heard),
            lambda: ConcurrentModification(f"shipment {shipment.shipment_id} changed since version {expected_version}"),
            condition="version = :expected",
            values={":expected": expected_version},
        )

    def add_entitlement(self, entitlement: Entitlement) -> None:
        self._put(
            entitlement_codec.to_item(entitlement),
            lambda: AlreadyApplied(f"entitlement {entitlement.entitlement_id} was granted"),
            condition="attribute_not_exists(PK)",
        )

    def save_entitlement(self, entitlement: Entitlement, *, expected: Entitlement) -> None:
        """The entitlement's new state if its link and download count are still the ones read (a click in
        between makes the step read again, so an operator's change never loses a download)."""
        self._put(
            entitlement_codec.to_item(entitlement),
            lambda: ConcurrentModification(f"entitlement {entitlement.entitlement_id} changed"),
            condition="link_version = :v AND downloads_served = :s",
            values={":v": expected.link_version, ":s": expected.downloads_served},
        )

    def add_rma(self, rma: Rma) -> None:
        self._put(
            rma_codec.to_item(rma),
            # Its id is the order's next return number: taken means the order moved on, read it again.
            lambda: ConcurrentModification(f"return {rma.rma_id} exists"),
            condition="attribute_not_exists(PK)",
        )

    def save_rma(self, rma: Rma, *, expected_version: int) -> None:
        self._put(
            rma_codec.to_item(rma),
            lambda: ConcurrentModification(f"return {rma.rma_id} changed since version {expected_version}"),
            condition="version = :expected",
            values={":expected": expected_version},
        )

    def mark(self, source: str, message_id: str, kind: str) -> None:
        """A message that is not about one shipment was applied (TTL: 35 days)."""
        self._put(
            {
                **keys.message_key(source, message_id),
                "type": "message",
                "kind": kind,
                "expires_at": self.now_epoch() + MESSAGE_MARKER_TTL_SECONDS,
            },
            lambda: AlreadyApplied(f"{source} message {message_id[:80]} was applied"),
            condition="attribute_not_exists(PK)",
        )

    def point_tracking(self, carrier: str, tracking_number: str, shipment_id: str, *, kept: int) -> None:
        """Point the number at the shipment, if no carrier update was kept on it since the `kept` ones read (an
        update kept meanwhile makes the step read again, and replay it)."""
        write = shipment_codec.point_at(carrier, tracking_number, shipment_id, kept)
        self._update(
            keys.tracking_key(carrier, tracking_number),
            write.expression,
            lambda: ConcurrentModification(f"an update was kept for {carrier} {tracking_number[:40]} meanwhile"),
            condition=write.condition,
            values=write.values,
            names=write.names,
        )

    # ------------------------------------------------------------------ the sweep
    def mark_swept(self, order: Order, now: str) -> None:
        """The sweep re-queued the order's work: counted on its state item, only if the order has not moved since
        it was read. Not part of the order's state: the next change of the order (a Put) clears it."""
        self._update(
            keys.order_key(order.order_id),
            "SET swept_at = :now ADD sweeps :one",
            lambda: ConcurrentModification(f"order {order.order_id} moved"),
            condition="version = :v",
            values={":now": now, ":one": 1, ":v": order.version},
        )

    def set_sweep_cursor(self, status: str, shard: int, after: str) -> None:
        self._put({**keys.sweep_cursor_key(status, shard), "type": "sweep_cursor", "after": after})

    # ------------------------------------------------------------------ stock
    def move_stock(self, move: StockMove, now: str) -> None:
        """One conditional update of a stock item (reservations need `available`, the rest need `reserved`);
        a write-off also writes its audit item, once."""
        if move.audit is not None:
            audit = move.audit
            self._put(
                stock_codec.adjustment_item(audit),
                lambda: AlreadyApplied(f"adjustment {audit.adjustment_id} applied"),
                condition="attribute_not_exists(PK)",
            )
        update = stock_codec.move_update(move, now)
        self._update(
            keys.stock_key(move.sku, move.location, move.shard),
            update.expression,
            lambda: InsufficientStock(f"not enough {move.sku} at {move.location} for {move}"),
            condition=update.condition,
            values=update.values,
            names=update.names,
        )

    def audit(self, adjustment: Adjustment) -> None:
        """An audit record alone (a loss that changes no level: units that left as shipped and came back broken)."""
        self._put(
            stock_codec.adjustment_item(adjustment),
            lambda: AlreadyApplied(f"adjustment {adjustment.adjustment_id} was already recorded"),
            condition="attribute_not_exists(PK)",
        )

    def adjust_stock(self, adjustment: Adjustment, *, expected_on_hand: int | None = None) -> None:
        """Change on_hand by `delta`, audited, exactly once per adjustment id (the audit item is the marker).
        With `expected_on_hand`, only if the level is still the one read (PUT semantics)."""
        self._put(
            stock_codec.adjustment_item(adjustment),
            lambda: AlreadyApplied(f"adjustment {adjustment.adjustment_id} was already applied"),
            condition="attribute_not_exists(PK)",
        )
        update = stock_codec.adjustment_update(adjustment, expected_on_hand)
        where = f"{adjustment.sku} at {adjustment.location}"
        error: Callable[[], FulfillmentError] = (
            (lambda: InsufficientStock(f"removing {-adjustment.delta} would take reserved units of {where}"))
            if expected_on_hand is None
            else (lambda: ConcurrentModification(f"stock of {where} changed since it was read"))
        )
        self._update(
            keys.stock_key(adjustment.sku, adjustment.location),
            update.expression,
            error,
            condition=update.condition,
            values=update.values,
            names=update.names,
        )

    def put_catalog(self, sku: str, fields: dict[str, Any], now: str) -> None:
        """Create or replace a catalog entry's fields; the backorder counter is kept."""
        update = stock_codec.catalog_update(sku, fields, now)
        self._update(
            keys.catalog_key(sku),
            update.expression,
            lambda: ConcurrentModification("catalog"),
            names=update.names,
            values=update.values,
        )

    def backlog(self, sku: str, delta: int) -> None:
        """Units of a SKU waiting as backorders, kept on its catalog item (FIFO fairness for new orders)."""
        self._count(sku, "backordered_units", delta)

    def expect_backlog(self, sku: str, units: int) -> None:
        """Commit only if the SKU's backorder queue still holds the `units` read (before this step's own change):
        a line queued meanwhile - an older order's among them - makes the step read the queue again."""
        self.expected_backlog[sku] = units

    def queue_backorder(self, backorder: Backorder) -> None:
        self._update(
            keys.backorder_key(backorder.sku, backorder.queued_at, backorder.order_id, backorder.line_no),
            "SET order_id = :o, line_no = :n, sku = :s, #type = :t ADD quantity :q",
            lambda: ConcurrentModification("backorder"),
            values={
                ":o": backorder.order_id,
                ":n": backorder.line_no,
                ":s": backorder.sku,
                ":t": "backorder",
                ":q": backorder.quantity,
            },
            names={"#type": "type"},
        )

    def settle_backorder(self, backorder: Backorder, remaining: int) -> None:
        key = keys.backorder_key(backorder.sku, backorder.queued_at, backorder.order_id, backorder.line_no)
        if remaining <= 0:
            self._delete(key)
        else:
            self._update(
                key, "SET quantity = :q", lambda: ConcurrentModification("backorder"), values={":q": remaining}
            )

    # ------------------------------------------------------------------ commit
    def _catalog_writes(self) -> None:
        for sku in sorted(set(self.catalog_counters) | set(self.expected_backlog)):
            changed = {name: delta for name, delta in self.catalog_counters.get(sku, {}).items() if delta}
            expected = self.expected_backlog.get(sku)
            if not changed and expected is None:
                continue
            names = {f"#c{i}": name for i, name in enumerate(changed)}
            values: dict[str, Any] = {f":c{i}": delta for i, delta in enumerate(changed.values())}
            condition = None
            if expected is not None:
                names["#b"] = "backordered_units"
                values[":b"] = expected
                condition = "#b = :b" if expected else "attribute_not_exists(#b) OR #b = :b"
            error = lambda sku=sku: ConcurrentModification(f"catalog {sku} changed")  # noqa: E731
            if not changed:
                self.writes.append(
                    Write(
                        "ConditionCheck",
                        {
                            "Key": keys.catalog_key(sku),
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        },
                        error,
                    )
                )
                continue
            expression = "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(changed)))
            self._update(keys.catalog_key(sku), expression, error, condition=condition, values=values, names=names)
        self.catalog_counters = {}
        self.expected_backlog = {}

    def commit(self) -> None:
        self._catalog_writes()
        if not self.writes:
            return
        if len(self.writes) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"{len(self.writes)} writes exceed a transaction's {MAX_TRANSACTION_ITEMS}")
        client = ddb_client()
        try:
            if len(self.writes) == 1:
                write = self.writes[0]
                if write.kind == "ConditionCheck":
                    return  # a check with nothing to write: nothing to commit
                call: dict[str, Callable[..., object]] = {
                    "Put": client.put_item,
                    "Update": client.update_item,
                    "Delete": client.delete_item,
                }
                call[write.kind](TableName=self.table_name, **write.body)
            else:
                # Each write is {kind: body} built from plain dicts, which the stubs' TypedDicts cannot follow.
                items = [{w.kind: {"TableName": self.table_name, **w.body}} for w in self.writes]
                client.transact_write_items(TransactItems=cast("list[TransactWriteItemTypeDef]", items))
        except ClientError as exc:
            raise self._translate(exc) from None
        finally:
            self.writes = []

    def _translate(self, exc: ClientError) -> Exception:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ConditionalCheckFailedException":
            return self.writes[0].error()
        if code != "TransactionCanceledException":
            return exc
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        failed = [self.writes[i].error() for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"]
        if failed:
            return min(
                failed,
                key=lambda e: next((n for n, cls in enumerate(_PRECEDENCE) if isinstance(e, cls)), len(_PRECEDENCE)),
            )
        if any(r in ("TransactionConflict", "ThrottlingError") for r in reasons):
            return ConcurrentModification("a concurrent transaction touched the same items")
        return exc
