"""PostgreSQL transactions begun and ended by hand (``store.pg_transaction``): each block is one
transaction with the right isolation and settings, a failure rolls it back, and a connection is
only kept for the next request when it is idle and outside any transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from billbook.ledger import accounts
from billbook.store.db import Database
from billbook.store.pg_transaction import driver
from tests.conftest import open_database

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Database]:
    db = open_database(pg_url)
    async with db.transaction(write=True) as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS pg_transaction_probe (n integer)"))
        await conn.execute(text("TRUNCATE pg_transaction_probe"))
    yield db
    async with db.transaction(write=True) as conn:
        await conn.execute(text("DROP TABLE pg_transaction_probe"))
    await db.dispose()


async def _show(conn, setting: str) -> str:  # noqa: ANN001
    return (await conn.execute(text(f"SHOW {setting}"))).scalar_one()


async def _probe_count(db: Database) -> int:
    async with db.transaction(write=False) as conn:
        return (await conn.execute(text("SELECT count(*) FROM pg_transaction_probe"))).scalar_one()


async def test_reads_run_at_repeatable_read_with_the_planner_settings_and_writes_do_not(pg: Database) -> None:
    async with pg.transaction(write=False) as conn:
        assert await _show(conn, "transaction_isolation") == "repeatable read"
        assert await _show(conn, "enable_seqscan") == "off"
        assert await _show(conn, "enable_sort") == "off"
        assert driver(conn).is_in_transaction()
    async with pg.transaction(write=True) as conn:
        assert await _show(conn, "transaction_isolation") == "read committed"
        assert await _show(conn, "enable_seqscan") == "on"
        assert driver(conn).is_in_transaction()


async def test_a_read_sees_one_snapshot(pg: Database) -> None:
    async with pg.transaction(write=False) as reader:
        before = (await reader.execute(text("SELECT count(*) FROM pg_transaction_probe"))).scalar_one()
        async with pg.transaction(write=True) as writer:
            await writer.execute(text("INSERT INTO pg_transaction_probe VALUES (1)"))
        after = (await reader.execute(text("SELECT count(*) FROM pg_transaction_probe"))).scalar_one()
    assert before == after == 0
    assert await _probe_count(pg) == 1


async def test_a_block_that_raises_is_rolled_back_and_its_connection_is_clean(pg: Database) -> None:
    with pytest.raises(RuntimeError):
        async with pg.transaction(write=True) as conn:
            await conn.execute(text("INSERT INTO pg_transaction_probe VALUES (1)"))
            raise RuntimeError("after the insert")
    assert await _probe_count(pg) == 0
    # A failed statement aborts the transaction; the next one on the same kept connection works.
    with pytest.raises(Exception, match="division by zero"):
        async with pg.transaction(write=True) as conn:
            await conn.execute(text("INSERT INTO pg_transaction_probe VALUES (1 / 0)"))
    async with pg.transaction(write=True) as conn:
        await conn.execute(text("INSERT INTO pg_transaction_probe VALUES (2)"))
    assert await _probe_count(pg) == 1


async def test_a_commit_that_fails_is_reported_and_changes_nothing(pg: Database) -> None:
    async with pg.transaction(write=True) as conn:
        await conn.execute(text(
            "CREATE TABLE pg_transaction_deferred (n integer UNIQUE DEFERRABLE INITIALLY DEFERRED)"
        ))
    try:
        with pytest.raises(Exception, match="duplicate key"):
            async with pg.transaction(write=True) as conn:
                await conn.execute(text("INSERT INTO pg_transaction_deferred VALUES (1), (1)"))
        async with pg.transaction(write=False) as conn:
            assert (await conn.execute(text("SELECT count(*) FROM pg_transaction_deferred"))).scalar_one() == 0
    finally:
        async with pg.transaction(write=True) as conn:
            await conn.execute(text("DROP TABLE pg_transaction_deferred"))


async def test_a_cancelled_statement_never_leaves_its_transaction_to_the_next_request(pg: Database) -> None:
    async def slow() -> None:
        async with pg.transaction(write=True) as conn:
            await conn.execute(text("INSERT INTO pg_transaction_probe VALUES (1)"))
            await conn.execute(text("SELECT pg_sleep(5)"))

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(3):  # whichever connections are kept: none is inside a transaction
        async with pg.transaction(write=False) as conn:
            assert await _show(conn, "transaction_isolation") == "repeatable read"
    assert await _probe_count(pg) == 0


async def test_connections_are_kept_between_transactions(pg: Database) -> None:
    async with pg.transaction(write=True) as conn:
        account = await accounts.create_account(conn, "kept", 0)
        first = driver(conn)
    async with pg.transaction(write=False) as conn:
        assert driver(conn) is first
        assert await accounts.get_balance(conn, account.id) == 0


async def test_a_read_cannot_write(pg: Database) -> None:
    with pytest.raises(Exception, match="read-only transaction"):
        async with pg.transaction(write=False) as conn:
            assert await _show(conn, "transaction_read_only") == "on"
            await conn.execute(text("INSERT INTO pg_transaction_probe VALUES (1)"))
    assert await _probe_count(pg) == 0
