"""Shared fixtures: real databases (SQLite file and PostgreSQL), the app over ASGI, a live server.

PostgreSQL: one database per test session, migrated once, emptied before each test. With
``CI=true`` a missing PostgreSQL fails the run; elsewhere those tests skip with a message.

Through a pooler: with ``BILLBOOK_TEST_PG_POOLER=pgbouncer`` (the default with ``CI=true`` when
Debian's ``pgbouncer`` is installed; ``none`` turns it off) the session starts one PgBouncer in
transaction mode in front of ``BILLBOOK_TEST_PG_URL`` and every PostgreSQL test goes through it,
billbook told so by ``BILLBOOK_DB_POOLER=transaction`` (set for the session, so servers started by
the tests inherit it). Tests that must reach the server directly (replication, failover, the direct
path itself) ask for ``direct_pg_admin_url``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from billbook.api.app import create_app
from billbook.settings import Settings
from billbook.store.db import Database
from billbook.store.migrate import upgrade
from billbook.store.tables import metadata

# The server launcher lives with the benchmark scripts, which use it too; ``bench/`` is not a package.
BENCH = Path(__file__).resolve().parent.parent / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from launcher import BillbookServer, free_port  # noqa: E402, F401 (free_port: for tests that pick a port themselves)
from pgtopology import PGBOUNCER, PgBouncer  # noqa: E402

ADMIN_TOKEN = "test-admin-token"
PG_ADMIN_URL = os.environ.get("BILLBOOK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
#: ``pgbouncer`` or ``none``: whether the PostgreSQL tests go through a transaction-mode PgBouncer.
PG_POOLER = os.environ.get("BILLBOOK_TEST_PG_POOLER") or ("pgbouncer" if IN_CI and os.path.exists(PGBOUNCER) else "none")
#: What billbook is told sits in front of the test PostgreSQL (``BILLBOOK_DB_POOLER``).
DB_POOLER = "transaction" if PG_POOLER == "pgbouncer" else "none"


def open_database(url: str) -> Database:
    """``Database(url)`` as billbook would open it here: told of the session's pooler, if any."""
    return Database(url, pooler=DB_POOLER)


def _pg_reachable(url: str) -> bool:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


@pytest.fixture(scope="session")
def direct_pg_admin_url() -> str:
    """The test PostgreSQL's admin URL, never through a pooler."""
    if not _pg_reachable(PG_ADMIN_URL):
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL} (set BILLBOOK_TEST_PG_URL)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def pg_admin_url(direct_pg_admin_url: str) -> Iterator[str]:
    """The admin URL the PostgreSQL tests use: the server's, or the session's PgBouncer's."""
    if PG_POOLER == "none":
        yield direct_pg_admin_url
        return
    if PG_POOLER != "pgbouncer" or not os.path.exists(PGBOUNCER):
        pytest.fail(f"BILLBOOK_TEST_PG_POOLER={PG_POOLER}: must be none or pgbouncer (with {PGBOUNCER} installed)")
    from sqlalchemy.engine import make_url

    upstream = make_url(direct_pg_admin_url)
    with PgBouncer(upstream.port or 5432, upstream_host=upstream.host or "127.0.0.1", user=upstream.username or "postgres") as bouncer:
        previous = os.environ.get("BILLBOOK_DB_POOLER")
        os.environ["BILLBOOK_DB_POOLER"] = DB_POOLER
        try:
            yield bouncer.url(upstream.database or "postgres")
        finally:
            if previous is None:
                os.environ.pop("BILLBOOK_DB_POOLER", None)
            else:
                os.environ["BILLBOOK_DB_POOLER"] = previous


async def _pg_exec(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def new_pg_database(admin_url: str) -> tuple[str, str]:
    """Create an empty PostgreSQL database; returns (name, url)."""
    name = f"billbook_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(admin_url, f'CREATE DATABASE "{name}"'))
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(admin_url: str, name: str) -> None:
    asyncio.run(_pg_exec(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    name, url = new_pg_database(pg_admin_url)

    async def migrate() -> None:
        db = open_database(url)
        await upgrade(db)
        await db.dispose()

    asyncio.run(migrate())
    yield url
    drop_pg_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "billbook.db"

    async def migrate() -> None:
        db = Database(f"sqlite:///{path}")
        await upgrade(db)
        await db.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "billbook.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    tables = ", ".join(t.name for t in metadata.sorted_tables)

    async def empty() -> None:
        db = open_database(url)
        async with db.transaction(write=True) as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await db.dispose()

    asyncio.run(empty())
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def app(database_url: str) -> AsyncIterator:
    # No background sweep of expired holds nor webhook dispatcher: tests that want one start it.
    settings = Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        hold_sweep_interval_s=None,
        webhook_dispatch=False,
        db_pooler=DB_POOLER,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test") as http:
        yield http


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    admin_token: str
    database_url: str


_running: dict[int, BillbookServer] = {}


def start_server(database_url: str, *, workers: int = 1, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """``billbook serve`` in a child process (``bench/launcher.py``); returns once ``/healthz`` answers."""
    server = BillbookServer(database_url, workers=workers, env={"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN, "BILLBOOK_HOLD_SWEEP_INTERVAL": "off", **(env or {})}).start()
    assert server.proc is not None
    _running[server.pid] = server
    return server.proc, server.base_url


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server from ``start_server``: SIGTERM, then SIGKILL after 15 s."""
    _running.pop(proc.pid).stop(timeout=15)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``billbook serve`` on SQLite, shared by the session; tests create their own accounts."""
    path = tmp_path_factory.mktemp("live") / "billbook.db"
    url = f"sqlite:///{path}"
    proc, base = start_server(url)
    yield LiveServer(base, ADMIN_TOKEN, url)
    stop_server(proc)
