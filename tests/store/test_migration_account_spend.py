"""Migration 0012 on a database that already holds accounts and usage: every account gets its
stored 30-day spend (usage from 29 days back on, future days included; older days left out), the
day is marked rolled, and names written before it are found by the new search."""

from __future__ import annotations

from sqlalchemy import text

from billbook.ledger import operator as reads
from billbook.store import verify as verify_store
from billbook.store.db import Database
from billbook.store.migrate import upgrade
from billbook.times import MS_PER_DAY, now_ms


async def test_existing_usage_fills_the_stored_spend(empty_db: Database) -> None:
    await upgrade(empty_db, "0011")
    today = now_ms() // MS_PER_DAY
    usage = ((1, today, 100), (1, today - 29, 20), (1, today - 30, 5_000), (1, today + 2, 3), (3, today - 45, 7))
    async with empty_db.transaction(write=True) as conn:
        for account_id, name in ((1, "Acme Labs"), (2, "Zeta"), (3, "Old Acme")):
            await conn.execute(text("INSERT INTO accounts (id, name, balance, created_at) VALUES (:i, :n, 0, 0)"), {"i": account_id, "n": name})
        for account_id, day, amount in usage:
            await conn.execute(text(
                "INSERT INTO usage_daily (account_id, day, model_uuid, access_key_id, deduct_count, deduct_amount,"
                " refund_count, refund_amount) VALUES (:a, :d, 'm', 'k', 1, :p, 0, 0)"
            ), {"a": account_id, "d": day, "p": amount})
    await upgrade(empty_db)
    async with empty_db.transaction(write=False) as conn:
        rows = (await conn.execute(text("SELECT account_id, day, amount FROM account_spend ORDER BY account_id"))).all()
        rolled = (await conn.execute(text("SELECT day FROM account_spend_rolled"))).scalar_one()
        assert await verify_store.account_spend_mismatches(conn, 10) == []
        assert await verify_store.account_count_mismatch(conn, 10) == []
        everyone = await reads.accounts(conn, reads.AccountQuery(), 1, 10)
        found = await reads.accounts(conn, reads.AccountQuery(text="acme", sort="-spend_30d"), 1, 10)
    assert [tuple(r) for r in rows] == [(1, today, 123), (2, today, 0), (3, today, 0)]
    assert rolled == today and everyone.total == 3
    assert [(a.id, a.spend_30d) for a in found.items] == [(1, 123), (3, 0)]
