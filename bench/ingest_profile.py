"""Batch ingestion alone: ``POST /internal/v1/charges/batch`` on a new database, where its time goes.

A new database (PostgreSQL, or a SQLite file), migrated; ``--accounts`` funded accounts with one key
each, made through the API; then ``--batches`` batches of ``--batch-size`` charges (sent prices, four
models, ``created_at`` spread over the last 30 days, each batch spread over every account, as
``run.py --fresh`` ingests) from ``--clients`` concurrent clients, after one unmeasured batch.
Prints charges/s; ``--json`` adds the figures as one JSON line.

* In process (the default): the app behind ``httpx.ASGITransport``, no sockets. ``--statements``
  then times every statement the driver sends (asyncpg on PostgreSQL: client-side, round trip
  included) and prints them by total time, per batch.
* ``--server``: ``billbook serve --workers N`` (``--workers``) on 127.0.0.1, as ``run.py`` starts it;
  ``--py-spy`` records the first worker's stacks during the measured batches (raw, to ``bench/out``).

The source measured is whatever ``billbook`` imports: set ``PYTHONPATH`` to another checkout's
``src`` to measure it (A/B of two commits from one copy of this script).

    PYTHONPATH=src .venv/bin/python bench/ingest_profile.py --batches 20
    PYTHONPATH=src .venv/bin/python bench/ingest_profile.py --batches 10 --statements
    PYTHONPATH=src .venv/bin/python bench/ingest_profile.py --server --workers 2 --clients 4 --batches 40
    PYTHONPATH=src .venv/bin/python bench/ingest_profile.py --db sqlite --batches 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

from scratch import PG_ADMIN, admin_execute

BENCH = Path(__file__).resolve().parent
ADMIN_TOKEN = "bench-admin-" + secrets.token_hex(8)
MODELS = ("wavespeed-ai/flux-dev", "google/veo3", "bytedance/seedream-v4.5", "kling/v2.1")
PRICES = (0.001, 0.002, 0.005)
MS_PER_DAY = 86_400_000


async def new_database(kind: str, settings: list[str] = ()) -> tuple[str, object]:
    """A migrated database; returns its URL and a coroutine function that drops it."""
    from billbook.store.db import Database
    from billbook.store.migrate import upgrade

    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="ingest-profile-"))
        url = f"sqlite:///{folder / 'bench.db'}"

        async def drop() -> None:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        name = f"billbook_ingest_{uuid.uuid4().hex[:8]}"
        await admin_execute(f'CREATE DATABASE "{name}"')
        for setting in settings:  # e.g. auto_explain.log_min_duration=5 with session_preload_libraries=auto_explain
            key, _, value = setting.partition("=")
            await admin_execute(f'ALTER DATABASE "{name}" SET {key} = \'{value}\'')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

        async def drop() -> None:
            await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    db = Database(url)
    await upgrade(db)
    await db.dispose()
    return url, drop


def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"{response.request.url.path}: HTTP {response.status_code}: {response.text[:300]}"
    return response.json()["data"]


async def seed(http: httpx.AsyncClient, accounts: int) -> list[str]:
    """Funded accounts with one key each; their access key ids."""
    keys = []
    for i in range(accounts):
        account = _ok(await http.post("/internal/v1/accounts", json={"name": f"ingest-{i}", "balance": "1000"}))
        key = _ok(await http.post(f"/internal/v1/accounts/{account['id']}/keys", json={"name": "bench"}))
        keys.append(key["access_key_id"])
    return keys


def bodies(keys: list[str], batches: int, size: int, seed_: int) -> list[bytes]:
    """Batches of charges spread over every key (and so every account), dated over the last 30 days."""
    rng = random.Random(seed_)
    end = (int(time.time() * 1000) // MS_PER_DAY) * MS_PER_DAY - 1
    out = []
    n = 0
    for _ in range(batches):
        charges = []
        for _ in range(size):
            charges.append({
                "prediction_uuid": uuid.uuid4().hex,
                "access_key_id": keys[rng.randrange(len(keys))],
                "model_uuid": MODELS[n % len(MODELS)],
                "model_type": "text-to-image",
                "price": PRICES[n % len(PRICES)],
                "created_at": end - rng.randrange(30 * MS_PER_DAY),
            })
            n += 1
        out.append(json.dumps({"charges": charges}).encode())
    return out


async def send(http: httpx.AsyncClient, payloads: list[bytes], clients: int) -> tuple[float, int]:
    """Send the batches from ``clients`` concurrent senders; seconds and charges created."""
    created = 0
    queue = list(reversed(payloads))

    async def sender() -> None:
        nonlocal created
        while queue:
            body = queue.pop()
            data = _ok(await http.post("/internal/v1/charges/batch", content=body, headers={"Content-Type": "application/json"}))
            created += data["created"]
            assert data["created"] == len(json.loads(body)["charges"]), {k: v for k, v in data.items() if k != "results"}

    t0 = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(clients)))
    return time.perf_counter() - t0, created


# --- statement timing (in process, asyncpg) ---------------------------------------------------------

_timings: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])


def _timed(method, sql_of):  # noqa: ANN001, ANN202
    async def wrapper(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return await method(self, *args, **kwargs)
        finally:
            cell = _timings[" ".join(sql_of(self, args).split())]
            cell[0] += 1
            cell[1] += time.perf_counter() - t0

    return wrapper


def time_statements() -> None:
    """Every statement asyncpg runs, counted and timed by its SQL text."""
    from asyncpg.connection import Connection
    from asyncpg.prepared_stmt import PreparedStatement

    for name in ("fetch", "execute", "fetchrow", "fetchval", "executemany"):
        setattr(Connection, name, _timed(getattr(Connection, name), lambda self, args: args[0] if args else "?"))
    for name in ("fetch", "fetchrow", "executemany"):
        setattr(PreparedStatement, name, _timed(getattr(PreparedStatement, name), lambda self, args: self.get_query()))


def statement_report(batches: int, top: int) -> str:
    total = sum(t for _, t in _timings.values())
    lines = [f"statements: {total * 1000 / batches:.1f} ms per batch in all"]
    for sql, (n, t) in sorted(_timings.items(), key=lambda kv: -kv[1][1])[:top]:
        lines.append(f"{t * 1000 / batches:8.2f} ms/batch {n / batches:6.1f}x  {sql[:230]}")
    return "\n".join(lines)


# --- runs ---------------------------------------------------------------------------------------------


async def in_process(url: str, args: argparse.Namespace) -> dict:
    from billbook.api.app import create_app
    from billbook.settings import Settings

    settings = Settings(database_url=url, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=None, webhook_dispatch=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test", headers=headers, timeout=600) as http:
            keys = await seed(http, args.accounts)
            payloads = bodies(keys, args.batches + 1, args.batch_size, args.seed)
            await send(http, payloads[:1], 1)
            _timings.clear()
            seconds, created = await send(http, payloads[1:], args.clients)
    return {"seconds": seconds, "created": created}


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])


async def served(url: str, args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(BENCH))
    from launcher import BillbookServer, descendants

    env = {"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN, "BILLBOOK_RATE_LIMIT": "off", "BILLBOOK_HOLD_SWEEP_INTERVAL": "off"}
    log = Path(tempfile.mkstemp(prefix="ingest-profile-", suffix=".log")[1])
    server = BillbookServer(url, workers=args.workers, env=env, log=log, access_log=False, start_timeout=120).start()
    spy = None
    try:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=600) as http:
            keys = await seed(http, args.accounts)
            payloads = bodies(keys, args.batches + args.clients, args.batch_size, args.seed)
            await send(http, payloads[: args.clients], args.clients)  # every worker warm
            if args.py_spy:
                out = BENCH / "out" / f"ingest-{time.strftime('%Y%m%dT%H%M%S')}.pyspy.txt"
                out.parent.mkdir(exist_ok=True)
                worker = max([server.pid, *descendants(server.pid)], key=_cpu_ticks)  # the busiest: a worker
                spy = subprocess.Popen([shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(worker), "-r", "200", "--format", "raw", "-o", str(out)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)
                print(f"py-spy of pid {worker} -> {out}", file=sys.stderr)
            seconds, created = await send(http, payloads[args.clients :], args.clients)
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=60)
        server.stop()
        log.unlink(missing_ok=True)
    return {"seconds": seconds, "created": created}


async def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--server", action="store_true", help="a real billbook serve instead of the app in process")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--statements", action="store_true", help="in process, PostgreSQL: time each statement")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--py-spy", action="store_true", help="with --server: py-spy the first worker")
    parser.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                        help="PostgreSQL: a setting of the new database (ALTER DATABASE ... SET), e.g. log_min_duration_statement=0")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.statements:
        time_statements()
    url, drop = await new_database(args.db, args.pg_set)
    try:
        result = await (served(url, args) if args.server else in_process(url, args))
        report = statement_report(args.batches, args.top) if args.statements else ""
    finally:
        if not args.keep:
            await drop()  # type: ignore[operator]
    import billbook

    figures = {
        "db": args.db, "mode": f"server w{args.workers}" if args.server else "in process", "clients": args.clients,
        "accounts": args.accounts, "batches": args.batches, "batch_size": args.batch_size,
        "charges": result["created"], "seconds": round(result["seconds"], 2),
        "per_s": round(result["created"] / result["seconds"], 1), "source": str(Path(billbook.__file__).parent),
    }
    print(f"{figures['db']} {figures['mode']}, {args.clients} client(s): {figures['charges']:,} charges in "
          f"{figures['seconds']} s = {figures['per_s']:,.0f} charges/s  ({figures['source']})")
    if report:
        print(report)
    if args.json:
        print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    asyncio.run(main())
