"""Queries on accounts. The balance is only ever changed by a relative, conditional UPDATE, so
concurrent writers can neither lose an update nor overdraw."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import BigInteger, Integer, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import fast
from billbook.store.bulk import unnest_source
from billbook.store.tables import accounts


async def insert(conn: AsyncConnection, *, name: str, created_at: int) -> int:
    result = await conn.execute(
        accounts.insert().values(name=name, balance=0, created_at=created_at).returning(accounts.c.id)
    )
    return int(result.scalar_one())


async def get(conn: AsyncConnection, account_id: int) -> dict | None:
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).mappings().first()
    return dict(row) if row else None


_BALANCE = select(accounts.c.balance).where(accounts.c.id == bindparam("account_id"))


async def balance(conn: AsyncConnection, account_id: int) -> int | None:
    rows = await fast.fetch(conn, _BALANCE, {"account_id": account_id})
    return int(rows[0]["balance"]) if rows else None


async def add_to_balance(conn: AsyncConnection, account_id: int, delta: int) -> int:
    """Apply a signed change unconditionally (recharges, refunds, adjustments); returns the new balance."""
    result = await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance=accounts.c.balance + delta)
        .returning(accounts.c.balance)
    )
    return int(result.scalar_one())


async def lock(conn: AsyncConnection, account_id: int) -> int | None:
    """Take the account's row lock (PostgreSQL) for the rest of the transaction; returns the balance.

    Serialises idempotency checks of one account's recharges and adjustments. On SQLite the write
    transaction already holds the database's write lock.
    """
    query = select(accounts.c.balance).where(accounts.c.id == account_id).with_for_update()
    value = (await conn.execute(query)).scalar_one_or_none()
    return None if value is None else int(value)


async def lock_many(conn: AsyncConnection, account_ids: Collection[int]) -> dict[int, int]:
    """Balances of the accounts, row-locked in id order (a fixed order cannot deadlock)."""
    query = (
        select(accounts.c.id, accounts.c.balance)
        .where(accounts.c.id.in_(sorted(account_ids)))
        .order_by(accounts.c.id)
        .with_for_update()
    )
    return {int(i): int(b) for i, b in await conn.execute(query)}


_ADD = update(accounts).where(accounts.c.id == bindparam("aid")).values(balance=accounts.c.balance + bindparam("delta"))
_CHANGES = unnest_source({"aid": Integer(), "delta": BigInteger()}).subquery("changes")
#: PostgreSQL: every balance change of a batch in one ``UPDATE … FROM unnest(…)``.
_ADD_ARRAYS = (
    update(accounts).where(accounts.c.id == _CHANGES.c.aid).values(balance=accounts.c.balance + _CHANGES.c.delta)
)


async def add_many(conn: AsyncConnection, deltas: dict[int, int]) -> None:
    """Apply signed changes to several balances in one statement."""
    if not deltas:
        return
    if conn.dialect.name == "postgresql":
        await conn.execute(_ADD_ARRAYS, {"aid": list(deltas), "delta": list(deltas.values())})
    else:
        await conn.execute(_ADD, [{"aid": a, "delta": d} for a, d in deltas.items()])
