"""Scratch databases for the single-purpose benchmarks (limits, pricing): the URLs given with
``--db``, or a temporary SQLite file and, when PostgreSQL answers, a temporary PostgreSQL database
that is dropped afterwards."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

PG_ADMIN = os.environ.get("BILLBOOK_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def admin_execute(sql: str, admin: str = PG_ADMIN) -> None:
    """One statement on the PostgreSQL server's admin database (CREATE/DROP/ALTER DATABASE)."""
    import asyncpg

    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_databases(urls: list[str] | None, prefix: str) -> AsyncIterator[list[str]]:
    """``urls`` if given; else a SQLite file in a new ``prefix-`` folder and a PostgreSQL database
    ``billbook_<prefix>_…`` (skipped, with a word on stderr, when PostgreSQL cannot be reached)."""
    if urls:
        yield urls
        return
    found = [f"sqlite:///{Path(tempfile.mkdtemp(prefix=f'{prefix}-')) / 'bench.db'}"]
    name = f"billbook_{prefix.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    try:
        await admin_execute(f'CREATE DATABASE "{name}"')
    except (OSError, Exception) as exc:  # noqa: BLE001 - no PostgreSQL: SQLite alone
        print(f"PostgreSQL skipped ({exc.__class__.__name__}: {exc})", file=sys.stderr)
        yield found
        return
    try:
        yield [*found, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"]
    finally:
        await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
