"""The one way to run a server under test: ``python -m billbook serve`` (or any HTTP server) in a
child process, used by the test suite (``tests/conftest.py``, ``tests/servers.py``) and by the
benchmark scripts (``bench/run.py``, ``bench/soak.py``).

Why one launcher: each of those used to start, wait for and stop the server its own way, with
different timeouts, signals and log handling, so a fix in one (a pipe that filled and stalled the
server, a worker left running after its parent was killed) never reached the others.

What it does:

* starts the command on 127.0.0.1 on a free port, with the caller's environment added to this
  process's own;
* waits until ``GET <ready_path>`` answers 200 (``/healthz`` for billbook: the database is
  reachable and migrated), and fails with the end of the server's log if the process exits first
  or the time runs out;
* sends the server's stderr (and, with ``access_log=True``, its stdout: one line per request) to a
  file, never to a pipe: a file cannot fill up and stall a server that logs every request, costs
  the parent no thread while a benchmark runs, and is still there to read after a crash;
* stops gracefully (SIGTERM, which uvicorn turns into a drain of open requests) and SIGKILLs the
  process and every descendant (the workers of ``--workers N``) if that takes too long;
* ``kill()`` is SIGKILL at once, as when the machine dies; ``restart()`` starts the same command
  again on the same port and database.

Standard library and httpx only, so that it imports wherever the tests and the benchmark run.
Bench scripts import it as ``launcher`` (their own directory is first on ``sys.path``); the test
suite puts ``bench/`` on ``sys.path`` once, in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), from ``/proc``; empty once it is gone."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        return []
    return found + [g for c in found for g in descendants(c)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class ServerProcess:
    """One HTTP server in a child process; ``{port}`` in ``argv`` is replaced by its port.

    Not started by the constructor: call ``start()`` (it returns the server, so
    ``ServerProcess(...).start()`` reads as one step) or use it as a context manager.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        ready_path: str = "/healthz",
        name: str = "server",
        log: Path | None = None,
        access_log: bool = False,
        start_timeout: float = 60.0,
        port: int | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env or {})
        self.ready_path = ready_path
        self.access_log = access_log
        self.start_timeout = start_timeout
        self.port = port or free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        # A log the caller did not ask for lives in a temporary file removed by stop().
        self._own_log = log is None
        self.log = log or Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ServerProcess:
        """Start the process and return once ``ready_path`` answers 200."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        with self.log.open("ab") as sink:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                argv,
                env={**os.environ, **self.env},
                stdout=sink if self.access_log else subprocess.DEVNULL,
                stderr=sink,
                cwd=ROOT,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start:\n{self.tail()}")
            try:
                if httpx.get(self.base_url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} did not answer {self.ready_path} within {self.start_timeout:g} s:\n{self.tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL for the whole tree after ``timeout`` seconds; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            tree = descendants(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            self._kill_tree(tree)  # whatever is left: the parent after the timeout, or a stray worker
        code = self.proc.returncode
        if self._own_log:
            self.log.unlink(missing_ok=True)
        return code

    def kill(self) -> None:
        """SIGKILL the server and its workers at once: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self._kill_tree(descendants(self.proc.pid))
        if self._own_log:
            self.log.unlink(missing_ok=True)

    def restart(self) -> ServerProcess:
        """Stop (or, if it already died, just reap) and start the same command on the same port."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start()

    def _kill_tree(self, tree: list[int]) -> None:
        assert self.proc is not None
        for pid in ([self.proc.pid] if self.proc.poll() is None else []) + [p for p in tree if _alive(p)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        # Orphaned workers are reaped by init, not by us: wait until they are gone, not just signalled.
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in tree) and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- looking at it -----------------------------------------------------------------------

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        """The server and all its processes (uvicorn's supervisor and workers)."""
        return [self.pid, *descendants(self.pid)] if self.running() else []

    def tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        try:
            data = self.log.read_bytes()[-16_000:]
        except OSError:
            return ""
        return "\n".join(data.decode(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def billbook_argv(database_url: str, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "billbook", "serve", "--host", HOST, "--port", "{port}", "--db", database_url, "--workers", str(workers)]


class BillbookServer(ServerProcess):
    """``python -m billbook serve --db <url> --workers <n>`` on 127.0.0.1, ready when ``/healthz`` is.

    ``env`` is added to this process's environment (``BILLBOOK_ADMIN_TOKEN`` and the like); the
    database is migrated by ``serve`` itself, so an empty one is fine.
    """

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        access_log: bool = False,
        start_timeout: float = 60.0,
        name: str = "billbook",
    ) -> None:
        super().__init__(
            billbook_argv(database_url, workers),
            env=env,
            ready_path="/healthz",
            name=name,
            log=log,
            access_log=access_log,
            start_timeout=start_timeout,
        )
        self.database_url = database_url
        self.workers = workers


def open_database(url: str) -> Any:
    """A ``Database`` on ``url`` as a server started here would open it: behind the pooler that
    ``BILLBOOK_DB_POOLER`` names, if any (the benchmarks' own loads and checks go the same way)."""
    from billbook.settings import Settings
    from billbook.store.db import Database

    return Database(url, pooler=Settings(database_url=url).db_pooler)
