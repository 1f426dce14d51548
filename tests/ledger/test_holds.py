"""Holds that expire: predictions still open past their hold deadline are moved to ``timeout`` and
refunded once, by a sweep, by concurrent sweeps, and by the server itself in the background.

Expired holds are made by back-dating charges (``created_at`` two hours ago): their deadline is
their ``created_at`` plus the hold timeout (one hour by default), so it has passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import httpx
import pytest

from billbook.api.app import create_app
from billbook.ledger import holds
from billbook.settings import Settings
from billbook.store.db import Database
from billbook.times import ms_to_iso, now_ms
from tests.checks import assert_verified, assert_verify_cli
from tests.conftest import ADMIN_TOKEN, open_database, start_server, stop_server
from tests.factories import acreate_charge, acustomer, aset_status, create_account, create_charge, create_key, new_uuid
from tests.servers import fresh_database

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HOUR_MS = 3_600_000


def sweep(db: Database, **kwargs: object) -> object:
    return holds.sweep(lambda: db.transaction(write=True), **kwargs)  # type: ignore[arg-type]


async def charge(client: httpx.AsyncClient, who: dict, *, age_ms: int, price: str = "0.25") -> str:
    """A charge made ``age_ms`` ago; returns its prediction uuid."""
    uuid = new_uuid()
    await acreate_charge(
        client, ADMIN_TOKEN, who["key"]["access_key_id"], price=price, prediction_uuid=uuid, created_at=now_ms() - age_ms
    )
    return uuid


async def records(client: httpx.AsyncClient, who: dict, billing_type: str) -> list[dict]:
    items, page = [], 1
    while True:
        body = {"page": page, "page_size": 100, "billing_type": billing_type}
        data = (await client.post("/api/v3/billings/search", json=body, headers=who["headers"])).json()["data"]
        items += data["items"]
        if not data["has_more"]:
            return items
        page += 1


async def balance(client: httpx.AsyncClient, who: dict) -> Decimal:
    data = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]
    return Decimal(str(data["balance"]))


async def status_of(client: httpx.AsyncClient, who: dict, uuid: str) -> str:
    body = {"page": 1, "page_size": 1, "billing_type": "deduct", "prediction_uuids": [uuid]}
    data = (await client.post("/api/v3/billings/search", json=body, headers=who["headers"])).json()["data"]
    return str(data["items"][0]["prediction"]["status"])


async def refunded_once(client: httpx.AsyncClient, who: dict, uuids: list[str], failed: tuple[str, ...] = ()) -> None:
    """Each of ``uuids`` is ``timeout`` with exactly one refund; no other prediction but those that
    ``failed`` was refunded."""
    refunds = [r["prediction"]["uuid"] for r in await records(client, who, "refund")]
    assert sorted(refunds) == sorted([*uuids, *failed])
    for uuid in uuids:
        assert await status_of(client, who, uuid) == "timeout"


async def test_expired_holds_are_refunded_once_and_open_ones_untouched(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    expired = [await charge(client, who, age_ms=2 * HOUR_MS) for _ in range(3)]
    running = await charge(client, who, age_ms=2 * HOUR_MS)
    await aset_status(client, ADMIN_TOKEN, running, "processing")
    expired.append(running)
    fresh = await charge(client, who, age_ms=10 * 60_000)
    done = await charge(client, who, age_ms=2 * HOUR_MS)
    await aset_status(client, ADMIN_TOKEN, done, "completed")
    failed = await charge(client, who, age_ms=2 * HOUR_MS)
    await aset_status(client, ADMIN_TOKEN, failed, "failed")
    assert await balance(client, who) == Decimal("8.5")  # 7 charges of 0.25, one refunded

    assert await sweep(app.state.db) == 4
    assert await sweep(app.state.db) == 0  # nothing left: a second sweep changes nothing

    await refunded_once(client, who, expired, failed=(failed,))
    assert await balance(client, who) == Decimal("9.5")  # fresh and done still hold their price
    assert await status_of(client, who, fresh) == "created"
    assert await status_of(client, who, done) == "completed"
    refund = next(r for r in await records(client, who, "refund") if r["prediction"]["uuid"] == expired[0])
    assert refund["order"]["state"] == "refunded" and refund["price"] == 0.25
    await assert_verified(app.state.db)


async def test_a_sweep_works_in_batches(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    """More expired holds than a batch: every one is taken, one transaction per batch."""
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    uuids = [await charge(client, who, age_ms=2 * HOUR_MS, price="0.01") for _ in range(23)]
    assert await sweep(app.state.db, batch_size=5) == 23
    await refunded_once(client, who, uuids)
    assert await balance(client, who) == Decimal("10")
    await assert_verified(app.state.db)


@pytest.mark.parametrize("late", ["completed", "processing"])
async def test_a_late_status_after_the_hold_expired_is_409(client: httpx.AsyncClient, app, late: str) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN)
    created_at = now_ms() - 2 * HOUR_MS
    uuid = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], prediction_uuid=uuid, created_at=created_at)
    assert await sweep(app.state.db) == 1
    before = await balance(client, who)

    url = f"/internal/v1/predictions/{uuid}/status"
    response = await client.post(url, json={"status": late}, headers=ADMIN)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == 409 and body["data"] is None
    deadline = ms_to_iso(created_at + HOUR_MS)
    assert body["message"] == f"prediction {uuid}'s hold expired at {deadline}: it was refunded and cannot be {late}"
    # The refund stands; repeating the timeout the sweeper set is the usual no-op.
    assert await balance(client, who) == before
    assert (await client.post(url, json={"status": "timeout"}, headers=ADMIN)).status_code == 200
    await refunded_once(client, who, [uuid])
    await assert_verified(app.state.db)


async def test_a_timeout_before_the_deadline_keeps_the_usual_message(client: httpx.AsyncClient) -> None:
    """Only a hold that expired says so; the platform's own early timeout refuses as before."""
    who = await acustomer(client, ADMIN_TOKEN)
    uuid = await charge(client, who, age_ms=0)
    await aset_status(client, ADMIN_TOKEN, uuid, "timeout")
    response = await client.post(f"/internal/v1/predictions/{uuid}/status", json={"status": "completed"}, headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["message"] == f"prediction {uuid} cannot go from timeout to completed"


async def test_concurrent_sweepers_refund_each_hold_once(client: httpx.AsyncClient, database_url: str, app) -> None:  # noqa: ANN001
    """Sweepers on their own connections (as separate processes or servers would be), small batches."""
    who = await acustomer(client, ADMIN_TOKEN, balance="100")
    other = await acustomer(client, ADMIN_TOKEN, balance="100", name="other")
    uuids = [await charge(client, who if n % 3 else other, age_ms=2 * HOUR_MS, price="0.1") for n in range(60)]
    databases = [open_database(database_url) for _ in range(4)]
    try:
        counts = await asyncio.gather(*(sweep(db, batch_size=4) for db in databases for _ in range(2)))
    finally:
        for db in databases:
            await db.dispose()
    assert sum(counts) == 60
    await refunded_once(client, who, [u for n, u in enumerate(uuids) if n % 3])
    await refunded_once(client, other, [u for n, u in enumerate(uuids) if not n % 3])
    assert await balance(client, who) == await balance(client, other) == Decimal("100")
    await assert_verified(app.state.db)


async def test_sweeps_racing_completions_settle_each_prediction_once(client: httpx.AsyncClient, database_url: str, app) -> None:  # noqa: ANN001
    """The platform reports ``completed`` while sweepers expire the same holds: each prediction ends
    either completed (and keeps its charge) or expired (refunded, and the completion is a 409)."""
    who = await acustomer(client, ADMIN_TOKEN, balance="100")
    uuids = [await charge(client, who, age_ms=2 * HOUR_MS, price="1") for _ in range(30)]
    databases = [open_database(database_url) for _ in range(2)]

    async def complete(uuid: str) -> httpx.Response:
        return await client.post(f"/internal/v1/predictions/{uuid}/status", json={"status": "completed"}, headers=ADMIN)

    try:
        results = await asyncio.gather(*(sweep(db, batch_size=3) for db in databases), *map(complete, uuids))
    finally:
        for db in databases:
            await db.dispose()
    answers = dict(zip(uuids, results[2:], strict=True))
    for uuid, response in answers.items():
        assert response.status_code in (200, 409), response.text
        if response.status_code == 409:
            assert "hold expired" in response.json()["message"]
    expired = [u for u, r in answers.items() if r.status_code == 409]
    assert sum(results[:2]) == len(expired)
    await refunded_once(client, who, expired)
    for uuid in set(uuids) - set(expired):
        assert await status_of(client, who, uuid) == "completed"
    assert await balance(client, who) == Decimal(100 - 30 + len(expired))
    await assert_verified(app.state.db)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer at a time
async def test_postgresql_sweepers_skip_the_rows_another_holds(client: httpx.AsyncClient, pg_url: str, app) -> None:  # noqa: ANN001
    """While one sweeper's batch is open, another takes the remaining holds without waiting for it.

    The open batch holds one account's balance (its refunds locked it), so the remaining holds are
    another account's: holds of the same account would wait for that balance, as any refund does."""
    first_who = await acustomer(client, ADMIN_TOKEN, balance="10")
    second_who = await acustomer(client, ADMIN_TOKEN, balance="10", name="second")
    older = [await charge(client, first_who, age_ms=3 * HOUR_MS, price="0.5") for _ in range(4)]
    newer = [await charge(client, second_who, age_ms=2 * HOUR_MS, price="0.5") for _ in range(6)]
    first, second = open_database(pg_url), open_database(pg_url)
    try:
        async with first.transaction(write=True) as conn:
            assert await holds.expire_batch(conn, now_ms(), limit=4) == (4, 4)  # the oldest deadlines first
            assert await sweep(second) == 6  # the four locked ones are skipped, not waited for
        assert await sweep(second) == 0
    finally:
        await first.dispose()
        await second.dispose()
    await refunded_once(client, first_who, older)
    await refunded_once(client, second_who, newer)
    await assert_verified(app.state.db)


# --- the sweeper in the background ------------------------------------------------------------------


async def test_the_app_sweeps_by_itself_and_stops_cleanly(database_url: str) -> None:
    application = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=1))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test") as client:
            who = await acustomer(client, ADMIN_TOKEN, balance="5")
            uuid = await charge(client, who, age_ms=2 * HOUR_MS, price="2")
            fresh = await charge(client, who, age_ms=0, price="1")
            while await status_of(client, who, uuid) != "timeout":
                await asyncio.sleep(0.1)
            await refunded_once(client, who, [uuid])
            assert await status_of(client, who, fresh) == "created"
            assert await balance(client, who) == Decimal("4")
            await assert_verified(application.state.db)
    # The lifespan ended: the sweeper task is gone with it.
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "billbook-hold-sweeper"]


async def test_a_failed_sweep_is_logged_and_the_loop_goes_on(
    client: httpx.AsyncClient, app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="5")
    uuid = await charge(client, who, age_ms=2 * HOUR_MS, price="2")
    real, calls = holds.expire_batch, []
    stop = asyncio.Event()

    async def failing_once(conn, now, limit=holds.BATCH_SIZE):  # noqa: ANN001, ANN202
        calls.append(now)
        if len(calls) == 1:
            raise ConnectionResetError("the database went away")
        result = await real(conn, now, limit)
        stop.set()
        return result

    monkeypatch.setattr(holds, "expire_batch", failing_once)
    with caplog.at_level(logging.INFO, logger="billbook.holds"):
        await holds.sweep_forever(lambda: app.state.db.transaction(write=True), 0.01, stop)
    assert len(calls) == 2
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "hold sweep failed" in failure.getMessage() and failure.exc_info is not None
    assert any(r.getMessage() == "hold sweep: 1 expired hold(s) refunded" for r in caplog.records)
    await refunded_once(client, who, [uuid])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_live_server_expires_a_hold_by_itself(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    """``billbook serve`` with two workers, each sweeping every second, on a fresh database."""
    with fresh_database(backend, tmp_path_factory, request) as url:
        proc, base = start_server(url, workers=2, env={"BILLBOOK_HOLD_SWEEP_INTERVAL": "1s"})
        try:
            with httpx.Client(base_url=base, timeout=30) as http:
                account = create_account(http, ADMIN_TOKEN, balance="3")
                key = create_key(http, ADMIN_TOKEN, account["id"])
                headers = {"Authorization": f"Bearer {key['api_key']}"}
                uuid = new_uuid()
                create_charge(http, ADMIN_TOKEN, key["access_key_id"], price="1", prediction_uuid=uuid,
                              created_at=now_ms() - 2 * HOUR_MS)
                body = {"page": 1, "page_size": 10, "billing_type": "refund"}
                while not (items := http.post("/api/v3/billings/search", json=body, headers=headers).json()["data"]["items"]):
                    time.sleep(0.2)
                assert [i["prediction"]["uuid"] for i in items] == [uuid]
                assert items[0]["prediction"]["status"] == "timeout"
                late = http.post(f"/internal/v1/predictions/{uuid}/status", json={"status": "completed"}, headers=ADMIN)
                assert late.status_code == 409 and "hold expired" in late.json()["message"]
                assert http.get("/api/v3/balance", headers=headers).json()["data"]["balance"] == 3
        finally:
            stop_server(proc)
        assert_verify_cli(url)
