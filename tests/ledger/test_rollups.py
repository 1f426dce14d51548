"""The rollups (``usage_daily``, ``billing_daily``) always equal a recomputation from the records:
after random sequences of every kind of write, and after concurrent writers."""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict

import httpx
import pytest
from sqlalchemy import func, literal_column, select

from billbook.ledger import accounts, charges, funds, keys
from billbook.ledger.errors import BillbookError
from billbook.ledger.usage import cells_from_deducts
from billbook.store import usage as usage_store
from billbook.store.db import Database
from billbook.store.tables import billing_daily, billing_records, usage_daily
from billbook.times import MS_PER_DAY
from tests.conftest import ADMIN_TOKEN
from tests.factories import acustomer, new_uuid

T0 = 1_767_225_600_000
MODELS = ("bytedance/seedream-v4.5", "google/veo3-fast", "wavespeed-ai/flux-dev")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def assert_rollups_match(db: Database) -> None:
    async with db.transaction(write=False) as conn:
        account_ids = [a for (a,) in await conn.execute(select(billing_records.c.account_id).distinct())]
        for account_id in account_ids:
            expected = cells_from_deducts(await usage_store.deduct_rows(conn, account_id))
            stored = [dict(r) for r in (await conn.execute(select(usage_daily).where(usage_daily.c.account_id == account_id))).mappings()]
            key = lambda c: (c["day"], c["model_uuid"], c["access_key_id"])  # noqa: E731
            fields = ("deduct_count", "deduct_amount", "refund_count", "refund_amount", "completed_count",
                      "last_used_at", "last_price", "model_type")
            recomputed = [asdict(cell) for cell in expected]
            assert {key(c): tuple(c[f] for f in fields) for c in stored} == {key(c): tuple(c[f] for f in fields) for c in recomputed}
        r = billing_records.c
        day = (r.created_at // literal_column(str(MS_PER_DAY))).label("day")
        recount = select(r.account_id, day, r.billing_type, func.count()).group_by(r.account_id, day, r.billing_type)
        want = {(a, int(d), t): n for a, d, t, n in await conn.execute(recount)}
        got = {(a, d, t): n for a, d, t, n in await conn.execute(select(billing_daily))}
        assert got == want


@pytest.mark.parametrize("seed", range(4))
async def test_random_sequences(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    async with db.transaction(write=True) as conn:
        account = await accounts.create_account(conn, "r", 5_000_000)
        issued = [await keys.create_key(conn, account.id, f"k{i}") for i in range(2)]
    predictions: list[str] = []
    for step in range(120):
        async with db.transaction(write=True) as conn:
            try:
                action = rng.random()
                if action < 0.5 or not predictions:
                    uuid = new_uuid() if rng.random() < 0.9 or not predictions else rng.choice(predictions)
                    at = T0 + rng.randrange(5 * MS_PER_DAY)
                    charge = charges.Charge(uuid, rng.choice(issued).access_key_id, rng.choice(MODELS),
                                            rng.choice([10_000, 40_000, 1_200_000]), None, "t2i", at)
                    await charges.charge(conn, charge)
                    predictions.append(uuid)
                elif action < 0.85:
                    status = rng.choice(["processing", "completed", "failed", "cancelled", "timeout"])
                    await charges.set_status(conn, rng.choice(predictions), status, T0 + rng.randrange(6 * MS_PER_DAY))
                elif action < 0.95:
                    await funds.recharge(conn, account.id, rng.randrange(1, 2_000_000), f"r{rng.randrange(20)}")
                else:
                    await funds.adjust(conn, account.id, rng.choice([-1, 1]) * rng.randrange(1, 500_000), "fix", f"a{step}")
            except BillbookError:
                pass  # refusals (402, 409) write nothing; the rollups must still agree
    await assert_rollups_match(db)


async def test_concurrent_writers(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = [await acustomer(client, ADMIN_TOKEN, balance="3") for _ in range(3)]
    rng = random.Random(9)
    uuids = [new_uuid() for _ in range(90)]

    async def charge(uuid: str) -> None:
        owner = who[hash(uuid) % 3]
        body = {"prediction_uuid": uuid, "access_key_id": owner["key"]["access_key_id"],
                "model_uuid": rng.choice(MODELS), "price": "0.05", "created_at": T0 + rng.randrange(3 * MS_PER_DAY)}
        await client.post("/internal/v1/charges", json=body, headers=ADMIN)

    async def settle(uuid: str) -> None:
        await client.post(f"/internal/v1/predictions/{uuid}/status", json={"status": rng.choice(["completed", "failed"])}, headers=ADMIN)

    await asyncio.gather(*(charge(u) for u in uuids), *(charge(u) for u in uuids[:30]))
    await asyncio.gather(*(settle(u) for u in uuids), *(settle(u) for u in uuids[::3]))
    await assert_rollups_match(app.state.db)
