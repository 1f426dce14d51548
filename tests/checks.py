"""Ending a test with ``verify``: the ledger's invariants over the whole database, in one snapshot."""

from __future__ import annotations

import subprocess
import sys

from billbook.ledger.verify import Report, verify
from billbook.store.db import Database


async def averify(db: Database) -> Report:
    async with db.transaction(write=False) as conn:
        return await verify(conn)


async def assert_verified(db: Database, *, unaudited: bool = False) -> Report:
    """``verify`` finds nothing; ``unaudited``: but the audit log's completeness, for tests that
    write through the ledger directly (as no operator can) to study something else."""
    report = await averify(db)
    found = [v for v in report.violations if not (unaudited and v.check == "audit")]
    assert not found, "verify found violations:\n" + "\n".join(map(str, found))
    return report


def verify_cli(database_url: str) -> subprocess.CompletedProcess:
    """``billbook verify`` as an operator runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "billbook", "verify", "--db", database_url],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_verify_cli(database_url: str) -> None:
    result = verify_cli(database_url)
    assert result.returncode == 0, f"billbook verify failed:\n{result.stdout}\n{result.stderr}"
