"""What a monthly statement costs: the statement of the small account against the big one (3,000,000
records in the full data set) on a database loaded by ``bench/generate.py``, billbook against a naive
baseline that scans the account's records.

* **billbook**: ``GET /api/v3/statements/{month}`` through the whole in-process app (key check, the
  read transaction, the JSON); it reads the ``billing_monthly`` rows of the account and one index step
  to the month's last record, so the big account should cost about what the small one does. The PDF
  (``.pdf``) is timed too.
* **naive**: the same figures from the records themselves in one read transaction: the opening balance
  as ``SUM(delta)`` of every record dated before the month and the month's sums ``GROUP BY`` type and
  model, both on the ``(account_id, created_at, id)`` index. Its cost grows with the account.

Months: the busiest month of the data set (its last whole month) and the first month (little before
it). Each case runs warm-up rounds then ``--rounds`` timed ones; figures are medians and p95 in ms.
It is a measurement, not a test: it prints and never fails on speed. Both implementations must give
the same figures, which it checks.

    python bench/generate.py --db postgresql://postgres@127.0.0.1:5432/billbook_stmt --recreate   # 10M records
    python bench/statements_bench.py --db postgresql://postgres@127.0.0.1:5432/billbook_stmt
    python bench/statements_bench.py --db sqlite:///bench/out/bench.db --rounds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import default_meta_path  # noqa: E402

from billbook.api.app import create_app  # noqa: E402
from billbook.settings import Settings  # noqa: E402
from billbook.store.db import Database  # noqa: E402
from launcher import open_database  # noqa: E402
from billbook.times import month_key, month_start_ms, month_text, next_month  # noqa: E402

ADMIN_TOKEN = "statements-bench-admin-token"

NAIVE_OPENING = text("SELECT COALESCE(SUM(delta), 0) FROM billing_records WHERE account_id = :a AND created_at < :start")
NAIVE_MONTH = text(
    "SELECT billing_type, COALESCE(model_uuid, '') AS model, COUNT(*) AS n, SUM(delta) AS amount FROM billing_records "
    "WHERE account_id = :a AND created_at >= :start AND created_at < :end GROUP BY billing_type, COALESCE(model_uuid, '')"
)


async def naive(db: Database, account_id: int, month: int) -> dict[str, int]:
    """The statement's main figures from the records, the way one would write it first."""
    start, end = month_start_ms(month), month_start_ms(next_month(month))
    async with db.transaction(write=False) as conn:
        opening = int((await conn.execute(NAIVE_OPENING, {"a": account_id, "start": start})).scalar_one())
        rows = (await conn.execute(NAIVE_MONTH, {"a": account_id, "start": start, "end": end})).all()
    sums: dict[str, int] = {}
    for kind, _, _, amount in rows:
        sums[kind] = sums.get(kind, 0) + int(amount)
    closing = opening + sum(sums.values())
    return {"opening": opening, "closing": closing, "records": sum(int(r[2]) for r in rows)}


def micros(value: Any) -> int:
    from decimal import Decimal

    return int(Decimal(str(value)) * 1_000_000)


async def timed(rounds: int, warmup: int, run) -> tuple[list[float], Any]:  # noqa: ANN001
    result = None
    for _ in range(warmup):
        result = await run()
    laps = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = await run()
        laps.append((time.perf_counter() - started) * 1000)
    return laps, result


def summary(laps: list[float]) -> str:
    ordered = sorted(laps)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"{statistics.median(laps):8.2f} {p95:8.2f}"


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--meta", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    meta = json.loads((args.meta or default_meta_path(args.db)).read_text())
    last_month = month_key(meta["end_ms"])
    busiest = month_key(month_start_ms(last_month) - 1)  # the last whole month
    first = month_key(meta["start_ms"])
    accounts = {"small": meta["small"], "big": meta["big"]}

    db = open_database(args.db)
    counts = {}
    async with db.transaction(write=False) as conn:
        for name, account in accounts.items():
            counts[name] = (await conn.execute(text("SELECT SUM(count) FROM billing_monthly WHERE account_id = :a"),
                                               {"a": account["id"]})).scalar_one()
    app = create_app(Settings(database_url=args.db, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=None, access_log=False))
    lines = [
        f"database: {meta['dialect']}, {meta['records']:,} records; small account {accounts['small']['id']} "
        f"({counts['small']:,} records), big account {accounts['big']['id']} ({counts['big']:,} records); "
        f"{args.rounds} rounds after {args.warmup} warm-up, median and p95 in ms",
        f"{'case':52} {'median':>8} {'p95':>8}",
    ]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for month in (busiest, first):
                for name, account in accounts.items():
                    headers = {"Authorization": f"Bearer {account['api_key']}"}
                    path = f"/api/v3/statements/{month_text(month)}"

                    async def json_statement(path: str = path, headers: dict = headers) -> dict:
                        response = await http.get(path, headers=headers)
                        assert response.status_code == 200, response.text
                        return response.json()["data"]

                    async def pdf_statement(path: str = path, headers: dict = headers) -> bytes:
                        response = await http.get(path + ".pdf", headers=headers)
                        assert response.status_code == 200, response.text
                        return response.content

                    laps, data = await timed(args.rounds, args.warmup, json_statement)
                    lines.append(f"{f'billbook JSON  {month_text(month)} {name}':52} {summary(laps)}")
                    pdf_laps, _ = await timed(max(5, args.rounds // 3), 1, pdf_statement)
                    lines.append(f"{f'billbook PDF   {month_text(month)} {name}':52} {summary(pdf_laps)}")
                    naive_laps, figures = await timed(args.rounds, args.warmup,
                                                      lambda a=account["id"], m=month: naive(db, a, m))
                    lines.append(f"{f'naive scan     {month_text(month)} {name}':52} {summary(naive_laps)}")
                    mine = {"opening": micros(data["opening_balance"]), "closing": micros(data["closing_balance"]),
                            "records": data["record_count"]}
                    assert mine == figures, (name, month, mine, figures)
    await db.dispose()
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
