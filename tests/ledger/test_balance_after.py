"""Every record carries its signed ``amount`` and ``balance_after``, the account's balance right after
it in the ledger's write order (record id order), whatever wrote it."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import select

from billbook.store.db import Database
from billbook.store.tables import billing_records
from tests.checks import assert_verified
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, arecharge, aset_status, new_uuid

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def usd(value: float | int) -> Decimal:
    """A wire number as exact USD (the JSON text is the shortest round-trip form)."""
    return Decimal(str(value))


async def search_all(client: httpx.AsyncClient, headers: dict) -> list[dict]:
    items, page = [], 1
    while True:
        body = {"page": page, "page_size": 100, "sort": "created_at ASC"}
        data = (await client.post("/api/v3/billings/search", json=body, headers=headers)).json()["data"]
        items += data["items"]
        if not data["has_more"]:
            return items
        page += 1


async def in_write_order(db: Database, items: list[dict]) -> list[dict]:
    """The searched records ordered by record id, the ledger's write order."""
    async with db.transaction(write=False) as conn:
        ids = dict((await conn.execute(select(billing_records.c.uuid, billing_records.c.id))).all())
    return sorted(items, key=lambda item: ids[item["uuid"]])


def assert_running(items: list[dict], balance: Decimal) -> None:
    """Each ``balance_after`` is the running sum of ``amount`` in write order, ending at ``balance``."""
    running = Decimal(0)
    for item in items:
        running += usd(item["amount"])
        assert usd(item["balance_after"]) == running, (item, running)
    assert running == balance


async def balance(client: httpx.AsyncClient, who: dict) -> Decimal:
    return usd((await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"])


async def test_every_record_type_carries_amount_and_balance_after(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    key, account_id = who["key"]["access_key_id"], who["account"]["id"]
    failed = new_uuid()
    charged = await acreate_charge(client, ADMIN_TOKEN, key, price="0.25", prediction_uuid=failed)
    assert (charged["record"]["amount"], charged["record"]["balance_after"]) == (-0.25, 0.75)
    await aset_status(client, ADMIN_TOKEN, failed, "failed")
    await arecharge(client, ADMIN_TOKEN, account_id, "2")
    for amount, ref in (("-0.5", "cb-1"), ("0.125", "goodwill")):
        body = {"amount": amount, "reason": "correction", "reference": ref}
        r = await client.post(f"/internal/v1/accounts/{account_id}/adjustments", json=body, headers=ADMIN)
        assert r.status_code == 200, r.text
    back_dated = await acreate_charge(client, ADMIN_TOKEN, key, price="0.1", created_at=1_767_225_600_000)
    assert back_dated["record"]["balance_after"] == 2.525

    items = await in_write_order(app.state.db, await search_all(client, who["headers"]))
    shown = [(i["billing_type"], i["price"], i["amount"], i["balance_after"]) for i in items]
    assert shown == [
        ("recharge", 1, 1, 1),
        ("deduct", 0.25, -0.25, 0.75),
        ("refund", 0.25, 0.25, 1),
        ("recharge", 2, 2, 3),
        ("adjust", 0.5, -0.5, 2.5),
        ("adjust", 0.125, 0.125, 2.625),
        ("deduct", 0.1, -0.1, 2.525),
    ]
    assert list(items[0])[:7] == ["uuid", "access_key_id", "access_key_name", "billing_type", "price", "amount", "balance_after"]
    assert_running(items, await balance(client, who))
    await assert_verified(app.state.db)


async def test_a_batch_tracks_each_accounts_balance_in_list_order(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    """Several charges of one account in one batch, a refused one in the middle, another account
    interleaved and a repeat: each deduct shows the balance after it and the ones before it."""
    first = await acustomer(client, ADMIN_TOKEN, balance="1")
    second = await acustomer(client, ADMIN_TOKEN, balance="0.5", name="other")
    a, b = first["key"]["access_key_id"], second["key"]["access_key_id"]
    uuids = [new_uuid() for _ in range(6)]
    charges = [
        {"prediction_uuid": uuids[0], "access_key_id": a, "model_uuid": "m", "price": "0.3"},
        {"prediction_uuid": uuids[1], "access_key_id": b, "model_uuid": "m", "price": "0.2"},
        {"prediction_uuid": uuids[2], "access_key_id": a, "model_uuid": "m", "price": "0.3"},
        {"prediction_uuid": uuids[3], "access_key_id": a, "model_uuid": "m", "price": "0.5"},
        {"prediction_uuid": uuids[0], "access_key_id": a, "model_uuid": "m", "price": "0.3"},
        {"prediction_uuid": uuids[4], "access_key_id": a, "model_uuid": "m", "price": "0.25"},
        {"prediction_uuid": uuids[5], "access_key_id": b, "model_uuid": "m", "price": "0.3"},
    ]
    response = await client.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
    results = response.json()["data"]["results"]
    assert [r["status"] for r in results] == [
        "created", "created", "created", "insufficient", "duplicate", "created", "created"
    ]
    for who, expected in ((first, {uuids[0]: 0.7, uuids[2]: 0.4, uuids[4]: 0.15}), (second, {uuids[1]: 0.3, uuids[5]: 0})):
        items = await in_write_order(app.state.db, await search_all(client, who["headers"]))
        deducts = {i["prediction"]["uuid"]: i["balance_after"] for i in items if i["billing_type"] == "deduct"}
        assert deducts == expected
        assert_running(items, await balance(client, who))
    await assert_verified(app.state.db)


async def test_a_refund_after_later_charges_shows_the_balance_it_left(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    key = who["key"]["access_key_id"]
    early, late = new_uuid(), new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.4", prediction_uuid=early)
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.5", prediction_uuid=late)
    await aset_status(client, ADMIN_TOKEN, early, "timeout")
    items = await in_write_order(app.state.db, await search_all(client, who["headers"]))
    assert [(i["billing_type"], i["balance_after"]) for i in items] == [
        ("recharge", 1), ("deduct", 0.6), ("deduct", 0.1), ("refund", 0.5)
    ]
    assert_running(items, await balance(client, who))
