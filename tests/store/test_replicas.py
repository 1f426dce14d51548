"""Customer reads on a real streaming replica (``pg_basebackup`` of a primary started here).

What is asserted is what the servers say: ``pg_is_in_recovery()`` in the connection that served a
transaction, and what a search returns while the replica's replay is paused
(``pg_wal_replay_pause()``): the replica's older state while it is within the bound, the primary's
newer one once the bound has passed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from billbook.api.app import create_app
from billbook.settings import Settings
from billbook.store.db import Database
from billbook.store.migrate import upgrade
from pgtopology import StreamingPair
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acreate_key, acustomer, new_uuid

pytestmark = pytest.mark.postgres

SEARCH = "/api/v3/billings/search"
#: Long enough that a paused replica keeps serving while a test looks at it.
GENEROUS_LAG_MS = 600_000
#: Short enough that a paused replica is dropped soon.
TIGHT_LAG_MS = 200
#: A generous ceiling on waiting for a replica to catch up or be dropped; never asserted on.
WAIT_S = 60


@pytest.fixture(scope="module")
def pair(direct_pg_admin_url: str) -> Iterator[StreamingPair]:
    """A primary with billbook's schema and a streaming replica of it."""
    with StreamingPair() as started:

        async def migrate() -> None:
            db = Database(started.primary.url())
            await upgrade(db)
            await db.dispose()

        asyncio.run(migrate())
        yield started


@pytest.fixture(autouse=True)
async def replay_resumes(pair: StreamingPair) -> AsyncIterator[None]:
    yield
    await _on_replica(pair, "SELECT pg_wal_replay_resume()")


async def _on_replica(pair: StreamingPair, sql: str) -> object:
    conn = await asyncpg.connect(pair.replica.url())
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _until(condition, what: str) -> None:  # noqa: ANN001 - a no-argument predicate
    """Wait (at most ``WAIT_S``) for ``condition()``; fails naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


async def _caught_up(pair: StreamingPair) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    conn = await asyncpg.connect(pair.primary.url())
    try:
        written = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
    finally:
        await conn.close()
    replica = await asyncpg.connect(pair.replica.url())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not await replica.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", written):
            if loop.time() > deadline:
                pytest.fail("gave up waiting for the replica to replay the primary's WAL")
            await asyncio.sleep(0.05)
    finally:
        await replica.close()


def _database(pair: StreamingPair, lag_ms: int) -> Database:
    return Database(pair.primary.url(), read_urls=[pair.replica.url()], replica_max_lag_ms=lag_ms)


async def _in_recovery(db: Database, **kind: bool) -> bool:
    async with db.transaction(**kind) as conn:
        return (await conn.execute(text("SELECT pg_is_in_recovery()"))).scalar_one()


async def test_reads_that_may_lag_go_to_the_replica_and_writes_never_do(pair: StreamingPair) -> None:
    db = _database(pair, GENEROUS_LAG_MS)
    try:
        assert await _in_recovery(db, write=False, replica_ok=True) is False  # nothing measured yet
        assert db.replicas is not None
        await _until(lambda: db.replicas.pick() is not None, "the replica to be measured fresh")
        assert await _in_recovery(db, write=False, replica_ok=True) is True
        assert await _in_recovery(db, write=False) is False
        assert await _in_recovery(db, write=True) is False
        assert await _in_recovery(db, write=True, replica_ok=True) is False
    finally:
        await db.dispose()


async def test_an_idle_primary_does_not_make_a_caught_up_replica_stale(pair: StreamingPair) -> None:
    db = _database(pair, TIGHT_LAG_MS)
    try:
        assert db.replicas is not None
        await _until(lambda: db.replicas.pick() is not None, "the replica to be measured fresh")
        await asyncio.sleep(5 * TIGHT_LAG_MS / 1000)  # nothing is written meanwhile
        assert await _in_recovery(db, write=False, replica_ok=True) is True
    finally:
        await db.dispose()


def _app(pair: StreamingPair, lag_ms: int):  # noqa: ANN202 - a FastAPI application
    settings = Settings(
        database_url=pair.primary.url(),
        read_database_url=pair.replica.url(),
        replica_max_lag_ms=lag_ms,
        admin_token=ADMIN_TOKEN,
        hold_sweep_interval_s=None,
    )
    return create_app(settings)


async def _total(http: httpx.AsyncClient, headers: dict) -> int:
    response = await http.post(SEARCH, json={"page": 1, "page_size": 10}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]["total"]


@pytest.mark.parametrize("lag_ms", [GENEROUS_LAG_MS, TIGHT_LAG_MS], ids=["within-bound", "past-bound"])
async def test_a_paused_replica_serves_only_within_the_bound(pair: StreamingPair, lag_ms: int) -> None:
    app = _app(pair, lag_ms)
    async with app.router.lifespan_context(app):
        db: Database = app.state.db
        assert db.replicas is not None
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billbook.test") as http:
            who = await acustomer(http, ADMIN_TOKEN)
            key = who["key"]["access_key_id"]
            await acreate_charge(http, ADMIN_TOKEN, key, "0.5", prediction_uuid=new_uuid())
            await _until(lambda: db.replicas.pick() is not None, "the replica to be measured fresh")
            await _caught_up(pair)
            before = await _total(http, who["headers"])

            await _on_replica(pair, "SELECT pg_wal_replay_pause()")
            await acreate_charge(http, ADMIN_TOKEN, key, "0.5", prediction_uuid=new_uuid())  # the primary takes it
            if lag_ms == GENEROUS_LAG_MS:
                assert await _total(http, who["headers"]) == before  # the replica's state: served there
            else:
                await _until(lambda: db.replicas.pick() is None, "the paused replica to pass the bound")
                assert await _total(http, who["headers"]) == before + 1  # the primary's state

            await _on_replica(pair, "SELECT pg_wal_replay_resume()")
            await _caught_up(pair)
            await _until(lambda: db.replicas.pick() is not None, "the replica to serve again")
            assert await _total(http, who["headers"]) == before + 1


async def test_a_key_the_replica_has_not_seen_yet_is_checked_on_the_primary(pair: StreamingPair) -> None:
    app = _app(pair, GENEROUS_LAG_MS)
    async with app.router.lifespan_context(app):
        db: Database = app.state.db
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billbook.test") as http:
            who = await acustomer(http, ADMIN_TOKEN)
            assert db.replicas is not None
            await _until(lambda: db.replicas.pick() is not None, "the replica to be measured fresh")
            await _on_replica(pair, "SELECT pg_wal_replay_pause()")
            fresh = await acreate_key(http, ADMIN_TOKEN, who["account"]["id"], name="made-while-paused")
            headers = {"Authorization": f"Bearer {fresh['api_key']}"}
            assert await _total(http, headers) >= 0  # 200: the primary knew the key
            bad = await http.post(SEARCH, json={"page": 1, "page_size": 10}, headers={"Authorization": "Bearer sk-nope"})
            assert bad.status_code == 401
