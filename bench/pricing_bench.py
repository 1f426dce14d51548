"""What pricing costs a charge: a batch of 1,000 charges priced from the catalog against a batch of
1,000 charges that send their price, through the whole in-process app (HTTP request, validation, the
transaction, the response), on SQLite and PostgreSQL. Target: the catalog-priced batch costs at most
1.5x the explicit one.

Both kinds run alternately on the same database (so neither sees a warmer cache or a bigger table
than the other) after warm-up rounds; the figure is the ratio of the medians. It is a measurement,
not a test: it prints and never fails on speed.

    python bench/pricing_bench.py                                   # SQLite (temporary file) and PostgreSQL
    python bench/pricing_bench.py --db sqlite:///bench/out/p.db --rounds 20
    BILLBOOK_BENCH_PG_ADMIN=postgresql://postgres@127.0.0.1:5432/postgres python bench/pricing_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid

import httpx

from billbook.api.app import create_app
from billbook.settings import Settings
from launcher import open_database  # noqa: E402
from scratch import scratch_databases  # noqa: E402
from billbook.store.migrate import upgrade

ADMIN_TOKEN = "pricing-bench-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TARGET = 1.5
DAY_MS = 86_400_000
#: A catalog like a real one: flat prices, per-second video, a price by resolution.
MODELS = {
    "bench/image-flat": (None, "0.04"),
    "bench/image-hd": (None, "0.06"),
    "bench/video-seconds": ("base_price * duration / 5", "0.25"),
    "bench/video-total": ('{"total_price": base_price * duration / 5}', "0.3"),
    "bench/video-resolution": ('$lookup({"480p": 0.1, "720p": 0.2, "1080p": 0.35}, resolution) * duration', "0"),
    "bench/upscale": (None, "0.01"),
    "bench/audio": ("base_price * duration / 60", "0.12"),
    "bench/llm": ("base_price * (tokens / 1000)", "0.002"),
}


def inputs_for(rng: random.Random, model_id: str) -> dict:
    return {
        "prompt": "a lighthouse at dusk, " + "x" * rng.randrange(40),
        "duration": rng.randint(1, 20),
        "resolution": rng.choice(("480p", "720p", "1080p")),
        "tokens": rng.randrange(100, 8000),
        "seed": rng.randrange(2**31),
    }


async def setup(http: httpx.AsyncClient, accounts: int) -> list[str]:
    """Accounts with keys and room for every charge, three versions of each model (the oldest two
    in the past), and discounts for a third of the accounts."""
    now = int(time.time() * 1000)
    for model_id, (formula, base) in MODELS.items():
        for age, factor in ((60, "0.8"), (30, "0.9"), (1, "1")):
            body = {"name": model_id, "base_price": str(round(float(base) * float(factor), 6)),
                    "formula": formula, "effective_from": now - age * DAY_MS}
            response = await http.put(f"/internal/v1/models/{model_id}", json=body, headers=ADMIN)
            assert response.status_code == 200, response.text
    keys = []
    for n in range(accounts):
        body = {"name": f"bench-{n}", "balance": "900000000"}
        account = (await http.post("/internal/v1/accounts", json=body, headers=ADMIN)).json()["data"]
        key = (await http.post(f"/internal/v1/accounts/{account['id']}/keys", json={"name": "k"}, headers=ADMIN)).json()["data"]
        keys.append(key["access_key_id"])
        if n % 3 == 0:
            body = {"model_id": None, "rate_percent": 10}
            await http.put(f"/internal/v1/accounts/{account['id']}/discounts", json=body, headers=ADMIN)
        if n % 6 == 0:
            body = {"model_id": "bench/video-seconds", "rate_percent": 25}
            await http.put(f"/internal/v1/accounts/{account['id']}/discounts", json=body, headers=ADMIN)
    return keys


def batch(rng: random.Random, keys: list[str], size: int, *, catalog: bool) -> list[dict]:
    charges = []
    for _ in range(size):
        model_id = rng.choice(list(MODELS))
        charge = {"prediction_uuid": uuid.uuid4().hex, "access_key_id": rng.choice(keys), "model_uuid": model_id}
        if catalog:
            charge["inputs"] = inputs_for(rng, model_id)
        else:
            charge["price"] = f"0.{rng.randrange(10_000, 99_999):05d}"
        charges.append(charge)
    return charges


async def timed(http: httpx.AsyncClient, charges: list[dict]) -> float:
    started = time.perf_counter()
    response = await http.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
    elapsed = time.perf_counter() - started
    data = response.json()["data"]
    assert response.status_code == 200 and data["created"] == len(charges), response.text[:500]
    return elapsed


async def measure(url: str, size: int, rounds: int, warmup: int, accounts: int) -> dict:
    db = open_database(url)
    await upgrade(db)
    await db.dispose()
    app = create_app(Settings(database_url=url, admin_token=ADMIN_TOKEN))
    rng = random.Random(12)
    times: dict[str, list[float]] = {"explicit": [], "catalog": []}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as http:
            keys = await setup(http, accounts)
            for n in range(warmup + rounds):
                order = ("explicit", "catalog") if n % 2 == 0 else ("catalog", "explicit")
                for kind in order:
                    elapsed = await timed(http, batch(rng, keys, size, catalog=kind == "catalog"))
                    if n >= warmup:
                        times[kind].append(elapsed)
    explicit, catalog = statistics.median(times["explicit"]), statistics.median(times["catalog"])
    return {"explicit_s": explicit, "catalog_s": catalog, "ratio": catalog / explicit,
            "explicit_min": min(times["explicit"]), "catalog_min": min(times["catalog"])}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", action="append", help="a database URL (repeatable); default: a temporary SQLite file and a temporary PostgreSQL database")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--accounts", type=int, default=30)
    args = parser.parse_args()
    async with scratch_databases(args.db, "pricing-bench") as urls:
        print(f"{'database':<12} {'explicit (s)':>13} {'catalog (s)':>12} {'ratio':>7}  target <= {TARGET}x")
        for url in urls:
            result = await measure(url, args.size, args.rounds, args.warmup, args.accounts)
            verdict = "met" if result["ratio"] <= TARGET else "MISSED"
            print(f"{url.split(':', 1)[0]:<12} {result['explicit_s']:>13.3f} {result['catalog_s']:>12.3f} "
                  f"{result['ratio']:>6.2f}x  {verdict} (batches of {args.size}, median of {args.rounds}; "
                  f"fastest {result['explicit_min']:.3f} / {result['catalog_min']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
