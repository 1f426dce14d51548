"""Drive one seed's workload through the HTTP API and compare every answer with the model.

After each step the database's balances and record counts of the seed's accounts must equal the
model's; at the end every account is read back through the public search API and the whole
database must pass ``verify``. The first disagreement raises ``Mismatch`` naming the seed, the
step and the request, so the seed can be replayed alone.

A ``sweep`` step runs one sweep of expired holds as ``billbook holds expire`` does, in its own
transactions; it must expire exactly the predictions the model says, and each seed ends with one.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from billbook.ledger.holds import sweep
from billbook.store.db import Database
from billbook.store.tables import accounts, billing_records, predictions, spend_windows
from billbook.times import now_ms
from tests.checks import averify
from tests.workload.generator import BASE_MS, DAY_MS, Generator
from tests.workload.model import Key, LedgerModel, Outcome, Version


class Mismatch(AssertionError):
    """The server and the model disagree."""


def micros(usd: Any) -> int:
    return int(Decimal(str(usd)) * 1_000_000)


def iso_ms(text: str) -> int:
    """``2026-01-01T00:00:00.000Z`` as milliseconds since the epoch."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


class Runner:
    def __init__(self, http: httpx.AsyncClient, db: Database, admin_token: str, seed: int, hold_default_s: int) -> None:
        self.http, self.db, self.seed = http, db, seed
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        start = now_ms()
        self.model = LedgerModel(clock=start, hold_default_s=hold_default_s)
        self.gen = Generator(seed, self.model, start)
        self.step_no = 0
        self.op: dict | None = None

    def fail(self, message: str) -> Mismatch:
        return Mismatch(f"seed {self.seed}, step {self.step_no}: {message}\n  request: {self.op}")

    # --- set-up ---------------------------------------------------------------------------------

    async def _post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.admin)

    async def _new_key(self, account_id: int, *, auditor: bool = False) -> httpx.Response:
        response = await self._post(f"/internal/v1/accounts/{account_id}/keys", {"name": "auditor" if auditor else "k"})
        if response.status_code == 200:
            data = response.json()["data"]
            self.model.add_key(Key(data["access_key_id"], data["ak_id"], account_id, data["api_key"], auditor=auditor))
        return response

    async def setup(self) -> None:
        rng = self.gen.rng
        for n in range(rng.randint(2, 3)):
            opening = rng.choice((0, 1_000_000, 5_000_000, 20_000_000))
            body = {"name": f"seed{self.seed}-{n}", "balance": str(Decimal(opening).scaleb(-6))}
            response = await self._post("/internal/v1/accounts", body)
            assert response.status_code == 200, response.text
            account_id = response.json()["data"]["id"]
            self.model.add_account(account_id, opening)
            await self._new_key(account_id, auditor=True)
            await self._new_key(account_id)
        # The seed's catalog models, priced from before every back-filled charge.
        for model_id in self.gen.catalog:
            await self.step(self.gen.version(model_id, rng.choice((10_000, 25_000)), BASE_MS - DAY_MS))

    # --- steps -----------------------------------------------------------------------------------

    def _compare(self, expected: Outcome, response: httpx.Response, data: dict | None = None) -> None:
        if response.status_code != expected.status:
            raise self.fail(f"status {response.status_code}, model says {expected.status}: {response.text[:300]}")
        payload = response.json()
        if payload.get("code") != response.status_code:
            raise self.fail(f"envelope code {payload.get('code')} != HTTP {response.status_code}")
        data = data if data is not None else payload.get("data")
        for name, want in expected.fields.items():
            got = data.get(name) if data else None
            if name == "balance":
                got = micros(got)
            if got != want:
                raise self.fail(f"{name} is {got!r}, model says {want!r}")
        if expected.message is not None and expected.message not in (payload.get("message") or ""):
            raise self.fail(f"message {payload.get('message')!r} does not say {expected.message!r}")

    async def step(self, op: dict) -> None:
        self.op = op
        kind = op["kind"]
        if kind == "charge":
            expected = self.model.expect_charge(op["charge"])
            self._compare(expected, await self._post("/internal/v1/charges", op["body"]))
        elif kind == "batch":
            await self._batch(op)
        elif kind == "status":
            expected = self.model.expect_status(op["uuid"], op["status"])
            response = await self._post(f"/internal/v1/predictions/{op['uuid']}/status", op["body"])
            self._compare(expected, response)
        elif kind in ("recharge", "adjust"):
            expected = self.model.expect_funds(kind, op["account_id"], op["amount"], op["reference"], op["reason"])
            path = f"/internal/v1/accounts/{op['account_id']}/{kind}{'s' if kind == 'recharge' else 'ments'}"
            self._compare(expected, await self._post(path, op["body"]))
        elif kind == "revoke":
            expected = self.model.expect_revoke(op["access_key_id"])
            self._compare(expected, await self.http.delete(f"/internal/v1/keys/{op['access_key_id']}", headers=self.admin))
        elif kind == "new_key":
            response = await self._new_key(op["account_id"])
            self._compare(Outcome(200), response)
        elif kind == "version":
            response = await self.http.put(f"/internal/v1/models/{op['model_id']}", json=op["body"], headers=self.admin)
            at = op["effective_from"]
            if at is None and response.status_code == 200:
                at = iso_ms(response.json()["data"]["effective_from"])
            expected = self.model.expect_version(op["model_id"], Version(at, op["base_price"], op["formula"]))
            self._compare(expected, response)
        elif kind == "discount":
            path = f"/internal/v1/accounts/{op['account_id']}/discounts"
            expected = self.model.expect_discount(op["account_id"], op["model_id"], op["rate_bp"])
            response = await self.http.put(path, json=op["body"], headers=self.admin)
            self._compare(expected, response)
            if expected.fields.get("changed"):
                set_at = iso_ms(response.json()["data"]["set_at"])
                self.model.record_discount(op["account_id"], op["model_id"], op["rate_bp"], set_at)
        elif kind == "sweep":
            await self._sweep()
        elif kind == "limits":
            await self._limits(op)
        elif kind == "balance":
            key = self.model.keys[op["key"]]
            expected = self.model.expect_balance(key.api_key)
            headers = {"Authorization": f"Bearer {key.api_key}"}
            self._compare(expected, await self.http.get("/api/v3/balance", headers=headers))
        else:
            raise AssertionError(f"unknown step {kind}")

    async def _batch(self, op: dict) -> None:
        expected = [self.model.expect_charge(item["charge"]) for item in op["items"]]
        response = await self._post("/internal/v1/charges/batch", op["body"])
        self._compare(Outcome(200), response)
        results = response.json()["data"]["results"]
        names = {402: "insufficient", 403: "limited", 400: "invalid", 404: "invalid", 409: "invalid"}
        for index, (want, got) in enumerate(zip(expected, results, strict=True)):
            status = names.get(want.status) or ("created" if want.fields.get("created") else "duplicate")
            if got["status"] != status or got["code"] != want.status:
                raise self.fail(f"batch item {index}: {got['status']}/{got['code']}, model says {status}/{want.status}")

    async def _limits(self, op: dict) -> None:
        """Operator limits over ``/internal/v1``, the customer's over ``/api/v3`` with the
        account's auditor key (never revoked); the answer's applied limits are the model's."""
        account_id, subject = op["account_id"], op["subject"]
        expected = self.model.expect_limits(account_id, subject, op["setter"], op["values"])
        if op["setter"] == "operator":
            path = f"/internal/v1/keys/{subject}/limits" if subject else f"/internal/v1/accounts/{account_id}/limits"
            headers = self.admin
        else:
            path = f"/api/v3/access_keys/{subject}/limits" if subject else "/api/v3/account/limits"
            auditor = next(k for k in self.model.keys.values() if k.auditor and k.account_id == account_id)
            headers = {"Authorization": f"Bearer {auditor.api_key}"}
        response = await self.http.put(path, json=op["body"], headers=headers)
        self._compare(expected, response)
        applied = response.json()["data"]["limits"]["applied"]
        for period, value in applied.items():
            want = self.model.applied(account_id, subject, period)
            if (None if value is None else micros(value)) != want:
                raise self.fail(f"applied {period} limit {value}, model says {want}")

    async def _sweep(self) -> None:
        """One sweep, a batch per write transaction, as ``billbook holds expire`` runs it. Every
        earlier seed ended with a sweep and no hold ends within an hour of now, so the predictions
        it expires are exactly the ones the model expects, of this seed."""
        due = self.model.expect_sweep()
        expired = await sweep(lambda: self.db.transaction(write=True))
        if expired != len(due):
            raise self.fail(f"sweep expired {expired} hold(s), model says {len(due)}")
        await self.check_statuses()

    # --- checks ----------------------------------------------------------------------------------

    async def check_database(self) -> None:
        """Balances and record counts of the seed's accounts equal the model's."""
        ids = list(self.model.accounts)
        r = billing_records.c
        query = (
            select(accounts.c.id, accounts.c.balance, r.billing_type, func.count(r.id))
            .select_from(accounts.outerjoin(billing_records, r.account_id == accounts.c.id))
            .where(accounts.c.id.in_(ids))
            .group_by(accounts.c.id, accounts.c.balance, r.billing_type)
        )
        balances: dict[int, int] = {}
        counts: dict[int, Counter] = {i: Counter() for i in ids}
        async with self.db.transaction(write=False) as conn:
            for account_id, balance, kind, n in (await conn.execute(query)).all():
                balances[account_id] = balance
                if kind is not None:
                    counts[account_id][kind] = n
        await self._check_spend(ids)
        for account_id, account in self.model.accounts.items():
            if balances[account_id] != account.balance:
                raise self.fail(f"account {account_id} balance {balances[account_id]}, model says {account.balance}")
            if counts[account_id] != account.counts():
                raise self.fail(f"account {account_id} records {dict(counts[account_id])}, model says {dict(account.counts())}")

    async def _check_spend(self, ids: list[int]) -> None:
        """The spend rollup of the seed's accounts equals the model's spend in every window."""
        w = spend_windows.c
        query = select(w.account_id, w.access_key_id, w.period, w.start, w.amount).where(w.account_id.in_(ids))
        async with self.db.transaction(write=False) as conn:
            stored = {tuple(row[:4]): row[4] for row in (await conn.execute(query)).all() if row[4]}
        want = {k: v for k, v in self.model.spend.items() if v}
        if stored != want:
            diff = {k: (stored.get(k), want.get(k)) for k in set(stored) | set(want) if stored.get(k) != want.get(k)}
            raise self.fail(f"spend windows (stored, model): {dict(list(diff.items())[:5])}")

    async def check_statuses(self) -> None:
        """Every prediction of the seed has the model's status."""
        c = predictions.c
        query = select(c.uuid, c.status).where(c.uuid.in_(list(self.model.predictions)))
        async with self.db.transaction(write=False) as conn:
            stored = dict((await conn.execute(query)).all())
        for uuid, p in self.model.predictions.items():
            if stored.get(uuid) != p.status:
                raise self.fail(f"prediction {uuid} is {stored.get(uuid)}, model says {p.status} (hold {p.hold_s} s)")

    async def _records(self, key: Key) -> list[dict]:
        items, page = [], 1
        headers = {"Authorization": f"Bearer {key.api_key}"}
        while True:
            body = {"page": page, "page_size": 100, "sort": "created_at ASC"}
            response = await self.http.post("/api/v3/billings/search", json=body, headers=headers)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            items += data["items"]
            if not data["has_more"]:
                return items
            page += 1

    async def _check_amounts(self, key: Key, items: list[dict]) -> None:
        """The balance rebuilt from the searched records equals ``/api/v3/balance``: the sum of
        ``amount``, and ``balance_after`` as a running sum in write order (record id order)."""
        headers = {"Authorization": f"Bearer {key.api_key}"}
        balance = micros((await self.http.get("/api/v3/balance", headers=headers)).json()["data"]["balance"])
        if sum(micros(i["amount"]) for i in items) != balance:
            raise self.fail(f"account {key.account_id}: amounts sum to {sum(micros(i['amount']) for i in items)}, balance {balance}")
        async with self.db.transaction(write=False) as conn:
            query = select(billing_records.c.uuid, billing_records.c.id).where(billing_records.c.account_id == key.account_id)
            ids = dict((await conn.execute(query)).all())
        running = 0
        for item in sorted(items, key=lambda i: ids[i["uuid"]]):
            running += micros(item["amount"])
            if micros(item["balance_after"]) != running:
                raise self.fail(f"record {item['uuid']}: balance_after {item['balance_after']}, running sum {running}")
        if running != balance:
            raise self.fail(f"account {key.account_id}: last balance_after {running}, balance {balance}")

    async def check_final(self) -> None:
        """Each account read back through the public API; then ``verify`` over the database."""
        auditors = {k.account_id: k for k in self.model.keys.values() if k.auditor}
        for account_id, account in self.model.accounts.items():
            items = await self._records(auditors[account_id])
            got = sorted(
                ((i["billing_type"], micros(i["price"]), i["prediction"]["uuid"] if i["prediction"] else None)
                 for i in items),
                key=str,
            )
            want = sorted(account.records, key=str)
            if got != want:
                raise self.fail(f"account {account_id} search shows {got}, model has {want}")
            await self._check_amounts(auditors[account_id], items)
            for item in items:
                if item["prediction"] is None:
                    continue
                p = self.model.predictions[item["prediction"]["uuid"]]
                if (item["prediction"]["status"], item["order"]["state"]) != (p.status, p.order_state):
                    raise self.fail(f"prediction {p.uuid} shows {item['prediction']['status']}/{item['order']['state']}, "
                                    f"model has {p.status}/{p.order_state}")
        report = await averify(self.db)
        if not report.ok:
            raise self.fail("verify: " + "; ".join(map(str, report.violations[:10])))


async def run_seed(
    http: httpx.AsyncClient, db: Database, admin_token: str, seed: int, steps: int, hold_default_s: int
) -> None:
    runner = Runner(http, db, admin_token, seed, hold_default_s)
    await runner.setup()
    for runner.step_no in range(1, steps + 1):
        await runner.step(runner.gen.next())
        await runner.check_database()
    runner.step_no = steps + 1
    await runner.step({"kind": "sweep"})  # the seed's expired holds, so the next seed's sweeps count its own
    await runner.check_database()
    runner.op = None
    await runner.check_final()
