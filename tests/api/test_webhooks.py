"""The webhook routes over HTTP: shapes, checks, ownership and the delivery log (no dispatcher runs
here; tests/test_webhook_delivery.py and tests/ledger/test_dispatcher.py send for real)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_webhook, acustomer, arecharge

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
#: A global address given as a literal: it passes the address check without any DNS lookup, and
#: nothing is ever sent to it (no dispatcher runs in these tests).
PUBLIC = "https://93.184.215.14/hooks/billbook"


async def test_create_shows_the_secret_once_and_lists_without_it(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    made = await acreate_webhook(client, who["key"]["api_key"], PUBLIC, ["hold.expired", "recharge.created"])
    assert set(made) == {"id", "url", "events", "secret", "created_at", "disabled_at", "previous_secret_expires_at"}
    assert made["id"].startswith("we_") and made["url"] == PUBLIC
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 40
    assert made["events"] == ["recharge.created", "hold.expired"]  # the vocabulary's order
    listed = (await client.get("/api/v3/webhooks", headers=who["headers"])).json()["data"]
    assert listed == [{k: v for k, v in made.items() if k != "secret"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://93.184.215.14/x", "events": ["recharge.created"]}, "url"),
        ({"url": "http://127.0.0.1:9/x", "events": ["recharge.created"]}, "url"),
        ({"url": "http://localhost/x", "events": ["recharge.created"]}, "url"),
        ({"url": "http://10.1.2.3/x", "events": ["recharge.created"]}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data", "events": ["recharge.created"]}, "url"),
        ({"url": "http://[::1]/x", "events": ["recharge.created"]}, "url"),
        ({"url": "http://[::ffff:192.168.0.1]/x", "events": ["recharge.created"]}, "url"),
        ({"url": "http://user:pw@93.184.215.14/x", "events": ["recharge.created"]}, "url"),
        ({"url": 12, "events": ["recharge.created"]}, "url"),
        ({"url": PUBLIC, "events": []}, "events"),
        ({"url": PUBLIC, "events": ["recharge.made"]}, "events"),
        ({"url": PUBLIC, "events": ["webhook.disabled"]}, "events"),  # the operator's alone
        ({"url": PUBLIC}, "events"),
    ],
)
async def test_bad_endpoints_are_refused_naming_the_field(client: httpx.AsyncClient, body: dict, field: str) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    response = await client.post("/api/v3/webhooks", json=body, headers=who["headers"])
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(field)
    assert (await client.get("/api/v3/webhooks", headers=who["headers"])).json()["data"] == []


async def test_a_customer_sees_and_touches_only_its_own_endpoints(client: httpx.AsyncClient) -> None:
    alice = await acustomer(client, ADMIN_TOKEN, name="alice")
    bob = await acustomer(client, ADMIN_TOKEN, name="bob")
    hers = await acreate_webhook(client, alice["key"]["api_key"], PUBLIC, ["recharge.created"])
    platform = await acreate_webhook(client, ADMIN_TOKEN, PUBLIC, ["webhook.disabled"], operator=True)
    assert (await client.get("/api/v3/webhooks", headers=bob["headers"])).json()["data"] == []
    for other in (hers["id"], platform["id"]):
        for method, path in (
            ("DELETE", f"/api/v3/webhooks/{other}"),
            ("POST", f"/api/v3/webhooks/{other}/rotate"),
            ("GET", f"/api/v3/webhooks/{other}/deliveries"),
            ("POST", f"/api/v3/webhooks/{other}/deliveries/1/resend"),
        ):
            response = await client.request(method, path, headers=bob["headers"])
            assert response.status_code == 404, (method, path, response.text)
    operator_list = (await client.get("/internal/v1/webhooks", headers=ADMIN)).json()["data"]
    assert [h["id"] for h in operator_list] == [platform["id"]]
    assert (await client.get("/internal/v1/webhooks")).status_code == 401


async def test_deliveries_are_written_with_the_event_and_paged(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    other = await acustomer(client, ADMIN_TOKEN, name="other")
    hook = await acreate_webhook(client, who["key"]["api_key"], PUBLIC, ["recharge.created"])
    platform = await acreate_webhook(client, ADMIN_TOKEN, PUBLIC, ["recharge.created"], operator=True)
    for n in range(3):
        await arecharge(client, ADMIN_TOKEN, who["account"]["id"], f"{n + 1}")
    await arecharge(client, ADMIN_TOKEN, other["account"]["id"], "9")
    page = (await client.get(f"/api/v3/webhooks/{hook['id']}/deliveries", params={"page_size": 2},
                             headers=who["headers"])).json()["data"]
    assert (page["page"], page["page_size"], page["total"], page["has_more"]) == (1, 2, 3, True)
    item = page["items"][0]
    assert set(item) == {"id", "event_id", "type", "state", "created_at", "next_attempt_at", "delivered_at", "attempts"}
    assert item["event_id"].startswith("evt_") and item["type"] == "recharge.created"
    assert item["state"] == "pending" and item["attempts"] == []
    last = (await client.get(f"/api/v3/webhooks/{hook['id']}/deliveries", params={"page": 2, "page_size": 2},
                             headers=who["headers"])).json()["data"]
    assert len(last["items"]) == 1 and not last["has_more"]
    everyone = (await client.get(f"/internal/v1/webhooks/{platform['id']}/deliveries", headers=ADMIN)).json()["data"]
    assert everyone["total"] == 4  # every account's events
    resent = (await client.post(f"/api/v3/webhooks/{hook['id']}/deliveries/{item['id']}/resend",
                                headers=who["headers"])).json()["data"]
    assert resent["id"] == item["id"] and resent["state"] == "pending"
    bad = await client.get(f"/api/v3/webhooks/{hook['id']}/deliveries", params={"page_size": 101}, headers=who["headers"])
    assert bad.status_code == 400 and "page_size" in bad.json()["message"]


async def test_rotate_and_delete(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    hook = await acreate_webhook(client, who["key"]["api_key"], PUBLIC, ["recharge.created"])
    rotated = (await client.post(f"/api/v3/webhooks/{hook['id']}/rotate", headers=who["headers"])).json()["data"]
    assert rotated["id"] == hook["id"] and rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    listed = (await client.get("/api/v3/webhooks", headers=who["headers"])).json()["data"]
    assert listed[0]["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
    gone = await client.delete(f"/api/v3/webhooks/{hook['id']}", headers=who["headers"])
    assert gone.json()["data"] == {"id": hook["id"], "deleted": True}
    assert (await client.get("/api/v3/webhooks", headers=who["headers"])).json()["data"] == []
    assert (await client.delete(f"/api/v3/webhooks/{hook['id']}", headers=who["headers"])).status_code == 404
    await arecharge(client, ADMIN_TOKEN, who["account"]["id"], "1")  # no delivery for a deleted endpoint
    assert (await client.get(f"/api/v3/webhooks/{hook['id']}/deliveries", headers=who["headers"])).status_code == 404
