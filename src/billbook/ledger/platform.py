"""Platform-wide figures for the operator console: what customers hold, and what open orders hold."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import platform as store
from billbook.store.rows import PlatformTotals

__all__ = ["PlatformTotals", "totals"]


async def totals(conn: AsyncConnection) -> PlatformTotals:
    """Every account's balance summed, and every order still ``pre`` (money held at submit)."""
    return await store.totals(conn)
