"""Liveness of the ledger's database, for ``/healthz``."""

from __future__ import annotations

from billbook.store import health as health_store
from billbook.store.db import Database


async def database_ok(db: Database) -> bool:
    return await health_store.ping(db)
