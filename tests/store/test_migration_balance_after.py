"""Migration 0003 gives the records of an existing database their ``balance_after``: the running sum
of each account's deltas in record id order, then the column becomes NOT NULL."""

from __future__ import annotations

from itertools import accumulate

from sqlalchemy import inspect, text

from billbook.store.db import Database
from billbook.store.migrate import upgrade
from tests.checks import assert_verified

#: (account, billing_type, delta), in write order: two accounts interleaved, both signs, a balance
#: that goes below zero and back.
RECORDS = [
    (1, "recharge", 5_000_000),
    (2, "recharge", 1_000_000),
    (1, "adjust", -7_000_000),
    (2, "adjust", 250_000),
    (1, "recharge", 3_000_001),
    (1, "adjust", 1),
    (2, "recharge", 999_999),
]


async def test_backfill_is_the_running_sum_in_id_order(empty_db: Database) -> None:
    await upgrade(empty_db, "0002")
    async with empty_db.transaction(write=True) as conn:
        for account_id in (1, 2):
            await conn.execute(text("INSERT INTO accounts (id, name, balance, created_at) VALUES (:i, 'a', 0, 0)"), {"i": account_id})
        for n, (account_id, kind, delta) in enumerate(RECORDS):
            await conn.execute(
                text(
                    "INSERT INTO billing_records (uuid, account_id, billing_type, price, delta, reference, reason,"
                    " created_at, updated_at) VALUES (:u, :a, :t, :p, :d, :r, 'x', :at, :at)"
                ),
                # Dated against write order: the backfill must follow ids, not times.
                {"u": f"{n:032x}", "a": account_id, "t": kind, "p": abs(delta), "d": delta, "r": f"ref-{n}",
                 "at": 1_767_225_600_000 - n * 1000},
            )
            await conn.execute(
                text("UPDATE accounts SET balance = balance + :d WHERE id = :a"), {"d": delta, "a": account_id}
            )
        await conn.execute(
            text(
                "INSERT INTO billing_daily (account_id, day, billing_type, count) SELECT account_id,"
                " CAST(created_at / 86400000 AS INTEGER), billing_type, COUNT(*) FROM billing_records"
                " GROUP BY account_id, CAST(created_at / 86400000 AS INTEGER), billing_type"
            )
        )

    await upgrade(empty_db)

    async with empty_db.transaction(write=False) as conn:
        rows = (await conn.execute(text("SELECT account_id, balance_after FROM billing_records ORDER BY id"))).all()
        nullable = await conn.run_sync(
            lambda sync: {c["name"]: c["nullable"] for c in inspect(sync).get_columns("billing_records")}
        )
    for account_id in (1, 2):
        deltas = [d for a, _, d in RECORDS if a == account_id]
        assert [b for a, b in rows if a == account_id] == list(accumulate(deltas))
    assert nullable["balance_after"] is False
    await assert_verified(empty_db)
