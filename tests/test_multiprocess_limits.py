"""A key's daily limit under concurrent charges across several server processes: exactly the
charges that fit under the limit succeed (the account's row lock on PostgreSQL, the single writer
on SQLite), batches included, and the spend rollup still agrees with the records."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import httpx
import pytest

from tests.checks import assert_verify_cli
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_account, create_key
from tests.servers import Server, fresh_database
from tests.test_multiprocess import ADMIN, Pool


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_exactly_the_charges_under_a_daily_limit_succeed_across_processes(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(13)
    with fresh_database(backend, tmp_path_factory, request) as url:
        servers = [Server(url, workers=2)]
        try:
            servers.append(Server(url))
            base = servers[0].base_url
            with httpx.Client(base_url=base) as http:
                account = create_account(http, ADMIN_TOKEN, balance="100")
                key = create_key(http, ADMIN_TOKEN, account["id"])["access_key_id"]
                limited = http.put(f"/internal/v1/keys/{key}/limits", json={"daily": "1.5"}, headers=ADMIN)
                assert limited.status_code == 200, limited.text
            pool = Pool([s.base_url for s in servers], seed=5)
            request.addfinalizer(pool.close)
            charge = {"access_key_id": key, "model_uuid": "m/a", "price": "0.03"}
            singles = [("/internal/v1/charges", charge | {"prediction_uuid": f"{rng.getrandbits(128):032x}"}) for _ in range(60)]
            batches = [
                ("/internal/v1/charges/batch", {"charges": [charge | {"prediction_uuid": f"{rng.getrandbits(128):032x}"} for _ in range(5)]})
                for _ in range(6)
            ]
            work = singles + batches
            rng.shuffle(work)
            answers = pool.run(work)
            statuses = Counter()
            for response in answers:
                assert response.status_code in (200, 403), response.text
                if "results" in (response.json().get("data") or {}):
                    statuses.update(r["status"] for r in response.json()["data"]["results"])
                else:
                    statuses["created" if response.status_code == 200 else "limited"] += 1
            # 90 charges of 0.03 against 1.50: exactly 50 fit.
            assert statuses == Counter({"created": 50, "limited": 40}), statuses
            with httpx.Client(base_url=base) as http:
                keys = http.get("/api/v3/access_keys", headers={"Authorization": f"Bearer {pool_key(http, account)}"})
            spend = keys.json()["data"]["items"][0]["spend"]
            assert Decimal(str(spend["daily"])) == Decimal("1.5")
        finally:
            for server in servers:
                server.stop()
        assert_verify_cli(url)


def pool_key(http: httpx.Client, account: dict) -> str:
    """An api key of the account, to read its keys as the customer does."""
    return create_key(http, ADMIN_TOKEN, account["id"], name="reader")["api_key"]
