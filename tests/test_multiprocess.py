"""Several server processes on one database: exact balances under retries and duplicates.

One ``billbook serve --workers 2`` and one more ``billbook serve`` share a database, so requests
land on three processes. Many client threads, each request sent to a random server:

1. contention: 90 distinct charges of 0.03 USD against 1.80 USD, each sent three times (one of
   them with a different model, which must be refused as a conflicting retry, or win and make the
   others conflict): exactly 60 are charged, every retry answers with the same record, balance 0;
2. recharges: 10 references sent three times each: exactly 10 recharges;
3. refunds and charges at once: 30 charged predictions failed (each twice), 20 new charges: the
   balance is exact.

Every phase ends with ``billbook verify``.
"""

from __future__ import annotations

import random
import subprocess
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from tests.checks import assert_verify_cli
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_account, create_key
from tests.servers import Server, fresh_database

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
THREADS = 12


class Pool:
    """Send requests from many threads, each to a random one of the servers (one client per thread)."""

    def __init__(self, bases: list[str], seed: int) -> None:
        self.bases, self.rng, self.local = bases, random.Random(seed), threading.local()
        self.lock = threading.Lock()
        self.made: list[httpx.Client] = []

    def _client(self, base: str) -> httpx.Client:
        clients = self.local.__dict__.setdefault("clients", {})
        if base not in clients:
            clients[base] = httpx.Client(base_url=base, headers=ADMIN, timeout=60)
            with self.lock:
                self.made.append(clients[base])
        return clients[base]

    def close(self) -> None:
        for client in self.made:
            client.close()

    def post(self, path: str, body: dict) -> httpx.Response:
        with self.lock:
            base = self.rng.choice(self.bases)
        return self._client(base).post(path, json=body)

    def run(self, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
        with ThreadPoolExecutor(THREADS) as executor:
            return list(executor.map(lambda r: self.post(*r), requests))


def _balance(base: str, api_key: str) -> Decimal:
    response = httpx.get(f"{base}/api/v3/balance", headers={"Authorization": f"Bearer {api_key}"})
    return Decimal(str(response.json()["data"]["balance"]))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_exact_balances_across_processes(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(7)
    with fresh_database(backend, tmp_path_factory, request) as url:
        servers = [Server(url, workers=2)]
        try:
            servers.append(Server(url))
            base = servers[0].base_url
            with httpx.Client(base_url=base) as http:
                account = create_account(http, ADMIN_TOKEN, balance="1.80")
                key = create_key(http, ADMIN_TOKEN, account["id"])
            pool = Pool([s.base_url for s in servers], seed=11)
            request.addfinalizer(pool.close)
            charge = {"access_key_id": key["access_key_id"], "model_uuid": "m/a", "price": "0.03"}

            # 1. contention with retries and conflicting duplicates
            uuids = [f"{rng.getrandbits(128):032x}" for _ in range(90)]
            sends = [(u, charge | {"prediction_uuid": u}) for u in uuids for _ in range(2)]
            sends += [(u, charge | {"prediction_uuid": u, "model_uuid": "m/b"}) for u in uuids]
            rng.shuffle(sends)
            answers = pool.run([("/internal/v1/charges", body) for _, body in sends])
            by_uuid: dict[str, list[tuple[dict, httpx.Response]]] = defaultdict(list)
            for (uuid, body), response in zip(sends, answers, strict=True):
                assert response.status_code in (200, 402, 409), response.text
                by_uuid[uuid].append((body, response))
            charged = set()
            for uuid, tries in by_uuid.items():
                won = {r.json()["data"]["record"]["uuid"] for _, r in tries if r.status_code == 200}
                models = {b["model_uuid"] for b, r in tries if r.status_code == 200}
                assert len(won) <= 1 and len(models) <= 1, f"{uuid} charged more than once: {won} {models}"
                if won:
                    charged.add(uuid)
            assert len(charged) == 60, Counter(r.status_code for r in answers)
            assert _balance(base, key["api_key"]) == 0
            assert_verify_cli(url)

            # 2. recharges, each reference three times
            refs = [f"pay_{n}" for n in range(10)]
            sends2 = [{"amount": "1.00", "reference": ref} for ref in refs for _ in range(3)]
            rng.shuffle(sends2)
            answers = pool.run([(f"/internal/v1/accounts/{account['id']}/recharges", b) for b in sends2])
            assert all(r.status_code == 200 for r in answers)
            assert sum(r.json()["data"]["created"] for r in answers) == 10
            assert _balance(base, key["api_key"]) == 10

            # 3. refunds (each sent twice) while new charges arrive
            failing = sorted(charged)[:30]
            work = [(f"/internal/v1/predictions/{u}/status", {"status": "failed"}) for u in failing for _ in range(2)]
            fresh = [f"{rng.getrandbits(128):032x}" for _ in range(20)]
            work += [("/internal/v1/charges", charge | {"prediction_uuid": u}) for u in fresh]
            rng.shuffle(work)
            answers = pool.run(work)
            assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200][:3]
            refunds = [r for (path, _), r in zip(work, answers, strict=True) if path.endswith("/status")]
            assert sum(1 for r in refunds if r.json()["data"]["changed"]) == 30
            assert _balance(base, key["api_key"]) == Decimal("10") + Decimal("0.03") * 30 - Decimal("0.03") * 20
        finally:
            for server in servers:
                server.stop()
        assert_verify_cli(url)


def _serve_logged(url: str, log_path, workers: int):  # noqa: ANN001, ANN202 - a Popen and its base URL
    """``billbook serve --workers N`` with its log kept in a file the test reads afterwards."""
    import os
    import subprocess
    import sys
    import time

    from tests.conftest import free_port

    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "billbook", "serve", "--port", str(port), "--db", url, "--workers", str(workers)],
            env={**os.environ, "BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()[-4000:]
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def test_sqlite_workers_share_the_writer(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two worker processes on one SQLite file, writes and reads arriving on both at once: every
    write is answered (never "database is locked"), balances are exact, and the log is clean."""
    directory = tmp_path_factory.mktemp("workers")
    url = f"sqlite:///{directory / 'billbook.db'}"
    log_path = directory / "server.log"
    proc, base = _serve_logged(url, log_path, workers=2)
    try:
        with httpx.Client(base_url=base) as http:
            account = create_account(http, ADMIN_TOKEN, balance="100")
            key = create_key(http, ADMIN_TOKEN, account["id"])
        rng = random.Random(3)
        charges = [
            ("/internal/v1/charges", {"access_key_id": key["access_key_id"], "model_uuid": "m/a", "price": "0.01",
                                      "prediction_uuid": f"{rng.getrandbits(128):032x}"})
            for _ in range(400)
        ]
        recharges = [(f"/internal/v1/accounts/{account['id']}/recharges", {"amount": "0.50", "reference": f"r{n}"}) for n in range(40)]
        work = charges + recharges
        rng.shuffle(work)
        customer = {"Authorization": f"Bearer {key['api_key']}"}
        local = threading.local()
        made: list[httpx.Client] = []

        def send(item: tuple[str, dict]) -> httpx.Response:
            if not hasattr(local, "http"):
                local.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60)
                made.append(local.http)
            path, body = item
            # A read between writes, on whichever worker takes it: readers never wait for the writer.
            search = local.http.post("/api/v3/billings/search", json={"page": 1, "page_size": 10}, headers=customer)
            assert search.status_code == 200, search.text
            return local.http.post(path, json=body)

        try:
            with ThreadPoolExecutor(16) as executor:
                answers = list(executor.map(send, work))
        finally:
            for client in made:
                client.close()
        assert Counter(r.status_code for r in answers) == {200: len(work)}, [r.text for r in answers if r.status_code != 200][:3]
        with httpx.Client(base_url=base, headers=customer) as http:
            assert _balance(base, key["api_key"]) == Decimal("100") - Decimal("4.00") + Decimal("20.00")
            total = http.post("/api/v3/billings/search", json={"page": 1, "page_size": 1}).json()["data"]["total"]
            assert total == 1 + 400 + 40
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = log_path.read_text()
    assert log.count("Started server process") >= 2, log[-4000:]
    assert "locked" not in log.lower() and "Traceback" not in log, log[-4000:]
    assert_verify_cli(url)
