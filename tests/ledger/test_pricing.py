"""Pricing in the ledger, on both databases: versions in force at a time, discounts, formulas, and
a batch priced set-wise to the same micro-dollar as one quote at a time."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from billbook.ledger import accounts, pricing
from billbook.ledger.errors import Conflict, InvalidRequest, NotFound
from billbook.ledger.pricing import NewVersion, PriceRequest, Quote
from billbook.store.db import Database
from billbook.times import now_ms

HOUR = 3_600_000
RESOLUTION = '$lookup({"480p": 0.1, "720p": 0.2, "1080p": 0.35}, resolution)'
_ids = itertools.count()


async def new_account(db: Database, name: str = "acme") -> int:
    async with db.transaction(write=True) as conn:
        return (await accounts.create_account(conn, name, 100_000_000)).id


async def add(db: Database, model_id: str, base_price: int, formula: str | None = None, at: int | None = None) -> pricing.Version:
    async with db.transaction(write=True) as conn:
        version, _ = await pricing.add_version(conn, model_id, NewVersion(model_id, base_price, formula=formula, effective_from=at))
    return version


async def discount(db: Database, account_id: int, percent: str, model_id: str | None = None) -> None:
    async with db.transaction(write=True) as conn:
        await pricing.set_discount(conn, account_id, model_id, pricing.rate_bp_of(Decimal(percent)))


async def quote(db: Database, account_id: int, model_id: str, inputs: dict | None = None, at: int | None = None) -> Quote:
    async with db.transaction(write=False) as conn:
        return await pricing.quote(conn, account_id, model_id, inputs, at)


async def batch(db: Database, requests: list[PriceRequest]) -> list:
    async with db.transaction(write=False) as conn:
        return await pricing.price_many(conn, requests)


async def test_flat_and_formula_prices(db: Database) -> None:
    account = await new_account(db)
    await add(db, "m/flat", 25_000)
    await add(db, "m/duration", 100_000, "base_price * duration / 5")
    await add(db, "m/resolution", 0, RESOLUTION)
    await add(db, "m/total", 30_000, '{"total_price": base_price * duration / 5}')
    assert (await quote(db, account, "m/flat", {"prompt": "x"})).list_price == 25_000
    assert (await quote(db, account, "m/duration", {"duration": 7})).list_price == 140_000
    assert (await quote(db, account, "m/duration", {"duration": Decimal("2.5")})).list_price == 50_000
    assert (await quote(db, account, "m/resolution", {"resolution": "480p"})).list_price == 100_000
    assert (await quote(db, account, "m/total", {"duration": 7})).list_price == 42_000
    assert (await quote(db, account, "m/duration")).list_price == 100_000  # no inputs: base price


async def test_the_version_in_force_at_a_time(db: Database) -> None:
    account = await new_account(db)
    now = now_ms()
    old = await add(db, "m/x", 10_000, at=now - 2 * HOUR)
    new = await add(db, "m/x", 20_000, at=now - HOUR)
    for at, version in [(now - 2 * HOUR, old), (now - HOUR - 1, old), (now - HOUR, new), (now, new)]:
        got = await quote(db, account, "m/x", at=at)
        assert (got.version_id, got.list_price) == (version.id, version.base_price)
        [priced] = await batch(db, [PriceRequest(account, "m/x", at)])
        assert priced == got
    with pytest.raises(NotFound):
        await quote(db, account, "m/x", at=now - 3 * HOUR)
    assert isinstance((await batch(db, [PriceRequest(account, "m/x", now - 3 * HOUR)]))[0], NotFound)


async def test_discounts_for_every_model_and_for_one(db: Database) -> None:
    account, other = await new_account(db), await new_account(db, "other")
    await add(db, "m/a", 100_000)
    await add(db, "m/b", 30_000)
    await discount(db, account, "10")
    await discount(db, account, "12.5", "m/b")
    a, b = await quote(db, account, "m/a"), await quote(db, account, "m/b")
    assert (a.discount_bp, a.price) == (1000, 90_000)
    assert (b.discount_bp, b.price) == (1250, 26_250)
    assert (await quote(db, other, "m/a")).price == 100_000
    # 0 % for one model overrides the every-model discount.
    await discount(db, account, "0", "m/a")
    assert (await quote(db, account, "m/a")).price == 100_000


def test_discounts_round_half_up_to_the_micro_dollar() -> None:
    assert pricing.apply_discount(5, 1000) == 5  # 4.5 -> 5
    assert pricing.apply_discount(3, 5000) == 2  # 1.5 -> 2
    assert pricing.apply_discount(1, 10_000) == 0
    assert pricing.apply_discount(123_456, 0) == 123_456


async def test_refusals(db: Database) -> None:
    account = await new_account(db)
    with pytest.raises(NotFound):
        await quote(db, account, "nobody/nothing")
    with pytest.raises(InvalidRequest, match="^formula "):
        await add(db, "m/bad", 1, "base_price *")
    await add(db, "m/f", 1, "base_price * duration")
    with pytest.raises(InvalidRequest, match="^inputs "):
        await quote(db, account, "m/f", {"duration": "x"})
    with pytest.raises(InvalidRequest, match="^inputs "):
        await quote(db, account, "m/f", {"duration": "x" * 20_000})
    now = now_ms()
    await add(db, "m/g", 1, at=now)
    with pytest.raises(Conflict):
        await add(db, "m/g", 2, at=now)


async def test_a_batch_costs_a_fixed_number_of_queries(db: Database) -> None:
    accounts_ = [await new_account(db, f"a{i}") for i in range(3)]
    now = now_ms()
    for i in range(5):
        await add(db, f"m/{i}", 1000 * (i + 1), "base_price * n", at=now - HOUR)
    await discount(db, accounts_[0], "5")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.sync_engine, "before_cursor_execute", count)
    try:
        await batch(db, [PriceRequest(accounts_[0], "m/0", now, {"n": 1})])
        one = len(statements)
        statements.clear()
        many = [PriceRequest(accounts_[i % 3], f"m/{i % 5}", now - i, {"n": i}) for i in range(500)]
        results = await batch(db, many)
        assert len(statements) == one
    finally:
        event.remove(db.sync_engine, "before_cursor_execute", count)
    assert all(isinstance(r, Quote) for r in results)


# --- Property: a quote and a batch agree to the micro-dollar --------------------------------------

NAMES = ("a", "b")
numbers = st.one_of(
    st.integers(min_value=-5, max_value=1000),
    st.decimals(min_value=Decimal("-5"), max_value=Decimal("1000"), places=3, allow_nan=False, allow_infinity=False),
)


def _number(draw: st.DrawFn) -> str:
    return str(draw(numbers))


@st.composite
def formula_terms(draw: st.DrawFn, depth: int = 0) -> str:
    """An arithmetic term over ``base_price``, the inputs ``a`` and ``b``, and a lookup by ``size``."""
    leaves = ["base_price", "a", "b", '$lookup({"s": 0.5, "m": 1, "l": 2.25}, size)', _number(draw)]
    if depth >= 3 or draw(st.booleans()):
        return draw(st.sampled_from(leaves))
    kind = draw(st.sampled_from(["op", "op", "cond", "paren"]))
    left, right = draw(formula_terms(depth + 1)), draw(formula_terms(depth + 1))
    if kind == "op":
        return f"{left} {draw(st.sampled_from(['+', '-', '*', '/']))} {right}"
    if kind == "cond":
        return f"(a > {_number(draw)} ? {left} : {right})"
    return f"({left})"


@st.composite
def formulas_(draw: st.DrawFn) -> str | None:
    term = draw(formula_terms())
    return draw(st.sampled_from([None, term, f'{{"total_price": {term}}}']))


inputs_ = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"a": numbers, "b": numbers},
        optional={"size": st.sampled_from(["s", "m", "l", "xl"]), "extra": st.text(max_size=5)},
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    versions=st.lists(
        st.tuples(formulas_(), st.integers(min_value=0, max_value=10**7), st.integers(min_value=-3, max_value=3)),
        min_size=1,
        max_size=3,
    ),
    rates=st.tuples(st.sampled_from([None, "0", "10", "33.33"]), st.sampled_from([None, "0", "5", "100"])),
    asks=st.lists(st.tuples(inputs_, st.integers(min_value=-4, max_value=4)), min_size=1, max_size=6),
)
async def test_quote_equals_price_many(db: Database, versions: list, rates: tuple, asks: list) -> None:
    n = next(_ids)
    account, model_id = await new_account(db, f"p{n}"), f"prop/{n}"
    now = now_ms()
    for formula, base_price, hours in versions:
        try:
            await add(db, model_id, base_price, formula, at=now + hours * HOUR)
        except Conflict:
            pass  # two versions drawn at the same time: the first stays
    every, own = rates
    if every is not None:
        await discount(db, account, every)
    if own is not None:
        await discount(db, account, own, model_id)
    requests = [PriceRequest(account, model_id, now + hours * HOUR // 2 + 1, inputs) for inputs, hours in asks]
    together = await batch(db, requests)
    for request, from_batch in zip(requests, together, strict=True):
        try:
            alone: Quote | Exception = await quote(db, account, model_id, request.inputs, request.created_at)
        except (NotFound, InvalidRequest) as exc:
            alone = exc
        if isinstance(alone, Quote):
            assert from_batch == alone
            assert 0 <= alone.price <= alone.list_price
        else:
            assert type(from_batch) is type(alone) and from_batch.message == alone.message
