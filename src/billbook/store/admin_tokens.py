"""Queries on named admin tokens."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.rows import AdminTokenRow
from billbook.store.tables import admin_tokens

_BY_LOOKUP = select(admin_tokens).where(admin_tokens.c.lookup == bindparam("lookup"))


async def insert(
    conn: AsyncConnection, *, name: str, role: str, lookup: str, salt: str, secret_hash: str, created_at: int
) -> bool:
    """Store a token unless one of that name exists (revoked or not); ``True`` when stored."""
    statement = (
        dialect.insert_for(dialect.name(conn), admin_tokens)
        .values(name=name, role=role, lookup=lookup, salt=salt, secret_hash=secret_hash, created_at=created_at)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return (await conn.execute(statement)).rowcount == 1


async def by_lookup(conn: AsyncConnection, lookup: str) -> AdminTokenRow | None:
    """The token behind a presented secret's public half: one indexed read per internal request."""
    rows = await dialect.fetch(conn, _BY_LOOKUP, {"lookup": lookup})
    return AdminTokenRow(**rows[0]) if rows else None


async def by_name(conn: AsyncConnection, name: str) -> AdminTokenRow | None:
    row = (await conn.execute(select(admin_tokens).where(admin_tokens.c.name == name))).mappings().first()
    return AdminTokenRow(**row) if row else None


async def all_tokens(conn: AsyncConnection) -> list[AdminTokenRow]:
    rows = await conn.execute(select(admin_tokens).order_by(admin_tokens.c.id))
    return [AdminTokenRow(**r) for r in rows.mappings()]


async def revoke(conn: AsyncConnection, token_id: int, at: int) -> None:
    """Set ``revoked_at`` once; revoking again keeps the first time."""
    await conn.execute(
        update(admin_tokens).where(admin_tokens.c.id == token_id, admin_tokens.c.revoked_at.is_(None)).values(revoked_at=at)
    )
