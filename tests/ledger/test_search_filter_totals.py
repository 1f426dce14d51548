"""Model and key searches: exact totals and pages, with refunds dated days after their deducts.

The totals of these searches come partly from ``usage_daily``, which counts a refund on its
deduct's day while the refund record carries its own time; every total and page must still be
what filtering all of the account's records gives.
"""

from __future__ import annotations

import random

import pytest

from billbook.ledger import accounts, charges, funds, keys, search
from billbook.ledger.search import Criteria, RecordView
from billbook.store.db import Database
from billbook.times import MS_PER_DAY

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MODELS = ("m/a", "m/b", "m/c")


async def build(db: Database, seed: int, n: int = 160) -> tuple[int, list[str]]:
    rng = random.Random(seed)
    async with db.transaction(write=True) as conn:
        account = await accounts.create_account(conn, "filters", 10**12)
        key_ids = [(await keys.create_key(conn, account.id, f"k{i}")).access_key_id for i in range(2)]
        for i in range(n):
            at = T0 + rng.randrange(6) * MS_PER_DAY + rng.choice([0, 1, MS_PER_DAY - 1, rng.randrange(MS_PER_DAY)])
            uuid = f"{seed:08x}{i:024x}"
            await charges.charge(conn, charges.Charge(uuid, rng.choice(key_ids), rng.choice(MODELS), 1000, created_at=at))
            if rng.random() < 0.3:
                # Refunds land on the deduct's day or up to three days later.
                await charges.set_status(conn, uuid, "failed", at + rng.randrange(3 * MS_PER_DAY))
            if rng.random() < 0.05:
                await funds.recharge(conn, account.id, 5, f"r{i}")
    return account.id, key_ids


def _matches(r: RecordView, c: Criteria) -> bool:
    return (
        (c.billing_type is None or r.billing_type == c.billing_type)
        and (not c.model_uuids or r.prediction_model_uuid in c.model_uuids)
        and (not c.access_key_ids or r.access_key_id in c.access_key_ids)
        and (c.start_ms is None or r.created_at >= c.start_ms)
        and (c.end_ms is None or r.created_at <= c.end_ms)
    )


@pytest.mark.parametrize("seed", [3, 4])
async def test_model_and_key_totals_and_pages_match_the_records(db: Database, seed: int) -> None:
    account_id, key_ids = await build(db, seed)
    rng = random.Random(seed)
    bounds = [None, T0, T0 + 1, T0 + MS_PER_DAY - 1, T0 + MS_PER_DAY, T0 + 2 * MS_PER_DAY + 5, T0 + 4 * MS_PER_DAY, T0 + 7 * MS_PER_DAY]
    async with db.transaction(write=False) as conn:
        every = (await search.search(conn, Criteria(account_id=account_id, ascending=True), 1, 100_000)).items
        assert any(r.billing_type == "refund" and r.created_at // MS_PER_DAY != d.created_at // MS_PER_DAY
                   for r in every for d in every if d.billing_type == "deduct" and d.order_uuid == r.order_uuid)
        for _ in range(40):
            start, end = sorted(rng.sample(bounds[1:], 2)) if rng.random() < 0.5 else (rng.choice(bounds), rng.choice([None, bounds[-2]]))
            models = tuple(rng.sample(MODELS, rng.choice([0, 1, 1, 2])))
            criteria = Criteria(
                account_id=account_id,
                billing_type=rng.choice([None, None, "deduct", "refund", "recharge"]),
                model_uuids=models,
                access_key_ids=() if models and rng.random() < 0.5 else (rng.choice(key_ids),),
                start_ms=start,
                end_ms=end,
                ascending=rng.random() < 0.5,
            )
            wanted = [r for r in every if _matches(r, criteria)]
            if not criteria.ascending:
                wanted.reverse()
            page_size = rng.choice([1, 7, 25])
            for page in range(1, len(wanted) // page_size + 3):
                got = await search.search(conn, criteria, page, page_size)
                assert got.total == len(wanted), criteria
                assert [i.id for i in got.items] == [r.id for r in wanted[(page - 1) * page_size : page * page_size]], (criteria, page)
