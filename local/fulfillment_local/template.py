"""The SAM template as the runtime sees it: parameters, resources, functions and their events.

Only structure lives here; values are evaluated later by `cfn.Resolver`, once the local
resources exist. SAM `Globals.Function` is applied to every `AWS::Serverless::Function` with
SAM's merge rules: maps merge (the function wins), lists are concatenated (globals first),
everything else is overridden by the function.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cfn import TemplateError, load_yaml

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"


@dataclass(frozen=True)
class EventSourceDef:
    """One entry of a function's `Events` (properties are unevaluated template data)."""

    function: str
    name: str
    type: str
    properties: dict[str, Any]


@dataclass
class FunctionDef:
    """A SAM function after Globals were applied (properties are unevaluated template data)."""

    logical_id: str
    properties: dict[str, Any]
    events: list[EventSourceDef] = field(default_factory=list)
    condition: str | None = None

    @property
    def timeout(self) -> float:
        return float(self.properties.get("Timeout", 3))

    @property
    def memory_size(self) -> int:
        return int(self.properties.get("MemorySize", 128))


def _is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))
    )


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals merge: maps merge recursively, lists concatenate, scalars are overridden."""
    if _is_intrinsic(global_value) or _is_intrinsic(local_value):
        return copy.deepcopy(local_value)
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = copy.deepcopy(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return copy.deepcopy(global_value) + copy.deepcopy(local_value)
    return copy.deepcopy(local_value)


class SamTemplate:
    """A parsed template. `parameters` are the effective values (overrides, then defaults)."""

    def __init__(self, path: str | Path, parameter_overrides: dict[str, Any] | None = None) -> None:
        self.path = Path(path).resolve()
        self.dir = self.path.parent
        self.data = load_yaml(self.path)
        self.resources: dict[str, dict[str, Any]] = dict(self.data.get("Resources") or {})
        self.outputs: dict[str, dict[str, Any]] = dict(self.data.get("Outputs") or {})
        self.conditions: dict[str, Any] = dict(self.data.get("Conditions") or {})
        self.mappings: dict[str, Any] = dict(self.data.get("Mappings") or {})
        self.parameters = self._parameters(parameter_overrides or {})
        self.functions = self._functions()

    def _parameters(self, overrides: dict[str, Any]) -> dict[str, Any]:
        declared = self.data.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                value = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default; pass it as an override")
            if str(spec.get("Type", "String")).startswith("List<") or spec.get("Type") == ("CommaDelimitedList"):
                value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
            elif not isinstance(value, str):
                value = str(value)
            values[name] = value
        return values

    def _functions(self) -> dict[str, FunctionDef]:
        globals_fn = ((self.data.get("Globals") or {}).get("Function")) or {}
        functions: dict[str, FunctionDef] = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != SERVERLESS_FUNCTION:
                continue
            props = merge_globals(globals_fn, resource.get("Properties") or {})
            events = [
                EventSourceDef(logical_id, name, str(ev.get("Type")), dict(ev.get("Properties") or {}))
                for name, ev in (props.get("Events") or {}).items()
            ]
            functions[logical_id] = FunctionDef(logical_id, props, events, resource.get("Condition"))
        return functions

    def resource_type(self, logical_id: str) -> str:
        try:
            return str(self.resources[logical_id]["Type"])
        except KeyError as exc:
            raise TemplateError(f"no resource or parameter named {logical_id!r}") from exc
