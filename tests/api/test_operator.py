"""The operator's side over HTTP: named tokens and their roles, the read routes, the audit log
written with every internal write, and idempotent account and key creation."""

from __future__ import annotations

import httpx

from billbook.ledger import admin_tokens
from billbook.times import now_ms
from tests.checks import assert_verified
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, arecharge, aset_status

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _token(app, name: str, role: str) -> dict:  # noqa: ANN001
    async with app.state.db.transaction(write=True) as conn:
        issued = await admin_tokens.create(conn, name, role, by="test")
    return {"Authorization": f"Bearer {issued.token}"}


async def _data(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _audit(client: httpx.AsyncClient, **params: object) -> list[dict]:
    return (await _data(await client.get("/internal/v1/audit", params={"page_size": 100, **params}, headers=ADMIN)))["items"]


async def test_a_read_token_reads_everything_and_moves_nothing(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="5")
    reader = await _token(app, "support", "read")
    assert (await client.get("/internal/v1/accounts", headers=reader)).status_code == 200
    # Refused before the body is read: a malformed body still gets 403, not 400.
    for method, path, body in (
        ("POST", f"/internal/v1/accounts/{who['account']['id']}/recharges", b"{not json"),
        ("POST", "/internal/v1/accounts", b'{"name": "x"}'),
        ("DELETE", f"/internal/v1/keys/{who['key']['access_key_id']}", None),
        ("POST", "/internal/v1/charges/batch", b"[]"),
    ):
        response = await client.request(method, path, content=body, headers=reader)
        assert response.status_code == 403, (path, response.text)
        assert "read-only" in response.json()["message"]
    assert (await _data(await client.get("/api/v3/balance", headers=who["headers"])))["balance"] == 5
    denied = await _audit(client, token="support")
    assert [row["action"] for row in denied] == ["denied"] * 4 and {row["outcome"] for row in denied} == {403}
    writer = await _token(app, "billing-bot", "write")
    await arecharge(client, ADMIN_TOKEN, who["account"]["id"], "1")
    body = {"amount": "2", "reference": "r-writer"}
    assert (await client.post(f"/internal/v1/accounts/{who['account']['id']}/recharges", json=body, headers=writer)).status_code == 200
    (row,) = await _audit(client, token="billing-bot")
    assert row["action"] == "recharge" and row["target"] == f"account:{who['account']['id']}" and row["outcome"] == 200
    async with app.state.db.transaction(write=True) as conn:
        await admin_tokens.revoke(conn, "billing-bot", by="test")
    assert (await client.get("/internal/v1/accounts", headers=writer)).status_code == 401


async def test_accounts_list_shows_money_held_spent_and_keys(client: httpx.AsyncClient) -> None:
    rich = await acustomer(client, ADMIN_TOKEN, balance="50", name="Rich Studio")
    poor = await acustomer(client, ADMIN_TOKEN, balance="1", name="poor corp")
    held = await acreate_charge(client, ADMIN_TOKEN, rich["key"]["access_key_id"], "2")
    done = await acreate_charge(client, ADMIN_TOKEN, rich["key"]["access_key_id"], "3")
    await aset_status(client, ADMIN_TOKEN, done["record"]["prediction"]["uuid"], "completed")
    refunded = await acreate_charge(client, ADMIN_TOKEN, rich["key"]["access_key_id"], "4")
    await aset_status(client, ADMIN_TOKEN, refunded["record"]["prediction"]["uuid"], "failed")
    old = await acreate_charge(client, ADMIN_TOKEN, rich["key"]["access_key_id"], "1", created_at=now_ms() - 40 * 86_400_000)
    await aset_status(client, ADMIN_TOKEN, old["record"]["prediction"]["uuid"], "completed")
    listing = await _data(await client.get("/internal/v1/accounts", params={"sort": "-balance"}, headers=ADMIN))
    assert listing["total"] == 2 and listing["has_more"] is False
    first = listing["items"][0]
    assert first == {
        "id": rich["account"]["id"], "name": "Rich Studio", "balance": 44, "held": 2, "spend_30d": 5, "keys": 1,
        "created_at": first["created_at"],
    }
    assert held["record"]["order"]["state"] == "pre"
    assert [a["id"] for a in listing["items"]] == [rich["account"]["id"], poor["account"]["id"]]
    ascending = await _data(await client.get("/internal/v1/accounts", params={"sort": "balance"}, headers=ADMIN))
    assert [a["id"] for a in ascending["items"]] == [poor["account"]["id"], rich["account"]["id"]]
    spenders = await _data(await client.get("/internal/v1/accounts", params={"sort": "-spend_30d"}, headers=ADMIN))
    assert [(a["id"], a["spend_30d"]) for a in spenders["items"]] == [(rich["account"]["id"], 5), (poor["account"]["id"], 0)]
    least = await _data(await client.get("/internal/v1/accounts", params={"sort": "spend_30d"}, headers=ADMIN))
    assert [a["id"] for a in least["items"]] == [poor["account"]["id"], rich["account"]["id"]]
    # Under three characters a query matches names by their start (or an id); from three, anywhere.
    searches = (("POOR", [poor["account"]["id"]]), (str(rich["account"]["id"]), [rich["account"]["id"]]), ("zz", []),
                ("po", [poor["account"]["id"]]), ("or", []), ("STUDIO", [rich["account"]["id"]]), ("r cor", [poor["account"]["id"]]))
    for query, expected in searches:
        found = await _data(await client.get("/internal/v1/accounts", params={"query": query}, headers=ADMIN))
        assert [a["id"] for a in found["items"]] == expected and found["total"] == len(expected)
    paged = await _data(await client.get("/internal/v1/accounts", params={"page": 2, "page_size": 1, "sort": "created_at"}, headers=ADMIN))
    assert paged == {"page": 2, "total": 2, "has_more": False, "items": paged["items"]} and paged["items"][0]["id"] == poor["account"]["id"]
    for bad in ({"sort": "name"}, {"page_size": 0}, {"page_size": 101}, {"page": "x"}):
        response = await client.get("/internal/v1/accounts", params=bad, headers=ADMIN)
        assert response.status_code == 400, (bad, response.text)


async def test_one_account_and_its_keys(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    account_id = who["account"]["id"]
    charge = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "1.5")
    await aset_status(client, ADMIN_TOKEN, charge["record"]["prediction"]["uuid"], "completed")
    second = await _data(await client.post(f"/internal/v1/accounts/{account_id}/keys", json={"name": "ci"}, headers=ADMIN))
    assert (await client.delete(f"/internal/v1/keys/{second['access_key_id']}", headers=ADMIN)).status_code == 200
    detail = await _data(await client.get(f"/internal/v1/accounts/{account_id}", headers=ADMIN))
    assert detail["balance"] == 8.5 and detail["held"] == 0
    assert detail["spend_today"] == detail["spend_month"] == detail["spend_30d"] == 1.5
    assert detail["active_keys"] == 1 and [k["active"] for k in detail["keys"]] == [False, True]
    assert detail["limits"]["spend"] == {"daily": 1.5, "monthly": 1.5, "total": 1.5}
    assert detail["limits"]["limits"]["applied"] == {"daily": None, "monthly": None, "total": None}
    assert detail["alerts"] == {"low_balance": []}
    limits = {"daily": "5", "total": "100"}
    assert (await client.put(f"/internal/v1/accounts/{account_id}/limits", json=limits, headers=ADMIN)).status_code == 200
    alerts = {"low_balance": [5, 1]}
    assert (await client.put("/api/v3/account/alerts", json=alerts, headers=who["headers"])).status_code == 200
    detail = await _data(await client.get(f"/internal/v1/accounts/{account_id}", headers=ADMIN))
    assert detail["limits"]["limits"]["operator"] == {"daily": 5, "monthly": None, "total": 100}
    assert detail["alerts"] == {"low_balance": [5, 1]}
    audited = await _data(await client.get("/internal/v1/audit", params={"account_id": account_id}, headers=ADMIN))
    assert any(r["action"] == "limits" and r["target"] == f"account:{account_id}" for r in audited["items"])
    keys = await _data(await client.get(f"/internal/v1/accounts/{account_id}/keys", params={"page_size": 1}, headers=ADMIN))
    assert keys["total"] == 2 and keys["has_more"] is True
    assert keys["items"] == [{
        "access_key_id": second["access_key_id"], "ak_id": second["ak_id"], "name": "ci",
        "created_at": keys["items"][0]["created_at"], "revoked_at": keys["items"][0]["revoked_at"], "active": False,
    }]
    assert (await client.get("/internal/v1/accounts/999999", headers=ADMIN)).status_code == 404
    assert (await client.get("/internal/v1/accounts/999999/keys", headers=ADMIN)).status_code == 404


async def test_every_write_is_audited_with_its_outcome(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    account_id = who["account"]["id"]
    await arecharge(client, ADMIN_TOKEN, account_id, "5", reference="pay-1")
    adjust = {"amount": "-1", "reason": "duplicate top-up", "reference": "adj-1"}
    assert (await client.post(f"/internal/v1/accounts/{account_id}/adjustments", json=adjust, headers=ADMIN)).status_code == 200
    charge = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "1")
    await aset_status(client, ADMIN_TOKEN, charge["record"]["prediction"]["uuid"], "failed")
    batch = {"charges": [{"prediction_uuid": "a" * 32, "access_key_id": who["key"]["access_key_id"], "model_uuid": "m", "price": "1"},
                         {"prediction_uuid": "b" * 32, "access_key_id": who["key"]["access_key_id"], "model_uuid": "m", "price": "900"}]}
    assert (await client.post("/internal/v1/charges/batch", json=batch, headers=ADMIN)).status_code == 200
    refused = await client.post("/internal/v1/accounts/999999/recharges", json={"amount": "1", "reference": "x"}, headers=ADMIN)
    assert refused.status_code == 404
    rows = await _audit(client, account_id=account_id)
    actions = [r["action"] for r in reversed(rows)]
    assert actions == ["account.create", "key.create", "recharge", "adjust", "charge", "status"]
    (adjusted,) = [r for r in rows if r["action"] == "adjust"]
    assert adjusted["summary"] == {"amount": "-1", "reason": "duplicate top-up", "reference": "adj-1", "created": True}
    assert adjusted["token_name"] == "default" and adjusted["route"] == "POST /internal/v1/accounts/{account_id}/adjustments"
    (batched,) = await _audit(client, action="charge.batch")
    assert batched["summary"] == {"charges": 2, "created": 1, "insufficient": 1}
    (missing,) = await _audit(client, target="account:999999")
    assert missing["outcome"] == 404 and missing["summary"]["error"]
    key_rows = [r for r in rows if r["action"] == "key.create"]
    assert "api_key" not in str(key_rows) and who["key"]["api_key"] not in str(rows)
    assert (await client.get("/internal/v1/audit", params={"start_time": "2999-01-01"}, headers=ADMIN)).json()["data"]["total"] == 0
    assert (await client.get("/internal/v1/audit", params={"start_time": "soon"}, headers=ADMIN)).status_code == 400
    exported = await _data(await client.get("/internal/v1/audit/export", params={"limit": 2}, headers=ADMIN))
    assert len(exported["items"]) == 2 and exported["next_after_id"] == exported["items"][-1]["id"]
    assert exported["items"][0]["id"] < exported["items"][1]["id"]
    await assert_verified(app.state.db)


async def test_verify_finds_a_recharge_without_its_audit_row(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    from billbook.ledger import funds
    from billbook.ledger.verify import verify

    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    async with app.state.db.transaction(write=True) as conn:
        made = await funds.recharge(conn, who["account"]["id"], 1_000_000, "behind-the-back")
    async with app.state.db.transaction(write=False) as conn:
        report = await verify(conn)
    assert [v.check for v in report.violations] == ["audit"] and made.record.uuid in report.violations[0].message


async def test_account_and_key_creation_are_idempotent_under_a_key(client: httpx.AsyncClient) -> None:
    headers = ADMIN | {"Idempotency-Key": "onboard-42"}
    first = await _data(await client.post("/internal/v1/accounts", json={"name": "Once", "balance": "3"}, headers=headers))
    again = await _data(await client.post("/internal/v1/accounts", json={"name": "Once", "balance": "3"}, headers=headers))
    assert again == first
    other = await client.post("/internal/v1/accounts", json={"name": "Twice", "balance": "3"}, headers=headers)
    assert other.status_code == 409
    listing = await _data(await client.get("/internal/v1/accounts", params={"query": "once"}, headers=ADMIN))
    assert listing["total"] == 1 and listing["items"][0]["balance"] == 3
    path = f"/internal/v1/accounts/{first['id']}/keys"
    key_headers = ADMIN | {"Idempotency-Key": "key-42"}
    k1 = await _data(await client.post(path, json={"name": "prod"}, headers=key_headers))
    k2 = await _data(await client.post(path, json={"name": "prod"}, headers=key_headers))
    assert k1["access_key_id"] != k2["access_key_id"]
    keys = await _data(await client.get(f"{path}", headers=ADMIN))
    assert sorted(k["active"] for k in keys["items"]) == [False, True]
    assert (await client.get("/api/v3/balance", headers={"Authorization": f"Bearer {k1['api_key']}"})).status_code == 401
    assert (await client.get("/api/v3/balance", headers={"Authorization": f"Bearer {k2['api_key']}"})).status_code == 200
