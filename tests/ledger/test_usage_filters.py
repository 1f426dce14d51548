"""``usage_stats`` takes several models and several keys (any of them), as search does; an empty
tuple is no filter. Whole days come from the rollup, the edges from the records: both honour the
filters alike."""

from __future__ import annotations

import httpx

from billbook.ledger.usage import usage_stats
from billbook.times import MS_PER_DAY
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acreate_key, acustomer, new_uuid

T0 = 1_767_225_600_000  # 2026-01-01
MODELS = ("m/one", "m/two", "m/three")


async def test_several_models_and_keys(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="100")
    account_id = who["account"]["id"]
    first = who["key"]["access_key_id"]
    second = (await acreate_key(client, ADMIN_TOKEN, account_id, "second"))["access_key_id"]
    prices = {}
    for n, model in enumerate(MODELS):
        for k, key in enumerate((first, second)):
            price = f"0.{n + 1}{k + 1}"
            prices[model, key] = int(price[2:]) * 10_000
            # One charge inside a whole day, one on a part-day at the range's start.
            for at in (T0 + MS_PER_DAY + n, T0 + 1000 + n):
                await acreate_charge(client, ADMIN_TOKEN, key, price, model, new_uuid(), at)

    async def total(**filters: tuple[str, ...]) -> int:
        async with app.state.db.transaction(write=False) as conn:
            stats = await usage_stats(conn, account_id, T0 + 500, T0 + 3 * MS_PER_DAY, **filters)
        return stats["summary"]["total_cost"]

    def expected(models: tuple[str, ...] = MODELS, keys: tuple[str, ...] = (first, second)) -> int:
        return sum(2 * p for (m, k), p in prices.items() if m in models and k in keys)

    assert await total() == await total(model_uuids=(), access_key_ids=()) == expected()
    assert await total(model_uuids=MODELS[:2]) == expected(models=MODELS[:2])
    assert await total(access_key_ids=(second,)) == expected(keys=(second,))
    assert await total(model_uuids=(MODELS[0], MODELS[2]), access_key_ids=(first,)) == expected(
        models=(MODELS[0], MODELS[2]), keys=(first,)
    )
    assert await total(model_uuids=("m/none",)) == 0
