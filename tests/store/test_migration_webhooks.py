"""Migration 0008 on a database that already holds events: the webhook tables and the dispatcher's
lease row appear, old events get no deliveries (no endpoint existed), and it downgrades cleanly."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from billbook.store.db import Database
from billbook.store.migrate import alembic_config, upgrade

TABLES = {"webhook_endpoints", "webhook_subscriptions", "webhook_deliveries", "webhook_attempts", "webhook_leases", "webhook_keys"}


async def test_webhook_tables_come_and_go(empty_db: Database) -> None:
    await upgrade(empty_db, "0006")
    async with empty_db.transaction(write=True) as conn:
        await conn.execute(text("INSERT INTO accounts (id, name, balance, created_at) VALUES (1, 'a', 0, 0)"))
        await conn.execute(text(
            "INSERT INTO events (uuid, account_id, type, data, created_at) VALUES ('evt_1', 1, 'recharge.created', '{}', 0)"
        ))
    await upgrade(empty_db, "0008")
    async with empty_db.transaction(write=False) as conn:
        names = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        indexes = await conn.run_sync(lambda sync: {i["name"] for i in inspect(sync).get_indexes("webhook_deliveries")})
        lease = (await conn.execute(text("SELECT name, holder, expires_at FROM webhook_leases"))).all()
        deliveries = (await conn.execute(text("SELECT COUNT(*) FROM webhook_deliveries"))).scalar_one()
    assert TABLES <= names
    assert "ix_webhook_deliveries_due" in indexes
    assert lease == [("dispatcher", None, 0)]
    assert deliveries == 0
    async with empty_db.transaction(write=True) as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0006"))
    async with empty_db.transaction(write=False) as conn:
        names = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert not TABLES & names and "events" in names
