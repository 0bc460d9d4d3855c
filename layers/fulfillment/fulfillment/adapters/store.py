"""Reads of the single table, returning domain objects (never raw items), and the unit of work's factory.

Every read is a GetItem, a BatchGetItem or a Query on a designed key (docs/data-model.md): no Scan.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.conditions import ConditionBase
from boto3.dynamodb.conditions import Key as K
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from fulfillment import keys
from fulfillment.adapters.aws import ddb_client, table
from fulfillment.adapters.codecs import entitlement as entitlement_codec
from fulfillment.adapters.codecs import order as order_codec
from fulfillment.adapters.codecs import returns as rma_codec
from fulfillment.adapters.codecs import shipment as shipment_codec
from fulfillment.adapters.codecs import stock as stock_codec
from fulfillment.adapters.uow import MESSAGE_MARKER_TTL_SECONDS, DynamoUnitOfWork
from fulfillment.domain.entitlements import Entitlement
from fulfillment.domain.model import Order
from fulfillment.domain.returns import Rma
from fulfillment.domain.shipments import KeptUpdates, Shipment, ShipmentEvent
from fulfillment.domain.stock import Adjustment, Backorder, CatalogItem, StockLevel
from fulfillment.errors import BadRequest, ConcurrentModification

if TYPE_CHECKING:
    from fulfillment.services.ports import UnitOfWork

BATCH_GET_LIMIT = 100
FILTER_BUDGET = 500  # orders a page of a status without a list of its own may read (GET /orders?status=shipped)
Item = dict[str, Any]


COUNT_ATTEMPTS = 8  # rounds of counting a batch of stock changes against racing batches of the same SKU


class DynamoStore:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def unit(self) -> UnitOfWork:
        return DynamoUnitOfWork(self.table_name, lambda: int(time.time()))

    # ------------------------------------------------------------------ helpers
    def _get(self, key: dict[str, str], consistent: bool = True) -> Item | None:
        item: Item | None = table().get_item(Key=key, ConsistentRead=consistent).get("Item")
        return item

    def _query(self, **kwargs: Any) -> list[Item]:
        items: list[Item] = []
        while True:
            page = table().query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch_get(self, key_list: list[dict[str, str]]) -> list[Item]:
        """BatchGetItem with consistent reads, chunked and with unprocessed keys retried."""
        found: list[Item] = []
        unique = list({(k["PK"], k["SK"]): k for k in key_list}.values())
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table_name: {"Keys": unique[start : start + BATCH_GET_LIMIT], "ConsistentRead": True}
            }
            for _ in range(8):
                response = ddb_client().batch_get_item(RequestItems=request)
                found += response.get("Responses", {}).get(self.table_name, [])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    # ------------------------------------------------------------------ orders
    def order(self, order_id: str) -> Order | None:
        """The order's state and detail in one Query (SK from ORDER to ORDER#DETAIL)."""
        return order_codec.from_items(
            self._query(
                KeyConditionExpression=K("PK").eq(keys.order_partition(order_id))
                & K("SK").between(keys.ORDER_SK, keys.ORDER_DETAIL_END),
                ConsistentRead=True,
            )
        )

    def order_with_shipments(self, order_id: str) -> tuple[Order | None, list[Shipment]]:
        """The order and its shipments in one Query (SK from ORDER to SHIP#~: no timeline, no events)."""
        items = self._query(
            KeyConditionExpression=K("PK").eq(keys.order_partition(order_id))
            & K("SK").between(keys.ORDER_SK, keys.SHIPMENT_PREFIX + "\U0010ffff"),
            ConsistentRead=True,
        )
        return order_codec.from_items(items), [
            shipment_codec.from_item(i) for i in items if shipment_codec.is_shipment(i)
        ]

    def order_and_entitlements(self, order_id: str) -> tuple[Order | None, list[Entitlement]]:
        """The order and its download entitlements in one Query (SK from ORDER to ORDER#DL#~)."""
        items = self._query(
            KeyConditionExpression=K("PK").eq(keys.order_partition(order_id))
            & K("SK").between(keys.ORDER_SK, keys.ENTITLEMENT_PREFIX + "\U0010ffff"),
            ConsistentRead=True,
        )
        return order_codec.from_items(items), [
            entitlement_codec.from_item(i) for i in items if entitlement_codec.is_entitlement(i)
        ]

    def returns_context(self, order_id: str) -> tuple[Order | None, list[Shipment], list[Rma]]:
        """The order, its shipments and its returns in one Query (SK from ORDER to SHIP#~)."""
        items = self._query(
            KeyConditionExpression=K("PK").eq(keys.order_partition(order_id))
            & K("SK").between(keys.ORDER_SK, keys.SHIPMENT_PREFIX + "\U0010ffff"),
            ConsistentRead=True,
        )
        return (
            order_codec.from_items(items),
            [shipment_codec.from_item(i) for i in items if shipment_codec.is_shipment(i)],
            [rma_codec.from_item(i) for i in items if rma_codec.is_rma(i)],
        )

    def rma_and_order(self, rma_id: str) -> tuple[Order | None, Rma | None]:
        order_id = keys.order_id_of_rma(rma_id)
        items = self._batch_get([keys.rma_key(rma_id), keys.order_key(order_id), keys.order_detail_key(order_id)])
        rma = next((rma_codec.from_item(i) for i in items if rma_codec.is_rma(i)), None)
        return order_codec.from_items(self._rest_of_detail(order_id, items)), rma

    def _rest_of_detail(self, order_id: str, items: list[Item]) -> list[Item]:
        """A read by key got the state and the first part of the detail: a very big order has more parts."""
        state = next((i for i in items if order_codec.is_order(i)), None)
        parts = int(state.get("detail_parts", 1)) if state else 1
        if parts <= 1:
            return items
        return items + self._batch_get([keys.order_detail_key(order_id, n) for n in range(2, parts + 1)])

    def entitlement(self, entitlement_id: str) -> Entitlement | None:
        item = self._get(keys.entitlement_key(entitlement_id))
        return entitlement_codec.from_item(item) if item else None

    def take_download(self, entitlement_id: str, link_version: int, now: str) -> tuple[bool, Entitlement | None]:
        """Count one download with one conditional update and no read. (True, after) when it was counted;
        (False, as it stood) when the condition refused it — the item comes back with the refusal, so
        explaining it costs no read either; (False, None) when there is no such entitlement."""
        update = entitlement_codec.take_download(
            entitlement_id, link_version, int(datetime.fromisoformat(now).timestamp()), now
        )
        try:
            response = ddb_client().update_item(
                TableName=self.table_name,
                Key=update.key,
                UpdateExpression=update.expression,
                ConditionExpression=update.condition,
                ExpressionAttributeValues=update.values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            return False, entitlement_codec.from_item(_plain(old)) if old else None
        return True, entitlement_codec.from_item(response["Attributes"])

    def partition(self, order_id: str) -> list[Item]:
        """Every item of the order (order, shipments, their events, timeline) for the order view."""
        return self._query(KeyConditionExpression=K("PK").eq(keys.order_partition(order_id)))

    def sweep_cursors(self, status: str) -> list[str]:
        """Where the sweep of each of the status's lists (index shards) got to: the index sort key of the last order
        it read ("" = start). One BatchGetItem."""
        cursor_keys = [keys.sweep_cursor_key(status, shard) for shard in range(keys.STATUS_SHARDS)]
        found = {(i["PK"], i["SK"]): str(i.get("after") or "") for i in self._batch_get(cursor_keys)}
        return [found.get((k["PK"], k["SK"]), "") for k in cursor_keys]

    def stalled_orders(
        self, status: str, shard: int, cutoff: str, after: str, limit: int
    ) -> tuple[list[tuple[Order, int, str | None]], str]:
        """A page of (order, times swept, last swept at) in one status list, created before `cutoff`, oldest first,
        after the index entry `after`; and where the next page starts ("" when this one reached the end)."""
        partition = keys.status_index_partition(status, shard)
        kwargs: dict[str, Any] = {
            "IndexName": keys.STATUS_INDEX,
            "KeyConditionExpression": K("GSI1PK").eq(partition) & K("GSI1SK").lt(cutoff),
            "Limit": limit,
        }
        if after and after < cutoff:
            kwargs["ExclusiveStartKey"] = keys.status_index_position(after, status)
        page = table().query(**kwargs)
        last = page.get("LastEvaluatedKey")
        ids = [str(i["order_id"]) for i in page.get("Items", [])]
        items = self._batch_get([keys.order_key(order_id) for order_id in ids]) if ids else []
        found = {str(i["order_id"]): i for i in items}
        orders = [
            (order_codec.from_item(found[i]), int(found[i].get("sweeps", 0)), found[i].get("swept_at"))
            for i in ids
            if i in found
        ]
        return orders, str(last["GSI1SK"]) if last else ""

    def list_by_status(self, status: str, *, limit: int, cursor: str | None) -> tuple[list[Item], str | None]:
        """Orders in `status`, newest first. A listed status (keys.LISTED_STATUSES) is a page from each of its index
        shards, merged by creation; any other is read from the list of every order and filtered, at most
        `FILTER_BUDGET` orders a page - a page may then hold fewer than `limit` orders and still have a cursor."""
        below = _decode_cursor(cursor, status) if cursor else None
        if status in keys.LISTED_STATUSES:
            items, more = _newest_first(keys.status_index_partitions(status), limit, below)
            return items, _cursor({"status": status, "below": items[-1]["GSI1SK"]}) if more and items else None
        found: list[Item] = []
        examined = 0
        while len(found) < limit and examined < FILTER_BUDGET:
            # A full batch read at a time (not `limit`: a page of 1 would otherwise cost a round trip per order read)
            entries, more = _newest_first(
                keys.order_list_partitions(), BATCH_GET_LIMIT, below, index=keys.ORDER_LIST_INDEX
            )
            if not entries:
                return found, None
            states = self._order_states(entries)
            examined += len(entries)
            for entry, state in zip(entries, states, strict=True):
                below = str(entry["GSI2SK"])
                if state is not None and state.get("status") == status:
                    found.append(state)
                    if len(found) == limit:
                        more = more or entry is not entries[-1]
                        break
            if not more:
                return found, None
        return found, _cursor({"status": status, "below": below or ""})

    def list_all(self, *, limit: int, cursor: str | None) -> tuple[list[Item], str | None]:
        """Every order, newest first: a page from each shard of the list of every order (GSI2, keys only), merged by
        creation, then their state items. The cursor is the sort key of the last order returned."""
        below = _decode_all_cursor(cursor) if cursor else None
        entries, more = _newest_first(keys.order_list_partitions(), limit, below, index=keys.ORDER_LIST_INDEX)
        items = [state for state in self._order_states(entries) if state is not None]
        return items, _cursor({"below": entries[-1]["GSI2SK"]}) if more and entries else None

    def _order_states(self, entries: list[Item]) -> list[Item | None]:
        """The state items of index entries (one BatchGetItem), in the entries' order."""
        if not entries:
            return []
        found = {(i["PK"], i["SK"]): i for i in self._batch_get([{"PK": e["PK"], "SK": e["SK"]} for e in entries])}
        return [found.get((e["PK"], e["SK"])) for e in entries]

    # ------------------------------------------------------------------ shipments
    def shipment(self, shipment_id: str) -> Shipment | None:
        item = self._get(keys.shipment_key(shipment_id))
        return shipment_codec.from_item(item) if item else None

    def shipment_and_order(self, shipment_id: str) -> tuple[Shipment | None, Order | None]:
        """One BatchGetItem: the shipment a message names and its order."""
        order_id = keys.order_id_of_shipment(shipment_id)
        items = self._batch_get(
            [keys.shipment_key(shipment_id), keys.order_key(order_id), keys.order_detail_key(order_id)]
        )
        shipment = next((shipment_codec.from_item(i) for i in items if shipment_codec.is_shipment(i)), None)
        return shipment, order_codec.from_items(self._rest_of_detail(order_id, items))

    def shipment_events(self, shipment_id: str) -> list[ShipmentEvent]:
        """What was said about a shipment, oldest first (consistent: a scan recorded a moment ago counts)."""
        items = self._query(
            KeyConditionExpression=K("PK").eq(keys.order_partition(keys.order_id_of_shipment(shipment_id)))
            & K("SK").begins_with(keys.shipment_events_prefix(shipment_id)),
            ConsistentRead=True,
        )
        return sorted((shipment_codec.event_from_item(i) for i in items), key=lambda e: e.at)

    def has_event(self, shipment_id: str, source: str, message_id: str) -> bool:
        """Whether the event item of a message exists (written by the event router from the shipment write, or by
        `record_event`)."""
        return self._get(keys.shipment_event_key(shipment_id, source, message_id)) is not None

    def record_event(self, event: ShipmentEvent) -> bool:
        """Store a scan as its event item, once: one conditional PutItem keyed by the message, no read. False when
        the message was recorded before (its item exists)."""
        try:
            table().put_item(Item=shipment_codec.event_to_item(event), ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def by_tracking(self, carrier: str, tracking_number: str, *, consistent: bool = False) -> str | None:
        item = self._get(keys.tracking_key(carrier, tracking_number), consistent=consistent)
        # The item also exists before any shipment claims the number, holding the updates kept for it.
        return str(item["shipment_id"]) if item and "shipment_id" in item else None

    def shipped_context(
        self, shipment_id: str, carrier: str, tracking_number: str
    ) -> tuple[Shipment | None, Order | None, KeptUpdates]:
        """One BatchGetItem: the shipment a `shipped` names, its order, and the updates kept for its number."""
        order_id = keys.order_id_of_shipment(shipment_id)
        pointer_key = keys.tracking_key(carrier, tracking_number)
        items = self._batch_get(
            [keys.shipment_key(shipment_id), keys.order_key(order_id), keys.order_detail_key(order_id), pointer_key]
        )
        shipment = next((shipment_codec.from_item(i) for i in items if shipment_codec.is_shipment(i)), None)
        pointer = next((i for i in items if (i["PK"], i["SK"]) == (pointer_key["PK"], pointer_key["SK"])), None)
        rest = [i for i in items if i is not pointer]
        return (
            shipment,
            order_codec.from_items(self._rest_of_detail(order_id, rest)),
            shipment_codec.kept_updates(pointer),
        )

    def keep_early(self, carrier: str, tracking_number: str, event_id: str, update: dict[str, Any]) -> str | None:
        """Keep a carrier update for a number no shipment claims yet, in one conditional update and no read:
        None when it was kept; the shipment's id when one claims the number (it comes back with the refusal)."""
        # Kept as long as a message marker: an update for a number no shipment ever claims is not kept forever.
        write = shipment_codec.keep_early(
            carrier, tracking_number, event_id, update, int(time.time()) + MESSAGE_MARKER_TTL_SECONDS
        )
        try:
            table().update_item(
                Key=keys.tracking_key(carrier, tracking_number),
                UpdateExpression=write.expression,
                ConditionExpression=write.condition,
                ExpressionAttributeValues=write.values,
                ExpressionAttributeNames=write.names,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
            if old:
                return str(_plain(old)["shipment_id"])  # type: ignore[arg-type]
            return self.by_tracking(carrier, tracking_number, consistent=True)
        return None

    def picklist(self, location: str, limit: int = 100) -> list[Shipment]:
        response = table().query(
            IndexName=keys.STATUS_INDEX,
            KeyConditionExpression=K("GSI1PK").eq(keys.picklist_partition(location, "accepted")),
            Limit=limit,
        )
        ids = [str(i["shipment_id"]) for i in response.get("Items", [])]
        items = self._batch_get([keys.shipment_key(s) for s in ids])
        return [shipment_codec.from_item(i) for i in items if shipment_codec.is_shipment(i)]

    def due(self, now: str, limit: int = 1000) -> list[str]:
        """Shipment ids whose timer is due, from every shard of the sparse timer index, oldest first."""
        ids: list[str] = []
        for partition in keys.timer_partitions():
            kwargs: dict[str, Any] = {
                "IndexName": keys.TIMER_INDEX,
                "KeyConditionExpression": K("GSI2PK").eq(partition) & K("GSI2SK").lte(f"{now}#~"),
            }
            while True:
                response = table().query(**kwargs)
                ids += [keys.shipment_id_of_key(str(i["SK"])) for i in response.get("Items", [])]
                if "LastEvaluatedKey" not in response or len(ids) >= limit * keys.TIMER_SHARDS:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return ids

    # ------------------------------------------------------------------ stock and catalog
    def catalog(self, skus: Iterable[str]) -> dict[str, CatalogItem]:
        wanted = sorted({s for s in skus if s})
        if not wanted:
            return {}
        return {
            i["sku"]: stock_codec.catalog_from_item(i) for i in self._batch_get([keys.catalog_key(s) for s in wanted])
        }

    def intake_context(self, order_id: str, skus: Iterable[str]) -> tuple[bool, dict[str, CatalogItem]]:
        """Whether the order is stored already, and the catalog entries of its SKUs: one BatchGetItem. A delivery
        of a stored order then goes straight to the update, instead of paying for a creating transaction that fails.
        """
        wanted = sorted({s for s in skus if s})
        found = self._batch_get([keys.order_key(order_id)] + [keys.catalog_key(s) for s in wanted])
        exists = any(item["SK"] == keys.ORDER_SK for item in found)
        catalog = {i["sku"]: stock_codec.catalog_from_item(i) for i in found if i["SK"] == keys.CATALOG_SK}
        return exists, catalog

    def count_stock_changes(self, sku: str, changes: list[stock_codec.StockChange]) -> int | None:
        """Count a batch of stream-observed changes of a SKU's stock items into its catalog item's units available
        over all locations, each change once (the router's job: a reservation's transaction does not touch the
        SKU's catalog item, which a flash sale would make the hottest item of the table). Returns the SKU's units
        waiting as backorders, as the catalog item said after the count (None: not known)."""
        applied: dict[str, int] | None = None
        backlog: int | None = None
        for _ in range(COUNT_ATTEMPTS):
            update = stock_codec.total_update(changes, applied)
            if update is None:
                return backlog
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "Key": keys.catalog_key(sku),
                "UpdateExpression": update.expression,
                "ExpressionAttributeValues": update.values,
                "ReturnValues": "ALL_NEW",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                **({"ConditionExpression": update.condition} if update.condition else {}),
                **({"ExpressionAttributeNames": update.names} if update.names else {}),
            }
            try:  # the client, not the table resource: the router counts several SKUs at once, in threads
                return _backlog(ddb_client().update_item(**request).get("Attributes"))
            except ClientError as exc:  # counted already (a redelivery), in part, or by a racing batch
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # The catalog as it stood comes back with the refusal (an error's payload: still typed). A refusal
                # always has one: the condition holds for an item that does not exist.
                found = _plain(cast("dict[str, Any]", exc.response.get("Item") or {}))
                applied, backlog = stock_codec.applied_versions(found), _backlog(found)
        raise ConcurrentModification(f"catalog {sku}: stock totals still contended after {COUNT_ATTEMPTS} attempts")

    def catalog_item(self, sku: str) -> CatalogItem | None:
        item = self._get(keys.catalog_key(sku))
        return stock_codec.catalog_from_item(item) if item else None

    def stock_and_catalog(
        self, skus: Iterable[str], locations: Iterable[str]
    ) -> tuple[dict[tuple[str, str], StockLevel], dict[str, CatalogItem]]:
        """Levels of every (sku, location) that exists and the SKUs' catalog entries: one BatchGetItem per 100."""
        _, levels, catalog = self._order_and_stock(None, skus, locations)
        return levels, catalog

    def order_and_stock(
        self, order_id: str, skus: Iterable[str], locations: Iterable[str]
    ) -> tuple[Order | None, dict[tuple[str, str], StockLevel], dict[str, CatalogItem]]:
        """An order with the levels and catalog entries of SKUs named beforehand (a reservation's message says
        them): one BatchGetItem instead of a Query of the order and then one of its stock."""
        return self._order_and_stock(order_id, skus, locations)

    def _order_and_stock(
        self, order_id: str | None, skus: Iterable[str], locations: Iterable[str]
    ) -> tuple[Order | None, dict[tuple[str, str], StockLevel], dict[str, CatalogItem]]:
        wanted = sorted({s for s in skus if s})
        locations = list(locations)
        request = [keys.order_key(order_id), keys.order_detail_key(order_id)] if order_id else []
        request += [keys.catalog_key(s) for s in wanted] + [keys.stock_key(s, loc) for s in wanted for loc in locations]
        if not request:
            return None, {}, {}
        levels: dict[tuple[str, str], StockLevel] = {}
        catalog: dict[str, CatalogItem] = {}
        order_items: list[Item] = []
        for item in self._batch_get(request):
            if item.get("type") == "catalog":
                catalog[item["sku"]] = stock_codec.catalog_from_item(item)
            elif item.get("type") == "stock":
                levels[(item["sku"], item["location"])] = stock_codec.level_from_item(
                    item, item["sku"], item["location"]
                )
            else:
                order_items.append(item)
        order = order_codec.from_items(self._rest_of_detail(order_id, order_items)) if order_id else None
        return order, levels, catalog

    def stock_shards(self, wanted: Mapping[tuple[str, str], Iterable[int]]) -> dict[tuple[str, str, int], StockLevel]:
        """Items of sharded levels, by (sku, location, shard): the ones that exist among those asked for."""
        request = [keys.stock_key(sku, loc, n) for (sku, loc), shards in wanted.items() for n in shards if n]
        found: dict[tuple[str, str, int], StockLevel] = {}
        for item in self._batch_get(request) if request else []:
            level = stock_codec.level_from_item(item, item["sku"], item["location"])
            found[(level.sku, level.location, level.shard)] = level
        return found

    def _summed(self, base: StockLevel) -> StockLevel:
        """A level over every item it is kept on (read together again, only for a sharded level)."""
        return base if base.shards <= 1 else self.counted_level(base.sku, base.location)[0]

    def level(self, sku: str, location: str) -> StockLevel:
        return self.counted_level(sku, location)[0]

    def counted_level(self, sku: str, location: str) -> tuple[StockLevel, int | None]:
        """The level and its base item's own on_hand, read together (what a count writes against: the base item's
        on_hand is its write's condition). A sharded level's items in one TransactGetItems: separate reads could
        straddle a rebalance and see units twice or not at all."""
        for _ in range(COUNT_ATTEMPTS):
            base = self.base_level(sku, location)
            if base.shards <= 1:
                return base, base.on_hand if base.exists else None
            wanted = [keys.stock_key(sku, location, n) for n in range(base.shards)]
            response = ddb_client().transact_get_items(
                TransactItems=[{"Get": {"TableName": self.table_name, "Key": key}} for key in wanted]
            )
            items = [r.get("Item") for r in response["Responses"]]
            now = stock_codec.level_from_item(items[0], sku, location)
            if now.shards != base.shards:
                continue  # re-sharded between the two reads
            total = replace(now, shard=0)
            for item in items[1:]:
                if item:
                    total = total.plus(stock_codec.level_from_item(item, sku, location))
            return total, now.on_hand
        raise ConcurrentModification(f"stock of {sku} at {location} kept being re-sharded")

    def base_level(self, sku: str, location: str) -> StockLevel:
        """The base item alone (a sharded level's own conditions are on it)."""
        return stock_codec.level_from_item(self._get(keys.stock_key(sku, location)), sku, location)

    def levels_of(self, sku: str) -> list[StockLevel]:
        items = self._query(
            KeyConditionExpression=K("PK").eq(keys.catalog_key(sku)["PK"]) & K("SK").begins_with(keys.LOCATION_PREFIX),
            ConsistentRead=True,
        )
        return [self._summed(stock_codec.level_from_item(i, sku, i["location"])) for i in items]

    def adjustments(self, sku: str, location: str, limit: int = 50) -> list[Adjustment]:
        response = table().query(
            KeyConditionExpression=K("PK").eq(keys.catalog_key(sku)["PK"])
            & K("SK").begins_with(f"{keys.ADJUSTMENT_PREFIX}{location}#"),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [stock_codec.adjustment_from_item(i) for i in response.get("Items", [])]

    def backorders(self, sku: str, limit: int = 50) -> list[Backorder]:
        """Backorders of a SKU, oldest first (FIFO)."""
        response = table().query(
            KeyConditionExpression=K("PK").eq(keys.backorder_partition(sku)), ConsistentRead=True, Limit=limit
        )
        return [stock_codec.backorder_from_item(i) for i in response.get("Items", [])]


def _backlog(catalog: Item | None) -> int | None:
    """Units of a SKU waiting as backorders, from its catalog item (None: no catalog item to say)."""
    return int(catalog.get("backordered_units", 0)) if catalog else None


def _plain(item: dict[str, Any]) -> Item:
    """An item from an error response: the resource's client deserialises answers, not errors' payloads."""
    deserialize = TypeDeserializer().deserialize
    return {k: deserialize(v) if isinstance(v, dict) and len(v) == 1 else v for k, v in item.items()}  # type: ignore[arg-type]


def _newest_first(
    partitions: list[str], limit: int, below: str | None, *, index: str = keys.STATUS_INDEX
) -> tuple[list[Item], bool]:
    """Up to `limit` entries of these partitions of an index (GSI1 or GSI2), newest first, below the sort key
    `below`; and whether any are left after them."""
    pk, sk = f"{index}PK", f"{index}SK"
    merged: list[Item] = []
    more = False
    for partition in partitions:
        condition: ConditionBase = K(pk).eq(partition)
        if below:
            condition = condition & K(sk).lt(below)
        page = table().query(IndexName=index, KeyConditionExpression=condition, ScanIndexForward=False, Limit=limit)
        merged += page.get("Items", [])
        more = more or "LastEvaluatedKey" in page
    merged.sort(key=lambda i: str(i[sk]), reverse=True)
    return merged[:limit], more or len(merged) > limit


def _cursor(position: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _position(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise BadRequest("cursor is not one this API returned") from None


def _decode_all_cursor(cursor: str) -> str:
    start = _position(cursor)
    if not isinstance(start, dict) or set(start) != {"below"} or not isinstance(start["below"], str):
        raise BadRequest("cursor is not one this API returned for the list of every order")
    return str(start["below"])


def _decode_cursor(cursor: str, status: str) -> str:
    """A cursor is only ever one we handed out for the same status list; anything else is a 400."""
    start = _position(cursor)
    if (
        not isinstance(start, dict)
        or set(start) != {"status", "below"}
        or not all(isinstance(v, str) for v in start.values())
        or start["status"] != status
    ):
        raise BadRequest("cursor is not one this API returned for this status")
    return str(start["below"])
