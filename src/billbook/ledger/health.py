"""Liveness of the ledger's database, for ``/healthz``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import health as health_store


async def database_ok(conn: AsyncConnection) -> bool:
    return await health_store.ping(conn)
