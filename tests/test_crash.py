"""Crash safety: SIGKILL the server under load, restart it, and account for every write.

A few client threads charge, settle, refund and recharge at full speed against a real
``billbook serve``; after a seeded number of acknowledged writes the server is killed with SIGKILL
(no shutdown code runs) and started again on the same database, several times. Then:

- every acknowledged (200) write is there: its charge, its status, its recharge;
- a write whose answer was lost is there entirely or not at all, and ``billbook verify`` passes;
- retrying every lost write (the platform's job) succeeds, and each balance is then exactly the
  opening balance plus recharges, less charges, plus refunds.

CI kills three times per database. ``BILLBOOK_CRASH_KILLS=30`` runs longer;
``BILLBOOK_CRASH_SEED=N`` changes (or replays) the kill moments and the workload.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest

from tests.checks import assert_verify_cli
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_account, create_key
from tests.servers import Server, fresh_database

KILLS = int(os.environ.get("BILLBOOK_CRASH_KILLS", "3"))
SEED = int(os.environ.get("BILLBOOK_CRASH_SEED", "20260423"))
CLIENTS = 4
OPENING = 10_000_000_000  # 10,000 USD: no charge is refused for want of balance
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def usd(micros: int) -> str:
    return str(Decimal(micros).scaleb(-6))


@dataclass
class Op:
    path: str
    body: dict
    kind: str  # charge, status, recharge
    account_id: int
    micros: int = 0
    uuid: str | None = None
    acked: bool | None = None


@dataclass
class Prediction:
    uuid: str
    account_id: int
    price: int
    status: str = "created"  # last acknowledged
    in_doubt: Op | None = None  # a status change whose answer was lost
    busy: bool = False  # a client is changing it: one change at a time, as the platform does


@dataclass
class Books:
    """Everything the clients sent, shared by the threads under one lock."""

    accounts: dict[int, dict] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    predictions: dict[str, Prediction] = field(default_factory=dict)
    acks: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    """One platform worker: its own random stream; stops at its first lost answer."""

    def __init__(self, books: Books, seed: int) -> None:
        self.books, self.rng = books, random.Random(seed)

    def _next(self) -> Op:
        rng, books = self.rng, self.books
        account_id = rng.choice(sorted(books.accounts))
        roll = rng.random()
        with books.lock:
            settled = [p for p in books.predictions.values() if p.account_id == account_id and not p.busy
                       and p.in_doubt is None and p.status in ("created", "processing")]
            chosen = rng.choice(settled) if settled and 0.45 <= roll < 0.85 else None
            if chosen is not None:
                chosen.busy = True
        if roll < 0.45 or not settled:
            uuid = f"{rng.getrandbits(128):032x}"
            price = rng.choice((6_000, 40_000, 300_000)) + rng.randrange(1000)
            key = books.accounts[account_id]["key"]["access_key_id"]
            body = {"prediction_uuid": uuid, "access_key_id": key, "model_uuid": "m/crash", "price": usd(price)}
            return Op("/internal/v1/charges", body, "charge", account_id, price, uuid)
        if chosen is not None:
            p = chosen
            status = rng.choice(("processing", "completed", "failed", "timeout")) if p.status == "created" \
                else rng.choice(("completed", "failed", "cancelled"))
            return Op(f"/internal/v1/predictions/{p.uuid}/status", {"status": status}, "status", account_id, uuid=p.uuid)
        amount = rng.choice((1_000_000, 2_500_000))
        body = {"amount": usd(amount), "reference": f"pay_{rng.getrandbits(64):016x}"}
        return Op(f"/internal/v1/accounts/{account_id}/recharges", body, "recharge", account_id, amount)

    def record(self, op: Op, response: httpx.Response | None) -> None:
        books = self.books
        with books.lock:
            if response is None:
                op.acked = None
            elif response.status_code == 200:
                op.acked = True
                books.acks += 1
            else:
                op.acked = False
                books.errors.append(f"{op.path} {op.body}: {response.status_code} {response.text[:200]}")
            if op.kind == "charge" and op.acked:
                books.predictions[op.uuid] = Prediction(op.uuid, op.account_id, op.micros)
            elif op.kind == "charge" and op.acked is None:
                books.predictions[op.uuid] = Prediction(op.uuid, op.account_id, op.micros, "unknown")
            elif op.kind == "status":
                prediction = books.predictions[op.uuid]
                prediction.busy = False
                if op.acked:
                    prediction.status = op.body["status"]
                elif op.acked is None:
                    prediction.in_doubt = op

    def run(self, base_url: str, stop: threading.Event) -> None:
        with httpx.Client(base_url=base_url, headers=ADMIN, timeout=60) as http:
            while not stop.is_set():
                op = self._next()
                with self.books.lock:
                    self.books.ops.append(op)
                try:
                    response = http.post(op.path, json=op.body)
                except httpx.TransportError:
                    self.record(op, None)
                    return
                self.record(op, response)


def _round(books: Books, clients: list[Client], base_url: str, kill_after: int | None, server: Server) -> None:
    """Run the clients; with ``kill_after``, SIGKILL the server once that many more writes were acknowledged."""
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(base_url, stop)) for c in clients]
    start = books.acks
    for thread in threads:
        thread.start()
    target = start + (kill_after or 40)
    while books.acks < target and any(t.is_alive() for t in threads):
        time.sleep(0.005)
    if kill_after is not None:
        server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=120)


def _records(http: httpx.Client, api_key: str) -> list[dict]:
    items, page = [], 1
    while True:
        body = {"page": page, "page_size": 100}
        response = http.post("/api/v3/billings/search", json=body, headers={"Authorization": f"Bearer {api_key}"})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        items += data["items"]
        if not data["has_more"]:
            return items
        page += 1


def _check_acknowledged(books: Books, http: httpx.Client) -> None:
    """After the crashes, before any retry: acknowledged writes present, lost ones all or nothing."""
    for account_id, account in books.accounts.items():
        items = _records(http, account["key"]["api_key"])
        deducts = {i["prediction"]["uuid"]: i for i in items if i["billing_type"] == "deduct"}
        refunds = {i["prediction"]["uuid"] for i in items if i["billing_type"] == "refund"}
        for p in (p for p in books.predictions.values() if p.account_id == account_id):
            found = deducts.get(p.uuid)
            if p.status != "unknown":
                assert found is not None, f"acknowledged charge {p.uuid} is missing after the crash"
            if found is None:
                assert p.uuid not in refunds
                continue
            assert found["order"] is not None and found["order"]["price"] == found["price"], found
            status = found["prediction"]["status"]
            allowed = {p.status} | ({p.in_doubt.body["status"]} if p.in_doubt else set())
            if p.status != "unknown":
                assert status in allowed, f"{p.uuid}: status {status}, acknowledged {p.status}"
            assert (p.uuid in refunds) == (status in ("failed", "cancelled", "timeout")), p.uuid


def _retry_and_balance(books: Books, http: httpx.Client) -> None:
    """Retry every lost write and every recharge: all succeed, then balances are exact."""
    for op in books.ops:
        if op.acked is None or op.kind == "recharge":
            response = http.post(op.path, json=op.body)
            assert response.status_code == 200, (op.path, op.body, response.text)
            if op.kind == "recharge" and op.acked:
                assert response.json()["data"]["created"] is False, f"acknowledged recharge {op.body} was lost"
            op.acked = True
    for account_id, account in books.accounts.items():
        expected = OPENING
        expected += sum(op.micros for op in books.ops if op.kind == "recharge" and op.account_id == account_id)
        final: dict[str, str] = {}
        for op in books.ops:
            if op.kind == "status":
                final[op.uuid] = op.body["status"]
        for op in books.ops:
            if op.kind == "charge" and op.account_id == account_id:
                expected -= op.micros
                if final.get(op.uuid) in ("failed", "cancelled", "timeout"):
                    expected += op.micros
        headers = {"Authorization": f"Bearer {account['key']['api_key']}"}
        balance = http.get("/api/v3/balance", headers=headers).json()["data"]["balance"]
        assert Decimal(str(balance)) * 1_000_000 == expected, f"account {account_id}: {balance} USD, expected {expected} micros"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sigkill_loses_no_acknowledged_write(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(SEED)
    with fresh_database(backend, tmp_path_factory, request) as url:
        books = Books()
        server = Server(url)
        try:
            with httpx.Client(base_url=server.base_url) as http:
                for n in range(2):
                    account = create_account(http, ADMIN_TOKEN, name=f"crash{n}", balance=usd(OPENING))
                    books.accounts[account["id"]] = {"key": create_key(http, ADMIN_TOKEN, account["id"])}
            clients = [Client(books, rng.getrandbits(32)) for _ in range(CLIENTS)]
            for _ in range(KILLS):
                _round(books, clients, server.base_url, rng.randint(5, 60), server)
                server = Server(url)
            assert not books.errors, f"seed {SEED}: unexpected answers: {books.errors[:5]}"
            lost = sum(1 for op in books.ops if op.acked is None)
            with httpx.Client(base_url=server.base_url, headers=ADMIN, timeout=60) as http:
                _check_acknowledged(books, http)
                assert_verify_cli(url)
                _retry_and_balance(books, http)
        finally:
            server.stop()
        assert_verify_cli(url)
        assert books.acks >= KILLS * 5, f"seed {SEED}: {books.acks} acknowledged, {lost} answers lost"
