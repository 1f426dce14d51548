"""Load a realistic billbook data set fast, for the benchmark runner (``bench/run.py``).

Why a generator of its own: going through the API would take hours at 10,000,000 records, and a
benchmark is only as good as its data. So this writes the same rows the ledger would write, in
bulk, and then proves they are what the ledger would have written:

* the schema comes from billbook's own migrations (``billbook.store.migrate.upgrade``), never from
  a copy, so the data set always matches the code being measured;
* rows go in with ``COPY`` on PostgreSQL (asyncpg's binary ``copy_records_to_table``) and with
  ``executemany`` in large transactions on SQLite (loading pragmas, no journal), with secondary
  indexes, unique constraints and foreign keys dropped first and rebuilt once at the end (one
  sorted build instead of millions of random inserts into nine B-trees);
* the rollups (``usage_daily``, ``billing_daily``, ``billing_monthly``) and balances are then computed *from the loaded
  records* with ``INSERT ... SELECT ... GROUP BY``, exactly as the ledger keeps them: a deduct's
  refund and completion count on the deduct's day, ``last_price`` is the price of the newest deduct;
* the generator's own running balances must equal the database's ``SUM(delta)`` per account, and
  ``billbook verify`` can be run on the result (the runner does).

The shape is what a platform sees: one account with 30% of all records, ten with 3% each, the rest
small and often short-lived; about nine in ten records are deducts, one deduct in twenty is refunded
by a later refund record, recharges top accounts up before they run dry, a few operator adjustments;
several models at list prices, discounts for the big accounts, 1-3 keys per account, growth over
the year, quiet weekends, and bursts of predictions submitted in the same millisecond.

The measured accounts get their API keys through ``billbook.ledger.keys.create_key`` (so the
secret's salt and hash are the server's own); the keys, the big account's id and a sample of its
prediction uuids are written to a JSON file next to the database for the runner.

    python bench/generate.py --db postgresql://postgres@127.0.0.1:5432/billbook_bench --recreate
    python bench/generate.py --db sqlite:///bench/out/bench.db --records 1000000 --accounts 1000 --recreate
    python bench/generate.py --db sqlite:///bench/out/quick.db --quick --recreate
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import random
import sqlite3
import sys
import time
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from sqlalchemy.engine import make_url

from billbook.ledger import credentials
from billbook.ledger import keys as ledger_keys
from launcher import open_database  # noqa: E402
from billbook.store import partitions
from billbook.store.migrate import upgrade
from billbook.store.partitions import Month
from billbook.store.tables import SHARDS
from billbook.times import MS_PER_DAY, now_ms

OUT = Path(__file__).resolve().parent / "out"

#: (model_uuid, model_type, list price in micro-dollars, how popular); video models charge per
#: clip length, so their price varies per prediction (see ``_price``).
MODELS = (
    ("bytedance/seedream-v4.5", "text-to-image", 40_000, 30),
    ("wavespeed-ai/flux-dev", "text-to-image", 25_000, 22),
    ("google/nano-banana/edit", "image-to-image", 39_000, 16),
    ("wavespeed-ai/flux-kontext-pro", "image-to-image", 40_000, 10),
    ("wavespeed-ai/wan-2.2/t2v-480p", "text-to-video", 150_000, 9),
    ("minimax/hailuo-02/standard", "image-to-video", 230_000, 6),
    ("kwaivgi/kling-v2.1-i2v-pro", "image-to-video", 450_000, 4),
    ("bytedance/seedance-v1-pro-t2v-1080p", "text-to-video", 600_000, 3),
)
VIDEO = frozenset(i for i, m in enumerate(MODELS) if m[1].endswith("video"))
KEY_NAMES = ("production", "staging", "batch-jobs")
FAILURES = ("failed", "failed", "failed", "failed", "failed", "failed", "failed", "timeout", "timeout", "cancelled")
REFUND_RATE = 0.05
#: Chance that a primary event starts a burst of same-millisecond submissions, and burst sizes.
BURST_RATE = 0.3
BURST_SIZES = (2, 2, 3, 4, 5, 8, 10, 16, 25, 50)
#: Busier afternoons (UTC), quiet nights.
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 9, 9, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3)
HOUR_CUM = list(accumulate(HOUR_WEIGHTS))
NAME_A = ("North", "Blue", "Bright", "Silver", "Red", "Quiet", "Rapid", "Open", "Deep", "Clear", "Iron", "Lumen")
NAME_B = ("wind", "field", "stone", "leaf", "river", "pixel", "frame", "spark", "wave", "forge", "lens", "grid")
NAME_C = ("Labs", "Studio", "AI", "Media", "Games", "Apps", "Works", "Inc", "Creative", "Systems")

#: ``billing_record_keys`` (PostgreSQL: the records' unique keys, outside the monthly partitions).
KEY_COLUMNS_PG = ("id", "created_at", "uuid", "account_id", "billing_type", "reference", "order_id")
RECORD_COLUMNS = (
    "id", "uuid", "account_id", "billing_type", "price", "delta", "balance_after", "ak_id", "order_id", "prediction_id",
    "model_uuid", "access_key_id", "reference", "reason", "created_at", "updated_at",
)
_KEY_AT = tuple(RECORD_COLUMNS.index(c) for c in KEY_COLUMNS_PG)


def _record_keys(record: tuple) -> tuple:
    """A record's row of ``billing_record_keys``, from its row of ``RECORD_COLUMNS``."""
    return tuple(record[i] for i in _KEY_AT)
#: Every prediction's hold expires an hour after its charge (the server's default).
HOLD_MS = 3_600_000
PREDICTION_COLUMNS = (
    "id", "uuid", "account_id", "ak_id", "model_uuid", "model_type", "status", "created_at", "updated_at",
    "hold_until",
)
ORDER_COLUMNS = (
    "id", "uuid", "prediction_id", "account_id", "ak_id", "state", "price", "origin_price", "created_at", "updated_at",
)
ACCOUNT_COLUMNS = ("id", "name", "balance", "created_at")
KEY_COLUMNS = ("id", "access_key_id", "account_id", "name", "lookup", "salt", "secret_hash", "created_at", "revoked_at")
#: Tables the bulk load writes, in foreign-key order.
LOADED = ("accounts", "access_keys", "predictions", "orders", "billing_records")

#: Named sizes: (records, accounts).
SIZES = {"full": (10_000_000, 10_000), "sqlite": (1_000_000, 1_000), "quick": (20_000, 50)}


# --------------------------------------------------------------------------------------------
# The data set


@dataclass
class Account:
    id: int
    target: int  # records this account should end up with (about)
    kind: str  # big, medium, small
    first_day: int
    last_day: int
    discount: float
    recharge_rate: float
    models: list[int]
    model_cum: list[int]
    keys: list[tuple[int, str]] = field(default_factory=list)  # (ak_id, access_key_id)
    key_cum: list[int] = field(default_factory=list)
    balance: int = 0
    #: The sum of the records emitted so far, in id order: the next record's ``balance_after`` base.
    written: int = 0
    mean_price: int = 50_000
    pending: list = field(default_factory=list)  # refunds due on a later day: (t, seq, kind, payload)
    created_at: int = 0


def _split(records: int, accounts: int, rng: random.Random) -> list[tuple[str, int]]:
    """Record targets: 30% to one account, 3% to each of the next ten, the rest spread unevenly."""
    big = round(records * 0.30)
    medium = [round(records * 0.03)] * min(10, max(accounts - 1, 0))
    rest_n = accounts - 1 - len(medium)
    rest_total = records - big - sum(medium)
    weights = [rng.lognormvariate(0, 0.8) for _ in range(rest_n)]
    scale = rest_total / sum(weights) if weights else 0
    small = [max(3, round(w * scale)) for w in weights]
    return [("big", big)] + [("medium", m) for m in medium] + [("small", s) for s in small]


def _nice(amount_micros: int) -> int:
    """Round a top-up up to a number a person would type: 1, 2 or 5 times a power of ten dollars."""
    usd = max(amount_micros / 1_000_000, 1.0)
    power = 1
    while True:
        for step in (1, 2, 5):
            if step * power >= usd:
                return step * power * 1_000_000
        power *= 10


class Generator:
    """Makes the rows in global time order, so ids grow with time as they do in a live ledger."""

    def __init__(self, records: int, accounts: int, *, days: int, end_ms: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.end_ms = end_ms
        self.first_day = (end_ms + 1) // MS_PER_DAY - days  # end_ms is the last ms of the last day
        self.seq = 0
        self.ids = {"record": 0, "prediction": 0, "order": 0}
        self.counts = {"deduct": 0, "refund": 0, "recharge": 0, "adjust": 0}
        self.statuses: dict[str, int] = {}
        self.accounts = self._accounts(records, accounts)
        self.sample_uuids: list[str] = []
        #: Day -> accounts with a refund due that day (their pending list holds it).
        self.due: dict[int, dict[int, Account]] = {}

    # -- accounts ------------------------------------------------------------------------------

    def _accounts(self, records: int, n: int) -> list[Account]:
        rng = self.rng
        result = []
        model_weights = [m[3] for m in MODELS]
        for i, (kind, target) in enumerate(_split(records, n, rng), start=1):
            if kind == "small" and rng.random() < 0.6:
                first = rng.randrange(0, self.days - 30)
                last = self.days - 1 if rng.random() < 0.7 else rng.randrange(first + 14, self.days)
            else:
                first, last = 0, self.days - 1
            picked = sorted(rng.sample(range(len(MODELS)), k=rng.choice((1, 2, 3, 4, 5)) if kind == "small" else len(MODELS)))
            weights = [model_weights[m] * rng.uniform(0.3, 2.0) for m in picked]
            mean_price = int(sum(MODELS[m][2] * w for m, w in zip(picked, weights)) / sum(weights))
            account = Account(
                id=i,
                target=target,
                kind=kind,
                first_day=first,
                last_day=last,
                discount={"big": 0.15, "medium": rng.choice((0.0, 0.05, 0.10))}.get(kind, 0.0),
                recharge_rate={"big": 0.01, "medium": 0.05}.get(kind, 0.15),
                models=picked,
                model_cum=list(accumulate(weights)),
                mean_price=mean_price,
            )
            n_keys = 3 if kind == "big" else rng.choice((2, 3)) if kind == "medium" else rng.choice((1, 1, 1, 2, 2, 3))
            account.key_cum = list(accumulate((80, 15, 5)[:n_keys]))
            account.keys = [(0, "")] * n_keys  # filled in by the loader once keys exist
            account.created_at = (self.first_day + first) * MS_PER_DAY - rng.randrange(1, 30) * MS_PER_DAY
            result.append(account)
        return result

    def day_counts(self, account: Account) -> dict[int, int]:
        """Primary events per day: growth over the year, quieter weekends, a few busy days."""
        rng = self.rng
        days = range(account.first_day, account.last_day + 1)
        weights = []
        for d in days:
            w = 0.5 + (d / self.days)  # the platform grows
            if (self.first_day + d + 4) % 7 in (5, 6):  # Saturday, Sunday (day 0 was a Thursday)
                w *= 0.7
            weights.append(w * (3.0 if rng.random() < 0.02 else 1.0))
        # Refunds and top-ups come on top of the primary events; aim the total at the target.
        primaries = max(1, round(account.target / (1 + REFUND_RATE * 0.9 + account.recharge_rate * 0.1)))
        counts: dict[int, int] = {}
        cum = list(accumulate(weights))
        total = cum[-1]
        first = account.first_day
        for _ in range(primaries):
            d = first + bisect_right(cum, rng.random() * total)
            counts[d] = counts.get(d, 0) + 1
        return counts

    # -- events --------------------------------------------------------------------------------

    def _uuid(self) -> str:
        return "%032x" % self.rng.getrandbits(128)

    def _pick(self, cum: list, rnd: float) -> int:
        return bisect_right(cum, rnd * cum[-1])

    def _price(self, model: int, account: Account) -> tuple[int, int]:
        origin = MODELS[model][2]
        if model in VIDEO and self.rng.random() < 0.35:
            origin *= 2  # a 10-second clip instead of 5
        return round(origin * (1 - account.discount)), origin

    def _moments(self, day: int, n: int) -> list[int]:
        """``n`` sorted times within ``day``; many share a millisecond (batch submissions)."""
        rng = self.rng
        base = (self.first_day + day) * MS_PER_DAY
        out: list[int] = []
        while len(out) < n:
            hour = bisect_right(HOUR_CUM, rng.random() * HOUR_CUM[-1])
            t = base + hour * 3_600_000 + rng.randrange(3_600_000)
            size = 1 if rng.random() >= BURST_RATE else min(rng.choice(BURST_SIZES), n - len(out))
            out.extend([t] * size)
        out.sort()
        return out

    def account_day(self, account: Account, day: int, n: int, out: list) -> None:
        """Append this account's records of one day to ``out`` as (t, kind, payload), in the order
        the ledger would have written them: balance checked before every charge."""
        rng = self.rng
        end_of_day = (self.first_day + day + 1) * MS_PER_DAY
        heap = []
        for t in self._moments(day, n):
            self.seq += 1
            heap.append((t, self.seq, "event", None))
        if account.pending:
            keep = []
            for item in account.pending:
                (heap if item[0] < end_of_day else keep).append(item)
            account.pending = keep
        heapq.heapify(heap)
        end_ms = self.end_ms
        while heap:
            t, _, kind, payload = heapq.heappop(heap)
            if kind == "refund":
                account.balance += payload["price"]
                out.append((t, "refund", payload))
                continue
            r = rng.random()
            if r < account.recharge_rate:
                amount = _nice(int(account.mean_price / account.recharge_rate * rng.uniform(1, 3)))
                account.balance += amount
                out.append((t, "recharge", {"account": account, "amount": amount, "ref": "pay_" + self._uuid()[:24]}))
                continue
            if r < account.recharge_rate + 0.003:
                amount = rng.randrange(10_000, 5_000_000)
                if rng.random() < 0.5 and account.balance >= amount:
                    amount = -amount
                account.balance += amount
                out.append((t, "adjust", {"account": account, "amount": amount, "ref": "adj_" + self._uuid()[:24]}))
                continue
            model = self._pick(account.model_cum, rng.random())
            model = account.models[model]
            price, origin = self._price(model, account)
            if account.balance < price:  # an auto top-up lands just before the charge
                amount = _nice(max(price, int(account.mean_price / account.recharge_rate * rng.uniform(1, 3))))
                account.balance += amount
                out.append((t, "recharge", {"account": account, "amount": amount, "ref": "pay_" + self._uuid()[:24]}))
            account.balance -= price
            ak_id, access_key_id = account.keys[self._pick(account.key_cum, rng.random())]
            deduct = {
                "account": account, "price": price, "origin": origin, "model": model, "ak_id": ak_id,
                "access_key_id": access_key_id, "uuid": self._uuid(), "t": t,
            }
            if rng.random() < REFUND_RATE:
                done = t + rng.randrange(2_000, 600_000)
                if done <= end_ms:
                    deduct["status"], deduct["state"], deduct["updated"] = rng.choice(FAILURES), "refunded", done
                    self.seq += 1
                    item = (done, self.seq, "refund", deduct)
                    if done < end_of_day:
                        heapq.heappush(heap, item)
                    else:  # lands on a later day, which may have no event of this account's own
                        account.pending.append(item)
                        self.due.setdefault(done // MS_PER_DAY - self.first_day, {})[account.id] = account
                else:
                    deduct["status"], deduct["state"], deduct["updated"] = "processing", "pre", t
            else:
                done = t + rng.randrange(1_000, 120_000)
                if done <= end_ms:
                    deduct["status"], deduct["state"], deduct["updated"] = "completed", "done", done
                else:
                    deduct["status"], deduct["state"], deduct["updated"] = rng.choice(("created", "processing")), "pre", t
            out.append((t, "deduct", deduct))

    def chunks(self, chunk_records: int) -> Iterator[tuple[list, list, list]]:
        """(records, predictions, orders) rows, a chunk at a time, ids in time order."""
        rng = self.rng
        by_day: list[list[tuple[Account, int]]] = [[] for _ in range(self.days)]
        for account in self.accounts:
            for d, n in self.day_counts(account).items():
                by_day[d].append((account, n))
        big = self.accounts[0]
        sample_rate = 200 / max(big.target, 1)
        records: list = []
        predictions: list = []
        orders: list = []
        ids = self.ids
        counts = self.counts
        statuses = self.statuses
        for day in range(self.days):
            events: list = []
            todays = by_day[day]
            due = self.due.pop(day, {})
            if due:
                active = {account.id for account, _ in todays}
                todays += [(account, 0) for account in due.values() if account.id not in active]
            for account, n in todays:
                self.account_day(account, day, n, events)
            events.sort(key=lambda e: e[0])  # stable: each account's own order is kept
            for t, kind, p in events:
                ids["record"] += 1
                rid = ids["record"]
                counts[kind] += 1
                account = p["account"]
                if kind == "deduct":
                    ids["prediction"] += 1
                    ids["order"] += 1
                    pid, oid = ids["prediction"], ids["order"]
                    p["pid"], p["oid"] = pid, oid
                    model_uuid, model_type = MODELS[p["model"]][0], MODELS[p["model"]][1]
                    status = p["status"]
                    statuses[status] = statuses.get(status, 0) + 1
                    predictions.append((pid, p["uuid"], account.id, p["ak_id"], model_uuid, model_type, status, t, p["updated"], t + HOLD_MS))
                    orders.append((oid, "%032x" % rng.getrandbits(128), pid, account.id, p["ak_id"], p["state"], p["price"], p["origin"], t, p["updated"]))
                    account.written -= p["price"]
                    records.append((rid, "%032x" % rng.getrandbits(128), account.id, "deduct", p["price"], -p["price"], account.written, p["ak_id"], oid, pid, model_uuid, p["access_key_id"], None, None, t, t))
                    if account is big and rng.random() < sample_rate:
                        self.sample_uuids.append(p["uuid"])
                elif kind == "refund":
                    account.written += p["price"]
                    records.append((rid, "%032x" % rng.getrandbits(128), account.id, "refund", p["price"], p["price"], account.written, p["ak_id"], p["oid"], p["pid"], MODELS[p["model"]][0], p["access_key_id"], None, None, t, t))
                else:
                    amount = p["amount"]
                    reason = "operator correction" if kind == "adjust" else None
                    account.written += amount
                    records.append((rid, "%032x" % rng.getrandbits(128), account.id, kind, abs(amount), amount, account.written, None, None, None, None, None, p["ref"], reason, t, t))
            if len(records) >= chunk_records:
                yield records, predictions, orders
                records, predictions, orders = [], [], []
        if records or predictions:
            yield records, predictions, orders


def _produce(gen: Generator, chunk_records: int, queue) -> None:  # noqa: ANN001
    """Child process: make the chunks while the parent writes the previous one (2 cores: one
    generates, the database and the parent's encoder share the other)."""
    for chunk in gen.chunks(chunk_records):
        queue.put(chunk)
    balances = {a.id: a.balance for a in gen.accounts}
    queue.put(("done", gen.ids, gen.counts, gen.statuses, gen.sample_uuids, balances))


def pipelined(gen: Generator, chunk_records: int) -> Iterator[tuple[list, list, list]]:
    """``gen.chunks`` made in a forked child; at the end the child's totals are copied back."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue(maxsize=2)
    child = ctx.Process(target=_produce, args=(gen, chunk_records, queue), daemon=True)
    child.start()
    try:
        while True:
            item = queue.get()
            if len(item) == 6 and item[0] == "done":
                _, gen.ids, gen.counts, gen.statuses, gen.sample_uuids, balances = item
                for account in gen.accounts:
                    account.balance = balances[account.id]
                break
            yield item
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    if child.exitcode not in (0, None):
        raise SystemExit(f"the generator process failed (exit code {child.exitcode})")


# --------------------------------------------------------------------------------------------
# Loading


def _account_name(rng: random.Random, i: int) -> str:
    return f"{rng.choice(NAME_A)}{rng.choice(NAME_B)} {rng.choice(NAME_C)} #{i}"


async def _create_measured_keys(url: str, gen: Generator, measured: list[Account]) -> dict[int, dict]:
    """Keys of the measured accounts, made by the ledger itself so their hashes are the server's."""
    db = open_database(url)
    issued: dict[int, dict] = {}
    try:
        async with db.transaction(write=True) as conn:
            for account in measured:
                for slot in range(len(account.keys)):
                    key = await ledger_keys.create_key(conn, account.id, KEY_NAMES[slot])
                    account.keys[slot] = (key.ak_id, key.access_key_id)
                    if slot == 0:
                        issued[account.id] = {"api_key": key.api_key, "access_key_id": key.access_key_id, "ak_id": key.ak_id}
    finally:
        await db.dispose()
    return issued


def _bulk_keys(gen: Generator, skip: set[int], first_id: int) -> list[tuple]:
    """Keys of every other account, hashed exactly as ``create_key`` does."""
    rows = []
    ak = first_id
    for account in gen.accounts:
        if account.id in skip:
            continue
        for slot in range(len(account.keys)):
            secret = credentials.new_api_key()
            access_key_id = credentials.new_access_key_id(account.id)
            rows.append((ak, access_key_id, account.id, KEY_NAMES[slot], secret.lookup, secret.salt, secret.secret_hash, account.created_at, None))
            account.keys[slot] = (ak, access_key_id)
            ak += 1
    return rows


ROLLUP_BILLING_DAILY = (
    "INSERT INTO billing_daily (account_id, day, billing_type, count) "
    "SELECT account_id, CAST(created_at / 86400000 AS INTEGER), billing_type, COUNT(*) "
    "FROM billing_records GROUP BY account_id, CAST(created_at / 86400000 AS INTEGER), billing_type"
)
#: The same counts summed per shard of accounts (``tables.SHARDS``), from ``billing_daily``.
ROLLUP_BILLING_DAILY_SHARDS = (
    f"INSERT INTO billing_daily_shards (shard, day, billing_type, count) "
    f"SELECT account_id % {SHARDS}, day, billing_type, SUM(count) FROM billing_daily "
    f"GROUP BY account_id % {SHARDS}, day, billing_type"
)
#: The stored 30-day spend of every account (``store.spend``) as of the last generated day, that
#: day marked rolled, and the number of accounts: what migration 0012 back-fills.
ACCOUNT_SPEND = (
    "DELETE FROM account_count",
    "INSERT INTO account_count (id, accounts) SELECT 1, COUNT(*) FROM accounts",
    "DELETE FROM account_spend",
    "INSERT INTO account_spend (account_id, day, amount) SELECT a.id, {day}, COALESCE((SELECT"
    " SUM(u.deduct_amount - u.refund_amount) FROM usage_daily u WHERE u.account_id = a.id AND u.day >= {day} - 29), 0)"
    " FROM accounts a",
    "DELETE FROM account_spend_rolled",
    "INSERT INTO account_spend_rolled (id, day) VALUES (1, {day})",
)
#: One cell per account, deduct day, model and key: refunds and completions count on the deduct's
#: day; ``last_price`` is the price of the newest deduct (latest time, then latest id), as the
#: ledger's upsert leaves it.
ROLLUP_USAGE_DAILY = """
INSERT INTO usage_daily (account_id, day, model_uuid, access_key_id, model_type, deduct_count, deduct_amount,
                         refund_count, refund_amount, completed_count, last_used_at, last_price)
WITH d AS (
    SELECT r.account_id, CAST(r.created_at / 86400000 AS INTEGER) AS day, r.model_uuid, r.access_key_id,
           p.model_type, p.status, r.price, r.created_at, f.price AS refund_price,
           ROW_NUMBER() OVER (PARTITION BY r.account_id, CAST(r.created_at / 86400000 AS INTEGER), r.model_uuid,
                              r.access_key_id ORDER BY r.created_at DESC, r.id DESC) AS newest
    FROM billing_records r
    JOIN predictions p ON p.id = r.prediction_id
    LEFT JOIN billing_records f ON f.order_id = r.order_id AND f.billing_type = 'refund'
    WHERE r.billing_type = 'deduct'
)
SELECT account_id, day, model_uuid, access_key_id, MAX(model_type), COUNT(*), SUM(price),
       COUNT(refund_price), COALESCE(SUM(refund_price), 0),
       SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), MAX(created_at),
       MAX(CASE WHEN newest = 1 THEN price END)
FROM d GROUP BY account_id, day, model_uuid, access_key_id
"""
SPEND_BY_DAY = (
    "SELECT account_id, access_key_id, day, SUM(deduct_amount - refund_amount) FROM usage_daily "
    "GROUP BY account_id, access_key_id, day"
)
SPEND_WINDOWS_COLUMNS = ("account_id", "access_key_id", "period", "start", "amount", "alerted")


def spend_windows(per_day: list) -> list[tuple]:
    """The spend rollup's rows (every key's and account's day, month and total windows) from
    ``SPEND_BY_DAY``, as the ledger computes them for ``verify``."""
    from billbook.ledger.limits import windows_of_days

    found = windows_of_days((int(a), str(k), int(d), int(s)) for a, k, d, s in per_day)
    return [(a, k, str(p), st, v, 0) for (a, k, p, st), v in found.items()]


#: The audit log's rows for the loaded history, as if an operator had made each recharge,
#: adjustment and key through the internal API (``verify`` checks that none is missing).
AUDIT_LOADED = (
    "INSERT INTO audit_log (at, token_name, action, route, account_id, target, ref, summary, status) "
    "SELECT created_at, 'bench', billing_type, 'bench/generate.py', account_id, 'account:' || account_id, uuid, '{}', 200 "
    "FROM billing_records WHERE billing_type IN ('recharge', 'adjust')",
    "INSERT INTO audit_log (at, token_name, action, route, account_id, target, ref, summary, status) "
    "SELECT created_at, 'bench', 'key.create', 'bench/generate.py', account_id, 'account:' || account_id, access_key_id, '{}', 200 "
    "FROM access_keys",
    "INSERT INTO audit_log (at, token_name, action, route, account_id, target, ref, summary, status) "
    "SELECT revoked_at, 'bench', 'key.revoke', 'bench/generate.py', account_id, 'account:' || account_id, access_key_id, '{}', 200 "
    "FROM access_keys WHERE revoked_at IS NOT NULL",
)

#: Counts and sums per account, UTC month (YYYYMM), type and model, as ``store.billing`` keeps them.
ROLLUP_BILLING_MONTHLY = (
    "INSERT INTO billing_monthly (account_id, month, billing_type, model_uuid, count, amount) "
    "SELECT account_id, {month}, billing_type, COALESCE(model_uuid, ''), COUNT(*), SUM(delta) "
    "FROM billing_records GROUP BY account_id, {month}, billing_type, COALESCE(model_uuid, '')"
)
MONTH_PG = "CAST(to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER)"
MONTH_SQLITE = "CAST(strftime('%Y%m', created_at / 1000, 'unixepoch') AS INTEGER)"
BALANCES_PG = (
    "UPDATE accounts a SET balance = s.total FROM "
    "(SELECT account_id, SUM(delta) AS total FROM billing_records GROUP BY account_id) s WHERE s.account_id = a.id"
)
BALANCES_SQLITE = (
    "UPDATE accounts SET balance = COALESCE((SELECT SUM(delta) FROM billing_records r WHERE r.account_id = accounts.id), 0)"
)


class Timer:
    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(self.phases.get(name, 0) + now - self._t, 2)
        self._t = now
        print(f"  {name}: {self.phases[name]:.1f} s", file=sys.stderr, flush=True)


async def _pg_recreate(url: str) -> None:
    import asyncpg

    parsed = make_url(url)
    admin = parsed.set(database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


async def _migrate(url: str, first_ms: int | None = None, last_ms: int | None = None) -> None:
    """Migrate; on PostgreSQL also make the monthly partitions of the data's range, so that the
    records go straight into their months (not into the default partition)."""
    db = open_database(url)
    try:
        await upgrade(db)
        if first_ms is not None and last_ms is not None and not db.is_sqlite:
            async with db.transaction(write=True) as conn:
                await partitions.make_months(conn, Month.of_ms(first_ms), Month.of_ms(last_ms))
    finally:
        await db.dispose()


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_empty_check(conn) -> None:  # noqa: ANN001
    n = await conn.fetchval("SELECT COUNT(*) FROM (SELECT 1 FROM billing_records LIMIT 1) x")
    if n:
        raise SystemExit("the database already has billing records; pass --recreate to start from scratch")


async def _pg_drop_secondary(conn, tables: tuple[str, ...]) -> list[str]:  # noqa: ANN001
    """Drop foreign keys, unique constraints and secondary indexes of ``tables``; returns the DDL
    that puts them back (read from the catalog, so it follows whatever the migrations made)."""
    restore_idx: list[str] = []
    restore_con: list[str] = []
    fks = await conn.fetch(
        "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE contype IN ('f', 'u') AND conrelid::regclass::text = ANY($1::text[]) ORDER BY contype",
        list(tables),
    )
    # Foreign keys first (contype 'f' sorts before 'u'), then unique constraints.
    for row in fks:
        await conn.execute(f'ALTER TABLE {row["tbl"]} DROP CONSTRAINT "{row["conname"]}"')
        restore_con.append(f'ALTER TABLE {row["tbl"]} ADD CONSTRAINT "{row["conname"]}" {row["def"]}')
    indexes = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i "
        "WHERE i.indrelid::regclass::text = ANY($1::text[]) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        list(tables),
    )
    for row in indexes:
        await conn.execute(f'DROP INDEX "{row["name"]}"')
        # A partitioned table's index is shown ``ON ONLY`` the parent: rebuilt so, it would cover no partition.
        restore_idx.append(row["def"].replace(" ON ONLY ", " ON "))
    # Unique constraints (their indexes) before foreign keys, which may need them.
    unique_first = sorted(restore_con, key=lambda ddl: " FOREIGN KEY " in ddl)
    return restore_idx + unique_first


async def load_postgres(url: str, gen: Generator, args: argparse.Namespace, timer: Timer) -> dict:
    import asyncpg

    if args.recreate:
        await _pg_recreate(url)
    await _migrate(url, gen.first_day * MS_PER_DAY, gen.end_ms)
    timer.lap("migrate")
    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        await _pg_empty_check(conn)
        await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 2")
        rng = random.Random(args.seed + 1)
        await conn.copy_records_to_table(
            "accounts", records=[(a.id, _account_name(rng, a.id), 0, a.created_at) for a in gen.accounts], columns=ACCOUNT_COLUMNS
        )
        measured = _measured(gen)
        issued = await _create_measured_keys(url, gen, measured)
        first = (await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM access_keys")) + 1
        await conn.copy_records_to_table("access_keys", records=_bulk_keys(gen, {a.id for a in measured}, first), columns=KEY_COLUMNS)
        timer.lap("accounts and keys")
        restore = [] if args.keep_indexes else await _pg_drop_secondary(conn, ("predictions", "orders", "billing_records", "billing_record_keys"))
        timer.lap("drop indexes")
        for records, predictions, orders in pipelined(gen, args.chunk):
            await conn.copy_records_to_table("predictions", records=predictions, columns=PREDICTION_COLUMNS)
            await conn.copy_records_to_table("orders", records=orders, columns=ORDER_COLUMNS)
            await conn.copy_records_to_table("billing_records", records=records, columns=RECORD_COLUMNS)
            await conn.copy_records_to_table("billing_record_keys", records=map(_record_keys, records), columns=KEY_COLUMNS_PG)
            _progress(records, args.records)
        timer.lap("generate and copy")
        for ddl in restore:
            await conn.execute(ddl)
        timer.lap("rebuild indexes and constraints")
        for table in ("accounts", "access_keys", "predictions", "orders", "billing_records"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))")
        await conn.execute(BALANCES_PG)
        await conn.execute(ROLLUP_BILLING_DAILY)
        await conn.execute(ROLLUP_BILLING_DAILY_SHARDS)
        await conn.execute(ROLLUP_USAGE_DAILY)
        for statement in ACCOUNT_SPEND:
            await conn.execute(statement.format(day=gen.end_ms // MS_PER_DAY))
        windows = spend_windows(await conn.fetch(SPEND_BY_DAY))
        await conn.copy_records_to_table("spend_windows", records=windows, columns=SPEND_WINDOWS_COLUMNS)
        await conn.execute(ROLLUP_BILLING_MONTHLY.format(month=MONTH_PG))
        for statement in AUDIT_LOADED:
            await conn.execute(statement)
        timer.lap("balances and rollups")
        await conn.execute("VACUUM (ANALYZE)")
        timer.lap("vacuum analyze")
        balances = dict(await conn.fetch("SELECT id, balance FROM accounts"))
    finally:
        await conn.close()
    return {"issued": issued, "balances": balances}


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def load_sqlite(url: str, gen: Generator, args: argparse.Namespace, timer: Timer) -> dict:
    path = _sqlite_path(url)
    if args.recreate:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(_migrate(url))
    timer.lap("migrate")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if conn.execute("SELECT 1 FROM billing_records LIMIT 1").fetchone():
            raise SystemExit("the database already has billing records; pass --recreate to start from scratch")
        rng = random.Random(args.seed + 1)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO accounts (id, name, balance, created_at) VALUES (?, ?, ?, ?)",
            [(a.id, _account_name(rng, a.id), 0, a.created_at) for a in gen.accounts],
        )
        conn.execute("COMMIT")
        measured = _measured(gen)
        issued = asyncio.run(_create_measured_keys(url, gen, measured))
        first = conn.execute("SELECT COALESCE(MAX(id), 0) FROM access_keys").fetchone()[0] + 1
        # The server left the file in WAL mode; loading needs neither a journal nor fsyncs.
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY",
                       "locking_mode=EXCLUSIVE", "foreign_keys=OFF"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN")
        conn.executemany(_insert_sql("access_keys", KEY_COLUMNS), _bulk_keys(gen, {a.id for a in measured}, first))
        conn.execute("COMMIT")
        timer.lap("accounts and keys")
        restore = []
        if not args.keep_indexes:
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('predictions', 'orders', 'billing_records')"
            ).fetchall():
                conn.execute(f'DROP INDEX "{name}"')
                restore.append(sql)
        timer.lap("drop indexes")
        insert_p = _insert_sql("predictions", PREDICTION_COLUMNS)
        insert_o = _insert_sql("orders", ORDER_COLUMNS)
        insert_r = _insert_sql("billing_records", RECORD_COLUMNS)
        for records, predictions, orders in pipelined(gen, args.chunk):
            conn.execute("BEGIN")
            conn.executemany(insert_p, predictions)
            conn.executemany(insert_o, orders)
            conn.executemany(insert_r, records)
            conn.execute("COMMIT")
            _progress(records, args.records)
        timer.lap("generate and insert")
        for sql in restore:
            conn.execute(sql)
        timer.lap("rebuild indexes")
        conn.execute("BEGIN")
        conn.execute(BALANCES_SQLITE)
        conn.execute(ROLLUP_BILLING_DAILY)
        conn.execute(ROLLUP_BILLING_DAILY_SHARDS)
        conn.execute(ROLLUP_USAGE_DAILY)
        for statement in ACCOUNT_SPEND:
            conn.execute(statement.format(day=gen.end_ms // MS_PER_DAY))
        conn.executemany(_insert_sql("spend_windows", SPEND_WINDOWS_COLUMNS), spend_windows(conn.execute(SPEND_BY_DAY).fetchall()))
        conn.execute(ROLLUP_BILLING_MONTHLY.format(month=MONTH_SQLITE))
        for statement in AUDIT_LOADED:
            conn.execute(statement)
        conn.execute("COMMIT")
        timer.lap("balances and rollups")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA locking_mode=NORMAL")
        conn.execute("PRAGMA journal_mode=WAL")
        timer.lap("analyze")
        balances = dict(conn.execute("SELECT id, balance FROM accounts").fetchall())
    finally:
        conn.close()
    return {"issued": issued, "balances": balances}


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _measured(gen: Generator) -> list[Account]:
    """The big account, the ten medium ones, and a typical small one (the median-sized)."""
    big_and_medium = [a for a in gen.accounts if a.kind != "small"]
    small = sorted((a for a in gen.accounts if a.kind == "small" and a.last_day == gen.days - 1), key=lambda a: a.target)
    return big_and_medium + ([small[len(small) // 2]] if small else [])


_last_progress = [0.0]


def _progress(records: list, target: int) -> None:
    now = time.perf_counter()
    if now - _last_progress[0] > 10 and records:
        _last_progress[0] = now
        print(f"  ... {records[-1][0]:,} of ~{target:,} records", file=sys.stderr, flush=True)


def default_meta_path(url: str) -> Path:
    """Where the runner finds the data set's description: next to a SQLite file; under bench/out/
    (named after the database) for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Path(str(_sqlite_path(url)) + ".meta.json")
    return OUT / f"{parsed.database}.meta.json"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="sqlite:///path.db or postgresql://user@host:port/dbname")
    parser.add_argument("--records", type=int, default=None, help="about this many billing records (default 10,000,000)")
    parser.add_argument("--accounts", type=int, default=None, help="accounts (default 10,000)")
    parser.add_argument("--quick", action="store_true", help="20,000 records over 50 accounts, same shape")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--end", default=None, help="end of the data (ISO date, exclusive; default: today, UTC)")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--chunk", type=int, default=200_000, help="records per COPY / transaction")
    parser.add_argument("--recreate", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--keep-indexes", action="store_true", help="load with every index in place (to measure the difference)")
    parser.add_argument("--meta", type=Path, default=None, help="where to write the data set's description (JSON)")
    args = parser.parse_args(argv)
    size = SIZES["quick"] if args.quick else SIZES["full"]
    args.records = args.records or size[0]
    args.accounts = args.accounts or size[1]
    if args.accounts < 12:
        parser.error("--accounts must be at least 12 (one big, ten medium, one small)")
    if args.end:
        from billbook.times import datetime_to_ms, parse_iso

        end_ms = datetime_to_ms(parse_iso(args.end))
    else:
        end_ms = now_ms() // MS_PER_DAY * MS_PER_DAY
    end_ms -= 1  # the last millisecond of the range, inclusive
    url = args.db
    dialect = make_url(url).get_backend_name()
    print(f"generating ~{args.records:,} records over {args.accounts:,} accounts and {args.days} days into {url}", file=sys.stderr)
    started = time.perf_counter()
    timer = Timer()
    gen = Generator(args.records, args.accounts, days=args.days, end_ms=end_ms, seed=args.seed)
    timer.lap("plan accounts")
    if dialect == "sqlite":
        loaded = load_sqlite(url, gen, args, timer)
    else:
        loaded = asyncio.run(load_postgres(url, gen, args, timer))
    elapsed = time.perf_counter() - started
    expected = {a.id: a.balance for a in gen.accounts}
    wrong = {k: (v, expected.get(k)) for k, v in loaded["balances"].items() if v != expected.get(k)}
    if wrong:
        raise SystemExit(f"balances differ from the generator's running balances: {list(wrong.items())[:5]}")
    total = gen.ids["record"]
    rows = total + gen.ids["prediction"] + gen.ids["order"]
    big = gen.accounts[0]
    measured = _measured(gen)
    issued = loaded["issued"]

    def describe(account: Account) -> dict:
        return {"id": account.id, "kind": account.kind, **issued[account.id]}

    rng = random.Random(args.seed + 2)
    meta = {
        "db": url,
        "dialect": dialect,
        "seed": args.seed,
        "requested": {"records": args.records, "accounts": args.accounts, "days": args.days, "quick": args.quick},
        "start_ms": (gen.first_day) * MS_PER_DAY,
        "end_ms": end_ms,
        "records": total,
        "predictions": gen.ids["prediction"],
        "by_type": gen.counts,
        "prediction_statuses": gen.statuses,
        "big": describe(big),
        "medium": [describe(a) for a in measured if a.kind == "medium"],
        "small": describe(measured[-1]),
        "prediction_uuids": rng.sample(gen.sample_uuids, min(20, len(gen.sample_uuids))),
        "load": {
            "seconds": round(elapsed, 1),
            "records_per_s": round(total / elapsed),
            "rows_per_s": round(rows / elapsed),
            "rows": rows,
            "indexes_dropped": not args.keep_indexes,
            "phases": timer.phases,
        },
    }
    meta_path = args.meta or default_meta_path(url)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    mix = ", ".join(f"{k} {v:,} ({100 * v / total:.1f}%)" for k, v in gen.counts.items())
    print(
        f"loaded {total:,} records ({rows:,} rows with predictions and orders) in {elapsed:.1f} s: "
        f"{total / elapsed:,.0f} records/s, {rows / elapsed:,.0f} rows/s\n"
        f"mix: {mix}\nbig account {big.id}: ~{big.target:,} records; description in {meta_path}",
        file=sys.stderr,
    )
    return meta


if __name__ == "__main__":
    main()
