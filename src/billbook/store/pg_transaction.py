"""PostgreSQL transactions begun and ended by hand, on connections kept between requests.

Why: a search is a handful of index lookups of microseconds each; what it cost was round trips and
the machinery around them. SQLAlchemy's asyncpg adapter begins a transaction with its own message
(``BEGIN ISOLATION LEVEL …``), and the read transaction's planner settings were a second one.
Here the engines' connections are in autocommit mode as far as SQLAlchemy and asyncpg know, and a
transaction is the statements between a ``BEGIN`` sent by this module and its ``COMMIT`` (or
``ROLLBACK``): a read's ``BEGIN`` carries its isolation level and planner settings in the same
message (one round trip instead of two), and a write's is the plain ``BEGIN`` it always was.

A connection whose transaction ended cleanly is kept for the next one (up to the pool's size)
instead of going back through the pool's checkin and checkout, as SQLite's connections are
(``sqlite_loop``). One that did not end cleanly (a failed ``COMMIT`` or ``ROLLBACK``, a
cancellation half-way through a statement) is invalidated: it is never handed out again, so no
request can find itself inside another's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: PostgreSQL planner settings for every read transaction. A read here is an OLTP lookup that the
#: schema's indexes answer in index order (search pages, counts, balances, rollups); with no
#: statistics (right after a bulk load, before autovacuum's ANALYZE) the planner can misjudge an
#: account's size and prefer reading all of it and sorting, tens of times slower. Disabling those
#: plan types (they stay possible if nothing else is, at a huge cost) leaves the ordered index scans
#: the only sensible plans, whatever the statistics say.
PG_READ_PLANNER_SETTINGS = (
    "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off;"
    " SET LOCAL jit = off; SET LOCAL plan_cache_mode = force_generic_plan"
)
#: A read: one snapshot for every statement (a search's count and page agree), and the settings.
BEGIN_READ = f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {PG_READ_PLANNER_SETTINGS}"
#: A write: READ COMMITTED, its rows locked with ``FOR UPDATE`` where they are read to be changed.
BEGIN_WRITE = "BEGIN"


def driver(conn: Any) -> Any:
    """The driver's connection under ``conn`` (asyncpg's, or ``sqlite3``'s under a
    ``sqlite_loop.LoopConnection``), without a trip through SQLAlchemy's greenlet: the connection
    is open for as long as its transaction is."""
    return conn.sync_connection.connection.driver_connection


class PgConnections:
    """The transactions of one engine (the primary's, or a replica's); connections kept idle here."""

    def __init__(self, engine: AsyncEngine, keep: int) -> None:
        self.engine = engine
        self._idle: list[AsyncConnection] = []
        self._keep = keep

    def transaction(self, *, write: bool) -> PgTransaction:
        return PgTransaction(self, BEGIN_WRITE if write else BEGIN_READ)

    async def _connection(self) -> AsyncConnection:
        return self._idle.pop() if self._idle else await self.engine.connect()

    async def _release(self, conn: AsyncConnection, clean: bool) -> None:
        if clean and len(self._idle) < self._keep:
            self._idle.append(conn)
            return
        if not clean:
            await conn.invalidate()
        await conn.close()

    async def close(self) -> None:
        """Give every kept connection back to the pool (before the engine is disposed)."""
        while self._idle:
            await self._idle.pop().close()


class PgTransaction:
    """``async with connections.transaction(write=...) as conn``: committed when the block ends
    normally, rolled back if it raises. A class, not a generator: every request enters one."""

    __slots__ = ("_connections", "_begin", "_conn")

    def __init__(self, connections: PgConnections, begin: str) -> None:
        self._connections = connections
        self._begin = begin

    async def __aenter__(self) -> AsyncConnection:
        conn = self._conn = await self._connections._connection()
        try:
            await driver(conn).execute(self._begin)
        except BaseException:
            await self._connections._release(conn, clean=False)
            raise
        return conn

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn = self._conn
        clean = False
        try:
            raw = driver(conn)
            await raw.execute("COMMIT" if exc_type is None else "ROLLBACK")
            # A ROLLBACK after a cancelled statement can leave the protocol mid-message; only a
            # connection that is idle and outside any transaction is kept.
            clean = not raw.is_in_transaction()
        except BaseException:
            if exc_type is None:
                raise
            # The block's own exception is the one to report; this connection is discarded below.
        finally:
            await self._connections._release(conn, clean)
