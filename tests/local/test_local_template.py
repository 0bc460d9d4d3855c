"""Template loading and intrinsic functions, without any AWS emulation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fulfillment_local.cfn import NO_VALUE, Resolver, TemplateError, load_yaml, references
from fulfillment_local.template import SamTemplate, merge_globals

ROOT = Path(__file__).resolve().parents[2]


def resolver(**parameters: Any) -> Resolver:
    attrs = {
        ("Queue", "Arn"): "arn:aws:sqs:us-east-1:123456789012:Queue",
        ("Table", "StreamArn"): "stream-arn",
    }
    return Resolver(
        parameters={"Stage": "dev", **parameters},
        ref=lambda name: {"Queue": "http://local/Queue", "Table": "Table"}[name],
        getatt=lambda name, attr: attrs[(name, attr)],
        conditions={
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        },
        mappings={"Env": {"dev": {"Size": 3}}},
    )


def test_short_form_tags_load_as_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "A: !Ref X\nB: !GetAtt Y.Arn\nC: !Sub 'a-${X}'\nD: !Join ['-', [!Ref X, b]]\n"
        "E: !If [Cond, 1, 2]\nF: !Select [0, !Split [',', 'a,b']]\nG: !GetAtt [Y, StreamArn]\n"
    )
    data = load_yaml(path)
    assert data == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Y", "Arn"]},
        "C": {"Fn::Sub": "a-${X}"},
        "D": {"Fn::Join": ["-", [{"Ref": "X"}, "b"]]},
        "E": {"Fn::If": ["Cond", 1, 2]},
        "F": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
        "G": {"Fn::GetAtt": ["Y", "StreamArn"]},
    }


def test_intrinsics_resolve_against_parameters_resources_and_pseudo_parameters() -> None:
    r = resolver()
    assert r.resolve({"Ref": "Stage"}) == "dev"
    assert r.resolve({"Ref": "Queue"}) == "http://local/Queue"
    assert r.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:aws:sqs:us-east-1:123456789012:Queue"
    assert r.resolve({"Fn::Sub": "${AWS::Region}/${AWS::AccountId}/${Stage}/${Queue.Arn}/${!Literal}"}) == (
        "us-east-1/123456789012/dev/arn:aws:sqs:us-east-1:123456789012:Queue/${Literal}"
    )
    assert r.resolve({"Fn::Sub": ["${A}-${Stage}", {"A": {"Ref": "Table"}}]}) == "Table-dev"
    assert r.resolve({"Fn::Join": [",", ["a", {"Ref": "Stage"}]]}) == "a,dev"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": ["/", "x/y/z"]}]}) == "y"
    assert r.resolve({"Fn::If": ["IsProd", "p", "np"]}) == "np"
    assert r.resolve({"Fn::If": ["NotProd", "yes", "no"]}) == "yes"
    assert r.resolve({"Fn::FindInMap": ["Env", {"Ref": "Stage"}, "Size"]}) == 3
    assert r.resolve({"Fn::Base64": "hi"}) == "aGk="
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert r.resolve({"Keep": 1, "Drop": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}}) == {"Keep": 1}
    assert r.resolve([1, {"Ref": "AWS::NoValue"}]) == [1]
    assert resolver(Stage="prod").resolve({"Fn::If": ["IsProd", "p", "np"]}) == "p"


def test_unsupported_intrinsic_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match="ImportValue"):
        resolver().resolve({"Fn::ImportValue": "shared-thing"})


def test_references_finds_refs_getatts_and_sub_variables() -> None:
    value = {
        "a": {"Ref": "Queue"},
        "b": [{"Fn::GetAtt": ["Table", "StreamArn"]}],
        "c": {"Fn::Sub": "${Bus}-${AWS::Region}-${Other.Arn}-${!Skip}"},
        "d": {"Fn::Sub": ["${Local}", {"Local": {"Ref": "Var"}}]},
    }
    assert references(value) == {"Queue", "Table", "Bus", "Other", "Var"}


def test_globals_merge_like_sam() -> None:
    globals_fn = {"Timeout": 10, "Layers": ["L1"], "Environment": {"Variables": {"A": "1", "B": "2"}}}
    local = {"Timeout": 30, "Layers": ["L2"], "Environment": {"Variables": {"B": "override", "C": "3"}}}
    merged = merge_globals(globals_fn, local)
    assert merged == {
        "Timeout": 30,
        "Layers": ["L1", "L2"],
        "Environment": {"Variables": {"A": "1", "B": "override", "C": "3"}},
    }
    # An intrinsic is a value, not a map to merge into.
    assert merge_globals({"Ref": "X"}, {"Fn::Sub": "y"}) == {"Fn::Sub": "y"}


def test_real_template_functions_get_globals_and_events() -> None:
    template = SamTemplate(ROOT / "template.yaml")
    assert template.functions, "template.yaml declares functions"
    for fn in template.functions.values():
        variables = fn.properties["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == {"Ref": "FulfillmentTable"}  # from Globals
        assert "POWERTOOLS_SERVICE_NAME" in variables  # from the function
        assert fn.properties["CodeUri"].startswith("functions/")
    event_types = {e.type for fn in template.functions.values() for e in fn.events}
    assert {"Api", "SQS", "DynamoDB"} <= event_types


def test_parameter_overrides_must_be_declared(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("Parameters:\n  Stage: {Type: String, Default: dev}\nResources: {}\n")
    assert SamTemplate(path, {"Stage": "qa"}).parameters == {"Stage": "qa"}
    with pytest.raises(TemplateError, match="Nope"):
        SamTemplate(path, {"Nope": "x"})
