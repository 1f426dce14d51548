"""The operator's accounts list sorted by 30-day spend and searched by name, against a
recomputation from the records: over random charges and refunds spread across many days, with rolls
of the stored figures on some days and not others (so figures go stale as days leave the window),
reads of today and of the past, and searches of every length."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from billbook.ledger import accounts, charges, keys
from billbook.ledger import operator as reads
from billbook.ledger.errors import BillbookError
from billbook.store import operator as operator_store
from billbook.store import usage as usage_store
from billbook.store import verify as verify_store
from billbook.store.db import Database
from billbook.store.tables import account_spend
from billbook.times import MS_PER_DAY, now_ms
from tests.factories import new_uuid

MODELS = ("m-image", "m-video")
NAMES = ("Acme Labs", "ACME studio", "acmé", "Zeta", "zeta labs", "Blue 77", "77 Sunset", "a_b%c", "Ünïcode Labs",
         "labs", "L", "omega", "Omega Point", "x")


async def _expected_spend(db: Database, at_ms: int) -> dict[int, int]:
    """Every account's 30-day spend at ``at_ms`` from its deduct records and their refunds."""
    first = at_ms // MS_PER_DAY - 29
    async with db.transaction(write=False) as conn:
        ids = [r.id for r in (await reads.accounts(conn, reads.AccountQuery(sort="created_at"), 1, 100, at_ms=at_ms)).items]
        spend = dict.fromkeys(ids, 0)
        for row in await usage_store.deduct_rows(conn, None):
            if row.created_at // MS_PER_DAY >= first:
                spend[row.account_id] += row.price - (row.refund_price or 0)
    return spend


async def _listed(db: Database, q: reads.AccountQuery, at_ms: int, page_size: int) -> tuple[int, list[tuple[int, int]]]:
    """Every page of the list, joined: the total and ``(id, spend_30d)`` in order."""
    found: list[tuple[int, int]] = []
    page, total = 1, None
    while True:
        async with db.transaction(write=False) as conn:
            listing = await reads.accounts(conn, q, page, page_size, at_ms=at_ms)
        assert total in (None, listing.total)
        total = listing.total
        found += [(a.id, a.spend_30d) for a in listing.items]
        if not listing.has_more:
            return total, found
        page += 1


async def _assert_spend_order(db: Database, at_ms: int, rng: random.Random) -> None:
    want = await _expected_spend(db, at_ms)
    for sort in ("-spend_30d", "spend_30d"):
        expected = sorted(want.items(), key=lambda item: (item[1], item[0]), reverse=sort.startswith("-"))
        total, got = await _listed(db, reads.AccountQuery(sort=sort), at_ms, rng.choice([1, 3, 5, 100]))
        assert (total, got) == (len(expected), expected), (sort, at_ms)
        async with db.transaction(write=False) as conn:
            page = await reads.accounts(conn, reads.AccountQuery(sort=sort), 2, 4, at_ms=at_ms)
        assert [(a.id, a.spend_30d) for a in page.items] == expected[4:8]


async def _roll(db: Database, at_ms: int) -> None:
    await reads.roll_spend(lambda: db.transaction(write=True), at_ms=at_ms)
    async with db.transaction(write=False) as conn:
        assert await verify_store.account_spend_mismatches(conn, 10) == []


@pytest.mark.parametrize("seed", range(2))
async def test_spend_sorts_agree_with_the_records_as_days_pass(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    start = now_ms()
    async with db.transaction(write=True) as conn:
        made = [await accounts.create_account(conn, f"spender {i}", 10**12) for i in range(9)]
        issued = [await keys.create_key(conn, a.id, "k") for a in made]
    charged: list[tuple[str, int]] = []
    for day in range(0, 75, 3):
        today = start + day * MS_PER_DAY
        for _ in range(rng.randrange(1, 5)):
            async with db.transaction(write=True) as conn:
                try:
                    if rng.random() < 0.7 or not charged:
                        uuid = new_uuid()
                        at = today - rng.randrange(35) * MS_PER_DAY  # some back-dated past the window
                        key = rng.choice(issued[:7])  # two accounts never spend
                        price = rng.choice([10_000, 40_000, 1_200_000])
                        await charges.charge(conn, charges.Charge(uuid, key.access_key_id, rng.choice(MODELS), price, None, "t2i", at))
                        charged.append((uuid, at))
                    else:
                        uuid, at = rng.choice(charged)
                        await charges.set_status(conn, uuid, rng.choice(["failed", "completed", "timeout"]), max(at, today))
                except BillbookError:
                    pass
        if rng.random() < 0.4:
            await _roll(db, today)
        await _assert_spend_order(db, today, rng)
        if rng.random() < 0.3:  # a read of the past: figures of later days are summed again
            await _assert_spend_order(db, today - rng.randrange(1, 40) * MS_PER_DAY, rng)
    async with db.transaction(write=False) as conn:
        days = {d for (d,) in await conn.execute(select(account_spend.c.day))}
    assert len(days) > 1, "some figures were written on later days than others"
    await _roll(db, start + 120 * MS_PER_DAY)
    await _assert_spend_order(db, start + 120 * MS_PER_DAY, rng)


def _matches(name: str, account_id: int, query: str) -> bool:
    by_id = query.isdigit() and len(query) <= 10 and int(query) == account_id
    if len(query) < 3:
        return by_id or name.lower().startswith(query.lower())
    return by_id or query.casefold() in name.casefold()


async def test_search_by_name_or_id(db: Database) -> None:
    async with db.transaction(write=True) as conn:
        made = {a.id: a.name for a in [await accounts.create_account(conn, name, i * 1_000) for i, name in enumerate(NAMES)]}
    queries = ["acme", "ACME", "labs", "LaBs", "77", "7", "a", "L", "x", "zeta l", "a_b", "%", "_", "b%c", "ni",
               "omega point", "nothing", str(min(made)), str(max(made)), "12345678901", "ünï", '"quoted"']
    for query in queries:
        expected = sorted((i for i, n in made.items() if _matches(n, i, query)), reverse=True)
        for sort in ("-created_at", "balance", "-spend_30d"):
            total, got = await _listed(db, reads.AccountQuery(text=query, sort=sort), now_ms(), 2)
            assert total == len(expected), (query, sort)
            assert sorted(i for i, _ in got) == sorted(expected), (query, sort)
        _, newest = await _listed(db, reads.AccountQuery(text=query), now_ms(), 3)
        assert [i for i, _ in newest] == expected, query


async def test_a_broad_search_walks_the_sort_index_with_the_same_answer(db: Database) -> None:
    """Past ``SPARSE`` matches the page comes from the sort's index filtered by the match."""
    async with db.transaction(write=True) as conn:
        made = {a.id: a for a in [await accounts.create_account(conn, name, (i * 7919) % 13) for i, name in enumerate(NAMES)]}
        for query, sort in (("labs", "balance"), ("acme", "-created_at"), ("a", "-balance"), ("77", "created_at")):
            q = operator_store.AccountQuery(text=query, sort=sort)
            expected = [i for i, a in made.items() if _matches(a.name, i, query)]
            key = {"balance": lambda i: (made[i].balance, i), "created_at": lambda i: i}[sort.lstrip("-")]
            expected.sort(key=key, reverse=sort.startswith("-"))
            assert await operator_store.count_accounts(conn, q) == len(expected)
            pages = [await operator_store.page_ids(conn, q, offset=o, limit=2) for o in range(0, len(expected) + 2, 2)]
            assert [i for p in pages for i in p] == expected, (query, sort)


async def test_a_renamed_account_is_found_by_its_new_name(db: Database) -> None:
    async with db.transaction(write=True) as conn:
        account = await accounts.create_account(conn, "Old Name", 0)
        await conn.execute(operator_store.accounts.update().where(operator_store.accounts.c.id == account.id).values(name="Fresh Brand"))
    async with db.transaction(write=False) as conn:
        assert [a.id for a in (await reads.accounts(conn, reads.AccountQuery(text="fresh"), 1, 10)).items] == [account.id]
        assert (await reads.accounts(conn, reads.AccountQuery(text="old name"), 1, 10)).total == 0
