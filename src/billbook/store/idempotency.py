"""Responses kept under a caller's ``Idempotency-Key`` (account and key creation)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.tables import idempotency_keys


@dataclass(frozen=True, slots=True)
class Kept:
    request_hash: str
    response: str


async def claim(conn: AsyncConnection, key: str, action: str, request_hash: str, at: int) -> Kept | None:
    """Claim ``key`` for ``action``: ``None`` when this call claimed it (the caller then does the
    work and :func:`keep` its response), else what the first call kept. The insert takes the
    row's lock, so a concurrent retry waits for the first call's transaction and then sees it."""
    statement = (
        dialect.insert_for(dialect.name(conn), idempotency_keys)
        .values(key=key, action=action, request_hash=request_hash, response="", created_at=at)
        .on_conflict_do_nothing(index_elements=["key", "action"])
    )
    if (await conn.execute(statement)).rowcount == 1:
        return None
    t = idempotency_keys.c
    row = (await conn.execute(select(t.request_hash, t.response).where(t.key == key, t.action == action))).one()
    return Kept(row.request_hash, row.response)


async def keep(conn: AsyncConnection, key: str, action: str, response: str) -> None:
    t = idempotency_keys.c
    await conn.execute(update(idempotency_keys).where(t.key == key, t.action == action).values(response=response))
