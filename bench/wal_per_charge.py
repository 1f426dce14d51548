"""WAL and storage per charge on PostgreSQL, for capacity planning (docs/scaling.md).

    python bench/wal_per_charge.py [--charges 5000] [--batch 100]

Starts a PostgreSQL server of its own (``initdb`` on a free port: no other writer, so its WAL is
billbook's alone), charges ``--charges`` times through the API in process (single
charges, then the same number in batches of ``--batch``), and reports the WAL the server wrote
(``pg_current_wal_lsn()`` before and after; nothing else may write meanwhile for an exact figure)
and the growth of the database per charge. Removes the server afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from billbook.api.app import create_app
from billbook.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgtopology import SingleServer  # noqa: E402

ADMIN = "wal-bench-admin-token"


async def _position_and_size(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
        return (
            await conn.fetchval("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"),
            await conn.fetchval("SELECT pg_database_size(current_database())"),
        )
    finally:
        await conn.close()


def _charge(key: str) -> dict:
    return {"access_key_id": key, "price": "0.01", "model_uuid": "bench/model", "prediction_uuid": uuid.uuid4().hex}


async def measure(url: str, charges: int, batch: int) -> dict:
    app = create_app(Settings(database_url=url, admin_token=ADMIN, hold_sweep_interval_s=None))
    admin = {"Authorization": f"Bearer {ADMIN}"}
    results = {}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            account = (await http.post("/internal/v1/accounts", json={"name": "wal", "balance": "1000000"}, headers=admin)).json()
            key = (await http.post(f"/internal/v1/accounts/{account['data']['id']}/keys", json={"name": "k"}, headers=admin)).json()
            access_key_id = key["data"]["access_key_id"]
            for form in ("single", "batch"):
                lsn0, size0 = await _position_and_size(url)
                started = time.perf_counter()
                if form == "single":
                    for _ in range(charges):
                        (await http.post("/internal/v1/charges", json=_charge(access_key_id), headers=admin)).raise_for_status()
                else:
                    for _ in range(charges // batch):
                        body = {"charges": [_charge(access_key_id) for _ in range(batch)]}
                        (await http.post("/internal/v1/charges/batch", json=body, headers=admin)).raise_for_status()
                elapsed = time.perf_counter() - started
                lsn1, size1 = await _position_and_size(url)
                results[form] = {
                    "charges": charges,
                    "wal_bytes_per_charge": round((lsn1 - lsn0) / charges),
                    "database_bytes_per_charge": round((size1 - size0) / charges),
                    "charges_per_s_one_client_in_process": round(charges / elapsed),
                }
    return results


async def main_async(admin_url: str, charges: int, batch: int) -> dict:
    name = f"billbook_wal_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        return await measure(admin_url.rsplit("/", 1)[0] + f"/{name}", charges, batch)
    finally:
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--charges", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with SingleServer() as server:
        print(json.dumps(asyncio.run(main_async(server.url(), args.charges, args.batch)), indent=2))


if __name__ == "__main__":
    main()
