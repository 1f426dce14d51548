"""After random workloads (tests/workload): the operator's reads agree with a recomputation from
the records, and the search across every account agrees with the search of each account."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import select

from billbook.store.tables import access_keys, billing_records, orders
from billbook.times import MS_PER_DAY, now_ms
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_key
from tests.workload.runner import micros, run_seed

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SEEDS = {"sqlite": 6, "postgresql": 3}


async def _all(client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]) -> list[dict]:
    items: list[dict] = []
    page = 1
    while True:
        if method == "GET":
            response = await client.get(path, params={**body, "page": page, "page_size": 100}, headers=ADMIN)
        else:
            response = await client.post(path, json={**body, "page": page, "page_size": 100}, headers=ADMIN)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        items += data["items"]
        if not data["has_more"]:
            assert len(items) == data["total"]
            return items
        page += 1


async def _recomputed(db: Any) -> dict[int, dict[str, int]]:
    """Balance, held money, 30-day spend and active keys of every account, from the rows."""
    first_day = now_ms() // MS_PER_DAY - 29
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"balance": 0, "held": 0, "spend_30d": 0, "keys": 0})
    async with db.transaction(write=False) as conn:
        records = (await conn.execute(select(billing_records))).mappings().all()
        open_orders = (await conn.execute(select(orders).where(orders.c.state == "pre"))).mappings().all()
        keys = (await conn.execute(select(access_keys))).mappings().all()
    deduct_day = {r["order_id"]: r["created_at"] // MS_PER_DAY for r in records if r["billing_type"] == "deduct"}
    for r in records:
        out[r["account_id"]]["balance"] += r["delta"]
        if r["billing_type"] in ("deduct", "refund") and deduct_day[r["order_id"]] >= first_day:
            out[r["account_id"]]["spend_30d"] -= r["delta"]
    for o in open_orders:
        out[o["account_id"]]["held"] += o["price"]
    for k in keys:
        out[k["account_id"]]["keys"] += k["revoked_at"] is None
    return out


async def _check_accounts(client: httpx.AsyncClient, db: Any) -> None:
    expected = await _recomputed(db)
    listed = await _all(client, "GET", "/internal/v1/accounts", {"sort": "-spend_30d"})
    assert len(listed) == len(expected) or all(expected[a["id"]]["balance"] == 0 for a in listed)
    for a in listed:
        got = {f: micros(a[f]) for f in ("balance", "held", "spend_30d")} | {"keys": a["keys"]}
        assert got == expected[a["id"]], (a["id"], got, expected[a["id"]])
        detail = (await client.get(f"/internal/v1/accounts/{a['id']}", headers=ADMIN)).json()["data"]
        assert micros(detail["spend_30d"]) == got["spend_30d"] and micros(detail["held"]) == got["held"]
        assert micros(detail["spend_today"]) <= micros(detail["spend_month"]) or got["spend_30d"] < 0
    spends = [micros(a["spend_30d"]) for a in listed]
    assert spends == sorted(spends, reverse=True)


FILTERS = ({}, {"billing_type": "deduct"}, {"billing_type": "recharge", "sort": "created_at ASC"})


async def _check_search(client: httpx.AsyncClient, account_ids: list[int]) -> None:
    for body in FILTERS:
        everyone = await _all(client, "POST", "/internal/v1/billings/search", body)
        by_account: dict[int, list[dict]] = defaultdict(list)
        for item in everyone:
            by_account[item["account_id"]].append(item)
        for account_id in account_ids:
            one = await _all(client, "POST", "/internal/v1/billings/search", {**body, "account_id": account_id})
            assert one == by_account.get(account_id, []), (body, account_id)
        models = sorted({i["prediction"]["model_uuid"] for i in everyone if i["prediction"]})[:2]
        for model in models:
            chosen = await _all(client, "POST", "/internal/v1/billings/search", {**body, "model_uuid": model})
            assert chosen == [i for i in everyone if i["prediction"] and i["prediction"]["model_uuid"] == model]


async def test_operator_reads_agree_with_the_records_after_random_workloads(client: httpx.AsyncClient, app, database_url: str) -> None:  # noqa: ANN001
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    steps = int(os.environ.get("BILLBOOK_STEPS", "30"))
    for seed in range(SEEDS[backend]):
        await run_seed(client, app.state.db, ADMIN_TOKEN, 9000 + seed, steps, app.state.settings.hold_timeout_s)
    await _check_accounts(client, app.state.db)
    ids = [a["id"] for a in await _all(client, "GET", "/internal/v1/accounts", {"sort": "created_at"})]
    await _check_search(client, ids)


async def test_public_search_agrees_with_the_operator_s_for_the_same_account(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    await run_seed(client, app.state.db, ADMIN_TOKEN, 777, 30, app.state.settings.hold_timeout_s)
    ids = [a["id"] for a in await _all(client, "GET", "/internal/v1/accounts", {})]
    assert ids
    for account_id in ids:
        key = await acreate_key(client, ADMIN_TOKEN, account_id, "reader")
        headers = {"Authorization": f"Bearer {key['api_key']}"}
        public: list[dict] = []
        page = 1
        while True:
            data = (await client.post("/api/v3/billings/search", json={"page": page, "page_size": 100}, headers=headers)).json()["data"]
            public += data["items"]
            if not data["has_more"]:
                break
            page += 1
        operator = await _all(client, "POST", "/internal/v1/billings/search", {"account_id": account_id})
        assert [dict(i, account_id=account_id) for i in public] == operator
