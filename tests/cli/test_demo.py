"""``billbook demo``: believable history that keeps every invariant, and a curl that works."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from billbook.cli.demo import DISCOUNT, MODELS, PRICE_CUT, build_history
from billbook.cli.main import app
from billbook.store.tables import accounts, billing_records, orders, predictions
from tests.conftest import open_database


def test_history_is_believable_and_balanced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    made = asyncio.run(build_history(url, days=30))
    assert len(made.keys) == 2 and made.records > 500

    async def inspect() -> tuple[int, int, Counter, Counter, int]:
        db = open_database(url)
        async with db.transaction(write=False) as conn:
            balance = (await conn.execute(select(accounts.c.balance))).scalar_one()
            total = (await conn.execute(select(func.sum(billing_records.c.delta)))).scalar_one()
            types = Counter(t for (t,) in await conn.execute(select(billing_records.c.billing_type)))
            statuses = Counter(s for (s,) in await conn.execute(select(predictions.c.status)))
            models = (await conn.execute(select(func.count(func.distinct(predictions.c.model_uuid))))).scalar_one()
        await db.dispose()
        return balance, total, types, statuses, models

    balance, total, types, statuses, models = asyncio.run(inspect())
    assert balance == total and balance > 0
    assert types["deduct"] > 400 and types["refund"] > 5 and types["recharge"] >= 1 and types["adjust"] == 1
    assert statuses["completed"] > statuses["failed"] > 0
    assert models >= len(MODELS) - 1


def test_demo_command_prints_a_working_curl(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(app, ["demo", "--no-serve", "--db", url, "--days", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "curl --request POST http://127.0.0.1:8000/api/v3/billings/search" in result.output
    assert "Authorization: Bearer bb_" in result.output


def test_the_demo_s_charges_cost_what_its_catalog_says(tmp_path: Path) -> None:
    """Every charge's list price is its model's price version in force at the charge's time for one
    of the inputs the demo sends (the price cut part-way through included), no history charge has
    a discount, and the demo account's discount is in force now."""
    from billbook.ledger import pricing

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    made = asyncio.run(build_history(url, days=12))

    async def inspect() -> tuple[list, list, list[tuple[str, int, int, int]], pricing.Quote]:
        db = open_database(url)
        async with db.transaction(write=False) as conn:
            listed = await pricing.catalog(conn)
            query = select(predictions.c.model_uuid, orders.c.created_at, orders.c.price, orders.c.origin_price).join(
                orders, orders.c.prediction_id == predictions.c.id
            )
            charged = [tuple(row) for row in await conn.execute(query)]
            # For each charge, what each input the demo may send costs at its time.
            requests = [
                pricing.PriceRequest(made.account_id, model_uuid, at, inputs)
                for model_uuid, at, _, _ in charged
                for inputs in _choices(model_uuid)
            ]
            priced = await pricing.price_many(conn, requests)
            discounted = await pricing.quote(conn, made.account_id, DISCOUNT[0])
        await db.dispose()
        return listed, priced, charged, discounted

    listed, priced, charged, discounted = asyncio.run(inspect())
    assert [v.model_id for v in listed] == [m.uuid for m in MODELS]
    assert {v.model_id for v in listed if v.formula} == {m.uuid for m in MODELS if m.formula}
    possible = iter(priced)
    list_prices = set()
    for model_uuid, _, price, origin_price in charged:
        allowed = {q.list_price for q in (next(possible) for _ in _choices(model_uuid))}  # type: ignore[union-attr]
        assert origin_price in allowed and price == origin_price, model_uuid
        list_prices.add((model_uuid, origin_price))
    cut_model, cut_price, _ = PRICE_CUT
    assert {(cut_model, cut_price), (cut_model, next(m.base_price for m in MODELS if m.uuid == cut_model))} <= list_prices
    assert len({p for m, p in list_prices if m == MODELS[3].uuid}) == 2  # both video lengths
    assert (discounted.discount_bp, discounted.price) == (DISCOUNT[1], MODELS[0].base_price * 9 // 10)


def _choices(model_uuid: str) -> list[dict | None]:
    model = next(m for m in MODELS if m.uuid == model_uuid)
    if not model.inputs:
        return [None]
    ((name, values),) = model.inputs
    return [{name: v} for v in values]


def test_demo_help_still_works() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], catch_exceptions=False)
    assert result.exit_code == 0 and "--days" in result.output
