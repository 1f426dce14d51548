"""Migration 0010 fills ``billing_monthly`` from the records already there: counts and sums of
``delta`` per account, UTC month, type and model, months told apart at their first millisecond."""

from __future__ import annotations

from sqlalchemy import text

from billbook.store.db import Database
from billbook.store.migrate import upgrade
from billbook.times import month_start_ms
from tests.checks import assert_verified

OCT, NOV, JAN = month_start_ms(202610), month_start_ms(202611), month_start_ms(202701)
#: (account, billing_type, delta, model, created_at): the last millisecond of October and the first
#: of November, a year's end, two accounts, recharges without a model.
RECORDS = [
    (1, "recharge", 10_000_000, None, OCT),
    (1, "adjust", -1_000_001, None, NOV - 1),
    (1, "recharge", 2_000_000, None, NOV),
    (2, "recharge", 5_000_000, None, JAN - 1),
    (2, "adjust", 1, None, JAN),
]


async def test_backfill_groups_records_by_utc_month(empty_db: Database) -> None:
    await upgrade(empty_db, "0005")
    async with empty_db.transaction(write=True) as conn:
        for account_id in (1, 2):
            await conn.execute(text("INSERT INTO accounts (id, name, balance, created_at) VALUES (:i, 'a', 0, 0)"), {"i": account_id})
        running: dict[int, int] = {}
        for n, (account_id, kind, delta, model, at) in enumerate(RECORDS):
            running[account_id] = running.get(account_id, 0) + delta
            await conn.execute(
                text(
                    "INSERT INTO billing_records (uuid, account_id, billing_type, price, delta, balance_after, model_uuid,"
                    " reference, reason, created_at, updated_at) VALUES (:u, :a, :t, :p, :d, :b, :m, :r, 'x', :at, :at)"
                ),
                {"u": f"{n:032x}", "a": account_id, "t": kind, "p": abs(delta), "d": delta, "b": running[account_id],
                 "m": model, "r": f"ref-{n}", "at": at},
            )
            await conn.execute(text("UPDATE accounts SET balance = balance + :d WHERE id = :a"), {"d": delta, "a": account_id})
            await conn.execute(
                text("INSERT INTO billing_daily (account_id, day, billing_type, count) VALUES (:a, :d, :t, 1)"
                     " ON CONFLICT (account_id, day, billing_type) DO UPDATE SET count = billing_daily.count + 1"),
                {"a": account_id, "d": at // 86_400_000, "t": kind},
            )

    await upgrade(empty_db)

    async with empty_db.transaction(write=False) as conn:
        rows = (await conn.execute(text(
            "SELECT account_id, month, billing_type, model_uuid, count, amount FROM billing_monthly"
            " ORDER BY account_id, month, billing_type"))).all()
    assert [tuple(r) for r in rows] == [
        (1, 202610, "adjust", "", 1, -1_000_001),
        (1, 202610, "recharge", "", 1, 10_000_000),
        (1, 202611, "recharge", "", 1, 2_000_000),
        (2, 202612, "recharge", "", 1, 5_000_000),
        (2, 202701, "adjust", "", 1, 1),
    ]
    await assert_verified(empty_db)


async def test_an_empty_database_upgrades(empty_db: Database) -> None:
    await upgrade(empty_db)
    await assert_verified(empty_db)
