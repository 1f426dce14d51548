"""PostgreSQL search plans right after a bulk load, with statistics from before it.

A back-fill through ``charges/batch`` leaves the planner with the statistics of the database as it
was before (a few records spread over many accounts) for minutes, until autovacuum's ANALYZE;
here autovacuum is off for the loaded tables, as if it had not come round yet. Each search case of
the benchmark is then run by the ledger, with ``auto_explain`` sending the plan of every statement
back to this client as a notice, and each plan's SHAPE is checked: the records are read through
the ``(account_id, …, created_at, id)`` indexes in index order, never by a sequential or bitmap
scan, nothing sorts more than one page, and no statement reads more records than a page and a
few days' worth (``auto_explain`` reports the rows each node read: counts, not timings).

``billing_records`` is partitioned by month here: plans name each month's table and index, and are
read under the partitioned table's and index's names (a month's records are a part of the table).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from billbook.api.app import create_app
from billbook.ledger import search
from billbook.settings import Settings
from billbook.store.db import Database
from billbook.times import MS_PER_DAY
from tests.conftest import ADMIN_TOKEN, drop_pg_database, new_pg_database, open_database
from tests.factories import acreate_account, acreate_key

pytestmark = pytest.mark.postgres

CHARGES = 100_000
BATCH = 1_000
MODELS = ("m/a", "m/b", "m/c")
LOADED_TABLES = ("billing_records", "predictions", "orders", "billing_daily", "usage_daily")
RECORD_INDEXES = {
    "ix_billing_records_account_time",
    "ix_billing_records_account_type_time",
    "ix_billing_records_account_model_time",
    "ix_billing_records_account_key_time",
    "pk_billing_records",
    "ix_billing_records_prediction",
}
BAD_NODES = {"Seq Scan", "Bitmap Heap Scan", "Bitmap Index Scan"}
#: Accounts in the database when its statistics were taken, besides the one loaded afterwards.
OTHER_ACCOUNTS = 200
#: Records a statement may read beyond its page's: three days of the loaded account's records.
DAYS_READ = 3 * CHARGES // 360


@pytest.fixture(scope="module")
def unanalysed_url(pg_admin_url: str) -> Iterator[str]:
    name, url = new_pg_database(pg_admin_url)
    yield url
    drop_pg_database(pg_admin_url, name)


@pytest.fixture(scope="module")
async def loaded(unanalysed_url: str) -> AsyncIterator[dict]:
    """One account with ``CHARGES`` charges over 360 days, loaded through the API; no ANALYZE."""
    app = create_app(Settings(database_url=unanalysed_url, admin_token=ADMIN_TOKEN))
    async with app.router.lifespan_context(app):
        db: Database = app.state.db
        async with db.transaction(write=True) as conn:
            for table in await _leaf_tables(conn, LOADED_TABLES):
                await conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test", timeout=120) as http:
            account = await acreate_account(http, ADMIN_TOKEN, balance="1000000")
            key = await acreate_key(http, ADMIN_TOKEN, account["id"])
            for i in range(OTHER_ACCOUNTS):
                await acreate_account(http, ADMIN_TOKEN, name=f"other-{i}", balance="10")
            # The statistics a live server has before a back-fill: many accounts, few records each.
            async with db.transaction(write=True) as conn:
                await conn.exec_driver_sql("ANALYZE")
            rng = random.Random(5)
            now = int(time.time() * 1000)
            uuids = []
            for _ in range(CHARGES // BATCH):
                charges = []
                for _ in range(BATCH):
                    uuids.append(f"{rng.getrandbits(128):032x}")
                    charges.append(
                        {
                            "prediction_uuid": uuids[-1],
                            "access_key_id": key["access_key_id"],
                            "model_uuid": rng.choice(MODELS),
                            "price": "0.01",
                            "created_at": now - rng.randrange(360 * MS_PER_DAY),
                        }
                    )
                response = await http.post(
                    "/internal/v1/charges/batch", json={"charges": charges}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                )
                assert response.status_code == 200, response.text
    async with db_for(unanalysed_url) as db:
        async with db.transaction(write=False) as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            known = await raw.fetchval(
                "SELECT sum(greatest(reltuples, 0)) FROM pg_class WHERE relname LIKE 'billing\\_records%' AND relkind = 'r'"
            )
            autoanalysed = await raw.fetchval(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname LIKE 'billing\\_records%' AND last_autoanalyze IS NOT NULL"
            )
            parts = dict(await raw.fetch(PARTS))
    assert known < CHARGES / 10 and autoanalysed == 0, "the records were analysed: this test would not see stale statistics"
    yield {"account_id": account["id"], "access_key_id": key["access_key_id"], "uuids": uuids, "now": now, "parts": parts}


#: Each partition, and each partition's index, with the partitioned table or index it is part of.
PARTS = (
    "SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " JOIN pg_class p ON p.oid = i.inhparent"
)


async def _leaf_tables(conn, tables: tuple[str, ...]) -> list[str]:  # noqa: ANN001
    """``tables``, each partitioned one replaced by its partitions (which hold the rows and statistics)."""
    rows = (await conn.exec_driver_sql(PARTS)).all()
    parts: dict[str, list[str]] = {}
    for child, parent in rows:
        parts.setdefault(parent, []).append(child)
    return [leaf for table in tables for leaf in parts.get(table, [table])]


def _as_parents(plan: dict, parts: dict[str, str]) -> dict:
    """The plan with each partition and partition index named as the partitioned one."""
    for key in ("Relation Name", "Index Name"):
        if key in plan:
            plan[key] = parts.get(plan[key], plan[key])
    for child in plan.get("Plans", ()):
        _as_parents(child, parts)
    return plan


def db_for(url: str):  # noqa: ANN201 - an async context manager
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def manage() -> AsyncIterator[Database]:
        db = open_database(url)
        try:
            yield db
        finally:
            await db.dispose()

    return manage()


def _cases(data: dict) -> dict[str, tuple[search.Criteria, int, int]]:
    """The benchmark's search cases, scaled to this data set: ``(criteria, page, page_size)``."""
    account = data["account_id"]
    window_end = data["now"] - 60 * MS_PER_DAY - 37_123_456
    window = {"start_ms": window_end - 30 * MS_PER_DAY, "end_ms": window_end}
    deep = int(CHARGES * 2 / 3 / 100)
    return {
        "page1": (search.Criteria(account_id=account), 1, 100),
        "type_30d": (search.Criteria(account_id=account, billing_type="deduct", **window), 1, 100),
        "type_30d_page3": (search.Criteria(account_id=account, billing_type="deduct", **window), 3, 100),
        "deep": (search.Criteria(account_id=account), deep, 100),
        "deep_ascending": (search.Criteria(account_id=account, ascending=True), deep, 100),
        "uuids": (search.Criteria(account_id=account, prediction_uuids=tuple(data["uuids"][:20])), 1, 100),
        "model": (search.Criteria(account_id=account, model_uuids=("m/b",)), 1, 100),
        "model_deep": (search.Criteria(account_id=account, model_uuids=("m/b",)), deep // 3, 100),
        "model_30d": (search.Criteria(account_id=account, model_uuids=("m/b",), **window), 1, 100),
        "key_30d": (search.Criteria(account_id=account, access_key_ids=(data["access_key_id"],), **window), 1, 100),
    }


CASES = ("page1", "type_30d", "type_30d_page3", "deep", "deep_ascending", "uuids", "model", "model_deep", "model_30d", "key_30d")


async def _plans(url: str, criteria: search.Criteria, page: int, page_size: int, parts: dict[str, str]) -> list[dict]:
    """Run one search as the server does and return the plan of every statement it sent."""
    plans: list[dict] = []

    def listen(_conn: object, message: object) -> None:
        text = getattr(message, "message", "")
        if text.startswith("duration:") and "{" in text:
            plan = _as_parents(json.loads(text[text.index("{") :])["Plan"], parts)
            # asyncpg's own type introspection reads the catalogs; only billbook's statements count.
            if not any(n.get("Relation Name", "").startswith("pg_") for n, _ in _nodes(plan)):
                plans.append(plan)

    async with db_for(url) as db:
        async with db.transaction(write=False) as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.execute(
                "LOAD 'auto_explain'; SET LOCAL auto_explain.log_min_duration = 0;"
                " SET LOCAL auto_explain.log_analyze = on; SET LOCAL auto_explain.log_timing = off;"
                " SET LOCAL auto_explain.log_format = json; SET LOCAL auto_explain.log_level = notice;"
                " SET LOCAL client_min_messages = notice"
            )
            raw.add_log_listener(listen)
            result = await search.search(conn, criteria, page, page_size)
        # The last statement's plan is reported when its portal closes, at the end of the transaction.
        raw.remove_log_listener(listen)
    assert result.total > 0 and plans
    return plans


def _nodes(plan: dict, under_limit: bool = False) -> Iterator[tuple[dict, bool]]:
    """Every node with whether a ``Limit`` is above it."""
    yield plan, under_limit
    for child in plan.get("Plans", ()):
        yield from _nodes(child, under_limit or plan["Node Type"] == "Limit")


def _record_scans(plan: dict) -> list[dict]:
    """Scans of ``billing_records`` that ran: a month's scan pruned at run time (``Actual Loops``
    0, a record fetched by ``(created_at, id)`` reads one month) read nothing."""
    return [
        n for n, _ in _nodes(plan) if n.get("Relation Name") == "billing_records" and n.get("Actual Loops", 1) > 0
    ]


def _shape_problems(plan: dict) -> list[str]:
    problems = []
    for node, _ in _nodes(plan):
        if node["Node Type"] in BAD_NODES:
            problems.append(f"{node['Node Type']} on {node.get('Relation Name', node.get('Index Name'))}")
    for scan in _record_scans(plan):
        if scan.get("Index Name") not in RECORD_INDEXES:
            problems.append(f"billing_records read by {scan['Node Type']} on {scan.get('Index Name')}")
    for node, _ in _nodes(plan):
        if node["Node Type"] != "Sort":
            continue
        # A Sort may order one page of joined rows (records chosen under a Limit, then fetched by
        # primary key) or the records of the chosen predictions (at most a hundred predictions'),
        # never the account's records themselves.
        unlimited = [
            n for n, limited in _nodes(node)
            if n.get("Relation Name") == "billing_records" and not limited and n.get("Actual Loops", 1) > 0
            and n.get("Index Name") not in ("pk_billing_records", "ix_billing_records_prediction")
        ]
        if unlimited:
            problems.append(f"Sort over billing_records read by {unlimited[0]['Node Type']} (not one page)")
    return problems


def _records_read(plan: dict) -> int:
    """Index entries or rows of ``billing_records`` the statement's scans read, kept or filtered out."""
    return sum(
        (int(n.get("Actual Rows", 0)) + int(n.get("Rows Removed by Filter", 0))) * int(n.get("Actual Loops", 1))
        for n in _record_scans(plan)
    )


#: Deep pages of a model filter still skip their offset through the model's index.
SKIPS_BY_INDEX = {"model_deep"}


@pytest.mark.parametrize("case", CASES)
async def test_search_plans_hold_without_statistics(case: str, loaded: dict, unanalysed_url: str) -> None:
    criteria, page, page_size = _cases(loaded)[case]
    plans = await _plans(unanalysed_url, criteria, page, page_size, loaded["parts"])
    problems = {i: _shape_problems(p) for i, p in enumerate(plans) if _shape_problems(p)}
    if case not in SKIPS_BY_INDEX:
        # The page's ids, then the same records fetched by primary key, plus a few days of entries.
        for i, p in enumerate(plans):
            if _records_read(p) > 2 * page_size + DAYS_READ:
                problems.setdefault(i, []).append(f"reads {_records_read(p)} records")
    assert not problems, json.dumps({"problems": problems, "plans": plans}, indent=1)[:6000]
    # Every statement that reads records reads them through an index.
    assert any(_record_scans(p) for p in plans), [(p["Node Type"], [n.get("Relation Name") for n, _ in _nodes(p)]) for p in plans]
