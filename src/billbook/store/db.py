"""Engines and transactions for the two supported databases.

SQLite (the embedded default) allows one writer at a time. Write transactions there start with
``BEGIN IMMEDIATE`` so that they take the write lock up front instead of failing half-way on an
upgrade from a read lock, and an in-process lock queues this process's writers without spinning in
SQLite's busy handler. Reads use a second engine with plain deferred transactions, so WAL readers
never wait for writers. PostgreSQL uses one pooled asyncpg engine for both, reads at REPEATABLE READ.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from billbook.store import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000


class UnsupportedDatabase(ValueError):
    """The URL names a database billbook does not run on."""


def async_url(url: str) -> URL:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``; ``postgresql://`` -> ``postgresql+asyncpg://``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    shown = parsed.render_as_string(hide_password=True)
    raise UnsupportedDatabase(f"database URL must start with sqlite:// or postgresql://, got {shown!r}")


#: Applied to every SQLite connection. FULL: an acknowledged commit survives power loss, not only a
#: process crash.
SQLITE_PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "synchronous=FULL")


def _sqlite_engine(
    url: URL, *, immediate: bool, commit_thread: sqlite_driver.CommitThread | None, pool_size: int
) -> AsyncEngine:
    """An engine whose statements run on the event loop's thread (see ``sqlite_driver``); the dialect
    stays SQLAlchemy's aiosqlite one, only the connection object is ours."""
    path = url.database or ":memory:"
    uri = str(url.query.get("uri", "")).lower() in ("1", "true")

    async def creator() -> sqlite_driver.Connection:
        return await sqlite_driver.connect(
            path,
            pragmas=SQLITE_PRAGMAS,
            busy_timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000,
            commit_thread=commit_thread,
            uri=uri,
        )

    # No overflow: a connection opened for a burst and closed after it costs more (open, pragmas,
    # and a checkpoint attempt at close) than waiting a moment for a pooled one.
    engine = create_async_engine(url, async_creator=creator, pool_size=pool_size, max_overflow=0)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Owns the engines; hands out one transaction at a time to the edge that runs a request."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = async_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            # One thread for this process's COMMITs (writers are queued by the lock below anyway).
            self._commit_thread: sqlite_driver.CommitThread | None = sqlite_driver.CommitThread()
            self.write_engine = _sqlite_engine(
                self.url, immediate=True, commit_thread=self._commit_thread, pool_size=pool_size
            )
            self.read_engine = _sqlite_engine(self.url, immediate=False, commit_thread=None, pool_size=pool_size)
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.write_engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=False,
                # Short OLTP queries: JIT compilation costs more than it saves.
                connect_args={"server_settings": {"jit": "off"}},
            )
            # A search reads a count and then a page: one snapshot keeps them in agreement.
            self.read_engine = self.write_engine.execution_options(isolation_level="REPEATABLE READ")
            self._write_lock = None
            self._commit_thread = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends normally, rolled back on any exception."""
        if write and self._write_lock is not None:
            async with self._write_lock, self.write_engine.begin() as conn:
                yield conn
            return
        engine = self.write_engine if write else self.read_engine
        async with engine.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.is_sqlite:
            await self.read_engine.dispose()
        if self._commit_thread is not None:
            self._commit_thread.close()
