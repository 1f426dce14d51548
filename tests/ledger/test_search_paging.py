"""Paging by daily counts gives exactly the pages that counting and skipping every record gives."""

from __future__ import annotations

import random

import pytest

from billbook.ledger import accounts, charges, funds, keys, search
from billbook.ledger.search import Criteria
from billbook.store.db import Database
from billbook.times import MS_PER_DAY

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


async def build(db: Database, seed: int, n: int = 150) -> tuple[int, list[int]]:
    rng = random.Random(seed)
    async with db.transaction(write=True) as conn:
        account = await accounts.create_account(conn, "paging", 10**12)
        key = await keys.create_key(conn, account.id, "k")
        times = []
        for i in range(n):
            # Clustered times over 6 days, many sharing a millisecond, some exactly on midnight.
            at = T0 + rng.choice([0, MS_PER_DAY, 2 * MS_PER_DAY + 5, 4 * MS_PER_DAY - 1]) + rng.choice([0, 0, 1, rng.randrange(MS_PER_DAY)])
            times.append(at)
            uuid = f"{seed:08x}{i:024x}"
            await charges.charge(conn, charges.Charge(uuid, key.access_key_id, "m", 1000, created_at=at))
            if rng.random() < 0.2:
                await charges.set_status(conn, uuid, "failed", at + rng.randrange(3 * MS_PER_DAY))
            if rng.random() < 0.05:
                await funds.recharge(conn, account.id, 5, f"r{i}")
    return account.id, times


@pytest.mark.parametrize(("seed", "every_account"), [(1, False), (2, False), (3, True)])
async def test_day_paging_equals_index_paging(db: Database, seed: int, every_account: bool) -> None:
    """One account's search counts its days in ``billing_daily``; every account's (the operator's),
    in ``billing_daily_shards``, whose days come back unordered and are put in order here."""
    account_id, times = await build(db, seed)
    if every_account:
        await build(db, seed + 100)
    rng = random.Random(seed)
    bounds = [None, T0, T0 + 1, T0 + MS_PER_DAY - 1, T0 + MS_PER_DAY, T0 + 2 * MS_PER_DAY + 5, T0 + 7 * MS_PER_DAY]
    async with db.transaction(write=False) as conn:
        for _ in range(40):
            start, end = sorted(rng.sample([b for b in bounds if b is not None], 2)) if rng.random() < 0.6 else (rng.choice(bounds), None)
            criteria = Criteria(
                account_id=None if every_account else account_id,
                billing_type=rng.choice([None, "deduct", "refund", "recharge"]),
                start_ms=start,
                end_ms=end if rng.random() < 0.8 else None,
                ascending=rng.random() < 0.5,
            )
            assert criteria.by_day
            page_size = rng.choice([1, 3, 7, 25])
            expected_all = await search._page_by_index(conn, criteria, 1, 10_000)
            for page in range(1, expected_all.total // page_size + 3):
                got = await search._page_by_day(conn, criteria, page, page_size)
                want = await search._page_by_index(conn, criteria, page, page_size)
                assert got.total == want.total, criteria
                assert [i.id for i in got.items] == [i.id for i in want.items], (criteria, page, page_size)
