"""PostgreSQL's monthly partitions of billing records: a populated database converted, idempotency
across months (the unique keys live outside the partitions), back-dated records into old months,
and old months archived to Parquet and still balancing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from billbook.api.app import create_app
from billbook.ledger import accounts, archive, charges, funds, keys, search
from billbook.ledger.charges import Charge, charge
from billbook.ledger.errors import Archived, Conflict
from billbook.store import partitions
from billbook.settings import Settings
from billbook.store.db import Database
from billbook.store.migrate import upgrade
from billbook.store.partitions import Month
from tests.checks import assert_verified
from tests.conftest import ADMIN_TOKEN, DB_POOLER, drop_pg_database, new_pg_database, open_database

pytestmark = pytest.mark.postgres

NOV_2024 = Month(2024, 11).start_ms + 3_600_000
DEC_2024 = Month(2024, 12).start_ms + 3_600_000
MAR_2025 = Month(2025, 3).start_ms + 3_600_000
OLD = Month(2019, 5).start_ms + 5


@pytest.fixture
def own_url(pg_admin_url: str) -> Iterator[str]:
    """A database of its own (archiving drops partitions), with no schema yet."""
    name, url = new_pg_database(pg_admin_url)
    yield url
    drop_pg_database(pg_admin_url, name)


@pytest.fixture
async def pg(own_url: str) -> AsyncIterator[Database]:
    db = open_database(own_url)
    await upgrade(db)
    yield db
    await db.dispose()


async def _account(db: Database) -> tuple[int, str]:
    account_id, key = await _account_and_key(db)
    return account_id, key.access_key_id


async def _account_and_key(db: Database) -> tuple[int, keys.IssuedKey]:
    async with db.transaction(write=True) as conn:
        account = await accounts.create_account(conn, "a", 0)
        key = await keys.create_key(conn, account.id, "k")
    return account.id, key


async def _tables(db: Database) -> set[str]:
    async with db.transaction(write=False) as conn:
        return {m.table for m in await partitions.months(conn)}


async def test_a_populated_database_is_partitioned(own_url: str) -> None:
    db = open_database(own_url)
    try:
        await upgrade(db, "0005")
        async with db.transaction(write=True) as conn:
            await conn.execute(text("INSERT INTO accounts (id, name, balance, created_at) VALUES (1, 'a', 600, 0)"))
            for n, at in enumerate((NOV_2024, DEC_2024, MAR_2025, 0), start=1):
                await conn.execute(
                    text(
                        "INSERT INTO billing_records (uuid, account_id, billing_type, price, delta, balance_after,"
                        f" reference, created_at, updated_at) VALUES ('r{n}', 1, 'recharge', 150, 150, {150 * n},"
                        f" 'top-up-{n}', {at}, {at})"
                    )
                )
            await conn.execute(text(
                "INSERT INTO billing_daily (account_id, day, billing_type, count) SELECT account_id,"
                " CAST(created_at / 86400000 AS INTEGER), billing_type, COUNT(*) FROM billing_records"
                " GROUP BY account_id, CAST(created_at / 86400000 AS INTEGER), billing_type"
            ))
        await upgrade(db)
        assert {Month(2024, 11).table, Month(2024, 12).table, Month(2025, 3).table} <= await _tables(db)
        async with db.transaction(write=False) as conn:
            counts = dict((await conn.execute(text(
                "SELECT tableoid::regclass::text, count(*) FROM billing_records GROUP BY 1"
            ))).all())
            keyed = (await conn.execute(text("SELECT count(*) FROM billing_record_keys"))).scalar()
        assert counts == {Month(2024, 11).table: 1, Month(2024, 12).table: 1, Month(2025, 3).table: 1, partitions.DEFAULT: 1}
        assert keyed == 4
        async with db.transaction(write=True) as conn:  # the old references still hold
            again = await funds.recharge(conn, 1, 150, "top-up-2", at=MAR_2025)
        assert not again.created
        await assert_verified(db, unaudited=True)
    finally:
        await db.dispose()


async def test_a_reference_or_prediction_repeated_in_another_month_is_one_record(pg: Database) -> None:
    account_id, key = await _account(pg)
    async with pg.transaction(write=True) as conn:
        first = await funds.recharge(conn, account_id, 1_000_000, "ref-1", at=NOV_2024)
    async with pg.transaction(write=True) as conn:
        again = await funds.recharge(conn, account_id, 1_000_000, "ref-1", at=MAR_2025)
    assert not again.created and again.record.id == first.record.id
    sent = Charge(prediction_uuid="a" * 32, access_key_id=key, model_uuid="m", price=100, created_at=DEC_2024)
    async with pg.transaction(write=True) as conn:
        made = await charge(conn, sent)
    async with pg.transaction(write=True) as conn:
        retried = await charge(conn, sent)
    with pytest.raises(Conflict, match="different created_at"):
        async with pg.transaction(write=True) as conn:
            await charge(conn, Charge(**{**sent.__dict__, "created_at": MAR_2025}))
    assert made.created and not retried.created and retried.record_id == made.record_id
    async with pg.transaction(write=False) as conn:
        assert (await conn.execute(text("SELECT count(*) FROM billing_records WHERE order_id IS NOT NULL"))).scalar() == 1
    # The database itself refuses a second record under the same reference in another month.
    with pytest.raises(IntegrityError):
        async with pg.transaction(write=True) as conn:
            await conn.execute(text(
                "INSERT INTO billing_records (uuid, account_id, billing_type, price, delta, balance_after,"
                f" reference, created_at, updated_at) VALUES ('dup', {account_id}, 'recharge', 1, 1, 1, 'ref-1',"
                f" {MAR_2025}, {MAR_2025})"
            ))
            await conn.execute(text(
                "INSERT INTO billing_record_keys (id, created_at, uuid, account_id, billing_type, reference)"
                " SELECT id, created_at, uuid, account_id, billing_type, reference FROM billing_records WHERE uuid = 'dup'"
            ))
    await assert_verified(pg, unaudited=True)


async def test_a_back_dated_record_lands_in_its_month(pg: Database) -> None:
    account_id, _ = await _account(pg)
    async with pg.transaction(write=True) as conn:
        await funds.recharge(conn, account_id, 500, "old", at=OLD)
        where = (await conn.execute(text("SELECT tableoid::regclass::text FROM billing_records"))).scalar()
    assert where == partitions.DEFAULT  # no partition for that month yet
    async with pg.transaction(write=True) as conn:
        made = await partitions.maintain(conn, OLD + 1, ahead=0, back=0)
        where = (await conn.execute(text("SELECT tableoid::regclass::text FROM billing_records"))).scalar()
    assert Month(2019, 5) in made and where == Month(2019, 5).table
    await assert_verified(pg, unaudited=True)


async def test_archived_months_round_trip_and_still_balance(pg: Database, own_url: str, tmp_path: Path) -> None:
    account_id, issued = await _account_and_key(pg)
    key = issued.access_key_id
    async with pg.transaction(write=True) as conn:
        await funds.recharge(conn, account_id, 10_000, "nov", at=NOV_2024)
        for n, at in enumerate((NOV_2024, DEC_2024, DEC_2024 + 1, MAR_2025)):
            await charge(conn, Charge(prediction_uuid=f"{n:032x}", access_key_id=key, model_uuid="m", price=100 + n, created_at=at))
        await partitions.maintain(conn, MAR_2025, ahead=0, back=0)
    async with pg.transaction(write=False) as conn:
        expected = dict((await conn.execute(text(
            f"SELECT count(*), sum(delta) FROM billing_records WHERE created_at < {Month(2025, 1).start_ms}"
        ))).all())
    done = await archive.archive(lambda: pg.transaction(write=True), "2025-01", tmp_path)
    assert [m.month for m in done] == ["2024-11", "2024-12"]
    files = sorted(tmp_path.glob("*.parquet"))
    totals = [archive.parquet_totals(f) for f in files]
    assert {sum(t[0] for t in totals): sum(t[1] for t in totals)} == expected
    assert not {Month(2024, 11).table, Month(2024, 12).table} & await _tables(pg)
    await assert_verified(pg, unaudited=True)
    async with pg.transaction(write=False) as conn:
        with pytest.raises(Archived, match="2024-12"):
            await search.search(conn, search.Criteria(account_id=account_id, start_ms=NOV_2024), 1, 10)
        with pytest.raises(Archived, match="end_time"):
            await search.search(conn, search.Criteria(account_id=account_id, end_ms=DEC_2024), 1, 10)
        online = await search.search(conn, search.Criteria(account_id=account_id), 1, 10)
    assert online.total == 1 and online.items[0].created_at == MAR_2025
    # Over HTTP: a search of archived months says where they went; their usage still answers.
    app = create_app(Settings(database_url=own_url, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=None, db_pooler=DB_POOLER))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test") as http:
            auth = {"Authorization": f"Bearer {issued.api_key}"}
            gone = await http.post("/api/v3/billings/search", json={"start_time": NOV_2024}, headers=auth)
            whole_days = {"start_time": Month(2024, 11).start_ms, "end_time": Month(2024, 12).start_ms - 1}
            usage = await http.post("/api/v3/user/usage_stats", json=whole_days, headers=auth)
            part_day = await http.post(
                "/api/v3/user/usage_stats", json={"start_time": NOV_2024, "end_time": NOV_2024 + 86_400_000}, headers=auth
            )
    assert gone.status_code == 410 and "2024-12" in gone.json()["message"] and "parquet" in gone.json()["message"]
    assert usage.status_code == 200 and usage.json()["data"]["summary"]["total_requests"] == 1, usage.text
    assert part_day.status_code == 410 and "whole UTC days" in part_day.json()["message"]
    # Writes that would reach into an archived month are refused by name; the rest go on.
    attempts = [
        lambda conn: funds.recharge(conn, account_id, 10_000, "nov", at=MAR_2025),
        lambda conn: funds.recharge(conn, account_id, 10_000, "back-dated", at=DEC_2024),
        lambda conn: charge(conn, Charge(prediction_uuid=f"{1:032x}", access_key_id=key, model_uuid="m", price=101, created_at=DEC_2024)),
        lambda conn: charge(conn, Charge(prediction_uuid=f"{9:032x}", access_key_id=key, model_uuid="m", price=1, created_at=DEC_2024)),
        lambda conn: charges.set_status(conn, f"{1:032x}", "failed"),
    ]
    for attempt in attempts:
        with pytest.raises(Archived, match="archived month"):
            async with pg.transaction(write=True) as conn:
                await attempt(conn)
    async with pg.transaction(write=True) as conn:
        await charge(conn, Charge(prediction_uuid=f"{9:032x}", access_key_id=key, model_uuid="m", price=1, created_at=MAR_2025))
    await assert_verified(pg, unaudited=True)


async def test_a_first_page_that_assumed_the_old_archive_boundary_asks_again(pg: Database, own_url: str, tmp_path: Path) -> None:
    """A server remembers the archive boundary it last read and checks it inside page 1's own
    statement; another process archiving months meanwhile must not make it serve them."""
    account_id, key = await _account(pg)
    empty_id, _ = await _account(pg)
    async with pg.transaction(write=True) as conn:
        await funds.recharge(conn, account_id, 10_000, "nov", at=NOV_2024)
        for n, at in enumerate((NOV_2024, DEC_2024, MAR_2025)):
            await charge(conn, Charge(prediction_uuid=f"{n:032x}", access_key_id=key, model_uuid="m", price=100 + n, created_at=at))
        await partitions.maintain(conn, MAR_2025, ahead=0, back=0)
    server = open_database(own_url)  # another process's view: its own engine, its own memory
    try:
        for _ in range(2):  # the first search reads the boundary; the second assumes it
            async with server.transaction(write=False) as conn:
                assert (await search.search(conn, search.Criteria(account_id=account_id), 1, 10)).total == 4
                assert archive.known_boundary(conn) is None
        await archive.archive(lambda: pg.transaction(write=True), "2025-01", tmp_path)
        async with server.transaction(write=False) as conn:
            online = await search.search(conn, search.Criteria(account_id=account_id), 1, 10)
            assert archive.known_boundary(conn)[1] == "2024-12"
        assert online.total == 1 and [r.created_at for r in online.items] == [MAR_2025]
        async with server.transaction(write=False) as conn:
            with pytest.raises(Archived, match="2024-12"):
                await search.search(conn, search.Criteria(account_id=account_id, start_ms=NOV_2024), 1, 10)
            again = await search.search(conn, search.Criteria(account_id=account_id), 1, 10)
            nothing = await search.search(conn, search.Criteria(account_id=empty_id), 1, 10)
        assert (again.total, [r.created_at for r in again.items]) == (1, [MAR_2025])
        assert (nothing.total, nothing.items) == (0, [])
    finally:
        await server.dispose()
