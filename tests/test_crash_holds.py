"""Crash safety of the hold sweeper: SIGKILL ``billbook serve`` in the middle of a sweep of many
expired holds, start it again, and every expired hold is refunded exactly once.

2,000 back-dated charges (their holds expired an hour ago) and a few fresh ones are made while the
server's sweeper is off; then a server sweeping every second is started and killed with SIGKILL
(no shutdown code runs) once a seeded number of refunds has committed, plus a seeded pause, so the
kill lands inside a batch; several times. A last server finishes the sweep. Then each expired hold
has one refund and status ``timeout``, the fresh holds are untouched, each balance is exact, a late
``completed`` is refused, and ``billbook verify`` passes.

CI kills three times per database. ``BILLBOOK_CRASH_KILLS=10`` kills more often;
``BILLBOOK_CRASH_SEED=N`` changes (or replays) the kill moments.
"""

from __future__ import annotations

import os
import random
import time
from decimal import Decimal

import httpx
import pytest

from billbook.times import now_ms
from tests.checks import assert_verify_cli
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_account, create_key, new_uuid
from tests.servers import Server, fresh_database

KILLS = int(os.environ.get("BILLBOOK_CRASH_KILLS", "3"))
SEED = int(os.environ.get("BILLBOOK_CRASH_SEED", "20261127"))
ACCOUNTS = 2
EXPIRED = 1_000  # per account
FRESH = 20  # per account
PRICE = "0.01"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SWEEPING = {"BILLBOOK_HOLD_SWEEP_INTERVAL": "1s"}


def _seed(http: httpx.Client) -> list[dict]:
    """The accounts, each with its expired and fresh predictions."""
    customers = []
    for n in range(ACCOUNTS):
        account = create_account(http, ADMIN_TOKEN, name=f"holds{n}", balance="100")
        key = create_key(http, ADMIN_TOKEN, account["id"])
        expired = [new_uuid() for _ in range(EXPIRED)]
        fresh = [new_uuid() for _ in range(FRESH)]
        charges = [
            {"prediction_uuid": uuid, "access_key_id": key["access_key_id"], "model_uuid": "m/hold", "price": PRICE,
             "created_at": now_ms() - (2 * 3_600_000 if uuid in expired else 0)}
            for uuid in expired + fresh
        ]
        for start in range(0, len(charges), 1000):
            response = http.post("/internal/v1/charges/batch", json={"charges": charges[start:start + 1000]}, headers=ADMIN)
            assert response.status_code == 200, response.text
            assert response.json()["data"]["created"] == len(charges[start:start + 1000])
        customers.append({"headers": {"Authorization": f"Bearer {key['api_key']}"}, "expired": expired, "fresh": fresh})
    return customers


def _refunds(http: httpx.Client, customers: list[dict]) -> int:
    body = {"page": 1, "page_size": 1, "billing_type": "refund"}
    return sum(http.post("/api/v3/billings/search", json=body, headers=c["headers"]).json()["data"]["total"] for c in customers)


def _statuses(http: httpx.Client, who: dict) -> dict[str, list[str]]:
    """Each prediction's records (``type:status``), from its account's records."""
    found: dict[str, list[str]] = {}
    page = 1
    while True:
        body = {"page": page, "page_size": 100, "sort": "created_at ASC"}
        data = http.post("/api/v3/billings/search", json=body, headers=who["headers"]).json()["data"]
        for item in (i for i in data["items"] if i["prediction"] is not None):  # not the opening recharge
            found.setdefault(item["prediction"]["uuid"], []).append(f"{item['billing_type']}:{item['prediction']['status']}")
        if not data["has_more"]:
            return found
        page += 1


def _kill_mid_sweep(server: Server, customers: list[dict], threshold: int, pause: float) -> int:
    """SIGKILL once ``threshold`` refunds have committed, ``pause`` seconds later; returns the
    refunds committed just before the kill."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        while (done := _refunds(http, customers)) < threshold:
            time.sleep(0.02)
        time.sleep(pause)
        done = _refunds(http, customers)
    server.kill()
    return done


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sigkill_during_a_sweep_refunds_every_expired_hold_once(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(SEED)
    total = ACCOUNTS * EXPIRED
    with fresh_database(backend, tmp_path_factory, request) as url:
        seeding = Server(url)  # the sweeper is off: nothing expires while the holds are made
        try:
            with httpx.Client(base_url=seeding.base_url, timeout=120) as http:
                customers = _seed(http)
        finally:
            seeding.stop()

        before_kill = []
        done = 0
        for kill in range(KILLS):
            server = Server(url, env=SWEEPING)
            # Spread over what is left, so that the later kills too find holds to expire.
            threshold = min(total, done + rng.randint(1, max(1, (total - done) // (KILLS - kill + 1))))
            done = _kill_mid_sweep(server, customers, threshold, rng.uniform(0, 0.3))
            before_kill.append(done)
        print(f"seed {SEED}: refunds committed at each kill: {before_kill}")
        assert any(0 < d < total for d in before_kill), f"seed {SEED}: no kill landed inside the sweep: {before_kill}"

        server = Server(url, env=SWEEPING)
        try:
            with httpx.Client(base_url=server.base_url, timeout=60) as http:
                while _refunds(http, customers) < total:
                    time.sleep(0.2)
                for who in customers:
                    records = _statuses(http, who)
                    for uuid in who["expired"]:
                        assert sorted(records[uuid]) == ["deduct:timeout", "refund:timeout"], (SEED, uuid, records[uuid])
                    for uuid in who["fresh"]:
                        assert records[uuid] == ["deduct:created"], (SEED, uuid, records[uuid])
                    balance = http.get("/api/v3/balance", headers=who["headers"]).json()["data"]["balance"]
                    assert Decimal(str(balance)) == 100 - FRESH * Decimal(PRICE)
                late = http.post(f"/internal/v1/predictions/{customers[0]['expired'][0]}/status",
                                 json={"status": "completed"}, headers=ADMIN)
                assert late.status_code == 409 and "hold expired" in late.json()["message"]
                assert _refunds(http, customers) == total
        finally:
            server.stop()
        assert_verify_cli(url)
