"""Shipments in the order's partition (SK SHIP#id), tracking pointers and inbound-message markers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from boto3.dynamodb.conditions import Key as K

from fulfillment import keys
from fulfillment.adapters import dynamo
from fulfillment.adapters.aws import table
from fulfillment.domain.shipments import Shipment, ShipmentLine, ShipmentStatus

MESSAGE_MARKER_TTL_SECONDS = 35 * 24 * 3600


def to_item(shipment: Shipment) -> dict:
    item = {
        **keys.shipment_key(shipment.shipment_id),
        **keys.picklist_index_keys(shipment.location, shipment.status.value, shipment.created_at, shipment.shipment_id),
        "type": "shipment",
        **{k: v for k, v in asdict(shipment).items() if k not in ("lines", "events", "status")},
        "status": shipment.status.value,
        "lines": [asdict(line) for line in shipment.lines],
        "events": list(shipment.events),
    }
    if shipment.timer_due:
        item.update(keys.timer_keys(shipment.shipment_id, shipment.timer_due))
    return item


def from_item(item: dict) -> Shipment:
    fields = {k: item.get(k) for k in Shipment.__dataclass_fields__ if k in item}
    fields["status"] = ShipmentStatus(item["status"])
    fields["lines"] = tuple(
        ShipmentLine(
            line_no=int(ln["line_no"]), sku=ln["sku"], quantity=int(ln["quantity"]), shipped=int(ln.get("shipped", 0))
        )
        for ln in item["lines"]
    )
    fields["events"] = tuple(item.get("events") or ())
    fields["attempts"] = int(item.get("attempts", 0))
    fields["version"] = int(item.get("version", 0))
    fields["delay_notified"] = bool(item.get("delay_notified", False))
    fields["cancel_requested"] = bool(item.get("cancel_requested", False))
    fields["cancel_sent"] = bool(item.get("cancel_sent", False))
    return Shipment(**fields)


def put_new(shipment: Shipment) -> dynamo.Op:
    return dynamo.put(to_item(shipment), condition="attribute_not_exists(PK)")


def put_changed(shipment: Shipment, expected_version: int) -> dynamo.Op:
    return dynamo.put(to_item(shipment), condition="version = :v", values={":v": expected_version})


def mark_message(source: str, message_id: str, kind: str, now_epoch: int) -> dynamo.Op:
    """Applied exactly once: this marker is written in the same transaction as the message's effect."""
    return dynamo.put(
        {
            **keys.message_key(source, message_id),
            "type": "message",
            "kind": kind,
            "expires_at": now_epoch + MESSAGE_MARKER_TTL_SECONDS,
        },
        condition="attribute_not_exists(PK)",
    )


def tracking_pointer(carrier: str, tracking_number: str, shipment_id: str) -> dynamo.Op:
    return dynamo.put(
        {
            **keys.tracking_key(carrier, tracking_number),
            "type": "tracking",
            "shipment_id": shipment_id,
            "carrier": carrier,
            "tracking_number": tracking_number,
        }
    )


class ShipmentStore:
    def get(self, shipment_id: str) -> Shipment | None:
        item = table().get_item(Key=keys.shipment_key(shipment_id), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def of_order(self, order_id: str) -> list[Shipment]:
        response = table().query(
            KeyConditionExpression=K("PK").eq(keys.order_partition(order_id))
            & K("SK").begins_with(keys.SHIPMENT_PREFIX),
            ConsistentRead=True,
        )
        return [from_item(i) for i in response.get("Items", [])]

    def by_tracking(self, carrier: str, tracking_number: str) -> str | None:
        item = table().get_item(Key=keys.tracking_key(carrier, tracking_number)).get("Item")
        return item["shipment_id"] if item else None

    def keep_early(self, update: dict, now_epoch: int) -> None:
        key = keys.early_tracking_key(update["carrier"], update["tracking_number"], update["event_id"])
        table().put_item(
            Item={
                **key,
                "type": "early_tracking",
                "update": update,
                "expires_at": now_epoch + MESSAGE_MARKER_TTL_SECONDS,
            }
        )

    def early(self, carrier: str, tracking_number: str) -> list[dict]:
        response = table().query(
            KeyConditionExpression=K("PK").eq(keys.tracking_key(carrier, tracking_number)["PK"])
            & K("SK").begins_with("EARLY#"),
            ConsistentRead=True,
        )
        return [i["update"] for i in response.get("Items", [])]

    def seen(self, source: str, message_id: str) -> bool:
        return "Item" in table().get_item(Key=keys.message_key(source, message_id), ConsistentRead=True)

    def save(self, shipment: Shipment, expected_version: int, extra: list[dynamo.Op] = ()) -> None:
        dynamo.transact([put_changed(shipment, expected_version), *extra])

    def picklist(self, location: str, statuses: list[str], limit: int = 100) -> list[Shipment]:
        found: list[Shipment] = []
        for status in statuses:
            response = table().query(
                IndexName=keys.STATUS_INDEX,
                KeyConditionExpression=K("GSI1PK").eq(keys.picklist_partition(location, status)),
                Limit=limit,
            )
            found += [from_item(i) for i in response.get("Items", [])]
        return found

    def created_before(self, location: str, status: str, cutoff: str, limit: int) -> list[str]:
        response = table().query(
            IndexName=keys.STATUS_INDEX,
            KeyConditionExpression=K("GSI1PK").eq(keys.picklist_partition(location, status)) & K("GSI1SK").lt(cutoff),
            Limit=limit,
        )
        return [i["shipment_id"] for i in response.get("Items", [])]

    def due(self, now: str, limit: int = 1000) -> list[str]:
        """Shipment ids whose timer is due, from every shard of the sparse timer index."""
        ids: list[str] = []
        for partition in keys.timer_partitions():
            kwargs: dict[str, Any] = {
                "IndexName": keys.TIMER_INDEX,
                "KeyConditionExpression": K("GSI2PK").eq(partition) & K("GSI2SK").lte(f"{now}#~"),
            }
            while True:  # every due timer, oldest first: none starves behind others that stay due
                response = table().query(**kwargs)
                ids += [i["GSI2SK"].split("#", 1)[1] for i in response.get("Items", [])]
                if "LastEvaluatedKey" not in response or len(ids) >= limit * keys.TIMER_SHARDS:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return ids
