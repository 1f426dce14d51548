"""Real ``billbook serve`` processes for the crash and multi-process tests.

Wraps ``start_server``/``stop_server`` from conftest: the child's stderr is drained by a thread
(a server that logs every request would otherwise block once the pipe fills), and a server can
be killed with SIGKILL, as a crash would, and started again on the same database.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import drop_pg_database, new_pg_database, start_server, stop_server


class Server:
    def __init__(self, database_url: str, *, workers: int = 1, env: dict | None = None) -> None:
        self.database_url = database_url
        self.proc, self.base_url = start_server(database_url, workers=workers, env=env)
        self.tail: deque[str] = deque(maxlen=50)
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        stream = self.proc.stderr
        if stream is None:
            return
        for line in iter(stream.readline, b""):
            self.tail.append(line.decode(errors="replace"))

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as when the machine or the process dies."""
        self.proc.kill()
        self.proc.wait()
        self._drain.join(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> None:
        stop_server(self.proc)
        self._drain.join(timeout=10)


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
