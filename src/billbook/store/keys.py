"""Queries on access keys and the server's own secrets."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.rows import KeyRow, SecretRow
from billbook.store.tables import access_keys, server_secrets


async def insert(
    conn: AsyncConnection,
    *,
    account_id: int,
    access_key_id: str,
    name: str,
    lookup: str,
    salt: str,
    secret_hash: str,
    created_at: int,
) -> int:
    """Store a new key; returns its ``ak_id``."""
    result = await conn.execute(
        access_keys.insert()
        .values(
            account_id=account_id,
            access_key_id=access_key_id,
            name=name,
            lookup=lookup,
            salt=salt,
            secret_hash=secret_hash,
            created_at=created_at,
        )
        .returning(access_keys.c.id)
    )
    return int(result.scalar_one())


#: The key's columns, its integer id named for what it is.
_KEY = select(access_keys.c.id.label("ak_id"), *(c for c in access_keys.c if c.name != "id"))
_BY_LOOKUP = _KEY.where(access_keys.c.lookup == bindparam("lookup"))


def _key(row: Mapping[str, Any]) -> KeyRow:
    return KeyRow(**row)


async def by_lookup(conn: AsyncConnection, lookup: str) -> KeyRow | None:
    """The key behind an api_key's public half: the first query of every public request."""
    rows = await dialect.fetch(conn, _BY_LOOKUP, {"lookup": lookup})
    return _key(rows[0]) if rows else None


async def by_access_key_id(conn: AsyncConnection, access_key_id: str) -> KeyRow | None:
    row = (await conn.execute(_KEY.where(access_keys.c.access_key_id == access_key_id))).mappings().first()
    return _key(row) if row else None


async def by_access_key_ids(conn: AsyncConnection, access_key_ids: Collection[str]) -> dict[str, KeyRow]:
    if not access_key_ids:
        return {}
    query = _KEY.where(dialect.one_of(conn, access_keys.c.access_key_id, access_key_ids))
    return {row["access_key_id"]: _key(row) for row in (await conn.execute(query)).mappings()}


async def revoke(conn: AsyncConnection, ak_id: int, at: int) -> None:
    """Set ``revoked_at`` once; revoking again keeps the first time."""
    await conn.execute(
        update(access_keys)
        .where(access_keys.c.id == ak_id, access_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )


async def get_secret(conn: AsyncConnection, name: str) -> SecretRow | None:
    row = (await conn.execute(select(server_secrets).where(server_secrets.c.name == name))).mappings().first()
    return SecretRow(**row) if row else None


async def put_secret_if_absent(
    conn: AsyncConnection, *, name: str, salt: str, secret_hash: str, created_at: int
) -> bool:
    """Store a secret unless one of that name exists; ``True`` when this call stored it."""
    statement = (
        dialect.insert_for(dialect.name(conn), server_secrets)
        .values(name=name, salt=salt, secret_hash=secret_hash, created_at=created_at)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    result = await conn.execute(statement)
    return result.rowcount == 1


async def by_account(conn: AsyncConnection, account_id: int) -> list[KeyRow]:
    """Every key of an account, revoked ones too, oldest first."""
    query = _KEY.where(access_keys.c.account_id == account_id).order_by(access_keys.c.id)
    return [_key(row) for row in (await conn.execute(query)).mappings()]
