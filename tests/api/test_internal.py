"""The operator's routes: every write retried gives the same result and changes nothing more."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, aset_status, new_uuid

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def balance(client: httpx.AsyncClient, who: dict) -> float:
    return (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]


async def records(client: httpx.AsyncClient, who: dict, **body: object) -> list[dict]:
    response = await client.post("/api/v3/billings/search", json={"page_size": 100, **body}, headers=who["headers"])
    return response.json()["data"]["items"]


async def test_account_opening_balance_is_a_recharge(client: httpx.AsyncClient) -> None:
    response = await client.post("/internal/v1/accounts", json={"name": "Acme", "balance": 156.78}, headers=ADMIN)
    account = response.json()["data"]
    assert account["name"] == "Acme" and account["balance"] == 156.78
    key = (await client.post(f"/internal/v1/accounts/{account['id']}/keys", json={"name": "k"}, headers=ADMIN)).json()["data"]
    assert key["access_key_id"].startswith(f"{account['id']}_") and len(key["access_key_id"].split("_")[1]) == 19
    headers = {"Authorization": f"Bearer {key['api_key']}"}
    for path in ("/api/v3/balance", "/api/v3/account/balance"):
        assert (await client.get(path, headers=headers)).json() == {
            "code": 200, "message": "success", "data": {"balance": 156.78, "currency": "USD"}
        }
    (opening,) = (await client.post("/api/v3/billings/search", json={}, headers=headers)).json()["data"]["items"]
    assert opening["billing_type"] == "recharge" and opening["price"] == 156.78


async def test_charge_retry_returns_the_same_record(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    uuid = new_uuid()
    first = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.25", prediction_uuid=uuid)
    again = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.25", prediction_uuid=uuid)
    assert first["created"] is True and again["created"] is False
    assert again["record"]["uuid"] == first["record"]["uuid"]
    assert await balance(client, who) == 0.75
    assert len(await records(client, who, billing_type="deduct")) == 1


async def test_charge_with_discount_keeps_list_price(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    data = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.03", origin_price="0.04")
    assert data["record"]["price"] == 0.03
    assert data["record"]["order"]["price"] == 0.03 and data["record"]["order"]["origin_price"] == 0.04


async def test_failure_refunds_exactly_once(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    uuid = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.4", prediction_uuid=uuid)
    await aset_status(client, ADMIN_TOKEN, uuid, "processing")
    first = await aset_status(client, ADMIN_TOKEN, uuid, "failed")
    again = await aset_status(client, ADMIN_TOKEN, uuid, "failed")
    assert first["changed"] is True and first["refund"]["billing_type"] == "refund" and first["refund"]["price"] == 0.4
    assert again == {"prediction_uuid": uuid, "status": "failed", "changed": False, "order_state": "refunded", "refund": None}
    later = await client.post(f"/internal/v1/predictions/{uuid}/status", json={"status": "timeout"}, headers=ADMIN)
    assert later.status_code == 409
    assert await balance(client, who) == 1
    assert len(await records(client, who, billing_type="refund")) == 1


async def test_completion_settles_the_order(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    uuid = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], prediction_uuid=uuid)
    done = await aset_status(client, ADMIN_TOKEN, uuid, "completed", at=1_800_000_000_000)
    assert done["order_state"] == "done" and done["refund"] is None
    assert (await aset_status(client, ADMIN_TOKEN, uuid, "completed"))["changed"] is False
    (deduct,) = await records(client, who, billing_type="deduct")
    assert deduct["order"]["state"] == "done" and deduct["prediction"]["status"] == "completed"
    assert deduct["updated_at"] == "2027-01-15T08:00:00.000Z" and deduct["created_at"] < deduct["updated_at"]
    assert await balance(client, who) == 99.96


async def test_recharge_and_adjustment_are_idempotent_on_reference(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    account = who["account"]["id"]
    url = f"/internal/v1/accounts/{account}/recharges"
    first = (await client.post(url, json={"amount": "5.5", "reference": "pi_1"}, headers=ADMIN)).json()["data"]
    again = (await client.post(url, json={"amount": "5.5", "reference": "pi_1"}, headers=ADMIN)).json()["data"]
    assert first["created"] is True and again["created"] is False and again["uuid"] == first["uuid"]
    assert again["balance"] == 15.5
    url = f"/internal/v1/accounts/{account}/adjustments"
    body = {"amount": "-20", "reason": "chargeback", "reference": "cb_1"}
    first = (await client.post(url, json=body, headers=ADMIN)).json()["data"]
    again = (await client.post(url, json=body, headers=ADMIN)).json()["data"]
    assert first["created"] and not again["created"] and first["amount"] == -20
    assert await balance(client, who) == -4.5  # an operator's correction may overdraw; a charge may not
    conflict = await client.post(url, json=body | {"reason": "other"}, headers=ADMIN)
    assert conflict.status_code == 409
    (adjust,) = await records(client, who, billing_type="adjust")
    assert adjust["price"] == 20 and adjust["order"] is None
    charge = {"prediction_uuid": new_uuid(), "access_key_id": who["key"]["access_key_id"], "model_uuid": "m", "price": 0}
    assert (await client.post("/internal/v1/charges", json=charge | {"price": "0.01"}, headers=ADMIN)).status_code == 402


async def test_a_recharge_keeps_its_reason_and_a_retry_must_send_the_same(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="0")
    url = f"/internal/v1/accounts/{who['account']['id']}/recharges"
    body = {"amount": "7", "reference": "inv-7", "reason": "  invoice 7, paid by wire  "}
    first = (await client.post(url, json=body, headers=ADMIN)).json()["data"]
    assert first["created"] is True and first["reason"] == "invoice 7, paid by wire"
    again = (await client.post(url, json=body, headers=ADMIN)).json()["data"]
    assert again["created"] is False and again["uuid"] == first["uuid"]
    assert (await client.post(url, json=body | {"reason": "another"}, headers=ADMIN)).status_code == 409
    too_long = await client.post(url, json={"amount": "1", "reference": "inv-8", "reason": "x" * 1001}, headers=ADMIN)
    assert too_long.status_code == 400 and "reason" in too_long.json()["message"]
    audit = (await client.get("/internal/v1/audit", params={"account_id": who["account"]["id"]}, headers=ADMIN)).json()
    reasons = [row["summary"].get("reason") for row in audit["data"]["items"] if row["action"] == "recharge"]
    assert "  invoice 7, paid by wire  " in reasons
    assert await balance(client, who) == 7


async def test_revoke_is_idempotent(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    url = f"/internal/v1/keys/{who['key']['access_key_id']}"
    first = (await client.delete(url, headers=ADMIN)).json()["data"]
    again = (await client.delete(url, headers=ADMIN)).json()["data"]
    assert first == again


async def test_revoked_key_cannot_be_charged_but_retries_still_answer(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    key = who["key"]["access_key_id"]
    uuid = new_uuid()
    first = await acreate_charge(client, ADMIN_TOKEN, key, prediction_uuid=uuid)
    await client.delete(f"/internal/v1/keys/{key}", headers=ADMIN)
    again = await acreate_charge(client, ADMIN_TOKEN, key, prediction_uuid=uuid)
    assert again["record"]["uuid"] == first["record"]["uuid"]
    body = {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "m", "price": 1}
    response = await client.post("/internal/v1/charges", json=body, headers=ADMIN)
    assert response.status_code == 409 and "revoked" in response.json()["message"]


async def test_batch_reports_each_charge(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    key = who["key"]["access_key_id"]
    dup = new_uuid()
    charges = [
        {"prediction_uuid": dup, "access_key_id": key, "model_uuid": "m", "price": "0.5"},
        {"prediction_uuid": dup, "access_key_id": key, "model_uuid": "m", "price": "0.5"},
        {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "m", "price": "0.6"},
        {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "m", "price": "bad"},
        {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "m", "price": "0.5"},
        "not an object",
    ]
    response = await client.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
    data = response.json()["data"]
    assert [r["status"] for r in data["results"]] == ["created", "duplicate", "insufficient", "invalid", "created", "invalid"]
    assert [r["code"] for r in data["results"]] == [200, 200, 402, 400, 200, 400]
    assert data["results"][1]["record_uuid"] == data["results"][0]["record_uuid"] is not None
    assert data["results"][2]["record_uuid"] is None
    assert "price" in data["results"][3]["message"]
    assert (data["created"], data["duplicate"], data["insufficient"], data["invalid"]) == (2, 1, 1, 2)
    assert await balance(client, who) == 0
    # Retrying the whole batch changes nothing.
    retry = (await client.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)).json()["data"]
    assert [r["status"] for r in retry["results"]] == ["duplicate", "duplicate", "insufficient", "invalid", "duplicate", "invalid"]
    assert await balance(client, who) == 0


async def test_back_filled_charge_keeps_its_time(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    data = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], created_at=1_700_000_000_123)
    assert data["record"]["created_at"] == "2023-11-14T22:13:20.123Z"


async def test_a_refund_is_never_dated_before_its_charge(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    uuid = new_uuid()
    charged = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], prediction_uuid=uuid,
                                   created_at=1_800_000_000_000)
    refund = (await aset_status(client, ADMIN_TOKEN, uuid, "failed", at=1_700_000_000_000))["refund"]
    assert refund["created_at"] == charged["record"]["created_at"]
