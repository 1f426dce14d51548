"""Spend limits over HTTP: both setters, the lower applying, a refusal that writes nothing but its
alert, refunds that free spend, batches that agree with single charges, and the alerts."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from billbook.store import events as event_store
from billbook.times import MS_PER_DAY, now_ms
from billbook.vocabulary import EventType
from tests.conftest import ADMIN_TOKEN
from tests.factories import (
    acreate_charge,
    acreate_key,
    acustomer,
    aset_account_limits,
    aset_key_limits,
    aset_status,
    new_uuid,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _events(app, account_id: int) -> list:  # noqa: ANN001
    async with app.state.db.transaction(write=False) as conn:
        return [e for e in await event_store.after(conn, 0, 1000) if e.account_id == account_id]


def _charge(key: str, price: str, **extra: object) -> dict:
    return {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "m", "price": price, **extra}


async def test_a_key_limit_refuses_the_charge_that_would_pass_it_and_names_what_is_left(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="100")
    key, account = who["key"]["access_key_id"], who["account"]["id"]
    await aset_key_limits(client, ADMIN_TOKEN, key, daily="1")
    for _ in range(3):
        await acreate_charge(client, ADMIN_TOKEN, key, price="0.3")
    refused = await client.post("/internal/v1/charges", json=_charge(key, "0.2"), headers=ADMIN)
    assert refused.status_code == 403, refused.text
    message = refused.json()["message"]
    assert "daily limit of 1 USD" in message and "0.1 USD left" in message and key in message
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.1")  # exactly what is left fits
    balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert Decimal(str(balance)) == Decimal("99")

    types = [e.type for e in await _events(app, account)]
    # 0.9 crossed 80 %; the refusal reached the limit (once, though spend then moved up again to 1).
    assert types.count(EventType.LIMIT_WARNING) == 1 and types.count(EventType.LIMIT_REACHED) == 1


async def test_the_lower_of_operator_and_customer_limits_applies(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    account = who["account"]["id"]
    await aset_account_limits(client, ADMIN_TOKEN, account, monthly="5")
    put = await client.put("/api/v3/account/limits", json={"monthly": "2", "total": None}, headers=who["headers"])
    assert put.status_code == 200, put.text
    limits = put.json()["data"]["limits"]
    assert limits["operator"]["monthly"] == 5 and limits["customer"]["monthly"] == 2
    assert limits["applied"] == {"daily": None, "monthly": 2, "total": None}
    key = who["key"]["access_key_id"]
    await acreate_charge(client, ADMIN_TOKEN, key, price="1.5")
    refused = await client.post("/internal/v1/charges", json=_charge(key, "0.6"), headers=ADMIN)
    assert refused.status_code == 403 and "the account has a monthly limit of 2 USD (set by the customer)" in refused.json()["message"]
    again = await client.put("/api/v3/account/limits", json={"monthly": "2"}, headers=who["headers"])  # idempotent
    assert again.json()["data"] == put.json()["data"] | {"spend": {"daily": 1.5, "monthly": 1.5, "total": 1.5}}


async def test_a_refund_frees_spend_in_its_deducts_window(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    key = who["key"]["access_key_id"]
    await aset_key_limits(client, ADMIN_TOKEN, key, daily="1")
    yesterday = now_ms() - MS_PER_DAY
    old = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, key, price="1", prediction_uuid=old, created_at=yesterday)
    # Yesterday's window is full; today's is not.
    late = await client.post("/internal/v1/charges", json=_charge(key, "0.5", created_at=yesterday), headers=ADMIN)
    assert late.status_code == 403
    today = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, key, price="1", prediction_uuid=today)
    await aset_status(client, ADMIN_TOKEN, old, "failed")  # frees yesterday, not today
    assert (await client.post("/internal/v1/charges", json=_charge(key, "0.5"), headers=ADMIN)).status_code == 403
    ok = await client.post("/internal/v1/charges", json=_charge(key, "0.5", created_at=yesterday), headers=ADMIN)
    assert ok.status_code == 200, ok.text


async def test_a_batch_agrees_with_single_charges(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    key = who["key"]["access_key_id"]
    other = (await acreate_key(client, ADMIN_TOKEN, who["account"]["id"], name="other"))["access_key_id"]
    await aset_key_limits(client, ADMIN_TOKEN, key, total="1")
    batch = [_charge(key, "0.4"), _charge(other, "5"), _charge(key, "0.4"), _charge(key, "0.4"), _charge(key, "0.2")]
    response = await client.post("/internal/v1/charges/batch", json={"charges": batch}, headers=ADMIN)
    data = response.json()["data"]
    assert [r["status"] for r in data["results"]] == ["created", "created", "created", "limited", "created"]
    assert data["results"][3]["code"] == 403 and "0.2 USD left" in data["results"][3]["message"]
    assert data["limited"] == 1 and data["created"] == 4


async def test_customers_list_their_keys_with_spend_and_set_their_own_limits(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    key = who["key"]["access_key_id"]
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.25")
    put = await client.put(f"/api/v3/access_keys/{key}/limits", json={"daily": "10"}, headers=who["headers"])
    assert put.status_code == 200, put.text
    listed = (await client.get("/api/v3/access_keys", headers=who["headers"])).json()["data"]["items"]
    assert len(listed) == 1 and listed[0]["access_key_id"] == key and listed[0]["revoked"] is False
    assert listed[0]["spend"] == {"daily": 0.25, "monthly": 0.25, "total": 0.25}
    assert listed[0]["limits"]["customer"]["daily"] == 10 and listed[0]["limits"]["operator"]["daily"] is None
    stranger = await acustomer(client, ADMIN_TOKEN, name="other")
    theirs = stranger["key"]["access_key_id"]
    denied = await client.put(f"/api/v3/access_keys/{theirs}/limits", json={"daily": "1"}, headers=who["headers"])
    assert denied.status_code == 404
    bad = await client.put(f"/api/v3/access_keys/{key}/limits", json={"daily": "-1"}, headers=who["headers"])
    assert bad.status_code == 400 and "daily" in bad.json()["message"]


async def test_low_balance_alerts_fire_once_per_crossing_and_re_arm(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="12")
    key, account = who["key"]["access_key_id"], who["account"]["id"]
    put = await client.put("/api/v3/account/alerts", json={"low_balance": [5, "10"]}, headers=who["headers"])
    assert put.json()["data"] == {"low_balance": [10, 5]}
    assert (await client.get("/api/v3/account/alerts", headers=who["headers"])).json()["data"] == {"low_balance": [10, 5]}
    first = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, key, price="3", prediction_uuid=first)  # 12 -> 9: below 10
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.5")  # 9 -> 8.5: no new crossing
    await aset_status(client, ADMIN_TOKEN, first, "failed")  # back to 11.5: re-armed
    await acreate_charge(client, ADMIN_TOKEN, key, price="11.5")  # 11.5 -> 0: 10, 5 and depleted
    found = [e for e in await _events(app, account) if e.type.startswith("balance.")]
    thresholds = [json.loads(e.data).get("threshold") for e in found]
    assert [e.type for e in found] == ["balance.low", "balance.low", "balance.low", "balance.depleted"]
    assert thresholds == [10, 10, 5, None]


async def test_limit_alerts_re_arm_on_a_refund_and_in_a_new_window(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN)
    key, account = who["key"]["access_key_id"], who["account"]["id"]
    await aset_key_limits(client, ADMIN_TOKEN, key, daily="1")
    yesterday = now_ms() - MS_PER_DAY
    first = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.85", prediction_uuid=first, created_at=yesterday)  # 85 %
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.05", created_at=yesterday)  # still above: no repeat
    await aset_status(client, ADMIN_TOKEN, first, "failed")  # back to 5 %: re-armed
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.8", created_at=yesterday)  # 85 % again
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.9")  # today's window: its own warning
    warnings = [json.loads(e.data) for e in await _events(app, account) if e.type == EventType.LIMIT_WARNING]
    days = [w["window_start"] for w in warnings if w["access_key_id"] == key and w["period"] == "daily"]
    assert len(days) == 3 and days[0] == days[1] != days[2]
    assert warnings[0]["limit"] == 1 and warnings[0]["percent"] == 80 and warnings[0]["set_by"] == "operator"


async def test_a_limit_raised_past_the_spend_re_arms_reached(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN)
    key, account = who["key"]["access_key_id"], who["account"]["id"]
    await aset_account_limits(client, ADMIN_TOKEN, account, total="1")
    await acreate_charge(client, ADMIN_TOKEN, key, price="1")  # reaches it exactly
    assert (await client.post("/internal/v1/charges", json=_charge(key, "0.1"), headers=ADMIN)).status_code == 403
    await aset_account_limits(client, ADMIN_TOKEN, account, total="2")
    await acreate_charge(client, ADMIN_TOKEN, key, price="1")
    reached = [e for e in await _events(app, account) if e.type == EventType.LIMIT_REACHED]
    assert len(reached) == 2  # once at 1 (the refusal after it adds none), once more at 2


async def test_unknown_keys_and_accounts_are_404(client: httpx.AsyncClient) -> None:
    missing_key = await client.put("/internal/v1/keys/999_1/limits", json={"daily": "1"}, headers=ADMIN)
    missing_account = await client.put("/internal/v1/accounts/99999/limits", json={"daily": "1"}, headers=ADMIN)
    assert missing_key.status_code == missing_account.status_code == 404


async def test_a_window_without_a_limit_is_written_blind_and_keeps_its_alert_until_spend_goes_back(
    client: httpx.AsyncClient, app  # noqa: ANN001
) -> None:
    """A charge reads only the windows of subjects with a limit; the others get their spend added,
    their alert level kept (a limit removed re-arms only the windows of now) and re-armed by a refund."""
    from sqlalchemy import text

    who = await acustomer(client, ADMIN_TOKEN)
    key = who["key"]["access_key_id"]
    yesterday = now_ms() - MS_PER_DAY

    async def window() -> tuple[int, int]:
        async with app.state.db.transaction(write=False) as conn:
            query = text(
                "SELECT amount, alerted FROM spend_windows WHERE access_key_id = :k AND period = 'daily' AND start = :s"
            )
            row = (await conn.execute(query, {"k": key, "s": yesterday // MS_PER_DAY})).one()
        return int(row[0]), int(row[1])

    await aset_key_limits(client, ADMIN_TOKEN, key, daily="1")
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.9", created_at=yesterday)
    assert await window() == (900_000, 80)
    await aset_key_limits(client, ADMIN_TOKEN, key)  # no limit left: yesterday's window keeps its 80 %
    second = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.05", prediction_uuid=second, created_at=yesterday)
    assert await window() == (950_000, 80)
    await aset_status(client, ADMIN_TOKEN, second, "failed")
    assert await window() == (900_000, 0)
