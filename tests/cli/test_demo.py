"""``billbook demo``: believable history that keeps every invariant, and a curl that works."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from billbook.cli.demo import MODELS, build_history
from billbook.cli.main import app
from billbook.store.db import Database
from billbook.store.tables import accounts, billing_records, predictions


def test_history_is_believable_and_balanced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    made = asyncio.run(build_history(url, days=30))
    assert len(made.keys) == 2 and made.records > 500

    async def inspect() -> tuple[int, int, Counter, Counter, int]:
        db = Database(url)
        async with db.transaction(write=False) as conn:
            balance = (await conn.execute(select(accounts.c.balance))).scalar_one()
            total = (await conn.execute(select(func.sum(billing_records.c.delta)))).scalar_one()
            types = Counter(t for (t,) in await conn.execute(select(billing_records.c.billing_type)))
            statuses = Counter(s for (s,) in await conn.execute(select(predictions.c.status)))
            models = (await conn.execute(select(func.count(func.distinct(predictions.c.model_uuid))))).scalar_one()
        await db.dispose()
        return balance, total, types, statuses, models

    balance, total, types, statuses, models = asyncio.run(inspect())
    assert balance == total and balance > 0
    assert types["deduct"] > 400 and types["refund"] > 5 and types["recharge"] >= 1 and types["adjust"] == 1
    assert statuses["completed"] > statuses["failed"] > 0
    assert models >= len(MODELS) - 1


def test_demo_command_prints_a_working_curl(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(app, ["demo", "--no-serve", "--db", url, "--days", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "curl --request POST http://127.0.0.1:8000/api/v3/billings/search" in result.output
    assert "Authorization: Bearer bb_" in result.output
