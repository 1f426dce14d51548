"""Charges priced from the catalog, over HTTP on both databases: the version in force at the charge's
time, the account's discount, the order's version on the wire, retries compared on what was sent,
mixed batches priced set-wise, and each prediction's hold deadline."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text

from billbook.store.db import Database
from billbook.times import now_ms
from tests.checks import assert_verified
from tests.conftest import ADMIN_TOKEN
from tests.factories import acustomer, acreate_model_version, aset_discount, new_uuid
from tests.ledger.test_pricing import formulas_, inputs_

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HOUR = 3_600_000
DURATION = "base_price * duration / 5"
_ids = itertools.count()


def _wire(value: Any) -> Any:
    """Inputs as JSON can carry them (the drawn decimals become JSON numbers)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


async def post_charge(client: httpx.AsyncClient, key: dict, model: str, **fields: Any) -> httpx.Response:
    body = {"prediction_uuid": fields.pop("prediction_uuid", None) or new_uuid(),
            "access_key_id": key["access_key_id"], "model_uuid": model, **fields}
    return await client.post("/internal/v1/charges", json=body, headers=ADMIN)


async def charged(client: httpx.AsyncClient, key: dict, model: str, **fields: Any) -> dict:
    response = await post_charge(client, key, model, **fields)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def version(client: httpx.AsyncClient, model: str, base_price: str, **fields: Any) -> int:
    return (await acreate_model_version(client, ADMIN_TOKEN, model, base_price, name=model, **fields))["version"]


async def execute(db: Database, sql: str, **params: Any) -> list:
    async with db.transaction(write=False) as conn:
        return (await conn.execute(text(sql), params)).all()


async def test_a_charge_without_price_pays_the_discounted_list_price(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    first = await version(client, "video/a", "0.10", formula=DURATION, effective_from=now_ms() - HOUR)
    await aset_discount(client, ADMIN_TOKEN, who["account"]["id"], 12.5)
    data = await charged(client, who["key"], "video/a", inputs={"duration": 7})
    order = data["record"]["order"]
    assert data["created"] is True
    assert order["origin_price"] == 0.14 and order["price"] == 0.1225 and data["record"]["price"] == 0.1225
    assert order["price_version"] == first
    balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert balance == 9.8775
    # The public search shows the same version on the record's order.
    found = (await client.post("/api/v3/billings/search", json={"billing_type": "deduct"}, headers=who["headers"])).json()
    assert found["data"]["items"][0]["order"]["price_version"] == first
    await assert_verified(app.state.db)


async def test_an_explicit_price_has_no_version(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await version(client, "img/a", "0.05", effective_from=now_ms() - HOUR)
    data = await charged(client, who["key"], "img/a", price="0.04")
    assert data["record"]["price"] == 0.04 and data["record"]["order"]["price_version"] is None


async def test_versions_take_effect_at_their_time(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN)
    now = now_ms()
    old = await version(client, "img/b", "0.02", effective_from=now - 10 * HOUR)
    new = await version(client, "img/b", "0.03", effective_from=now - 2 * HOUR)
    before = await charged(client, who["key"], "img/b", created_at=now - 5 * HOUR)
    after = await charged(client, who["key"], "img/b", created_at=now - HOUR)
    current = await charged(client, who["key"], "img/b")
    assert (before["record"]["price"], before["record"]["order"]["price_version"]) == (0.02, old)
    assert (after["record"]["price"], after["record"]["order"]["price_version"]) == (0.03, new)
    assert current["record"]["order"]["price_version"] == new
    # Before the model's first version there is no price: the charge must send one.
    response = await post_charge(client, who["key"], "img/b", created_at=now - 11 * HOUR)
    assert response.status_code == 400 and "price" in response.json()["message"]
    await assert_verified(app.state.db)


async def test_discounts_at_the_charges_time(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await version(client, "img/c", "1", effective_from=now_ms() - 10 * HOUR)
    await aset_discount(client, ADMIN_TOKEN, who["account"]["id"], 10)
    await aset_discount(client, ADMIN_TOKEN, who["account"]["id"], 25, model_id="img/c")
    every_model = await charged(client, who["key"], "img/c", created_at=now_ms() - HOUR)  # before either
    own = await charged(client, who["key"], "img/c")
    assert every_model["record"]["price"] == 1
    assert (own["record"]["price"], own["record"]["order"]["origin_price"]) == (0.75, 1)


async def test_without_price_or_catalog_entry_the_charge_is_refused_naming_price(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    response = await post_charge(client, who["key"], "not/in-catalog")
    assert response.status_code == 400 and response.json()["message"].startswith("price")
    for bad, field in (
        ({"origin_price": "0.1"}, "origin_price"),
        ({"hold_timeout_s": 0}, "hold_timeout_s"),
        ({"hold_timeout_s": 7 * 86_400 + 1}, "hold_timeout_s"),
        ({"inputs": [1]}, "inputs"),
    ):
        await version(client, "img/d", "0.01", effective_from=now_ms() - HOUR)
        response = await post_charge(client, who["key"], "img/d", **bad)
        assert response.status_code == 400 and field in response.json()["message"], (bad, response.text)
    deep: dict = {}
    for _ in range(12):
        deep = {"x": deep}
    response = await post_charge(client, who["key"], "img/d", inputs=deep)
    assert response.status_code == 400 and "inputs" in response.json()["message"]
    balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert balance == 1
    await assert_verified(app.state.db)


async def test_a_retry_after_a_new_version_is_the_same_charge(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN)
    await version(client, "video/r", "0.10", formula=DURATION, effective_from=now_ms() - HOUR)
    uuid = new_uuid()
    first = await charged(client, who["key"], "video/r", prediction_uuid=uuid, inputs={"duration": 5, "seed": 1})
    await version(client, "video/r", "0.50", formula=DURATION)
    # Same inputs in another key order: the same charge, the first record, at the first price.
    again = await charged(client, who["key"], "video/r", prediction_uuid=uuid, inputs={"seed": 1, "duration": 5})
    assert again["created"] is False and again["record"]["uuid"] == first["record"]["uuid"]
    assert again["record"]["price"] == 0.1
    for changed, field in (
        ({"inputs": {"duration": 6, "seed": 1}}, "inputs"),
        ({"inputs": {"duration": 5, "seed": 1}, "price": "0.1"}, "price"),
        ({"inputs": {"duration": 5, "seed": 1}, "hold_timeout_s": 60}, "hold_timeout_s"),
    ):
        response = await post_charge(client, who["key"], "video/r", prediction_uuid=uuid, **changed)
        assert response.status_code == 409 and field in response.json()["message"], (changed, response.text)
    await version(client, "video/other", "0.10", effective_from=now_ms() - HOUR)
    response = await post_charge(client, who["key"], "video/other", prediction_uuid=uuid, inputs={"duration": 5, "seed": 1})
    assert response.status_code == 409 and "model_uuid" in response.json()["message"]
    # A charge that sent its price, retried without one, asks for something else.
    explicit = new_uuid()
    await charged(client, who["key"], "video/r", prediction_uuid=explicit, price="0.2")
    response = await post_charge(client, who["key"], "video/r", prediction_uuid=explicit)
    assert response.status_code == 409 and "price" in response.json()["message"]
    await assert_verified(app.state.db)


async def test_a_mixed_batch_is_priced_like_single_charges(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    now = now_ms()
    await version(client, "video/m", "0.10", formula=DURATION, effective_from=now - 10 * HOUR)
    await version(client, "video/m", "0.20", formula=DURATION, effective_from=now - HOUR)
    await aset_discount(client, ADMIN_TOKEN, who["account"]["id"], 50)
    key = who["key"]["access_key_id"]
    repeated = new_uuid()
    charges = [
        {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "video/m", "inputs": {"duration": 10}},
        {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "video/m", "price": "0.03"},
        {"prediction_uuid": repeated, "access_key_id": key, "model_uuid": "video/m", "inputs": {"duration": 5},
         "created_at": now - 5 * HOUR},
        {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "no/such-model"},
        {"prediction_uuid": repeated, "access_key_id": key, "model_uuid": "video/m", "inputs": {"duration": 5},
         "created_at": now - 5 * HOUR},
        {"prediction_uuid": repeated, "access_key_id": key, "model_uuid": "video/m", "inputs": {"duration": 6}},
        {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "video/m", "inputs": {"duration": 100}},
    ]
    response = await client.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
    results = response.json()["data"]["results"]
    assert [r["status"] for r in results] == [
        "created", "created", "created", "invalid", "duplicate", "invalid", "insufficient"
    ], results
    assert results[3]["message"].startswith("price") and results[3]["code"] == 400
    assert results[5]["code"] == 409 and "inputs" in results[5]["message"]
    items = (await client.post("/api/v3/billings/search", json={"sort": "created_at ASC"}, headers=who["headers"])).json()
    prices = {i["prediction"]["uuid"]: i["price"] for i in items["data"]["items"] if i["billing_type"] == "deduct"}
    # 50 % off 0.20 * 10 / 5; as sent; the older 0.10 * 5 / 5, from before the discount was set.
    assert prices == {charges[0]["prediction_uuid"]: 0.2, charges[1]["prediction_uuid"]: 0.03, repeated: 0.1}
    await assert_verified(app.state.db)


async def test_pricing_a_batch_takes_the_same_statements_whatever_its_size(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="1000")
    for n in range(5):
        await version(client, f"img/q{n}", "0.01", formula="base_price * n", effective_from=now_ms() - HOUR)
    key = who["key"]["access_key_id"]
    statements: list[str] = []
    engine = app.state.db.sync_engine

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    async def batch(size: int) -> None:
        charges = [{"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": f"img/q{i % 5}",
                    "inputs": {"n": i}} for i in range(size)]
        response = await client.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
        assert response.json()["data"]["created"] == size

    event.listen(engine, "before_cursor_execute", count)
    try:
        await batch(2)
        few = len(statements)
        statements.clear()
        await batch(300)
        assert len(statements) == few, statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_each_hold_expires_its_timeout_after_the_charge(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN)
    at = now_ms() - HOUR
    default = await charged(client, who["key"], "img/h", price="0.01", created_at=at)
    own = await charged(client, who["key"], "img/h", price="0.01", created_at=at, hold_timeout_s=90)
    rows = dict(await execute(app.state.db, "SELECT uuid, hold_until FROM predictions"))
    assert rows[default["record"]["prediction"]["uuid"]] == at + 3_600_000
    assert rows[own["record"]["prediction"]["uuid"]] == at + 90_000
    # A retry that says the same hold (or none) is the same charge.
    again = await charged(client, who["key"], "img/h", price="0.01", created_at=at, hold_timeout_s=3600,
                          prediction_uuid=default["record"]["prediction"]["uuid"])
    assert again["created"] is False


# --- Property: a quote is what the same charge then costs -----------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    formula=formulas_(),
    base_price=st.integers(min_value=0, max_value=10**7),
    rate=st.sampled_from([None, 0, 12.5, 33.33, 100]),
    inputs=inputs_,
)
async def test_a_quote_equals_what_the_charge_costs(
    client: httpx.AsyncClient, formula: str | None, base_price: int, rate: float | None, inputs: dict | None
) -> None:
    n = next(_ids)
    who = await acustomer(client, ADMIN_TOKEN, balance="1000000000", name=f"p{n}")
    model = f"prop/{n}"
    fields = {"formula": formula} if formula is not None else {}
    await version(client, model, str(Decimal(base_price).scaleb(-6)), effective_from=now_ms() - HOUR, **fields)
    if rate is not None:
        await aset_discount(client, ADMIN_TOKEN, who["account"]["id"], rate)
    sent = {} if inputs is None else {"inputs": _wire(inputs)}
    quote = await client.post("/api/v3/model/price", json={"model_id": model, **sent}, headers=who["headers"])
    response = await post_charge(client, who["key"], model, **sent)
    if quote.status_code != 200:
        assert quote.status_code == 400 and response.status_code == 400, (quote.text, response.text)
        assert "inputs" in quote.json()["message"] and "inputs" in response.json()["message"]
        return
    priced = quote.json()["data"]
    if response.status_code == 402:
        assert priced["discounted_price"] > 1_000_000_000
        return
    assert response.status_code == 200, response.text
    record = response.json()["data"]["record"]
    assert record["price"] == priced["discounted_price"]
    assert record["order"]["origin_price"] == priced["price"]


# --- verify: every catalog-priced order costs what its version says ------------------------------


async def _update(db: Database, sql: str, **params: Any) -> None:
    async with db.transaction(write=True) as conn:
        await conn.execute(text(sql), params)


async def test_verify_reprices_every_catalog_priced_order(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    from tests.checks import averify

    db: Database = app.state.db
    who = await acustomer(client, ADMIN_TOKEN)
    await version(client, "video/v", "0.10", formula=DURATION, effective_from=now_ms() - HOUR)
    await aset_discount(client, ADMIN_TOKEN, who["account"]["id"], 10)
    made = [await charged(client, who["key"], "video/v", inputs={"duration": d}) for d in (5, 10, 15)]
    # A charge dated ahead, then a discount set before its time: the charge could not know it.
    await charged(client, who["key"], "video/v", inputs={"duration": 5}, created_at=now_ms() + HOUR)
    await aset_discount(client, ADMIN_TOKEN, who["account"]["id"], 20)
    await assert_verified(db)
    order = [m["record"]["order"]["uuid"] for m in made]
    await _update(db, "UPDATE orders SET origin_price = origin_price + 1 WHERE uuid = :u", u=order[0])
    await _update(db, "UPDATE orders SET inputs = :i WHERE uuid = :u", i='{"duration":11}', u=order[1])
    await _update(db, "UPDATE orders SET price = price - 1 WHERE uuid = :u", u=order[2])
    messages = sorted(str(v) for v in (await averify(db)).violations if v.check == "catalog_price")
    assert len(messages) == 3, messages
    assert any(order[0] in m and "origin_price 0.100001 USD is not version" in m for m in messages), messages
    assert any(order[1] in m and "list price 0.22 USD" in m for m in messages), messages
    assert any(order[2] in m and "less the discount of 10 % then, 0.27 USD" in m for m in messages), messages


async def test_the_servers_hold_timeout_is_the_default(app, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    """``hold_timeout_s`` in the server's settings (``BILLBOOK_HOLD_TIMEOUT``) dates the holds of
    charges that give none; a charge's own still wins."""
    app.state.settings = app.state.settings.model_copy(update={"hold_timeout_s": 900})
    who = await acustomer(client, ADMIN_TOKEN)
    at = now_ms() - HOUR
    server = await charged(client, who["key"], "img/s", price="0.01", created_at=at)
    own = await charged(client, who["key"], "img/s", price="0.01", created_at=at, hold_timeout_s=30)
    batch = await client.post("/internal/v1/charges/batch", headers=ADMIN, json={"charges": [
        {"prediction_uuid": new_uuid(), "access_key_id": who["key"]["access_key_id"], "model_uuid": "img/s",
         "price": "0.01", "created_at": at}]})
    in_batch = batch.json()["data"]["results"][0]["prediction_uuid"]
    rows = dict(await execute(app.state.db, "SELECT uuid, hold_until FROM predictions"))
    assert rows[server["record"]["prediction"]["uuid"]] == at + 900_000
    assert rows[own["record"]["prediction"]["uuid"]] == at + 30_000
    assert rows[in_batch] == at + 900_000


async def test_a_repeat_in_a_batch_compares_the_hold_in_force(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await version(client, "img/rp", "0.01", effective_from=now_ms() - HOUR)
    one = {"prediction_uuid": new_uuid(), "access_key_id": who["key"]["access_key_id"], "model_uuid": "img/rp"}
    charges = [one, one | {"hold_timeout_s": 3600}, one | {"hold_timeout_s": 60}, one | {"inputs": {}}]
    response = await client.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
    results = response.json()["data"]["results"]
    assert [r["status"] for r in results] == ["created", "duplicate", "invalid", "duplicate"], results
    assert results[2]["code"] == 409 and "hold_timeout_s" in results[2]["message"]
