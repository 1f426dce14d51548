"""The dispatcher in process, step by step, against a real receiver on 127.0.0.1: giving up and
telling the operator, rotation's two signatures, the lease, the address check at delivery time,
redirects, and the backoff schedule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from standardwebhooks import Webhook

from billbook.api.app import create_app
from billbook.ledger.dispatcher import DispatchConfig, Dispatcher
from billbook.settings import Settings
from billbook.store.db import Database
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_webhook, acustomer, arecharge
from tests.webhook_receiver import Receiver

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TYPES = ["recharge.created"]


@pytest.fixture
async def app_private(database_url: str) -> AsyncIterator:
    settings = Settings(
        database_url=database_url, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=None, webhook_dispatch=False,
        webhook_allow_private=True,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app_private) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_private), base_url="http://billbook.test") as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def _dispatcher(app, **config) -> Dispatcher:  # noqa: ANN001
    db: Database = app.state.db
    base = {"allow_private": True, "retry_base_s": 0.05, "retry_max_s": 0.1, "timeout_s": 2.0}
    return Dispatcher(lambda: db.transaction(write=True), app.state.webhook_box, DispatchConfig(**(base | config)))


async def _until(dispatcher: Dispatcher, condition, steps: int = 400) -> None:  # noqa: ANN001
    """Step the dispatcher until ``condition()`` holds (a bounded number of steps)."""
    for _ in range(steps):
        await dispatcher.step()
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_the_operator_told(
    app_private, http: httpx.AsyncClient, receiver: Receiver, caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    receiver.policy = lambda path, webhook_id, seen: 200 if path == "/operator" else 503
    who = await acustomer(http, ADMIN_TOKEN)
    hook = await acreate_webhook(http, who["key"]["api_key"], receiver.url("/down"), TYPES)
    await acreate_webhook(http, ADMIN_TOKEN, receiver.url("/operator"), ["webhook.disabled"], operator=True)
    await arecharge(http, ADMIN_TOKEN, who["account"]["id"], "1")
    dispatcher = _dispatcher(app_private, give_up_after_ms=1500)

    async def disabled() -> bool:
        listed = (await http.get("/api/v3/webhooks", headers=who["headers"])).json()["data"]
        return listed[0]["disabled_at"] is not None and bool(receiver.accepted("/operator"))

    with caplog.at_level(logging.WARNING, logger="billbook.webhooks"):
        await _until(dispatcher, disabled)
    await dispatcher.close()
    told = receiver.accepted("/operator")[0]
    payload = httpx.Response(200, content=told.body).json()
    assert payload["type"] == "webhook.disabled"
    assert payload["data"]["endpoint_id"] == hook["id"] and payload["data"]["account_id"] == who["account"]["id"]
    assert any(hook["id"] in r.getMessage() and "disabled" in r.getMessage() for r in caplog.records)
    log = (await http.get(f"/api/v3/webhooks/{hook['id']}/deliveries", headers=who["headers"])).json()["data"]
    assert log["items"][0]["state"] == "failed" and len(log["items"][0]["attempts"]) >= 2
    assert all(a["status_code"] == 503 for a in log["items"][0]["attempts"])

    # A resend enables the endpoint again and sends the same event.
    receiver.policy = lambda path, webhook_id, seen: 200
    delivery = log["items"][0]
    await http.post(f"/api/v3/webhooks/{hook['id']}/deliveries/{delivery['id']}/resend", headers=who["headers"])
    again = _dispatcher(app_private)
    await _until(again, lambda: _true_if(receiver.accepted("/down")))
    await again.close()
    assert receiver.accepted("/down")[0].headers["webhook-id"] == delivery["event_id"]


async def _true_if(value: object) -> bool:
    return bool(value)


async def test_during_a_rotation_both_secrets_sign(app_private, http: httpx.AsyncClient, receiver: Receiver) -> None:  # noqa: ANN001
    who = await acustomer(http, ADMIN_TOKEN)
    hook = await acreate_webhook(http, who["key"]["api_key"], receiver.url(), TYPES)
    rotated = (await http.post(f"/api/v3/webhooks/{hook['id']}/rotate", headers=who["headers"])).json()["data"]
    await arecharge(http, ADMIN_TOKEN, who["account"]["id"], "2")
    dispatcher = _dispatcher(app_private)
    await _until(dispatcher, lambda: _true_if(receiver.accepted()))
    await dispatcher.close()
    got = receiver.accepted()[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], rotated["secret"]):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "recharge.created"


async def test_one_lease_holder_at_a_time(app_private) -> None:  # noqa: ANN001
    first, second = _dispatcher(app_private), _dispatcher(app_private)
    assert await first.hold_lease() and await first.hold_lease()  # renewing
    assert not await second.hold_lease()
    await first.close()  # gives it back
    assert await second.hold_lease()
    assert not await first.hold_lease()
    await second.close()


async def test_private_targets_are_refused_at_delivery_and_redirects_not_followed(
    app_private, http: httpx.AsyncClient, receiver: Receiver  # noqa: ANN001
) -> None:
    who = await acustomer(http, ADMIN_TOKEN)
    hook = await acreate_webhook(http, who["key"]["api_key"], receiver.url(), TYPES)
    await arecharge(http, ADMIN_TOKEN, who["account"]["id"], "1")
    strict = _dispatcher(app_private, allow_private=False)
    await strict.step()
    await strict.close()
    assert receiver.all() == []
    log = (await http.get(f"/api/v3/webhooks/{hook['id']}/deliveries", headers=who["headers"])).json()["data"]
    attempt = log["items"][0]["attempts"][0]
    assert attempt["status_code"] is None and "private" in attempt["error"]

    receiver.policy = lambda path, webhook_id, seen: 302
    lenient = _dispatcher(app_private, retry_base_s=5.0)
    await _until(lenient, lambda: _true_if(receiver.all()))
    await lenient.close()
    log = (await http.get(f"/api/v3/webhooks/{hook['id']}/deliveries", headers=who["headers"])).json()["data"]
    assert log["items"][0]["attempts"][-1]["status_code"] == 302 and log["items"][0]["state"] == "pending"
    assert len(receiver.all()) == 1


def test_backoff_first_retry_within_10_s_then_doubling_up_to_the_maximum() -> None:
    config = DispatchConfig()
    assert all(2.5 <= config.retry_delay_s(1) <= 5 for _ in range(100))
    assert all(5 <= config.retry_delay_s(2) <= 10 for _ in range(100))
    assert all(1800 <= config.retry_delay_s(40) <= 3600 for _ in range(100))
    total = sum(3600 for _ in range(72))  # the cap reached after ~10 tries: about 80 tries in 3 days
    assert total >= config.give_up_after_ms / 1000
