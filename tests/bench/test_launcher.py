"""The one server launcher (``bench/launcher.py``): start, crash, restart on the same database, stop.

The crash and multi-process tests, the live-server fixture and the benchmark scripts all rely on
it, so its promises are checked here on their own: ready means ``/healthz`` answers, ``kill()``
leaves nothing running, ``restart()`` serves the same database at the same address, and
``stop()`` ends every worker of ``--workers N``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, BillbookServer
from tests.factories import create_account, create_key

from launcher import ServerProcess, descendants  # bench/ is on sys.path through tests/conftest.py

def _balance(base_url: str, api_key: str) -> object:
    response = httpx.get(f"{base_url}/api/v3/balance", headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]["balance"]


def test_restart_after_sigkill_serves_the_same_database(tmp_path: Path) -> None:
    server = BillbookServer(f"sqlite:///{tmp_path / 'b.db'}", env={"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN}).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            account = create_account(http, ADMIN_TOKEN, name="kept", balance="1.5")
            key = create_key(http, ADMIN_TOKEN, account["id"])
        pid = server.pid
        server.kill()
        assert not server.running() and server.proc is not None and server.proc.returncode == -9
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.base_url}/healthz", timeout=2)
        server.restart()
        assert server.pid != pid
        assert _balance(server.base_url, key["api_key"]) == 1.5
    finally:
        server.stop()
    assert not server.running() and not server.log.exists()  # a log it made itself is removed


def test_stop_ends_every_worker(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = BillbookServer(f"sqlite:///{tmp_path / 'b.db'}", workers=2, env={"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN}, log=log).start()
    workers = descendants(server.pid)
    assert workers, "uvicorn runs its workers as child processes"
    server.stop()
    assert not server.running()
    assert not any(Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/cmdline").read_bytes() for pid in workers)
    assert log.exists()  # a log the caller named is kept


def test_a_server_that_exits_at_start_says_why(tmp_path: Path) -> None:
    server = ServerProcess(["python3", "-c", "import sys; sys.stderr.write('no such database\\n'); sys.exit(3)"], name="broken")
    with pytest.raises(RuntimeError, match="no such database"):
        server.start()
    server.stop()
