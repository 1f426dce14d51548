"""Fixtures for migration tests: a database with no schema at all, of each kind (the shared fixtures
are already at the newest revision, so a test that upgrades from an old one needs its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from billbook.store.db import Database
from tests.conftest import drop_pg_database, new_pg_database, open_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    name, url = new_pg_database(admin)
    yield url
    drop_pg_database(admin, name)


@pytest.fixture
async def empty_db(empty_url: str) -> AsyncIterator[Database]:
    db = open_database(empty_url)
    yield db
    await db.dispose()
