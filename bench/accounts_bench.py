"""The operator's accounts list at a small database against one of 100,000 accounts, and against a
naive implementation on the same large database. Target: every case at 100,000 accounts within 3x of
the same case at the small size.

billbook's list (``ledger.operator.accounts``): a page chosen from the accounts table and its
``balance`` / ``created_at`` indexes alone (ids first, then the page's rows), or from the stored
30-day spend (``account_spend``, back-filled after the bulk load as migration 0012 does), or for a
selective search from its matches through the trigram index (``pg_trgm`` / FTS5); then held money,
30-day spend and key counts read for that page's accounts only, by indexes led by ``account_id``;
an exact total. The naive one
joins every account's aggregates (open orders, 30-day spend, keys), then sorts and cuts the page:
what one writes first. Both run in a read transaction of the same process, on the same database;
the HTTP route (in-process, over ASGI) is timed too. It is a measurement: it prints, never fails.

    python bench/accounts_bench.py                          # SQLite (temporary files) and PostgreSQL
    python bench/accounts_bench.py --small 1000 --large 100000 --rounds 30
    python bench/accounts_bench.py --no-naive    # skip the naive statement (seconds a run on PostgreSQL)
    BILLBOOK_BENCH_PG_ADMIN=postgresql://postgres@127.0.0.1:5432/postgres python bench/accounts_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from scratch import PG_ADMIN, admin_execute

import httpx
from sqlalchemy import text

from billbook.api.app import create_app
from billbook.ledger import operator as reads
from billbook.settings import Settings
from launcher import open_database  # noqa: E402
from billbook.store import accounts as account_store
from billbook.store import spend as spend_store
from billbook.store.migrate import upgrade
from billbook.times import MS_PER_DAY, now_ms

ADMIN_TOKEN = "accounts-bench-admin-token"
TARGET = 3.0
CASES: list[tuple[str, dict[str, Any]]] = [
    ("newest, page 1", {"sort": "-created_at", "page": 1}),
    ("balance desc, page 1", {"sort": "-balance", "page": 1}),
    ("balance asc, page 50", {"sort": "balance", "page": 50}),
    ("spend_30d desc, page 1", {"sort": "-spend_30d", "page": 1}),
    ("spend_30d asc, page 1", {"sort": "spend_30d", "page": 1}),
    # Under three characters: the id, or names starting with it.
    ("query '77', page 1", {"sort": "-created_at", "page": 1, "query": "77"}),
    # A handful of accounts at 100,000 (ids holding 4242), none at 1,000.
    ("query '4242', page 1", {"sort": "-created_at", "page": 1, "query": "4242"}),
    ("query 'count 31', page 1", {"sort": "-balance", "page": 1, "query": "count 31"}),
]

NAIVE = """
SELECT a.id, a.name, a.balance, a.created_at,
       COALESCE(h.held, 0) AS held, COALESCE(s.spend, 0) AS spend_30d, COALESCE(k.n, 0) AS keys
FROM accounts a
LEFT JOIN (SELECT account_id, SUM(price) AS held FROM orders WHERE state = 'pre' GROUP BY account_id) h ON h.account_id = a.id
LEFT JOIN (SELECT account_id, SUM(deduct_amount - refund_amount) AS spend FROM usage_daily WHERE day >= :first
           GROUP BY account_id) s ON s.account_id = a.id
LEFT JOIN (SELECT account_id, COUNT(*) AS n FROM access_keys WHERE revoked_at IS NULL GROUP BY account_id) k ON k.account_id = a.id
{where}
ORDER BY {order}
LIMIT 10 OFFSET :offset
"""
NAIVE_ORDER = {"-created_at": "a.created_at DESC, a.id DESC", "-balance": "a.balance DESC, a.id DESC",
               "balance": "a.balance ASC, a.id ASC", "-spend_30d": "spend_30d DESC, a.id DESC",
               "spend_30d": "spend_30d ASC, a.id ASC"}


def rows_for(n: int, seed: int = 7) -> dict[str, list[tuple]]:
    """``n`` accounts; two keys each (a tenth revoked); four usage cells each over 60 days; an
    open order for a fifth of them."""
    rng = random.Random(seed)
    now = now_ms()
    today = now // MS_PER_DAY
    out: dict[str, list[tuple]] = {"accounts": [], "access_keys": [], "usage_daily": [], "predictions": [], "orders": []}
    for a in range(1, n + 1):
        created = now - rng.randint(0, 400) * MS_PER_DAY
        out["accounts"].append((a, f"account {a} {rng.choice(('labs', 'studio', 'inc', 'ai'))}", rng.randint(0, 10**9), created))
        for k in range(2):
            key_id = 2 * a - 1 + k
            revoked = now if rng.random() < 0.1 else None
            out["access_keys"].append((key_id, f"{a}_{10**18 + key_id}", a, "k", uuid.uuid4().hex[:16], "s", "h", created, revoked))
        for day in rng.sample(range(today - 59, today + 1), 4):
            amount = rng.randint(10_000, 5_000_000)
            out["usage_daily"].append((a, day, "m", f"{a}_{10**18 + 2 * a - 1}", "", 3, amount, 0, 0, 2, now, 10_000))
        if rng.random() < 0.2:
            out["predictions"].append((a, uuid.uuid4().hex, a, 2 * a - 1, "m", "", "created", now, now, now + 3_600_000))
            out["orders"].append((a, uuid.uuid4().hex, a, a, 2 * a - 1, "pre", 40_000, 40_000, now, now))
    return out


COLUMNS = {
    "accounts": "id, name, balance, created_at",
    "access_keys": "id, access_key_id, account_id, name, lookup, salt, secret_hash, created_at, revoked_at",
    "usage_daily": "account_id, day, model_uuid, access_key_id, model_type, deduct_count, deduct_amount, refund_count,"
                   " refund_amount, completed_count, last_used_at, last_price",
    "predictions": "id, uuid, account_id, ak_id, model_uuid, model_type, status, created_at, updated_at, hold_until",
    "orders": "id, uuid, prediction_id, account_id, ak_id, state, price, origin_price, created_at, updated_at",
}


async def backfill(url: str) -> None:
    """The stored 30-day spend and the count of the bulk-loaded accounts, as migration 0012
    back-fills them."""
    db = open_database(url)
    try:
        async with db.transaction(write=True) as conn:
            await spend_store.rebuild(conn, now_ms() // MS_PER_DAY)
            await account_store.recount(conn)
    finally:
        await db.dispose()


async def load(url: str, n: int) -> None:
    await _load(url, n)
    await backfill(url)
    if url.startswith("postgresql"):
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
    else:
        conn = sqlite3.connect(url.split("///", 1)[1])
        conn.execute("ANALYZE")
        conn.close()


async def _load(url: str, n: int) -> None:
    db = open_database(url)
    await upgrade(db)
    await db.dispose()
    data = rows_for(n)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1])
        for table, cols in COLUMNS.items():
            marks = ", ".join("?" * len(cols.split(",")))
            conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", data[table])
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for table, cols in COLUMNS.items():
            await conn.copy_records_to_table(table, records=data[table], columns=[c.strip() for c in cols.split(",")])
        await conn.execute("SELECT setval(pg_get_serial_sequence('accounts', 'id'), (SELECT MAX(id) FROM accounts))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _median(fn: Any, rounds: int) -> float:
    for _ in range(3):
        await fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def measure(url: str, rounds: int, naive_too: bool = True) -> dict[str, dict[str, float]]:
    db = open_database(url)
    first = now_ms() // MS_PER_DAY - 29
    out: dict[str, dict[str, float]] = {}
    app = create_app(Settings(database_url=url, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=None))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                for name, case in CASES:
                    q = reads.AccountQuery(text=case.get("query"), sort=case["sort"])

                    async def ours(q: reads.AccountQuery = q, page: int = case["page"]) -> None:
                        async with db.transaction(write=False) as conn:
                            await reads.accounts(conn, q, page, 10)

                    where = ""
                    if "query" in case:
                        where = f"WHERE lower(a.name) LIKE '%{case['query']}%'"
                        where += f" OR a.id = {case['query']}" if case["query"].isdigit() else ""
                    naive_sql = text(NAIVE.format(where=where, order=NAIVE_ORDER[case["sort"]]))
                    count_sql = text(f"SELECT COUNT(*) FROM accounts a {where}")

                    async def naive(page: int = case["page"], sql: Any = naive_sql, count: Any = count_sql) -> None:
                        async with db.transaction(write=False) as conn:
                            await conn.execute(count)
                            await conn.execute(sql, {"first": first, "offset": (page - 1) * 10})

                    params = {k: v for k, v in case.items()} | {"page_size": 10}

                    async def route(params: dict = params) -> None:
                        response = await http.get("/internal/v1/accounts", params=params,
                                                  headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
                        assert response.status_code == 200, response.text

                    out[name] = {"billbook": await _median(ours, rounds), "route": await _median(route, rounds),
                                 "naive": await _median(naive, rounds) if naive_too else float("nan")}
    finally:
        await db.dispose()
    return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-naive", action="store_true", help="leave out the naive statement")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="accounts-bench-"))
    backends: dict[str, dict[str, str]] = {"sqlite": {size: f"sqlite:///{tmp / f'{size}.db'}" for size in ("small", "large")}}
    dropped: list[str] = []
    if not args.no_pg:
        backends["postgresql"] = {}
        for size in ("small", "large"):
            name = f"billbook_accounts_bench_{size}_{uuid.uuid4().hex[:6]}"
            await admin_execute(f'CREATE DATABASE "{name}"')
            dropped.append(name)
            backends["postgresql"][size] = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        for backend, urls in backends.items():
            results = {}
            for size, count in (("small", args.small), ("large", args.large)):
                started = time.perf_counter()
                await load(urls[size], count)
                print(f"{backend}: loaded {count:,} accounts in {time.perf_counter() - started:.1f} s", file=sys.stderr)
                results[size] = await measure(urls[size], args.rounds, not args.no_naive)
            print(f"\n{backend}: median ms of {args.rounds} (page_size 10); target: large <= {TARGET}x small")
            print("| case | small | large | large/small | route small | route large | naive large | naive/billbook |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for name, _ in CASES:
                s, big = results["small"][name], results["large"][name]
                ratio = big["billbook"] / s["billbook"]
                print(f"| {name} | {s['billbook']:.2f} | {big['billbook']:.2f} | {ratio:.2f}x{'' if ratio <= TARGET else ' MISSED'} "
                      f"| {s['route']:.2f} | {big['route']:.2f} | {big['naive']:.2f} | {big['naive'] / big['billbook']:.1f}x |")
    finally:
        for name in dropped:
            await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
