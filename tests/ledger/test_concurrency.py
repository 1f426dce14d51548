"""Many concurrent charges against one balance: exactly as many succeed as the balance allows."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.factories import acustomer, new_uuid

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _charge(client: httpx.AsyncClient, key: str, uuid: str, price: str) -> int:
    body = {"prediction_uuid": uuid, "access_key_id": key, "model_uuid": "m", "price": price}
    return (await client.post("/internal/v1/charges", json=body, headers=ADMIN)).status_code


async def _sum_of_records(client: httpx.AsyncClient, who: dict) -> float:
    from decimal import Decimal

    total, page = Decimal(0), 1
    sign = {"recharge": 1, "refund": 1, "deduct": -1}
    while True:
        r = await client.post("/api/v3/billings/search", json={"page": page, "page_size": 100}, headers=who["headers"])
        data = r.json()["data"]
        total += sum(sign[i["billing_type"]] * Decimal(str(i["price"])) for i in data["items"])
        if not data["has_more"]:
            return float(total)
        page += 1


async def test_concurrent_charges_never_overdraw(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="1.00")
    key = who["key"]["access_key_id"]
    codes = await asyncio.gather(*(_charge(client, key, new_uuid(), "0.03") for _ in range(60)))
    assert codes.count(200) == 33 and codes.count(402) == 27  # 33 * 0.03 = 0.99
    balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert balance == 0.01
    assert await _sum_of_records(client, who) == balance


async def test_concurrent_duplicates_charge_once(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    key = who["key"]["access_key_id"]
    uuid = new_uuid()
    codes = await asyncio.gather(*(_charge(client, key, uuid, "1") for _ in range(20)))
    assert codes == [200] * 20
    balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert balance == 9


async def test_concurrent_refunds_and_charges_keep_the_invariant(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="2")
    key = who["key"]["access_key_id"]
    uuids = [new_uuid() for _ in range(20)]
    await asyncio.gather(*(_charge(client, key, u, "0.1") for u in uuids))
    fail = [client.post(f"/internal/v1/predictions/{u}/status", json={"status": "failed"}, headers=ADMIN) for u in uuids]
    more = [_charge(client, key, new_uuid(), "0.1") for _ in range(30)]
    results = await asyncio.gather(*fail, *more)
    assert all(r.status_code == 200 for r in results[:20])
    codes = results[20:]
    assert set(codes) <= {200, 402}
    # Whatever the interleaving: each refund returned 0.1, each accepted charge took 0.1.
    balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert round(balance * 10) == 20 - codes.count(200) and balance >= 0
    assert await _sum_of_records(client, who) == balance


async def test_concurrent_retries_of_a_charge_the_balance_covers_once(client: httpx.AsyncClient) -> None:
    """Retries racing the first attempt see it as a retry, never as a charge the balance refuses."""
    who = await acustomer(client, ADMIN_TOKEN, balance="0.05")
    uuid = new_uuid()
    codes = await asyncio.gather(*(_charge(client, who["key"]["access_key_id"], uuid, "0.04") for _ in range(12)))
    assert codes == [200] * 12
    balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert balance == 0.01
