"""docs/openapi.json is what the handlers serve: generated from their resolvers and models, and the template's
API events are exactly its operations (both ways)."""

from __future__ import annotations

import json

from fulfillment_local import openapi

from tests.support.stack import ROOT, resources


def template_routes() -> set[tuple[str, str]]:
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for fn in resources("AWS::Serverless::Function").values()
        for event in (fn["Properties"].get("Events") or {}).values()
        if event["Type"] == "Api"
    }


def test_the_committed_description_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "openapi.json").read_text()
    assert committed == openapi.render(), "docs/openapi.json is stale: run python -m fulfillment_local.openapi"


def test_the_description_and_the_template_name_the_same_operations() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    described = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert described == template_routes()
    assert set(openapi.resolver_routes()) == template_routes()


def test_every_operation_says_who_may_call_it_and_how_it_fails() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    schemes = document["components"]["securitySchemes"]
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            [requirement] = op["security"]
            assert set(requirement) <= set(schemes), (method, path)
            assert any(code.startswith("4") for code in op["responses"]), (method, path)
