"""Transaction building blocks and the one place DynamoDB errors become domain-level signals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fulfillment.adapters.aws import ddb_client
from fulfillment.config import settings

MAX_TRANSACTION_ITEMS = 100


class TransactionCancelled(Exception):
    """A TransactWriteItems was cancelled; `reasons[i]` is the code for item i ("None" = fine)."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__(f"transaction cancelled: {list(reasons)}")
        self.reasons = list(reasons)

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"

    @property
    def conflict(self) -> bool:
        """Another transaction touched the same items concurrently: safe to retry as is."""
        return any(r == "TransactionConflict" for r in self.reasons)


@dataclass
class Op:
    """One item of a transaction, kept as a small value so services can reason about indexes."""

    kind: str  # Put | Update | Delete | ConditionCheck
    body: dict[str, Any]

    def render(self) -> dict[str, Any]:
        return {self.kind: {"TableName": settings().table_name, **self.body}}


def put(item: dict, *, condition: str | None = None, values: dict | None = None, names: dict | None = None) -> Op:
    body: dict[str, Any] = {"Item": item}
    _conditions(body, condition, values, names)
    return Op("Put", body)


def update(
    key: dict, expression: str, *, values: dict | None = None, names: dict | None = None, condition: str | None = None
) -> Op:
    body: dict[str, Any] = {"Key": key, "UpdateExpression": expression}
    _conditions(body, condition, values, names)
    return Op("Update", body)


def delete(key: dict, *, condition: str | None = None, values: dict | None = None) -> Op:
    body: dict[str, Any] = {"Key": key}
    _conditions(body, condition, values, None)
    return Op("Delete", body)


def condition_check(key: dict, condition: str, *, values: dict | None = None, names: dict | None = None) -> Op:
    body: dict[str, Any] = {"Key": key}
    _conditions(body, condition, values, names)
    return Op("ConditionCheck", body)


def _conditions(body: dict, condition: str | None, values: dict | None, names: dict | None) -> None:
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = values
    if names:
        body["ExpressionAttributeNames"] = names


def transact(ops: Sequence[Op]) -> None:
    if not ops:
        return
    if len(ops) > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"{len(ops)} items exceed a transaction's {MAX_TRANSACTION_ITEMS}")
    try:
        ddb_client().transact_write_items(TransactItems=[op.render() for op in ops])
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "TransactionCanceledException":
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            raise TransactionCancelled(reasons or ["Unknown"] * len(ops)) from None
        raise


def is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def to_int(value: Any) -> int:
    return int(value) if value is not None else 0
