"""Measure billbook and two baselines side by side on one data set (made by ``generate.py``).

Why one runner for all three: the targets are ratios within one run (big account vs small
account, billbook vs each baseline, search vs the same server's trivial endpoint), so every server
must see the same data, the same machine state and the same requests. The servers run one after
the other, never together (the naive baseline, the plain one, then billbook), each started through
``launcher.py`` on 127.0.0.1 with the same worker count:

1. latency: for each case, warm-up requests, then N sequential requests over one keep-alive
   connection, end to end (client send to last byte read); p50/p99 per case (the plain baseline
   serves search and balance only, so it skips usage statistics);
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
an SQL ``COUNT(*)``, pages non-empty, billbook's page equal to each baseline's (same records, same
order, same fields where the baseline renders them) and billbook's usage statistics equal to the
naive baseline's. ``--quick`` only shortens runs; it asserts correctness, never speed.

``--fresh`` runs the fresh-database cases instead (see that section below): no generated data set,
a new database per dialect filled through the API.

    python bench/run.py --meta bench/out/billbook_bench.meta.json        # full
    python bench/run.py --meta bench/out/quick.db.meta.json --quick
    python bench/run.py --fresh sqlite,postgresql                        # fresh databases
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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from launcher import BillbookServer, ServerProcess, descendants, open_database
from scratch import admin_execute

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
ADMIN_TOKEN = "bench-admin-" + secrets.token_hex(8)
TARGETS = {
    "big_vs_small": 3.0,  # every big-account case at most 3x the small account's page 1
    "vs_baseline": 30.0,  # and at least 30x faster than the baseline
    "search_vs_trivial": 0.40,
    "search_vs_baseline": 3.0,
    "search_vs_plain": 1.5,  # small-account search at 32 connections, against the plain baseline
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
        *operator_cases(window_start, window_end, meta["big"]["id"], max(2, min(1_000, int(meta["records"] / 300)))),
    ]


#: The operator's search (``/internal/v1/billings/search``, the admin token) runs on the public
#: search's engine; its cases are billbook's alone (the baselines have no operator API). ``key``
#: names whose records are expected: ``all`` for every account.
OPERATOR_SEARCH = "/internal/v1/billings/search"


def operator_cases(window_start: int, window_end: int, big_id: int, deep: int) -> list[Case]:
    window = {"start_time": str(window_start), "end_time": str(window_end)}
    return [
        Case("op_all_page1", "operator, every account, page 1 with total", "POST", OPERATOR_SEARCH, "all",
             {"page": 1, "page_size": 100}, True),
        Case("op_all_type_30d", "operator, every account, type deduct + 30-day window", "POST", OPERATOR_SEARCH, "all",
             {"billing_type": "deduct", **window, "page": 1, "page_size": 100}, True),
        Case("op_all_deep", f"operator, every account, page {deep:,} of 100", "POST", OPERATOR_SEARCH, "all",
             {"page": deep, "page_size": 100}, True),
        Case("op_big_page1", "operator, the big account, page 1 with total", "POST", OPERATOR_SEARCH, "big",
             {"account_id": big_id, "page": 1, "page_size": 100}, True),
    ]


def case_key(case: Case, keys: dict) -> str:
    """The credential a case is sent with: the account's API key, or the admin token."""
    return ADMIN_TOKEN if case.path.startswith("/internal/") else keys[case.key]


# ---------------------------------------------------------------------------------- database


class Sql:
    """Direct reads for the checks (COUNT(*) of a case, keys for ingestion), outside any server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, query: str, params: dict | None = None) -> list[tuple]:
        from sqlalchemy import text


        async def go() -> list[tuple]:
            db = open_database(self.url)
            try:
                async with db.transaction(write=False) as conn:
                    return [tuple(r) for r in await conn.execute(text(query), params or {})]
            finally:
                await db.dispose()

        return asyncio.run(go())

    def execute(self, statement: str) -> None:
        """A statement that returns no rows (``ANALYZE``), in a transaction of its own."""
        from sqlalchemy import text


        async def go() -> None:
            db = open_database(self.url)
            try:
                async with db.transaction(write=True) as conn:
                    await conn.execute(text(statement))
            finally:
                await db.dispose()

        asyncio.run(go())

    def scalar(self, query: str, params: dict | None = None) -> int:
        return int(self.rows(query, params)[0][0])

    def expected_total(self, account_id: int | None, body: dict) -> int:
        where = ["account_id = :a"] if account_id is not None else ["1 = 1"]
        params: dict = {"a": account_id} if account_id is not None else {}
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
        if body.get("model_uuid"):
            where.append("model_uuid = :m")
            params["m"] = body["model_uuid"]
        return self.scalar(f"SELECT COUNT(*) FROM billing_records WHERE {' AND '.join(where)}", params)


# ---------------------------------------------------------------------------------- servers


def _status_kb(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampled:
    """A launched server's resident memory, sampled every 200 ms while it runs, by phase."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.name = server.name
        self.base = server.base_url
        self.samples: list[tuple[float, str, int]] = []  # (time, phase, rss kB of all processes)
        self.phase = "start"
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def pids(self) -> list[int]:
        return self.server.pids()

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (uvicorn's workers, or the server itself with one)."""
        children = descendants(self.server.pid)
        return [p for p in children if _status_kb(p, "VmRSS") > 20_000] or [self.server.pid]

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
        self.server.stop()


#: The servers a run compares, in the order they run: the two baselines, then billbook.
SERVERS = ("naive", "plain", "billbook")


def launch(name: str, db_url: str, workers: int, log: Path) -> Sampled:
    """Start one server under test (access log on, as each runs by default) and sample its memory."""
    if name == "billbook":
        # The loaded history is back-dated and leaves predictions pending: the hold sweeper would
        # refund them during the measurements (the baselines have none), so it is off here.
        env = {"BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN, "BILLBOOK_RATE_LIMIT": "off", "BILLBOOK_HOLD_SWEEP_INTERVAL": "off"}
        server: ServerProcess = BillbookServer(db_url, workers=workers, env=env, log=log, access_log=True, start_timeout=120)
    else:
        module = {"naive": "baseline.app:app", "plain": "baseline.plain:app"}[name]
        argv = [sys.executable, "-m", "uvicorn", module, "--app-dir", str(BENCH), "--host", "127.0.0.1",
                "--port", "{port}", "--workers", str(workers)]
        server = ServerProcess(argv, env={"BASELINE_DATABASE_URL": db_url}, ready_path="/ping", name=name, log=log,
                               access_log=True, start_timeout=120)
    return Sampled(server.start())


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


ITEM_KEYS = {"uuid", "access_key_id", "access_key_name", "billing_type", "price", "created_at", "updated_at", "order", "prediction"}
#: Fields billbook adds to each record (the baselines do not render them; they are compared where both do).
ITEM_KEYS_LATER = {"amount", "balance_after"}
#: The operator's search also says whose record each item is.
ITEM_KEYS_OPERATOR = {"account_id"}


def _rendered_alike(theirs: object, ours: object) -> bool:
    """``theirs`` equals ``ours`` on every field ``theirs`` has, nested objects included (billbook's
    extensions, such as ``amount`` or an order's ``price_version``, are not compared)."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return all(k in ours and _rendered_alike(v, ours[k]) for k, v in theirs.items())
    return theirs == ours


def same_items(theirs: list[dict], ours: list[dict]) -> bool:
    """The baseline's items equal billbook's on every field the baseline renders."""
    return len(theirs) == len(ours) and all(_rendered_alike(t, o) for t, o in zip(theirs, ours))


def check_shape(case: Case, response: httpx.Response, server: str) -> dict:
    assert response.status_code == 200, f"{server} {case.name}: HTTP {response.status_code}: {response.text[:300]}"
    body = response.json()
    assert body["code"] == 200 and body["message"] == "success", f"{server} {case.name}: envelope {body!r:.300}"
    data = body["data"]
    if case.path.endswith("/search"):
        assert set(data) >= {"page", "total", "has_more", "items"}, f"{server} {case.name}: data keys {sorted(data)}"
        assert data["items"], f"{server} {case.name}: empty page (total {data['total']})"
        item = data["items"][0]
        extra = ITEM_KEYS_LATER | (ITEM_KEYS_OPERATOR if case.path == OPERATOR_SEARCH else set())
        assert ITEM_KEYS <= set(item) <= ITEM_KEYS | extra, f"{server} {case.name}: item keys {sorted(item)}"
    else:
        assert set(data) == {"per_model_usage", "daily_usage", "summary"}, f"{server} {case.name}: data keys {sorted(data)}"
        assert data["daily_usage"] and data["per_model_usage"], f"{server} {case.name}: empty usage"
    return data


def measure_latency(server: Sampled, case_list: list[Case], keys: dict, *, n: int, warmup: int, budget_s: float) -> dict:
    results = {}
    with httpx.Client(base_url=server.base, timeout=600) as client:
        for case in case_list:
            server.phase = f"latency {case.name}"
            key = case_key(case, keys)
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


def measure_throughput(server: Sampled, small: Case, small_key: str, *, duration: int, profile_to: Path | None = None) -> dict:
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


def measure_ingestion(server: Sampled, sql: Sql, meta: dict, *, batches_per_client: int, single_seconds: float, clients: int = 4, batch_size: int = 1000, profile_to: Path | None = None) -> dict:
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


def profile(server: Sampled, seconds: int, out: Path) -> Path | None:
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
    lat_b, lat_n = result["latency"]["billbook"], result["latency"].get("naive", {})
    small = lat_b["small_page1"]["p50_ms"]
    for name, case in lat_b.items():
        if name == "small_page1":
            continue
        ratio = _ratio(case["p50_ms"], small)
        verdicts.append({"target": f"{name}: <= {TARGETS['big_vs_small']}x small page 1", "value": ratio, "met": ratio <= TARGETS["big_vs_small"]})
        if name in lat_n:
            speedup = _ratio(lat_n[name]["p50_ms"], case["p50_ms"])
            verdicts.append({"target": f"{name}: >= {TARGETS['vs_baseline']}x faster than the naive baseline", "value": speedup, "met": speedup >= TARGETS["vs_baseline"]})
    tp = result.get("throughput", {})
    if "billbook" in tp:
        ratio = _ratio(tp["billbook"]["search_small"]["rps"], tp["billbook"]["trivial"]["rps"])
        verdicts.append({"target": f"small search rps >= {TARGETS['search_vs_trivial']:.0%} of trivial", "value": ratio, "met": ratio >= TARGETS["search_vs_trivial"]})
        if "naive" in tp:
            ratio = _ratio(tp["billbook"]["search_small"]["rps"], tp["naive"]["search_small"]["rps"])
            verdicts.append({"target": f"small search rps >= {TARGETS['search_vs_baseline']}x naive baseline", "value": ratio, "met": ratio >= TARGETS["search_vs_baseline"]})
        if "plain" in tp:
            ratio = _ratio(tp["billbook"]["search_small_ps10"]["rps"], tp["plain"]["search_small_ps10"]["rps"])
            verdicts.append({"target": f"small search (page_size 10) rps >= {TARGETS['search_vs_plain']}x plain baseline", "value": ratio, "met": ratio >= TARGETS["search_vs_plain"]})
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
        "| case | billbook p50 | billbook p99 | plain p50 | plain p99 | naive p50 | naive p99 | billbook vs small p1 | naive / billbook |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lat_b, lat_p, lat_n = (result["latency"].get(s, {}) for s in ("billbook", "plain", "naive"))
    small = lat_b["small_page1"]["p50_ms"]
    for name, b in lat_b.items():
        n, p = lat_n.get(name), lat_p.get(name)
        plain = f"{p['p50_ms']:.2f} | {p['p99_ms']:.2f}" if p else "- | -"
        theirs = f"{n['p50_ms']:.2f} | {n['p99_ms']:.2f}" if n else "- | -"
        speedup = f"{_ratio(n['p50_ms'], b['p50_ms'])}x" if n else "-"
        lines.append(f"| {result['titles'][name]} | {b['p50_ms']:.2f} | {b['p99_ms']:.2f} | {plain} | {theirs} | "
                     f"{_ratio(b['p50_ms'], small)}x | {speedup} |")
    lines.append(f"\n(n per case: billbook {', '.join(str(v['n']) for v in lat_b.values())}; "
                 f"plain {', '.join(str(v['n']) for v in lat_p.values()) or '-'}; "
                 f"naive {', '.join(str(v['n']) for v in lat_n.values()) or '-'})\n")
    tp = result.get("throughput", {})
    if tp:
        lines += [
            f"Throughput, wrk, 32 connections, {c['wrk']['duration_s']} s each (requests/s; p50/p99 ms under load):",
            "",
            "| endpoint | billbook | plain | naive |",
            "|---|---:|---:|---:|",
        ]
        labels = {"search_small": "small-account search (page_size 100)", "search_small_ps10": "small-account search (page_size 10)",
                  "trivial": "trivial: GET /docs (no database)", "healthz": "GET /healthz (reads the database)"}
        for name, label in labels.items():
            cells = []
            for server in ("billbook", "plain", "naive"):
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
    """The correctness checks: totals equal COUNT(*); billbook and each baseline agree."""
    accounts = {"big": meta["big"]["id"], "small": meta["small"]["id"]}
    for case in case_list:
        b = result["latency"]["billbook"][case.name]["data"]
        if case.path.endswith("/search"):
            expected = result["latency"]["billbook"][case.name].get("expected_total")
            if expected is None:
                expected = sql.expected_total(accounts[case.key], {k: v for k, v in (case.body or {}).items() if k != "account_id"})
            assert b["total"] == expected, f"billbook {case.name}: total {b['total']}, COUNT(*) {expected}"
            assert len(b["items"]) == min(100, expected - (case.body.get("page", 1) - 1) * 100), f"billbook {case.name}: {len(b['items'])} items"
        for baseline in ("naive", "plain"):
            n = result["latency"].get(baseline, {}).get(case.name, {}).get("data")
            if n is None:
                continue
            if case.path.endswith("/search"):
                assert n["total"] == b["total"], f"{case.name}: {baseline} total {n['total']}, billbook {b['total']}"
                assert [i["uuid"] for i in n["items"]] == [i["uuid"] for i in b["items"]], f"{case.name}: {baseline}'s page differs"
                assert same_items(n["items"], b["items"]), f"{case.name}: {baseline} renders differently:\n{n['items'][0]}\n{b['items'][0]}"
            else:
                assert n == b, f"{case.name}: usage_stats differ:\n{baseline} {json.dumps(n)[:600]}\nbillbook {json.dumps(b)[:600]}"


# ---------------------------------------------------------------------------------- fresh database
#
# ``--fresh sqlite,postgresql``: a new, empty database per dialect, filled through the API only,
# then (in this order, each server alone on the machine):
#
# 1. PostgreSQL: ANALYZE (statistics of the database before the load), 200,000 charges for one
#    account through ``charges/batch`` (``created_at`` spread over 360 days), then at once, with no
#    ANALYZE, the big account's searches against the small account's page 1 ("unanalysed"), then
#    the same after ANALYZE; the statistics' state is recorded before and after;
# 2. the small account (51 records, page_size 10) under wrk at 32 and at 1 connection, on billbook,
#    the plain baseline and the naive one; ``/healthz`` and ``/docs`` on billbook;
# 3. ``billbook serve --workers N`` for N in 1, 2, 4: the small-account search at 32 connections,
#    and at 1 and 2 workers batch ingestion spread over many accounts; the server log must not say
#    "database is locked".

PG_ADMIN_URL = os.environ.get("BILLBOOK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FRESH_MODELS = ("wavespeed-ai/flux-dev", "google/veo3", "bytedance/seedream-v4.5", "kling/v2.1")
SMALL_RECORDS = 51


@dataclass(frozen=True)
class FreshPlan:
    duration: int  # seconds per wrk run (after an unmeasured run of a fifth of it)
    n: int  # timed requests per latency case
    budget_s: float
    big_charges: int  # charges loaded into the big account (PostgreSQL)
    ingest_charges: int  # charges per ingestion run, spread over the ingestion accounts
    ingest_accounts: int
    workers: tuple[int, ...]
    clients: int = 4

    @classmethod
    def make(cls, quick: bool) -> FreshPlan:
        if quick:
            return cls(duration=1, n=5, budget_s=5, big_charges=2_000, ingest_charges=2_000, ingest_accounts=10, workers=(1, 2), clients=2)
        return cls(duration=15, n=200, budget_s=30, big_charges=200_000, ingest_charges=100_000, ingest_accounts=200, workers=(1, 2, 4))


def _admin_headers() -> dict:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}: {response.text[:300]}"
    return response.json()["data"]


def _new_account(http: httpx.Client, name: str, balance: str) -> dict:
    account = _ok(http.post("/internal/v1/accounts", json={"name": name, "balance": balance}))
    key = _ok(http.post(f"/internal/v1/accounts/{account['id']}/keys", json={"name": "bench"}))
    return {"id": account["id"], "api_key": key["api_key"], "access_key_id": key["access_key_id"]}


def _timed_charges(access_key_ids: list[str], n: int, end_ms: int, days: int, rng_seed: int) -> list[dict]:
    import random

    rng = random.Random(rng_seed)
    return [
        {
            "prediction_uuid": uuid.uuid4().hex,
            "access_key_id": access_key_ids[i % len(access_key_ids)],
            "model_uuid": FRESH_MODELS[i % len(FRESH_MODELS)],
            "model_type": "text-to-image",
            "price": PRICES[i % len(PRICES)],
            "created_at": end_ms - rng.randrange(days * MS_PER_DAY),
        }
        for i in range(n)
    ]


def seed_fresh(base: str, end_ms: int, plan: FreshPlan) -> dict:
    """The small account (exactly 51 records over the last 30 days: charges, three refunded), the
    big account (empty yet) and the accounts that ingestion spreads its charges over."""
    with httpx.Client(base_url=base, headers=_admin_headers(), timeout=120) as http:
        small = _new_account(http, "small", "100")
        opening = _ok(http.post("/api/v3/billings/search", json={"page_size": 1}, headers={"Authorization": f"Bearer {small['api_key']}"}))["total"]
        refunded = 3
        charges = _timed_charges([small["access_key_id"]], SMALL_RECORDS - opening - refunded, end_ms - MS_PER_DAY, 30, 11)
        data = _ok(http.post("/internal/v1/charges/batch", json={"charges": charges}))
        assert data["created"] == len(charges), data
        for charge in charges[:refunded]:
            _ok(http.post(f"/internal/v1/predictions/{charge['prediction_uuid']}/status", json={"status": "failed"}))
        total = _ok(http.post("/api/v3/billings/search", json={"page_size": 1}, headers={"Authorization": f"Bearer {small['api_key']}"}))["total"]
        assert total == SMALL_RECORDS, f"small account: {total} records"
        big = _new_account(http, "big", "100000")
        spread = [_new_account(http, f"ingest-{i}", "1000") for i in range(plan.ingest_accounts)]
    return {"small": small, "big": big, "ingest_keys": [a["access_key_id"] for a in spread]}


def _load(base: str, charges: list[dict], clients: int) -> dict:
    """Send ``charges`` in batches of 1,000 from ``clients`` concurrent clients; charges/s."""
    bodies = [json.dumps({"charges": charges[i : i + 1000]}).encode() for i in range(0, len(charges), 1000)]
    payloads = [bodies[c::clients] for c in range(clients)]
    seconds, statuses = asyncio.run(_batch_clients(base, payloads))
    assert statuses["created"] == len(charges), f"batch: {dict(statuses)} of {len(charges)} sent"
    return {"charges": len(charges), "clients": clients, "seconds": round(seconds, 2), "per_s": round(len(charges) / seconds, 1)}


def _pg_stats(sql: Sql) -> dict:
    row = sql.rows(
        "SELECT s.last_analyze IS NOT NULL, s.last_autoanalyze IS NOT NULL, s.n_mod_since_analyze, c.reltuples "
        "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'billing_records'"
    )[0]
    return {"analyzed": bool(row[0]), "autoanalyzed": bool(row[1]), "n_mod_since_analyze": int(row[2]), "reltuples": float(row[3])}


def unanalysed_cases(end_ms: int, big_total: int) -> list[Case]:
    search = "/api/v3/billings/search"
    window_end = end_ms - 60 * MS_PER_DAY - 37_123_456  # mid-day bounds, two months before the end
    window = {"start_time": str(window_end - 30 * MS_PER_DAY), "end_time": str(window_end)}
    deep = max(2, int(big_total * 2 / 3 / 10))
    return [
        Case("small_page1", "small account, page 1", "POST", search, "small", {"page": 1, "page_size": 10}, False),
        Case("big_type_30d", "big account, type deduct + 30-day window", "POST", search, "big",
             {"billing_type": "deduct", **window, "page": 1, "page_size": 10}, True),
        Case("big_page1", "big account, page 1 with total", "POST", search, "big", {"page": 1, "page_size": 10}, True),
        Case("big_deep", f"big account, page {deep:,} of 10", "POST", search, "big", {"page": deep, "page_size": 10}, True),
        Case("big_model", "big account, one model_uuid", "POST", search, "big", {"model_uuid": FRESH_MODELS[1], "page": 1, "page_size": 10}, True),
    ]


def _wrk_pair(base: str, path: str, *, method: str = "GET", body: dict | None = None, key: str | None = None, duration: int, connections: int) -> dict:
    """An unmeasured run (pools open, caches fill), then the measured one; no errors allowed.
    Quick runs (1 s) skip the unmeasured one: they check the harness, not the figures."""
    if duration > 1:
        wrk(base + path, method=method, body=body, key=key, duration=max(1, duration // 5), connections=connections)
    result = wrk(base + path, method=method, body=body, key=key, duration=duration, connections=connections)
    assert result["errors"] == 0 and result["requests"] > 0, f"wrk {path} c{connections}: {result}"
    return result


def _locked(server: Sampled) -> int:
    return server.server.log_text().count("database is locked")


def fresh_run(dialect: str, plan: FreshPlan, out: Path, tag: str, keep: bool) -> dict:
    """Everything above, for one dialect, on a database made for it and dropped afterwards."""
    if dialect == "sqlite":
        path = out / f"{tag}-sqlite.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url, drop = f"sqlite:///{path}", (lambda: None if keep else [Path(f"{path}{x}").unlink(missing_ok=True) for x in ("", "-wal", "-shm")])
    else:
        name = f"billbook_bench_fresh_{uuid.uuid4().hex[:8]}"
        asyncio.run(admin_execute(f'CREATE DATABASE "{name}"', PG_ADMIN_URL))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        drop = (lambda: None) if keep else (lambda: asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', PG_ADMIN_URL)))
    end_ms = (int(time.time() * 1000) // MS_PER_DAY) * MS_PER_DAY - 1  # the end of yesterday, UTC
    result: dict = {"dialect": dialect, "database": url if keep else "(dropped)", "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        log = lambda name: out / f"{tag}-{dialect}-{name}.log"  # noqa: E731
        server = launch("billbook", url, 1, log("billbook-w1-seed"))
        try:
            accounts = seed_fresh(server.base, end_ms, plan)
            keys = {"small": accounts["small"]["api_key"], "big": accounts["big"]["api_key"]}
            if dialect == "postgresql":
                result["unanalysed"] = _unanalysed(server, Sql(url), accounts, keys, end_ms, plan)
        finally:
            server.stop()
        result["small_search"] = _side_by_side(url, keys["small"], plan, log)
        result["workers"] = _workers(dialect, url, keys["small"], accounts["ingest_keys"], end_ms, plan, log)
        result["small_records"] = Sql(url).scalar("SELECT COUNT(*) FROM billing_records WHERE account_id = :a", {"a": accounts["small"]["id"]})
        result["records"] = Sql(url).scalar("SELECT COUNT(*) FROM billing_records")
    finally:
        drop()
    return result


def _unanalysed(server: Sampled, sql: Sql, accounts: dict, keys: dict, end_ms: int, plan: FreshPlan) -> dict:
    charges = _timed_charges([accounts["big"]["access_key_id"]], plan.big_charges, end_ms, 360, 7)
    server.phase = "load big account"
    # Statistics that describe the database as it was before the load, as autovacuum leaves them on a
    # live server: the state a back-fill or a busy first hour meets (never-analysed tables do not last).
    sql.execute("ANALYZE")
    before = _pg_stats(sql)
    load = _load(server.base, charges, plan.clients)
    print(f"  billbook loaded {load['charges']:,} charges for one account in {load['seconds']} s ({load['per_s']:,.0f}/s)", file=sys.stderr, flush=True)
    after_load = _pg_stats(sql)
    big_total = sql.scalar("SELECT COUNT(*) FROM billing_records WHERE account_id = :a", {"a": accounts["big"]["id"]})
    case_list = unanalysed_cases(end_ms, big_total)
    latency = measure_latency(server, case_list, keys, n=plan.n, warmup=2, budget_s=plan.budget_s)
    after_cases = _pg_stats(sql)
    ids = {"big": accounts["big"]["id"], "small": accounts["small"]["id"]}
    for case in case_list:
        data = latency[case.name].pop("data")
        expected = sql.expected_total(ids[case.key], case.body or {})
        assert data["total"] == expected, f"unanalysed {case.name}: total {data['total']}, COUNT(*) {expected}"
    # The same cases once the statistics are fresh: tells a plan that needs them from a case that is slow anyway.
    sql.execute("ANALYZE")
    analysed = measure_latency(server, case_list, keys, n=plan.n, warmup=2, budget_s=plan.budget_s)
    for runs in (latency, analysed):
        small = runs["small_page1"]["p50_ms"]
        for case in runs.values():
            case.pop("data", None)
            case["vs_small_page1"] = _ratio(case["p50_ms"], small)
    return {"load": load, "big_records": big_total, "stats_before_load": before, "stats_after_load": after_load,
            "stats_after_cases": after_cases, "titles": {c.name: c.title for c in case_list}, "latency": latency,
            "latency_after_analyze": analysed}


def _side_by_side(url: str, small_key: str, plan: FreshPlan, log) -> dict:  # noqa: ANN001
    search, body = "/api/v3/billings/search", {"page": 1, "page_size": 10}
    results: dict = {}
    for name in SERVERS:
        server = launch(name, url, 1, log(f"{name}-w1"))
        try:
            r: dict = {}
            for connections in (32, 1):
                server.phase = f"wrk search c{connections}"
                r[f"search_c{connections}"] = _wrk_pair(server.base, search, method="POST", body=body, key=small_key,
                                                        duration=plan.duration, connections=connections)
            if name == "billbook":
                for label, path in (("healthz", "/healthz"), ("docs", "/docs")):
                    r[label] = _wrk_pair(server.base, path, duration=plan.duration, connections=32)
            results[name] = r
            print(f"  {name:8} small search c32 {r['search_c32']['rps']:8.1f} req/s, c1 {r['search_c1']['rps']:8.1f} req/s",
                  file=sys.stderr, flush=True)
        finally:
            server.stop()
    return results


def _workers(dialect: str, url: str, small_key: str, ingest_keys: list[str], end_ms: int, plan: FreshPlan, log) -> dict:  # noqa: ANN001
    results: dict = {}
    for n in plan.workers:
        server = launch("billbook", url, n, log(f"billbook-w{n}"))
        try:
            r = {"search_c32": _wrk_pair(server.base, "/api/v3/billings/search", method="POST", body={"page": 1, "page_size": 10},
                                         key=small_key, duration=plan.duration, connections=32)}
            if n <= 2:
                charges = _timed_charges(ingest_keys, plan.ingest_charges, end_ms, 30, 100 + n)
                r["ingestion"] = _load(server.base, charges, plan.clients) | {"accounts": len(ingest_keys)}
            r["database_is_locked"] = _locked(server)
            results[str(n)] = r
            print(f"  billbook --workers {n}: search {r['search_c32']['rps']:8.1f} req/s"
                  + (f", batch {r['ingestion']['per_s']:,.0f} charges/s" if "ingestion" in r else ""), file=sys.stderr, flush=True)
        finally:
            server.stop()
        if dialect == "sqlite":
            assert results[str(n)]["database_is_locked"] == 0, f"--workers {n}: 'database is locked' in the log"
    return results


def fresh_markdown(report: dict) -> str:
    c = report["conditions"]
    lines = [
        f"Measured at `{c['commit']}`, {report['started']}; {c['nproc']} cores ({c['cpu']}), load average at start "
        f"{', '.join(f'{x:.2f}' for x in c['load_avg_at_start'])}; " + ", ".join(f"{k} {v}" for k, v in c["versions"].items()) + ".",
        f"wrk -t1, {report['plan']['duration']} s per run"
        + (f" after an unmeasured {report['plan']['duration'] // 5} s run; " if report["plan"]["duration"] > 1 else "; ")
        + 
        f"latency: {report['plan']['n']} sequential requests per case on one keep-alive connection, after 2 warm-up requests.",
        "",
    ]
    for dialect, r in report["dialects"].items():
        s = r["small_search"]
        lines += [f"**{dialect}** ({r['records']:,} records in the database at the end; the small account {r['small_records']})", "",
                  "| server | small search c32 req/s (p50/p99 ms) | c1 req/s (p50 ms) | `/healthz` c32 | `/docs` c32 |", "|---|---:|---:|---:|---:|"]
        for name in ("billbook", "plain", "naive"):
            x = s[name]
            cell = lambda k: f"{x[k]['rps']:,.0f}" if k in x else "-"  # noqa: E731
            lines.append(f"| {name} | {x['search_c32']['rps']:,.0f} ({x['search_c32']['p50_ms']}/{x['search_c32']['p99_ms']}) | "
                         f"{x['search_c1']['rps']:,.0f} ({x['search_c1']['p50_ms']}) | {cell('healthz')} | {cell('docs')} |")
        b, p = s["billbook"], s["plain"]
        lines += ["", f"billbook / plain: {_ratio(b['search_c32']['rps'], p['search_c32']['rps'])}x at 32 connections (target >= 1.5x), "
                  f"{_ratio(b['search_c1']['rps'], p['search_c1']['rps'])}x at 1 (target >= 1x); `/healthz` / `/docs`: "
                  f"{_ratio(b['healthz']['rps'], b['docs']['rps']):.0%} (target >= 40%).", ""]
        if "unanalysed" in r:
            u = r["unanalysed"]
            st = u["stats_after_cases"]
            lines += [f"Unanalysed: {u['load']['charges']:,} charges for one account through `charges/batch` ({u['load']['clients']} clients, "
                      f"{u['load']['per_s']:,.0f} charges/s, created_at over 360 days), then at once (page_size 10, ms):", "",
                      "| case | p50 | p99 | vs small page 1 (target <= 3x) | after ANALYZE: p50 | vs small page 1 |",
                      "|---|---:|---:|---:|---:|---:|"]
            for name, x in u["latency"].items():
                y = u.get("latency_after_analyze", {}).get(name)
                then = f"{y['p50_ms']:.2f} | {y['vs_small_page1']}x" if y else "- | -"
                lines.append(f"| {u['titles'][name]} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} | {x['vs_small_page1']}x | {then} |")
            lines += ["", f"billing_records statistics after the cases: ANALYZE run {st['analyzed']}, autoanalyze run {st['autoanalyzed']}, "
                      f"rows changed since the last analyze {st['n_mod_since_analyze']:,}, pg_class.reltuples {st['reltuples']:,.0f}.", ""]
        lines += ["| `billbook serve --workers N` | small search c32 req/s (p50/p99 ms) | batch charges/s (accounts) | 'database is locked' in the log |",
                  "|---|---:|---:|---:|"]
        for n, x in r["workers"].items():
            ing = x.get("ingestion")
            batch = f"{ing['per_s']:,.0f} ({ing['accounts']})" if ing else "-"
            lines.append(f"| {n} | {x['search_c32']['rps']:,.0f} ({x['search_c32']['p50_ms']}/{x['search_c32']['p99_ms']}) | "
                         f"{batch} | {x['database_is_locked']} |")
        lines.append("")
    return "\n".join(lines)


def fresh_main(args: argparse.Namespace) -> dict:
    dialects = [d.strip() for d in args.fresh.split(",") if d.strip()]
    assert set(dialects) <= {"sqlite", "postgresql"}, f"--fresh takes sqlite and/or postgresql, not {dialects}"
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    plan = FreshPlan.make(args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tag = f"fresh-{'quick' if args.quick else 'full'}-{stamp}"
    args.duration, args.n, args.warmup, args.budget = plan.duration, plan.n, 2, plan.budget_s
    report = {"quick": args.quick, "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "plan": plan.__dict__ | {"workers": list(plan.workers)},
              "conditions": conditions({"dialect": "sqlite", "db": "", "requested": {"accounts": 0}}, args), "dialects": {}}
    for dialect in dialects:
        print(f"fresh {dialect}: starting", file=sys.stderr, flush=True)
        report["dialects"][dialect] = fresh_run(dialect, plan, args.out, tag, args.keep)
    if "postgresql" in dialects:
        try:
            report["conditions"]["versions"]["postgresql"] = Sql(PG_ADMIN_URL).rows("SHOW server_version")[0][0]
        except Exception:  # noqa: BLE001
            pass
    text = fresh_markdown(report)
    (args.out / f"{tag}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{tag}.md").write_text(text)
    print(text)
    print(f"written: {args.out / (tag + '.json')} and .md", file=sys.stderr)
    return report


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
    parser.add_argument("--skip", action="append", default=[], choices=["baseline", "naive", "plain", "throughput", "ingestion", "verify"],
                        help="baseline skips both baselines")
    parser.add_argument("--profile", action="store_true", help="py-spy record billbook during each latency case and the batch ingestion")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--fresh", metavar="DIALECTS", help="instead of a generated data set: new databases (sqlite,postgresql) "
                        "filled through the API; small-account search on all three servers, unanalysed search, --workers 1/2/4")
    parser.add_argument("--keep", action="store_true", help="with --fresh: keep the databases afterwards")
    args = parser.parse_args(argv)
    if args.fresh:
        return fresh_main(args)
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
    skipped = set(args.skip) | ({"naive", "plain"} if "baseline" in args.skip else set())
    for name in (s for s in SERVERS if s not in skipped):
        print(f"{name}: starting on {meta['dialect']}", file=sys.stderr, flush=True)
        server = launch(name, db_url, args.workers, args.out / f"{tag}-{name}.log")
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
                served = [c for c in case_list if not c.path.startswith("/internal/")]
                if name == "plain":
                    served = [c for c in served if c.path.endswith("/search")]
                elif name == "billbook":
                    served = case_list
                result["latency"][name] = measure_latency(server, served, keys, n=args.n, warmup=args.warmup, budget_s=args.budget)
                if name == "billbook":
                    # Counted now: ingestion, below, adds records to every-account totals.
                    for case in (c for c in served if c.key == "all"):
                        result["latency"][name][case.name]["expected_total"] = sql.expected_total(None, case.body or {})
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
