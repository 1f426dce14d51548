"""Failover drill: charges at a steady rate while the primary dies; Patroni promotes the standby.

    python bench/failover.py                 # full: 60 s before the kill, 60 s after, 20 charges/s
    python bench/failover.py --short         # CI: 5 s before, 5 s after, 10 charges/s

What it starts (``pgtopology.PatroniCluster``): etcd, and Patroni managing two PostgreSQL servers
in synchronous mode, a primary and a synchronous standby; then ``billbook serve`` on the
multi-host URL (``target_session_attrs=read-write``: it connects to whichever node accepts writes,
and its pool replaces connections that broke, so it is never restarted).

What it does: one account, one key; a charge (a new prediction) every 1/rate seconds, each
acknowledged or not (200 or anything else, no retries); after the warm-up the primary's Patroni and
PostgreSQL are SIGKILLed together, as when its machine dies; charging goes on until the standby
has been promoted and the "after" period has passed.

What it measures and checks:

* **seconds without writes**: the longest gap between two acknowledged charges (the outage);
* **acknowledged charges lost**: acknowledged predictions missing from the new primary's ledger
  (must be 0: synchronous replication acknowledged none the standby did not have);
* ``billbook verify`` on the new primary (must pass);

and prints one JSON object (``--out`` also writes it). Exit status 1 when anything was lost or
verify failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from launcher import ROOT, BillbookServer  # noqa: E402
from pgtopology import PatroniCluster  # noqa: E402

ADMIN_TOKEN = "failover-drill-admin-token"
DATABASE = "billbook"
#: A charge that has not been answered after this long counts as not acknowledged.
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Drill:
    before_s: float
    after_s: float
    rate: float
    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)
    failed: int = 0


@dataclass
class Result:
    rate_per_s: float
    charges_sent: int
    charges_acknowledged: int
    charges_refused: int
    acknowledged_after_promotion: int
    seconds_without_writes: float
    killed: str
    promoted: str
    seconds_to_promotion: float
    acknowledged_lost: int
    verify_exit_code: int


async def _setup(http: httpx.AsyncClient) -> str:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    account = (await http.post("/internal/v1/accounts", json={"name": "drill", "balance": "1000000"}, headers=admin)).json()
    key = (await http.post(f"/internal/v1/accounts/{account['data']['id']}/keys", json={"name": "drill"}, headers=admin)).json()
    return key["data"]["access_key_id"]


async def _charge(http: httpx.AsyncClient, drill: Drill, access_key_id: str) -> None:
    prediction = uuid.uuid4().hex
    body = {"access_key_id": access_key_id, "price": "0.01", "model_uuid": "drill/model", "prediction_uuid": prediction}
    drill.sent += 1
    try:
        answer = await http.post(
            "/internal/v1/charges", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=REQUEST_TIMEOUT_S
        )
    except httpx.HTTPError:
        drill.failed += 1
        return
    if answer.status_code == 200:
        drill.acknowledged.append(prediction)
        drill.ack_times.append(time.monotonic())
    else:
        drill.failed += 1


async def _charge_steadily(http: httpx.AsyncClient, drill: Drill, access_key_id: str, until: threading.Event) -> None:
    """One charge every 1/rate seconds (each in its own task, so a slow answer delays no other)."""
    pending: set[asyncio.Task] = set()
    interval = 1 / drill.rate
    next_at = time.monotonic()
    while not until.is_set():
        task = asyncio.create_task(_charge(http, drill, access_key_id))
        pending.add(task)
        task.add_done_callback(pending.discard)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.gather(*pending)


def _kill_and_wait(cluster: PatroniCluster, drill: Drill, stop: threading.Event, out: dict) -> None:
    """In a thread: warm up, kill the primary, wait for the promotion and the "after" period."""
    time.sleep(drill.before_s)
    out["kill_at"] = time.monotonic()
    out["killed"] = cluster.kill_primary()
    out["promoted"] = cluster.wait_for_new_primary(out["killed"])
    out["promoted_at"] = time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (drill.ack_times and drill.ack_times[-1] > out["promoted_at"]):
        time.sleep(0.1)
    time.sleep(drill.after_s)
    stop.set()


async def _lost(url: str, acknowledged: list[str]) -> int:
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetchval("SELECT count(*) FROM predictions WHERE uuid = ANY($1::text[])", acknowledged)
    finally:
        await conn.close()
    return len(acknowledged) - found


def _verify(url: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "billbook", "verify", "--db", url],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    return done.returncode


def _longest_gap(times: list[float], around: float) -> float:
    """The longest time between two acknowledgements, among the gaps that span ``around``."""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if a <= around <= b]
    return max(gaps, default=0.0)


async def _charges_through_a_failover(cluster: PatroniCluster, state: Drill) -> dict:
    """The database, the server, the account; charging while the primary is killed."""
    admin = await asyncpg.connect(cluster.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    env = {"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN, "BILLBOOK_HOLD_SWEEP_INTERVAL": "off", "BILLBOOK_DB_POOLER": "none"}
    with BillbookServer(cluster.url(DATABASE), env=env) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            access_key_id = await _setup(http)
            stop, out = threading.Event(), {}
            killer = threading.Thread(target=_kill_and_wait, args=(cluster, state, stop, out), daemon=True)
            killer.start()
            await _charge_steadily(http, state, access_key_id, stop)
            killer.join()
    return out


def drill(before_s: float, after_s: float, rate: float) -> Result:
    state = Drill(before_s, after_s, rate)
    with PatroniCluster() as cluster:
        out = asyncio.run(_charges_through_a_failover(cluster, state))
        lost = asyncio.run(_lost(cluster.dsn(DATABASE), state.acknowledged))
        verified = _verify(cluster.url(DATABASE))
    return Result(
        rate_per_s=rate,
        charges_sent=state.sent,
        charges_acknowledged=len(state.acknowledged),
        charges_refused=state.failed,
        acknowledged_after_promotion=sum(1 for t in state.ack_times if t > out["promoted_at"]),
        seconds_without_writes=round(_longest_gap(state.ack_times, out["kill_at"]), 2),
        killed=out["killed"],
        promoted=out["promoted"],
        seconds_to_promotion=round(out["promoted_at"] - out["kill_at"], 2),
        acknowledged_lost=lost,
        verify_exit_code=verified,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--short", action="store_true", help="the CI form: 5 s before the kill, 5 s after, 10/s")
    parser.add_argument("--before", type=float, default=60.0, help="seconds of charging before the kill")
    parser.add_argument("--after", type=float, default=60.0, help="seconds of charging after the promotion")
    parser.add_argument("--rate", type=float, default=20.0, help="charges per second")
    parser.add_argument("--out", type=Path, help="also write the result (JSON) here")
    args = parser.parse_args(argv)
    before, after, rate = (5.0, 5.0, 10.0) if args.short else (args.before, args.after, args.rate)
    result = asdict(drill(before, after, rate))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if result["acknowledged_lost"] == 0 and result["verify_exit_code"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
