"""SQLite transactions run on the event loop's own thread: no hand-off for a read, one for a write.

Why: with aiosqlite every call (cursor, execute, fetch, close, begin, commit) went to a connection
thread and came back through the event loop, and SQLAlchemy's asyncio layer added a greenlet switch
per call and a task per connection close. A search (four indexed statements, microseconds each in
SQLite) cost about a millisecond of hand-offs. Here the store's statements run through SQLAlchemy's
synchronous engine on the standard library's ``sqlite3``, called directly from the coroutine that
awaits them; ``LoopConnection`` gives the store the ``AsyncConnection`` methods it uses, so nothing
above the store changes.

What could block the loop is kept off it:

* waiting for a lock: connections have SQLite's busy timeout at zero. ``BEGIN IMMEDIATE`` (writers)
  and the statement that takes a reader's snapshot are the only statements that can be refused
  with ``SQLITE_BUSY`` (WAL readers never wait for writers; a writer holding the write lock never
  waits again), and both are retried after an ``asyncio.sleep`` backoff until ``busy_timeout_s``
  has passed. Another process holding the write lock delays only the requests that want it;
* the ``COMMIT`` of a write transaction (the fsync of ``synchronous=FULL``, and any automatic
  checkpoint) runs on one thread of its own: the single hand-off of a write request.

The cost: a statement's own time is the loop's time. The store's statements are index-bounded
(search walks at most one day of index entries, counts come from daily rollups), which is what
makes this the right trade for the server; a long scan (``billbook verify``) runs from the command
line, not from a request.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import QueuePool

T = TypeVar("T")

SQLITE_BUSY = 5
#: Backoff while another connection holds the lock. SQLite's own busy handler sleeps 1, 2, 5, 10 …
#: ms; a write transaction here holds the lock for about a millisecond, so start shorter.
_FIRST_WAIT_S = 0.0005
_MAX_WAIT_S = 0.010
#: Connection settings; ``journal_mode=WAL`` is persistent in the file and set once per process by
#: ``ensure_wal``. FULL: an acknowledged commit survives power loss, not only a process crash.
CONNECTION_PRAGMAS = ("busy_timeout=0", "foreign_keys=ON", "synchronous=FULL")
#: Reads the schema cookie, so it takes the reader's WAL snapshot; retried while refused.
_SNAPSHOT = "SELECT 1 FROM sqlite_master LIMIT 1"


def is_busy(error: BaseException) -> bool:
    """``SQLITE_BUSY`` (any extended code): the lock is held elsewhere; the statement changed nothing."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.OperationalError) and code is not None and code & 0xFF == SQLITE_BUSY


async def retry_busy(run: Callable[..., T], *args: Any, timeout_s: float) -> T:
    """``run(*args)``, repeated after an asynchronous backoff for as long as SQLite answers busy."""
    deadline = time.monotonic() + timeout_s
    wait = _FIRST_WAIT_S
    while True:
        try:
            return run(*args)
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() + wait > deadline:
                raise
        # Jitter: processes refused together do not all come back together.
        await asyncio.sleep(wait * (0.5 + random.random()))
        wait = min(wait * 2, _MAX_WAIT_S)


class CommitThread:
    """The one thread that runs write transactions' ``COMMIT``; started on first use, so a database
    object that never writes (or was disposed and is used again) holds no idle thread."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, function: Callable[[], T]) -> T:
        """``function()`` on the thread, awaited to its end even if the caller is cancelled meanwhile:
        the connection must not be handed to anyone else while it is still committing."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, "billbook-sqlite-commit")
        future = asyncio.get_running_loop().run_in_executor(self._executor, function)
        cancelled = False
        while True:
            try:
                result = await asyncio.shield(future)
                break
            except asyncio.CancelledError:
                if future.done():
                    raise
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        return result

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


class LoopConnection:
    """What the store uses of ``AsyncConnection``, over a synchronous ``Connection`` whose calls run
    at once on the calling thread (each coroutine returns without suspending)."""

    __slots__ = ("sync_connection",)

    def __init__(self, sync_connection: Connection) -> None:
        self.sync_connection = sync_connection

    @property
    def dialect(self) -> Any:
        return self.sync_connection.dialect

    @property
    def sync_engine(self) -> Engine:
        return self.sync_connection.engine

    async def execute(self, statement: Any, parameters: Any = None, *, execution_options: Any = None) -> Any:
        return self.sync_connection.execute(statement, parameters, execution_options=execution_options)

    async def exec_driver_sql(self, statement: str, parameters: Any = None, execution_options: Any = None) -> Any:
        return self.sync_connection.exec_driver_sql(statement, parameters, execution_options)

    async def scalar(self, statement: Any, parameters: Any = None, *, execution_options: Any = None) -> Any:
        return self.sync_connection.scalar(statement, parameters, execution_options=execution_options)

    async def scalars(self, statement: Any, parameters: Any = None, *, execution_options: Any = None) -> Any:
        return self.sync_connection.scalars(statement, parameters, execution_options=execution_options)

    async def run_sync(self, fn: Callable[..., T], *arg: Any, **kw: Any) -> T:
        return fn(self.sync_connection, *arg, **kw)

    async def get_raw_connection(self) -> Any:
        return self.sync_connection.connection

    def in_transaction(self) -> bool:
        return self.sync_connection.in_transaction()


class SqliteStore:
    """One engine for reads and writes on one SQLite file; transactions begun by hand (``BEGIN`` for
    readers, ``BEGIN IMMEDIATE`` for writers) so that waiting for a lock is never done inside SQLite."""

    def __init__(self, url: URL, *, pool_size: int, busy_timeout_s: float) -> None:
        self.path = url.database or ":memory:"
        self.uri = str(url.query.get("uri", "")).lower() in ("1", "true")
        self.busy_timeout_s = busy_timeout_s
        self.engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            creator=self._connect,
            poolclass=QueuePool,
            # Never wait for a connection: a wait here would block the loop. Reads do not suspend,
            # so the pool rarely holds more than the writer and one reader.
            pool_size=pool_size,
            max_overflow=-1,
        )
        self.commit_thread = CommitThread()
        self._wal_ready = False
        #: Connections between transactions, kept out of the pool: a read request takes one and
        #: gives it back without the pool's checkout and reset (a tenth of a small search's CPU).
        self._idle: list[Connection] = []
        self._keep = pool_size

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are begun explicitly, below. None of these pragmas reads the
        # file, so none can be refused as busy.
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False, uri=self.uri)
        for pragma in CONNECTION_PRAGMAS:
            conn.execute(f"PRAGMA {pragma}").close()
        return conn

    async def ensure_wal(self) -> None:
        """WAL journal mode, once per process (it is stored in the file; this is a no-op after the
        first server start, but a fresh file needs it and its lock may be busy)."""
        if self._wal_ready:
            return
        conn = self._connect()
        try:
            mode = await retry_busy(_journal_mode_wal, conn, timeout_s=self.busy_timeout_s)
        finally:
            conn.close()
        if mode.lower() != "wal" and self.path != ":memory:":
            raise sqlite3.OperationalError(f"could not switch {self.path} to WAL journal mode (got {mode!r})")
        self._wal_ready = True

    def transaction(self, *, write: bool) -> SqliteTransaction:
        """A transaction on a pooled connection: committed when the block ends normally (on the commit
        thread, for a writer), rolled back if it raises."""
        return SqliteTransaction(self, write)

    def _connection(self) -> Connection:
        return self._idle.pop() if self._idle else self.engine.connect()

    def _release(self, sync: Connection, clean: bool) -> None:
        """Keep a connection whose transaction ended normally for the next one (up to the pool's
        size); close any other, which returns it to the pool and rolls it back."""
        if clean and len(self._idle) < self._keep:
            self._idle.append(sync)
        else:
            sync.close()

    def dispose(self) -> None:
        while self._idle:
            self._idle.pop().close()
        self.engine.dispose()
        self.commit_thread.close()


def _journal_mode_wal(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])


def _fetch(conn: sqlite3.Connection, sql: str) -> Sequence[Any]:
    return conn.execute(sql).fetchall()


class SqliteTransaction:
    """``async with store.transaction(write=...) as conn``: a class rather than a generator-based
    context manager, because every request enters one and the generator's machinery was a visible
    part of a small read's cost."""

    __slots__ = ("_store", "_write", "_sync", "_trans")

    def __init__(self, store: SqliteStore, write: bool) -> None:
        self._store = store
        self._write = write

    async def __aenter__(self) -> LoopConnection:
        store = self._store
        if not store._wal_ready:
            await store.ensure_wal()
        sync = self._sync = store._connection()
        try:
            raw = sync.connection.driver_connection
            if self._write:
                await retry_busy(raw.execute, "BEGIN IMMEDIATE", timeout_s=store.busy_timeout_s)
            else:
                raw.execute("BEGIN")
                await retry_busy(_fetch, raw, _SNAPSHOT, timeout_s=store.busy_timeout_s)
            self._trans = sync.begin()  # SQLAlchemy's bookkeeping only: pysqlite emits nothing here
        except BaseException:
            store._release(sync, clean=False)
            raise
        return LoopConnection(sync)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        sync, store = self._sync, self._store
        clean = False
        try:
            if exc_type is not None:
                self._trans.rollback()
                clean = True
                return
            if self._write:
                await store.commit_thread.run(sync.connection.driver_connection.commit)
            self._trans.commit()  # a writer's COMMIT is done; a reader's releases its snapshot here
            clean = True
        finally:
            store._release(sync, clean)
