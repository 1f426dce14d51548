"""billbook through PgBouncer in transaction mode, and the direct path the CI suite otherwise skips.

In CI every PostgreSQL test runs through the session's PgBouncer (``tests/conftest.py``); these
tests pin down why ``BILLBOOK_DB_POOLER=transaction`` is needed and that the direct path still
works, whichever way the session runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import literal_column, select, text

from billbook.api.app import create_app
from billbook.settings import Settings
from billbook.store import dialect
from billbook.store.db import Database
from billbook.store.migrate import upgrade
from pgtopology import PGBOUNCER, PgBouncer
from tests.conftest import ADMIN_TOKEN, drop_pg_database, new_pg_database
from tests.factories import acreate_charge, acustomer, new_uuid

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not __import__("os").path.exists(PGBOUNCER), reason=f"{PGBOUNCER} is not installed"),
]

BACKEND = select(literal_column("pg_backend_pid()").label("pid"))


@pytest.fixture(scope="module")
def migrated(direct_pg_admin_url: str) -> Iterator[str]:
    """A migrated database of this module's own, by its direct URL."""
    name, url = new_pg_database(direct_pg_admin_url)

    async def migrate() -> None:
        db = Database(url)
        await upgrade(db)
        await db.dispose()

    asyncio.run(migrate())
    yield url
    drop_pg_database(direct_pg_admin_url, name)


@pytest.fixture(scope="module")
def two_servers(migrated: str) -> Iterator[str]:
    """The database through a PgBouncer with two server connections per database: a client's
    transactions land on either, whichever is free."""
    from sqlalchemy.engine import make_url

    with PgBouncer(make_url(migrated).port or 5432, pool_size=2) as bouncer:
        yield bouncer.url(make_url(migrated).database or "postgres")


async def test_pgbouncer_refuses_the_settings_billbook_sends_directly(two_servers: str) -> None:
    db = Database(two_servers)  # not told of the pooler: asks for jit=off at startup
    try:
        with pytest.raises(Exception, match="unsupported startup parameter"):
            async with db.transaction(write=False):
                pass
    finally:
        await db.dispose()


async def test_many_clients_take_turns_on_two_server_connections(two_servers: str) -> None:
    """Hot reads (asyncpg directly) and SQLAlchemy statements from several pools, interleaved on
    two server sessions: no transaction counts on what an earlier one prepared (with the statement
    caches on, a statement cached on one server is missing on the other)."""
    databases = [Database(two_servers, pooler="transaction", pool_size=3) for _ in range(3)]

    async def reads(db: Database) -> set[int]:
        seen = set()
        for _ in range(10):
            async with db.transaction(write=False) as conn:
                seen |= {row["pid"] for row in await dialect.fetch(conn, BACKEND, {})}
                seen.add((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            async with db.transaction(write=True) as conn:
                seen.add((await conn.execute(BACKEND)).scalar_one())
        return seen

    try:
        seen = set().union(*await asyncio.gather(*(reads(db) for db in databases for _ in range(2))))
    finally:
        for db in databases:
            await db.dispose()
    assert len(seen) == 2  # both server sessions served


async def test_the_direct_path_serves_charges_and_searches(migrated: str) -> None:
    app = create_app(Settings(database_url=migrated, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=None, db_pooler="none"))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billbook.test") as http:
            who = await acustomer(http, ADMIN_TOKEN)
            await acreate_charge(http, ADMIN_TOKEN, who["key"]["access_key_id"], "0.5", prediction_uuid=new_uuid())
            found = await http.post("/api/v3/billings/search", json={"page": 1, "billing_type": "deduct"}, headers=who["headers"])
    assert found.status_code == 200 and found.json()["data"]["total"] == 1
