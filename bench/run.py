"""Measure billbook and the naive baseline side by side on one data set (made by ``generate.py``).

Why one runner for both: the issue's targets are ratios within one run (big account vs small
account, billbook vs baseline, search vs the same server's trivial endpoint), so both servers must
see the same data, the same machine state and the same requests. The servers run one after the
other, never together, each started with uvicorn on 127.0.0.1 with the same worker count:

1. latency: for each case, warm-up requests, then N sequential requests over one keep-alive
   connection, end to end (client send to last byte read); p50/p99 per case;
2. throughput: ``wrk`` at concurrency 32 for a fixed duration against the small-account search and
   against a trivial endpoint of the same server (``GET /docs``: no database, no auth -- billbook's
   ``/healthz`` reads the database, so it is reported separately);
3. ingestion (billbook only): charges/s through ``POST /internal/v1/charges/batch`` (1,000 per
   batch, 4 concurrent clients, charges spread over many accounts) and through single
   ``POST /internal/v1/charges`` from the same 4 clients; then ``billbook verify`` checks every
   invariant of the whole database and the record count must have grown by exactly the charges
   reported created;
4. memory: the server's resident set is sampled from ``/proc/<pid>/status`` throughout, and its
   high-water mark (``VmHWM``) is reported.

Every response is checked, in every mode: status 200 and the envelope's shape, ``total`` equal to
an SQL ``COUNT(*)``, pages non-empty, billbook's page equal to the baseline's (same records, same
order) and billbook's usage statistics equal to the baseline's. ``--quick`` only shortens runs; it
asserts correctness, never speed.

    python bench/run.py --meta bench/out/billbook_bench.meta.json        # full
    python bench/run.py --meta bench/out/quick.db.meta.json --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
ADMIN_TOKEN = "bench-admin-" + secrets.token_hex(8)
TARGETS = {
    "big_vs_small": 3.0,  # every big-account case at most 3x the small account's page 1
    "vs_baseline": 30.0,  # and at least 30x faster than the baseline
    "search_vs_trivial": 0.40,
    "search_vs_baseline": 3.0,
    "batch_pg": 20_000,
    "batch_vs_single": 10.0,
}


# ---------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    method: str
    path: str
    key: str  # which account's key: big or small
    body: dict | None
    big: bool


MS_PER_DAY = 86_400_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def deep_page(meta: dict, big_records: int) -> int:
    """Page 20,000 of 100 at the full size (2,000,000 of the big account's 3,000,000 records: two
    thirds of the way down); the same depth, proportionally, on smaller data sets."""
    if big_records >= 3_000_000:
        return 20_000
    return max(2, int(big_records * (2 / 3) / 100))


def cases(meta: dict, big_records: int) -> list[Case]:
    end = meta["end_ms"]
    # A 30-day window that does not start or end on a day boundary (as a person picks it), two
    # months before the end of the data.
    window_end = end - 60 * MS_PER_DAY - 37_123_456
    window_start = window_end - 30 * MS_PER_DAY
    # The last 31 whole UTC days: what a Prometheus exporter asks for every few minutes.
    last_day = (end + 1) // MS_PER_DAY
    usage_start, usage_end = (last_day - 31) * MS_PER_DAY, last_day * MS_PER_DAY - 1
    search = "/api/v3/billings/search"
    return [
        Case("small_page1", "small account, page 1", "POST", search, "small", {"page": 1, "page_size": 100}, False),
        Case("big_page1", "big account, page 1 with total", "POST", search, "big", {"page": 1, "page_size": 100}, True),
        Case(
            "big_type_30d",
            "big account, type deduct + 30-day window",
            "POST",
            search,
            "big",
            {"billing_type": "deduct", "start_time": str(window_start), "end_time": str(window_end), "page": 1, "page_size": 100},
            True,
        ),
        Case(
            "big_deep",
            f"big account, page {deep_page(meta, big_records):,} of 100",
            "POST",
            search,
            "big",
            {"page": deep_page(meta, big_records), "page_size": 100},
            True,
        ),
        Case(
            "big_uuids",
            "big account, 20 prediction_uuids",
            "POST",
            search,
            "big",
            {"prediction_uuids": meta["prediction_uuids"][:20], "page": 1, "page_size": 100},
            True,
        ),
        Case(
            "big_usage_31d",
            "big account, usage_stats 31 days",
            "POST",
            "/api/v3/user/usage_stats",
            "big",
            {"start_time": _iso(usage_start), "end_time": _iso(usage_end)},
            True,
        ),
    ]


# ---------------------------------------------------------------------------------- database


class Sql:
    """Direct reads for the checks (COUNT(*) of a case, keys for ingestion), outside any server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, query: str, params: dict | None = None) -> list[tuple]:
        from sqlalchemy import text

        from billbook.store.db import Database

        async def go() -> list[tuple]:
            db = Database(self.url)
            try:
                async with db.transaction(write=False) as conn:
                    return [tuple(r) for r in await conn.execute(text(query), params or {})]
            finally:
                await db.dispose()

        return asyncio.run(go())

    def scalar(self, query: str, params: dict | None = None) -> int:
        return int(self.rows(query, params)[0][0])

    def expected_total(self, account_id: int, body: dict) -> int:
        where = ["account_id = :a"]
        params: dict = {"a": account_id}
        if body.get("billing_type"):
            where.append("billing_type = :t")
            params["t"] = body["billing_type"]
        if body.get("start_time"):
            where.append("created_at >= :s")
            params["s"] = int(body["start_time"])
        if body.get("end_time"):
            where.append("created_at <= :e")
            params["e"] = int(body["end_time"])
        if body.get("prediction_uuids"):
            names = []
            for i, u in enumerate(body["prediction_uuids"]):
                params[f"u{i}"] = u
                names.append(f":u{i}")
            where.append(f"prediction_id IN (SELECT id FROM predictions WHERE uuid IN ({', '.join(names)}))")
        return self.scalar(f"SELECT COUNT(*) FROM billing_records WHERE {' AND '.join(where)}", params)


# ---------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        return []
    return found + [g for c in found for g in _children(c)]


def _status_kb(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    """One server under test in a child process, with its memory sampled every 200 ms."""

    def __init__(self, name: str, argv: list[str], env: dict, ready_path: str, log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.log = log.open("wb")
        self.proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT, cwd=BENCH.parent)
        self.samples: list[tuple[float, str, int]] = []  # (time, phase, rss kB of all processes)
        self.phase = "start"
        self._stop = threading.Event()
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"{name} exited at start: {log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not answer within 120 s; see {log}")
            time.sleep(0.2)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def pids(self) -> list[int]:
        return [self.proc.pid] + _children(self.proc.pid)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (uvicorn's workers, or the server itself with one)."""
        children = _children(self.proc.pid)
        return [p for p in children if _status_kb(p, "VmRSS") > 20_000] or [self.proc.pid]

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            rss = sum(_status_kb(p, "VmRSS") for p in self.pids())
            self.samples.append((time.monotonic(), self.phase, rss))

    def memory(self) -> dict:
        hwm = {p: _status_kb(p, "VmHWM") for p in self.pids()}
        by_phase: dict[str, list[int]] = {}
        for _, phase, rss in self.samples:
            by_phase.setdefault(phase, []).append(rss)
        return {
            "peak_rss_mb": round(sum(hwm.values()) / 1024, 1),
            "peak_rss_mb_per_process": {str(p): round(v / 1024, 1) for p, v in hwm.items()},
            "rss_mb_by_phase": {ph: {"first": round(v[0] / 1024, 1), "last": round(v[-1] / 1024, 1), "max": round(max(v) / 1024, 1)} for ph, v in by_phase.items()},
        }

    def stop(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_billbook(db_url: str, workers: int, log: Path) -> Server:
    return Server(
        "billbook",
        [sys.executable, "-m", "billbook", "serve", "--host", "127.0.0.1", "--port", "{port}", "--db", db_url, "--workers", str(workers)],
        {"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN, "BILLBOOK_RATE_LIMIT": "off"},
        "/healthz",
        log,
    )


def start_baseline(db_url: str, workers: int, log: Path) -> Server:
    return Server(
        "baseline",
        [sys.executable, "-m", "uvicorn", "baseline.app:app", "--app-dir", str(BENCH), "--host", "127.0.0.1",
         "--port", "{port}", "--workers", str(workers)],
        {"BASELINE_DATABASE_URL": db_url},
        "/ping",
        log,
    )


# ---------------------------------------------------------------------------------- latency


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def request(client: httpx.Client, case: Case, key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if case.method == "GET":
        return client.get(case.path, headers=headers)
    return client.post(case.path, json=case.body, headers=headers)


def check_shape(case: Case, response: httpx.Response, server: str) -> dict:
    assert response.status_code == 200, f"{server} {case.name}: HTTP {response.status_code}: {response.text[:300]}"
    body = response.json()
    assert body["code"] == 200 and body["message"] == "success", f"{server} {case.name}: envelope {body!r:.300}"
    data = body["data"]
    if case.path.endswith("/search"):
        assert set(data) >= {"page", "total", "has_more", "items"}, f"{server} {case.name}: data keys {sorted(data)}"
        assert data["items"], f"{server} {case.name}: empty page (total {data['total']})"
        item = data["items"][0]
        # billbook's extensions (amount, balance_after) are optional: the baseline, like upstream, omits them.
        assert set(item) - {"amount", "balance_after"} == {
            "uuid", "access_key_id", "access_key_name", "billing_type", "price", "created_at", "updated_at", "order",
            "prediction",
        }, f"{server} {case.name}: item keys {sorted(item)}"
    else:
        assert set(data) == {"per_model_usage", "daily_usage", "summary"}, f"{server} {case.name}: data keys {sorted(data)}"
        assert data["daily_usage"] and data["per_model_usage"], f"{server} {case.name}: empty usage"
    return data


def measure_latency(server: Server, case_list: list[Case], keys: dict, *, n: int, warmup: int, budget_s: float) -> dict:
    results = {}
    with httpx.Client(base_url=server.base, timeout=600) as client:
        for case in case_list:
            server.phase = f"latency {case.name}"
            key = keys[case.key]
            first = None
            warm_started = time.perf_counter()
            for i in range(max(warmup, 1)):
                if i and time.perf_counter() - warm_started > budget_s / 4:
                    break  # a slow case is warm after one request; keep the budget for timing
                response = request(client, case, key)
                first = first or check_shape(case, response, server.name)
            times = []
            started = time.perf_counter()
            while len(times) < n and (len(times) < 3 or time.perf_counter() - started < budget_s):
                t0 = time.perf_counter()
                response = request(client, case, key)
                response.read()
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, f"{server.name} {case.name}: HTTP {response.status_code}"
            results[case.name] = {
                "n": len(times),
                "p50_ms": round(statistics.median(times), 2),
                "p99_ms": round(_percentile(times, 0.99), 2),
                "mean_ms": round(statistics.fmean(times), 2),
                "data": first,
            }
            print(f"  {server.name:8} {case.name:14} p50 {results[case.name]['p50_ms']:9.2f} ms  "
                  f"p99 {results[case.name]['p99_ms']:9.2f} ms  (n={len(times)})", file=sys.stderr, flush=True)
    return results


# ---------------------------------------------------------------------------------- throughput

WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk(url: str, *, method: str = "GET", body: dict | None = None, key: str | None = None, duration: int, connections: int = 32, threads: int = 1) -> dict:
    script = [f"wrk.method = {_lua_string(method)}"]
    if body is not None:
        script.append(f"wrk.body = {_lua_string(json.dumps(body))}")
        script.append('wrk.headers["Content-Type"] = "application/json"')
    if key:
        script.append(f'wrk.headers["Authorization"] = {_lua_string("Bearer " + key)}')
    script.append(WRK_DONE)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("\n".join(script))
        path = f.name
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-s", path, url],
            capture_output=True, text=True, timeout=duration + 120, check=True,
        ).stdout
    finally:
        os.unlink(path)
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    stats = json.loads(line[len("WRKJSON "):])
    errors = stats["connect"] + stats["read"] + stats["write"] + stats["status"] + stats["timeout"]
    return {
        "rps": round(stats["requests"] / (stats["duration_us"] / 1e6), 1),
        "requests": stats["requests"],
        "errors": errors,
        "non_2xx": stats["status"],
        "p50_ms": round(stats["p50_us"] / 1000, 2),
        "p99_ms": round(stats["p99_us"] / 1000, 2),
    }


def measure_throughput(server: Server, small: Case, small_key: str, *, duration: int, profile_to: Path | None = None) -> dict:
    results = {}
    runs = [
        ("search_small", "POST", small.path, small.body, small_key),
        ("search_small_ps10", "POST", small.path, {"page": 1, "page_size": 10}, small_key),
        ("trivial", "GET", "/docs", None, None),
    ]
    if server.name == "billbook":
        runs.append(("healthz", "GET", "/healthz", None, None))
    for name, method, path, body, key in runs:
        server.phase = f"wrk {name}"
        # Unmeasured first: the pool opens its connections and the server's caches fill.
        wrk(server.base + path, method=method, body=body, key=key, duration=max(1, duration // 5))
        spy = None
        if profile_to is not None and name.startswith("search_small") and shutil.which("py-spy"):
            spy = subprocess.Popen(["py-spy", "record", "-p", str(server.worker_pids()[0]), "-d", str(max(2, duration - 3)), "-r", "200",
                                    "--format", "raw", "-o", str(profile_to.with_name(profile_to.name + f"-{name}.txt"))],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results[name] = wrk(server.base + path, method=method, body=body, key=key, duration=duration)
        if spy is not None:
            spy.wait(timeout=120)
        print(f"  {server.name:8} wrk {name:18} {results[name]['rps']:9.1f} req/s  errors {results[name]['errors']}",
              file=sys.stderr, flush=True)
        assert results[name]["errors"] == 0 and results[name]["requests"] > 0, f"{server.name} wrk {name}: {results[name]}"
    return results


# ---------------------------------------------------------------------------------- ingestion

PRICES = (0.001, 0.002, 0.005)


def _charges(keys: list[str], n: int, offset: int) -> list[dict]:
    return [
        {
            "prediction_uuid": uuid.uuid4().hex,
            "access_key_id": keys[(offset + i) % len(keys)],
            "model_uuid": "wavespeed-ai/flux-dev",
            "model_type": "text-to-image",
            "price": PRICES[i % len(PRICES)],
        }
        for i in range(n)
    ]


async def _batch_clients(base: str, payloads: list[list[bytes]]) -> tuple[float, Counter]:
    statuses: Counter = Counter()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}

    async def client(batches: list[bytes]) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=600) as http:
            for body in batches:
                response = await http.post("/internal/v1/charges/batch", content=body, headers=headers)
                assert response.status_code == 200, f"batch: HTTP {response.status_code}: {response.text[:300]}"
                data = response.json()["data"]
                for s in ("created", "duplicate", "insufficient", "invalid"):
                    statuses[s] += data[s]

    t0 = time.perf_counter()
    await asyncio.gather(*(client(b) for b in payloads))
    return time.perf_counter() - t0, statuses


async def _single_clients(base: str, keys: list[str], clients: int, duration: float) -> tuple[float, Counter]:
    statuses: Counter = Counter()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    deadline = time.perf_counter() + duration

    async def client(index: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=600) as http:
            i = 0
            while time.perf_counter() < deadline:
                charge = _charges(keys, 1, index * 7919 + i)[0]
                response = await http.post("/internal/v1/charges", content=json.dumps(charge).encode(), headers=headers)
                statuses[response.status_code] += 1
                i += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return time.perf_counter() - t0, statuses


def measure_ingestion(server: Server, sql: Sql, meta: dict, *, batches_per_client: int, single_seconds: float, clients: int = 4, batch_size: int = 1000, profile_to: Path | None = None) -> dict:
    measured = {meta["big"]["id"], meta["small"]["id"], *(m["id"] for m in meta["medium"])}
    rows = sql.rows(
        "SELECT k.access_key_id, a.id FROM access_keys k JOIN accounts a ON a.id = k.account_id "
        "WHERE k.revoked_at IS NULL AND a.balance >= 2000000 ORDER BY a.id, k.id"
    )
    keys = []
    seen = set()
    for access_key_id, account_id in rows:  # one key per account, the measured accounts left alone
        if account_id not in measured and account_id not in seen:
            seen.add(account_id)
            keys.append(access_key_id)
    keys = keys[:2000]
    assert len(keys) >= 10, f"too few funded accounts for ingestion: {len(keys)}"
    before = sql.scalar("SELECT COUNT(*) FROM billing_records")
    payloads = [
        [json.dumps({"charges": _charges(keys, batch_size, (c * batches_per_client + b) * batch_size)}).encode() for b in range(batches_per_client)]
        for c in range(clients)
    ]
    sent = clients * batches_per_client * batch_size
    server.phase = "ingest batch"
    spy = None
    if profile_to is not None and shutil.which("py-spy"):  # the batch phase only, stopped with SIGINT
        spy = subprocess.Popen(["py-spy", "record", "-p", str(server.worker_pids()[0]), "-r", "200", "--format", "raw", "-o", str(profile_to)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    batch_s, batch_status = asyncio.run(_batch_clients(server.base, payloads))
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    assert batch_status["created"] == sent, f"batch: {dict(batch_status)} of {sent} sent"
    print(f"  billbook batch: {sent:,} charges in {batch_s:.2f} s = {sent / batch_s:,.0f}/s over {len(keys)} accounts",
          file=sys.stderr, flush=True)
    server.phase = "ingest single"
    single_s, single_status = asyncio.run(_single_clients(server.base, keys, clients, single_seconds))
    assert set(single_status) == {200}, f"single charges: {dict(single_status)}"
    singles = single_status[200]
    print(f"  billbook single: {singles:,} charges in {single_s:.2f} s = {singles / single_s:,.0f}/s", file=sys.stderr, flush=True)
    server.phase = "verify"
    after = sql.scalar("SELECT COUNT(*) FROM billing_records")
    assert after - before == sent + singles, f"records grew by {after - before}, charges created {sent + singles}"
    return {
        "accounts": len(keys),
        "clients": clients,
        "batch": {"charges": sent, "seconds": round(batch_s, 2), "per_s": round(sent / batch_s, 1), "batch_size": batch_size},
        "single": {"charges": singles, "seconds": round(single_s, 2), "per_s": round(singles / single_s, 1)},
        "records_added": after - before,
    }


def verify(db_url: str) -> dict:
    """``billbook verify`` over the whole database: every invariant, after the writes."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "billbook", "verify", "--db", db_url, "--json"], capture_output=True, text=True)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"ok": False, "error": done.stderr[-2000:]}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


# ---------------------------------------------------------------------------------- profile


def profile(server: Server, seconds: int, out: Path) -> Path | None:
    """Start ``py-spy record`` on the server's workers for ``seconds``; returns the output path."""
    if not shutil.which("py-spy"):
        return None
    pid = server.worker_pids()[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["py-spy", "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "--format", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server._profilers = getattr(server, "_profilers", []) + [proc]  # type: ignore[attr-defined]
    time.sleep(1.0)
    return out


def summarise_profile(path: Path, top: int = 15) -> dict:
    """Where the samples went, from py-spy's collapsed stacks: ``self`` is the innermost frame of
    each sample (what was running), ``billbook`` the inclusive share of billbook's own functions
    (which of its steps the time belongs to). Shares are percent of all samples."""
    own: Counter = Counter()
    inclusive: Counter = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [re.sub(r" \(.*?/(site-packages|src|lib/python3[.0-9]*)/", " (", f).rsplit(":", 1)[0] for f in stack.split(";")]
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            if "(billbook/" in frame and "(billbook/cli/" not in frame and "(billbook/__main__" not in frame:
                inclusive[frame] += n
    if not samples:
        return {"samples": 0, "self": [], "billbook": []}

    def share(counter: Counter) -> list[tuple[str, float]]:
        return [(f, round(100 * n / samples, 1)) for f, n in counter.most_common(top)]

    return {"samples": samples, "self": share(own), "billbook": share(inclusive)}


# ---------------------------------------------------------------------------------- report


def conditions(meta: dict, args: argparse.Namespace) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    versions = {"python": platform.python_version()}
    for module in ("billbook", "fastapi", "uvicorn", "sqlalchemy", "asyncpg", "aiosqlite", "pydantic", "httpx"):
        try:
            versions[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            pass
    if meta["dialect"] == "sqlite":
        import sqlite3

        versions["sqlite"] = sqlite3.sqlite_version
    else:
        try:
            versions["postgresql"] = Sql(meta["db"]).rows("SHOW server_version")[0][0]
        except Exception:  # noqa: BLE001
            pass
    try:
        versions["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        pass
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=BENCH.parent).stdout.strip()
    except OSError:
        commit = "?"
    return {
        "commit": commit,
        "nproc": os.cpu_count(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "load_avg_at_start": os.getloadavg(),
        "kernel": platform.release(),
        "versions": versions,
        "workers": args.workers,
        "wrk": {"connections": 32, "threads": 1, "duration_s": args.duration},
        "latency": {"n": args.n, "warmup": args.warmup, "budget_s": args.budget},
        "data": {k: meta[k] for k in ("records", "predictions", "by_type") if k in meta}
        | {"accounts": meta["requested"]["accounts"], "big_account_records": meta.get("big_records")},
    }


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


def evaluate(result: dict) -> list[dict]:
    """Each target of the issue: the measured value, the target, met or missed and by how much."""
    verdicts = []
    lat_b, lat_n = result["latency"]["billbook"], result["latency"].get("baseline", {})
    small = lat_b["small_page1"]["p50_ms"]
    for name, case in lat_b.items():
        if name == "small_page1":
            continue
        ratio = _ratio(case["p50_ms"], small)
        verdicts.append({"target": f"{name}: <= {TARGETS['big_vs_small']}x small page 1", "value": ratio, "met": ratio <= TARGETS["big_vs_small"]})
        if name in lat_n:
            speedup = _ratio(lat_n[name]["p50_ms"], case["p50_ms"])
            verdicts.append({"target": f"{name}: >= {TARGETS['vs_baseline']}x faster than baseline", "value": speedup, "met": speedup >= TARGETS["vs_baseline"]})
    tp = result.get("throughput", {})
    if "billbook" in tp:
        ratio = _ratio(tp["billbook"]["search_small"]["rps"], tp["billbook"]["trivial"]["rps"])
        verdicts.append({"target": f"small search rps >= {TARGETS['search_vs_trivial']:.0%} of trivial", "value": ratio, "met": ratio >= TARGETS["search_vs_trivial"]})
        if "baseline" in tp:
            ratio = _ratio(tp["billbook"]["search_small"]["rps"], tp["baseline"]["search_small"]["rps"])
            verdicts.append({"target": f"small search rps >= {TARGETS['search_vs_baseline']}x baseline", "value": ratio, "met": ratio >= TARGETS["search_vs_baseline"]})
    ing = result.get("ingestion")
    if ing:
        if result["dialect"] == "postgresql":
            verdicts.append({"target": f"batch >= {TARGETS['batch_pg']:,} charges/s (PostgreSQL)", "value": ing["batch"]["per_s"], "met": ing["batch"]["per_s"] >= TARGETS["batch_pg"]})
        ratio = _ratio(ing["batch"]["per_s"], ing["single"]["per_s"])
        verdicts.append({"target": f"batch >= {TARGETS['batch_vs_single']}x single charges", "value": ratio, "met": ratio >= TARGETS["batch_vs_single"]})
        if not result["verify"].get("skipped"):
            verdicts.append({"target": "every invariant holds after ingestion (billbook verify)", "value": result["verify"].get("ok"), "met": bool(result["verify"].get("ok"))})
    return verdicts


def markdown(result: dict) -> str:
    c = result["conditions"]
    d = c["data"]
    lines = [
        f"### {result['dialect']}: {d['records']:,} records, {d['accounts']:,} accounts ({result['started']})",
        "",
        f"billbook at {c.get('commit', '?')}. Machine: {c['nproc']} cores ({c['cpu']}), {c['ram_gib']} GiB RAM, load average at start "
        f"{', '.join(f'{x:.2f}' for x in c['load_avg_at_start'])}; {c['workers']} uvicorn worker(s) per server; "
        + ", ".join(f"{k} {v}" for k, v in c["versions"].items()) + ".",
        "",
        "Latency, end to end, sequential requests on one keep-alive connection (ms):",
        "",
        "| case | billbook p50 | billbook p99 | baseline p50 | baseline p99 | billbook vs small p1 | baseline / billbook |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lat_b, lat_n = result["latency"]["billbook"], result["latency"].get("baseline", {})
    small = lat_b["small_page1"]["p50_ms"]
    for name, b in lat_b.items():
        n = lat_n.get(name)
        theirs = f"{n['p50_ms']:.2f} | {n['p99_ms']:.2f}" if n else "- | -"
        speedup = f"{_ratio(n['p50_ms'], b['p50_ms'])}x" if n else "-"
        lines.append(f"| {result['titles'][name]} | {b['p50_ms']:.2f} | {b['p99_ms']:.2f} | {theirs} | "
                     f"{_ratio(b['p50_ms'], small)}x | {speedup} |")
    lines.append(f"\n(n per case: billbook {', '.join(str(v['n']) for v in lat_b.values())}; "
                 f"baseline {', '.join(str(v['n']) for v in lat_n.values()) or '-'})\n")
    tp = result.get("throughput", {})
    if tp:
        lines += [
            f"Throughput, wrk, 32 connections, {c['wrk']['duration_s']} s each (requests/s; p50/p99 ms under load):",
            "",
            "| endpoint | billbook | baseline |",
            "|---|---:|---:|",
        ]
        labels = {"search_small": "small-account search (page_size 100)", "search_small_ps10": "small-account search (page_size 10)",
                  "trivial": "trivial: GET /docs (no database)", "healthz": "GET /healthz (reads the database)"}
        for name, label in labels.items():
            cells = []
            for server in ("billbook", "baseline"):
                r = tp.get(server, {}).get(name)
                cells.append(f"{r['rps']:,.0f} ({r['p50_ms']}/{r['p99_ms']})" if r else "-")
            lines.append(f"| {label} | {' | '.join(cells)} |")
        lines.append("")
    ing = result.get("ingestion")
    if ing:
        lines += [
            f"Ingestion (billbook), {ing['clients']} concurrent clients, charges spread over {ing['accounts']:,} accounts:",
            "",
            "| route | charges | seconds | charges/s |",
            "|---|---:|---:|---:|",
            f"| POST /internal/v1/charges/batch ({ing['batch']['batch_size']:,} per batch) | {ing['batch']['charges']:,} | {ing['batch']['seconds']} | {ing['batch']['per_s']:,.0f} |",
            f"| POST /internal/v1/charges | {ing['single']['charges']:,} | {ing['single']['seconds']} | {ing['single']['per_s']:,.0f} |",
            "",
            f"`billbook verify` after ingestion: {'skipped' if result['verify'].get('skipped') else 'ok' if result['verify'].get('ok') else 'FAILED'} "
            f"({result['verify'].get('seconds')} s; {json.dumps(result['verify'].get('checked', {}))}).",
            "",
        ]
    mem = result.get("memory", {})
    if mem:
        lines.append("Server memory (all processes of the server, from /proc/<pid>/status):")
        lines.append("")
        lines.append("| server | peak RSS (VmHWM) | RSS after warm-up | RSS at end |")
        lines.append("|---|---:|---:|---:|")
        for server, m in mem.items():
            phases = list(m["rss_mb_by_phase"].values())
            lines.append(f"| {server} | {m['peak_rss_mb']} MB | {phases[0]['last'] if phases else '-'} MB | {phases[-1]['last'] if phases else '-'} MB |")
        lines.append("")
    for name, prof in result.get("profiles", {}).items():
        if not prof.get("samples"):
            continue
        lines.append(f"Profile of billbook, {result['titles'].get(name, name)} (py-spy, {prof['samples']} samples; % of samples):")
        lines.append("")
        lines.append("| innermost frame (self) | % | billbook function (inclusive) | % |")
        lines.append("|---|---:|---|---:|")
        for (own, own_pct), (inc, inc_pct) in zip(prof["self"][:10], prof["billbook"][:10]):
            lines.append(f"| `{own}` | {own_pct} | `{inc}` | {inc_pct} |")
        lines.append("")
    lines += ["Targets:", "", "| target | measured | verdict |", "|---|---:|---|"]
    for v in result["verdicts"]:
        lines.append(f"| {v['target']} | {v['value']} | {'met' if v['met'] else '**missed**'} |")
    return "\n".join(lines) + "\n"


def compare(result: dict, sql: Sql, meta: dict, case_list: list[Case]) -> None:
    """The correctness checks: totals equal COUNT(*); billbook and baseline agree."""
    accounts = {"big": meta["big"]["id"], "small": meta["small"]["id"]}
    for case in case_list:
        b = result["latency"]["billbook"][case.name]["data"]
        if case.path.endswith("/search"):
            expected = sql.expected_total(accounts[case.key], case.body or {})
            assert b["total"] == expected, f"billbook {case.name}: total {b['total']}, COUNT(*) {expected}"
            assert len(b["items"]) == min(100, expected - (case.body.get("page", 1) - 1) * 100), f"billbook {case.name}: {len(b['items'])} items"
        n = result["latency"].get("baseline", {}).get(case.name, {}).get("data")
        if n is not None:
            if case.path.endswith("/search"):
                assert n["total"] == b["total"], f"{case.name}: baseline total {n['total']}, billbook {b['total']}"
                assert [i["uuid"] for i in n["items"]] == [i["uuid"] for i in b["items"]], f"{case.name}: pages differ"
                upstream = [{k: v for k, v in i.items() if k not in ("amount", "balance_after")} for i in b["items"]]
                assert n["items"] == upstream, f"{case.name}: items render differently:\n{n['items'][0]}\n{upstream[0]}"
            else:
                assert n == b, f"{case.name}: usage_stats differ:\nbaseline {json.dumps(n)[:600]}\nbillbook {json.dumps(b)[:600]}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meta", type=Path, help="the data set's description written by generate.py")
    parser.add_argument("--db", help="instead of --meta: the database URL (its description is found where generate.py puts it)")
    parser.add_argument("--quick", action="store_true", help="short runs: for CI, asserts correctness, never speed")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server (the same for both)")
    parser.add_argument("--n", type=int, default=None, help="timed requests per latency case (default 200; quick 10)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up requests per case (default 5; quick 1)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per latency case before stopping early (at least 3 requests)")
    parser.add_argument("--duration", type=int, default=None, help="seconds per wrk run (default 15; quick 2)")
    parser.add_argument("--batches", type=int, default=None, help="batches of 1,000 per ingestion client (default 25; quick 2)")
    parser.add_argument("--single-seconds", type=float, default=None, help="seconds of single charges (default 15; quick 2)")
    parser.add_argument("--skip", action="append", default=[], choices=["baseline", "throughput", "ingestion", "verify"])
    parser.add_argument("--profile", action="store_true", help="py-spy record billbook during each latency case and the batch ingestion")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    quick = args.quick
    args.n = args.n or (10 if quick else 200)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 5)
    args.budget = args.budget or (10.0 if quick else 60.0)
    args.duration = args.duration or (2 if quick else 15)
    args.batches = args.batches or (2 if quick else 25)
    args.single_seconds = args.single_seconds or (2.0 if quick else 15.0)
    if "throughput" not in args.skip and not shutil.which("wrk"):
        if os.environ.get("CI", "").lower() == "true":
            raise SystemExit("wrk is not installed (apt-get install -y wrk); CI must measure throughput")
        print("wrk is not installed (apt-get install -y wrk): skipping throughput", file=sys.stderr)
        args.skip.append("throughput")
    if args.meta is None:
        if not args.db:
            parser.error("give --meta or --db")
        sys.path.insert(0, str(BENCH))
        from generate import default_meta_path

        args.meta = default_meta_path(args.db)
    meta = json.loads(args.meta.read_text())
    db_url = meta["db"]
    sql = Sql(db_url)
    meta["big_records"] = sql.scalar("SELECT COUNT(*) FROM billing_records WHERE account_id = :a", {"a": meta["big"]["id"]})
    case_list = cases(meta, meta["big_records"])
    keys = {"big": meta["big"]["api_key"], "small": meta["small"]["api_key"]}
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tag = f"{meta['dialect']}-{'quick' if quick else meta['records']}-{stamp}"
    result: dict = {
        "dialect": meta["dialect"],
        "quick": quick,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "conditions": conditions(meta, args),
        "titles": {c.name: c.title for c in case_list},
        "cases": {c.name: c.body for c in case_list},
        "latency": {},
        "throughput": {},
        "memory": {},
        "load": meta.get("load"),
    }
    small_case = case_list[0]
    servers = ([] if "baseline" in args.skip else ["baseline"]) + ["billbook"]
    for name in servers:
        print(f"{name}: starting on {meta['dialect']}", file=sys.stderr, flush=True)
        start = start_baseline if name == "baseline" else start_billbook
        server = start(db_url, args.workers, args.out / f"{tag}-{name}.log")
        try:
            if args.profile and name == "billbook":
                result["profiles"] = {}
                lat = {}
                for case in case_list:
                    path = profile(server, max(5, int(args.budget / 2)), args.out / f"{tag}-profile-{case.name}.txt")
                    lat |= measure_latency(server, [case], keys, n=10**6, warmup=args.warmup, budget_s=max(4, args.budget / 2 - 1))
                    for p in getattr(server, "_profilers", []):
                        p.wait(timeout=120)
                    server._profilers = []  # type: ignore[attr-defined]
                    if path and path.exists():
                        result["profiles"][case.name] = summarise_profile(path)
                result["latency"][name] = lat
            else:
                result["latency"][name] = measure_latency(server, case_list, keys, n=args.n, warmup=args.warmup, budget_s=args.budget)
            if "throughput" not in args.skip:
                spy_to = args.out / f"{tag}-profile-wrk" if args.profile and name == "billbook" else None
                result["throughput"][name] = measure_throughput(server, small_case, keys["small"], duration=args.duration, profile_to=spy_to)
                for variant in ("search_small", "search_small_ps10"):
                    path = args.out / f"{tag}-profile-wrk-{variant}.txt"
                    if spy_to is not None and path.exists():
                        result["profiles"][f"wrk_{variant}"] = summarise_profile(path)
                        result["titles"][f"wrk_{variant}"] = f"wrk {variant} (32 connections)"
            if name == "billbook" and "ingestion" not in args.skip:
                path = args.out / f"{tag}-profile-ingest.txt" if args.profile else None
                result["ingestion"] = measure_ingestion(server, sql, meta, batches_per_client=args.batches,
                                                        single_seconds=args.single_seconds, profile_to=path)
                if path is not None:
                    if path.exists():
                        result["profiles"]["ingest"] = summarise_profile(path)
                        result["titles"]["ingest"] = "batch ingestion"
            server.phase = "idle"
            result["memory"][name] = server.memory()
        finally:
            server.stop()
    if "ingestion" in result:
        result["verify"] = verify(db_url) if "verify" not in args.skip else {"ok": None, "skipped": True}
        if "verify" not in args.skip:
            assert result["verify"].get("ok"), f"billbook verify failed after ingestion: {json.dumps(result['verify'])[:2000]}"
    compare(result, sql, meta, case_list)
    result["verdicts"] = evaluate(result)
    report = markdown(result)
    for server in result["latency"].values():
        for case in server.values():
            case.pop("data", None)
    (args.out / f"{tag}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{tag}.md").write_text(report)
    print(report)
    print(f"written: {args.out / (tag + '.json')} and .md", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
