"""Queries on access keys and the server's own secrets."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import fast
from billbook.store.tables import access_keys, server_secrets
from billbook.store.upsert import insert_for, one_of


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


_BY_LOOKUP = select(access_keys).where(access_keys.c.lookup == bindparam("lookup"))


async def by_lookup(conn: AsyncConnection, lookup: str) -> dict | None:
    """The key behind an api_key's public half: the first query of every public request."""
    rows = await fast.fetch(conn, _BY_LOOKUP, {"lookup": lookup})
    return dict(rows[0]) if rows else None


async def by_access_key_id(conn: AsyncConnection, access_key_id: str) -> dict | None:
    query = select(access_keys).where(access_keys.c.access_key_id == access_key_id)
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def by_access_key_ids(conn: AsyncConnection, access_key_ids: Collection[str]) -> dict[str, dict]:
    if not access_key_ids:
        return {}
    query = select(access_keys).where(one_of(conn, access_keys.c.access_key_id, access_key_ids))
    return {row["access_key_id"]: dict(row) for row in (await conn.execute(query)).mappings()}


async def revoke(conn: AsyncConnection, key_id: int, at: int) -> None:
    """Set ``revoked_at`` once; revoking again keeps the first time."""
    await conn.execute(
        update(access_keys)
        .where(access_keys.c.id == key_id, access_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )


async def get_secret(conn: AsyncConnection, name: str) -> dict | None:
    row = (await conn.execute(select(server_secrets).where(server_secrets.c.name == name))).mappings().first()
    return dict(row) if row else None


async def put_secret_if_absent(
    conn: AsyncConnection, *, name: str, salt: str, secret_hash: str, created_at: int
) -> bool:
    """Store a secret unless one of that name exists; ``True`` when this call stored it."""
    statement = (
        insert_for(conn, server_secrets)
        .values(name=name, salt=salt, secret_hash=secret_hash, created_at=created_at)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    result = await conn.execute(statement)
    return result.rowcount == 1
