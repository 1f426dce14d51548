"""The two reads the operator console asks for: who the token is, and the platform's money totals."""

from __future__ import annotations

from decimal import Decimal

import httpx

from billbook.ledger import admin_tokens
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, arecharge

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _data(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json(parse_float=Decimal)["data"]


async def test_whoami_names_the_token_and_its_role(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    assert await _data(await client.get("/internal/v1/whoami", headers=ADMIN)) == {"name": "default", "role": "write"}
    async with app.state.db.transaction(write=True) as conn:
        issued = await admin_tokens.create(conn, "support", "read", by="test")
    reader = {"Authorization": f"Bearer {issued.token}"}
    assert await _data(await client.get("/internal/v1/whoami", headers=reader)) == {"name": "support", "role": "read"}
    assert (await client.get("/internal/v1/whoami")).status_code == 401
    assert (await client.get("/internal/v1/whoami", headers={"Authorization": "Bearer bbadmin_0000000000000000_x"})).status_code == 401


async def test_totals_sum_every_balance_and_every_open_order(client: httpx.AsyncClient) -> None:
    assert await _data(await client.get("/internal/v1/totals", headers=ADMIN)) == {"accounts": 0, "balance": 0, "held": 0}
    a = await acustomer(client, ADMIN_TOKEN, balance="10.000001", name="a")
    b = await acustomer(client, ADMIN_TOKEN, balance="0", name="b")
    await arecharge(client, ADMIN_TOKEN, b["account"]["id"], "2.5")
    await acreate_charge(client, ADMIN_TOKEN, a["key"]["access_key_id"], price="0.04")  # held: still ``pre``
    totals = await _data(await client.get("/internal/v1/totals", headers=ADMIN))
    listed = (await _data(await client.get("/internal/v1/accounts", params={"page_size": 100}, headers=ADMIN)))["items"]
    assert totals == {
        "accounts": 2,
        "balance": sum((i["balance"] for i in listed), Decimal(0)),
        "held": sum((i["held"] for i in listed), Decimal(0)),
    }
    assert totals["balance"] == Decimal("12.460001") and totals["held"] == Decimal("0.04")
