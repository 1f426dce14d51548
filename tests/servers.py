"""Real ``billbook serve`` processes for the crash and multi-process tests.

A thin layer over ``bench/launcher.py`` (the one launcher, shared with the benchmark scripts): the
server starts with the tests' admin token and is ready when the constructor returns; ``kill()``
is SIGKILL, as a crash would be, and ``restart()`` (or a new ``Server`` on the same URL) starts it
again on the same database. The server's log goes to a file, so a server that logs every request
never blocks on a full pipe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import ADMIN_TOKEN, BillbookServer, drop_pg_database, new_pg_database


class Server(BillbookServer):
    def __init__(self, database_url: str, *, workers: int = 1, env: dict | None = None) -> None:
        env = {"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN, "BILLBOOK_HOLD_SWEEP_INTERVAL": "off", **(env or {})}
        super().__init__(database_url, workers=workers, env=env)
        self.start()


@contextmanager
def fresh_database(backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of its own (the server migrates it): a SQLite file or a new PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('served') / 'billbook.db'}"
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    name, url = new_pg_database(admin_url)
    try:
        yield url
    finally:
        drop_pg_database(admin_url, name)
