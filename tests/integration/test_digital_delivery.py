"""Digital delivery through the real handlers on moto's DynamoDB, SQS and S3: links granted once, counted by one
conditional write, refused with the contract's reasons, and the file served from the private bucket."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.admin import Admin
from tests.support.events import Context, api_event, response_json
from tests.support.flow import Flow
from tests.support.stack import PUBLIC_API_URL
from tests.support.storefront import native_order

CONTENT = b"%PDF-1.7 the field guide\n"


@pytest.fixture
def shop(stack, admin: Admin):
    admin.catalog(
        "EBOOK",
        kind="digital",
        digital={"bucket_key": "books/field-guide.pdf", "max_downloads": 3, "filename": "Field guide.pdf"},
    )
    admin.catalog("MUG", title="Mug")
    admin.stock("MUG", "WH-EAST", 10)
    bucket = stack.physical["DigitalAssetsBucket"]
    stack.client("s3").put_object(Bucket=bucket, Key="books/field-guide.pdf", Body=CONTENT)
    return admin


def click(digital_fn, url: str, method: str = "GET") -> dict:
    token = url.rsplit("/downloads/", 1)[1]
    event = api_event(method, f"/downloads/{token}", resource="/downloads/{token}", path_parameters={"token": token})
    return digital_fn.lambda_handler(event, Context())


def order_view(admin: Admin, order_id: str) -> dict:
    return admin.ok(admin.call("GET", f"/orders/{order_id}", "/orders/{order_id}", {"order_id": order_id}))


def entitlement_item(stack, order_id: str) -> dict:
    return next(i for i in stack.items() if i.get("type") == "entitlement" and i["order_id"] == order_id)


def operator(digital_fn, order_id: str, entitlement_id: str, action: str, key: str | None = None) -> dict:
    path = f"/orders/{order_id}/downloads/{entitlement_id}/{action}"
    headers = {"Authorization": "Bearer admin-dev-token", **({"Idempotency-Key": key} if key else {})}
    event = api_event(
        "POST",
        path,
        resource=f"/orders/{{order_id}}/downloads/{{entitlement_id}}/{action}",
        path_parameters={"order_id": order_id, "entitlement_id": entitlement_id},
        headers=headers,
    )
    return digital_fn.lambda_handler(event, Context())


def test_a_paid_digital_order_gets_one_link_that_serves_the_file(stack, shop, intake_fn, flow: Flow, digital_fn):
    _, body = native_order(intake_fn, lines=[("EBOOK", 1)], address=None)
    flow.pump()

    view = order_view(shop, body["order_id"])
    assert view["status"] == "delivered"
    [download] = view["downloads"]
    assert (download["sku"], download["downloads_remaining"], download["status"]) == ("EBOOK", 3, "active")
    [ready] = flow.events_of("DownloadReady")
    link = ready["detail"]["detail"]["downloads"][0]["url"]
    assert link == f"{PUBLIC_API_URL}/downloads/{download['url'].rsplit('/', 1)[1]}"  # the API's public address
    assert len(flow.events_of("OrderDelivered")) == 1

    response = click(digital_fn, download["url"])
    assert response["statusCode"] == 302, response["body"]
    headers = {k: v[-1] for k, v in response["multiValueHeaders"].items()}
    assert headers["Cache-Control"] == "no-store"
    location = urlsplit(headers["Location"])
    query = parse_qs(location.query)
    assert int(query["X-Amz-Expires"][0]) <= 300
    assert query["response-content-disposition"][0].startswith('attachment; filename="Field guide.pdf"')
    fetched = requests.get(headers["Location"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == CONTENT
    assert entitlement_item(stack, body["order_id"])["downloads_remaining"] == 2

    flow.pump()  # a click is not an order change: nothing is published for it
    assert len(flow.events_of("DownloadReady")) == 1


def test_head_counts_nothing_and_forged_tokens_are_404_without_a_change(stack, shop, intake_fn, flow, digital_fn):
    _, body = native_order(intake_fn, lines=[("EBOOK", 1)], address=None)
    flow.pump()
    url = order_view(shop, body["order_id"])["downloads"][0]["url"]
    before = entitlement_item(stack, body["order_id"])

    assert click(digital_fn, url, "HEAD")["statusCode"] == 200
    token = url.rsplit("/", 1)[1]
    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token[:20], "d1.x.y.z"):
        response = click(digital_fn, f"https://x/downloads/{forged}")
        assert response["statusCode"] == 404
        assert response_json(response)["error"]["code"] == "not_found"
    assert entitlement_item(stack, body["order_id"]) == before


def test_an_unpaid_order_gets_its_link_once_the_hold_is_released(stack, shop, intake_fn, flow, digital_fn):
    _, body = native_order(intake_fn, lines=[("EBOOK", 1)], address=None, payment_status="pending")
    flow.pump()
    view = order_view(shop, body["order_id"])
    assert view["status"] == "on_hold" and view["downloads"] == []
    assert flow.events_of("DownloadReady") == []

    shop.release(body["order_id"], "awaiting_payment")
    flow.pump()
    flow.pump()
    assert len(flow.events_of("DownloadReady")) == 1
    assert order_view(shop, body["order_id"])["downloads"][0]["status"] == "active"


def test_links_of_a_cancelled_order_are_revoked(stack, shop, intake_fn, flow, digital_fn):
    _, body = native_order(intake_fn, lines=[("EBOOK", 1), ("MUG", 1)])
    flow.pump()
    url = order_view(shop, body["order_id"])["downloads"][0]["url"]
    shop.cancel(body["order_id"], "customer asked")
    flow.pump()

    response = click(digital_fn, url)
    assert response["statusCode"] == 410
    assert response_json(response)["error"]["code"] == "revoked"
    assert order_view(shop, body["order_id"])["downloads"][0]["status"] == "revoked"


def test_an_expired_link_is_gone_and_a_reissued_one_replaces_it(stack, shop, intake_fn, flow, digital_fn):
    _, body = native_order(intake_fn, lines=[("EBOOK", 1)], address=None)
    flow.pump()
    order_id = body["order_id"]
    [download] = order_view(shop, order_id)["downloads"]
    # Time passes: the link's expiry is now in the past.
    key = {k: entitlement_item(stack, order_id)[k] for k in ("PK", "SK")}
    stack.table().update_item(
        Key=key,
        UpdateExpression="SET expires_epoch = :t, expires_at = :at",
        ExpressionAttributeValues={":t": 1, ":at": "1970-01-01T00:00:01+00:00"},
    )
    response = click(digital_fn, download["url"])
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (410, "link_expired")

    reissued = operator(digital_fn, order_id, download["entitlement_id"], "reissue")
    assert reissued["statusCode"] == 200, reissued["body"]
    fresh = response_json(reissued)
    assert fresh["url"] != download["url"] and fresh["status"] == "active"
    old = click(digital_fn, download["url"])
    assert (old["statusCode"], response_json(old)["error"]["code"]) == (410, "revoked")
    assert click(digital_fn, fresh["url"])["statusCode"] == 302
    flow.pump()
    assert len(flow.events_of("DownloadReady")) == 2


def test_a_retried_reissue_answers_the_link_it_made_instead_of_revoking_it(stack, shop, intake_fn, flow, digital_fn):
    _, body = native_order(intake_fn, lines=[("EBOOK", 1)], address=None)
    flow.pump()
    order_id = body["order_id"]
    [download] = order_view(shop, order_id)["downloads"]
    first = response_json(operator(digital_fn, order_id, download["entitlement_id"], "reissue", key="ticket-42"))
    again = response_json(operator(digital_fn, order_id, download["entitlement_id"], "reissue", key="ticket-42"))
    assert again["url"] == first["url"]  # the answer was lost, the operator retried: same link, still working
    assert click(digital_fn, first["url"])["statusCode"] == 302
    other = response_json(operator(digital_fn, order_id, download["entitlement_id"], "reissue", key="ticket-43"))
    assert other["url"] != first["url"]  # a new request is a new reissue
    flow.pump()
    assert len(flow.events_of("DownloadReady")) == 3  # the grant and two reissues, not three


def test_the_limit_holds_and_then_says_so(stack, shop, intake_fn, flow, digital_fn):
    _, body = native_order(intake_fn, lines=[("EBOOK", 1)], address=None)
    flow.pump()
    url = order_view(shop, body["order_id"])["downloads"][0]["url"]
    assert [click(digital_fn, url)["statusCode"] for _ in range(4)] == [302, 302, 302, 410]
    assert response_json(click(digital_fn, url))["error"]["code"] == "download_limit_reached"
    assert entitlement_item(stack, body["order_id"])["downloads_served"] == 3


def test_the_customer_asks_for_the_links_again_once_a_minute(stack, shop, intake_fn, flow, digital_fn):
    _, body = native_order(intake_fn, lines=[("EBOOK", 1)], address=None)
    _, other = native_order(intake_fn, lines=[("EBOOK", 1)], address=None, external_id="another-customer")
    flow.pump()

    def resend(token: str) -> dict:
        order_id = body["order_id"]
        event = api_event(
            "POST",
            f"/orders/{order_id}/downloads/resend",
            resource="/orders/{order_id}/downloads/resend",
            path_parameters={"order_id": order_id},
            query={"token": token},
        )
        return digital_fn.lambda_handler(event, Context())

    assert resend(other["access_token"])["statusCode"] == 404  # someone else's token: no such order
    first = resend(body["access_token"])
    assert first["statusCode"] == 202, first["body"]
    assert response_json(first)["resent"] == [f"{body['order_id']}.d01"]
    second = resend(body["access_token"])
    assert (second["statusCode"], response_json(second)["error"]["code"]) == (429, "too_many_requests")
    flow.pump()
    mine = [e for e in flow.events_of("DownloadReady") if e["detail"]["order_id"] == body["order_id"]]
    assert len(mine) == 2 and len({e["detail"]["event_id"] for e in mine}) == 2
    assert mine[0]["detail"]["detail"]["downloads"][0]["url"] == mine[1]["detail"]["detail"]["downloads"][0]["url"]
