"""Lambda event filtering (the EventBridge pattern language) for event source mappings.

`matches(pattern, event)`: every key of the pattern must match; a nested object recurses; a list
holds alternatives (literal values or matcher objects: prefix, suffix, equals-ignore-case,
wildcard, exists, anything-but, numeric, cidr). When the event value is a list, any element may
match. `$or` takes a list of sub-patterns. `FilterCriteria` holds several patterns, OR'ed.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

_MISSING = object()


def parse_filters(filter_criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of a `FilterCriteria` property (each `Pattern` is a JSON string or a map)."""
    patterns = []
    for item in (filter_criteria or {}).get("Filters") or []:
        pattern = item.get("Pattern")
        patterns.append(json.loads(pattern) if isinstance(pattern, str) else dict(pattern or {}))
    return patterns


def matches_any(patterns: list[dict[str, Any]], event: Any) -> bool:
    """No patterns = everything passes; otherwise at least one pattern must match."""
    return not patterns or any(matches(p, event) for p in patterns)


def matches(pattern: dict[str, Any], event: Any) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in expected):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(expected, dict):
            if value is _MISSING or not isinstance(value, dict):
                # A nested pattern made only of exists:false conditions holds for a missing object.
                if not _only_absence(expected):
                    return False
                continue
            if not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not _match_value(expected, value):
                return False
        else:
            raise ValueError(f"filter pattern value for {key!r} must be a list or an object")
    return True


def _only_absence(pattern: dict[str, Any]) -> bool:
    for value in pattern.values():
        if isinstance(value, dict):
            if not _only_absence(value):
                return False
        elif not (isinstance(value, list) and value and all(_is_exists_false(m) for m in value)):
            return False
    return True


def _is_exists_false(matcher: Any) -> bool:
    return isinstance(matcher, dict) and matcher.get("exists") is False


def _match_value(alternatives: list[Any], value: Any) -> bool:
    candidates: Iterable[Any] = value if isinstance(value, list) else [value]
    for matcher in alternatives:
        if isinstance(matcher, dict) and "exists" in matcher:
            present = value is not _MISSING
            if bool(matcher["exists"]) == present:
                return True
            continue
        if isinstance(matcher, dict) and "anything-but" in matcher:
            if value is not _MISSING and all(_anything_but(matcher["anything-but"], c) for c in candidates):
                return True
            continue
        if value is _MISSING:
            continue
        if any(_match_one(matcher, c) for c in candidates):
            return True
    return False


def _match_one(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    if "prefix" in matcher:
        return _affix(matcher["prefix"], value, str.startswith)
    if "suffix" in matcher:
        return _affix(matcher["suffix"], value, str.endswith)
    if "equals-ignore-case" in matcher:
        return isinstance(value, str) and value.casefold() == str(matcher["equals-ignore-case"]).casefold()
    if "wildcard" in matcher:
        return isinstance(value, str) and fnmatch.fnmatchcase(value, str(matcher["wildcard"]))
    if "numeric" in matcher:
        return _numeric(matcher["numeric"], value)
    if "cidr" in matcher:
        try:
            return ipaddress.ip_address(str(value)) in ipaddress.ip_network(matcher["cidr"], strict=False)
        except ValueError:
            return False
    raise ValueError(f"unsupported filter matcher {matcher!r}")


def _affix(spec: Any, value: Any, test: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(spec, dict) and "equals-ignore-case" in spec:
        return bool(test(value.casefold(), str(spec["equals-ignore-case"]).casefold()))
    return bool(test(value, str(spec)))


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or value is None:
        return expected is None and value is None
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _anything_but(spec: Any, value: Any) -> bool:
    if isinstance(spec, dict):
        if "prefix" in spec:
            return not _affix(spec["prefix"], value, str.startswith)
        if "suffix" in spec:
            return not _affix(spec["suffix"], value, str.endswith)
        if "equals-ignore-case" in spec:
            options = spec["equals-ignore-case"]
            options = options if isinstance(options, list) else [options]
            return not (isinstance(value, str) and value.casefold() in {str(o).casefold() for o in options})
        if "wildcard" in spec:
            return not (isinstance(value, str) and fnmatch.fnmatchcase(value, str(spec["wildcard"])))
        raise ValueError(f"unsupported anything-but matcher {spec!r}")
    options = spec if isinstance(spec, list) else [spec]
    return not any(_equal(option, value) for option in options)


def _numeric(conditions: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    for i in range(0, len(conditions), 2):
        op, bound = conditions[i], conditions[i + 1]
        if not checks[op](float(value), float(bound)):
            return False
    return True
