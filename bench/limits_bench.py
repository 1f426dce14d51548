"""What a spend-limit check costs as history grows: single charges of a key with daily, monthly and
total limits (and an account with limits too), for an account with a few records against one with a
long back-dated history (a year of days, many thousands of records and window rows), through the
whole in-process app, on SQLite and PostgreSQL. Target: the big account's median charge within
1.2x of the small one's (the check reads at most six rollup rows whatever the history).

Both accounts are charged alternately on the same database after warm-up; the figure is the ratio
of the medians. It is a measurement, not a test: it prints and never fails on speed.

    python bench/limits_bench.py                                    # SQLite (temporary file) and PostgreSQL
    python bench/limits_bench.py --history 200000 --charges 500
    BILLBOOK_BENCH_PG_ADMIN=postgresql://postgres@127.0.0.1:5432/postgres python bench/limits_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

from billbook.api.app import create_app
from billbook.settings import Settings
from launcher import open_database  # noqa: E402
from billbook.store.migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pricing_bench import ADMIN, ADMIN_TOKEN  # noqa: E402
from scratch import scratch_databases  # noqa: E402

TARGET = 1.2
DAY_MS = 86_400_000
LIMITS = {"daily": "100000", "monthly": "1000000", "total": "100000000"}


async def account_with_key(http: httpx.AsyncClient, name: str) -> str:
    body = {"name": name, "balance": "900000000"}
    account = (await http.post("/internal/v1/accounts", json=body, headers=ADMIN)).json()["data"]
    key = (await http.post(f"/internal/v1/accounts/{account['id']}/keys", json={"name": "k"}, headers=ADMIN)).json()["data"]
    for path in (f"/internal/v1/keys/{key['access_key_id']}/limits", f"/internal/v1/accounts/{account['id']}/limits"):
        assert (await http.put(path, json=LIMITS, headers=ADMIN)).status_code == 200
    return key["access_key_id"]


async def history(http: httpx.AsyncClient, key: str, records: int) -> None:
    """``records`` deducts spread over the last 365 days, in batches of 1,000."""
    now = int(time.time() * 1000)
    for start in range(0, records, 1000):
        charges = [
            {"prediction_uuid": uuid.uuid4().hex, "access_key_id": key, "model_uuid": f"bench/m{n % 7}",
             "price": "0.01", "created_at": now - ((start + n) * 7919 % 365) * DAY_MS - DAY_MS - n}
            for n in range(min(1000, records - start))
        ]
        response = await http.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
        assert response.status_code == 200 and response.json()["data"]["created"] == len(charges), response.text[:300]


async def charge(http: httpx.AsyncClient, key: str) -> float:
    body = {"prediction_uuid": uuid.uuid4().hex, "access_key_id": key, "model_uuid": "bench/m0", "price": "0.01"}
    started = time.perf_counter()
    response = await http.post("/internal/v1/charges", json=body, headers=ADMIN)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    return elapsed


async def measure(url: str, records: int, charges: int, warmup: int) -> dict:
    db = open_database(url)
    await upgrade(db)
    await db.dispose()
    # No hold sweeper: the history is back-dated, so every hold in it has expired.
    app = create_app(Settings(database_url=url, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=None))
    times: dict[str, list[float]] = {"small": [], "big": []}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as http:
            small, big = await account_with_key(http, "small"), await account_with_key(http, "big")
            await history(http, small, 10)
            loaded = time.perf_counter()
            await history(http, big, records)
            load_s = time.perf_counter() - loaded
            for n in range(warmup + charges):
                for kind, key in (("small", small), ("big", big)) if n % 2 == 0 else (("big", big), ("small", small)):
                    elapsed = await charge(http, key)
                    if n >= warmup:
                        times[kind].append(elapsed)
    small_ms, big_ms = (statistics.median(times[k]) * 1000 for k in ("small", "big"))
    p90 = {k: statistics.quantiles(v, n=10)[-1] * 1000 for k, v in times.items()}
    return {"small_ms": small_ms, "big_ms": big_ms, "ratio": big_ms / small_ms, "p90": p90, "load_s": load_s}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", action="append", help="a database URL (repeatable); default: a temporary SQLite file and a temporary PostgreSQL database")
    parser.add_argument("--history", type=int, default=100_000, help="records of the big account")
    parser.add_argument("--charges", type=int, default=300, help="measured charges per account")
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    async with scratch_databases(args.db, "limits-bench") as urls:
        print(f"{'database':<12} {'small (ms)':>11} {'big (ms)':>9} {'ratio':>7}  target <= {TARGET}x")
        for url in urls:
            r = await measure(url, args.history, args.charges, args.warmup)
            verdict = "met" if r["ratio"] <= TARGET else "MISSED"
            print(f"{url.split(':', 1)[0]:<12} {r['small_ms']:>11.2f} {r['big_ms']:>9.2f} {r['ratio']:>6.2f}x  {verdict} "
                  f"(median of {args.charges} single charges each; p90 {r['p90']['small']:.2f} / {r['p90']['big']:.2f} ms; "
                  f"big account: {args.history} records over 365 days, loaded in {r['load_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
