"""Soak: mixed reads and writes at a fixed rate against a live ``billbook serve`` on PostgreSQL.

    python bench/soak.py --minutes 10 --rate 200            # records the run in bench/RESULTS.md
    python bench/soak.py --seconds 20 --rate 50 --no-record  # a quick look

The load is open-loop: request ``i`` is sent at ``start + i / rate`` whether or not earlier ones
have answered, so a slow server shows up as latency and lag instead of quietly lowering the rate.
The mix is what a platform and its customers do: searches, balances, usage, charges (with
duplicate retries), completions and failures (refunds) and recharges across several accounts. The
run passes when every request got a 2xx, the server logged no error, every account's balance equals
the one the client computed from its own acknowledged writes, and the server's resident memory is
flat after warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from launcher import BillbookServer
from scratch import admin_execute

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
ADMIN_TOKEN = "soak-admin-token-" + uuid.uuid4().hex
PG_ADMIN_URL = os.environ.get("BILLBOOK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MODELS = ["bytedance/seedream-v4.5", "google/veo3", "wavespeed/flux-dev", "openai/sora-2", "kling/v2.1"]
#: operation -> share of the requests
MIX = {
    "search": 30, "balance": 15, "usage": 5,
    "charge": 25, "retry": 3, "complete": 11, "fail": 5, "recharge": 6,
}
WARMUP_FRACTION = 0.2  # memory is compared from the end of the first fifth of the run


@dataclass
class Account:
    id: int
    headers: dict[str, str]
    access_key_id: str
    expected: int  # micro-dollars, from this client's own acknowledged writes
    pending: deque = field(default_factory=deque)  # charged, no final status yet
    charged: list = field(default_factory=list)  # (prediction_uuid, body) for duplicate retries


@dataclass
class Report:
    seconds: float
    rate: float
    sent: int = 0
    errors: list = field(default_factory=list)
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    rss_kb: list = field(default_factory=list)  # (seconds since start, kB)
    max_lag: float = 0.0
    balance_mismatches: list = field(default_factory=list)
    server_errors: list = field(default_factory=list)

    def summary(self) -> dict:
        ops = {}
        for op, values in sorted(self.latencies.items()):
            values = sorted(values)
            ops[op] = {
                "count": len(values),
                "p50_ms": round(1000 * values[len(values) // 2], 1),
                "p99_ms": round(1000 * values[min(len(values) - 1, int(len(values) * 0.99))], 1),
                "max_ms": round(1000 * values[-1], 1),
            }
        done = sum(len(v) for v in self.latencies.values())
        return {
            "seconds": round(self.seconds, 1),
            "target_rate": self.rate,
            "achieved_rate": round(done / self.seconds, 1) if self.seconds else 0,
            "requests": done,
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
            "server_error_lines": len(self.server_errors),
            "balance_mismatches": self.balance_mismatches[:5],
            "max_schedule_lag_ms": round(1000 * self.max_lag, 1),
            "memory": memory_summary(self.rss_kb, self.seconds),
            "ops": ops,
        }

    @property
    def passed(self) -> bool:
        mem = memory_summary(self.rss_kb, self.seconds)
        return not self.errors and not self.balance_mismatches and not self.server_errors and mem["flat"]


def memory_summary(samples: list[tuple[float, int]], seconds: float) -> dict:
    """Flat: after warm-up the last tenth's median is within 10 % (or 8 MB) of the first tenth's."""
    if len(samples) < 4:
        return {"samples": len(samples), "flat": True}
    after = [(t, kb) for t, kb in samples if t >= seconds * WARMUP_FRACTION] or samples
    tenth = max(1, len(after) // 10)
    start = statistics.median(kb for _t, kb in after[:tenth]) / 1024
    end = statistics.median(kb for _t, kb in after[-tenth:]) / 1024
    ts, ys = [t for t, _ in after], [kb / 1024 for _, kb in after]
    slope = 0.0
    if len(after) > 2 and max(ts) > min(ts):
        mean_t, mean_y = statistics.fmean(ts), statistics.fmean(ys)
        slope = sum((t - mean_t) * (y - mean_y) for t, y in zip(ts, ys)) / sum((t - mean_t) ** 2 for t in ts) * 60
    growth = end - start
    return {
        "samples": len(samples),
        "first_mb": round(samples[0][1] / 1024, 1),
        "after_warmup_mb": round(start, 1),
        "end_mb": round(end, 1),
        "max_mb": round(max(kb for _t, kb in samples) / 1024, 1),
        "growth_mb": round(growth, 1),
        "slope_mb_per_min": round(slope, 2),
        "flat": growth <= max(8.0, 0.10 * start),
    }


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def micros(value: object) -> int:
    return int(Decimal(str(value)) * 1_000_000)


# --- the server and its database -----------------------------------------------------------------


def server_error_lines(log_dir: Path) -> list[str]:
    lines = []
    for line in (log_dir / "server-stderr.log").read_text(errors="replace").splitlines():
        try:
            level = json.loads(line).get("level")
        except ValueError:
            level = "ERROR"  # a line that is not JSON is itself a failure of the log format
        if level in ("ERROR", "CRITICAL"):
            lines.append(line[:500])
    return lines


# --- the load ------------------------------------------------------------------------------------


class Load:
    def __init__(self, http: httpx.AsyncClient, accounts: list[Account], report: Report, seed: int) -> None:
        self.http = http
        self.accounts = accounts
        self.report = report
        self.random = random.Random(seed)
        self.ops = list(MIX)
        self.weights = [MIX[op] for op in self.ops]
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def request(self, op: str, method: str, url: str, **kwargs: object) -> dict | None:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.report.errors.append(f"{op}: {type(exc).__name__}: {exc}")
            return None
        self.report.latencies[op].append(time.perf_counter() - started)
        if response.status_code != 200:
            self.report.errors.append(f"{op}: {response.status_code} {response.text[:200]}")
            return None
        return response.json()["data"]

    async def one(self) -> None:
        r = self.random
        op = r.choices(self.ops, self.weights)[0]
        account = r.choice(self.accounts)
        if op in ("complete", "fail") and not account.pending:
            op = "charge"
        if op == "retry" and not account.charged:
            op = "charge"
        if op == "search":
            body: dict = {"page": r.choice([1, 1, 1, 2, 3]), "page_size": r.choice([10, 10, 50, 100])}
            if r.random() < 0.3:
                body["billing_type"] = r.choice(["deduct", "refund", "recharge"])
            if r.random() < 0.3:
                body["model_uuid"] = r.choice(MODELS)
            if r.random() < 0.2:
                body["sort"] = "created_at ASC"
            await self.request(op, "POST", "/api/v3/billings/search", json=body, headers=account.headers)
        elif op == "balance":
            await self.request(op, "GET", "/api/v3/balance", headers=account.headers)
        elif op == "usage":
            end = datetime.now(UTC)
            body = {"start_time": (end.replace(microsecond=0) - _days(7)).isoformat().replace("+00:00", "Z"),
                    "end_time": end.replace(microsecond=0).isoformat().replace("+00:00", "Z")}
            await self.request(op, "POST", "/api/v3/user/usage_stats", json=body, headers=account.headers)
        elif op == "charge":
            price = Decimal(r.randint(1, 50_000)) / 1_000_000
            body = {"prediction_uuid": uuid.uuid4().hex, "access_key_id": account.access_key_id,
                    "model_uuid": r.choice(MODELS), "price": str(price)}
            data = await self.request(op, "POST", "/internal/v1/charges", json=body, headers=self.admin)
            if data is not None and data["created"]:
                account.expected -= micros(price)
                account.pending.append(body["prediction_uuid"])
                account.charged.append(body)
                if len(account.charged) > 200:
                    account.charged.pop(0)
        elif op == "retry":
            body = r.choice(account.charged)
            data = await self.request(op, "POST", "/internal/v1/charges", json=body, headers=self.admin)
            if data is not None and data["created"]:
                self.report.errors.append(f"retry: a duplicate charge was created for {body['prediction_uuid']}")
        elif op in ("complete", "fail"):
            prediction = account.pending.popleft()
            status = "completed" if op == "complete" else r.choice(["failed", "cancelled", "timeout"])
            data = await self.request(op, "POST", f"/internal/v1/predictions/{prediction}/status",
                                      json={"status": status}, headers=self.admin)
            if data is not None and data["refund"] is not None:
                account.expected += micros(data["refund"]["price"])
        elif op == "recharge":
            amount = Decimal(r.randint(1, 2_000)) / 100
            body = {"amount": str(amount), "reference": uuid.uuid4().hex}
            data = await self.request(op, "POST", f"/internal/v1/accounts/{account.id}/recharges",
                                      json=body, headers=self.admin)
            if data is not None:
                account.expected += micros(amount)


def _days(n: int):  # noqa: ANN202
    from datetime import timedelta

    return timedelta(days=n)


async def _setup(http: httpx.AsyncClient, n: int) -> list[Account]:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    accounts = []
    for i in range(n):
        account = (await http.post("/internal/v1/accounts", json={"name": f"soak-{i}", "balance": "1000"},
                                   headers=admin)).json()["data"]
        key = (await http.post(f"/internal/v1/accounts/{account['id']}/keys", json={"name": "soak"},
                               headers=admin)).json()["data"]
        accounts.append(Account(account["id"], {"Authorization": f"Bearer {key['api_key']}"},
                                key["access_key_id"], micros(account["balance"])))
    return accounts


async def drive(base: str, pid: int, seconds: float, rate: float, n_accounts: int = 20, seed: int = 1) -> Report:
    report = Report(seconds=seconds, rate=rate)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        accounts = await _setup(http, n_accounts)
        load = Load(http, accounts, report, seed)
        in_flight: set[asyncio.Task] = set()
        start = time.monotonic()

        async def sample() -> None:
            while True:
                kb = rss_kb(pid)
                if kb is not None:
                    report.rss_kb.append((time.monotonic() - start, kb))
                await asyncio.sleep(max(1.0, seconds / 200))

        sampler = asyncio.create_task(sample())
        total = int(seconds * rate)
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                report.max_lag = max(report.max_lag, -delay)
            task = asyncio.create_task(load.one())
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            report.sent += 1
        await asyncio.gather(*in_flight)
        report.seconds = time.monotonic() - start
        sampler.cancel()
        kb = rss_kb(pid)
        if kb is not None:
            report.rss_kb.append((report.seconds, kb))
        for account in accounts:
            data = (await http.get("/api/v3/balance", headers=account.headers)).json()["data"]
            if micros(data["balance"]) != account.expected:
                report.balance_mismatches.append(
                    {"account": account.id, "server": data["balance"], "expected": account.expected / 1_000_000}
                )
    return report


def run(seconds: float, rate: float, pg_admin_url: str = PG_ADMIN_URL, n_accounts: int = 20) -> Report:
    """Fresh database, live server, load, checks; the database is dropped afterwards."""
    name = f"billbook_soak_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin_execute(f'CREATE DATABASE "{name}"', pg_admin_url))
    db_url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        with tempfile.TemporaryDirectory(prefix="billbook-soak-") as tmp:
            log_dir = Path(tmp)
            server = BillbookServer(db_url, env={"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN, "BILLBOOK_HOLD_SWEEP_INTERVAL": "off"}, log=log_dir / "server-stderr.log").start()
            try:
                report = asyncio.run(drive(server.base_url, server.pid, seconds, rate, n_accounts))
            finally:
                server.stop(timeout=30)
            report.server_errors = server_error_lines(log_dir)
    finally:
        asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', pg_admin_url))
    return report


# --- recording -----------------------------------------------------------------------------------


def conditions() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, one `billbook serve` worker, "
            f"PostgreSQL on the same machine, client on the same machine; load average at the end "
            f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


def markdown(report: Report, command: str) -> str:
    s = report.summary()
    mem = s["memory"]
    lines = [
        f"### {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC: {s['seconds'] / 60:.1f} min at {s['target_rate']:g} req/s"
        f" ({'pass' if report.passed else 'FAIL'})",
        "",
        f"`{command}`; {conditions()}.",
        "",
        f"- requests: {s['requests']} answered, achieved {s['achieved_rate']} req/s; errors: {s['errors']}; "
        f"server error log lines: {s['server_error_lines']}; balance mismatches: {len(report.balance_mismatches)}; "
        f"largest lag of the sender behind its schedule: {s['max_schedule_lag_ms']} ms",
        f"- server RSS: {mem.get('first_mb')} MB at start, {mem.get('after_warmup_mb')} MB after warm-up, "
        f"{mem.get('end_mb')} MB at the end (max {mem.get('max_mb')} MB; growth after warm-up "
        f"{mem.get('growth_mb')} MB, trend {mem.get('slope_mb_per_min')} MB/min; {mem.get('samples')} samples)",
        "",
        "| operation | count | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, o in s["ops"].items():
        lines.append(f"| {op} | {o['count']} | {o['p50_ms']} | {o['p99_ms']} | {o['max_ms']} |")
    return "\n".join(lines) + "\n"


SECTION_INTRO = """## Soak

`bench/soak.py`: mixed reads and writes at a fixed (open-loop) rate against a live `billbook serve`
on a fresh PostgreSQL database: searches 30 %, balances 15 %, usage stats 5 %, charges 25 %,
duplicate charge retries 3 %, completions 11 %, failures (refunds) 5 %, recharges 6 %, over 20
accounts. Passes with zero non-2xx answers, no error in the server's log, every balance equal to
the client's own reckoning, and resident memory flat after the first fifth of the run (last tenth's
median within 10 % or 8 MB of the first tenth's). A 20-second form runs in the test suite
(`pytest -m soak`).
"""


def record(text: str, path: Path = RESULTS) -> None:
    """Add a run at the end of the ``## Soak`` section, creating the file or section if needed."""
    content = path.read_text() if path.exists() else "# Benchmark results\n"
    if "\n## Soak\n" not in "\n" + content:
        path.write_text(content.rstrip("\n") + "\n\n" + SECTION_INTRO + "\n" + text)
        return
    head, _, rest = ("\n" + content).partition("\n## Soak\n")
    following = rest.find("\n## ")
    section, tail = (rest, "") if following < 0 else (rest[: following + 1], rest[following + 1 :])
    new = head + "\n## Soak\n" + section.rstrip("\n") + "\n\n" + text + ("\n" + tail if tail else "")
    path.write_text(new.lstrip("\n"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rate", type=float, default=200, help="requests per second (default 200)")
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--pg", default=PG_ADMIN_URL, help="PostgreSQL server URL (a database is created on it)")
    parser.add_argument("--no-record", action="store_true", help="do not append the run to bench/RESULTS.md")
    args = parser.parse_args()
    seconds = args.seconds if args.seconds is not None else 60 * (args.minutes if args.minutes is not None else 10)
    report = run(seconds, args.rate, args.pg, args.accounts)
    print(json.dumps(report.summary(), indent=2))
    if not args.no_record:
        command = "python bench/soak.py " + " ".join(sys.argv[1:])
        record(markdown(report, command.strip()))
        print(f"recorded in {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
