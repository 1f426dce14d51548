"""Migration 0007 on a database that already holds charges: the spend rollup is filled from
``usage_daily`` (deducts less refunds, by the deduct's day) for every key's and account's day, month
and total windows, and the ledger verifies."""

from __future__ import annotations

from sqlalchemy import text

from billbook.store.db import Database
from billbook.store.migrate import upgrade
from tests.checks import assert_verified
from tests.store.test_migration_charge_pricing import AT, _charged_at_0004

DAY = AT // 86_400_000  # 2026-01-01, the first of its month


async def test_existing_spend_fills_the_rollup(empty_db: Database) -> None:
    await upgrade(empty_db, "0004")
    await _charged_at_0004(empty_db)
    await upgrade(empty_db)
    async with empty_db.transaction(write=False) as conn:
        rows = (await conn.execute(text(
            "SELECT access_key_id, period, start, amount, alerted FROM spend_windows ORDER BY access_key_id, period"
        ))).all()
    expected = [(k, p, s, 300, 0) for k in ("", "1_1") for p, s in (("daily", DAY), ("monthly", DAY), ("total", 0))]
    assert sorted(tuple(r) for r in rows) == sorted(expected)
    await assert_verified(empty_db)
