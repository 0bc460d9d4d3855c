"""The OpenAPI 3.1 description of the HTTP API (`docs/openapi.json`), generated from the handlers.

Paths, methods and path parameters come from each handler's Powertools resolver (`Route.openapi_path`); request
bodies are the pydantic models the handlers parse with; `ROUTES` adds what a route's code does not say by itself
(summary, who may call it, its answers). `tests/contract/test_openapi.py` fails when the committed file is stale,
when a resolver route has no entry here, or when the template's API events and this file disagree (both ways).

    .venv/bin/python -m fulfillment_local.openapi            # rewrites docs/openapi.json
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "openapi.json"
FUNCTIONS = ("order_intake", "order_api", "digital_delivery", "returns", "tracking_updates")


# ------------------------------------------------------------------ answers (what the handlers return)
class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable reason (docs/contracts.md, HTTP API)")
    message: str
    details: list[dict[str, str]] | None = Field(default=None, description="field paths and their problems (422)")


class Error(BaseModel):
    error: ErrorBody


class IntakeAnswer(BaseModel):
    order_id: str = Field(pattern=r"^o_[a-z2-7]{24}$")
    status: str
    duplicate: bool
    access_token: str | None = Field(default=None, description="native channel only: the order's access token")


class CarrierAnswer(BaseModel):
    matched: bool
    outcome: str


class View(BaseModel):
    """A JSON object; its fields are listed in docs/contracts.md."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    auth: str  # a key of SECURITY
    body: str | None = None  # "module:Model" of the request body (module: a contracts module or a handler)
    answers: dict[int, type[BaseModel] | None] = field(default_factory=lambda: {200: View})
    errors: tuple[int, ...] = (400, 404)


SECURITY = {
    "shopify": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Shopify-Hmac-Sha256",
        "description": "base64 HMAC-SHA256 of the raw body with the shop's (or the app's) secret",
    },
    "woocommerce": {
        "type": "apiKey",
        "in": "header",
        "name": "X-WC-Webhook-Signature",
        "description": "base64 HMAC-SHA256 of the raw body with the store's webhook secret",
    },
    "native": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Fulfillment-Signature",
        "description": "t=<unix>,v1=<hex HMAC-SHA256 of '{t}.{body}'> (|now - t| <= 300 s)",
    },
    "easypost": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Hmac-Signature",
        "description": "hmac-sha256-hex=<hex HMAC-SHA256(NFKD(secret), body)>",
    },
    "aftership": {
        "type": "apiKey",
        "in": "header",
        "name": "aftership-hmac-sha256",
        "description": "base64 HMAC-SHA256 of the raw body",
    },
    "order_token": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "the order's access token (or Authorization: Bearer <token>)",
    },
    "download_token": {
        "type": "http",
        "scheme": "bearer",
        "description": "none: the link's token in the path is the capability",
    },
    "admin": {
        "type": "http",
        "scheme": "bearer",
        "description": "IAM SigV4 on AWS; the AdminApiSecret as a bearer token works too",
    },
}
S = "fulfillment.contracts.storefront"
A = "fulfillment.contracts.admin"
R = "fulfillment.contracts.returns"
C = "fulfillment.contracts.carriers"
INTAKE = {200: IntakeAnswer, 202: IntakeAnswer}
ROUTES: dict[tuple[str, str], RouteDoc] = {
    ("POST", "/webhooks/shopify"): RouteDoc(
        "Shopify orders/* and refunds/create webhooks",
        "shopify",
        f"{S}:ShopifyOrder",
        INTAKE,
        (400, 401, 409, 413, 415, 422),
    ),
    ("POST", "/webhooks/woocommerce"): RouteDoc(
        "WooCommerce order.created / order.updated webhooks",
        "woocommerce",
        f"{S}:WooOrder",
        INTAKE,
        (400, 401, 409, 413, 415, 422),
    ),
    ("POST", "/orders"): RouteDoc(
        "An order from the shop's own checkout", "native", f"{S}:NativeOrder", INTAKE, (400, 401, 409, 413, 415, 422)
    ),
    ("GET", "/orders/{order_id}"): RouteDoc("The order view (customer with its token, or operator)", "order_token"),
    ("GET", "/orders"): RouteDoc("Orders by status, newest first (cursor pages)", "admin", errors=(400, 401)),
    ("POST", "/orders/{order_id}/cancel"): RouteDoc(
        "Cancel an order", "admin", f"{A}:CancelRequest", errors=(401, 404, 409)
    ),
    ("POST", "/orders/{order_id}/holds/{reason}/release"): RouteDoc("Release a hold", "admin", errors=(401, 404, 409)),
    ("PUT", "/catalog/{sku}"): RouteDoc(
        "Create or replace a catalog entry", "admin", f"{A}:CatalogEntry", errors=(401, 404, 422)
    ),
    ("GET", "/catalog/{sku}"): RouteDoc("A catalog entry", "admin", errors=(401, 404, 422)),
    ("GET", "/inventory/{sku}/{location}"): RouteDoc(
        "A stock level and its recent adjustments", "admin", errors=(401, 404, 422)
    ),
    ("PUT", "/inventory/{sku}/{location}"): RouteDoc(
        "Set on-hand to a count", "admin", f"{A}:StockLevel", errors=(401, 404, 409, 422)
    ),
    ("POST", "/inventory/{sku}/{location}/adjustments"): RouteDoc(
        "An audited change of on-hand (exactly once per Idempotency-Key / adjustment_id)",
        "admin",
        f"{A}:Adjustment",
        {200: View, 201: View},
        (400, 401, 404, 409, 422),
    ),
    ("PUT", "/inventory/{sku}/{location}/shards"): RouteDoc(
        "Keep a level on several items (a flash sale's SKU) or on one again; its units are spread at once",
        "admin",
        f"{A}:Shards",
        errors=(400, 401, 404, 409, 422),
    ),
    ("GET", "/downloads/{token}"): RouteDoc(
        "A download: 302 to a presigned GET of the file, counted once",
        "download_token",
        answers={302: None},
        errors=(404, 410),
    ),
    ("HEAD", "/downloads/{token}"): RouteDoc(
        "Whether a download link works (counts nothing)", "download_token", answers={200: None}, errors=(404, 410)
    ),
    ("POST", "/orders/{order_id}/downloads/resend"): RouteDoc(
        "Send the order's download links again (once a minute)",
        "order_token",
        answers={202: View},
        errors=(404, 409, 429),
    ),
    ("POST", "/orders/{order_id}/downloads/{entitlement_id}/reissue"): RouteDoc(
        "A new link for an entitlement (the old one stops working)",
        "admin",
        f"{A}:ReissueRequest",
        errors=(401, 404, 409, 422),
    ),
    ("POST", "/orders/{order_id}/downloads/{entitlement_id}/revoke"): RouteDoc(
        "Revoke an entitlement", "admin", f"{A}:RevokeRequest", errors=(401, 404, 422)
    ),
    ("POST", "/orders/{order_id}/returns"): RouteDoc(
        "Request a return (customer with its token, or operator)",
        "order_token",
        f"{R}:ReturnRequest",
        {201: View},
        (400, 404, 409, 415, 422),
    ),
    ("POST", "/returns/{rma_id}/approve"): RouteDoc("Authorise a requested return", "admin", errors=(401, 404, 409)),
    ("POST", "/returns/{rma_id}/reject"): RouteDoc(
        "Reject a requested return", "admin", f"{R}:RejectRequest", errors=(401, 404, 409)
    ),
    ("POST", "/returns/{rma_id}/receive"): RouteDoc(
        "Receive an in-house return with each line's disposition",
        "admin",
        f"{R}:ReceiveRequest",
        errors=(401, 404, 409, 422),
    ),
    ("POST", "/webhooks/tracking/easypost"): RouteDoc(
        "EasyPost tracker.updated webhooks", "easypost", f"{C}:EasyPostEvent", {200: CarrierAnswer}, (401, 415, 422)
    ),
    ("POST", "/webhooks/tracking/aftership"): RouteDoc(
        "AfterShip tracking_update webhooks", "aftership", f"{C}:AfterShipEvent", {200: CarrierAnswer}, (401, 415, 422)
    ),
    ("GET", "/warehouse/{location}/picklist"): RouteDoc(
        "An in-house location's shipments to pick", "admin", errors=(401, 404)
    ),
    ("POST", "/shipments/{shipment_id}/ship"): RouteDoc(
        "An in-house shipment left with a carrier", "admin", "tracking_updates:ShipRequest", errors=(401, 404, 409, 422)
    ),
}
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    302: "Found: Location is the file's presigned URL",
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    409: "Conflict",
    410: "Gone (code says why)",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Schema violation",
    429: "Too many requests",
}


# ------------------------------------------------------------------ reading the handlers
def app_module(path: Path, module_name: str) -> ModuleType:
    """A function's `app.py` imported under a name of its own (every handler file is called app.py); once."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def handler(name: str) -> ModuleType:
    return app_module(ROOT / "functions" / name / "app.py", f"openapi_{name}")


def resolver_routes() -> dict[tuple[str, str], str]:
    """(METHOD, /path/{param}) -> handler folder, from every handler's Powertools resolver."""
    found: dict[tuple[str, str], str] = {}
    for name in FUNCTIONS:
        app = handler(name).app
        for route in [*app._static_routes, *app._dynamic_routes]:
            found[(route.method.upper(), route.openapi_path)] = name
    return found


def _model(ref: str) -> type[BaseModel]:
    module, _, attr = ref.partition(":")
    source = handler(module) if module in FUNCTIONS else importlib.import_module(module)
    model = getattr(source, attr)
    assert isinstance(model, type) and issubclass(model, BaseModel), ref
    return model


# ------------------------------------------------------------------ the document
def build() -> dict[str, Any]:
    routes = resolver_routes()
    missing = sorted(set(routes) - set(ROUTES))
    if missing:
        raise SystemExit(f"routes without an entry in fulfillment_local.openapi.ROUTES: {missing}")
    models: dict[str, type[BaseModel]] = {"Error": Error}
    for doc in ROUTES.values():
        if doc.body:
            models[_model(doc.body).__name__] = _model(doc.body)
        for answer in doc.answers.values():
            if answer is not None:
                models[answer.__name__] = answer
    _, schemas = models_json_schema(
        [(m, "validation") for m in models.values()], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), doc in sorted(ROUTES.items()):
        if (method, path) not in routes:
            raise SystemExit(f"{method} {path} is documented but no handler serves it")
        operation: dict[str, Any] = {
            "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "summary": doc.summary,
            "tags": [routes[(method, path)]],
            "security": [{doc.auth: []}],
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 256}}
                for p in _path_params(path)
            ],
            "responses": {},
        }
        if doc.body:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{_model(doc.body).__name__}"}}
                },
            }
        for status, answer in doc.answers.items():
            response: dict[str, Any] = {"description": STATUS_TEXT[status]}
            if answer is not None:
                response["content"] = {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{answer.__name__}"}}
                }
            operation["responses"][str(status)] = response
        for status in doc.errors:
            operation["responses"][str(status)] = {
                "description": STATUS_TEXT[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Serverless order fulfillment",
            "version": "1",
            "description": "Generated from the handlers by `python -m fulfillment_local.openapi`; the contracts "
            'in words are docs/contracts.md. Every error is {"error": {"code", "message", "details"?}}.',
        },
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {}), "securitySchemes": SECURITY},
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main() -> int:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(build()['paths'])} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
