"""Retries at the edges of idempotency: what a retry leaves out, and a repeat of a refused charge."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, new_uuid

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_a_retry_of_a_discounted_charge_may_leave_out_origin_price(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    key, uuid = who["key"]["access_key_id"], new_uuid()
    first = await acreate_charge(
        client, ADMIN_TOKEN, key, "0.03", prediction_uuid=uuid, origin_price="0.04", model_type="t2i", created_at=1_767_225_600_000
    )
    bare = {"prediction_uuid": uuid, "access_key_id": key, "model_uuid": "bytedance/seedream-v4.5", "price": "0.03"}
    retry = await client.post("/internal/v1/charges", json=bare, headers=ADMIN)
    assert retry.status_code == 200, retry.text
    assert retry.json()["data"]["created"] is False
    assert retry.json()["data"]["record"]["uuid"] == first["record"]["uuid"]
    # A retry that does send origin_price is still compared.
    other = await client.post("/internal/v1/charges", json=bare | {"origin_price": "0.05"}, headers=ADMIN)
    assert other.status_code == 409 and "origin_price" in other.json()["message"]
    balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert balance == 0.97


async def test_a_repeat_of_a_charge_refused_for_funds_says_so(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="0.1")
    key, uuid = who["key"]["access_key_id"], new_uuid()
    charge = {"prediction_uuid": uuid, "access_key_id": key, "model_uuid": "m", "price": "0.5"}
    charges = [charge, charge | {"created_at": 1_767_225_600_000}, charge]
    response = await client.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
    results = response.json()["data"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [("insufficient", 402)] * 3
    for repeat in results[1:]:
        assert repeat["message"].startswith(
            f"prediction_uuid {uuid} repeats an earlier charge in this batch that was refused: insufficient balance"
        ), repeat["message"]
        assert "different" not in repeat["message"]
    assert response.json()["data"]["insufficient"] == 3
