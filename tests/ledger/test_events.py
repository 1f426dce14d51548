"""The outbox: ledger changes that cause an event write it in their own transaction, and a change
that is refused or rolled back leaves none behind."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from billbook.ledger import events, holds
from billbook.store import events as event_store
from billbook.store.db import Database
from billbook.times import now_ms
from billbook.vocabulary import EventType
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, new_uuid

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def all_events(db: Database) -> list:
    async with db.transaction(write=False) as conn:
        return await event_store.after(conn, 0, 1000)


async def test_recharges_and_adjustments_write_one_event_each_and_retries_none(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    account = who["account"]["id"]
    recharge = {"amount": "2.5", "reference": "inv-1"}
    adjust = {"amount": "-0.000001", "reason": "rounding", "reference": "adj-1"}
    for _ in range(2):  # the retry answers the same record and writes no second event
        assert (await client.post(f"/internal/v1/accounts/{account}/recharges", json=recharge, headers=ADMIN)).status_code == 200
        assert (await client.post(f"/internal/v1/accounts/{account}/adjustments", json=adjust, headers=ADMIN)).status_code == 200
    refused = {"amount": "3", "reference": "inv-1"}  # same reference, other amount: 409, no event
    assert (await client.post(f"/internal/v1/accounts/{account}/recharges", json=refused, headers=ADMIN)).status_code == 409

    found = [e for e in await all_events(app.state.db) if e.account_id == account]
    assert [e.type for e in found] == [EventType.RECHARGE_CREATED] * 2 + [EventType.ADJUSTMENT_CREATED]
    opening, topup, correction = (json.loads(e.data, parse_float=Decimal) for e in found)
    assert opening["amount"] == Decimal("10") and opening["balance"] == Decimal("10")
    assert topup["reference"] == "inv-1" and topup["amount"] == Decimal("2.5") and topup["balance"] == Decimal("12.5")
    assert correction["amount"] == Decimal("-0.000001") and correction["balance"] == Decimal("12.499999")
    assert correction["reason"] == "rounding" and correction["billing_type"] == "adjust"
    assert len({e.uuid for e in found}) == 3 and all(e.uuid.startswith("evt_") for e in found)


async def test_an_expired_hold_writes_hold_expired_with_its_refund(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    uuid = new_uuid()
    key = who["key"]["access_key_id"]
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.25", prediction_uuid=uuid, created_at=now_ms() - 7_200_000)
    db: Database = app.state.db
    assert await holds.sweep(lambda: db.transaction(write=True)) == 1
    assert await holds.sweep(lambda: db.transaction(write=True)) == 0

    expired = [e for e in await all_events(db) if e.type == EventType.HOLD_EXPIRED]
    assert len(expired) == 1 and expired[0].account_id == who["account"]["id"]
    data = json.loads(expired[0].data, parse_float=Decimal)
    assert data["prediction_uuid"] == uuid and data["access_key_id"] == key
    assert data["amount"] == Decimal("0.25") and data["balance"] == Decimal("1")
    assert data["billing_type"] == "refund"


async def test_an_event_rolled_back_with_its_change_is_gone(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN)
    db: Database = app.state.db
    before = len(await all_events(db))
    try:
        async with db.transaction(write=True) as conn:
            await events.emit(conn, who["account"]["id"], EventType.BALANCE_LOW, {"balance": events.usd(1)})
            raise RuntimeError("the change fails after its event was written")
    except RuntimeError:
        pass
    assert len(await all_events(db)) == before
