"""SQLite connections that run statements on the event loop's own thread, for SQLAlchemy's aiosqlite dialect.

Why: aiosqlite runs every call (cursor, execute, fetch, close, commit) on a per-connection thread and
hands the result back through the event loop, so a search of four statements made a dozen thread
round trips, with the GIL contended between the loop and up to fifteen connection threads. The
statements themselves are indexed lookups that take microseconds; the hand-offs cost milliseconds.

These objects have aiosqlite's shape (coroutine methods) so SQLAlchemy's dialect can wrap them
through ``create_async_engine(async_creator=...)``, but each coroutine calls the standard library's
``sqlite3`` directly and returns without suspending. What could block the loop is handled apart:

* waiting for a lock: the connection's busy timeout is zero, and a statement refused with
  ``SQLITE_BUSY`` before its transaction holds anything (``BEGIN IMMEDIATE``, the first read of a
  deferred transaction, a statement outside a transaction) is retried after an ``asyncio.sleep``
  backoff, up to ``busy_timeout_s`` in all: another process holding the write lock delays only
  this request, never the loop;
* the ``COMMIT`` of a write transaction (the fsync of ``synchronous=FULL``, and any automatic
  checkpoint) runs on a one-thread executor: one hand-off per write, not per statement.

A statement that fails with ``SQLITE_BUSY`` once its transaction holds a snapshot or the write lock
is not retried (SQLite's own advice: roll back instead); in WAL mode with ``BEGIN IMMEDIATE``
writers this does not happen.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

SQLITE_BUSY = 5
#: Backoff while another connection holds the lock: SQLite's own busy handler waits 1, 2, 5, 10, …
#: ms; short first waits matter because write transactions here last about a millisecond.
_FIRST_WAIT_S = 0.0005
_MAX_WAIT_S = 0.010


def is_busy(error: BaseException) -> bool:
    """``SQLITE_BUSY`` (any extended code): the lock is held elsewhere; the statement changed nothing."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.OperationalError) and code is not None and code & 0xFF == SQLITE_BUSY


class _Queue:
    """What SQLAlchemy's ``isolation_level`` setter reaches for on an aiosqlite connection
    (``_tx.put_nowait((future, function))``): here the function simply runs now."""

    def put_nowait(self, item: tuple[asyncio.Future, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(error)


class CommitThread:
    """One thread that runs write transactions' ``COMMIT``; started on first use, so a database
    object that never writes (or was closed and is used again) costs no idle thread."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

    def run(self, function: Callable[[], T]) -> asyncio.Future[T]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, "billbook-sqlite-commit")
        return asyncio.get_running_loop().run_in_executor(self._executor, function)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


class Cursor:
    """An aiosqlite-shaped cursor over a ``sqlite3.Cursor``; every method returns without suspending
    unless it must wait for a lock."""

    __slots__ = ("_owner", "_cursor")

    def __init__(self, owner: Connection) -> None:
        self._owner = owner
        self._cursor = owner._conn.cursor()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        args = (sql,) if parameters is None else (sql, parameters)
        await self._owner._statement(sql, self._cursor.execute, args)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        await self._owner._statement(sql, self._cursor.executemany, (sql, list(seq_of_parameters)))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    async def nextset(self) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()


class Connection:
    """An aiosqlite-shaped connection whose statements run on the calling (event loop) thread.

    ``commit_thread``: where a write transaction's ``COMMIT`` runs (``None``: inline, for read
    connections, whose commit only releases a snapshot).
    """

    def __init__(self, conn: sqlite3.Connection, *, busy_timeout_s: float, commit_thread: CommitThread | None) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._busy_timeout_s = busy_timeout_s
        self._commit_thread = commit_thread
        self._tx = _Queue()
        #: True between a deferred ``BEGIN`` and the transaction's first statement, which takes the
        #: snapshot: until then a busy refusal can be retried.
        self._unlocked_begin = False

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """What SQLAlchemy checks to learn whether the connection is still open."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._open().isolation_level = value

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    def cursor(self) -> Cursor:
        self._open()
        return Cursor(self)

    async def _statement(self, sql: str, run: Callable[..., T], args: Sequence[Any]) -> T:
        conn = self._open()
        begins = _begins(sql)
        if conn.in_transaction and not begins and not self._unlocked_begin:
            return run(*args)  # the transaction holds its snapshot or the write lock: no waiting
        result = await self._retry_busy(run, args)
        self._unlocked_begin = begins and not _takes_write_lock(sql)
        return result

    async def _retry_busy(self, run: Callable[..., T], args: Sequence[Any]) -> T:
        deadline = time.monotonic() + self._busy_timeout_s
        wait = _FIRST_WAIT_S
        while True:
            try:
                return run(*args)
            except sqlite3.OperationalError as error:
                if not is_busy(error) or time.monotonic() + wait > deadline:
                    raise
            # Jitter: processes that were refused together do not all come back together.
            await asyncio.sleep(wait * (0.5 + random.random()))
            wait = min(wait * 2, _MAX_WAIT_S)

    async def commit(self) -> None:
        conn = self._open()
        self._unlocked_begin = False
        if self._commit_thread is None or not conn.in_transaction:
            conn.commit()
            return
        await _finish(self._commit_thread.run(conn.commit))

    async def rollback(self) -> None:
        self._unlocked_begin = False
        self._open().rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._open().create_function(*args, **kw)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate, also outside any event loop)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


async def _finish(future: asyncio.Future[T]) -> T:
    """Await ``future`` to its end even if the awaiting task is cancelled meanwhile: the connection
    must not be handed to anyone else while its ``COMMIT`` is still running on another thread."""
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


def _begins(sql: str) -> bool:
    return sql[:5].upper() == "BEGIN"


def _takes_write_lock(sql: str) -> bool:
    words = sql.upper().split()
    return len(words) > 1 and words[1] in ("IMMEDIATE", "EXCLUSIVE")


async def connect(
    path: str,
    *,
    pragmas: Sequence[str],
    busy_timeout_s: float,
    commit_thread: CommitThread | None,
    uri: bool = False,
) -> Connection:
    """A connection in autocommit mode (transactions are begun explicitly), with ``pragmas`` applied
    and SQLite's own busy handler off: waiting for locks is done by ``Connection``, asynchronously."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False, uri=uri)
    wrapped = Connection(conn, busy_timeout_s=busy_timeout_s, commit_thread=commit_thread)
    try:
        for pragma in ("busy_timeout=0", *pragmas):
            await wrapped._retry_busy(_pragma, (conn, pragma))
    except BaseException:
        conn.close()
        raise
    return wrapped


def _pragma(conn: sqlite3.Connection, pragma: str) -> None:
    conn.execute(f"PRAGMA {pragma}").close()
