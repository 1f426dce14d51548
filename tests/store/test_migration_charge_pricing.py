"""Migration 0005 on a database that already holds charges: every prediction gets its hold deadline
(``created_at`` plus one hour), orders keep their prices with no version and no inputs (charges that
sent their price), the open-hold index exists, and the ledger still verifies."""

from __future__ import annotations


from sqlalchemy import inspect, text

from billbook.store.db import Database
from billbook.store.migrate import upgrade
from tests.checks import assert_verified

AT = 1_767_225_600_000


async def _charged_at_0004(db: Database) -> None:
    """One account, one key and three charged predictions as revision 0004 wrote them."""
    statements = [
        "INSERT INTO accounts (id, name, balance, created_at) VALUES (1, 'a', 0, 0)",
        "INSERT INTO access_keys (id, access_key_id, account_id, name, lookup, salt, secret_hash, created_at)"
        " VALUES (1, '1_1', 1, 'k', 'l', 's', 'h', 0)",
        "INSERT INTO billing_records (uuid, account_id, billing_type, price, delta, balance_after, reference,"
        " created_at, updated_at) VALUES ('r0', 1, 'recharge', 300, 300, 300, 'top-up', 0, 0)",
    ]
    for n, status in enumerate(("created", "processing", "completed"), start=1):
        at = AT + n
        state = "done" if status == "completed" else "pre"
        statements += [
            f"INSERT INTO predictions (id, uuid, account_id, ak_id, model_uuid, status, created_at, updated_at)"
            f" VALUES ({n}, 'p{n}', 1, 1, 'm', '{status}', {at}, {at})",
            f"INSERT INTO orders (id, uuid, prediction_id, account_id, ak_id, state, price, origin_price,"
            f" created_at, updated_at) VALUES ({n}, 'o{n}', {n}, 1, 1, '{state}', 100, 100, {at}, {at})",
            f"INSERT INTO billing_records (uuid, account_id, billing_type, price, delta, balance_after, ak_id,"
            f" access_key_id, order_id, prediction_id, model_uuid, created_at, updated_at) VALUES"
            f" ('r{n}', 1, 'deduct', 100, -100, {300 - 100 * n}, 1, '1_1', {n}, {n}, 'm', {at}, {at})",
            f"INSERT INTO usage_daily (account_id, day, model_uuid, access_key_id, deduct_count, deduct_amount,"
            f" completed_count, last_used_at, last_price) VALUES (1, {AT // 86_400_000}, 'm', '1_1', 1, 100,"
            f" {int(status == 'completed')}, {at}, 100) ON CONFLICT (account_id, day, model_uuid, access_key_id)"
            f" DO UPDATE SET deduct_count = usage_daily.deduct_count + 1,"
            f" deduct_amount = usage_daily.deduct_amount + 100,"
            f" completed_count = usage_daily.completed_count + excluded.completed_count,"
            f" last_used_at = excluded.last_used_at",
        ]
    statements.append(
        "INSERT INTO billing_daily (account_id, day, billing_type, count) SELECT account_id,"
        " CAST(created_at / 86400000 AS INTEGER), billing_type, COUNT(*) FROM billing_records"
        " GROUP BY account_id, CAST(created_at / 86400000 AS INTEGER), billing_type"
    )
    async with db.transaction(write=True) as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_existing_predictions_get_a_deadline_and_orders_no_version(empty_db: Database) -> None:
    await upgrade(empty_db, "0004")
    await _charged_at_0004(empty_db)
    await upgrade(empty_db)
    async with empty_db.transaction(write=False) as conn:
        holds = (await conn.execute(text("SELECT id, created_at, hold_until FROM predictions ORDER BY id"))).all()
        orders = (await conn.execute(text("SELECT price_version_id, inputs FROM orders"))).all()

        def schema(sync: object) -> tuple:
            inspector = inspect(sync)
            columns = {c["name"]: c["nullable"] for c in inspector.get_columns("predictions")}
            indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("predictions")}
            keys = [fk["referred_table"] for fk in inspector.get_foreign_keys("orders")]
            return columns, indexes, keys

        columns, indexes, keys = await conn.run_sync(schema)
    assert [hold for _, _, hold in holds] == [created + 3_600_000 for _, created, _ in holds]
    assert orders == [(None, None)] * 3
    assert columns["hold_until"] is False
    assert indexes["ix_predictions_open_hold_until"] == ["hold_until"]
    assert "model_versions" in keys
    await assert_verified(empty_db)
