"""Webhooks delivered by real ``billbook serve`` processes to a real receiver on 127.0.0.1.

- A receiver that fails the first attempts of every event gets each one, signed as Standard Webhooks
  says (checked by the ``standardwebhooks`` library, not by our code), with the same ``webhook-id``
  on every retry and the event's stored bytes as its ``data``.
- SIGKILL of the server after the ledger change and before the delivery, and again while a request
  is in flight: after a restart every event arrives.
- Random recharges and adjustments over several accounts: no event of one account ever reaches
  another account's endpoint; the operator's endpoint gets them all.
- Several servers and workers on one database: one dispatcher sends, so each event arrives once.

Retry delays are made short through settings (``BILLBOOK_WEBHOOK_RETRY_BASE_S``), never by mocking
time; waits are bounded polls, not timed assertions.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from billbook.store import events as event_store
from tests.conftest import ADMIN_TOKEN, open_database
from tests.factories import create_account, create_key, create_webhook, new_uuid, recharge
from tests.servers import Server, fresh_database
from tests.webhook_receiver import Receiver

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FAST = {
    "BILLBOOK_WEBHOOK_ALLOW_PRIVATE": "true",
    "BILLBOOK_WEBHOOK_RETRY_BASE_S": "0.2",
    "BILLBOOK_WEBHOOK_POLL_INTERVAL_S": "0.1",
    "BILLBOOK_WEBHOOK_TIMEOUT_S": "2",
}
TYPES = ["recharge.created", "adjustment.created"]
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _adjust(http: httpx.Client, account_id: int, amount: str) -> None:
    body = {"amount": amount, "reason": "correction", "reference": new_uuid()}
    response = http.post(f"/internal/v1/accounts/{account_id}/adjustments", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text


def _stored_events(url: str) -> dict[str, dict]:
    """Every event in the outbox by uuid: ``account_id``, ``type``, ``data`` (text), ``created_at``."""

    async def read() -> dict[str, dict]:
        db = open_database(url)
        try:
            async with db.transaction(write=False) as conn:
                found = await event_store.after(conn, 0, 100_000)
        finally:
            await db.dispose()
        return {e.uuid: {"account_id": e.account_id, "type": e.type, "data": e.data, "id": e.id} for e in found}

    return asyncio.run(read())


def _verified(secret: str, request_body: bytes, headers: dict[str, str]) -> dict:
    """The payload, verified by the ``standardwebhooks`` library (raises if the signature is wrong)."""
    return Webhook(secret).verify(request_body, headers)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_receiver_failing_the_first_attempts_gets_every_event_as_signed(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    receiver = Receiver(lambda path, webhook_id, seen: 500 if seen < 2 else 200)
    with fresh_database(backend, tmp_path_factory, request) as url:
        server = Server(url, env=FAST)
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                account = create_account(http, ADMIN_TOKEN, balance="10")
                key = create_key(http, ADMIN_TOKEN, account["id"])
                hook = create_webhook(http, key["api_key"], receiver.url(), TYPES)
                assert hook["secret"].startswith("whsec_") and hook["events"] == TYPES
                for n in range(4):
                    recharge(http, ADMIN_TOKEN, account["id"], f"1.{n}5")
                    _adjust(http, account["id"], f"-0.{n}1")
                stored = _stored_events(url)
                # The opening balance's recharge came before the endpoint: it is not sent.
                expected = {u for u, e in stored.items() if e["id"] > min(e["id"] for e in stored.values())}
                assert len(expected) == 8
                receiver.wait_for(lambda: {r.headers["webhook-id"] for r in receiver.accepted()} >= expected)

                by_id: dict[str, list] = {}
                for got in receiver.all():
                    by_id.setdefault(got.headers["webhook-id"], []).append(got)
                assert set(by_id) == expected
                for uuid, attempts in by_id.items():
                    assert [a.status for a in attempts][:3] == [500, 500, 200], uuid
                    event = stored[uuid]
                    for attempt in attempts:
                        payload = _verified(hook["secret"], attempt.body, attempt.headers)
                        assert payload["type"] == event["type"]
                        # The data's bytes are exactly the stored ones.
                        assert attempt.body.decode().endswith(',"data":' + event["data"] + "}")
                        assert orjson.loads(event["data"])["account_id"] == account["id"]

                def log() -> dict:
                    return http.get(f"/api/v3/webhooks/{hook['id']}/deliveries", params={"page_size": 100},
                                    headers={"Authorization": f"Bearer {key['api_key']}"}).json()["data"]

                # The receiver answers before the dispatcher records the answer.
                receiver.wait_for(lambda: all(i["state"] == "delivered" for i in log()["items"]))
                log = log()
                assert log["total"] == 8 and not log["has_more"]
                for item in log["items"]:
                    assert item["state"] == "delivered"
                    assert [a["status_code"] for a in item["attempts"]] == [500, 500, 200]
                    assert all(a["latency_ms"] is not None for a in item["attempts"])
                    assert item["attempts"][0]["error"] == "HTTP 500" and item["attempts"][0]["response_body"] == "not now"
        finally:
            server.stop()
            receiver.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_between_the_change_and_its_delivery_loses_no_event(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    release = threading.Event()

    def slow_first(path: str, webhook_id: str, seen: int) -> int:
        if path == "/slow" and seen == 0:
            release.wait(10)  # holds the request while the server is killed
        return 200

    receiver = Receiver(slow_first)
    with fresh_database(backend, tmp_path_factory, request) as url:
        # 1. The changes commit; the server dies before its dispatcher runs.
        server = Server(url, env=FAST | {"BILLBOOK_WEBHOOK_DISPATCH": "false"})
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            account = create_account(http, ADMIN_TOKEN, balance="1")
            key = create_key(http, ADMIN_TOKEN, account["id"])
            create_webhook(http, key["api_key"], receiver.url("/hook"), TYPES)
            for n in range(5):
                recharge(http, ADMIN_TOKEN, account["id"], f"{n + 1}")
        server.kill()
        # Every recharge but the opening balance's, which came before the endpoint.
        expected = {u for u, e in _stored_events(url).items() if e["type"] == "recharge.created" and e["id"] > 1}
        assert len(expected) == 5

        # 2. A server that dies while a request is in flight.
        server = Server(url, env=FAST)
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            receiver.wait_for(lambda: {r.headers["webhook-id"] for r in receiver.accepted("/hook")} >= expected)
            key_headers = {"Authorization": f"Bearer {key['api_key']}"}
            assert http.post("/api/v3/webhooks", json={"url": receiver.url("/slow"), "events": TYPES},
                             headers=key_headers).status_code == 200
            recharge(http, ADMIN_TOKEN, account["id"], "7")
            receiver.wait_for(lambda: any(r.path == "/slow" for r in receiver.all()))
        server.kill()
        release.set()
        server = Server(url, env=FAST)
        try:
            receiver.wait_for(lambda: len([r for r in receiver.all() if r.path == "/slow"]) >= 2)
            slow = [r for r in receiver.all() if r.path == "/slow"]
            assert len({r.headers["webhook-id"] for r in slow}) == 1  # the same event, sent again
        finally:
            server.stop()
            receiver.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_event_of_one_account_reaches_another_accounts_endpoint(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(20261127)
    receiver = Receiver()
    with fresh_database(backend, tmp_path_factory, request) as url:
        server = Server(url, env=FAST)
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                accounts = []
                for n in range(4):
                    account = create_account(http, ADMIN_TOKEN, name=f"a{n}", balance="50")
                    key = create_key(http, ADMIN_TOKEN, account["id"])
                    for path in (f"/a{account['id']}/one", f"/a{account['id']}/two"):
                        create_webhook(http, key["api_key"], receiver.url(path), rng.sample(TYPES, rng.randint(1, 2)) if path.endswith("two") else TYPES)
                    accounts.append((account, key))
                create_webhook(http, ADMIN_TOKEN, receiver.url("/operator"), TYPES, operator=True)
                start = max(e["id"] for e in _stored_events(url).values())
                for _ in range(40):
                    account, _key = rng.choice(accounts)
                    if rng.random() < 0.5:
                        recharge(http, ADMIN_TOKEN, account["id"], f"{rng.randint(1, 500) / 100}")
                    else:
                        _adjust(http, account["id"], f"{rng.choice(['', '-'])}{rng.randint(1, 100) / 100}")
                stored = {u: e for u, e in _stored_events(url).items() if e["id"] > start}
                receiver.wait_for(lambda: {r.headers["webhook-id"] for r in receiver.accepted("/operator")} >= set(stored))
                for account, key in accounts:
                    own = {u for u, e in stored.items() if e["account_id"] == account["id"]}
                    receiver.wait_for(lambda own=own, a=account: {r.headers["webhook-id"] for r in receiver.accepted(f"/a{a['id']}/one")} >= own)
                    listed = http.get("/api/v3/webhooks", headers={"Authorization": f"Bearer {key['api_key']}"}).json()["data"]
                    assert {h["url"].rsplit("/", 2)[-2] for h in listed} == {f"a{account['id']}"}
                for got in receiver.all():
                    if got.path == "/operator":
                        continue
                    owner = int(got.path.split("/")[1][1:])
                    event = stored[got.headers["webhook-id"]]
                    assert event["account_id"] == owner, (got.path, event)
                    assert orjson.loads(got.body)["data"]["account_id"] == owner
                assert {r.headers["webhook-id"] for r in receiver.accepted("/operator")} == set(stored)
                # Another account's endpoint is not found, not deleted.
                (_a, ka), (_b, kb) = accounts[0], accounts[1]
                theirs = http.get("/api/v3/webhooks", headers={"Authorization": f"Bearer {ka['api_key']}"}).json()["data"][0]
                gone = http.delete(f"/api/v3/webhooks/{theirs['id']}", headers={"Authorization": f"Bearer {kb['api_key']}"})
                assert gone.status_code == 404
        finally:
            server.stop()
            receiver.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_servers_with_two_workers_each_send_every_event_once(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    receiver = Receiver()
    with fresh_database(backend, tmp_path_factory, request) as url:
        first = Server(url, workers=2, env=FAST)
        second = Server(url, workers=2, env=FAST)
        try:
            with httpx.Client(base_url=first.base_url, timeout=30) as http:
                account = create_account(http, ADMIN_TOKEN, balance="1")
                key = create_key(http, ADMIN_TOKEN, account["id"])
                hook = create_webhook(http, key["api_key"], receiver.url(), TYPES)
            for n in range(30):
                with httpx.Client(base_url=(first, second)[n % 2].base_url, timeout=30) as http:
                    recharge(http, ADMIN_TOKEN, account["id"], "0.5")
            expected = {u for u, e in _stored_events(url).items() if e["id"] > 1}
            assert len(expected) == 30
            receiver.wait_for(lambda: {r.headers["webhook-id"] for r in receiver.accepted()} >= expected)
            with httpx.Client(base_url=second.base_url, timeout=30) as http:
                def log() -> list[dict]:
                    return http.get(f"/api/v3/webhooks/{hook['id']}/deliveries", params={"page_size": 100},
                                    headers={"Authorization": f"Bearer {key['api_key']}"}).json()["data"]["items"]

                receiver.wait_for(lambda: all(i["state"] == "delivered" for i in log()))
                items = log()
            assert len(items) == 30 and all(len(i["attempts"]) == 1 for i in items)
            counts = Counter(r.headers["webhook-id"] for r in receiver.all())
            assert set(counts.values()) == {1}, counts.most_common(3)
        finally:
            first.stop()
            second.stop()
            receiver.close()
