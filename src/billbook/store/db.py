"""Engines and transactions for the two supported databases.

SQLite (the embedded default) allows one writer at a time. Write transactions there start with
``BEGIN IMMEDIATE`` so that they take the write lock up front instead of failing half-way on an
upgrade from a read lock, and an in-process lock queues this process's writers; writers of other
processes are waited for asynchronously, without blocking the event loop. Reads are plain deferred
transactions, so WAL readers never wait for writers. Statements run on the event loop's thread
(see ``sqlite_loop``). PostgreSQL uses one pooled asyncpg engine for both, reads at REPEATABLE READ,
its transactions begun and ended by hand on connections kept between requests (``pg_transaction``).

Behind a transaction-mode pooler (``pooler="transaction"``, PgBouncer) each transaction may run on
a different server connection, so nothing may outlive one: no named prepared statements (asyncpg's
statement cache and SQLAlchemy's are off; unnamed statements live within the transaction), and no
startup settings PgBouncer refuses (``jit`` is set per read transaction instead). Reads that may lag
(``replica_ok``) go to a fresh streaming replica when there is one (``store.replicas``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine, URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from billbook.store.pg_transaction import PgConnections
from billbook.store.replicas import Replica, ReplicaSet
from billbook.store.sqlite_loop import SqliteStore

if TYPE_CHECKING:
    from billbook.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000

#: ``application_name`` of billbook's connections (PgBouncer passes it on): which of a server's
#: sessions are billbook's, in ``pg_stat_activity``.
APPLICATION_NAME = "billbook"
POOLER_NONE = "none"
POOLER_TRANSACTION = "transaction"


def pg_connect_args(pooler: str) -> dict[str, Any]:
    """asyncpg's connection arguments for a server reached directly or through a pooler.

    Directly: JIT off for the session (short OLTP queries: JIT compilation costs more than it
    saves) and both statement caches on. Through a transaction-mode pooler: no session state at all
    (read transactions turn JIT off with ``SET LOCAL``, writes never cost enough to trigger it)."""
    if pooler == POOLER_TRANSACTION:
        return {
            "server_settings": {"application_name": APPLICATION_NAME},
            "statement_cache_size": 0,  # asyncpg: unnamed statements, prepared in the transaction
            "prepared_statement_cache_size": 0,  # SQLAlchemy's adapter: the same
        }
    return {"server_settings": {"jit": "off", "application_name": APPLICATION_NAME}}


class UnsupportedDatabase(ValueError):
    """The URL names a database billbook does not run on."""


def unusable_database_errors() -> tuple[type[BaseException], ...]:
    """What a database that cannot be opened, reached or used raises: SQLAlchemy's wrapped errors,
    and the drivers' own where billbook calls them directly (``sqlite3`` on SQLite's loop path,
    asyncpg for prepared reads and array inserts)."""
    import sqlite3

    from asyncpg import PostgresError
    from sqlalchemy.exc import DBAPIError

    return (DBAPIError, sqlite3.Error, PostgresError)


def async_url(url: str) -> URL:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``; ``postgresql://`` -> ``postgresql+asyncpg://``.

    ``Database.url`` keeps this form (the asyncio drivers' names); SQLite itself is driven through
    the standard library's ``sqlite3`` on the event loop's thread, see ``sqlite_loop``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    shown = parsed.render_as_string(hide_password=True)
    raise UnsupportedDatabase(f"database URL must start with sqlite:// or postgresql://, got {shown!r}")


class Database:
    """Owns the engines; hands out one transaction at a time to the edge that runs a request.

    On SQLite the connection handed out is a ``sqlite_loop.LoopConnection``: the subset of
    ``AsyncConnection`` the store uses, run without leaving the event loop's thread."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        pooler: str = POOLER_NONE,
        read_urls: Sequence[str] = (),
        replica_max_lag_ms: int = 1_000,
    ) -> None:
        self.url = async_url(url)
        self.replicas: ReplicaSet | None = None
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self.sqlite: SqliteStore | None = SqliteStore(
                self.url, pool_size=pool_size, busy_timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000
            )
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
            return
        self.sqlite = None
        self._write_lock = None
        self.write_engine = _pg_engine(self.url, pool_size, pooler)
        self.pg = PgConnections(self.write_engine, pool_size)
        if read_urls:
            replicas = [Replica(PgConnections(_pg_engine(async_url(u), pool_size, pooler), pool_size)) for u in read_urls]
            self.replicas = ReplicaSet(self.write_engine, replicas, replica_max_lag_ms)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database, pooler and replicas the settings name."""
        return cls(
            settings.database_url,
            pool_size=settings.pool_size,
            pooler=settings.db_pooler,
            read_urls=settings.read_database_urls,
            replica_max_lag_ms=settings.replica_max_lag_ms,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sync_engine(self) -> Engine:
        """The synchronous engine under every connection handed out, for SQLAlchemy's events."""
        return self.sqlite.engine if self.sqlite is not None else self.write_engine.sync_engine

    def transaction(self, *, write: bool, replica_ok: bool = False) -> AbstractAsyncContextManager[Any]:
        """One transaction: committed when the block ends normally, rolled back on any exception.

        ``replica_ok``: a read that may be served by a streaming replica, up to the configured lag
        old (customer reads); without it, or when no replica is fresh, the primary serves it. Whatever
        must read its own writes leaves it out. (A plain method: SQLite's reads get the store's own
        context manager with no generator wrapped around it.)"""
        if self.sqlite is not None:
            if write and self._write_lock is not None:
                return self._sqlite_write(self.sqlite)
            return self.sqlite.transaction(write=write)
        if replica_ok and not write and self.replicas is not None:
            return (self.replicas.pick() or self.pg).transaction(write=False)
        return self.pg.transaction(write=write)

    def connection(self) -> AbstractAsyncContextManager[Any]:
        """A connection for one statement that needs no transaction (a liveness check): SQLite's
        read transaction, or a pooled PostgreSQL connection in autocommit (nothing is begun)."""
        if self.sqlite is not None:
            return self.sqlite.transaction(write=False)
        return self.write_engine.connect()

    def served_by_replica(self, conn: AsyncConnection) -> bool:
        """Whether ``conn`` (from ``transaction``) is a replica's."""
        return self.replicas is not None and conn.sync_engine.pool is not self.write_engine.sync_engine.pool

    @asynccontextmanager
    async def _sqlite_write(self, sqlite: SqliteStore) -> AsyncIterator[Any]:
        # This process's writers queue here, not in SQLite: only one of them at a time asks other
        # processes for the write lock.
        async with self._write_lock, sqlite.transaction(write=True) as conn:  # type: ignore[union-attr]
            yield conn

    async def dispose(self) -> None:
        if self.sqlite is not None:
            self.sqlite.dispose()
            return
        if self.replicas is not None:
            await self.replicas.close()
        await self.pg.close()
        await self.write_engine.dispose()


def _pg_engine(url: URL, pool_size: int, pooler: str) -> AsyncEngine:
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, connect_args=pg_connect_args(pooler),
        # Transactions are begun and ended by ``pg_transaction``, not by SQLAlchemy or asyncpg.
        isolation_level="AUTOCOMMIT",
    )


