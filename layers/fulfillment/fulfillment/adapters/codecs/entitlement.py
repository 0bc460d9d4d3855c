"""Entitlement items (PK ORDER#order, SK ORDER#DL#id) and the one conditional update that counts a download."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from fulfillment import keys
from fulfillment.domain.entitlements import Entitlement

Item = dict[str, Any]
_FIELDS = tuple(f.name for f in fields(Entitlement))


def to_item(entitlement: Entitlement) -> Item:
    return {
        **keys.entitlement_key(entitlement.entitlement_id),
        "type": "entitlement",
        **{name: getattr(entitlement, name) for name in _FIELDS if getattr(entitlement, name) is not None},
        # The click's condition compares numbers: the expiry as epoch seconds beside its ISO form.
        "expires_epoch": entitlement.expires_epoch,
    }


def from_item(item: Item) -> Entitlement:
    values = {name: item[name] for name in _FIELDS if name in item}
    for name in (
        "line_no",
        "units",
        "max_downloads",
        "ttl_seconds",
        "downloads_remaining",
        "downloads_served",
        "granted",
        "refunded_units",
        "link_version",
    ):
        values[name] = int(values.get(name, 0))
    return Entitlement(**values)


def is_entitlement(item: Item) -> bool:
    return str(item.get("SK", "")).startswith(keys.ENTITLEMENT_PREFIX)


@dataclass(frozen=True)
class Update:
    key: keys.Key
    expression: str
    condition: str
    values: dict[str, Any]
    names: dict[str, str]


def take_download(entitlement_id: str, link_version: int, now_epoch: int, now: str) -> Update:
    """One download, if the link is the current one, not revoked, not expired and has one left: the whole
    decision is this condition, so N parallel clicks with k remaining give exactly k downloads."""
    return Update(
        key=keys.entitlement_key(entitlement_id),
        expression="SET downloads_remaining = downloads_remaining - :one, last_download_at = :now "
        "ADD downloads_served :one",
        condition="link_version = :v AND revoked = :no AND expires_epoch > :t AND downloads_remaining > :zero",
        values={":one": 1, ":zero": 0, ":v": link_version, ":no": False, ":t": now_epoch, ":now": now},
        names={},
    )
