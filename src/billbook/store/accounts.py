"""Queries on accounts. The balance is only ever changed by a relative, conditional UPDATE, so
concurrent writers can neither lose an update nor overdraw."""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Integer, bindparam, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect, spend
from billbook.store.rows import AccountRow
from billbook.store.tables import account_count, accounts
from billbook.times import MS_PER_DAY


async def insert(conn: AsyncConnection, *, name: str, created_at: int) -> int:
    """A new account, with its row of stored 30-day spend (none), counted in ``account_count``."""
    result = await conn.execute(
        accounts.insert().values(name=name, balance=0, created_at=created_at).returning(accounts.c.id)
    )
    account_id = int(result.scalar_one())
    await spend.insert_account(conn, account_id, created_at // MS_PER_DAY)
    await _counted(conn)
    return account_id


async def _counted(conn: AsyncConnection) -> None:
    """One more account in ``account_count``; its row made if missing (only a table emptied whole
    loses it, with every account)."""
    statement = dialect.insert_for(dialect.name(conn), account_count).values(id=1, accounts=1)
    statement = statement.on_conflict_do_update(index_elements=["id"], set_={"accounts": account_count.c.accounts + 1})
    await conn.execute(statement)


async def count(conn: AsyncConnection) -> int:
    """How many accounts there are: ``account_count``'s one row, or counted if it is missing."""
    stored = (await conn.execute(select(account_count.c.accounts).where(account_count.c.id == 1))).scalar()
    if stored is not None:
        return int(stored)
    return int((await conn.execute(select(func.count()).select_from(accounts))).scalar_one())


async def recount(conn: AsyncConnection) -> None:
    """``account_count`` set from the table itself: after a bulk load (``bench``)."""
    await conn.execute(account_count.delete())
    await conn.execute(account_count.insert().from_select(["id", "accounts"], select(literal(1), func.count()).select_from(accounts)))


async def get(conn: AsyncConnection, account_id: int) -> AccountRow | None:
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).mappings().first()
    return AccountRow(**row) if row else None


_BALANCE = select(accounts.c.balance).where(accounts.c.id == bindparam("account_id"))


async def balance(conn: AsyncConnection, account_id: int) -> int | None:
    rows = await dialect.fetch(conn, _BALANCE, {"account_id": account_id})
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
        .where(dialect.one_of(conn, accounts.c.id, sorted(account_ids)))
        .order_by(accounts.c.id)
        .with_for_update()
    )
    return {int(i): int(b) for i, b in await conn.execute(query)}


_CHANGE_COLUMNS = ("aid", "delta")


@lru_cache
def _add_many(dialect_name: str) -> Any:
    """``balance += delta`` for many accounts in one ``UPDATE … FROM`` the rows of ``execute_many``."""
    changes = dialect.many_rows(dialect_name, {"aid": Integer(), "delta": BigInteger()})
    return update(accounts).where(accounts.c.id == changes.c.aid).values(balance=accounts.c.balance + changes.c.delta)


async def add_many(conn: AsyncConnection, deltas: dict[int, int]) -> None:
    """Apply signed changes to several balances in one statement."""
    rows = [{"aid": a, "delta": d} for a, d in deltas.items()]
    await dialect.execute_many(conn, _add_many(dialect.name(conn)), rows, _CHANGE_COLUMNS)
