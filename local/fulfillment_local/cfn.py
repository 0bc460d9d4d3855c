"""CloudFormation YAML: a loader for the short-form tags and an evaluator for intrinsic functions.

The loader turns `!Ref X` into `{"Ref": "X"}`, `!GetAtt A.B` into `{"Fn::GetAtt": ["A", "B"]}` and
so on, i.e. the long form CloudFormation itself uses. `Resolver` evaluates those against the
parameters and a callback that knows each resource's local physical id and attributes.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


class TemplateError(Exception):
    """The template cannot be evaluated locally (unknown reference, unsupported function...)."""


class _NoValue:
    """`AWS::NoValue`: the property is removed from the enclosing map or list."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

# ------------------------------------------------------------------------------------ YAML loading

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Transform": "Fn::Transform",
    "ToJsonString": "Fn::ToJsonString",
    "Length": "Fn::Length",
}


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic tags."""


def _make_constructor(key: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if key == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag, _key in _SHORT_TAGS.items():
    CfnLoader.add_constructor(f"!{_tag}", _make_constructor(_key))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a CloudFormation/SAM template (YAML or JSON) into plain long-form data."""
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: not a template (top level is {type(data).__name__})")
    return data


# ------------------------------------------------------------------------------------ evaluation

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")

RefLookup = Callable[[str], Any]
AttLookup = Callable[[str, str], Any]


def references(value: Any) -> set[str]:
    """Every logical name a value refers to via Ref, GetAtt or Sub (parameters included)."""
    found: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if len(v) == 1:
                ((k, arg),) = v.items()
                if k == "Ref" and isinstance(arg, str):
                    found.add(arg)
                    return
                if k == "Fn::GetAtt":
                    parts = arg.split(".", 1) if isinstance(arg, str) else arg
                    if parts and isinstance(parts[0], str):
                        found.add(parts[0])
                    return
                if k == "Fn::Sub":
                    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                    for name in _SUB_VAR.findall(text if isinstance(text, str) else ""):
                        if not name.startswith("!") and name.split(".")[0] not in variables:
                            found.add(name.split(".")[0])
                    walk(variables)
                    return
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return {name for name in found if not name.startswith("AWS::")}


class Resolver:
    """Evaluates intrinsic functions.

    `ref(name)` must return the value of `!Ref name` for resources (parameters and pseudo
    parameters are handled here); `getatt(name, attribute)` the value of `!GetAtt name.attribute`.
    `string_hook`, if given, post-processes every `Fn::Sub` and `Fn::Join` result (the runtime
    uses it to turn execute-api URLs into the local API URL).
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        ref: RefLookup,
        getatt: AttLookup,
        conditions: Mapping[str, Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
        stack_name: str = "local",
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        string_hook: Callable[[str], str] | None = None,
    ) -> None:
        self.parameters = dict(parameters)
        self._ref = ref
        self._getatt = getatt
        self._condition_defs = dict(conditions or {})
        self._condition_values: dict[str, bool] = {}
        self.mappings = dict(mappings or {})
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self._string_hook = string_hook

    # -- conditions
    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._condition_defs:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_values[name] = bool(self.resolve(self._condition_defs[name]))
        return self._condition_values[name]

    # -- values
    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                    return self._intrinsic(key, arg)
            out = {}
            for k, v in value.items():
                resolved = self.resolve(v)
                if resolved is not NO_VALUE:
                    out[k] = resolved
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        return value

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _intrinsic(self, key: str, arg: Any) -> Any:
        match key:
            case "Ref":
                return self.ref(self.resolve(arg))
            case "Condition":
                return self.condition(arg)
            case "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else self.resolve(arg)
                return self._getatt(parts[0], ".".join(parts[1:]))
            case "Fn::Sub":
                return self._sub(arg)
            case "Fn::Join":
                sep, items = arg
                joined = str(self.resolve(sep)).join(_text(i) for i in self.resolve(items))
                return self._string_hook(joined) if self._string_hook else joined
            case "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            case "Fn::Split":
                sep, text = self.resolve(arg)
                return str(text).split(sep)
            case "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            case "Fn::Equals":
                a, b = self.resolve(arg)
                return _text(a) == _text(b)
            case "Fn::Not":
                (inner,) = arg
                return not self._truth(inner)
            case "Fn::And":
                return all(self._truth(c) for c in arg)
            case "Fn::Or":
                return any(self._truth(c) for c in arg)
            case "Fn::FindInMap":
                name, top, second = (self.resolve(a) for a in arg[:3])
                try:
                    return self.mappings[name][top][second]
                except KeyError as exc:
                    if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                        return self.resolve(arg[3]["DefaultValue"])
                    raise TemplateError(f"FindInMap {name}/{top}/{second}: no such key") from exc
            case "Fn::Base64":
                return base64.b64encode(_text(self.resolve(arg)).encode()).decode()
            case "Fn::GetAZs":
                region = self.resolve(arg) or self.pseudo["AWS::Region"]
                return [f"{region}{zone}" for zone in "abc"]
            case "Fn::ToJsonString":
                return json.dumps(self.resolve(arg), separators=(",", ":"))
            case "Fn::Length":
                return len(self.resolve(arg))
            case _:
                raise TemplateError(f"{key} is not supported by the local runtime")

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"}:
            return self.condition(value["Condition"])
        return bool(self.resolve(value))

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, raw_vars = arg
            variables = {k: self.resolve(v) for k, v in raw_vars.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return _text(self._getatt(logical, attribute))
            return _text(self.ref(name))

        result = _SUB_VAR.sub(replace, text)
        return self._string_hook(result) if self._string_hook else result


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)
