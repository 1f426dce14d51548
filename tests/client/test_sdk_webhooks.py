"""``client.webhooks`` (sync and async) against a real server whose dispatcher is off, so nothing is
ever sent to the public address the endpoints name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from billbook.client import AsyncClient, Client, NotFoundError, InvalidRequestError, WebhookEndpoint
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_account, create_key, recharge
from tests.servers import Server

PUBLIC = "https://93.184.215.14/hooks"
QUIET = {"BILLBOOK_WEBHOOK_DISPATCH": "false"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(f"sqlite:///{tmp_path_factory.mktemp('sdk-webhooks') / 'billbook.db'}", env=QUIET)
    yield running
    running.stop()


@pytest.fixture
def customer(server: Server) -> dict:
    with httpx.Client(base_url=server.base_url) as http:
        account = create_account(http, ADMIN_TOKEN)
        key = create_key(http, ADMIN_TOKEN, account["id"])
    return {"account": account, "api_key": key["api_key"]}


def test_sync_client_manages_endpoints_and_reads_the_log(server: Server, customer: dict) -> None:
    with Client(api_key=customer["api_key"], base_url=server.base_url) as client:
        made = client.webhooks.create(PUBLIC, ["recharge.created"])
        assert isinstance(made, WebhookEndpoint) and made.secret and made.secret.startswith("whsec_")
        listed = client.webhooks.list()
        assert [e.id for e in listed] == [made.id] and listed[0].secret is None
        with httpx.Client(base_url=server.base_url) as http:
            recharge(http, ADMIN_TOKEN, customer["account"]["id"], "3")
        page = client.webhooks.deliveries(made.id)
        assert page.total == 1 and page.items[0].type == "recharge.created" and page.items[0].state == "pending"
        again = client.webhooks.resend(made.id, page.items[0].id)
        assert again.event_id == page.items[0].event_id
        rotated = client.webhooks.rotate(made.id)
        assert rotated.secret != made.secret and rotated.previous_secret_expires_at > made.created_at
        with pytest.raises(InvalidRequestError, match="url"):
            client.webhooks.create("http://127.0.0.1/x", ["recharge.created"])
        client.webhooks.delete(made.id)
        assert client.webhooks.list() == ()
        with pytest.raises(NotFoundError):
            client.webhooks.delete(made.id)


async def test_async_client_has_the_same_calls(server: Server, customer: dict) -> None:
    async with AsyncClient(api_key=customer["api_key"], base_url=server.base_url) as client:
        made = await client.webhooks.create(PUBLIC, ["hold.expired", "recharge.created"])
        assert made.events == ("recharge.created", "hold.expired")
        assert [e.id for e in await client.webhooks.list()] == [made.id]
        assert (await client.webhooks.deliveries(made.id, page=1, page_size=5)).total == 0
        await client.webhooks.delete(made.id)


def test_a_create_is_never_retried(tmp_path: Path) -> None:
    sent = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503, json={"code": 503, "message": "busy", "data": None})

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with Client(api_key="k", base_url="http://billbook.test", http_client=http) as client, pytest.raises(Exception):
        client.webhooks.create(PUBLIC, ["recharge.created"])
    assert len(sent) == 1
