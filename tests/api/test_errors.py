"""Every error case of the contract: status == code, data null, a message naming the field."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, new_uuid

SEARCH = "/api/v3/billings/search"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def assert_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and body["data"] is None
    for word in words:
        assert word in body["message"], (word, body["message"])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"page_size": 0}, ["page_size must be between 1 and 100"]),
        ({"page_size": 101}, ["page_size must be between 1 and 100"]),
        ({"page": 0}, ["page must be"]),
        ({"page": "1"}, ["page must be an integer"]),
        ({"page": True}, ["page must be an integer"]),
        ({"page_size": 1.5}, ["page_size must be an integer"]),
        ({"page_size": 10.0}, ["page_size must be an integer"]),
        ({"billing_type": "charge"}, ["billing_type", "deduct"]),
        ({"billing_type": 3}, ["billing_type"]),
        ({"sort": "price desc"}, ["sort must be"]),
        ({"start_time": "yesterday"}, ["start_time must be"]),
        ({"end_time": "2026-13-01T00:00:00Z"}, ["end_time must be"]),
        ({"start_time": -5}, ["start_time"]),
        ({"start_time": "1767225600001", "end_time": "1767225600000"}, ["start_time must not be after end_time"]),
        ({"prediction_uuids": "abc"}, ["prediction_uuids must be an array"]),
        ({"prediction_uuids": [1]}, ["prediction_uuids[0] must be a string"]),
        ({"prediction_uuids": ["a"] * 101}, ["prediction_uuids"]),
        ({"model_uuid": [1]}, ["model_uuid must be a string or an array of strings"]),
        ({"access_key_uuid": {"x": 1}}, ["access_key_uuid"]),
        ([1, 2], ["request body must be a JSON object"]),
    ],
)
async def test_bad_search_bodies_are_400_naming_the_field(client: httpx.AsyncClient, body: object, words: list) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    assert_error(await client.post(SEARCH, json=body, headers=who["headers"]), 400, *words)


@pytest.mark.parametrize("raw", [b"{not json", b'{"page": NaN}', b'{"page": Infinity}', b"[" * 100_000])
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    headers = who["headers"] | {"Content-Type": "application/json"}
    assert_error(await client.post(SEARCH, content=raw, headers=headers), 400, "not valid JSON")


async def test_unknown_fields_are_ignored(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    response = await client.post(SEARCH, json={"page": 1, "colour": "blue"}, headers=who["headers"])
    assert response.status_code == 200


async def test_body_is_read_as_json_whatever_the_content_type(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    headers = who["headers"] | {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(SEARCH, content=b'{"page_size": 1}', headers=headers)
    assert response.status_code == 200 and len(response.json()["data"]["items"]) == 1


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, ["missing API key"]),
        ({"Authorization": "Basic abc"}, ["Authorization must be 'Bearer <api key>'"]),
        ({"Authorization": "bb_0123456789abcdef_secret"}, ["Authorization must be 'Bearer <api key>'"]),
        ({"Authorization": "Bearer "}, ["missing API key"]),
        ({"Authorization": "Bearer not-a-key"}, ["invalid API key"]),
        ({"Authorization": "Bearer bb_0123456789abcdef_wrongsecret"}, ["invalid API key"]),
        (ADMIN, ["invalid API key"]),
    ],
)
async def test_public_routes_refuse_bad_credentials(client: httpx.AsyncClient, headers: dict, words: list) -> None:
    assert_error(await client.post(SEARCH, json={}, headers=headers), 401, *words)
    assert_error(await client.get("/api/v3/balance", headers=headers), 401)


async def test_unauthenticated_request_with_a_bad_body_is_401(client: httpx.AsyncClient) -> None:
    assert_error(await client.post(SEARCH, json={"page": "x"}), 401)


async def test_api_key_is_not_accepted_on_internal_routes(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    response = await client.post("/internal/v1/accounts", json={"name": "x"}, headers=who["headers"])
    assert_error(response, 401, "invalid admin token")
    assert_error(await client.post("/internal/v1/accounts", json={"name": "x"}), 401)


async def test_revoked_key_stops_at_once(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    assert (await client.get("/api/v3/balance", headers=who["headers"])).status_code == 200
    revoked = await client.delete(f"/internal/v1/keys/{who['key']['access_key_id']}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["data"]["revoked_at"].endswith("Z")
    assert_error(await client.get("/api/v3/balance", headers=who["headers"]), 401, "revoked")


async def test_charge_larger_than_balance_is_402_and_writes_nothing(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    uuid = new_uuid()
    body = {"prediction_uuid": uuid, "access_key_id": who["key"]["access_key_id"], "model_uuid": "m", "price": "1.000001"}
    assert_error(await client.post("/internal/v1/charges", json=body, headers=ADMIN), 402, "insufficient balance")
    data = (await client.post(SEARCH, json={}, headers=who["headers"])).json()["data"]
    assert data["total"] == 1  # the opening recharge only
    assert_error(await client.post(f"/internal/v1/predictions/{uuid}/status", json={"status": "failed"}, headers=ADMIN), 404)
    # The same uuid can be charged once the balance allows it.
    body["price"] = "1"
    assert (await client.post("/internal/v1/charges", json=body, headers=ADMIN)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v3/nothing-here", None),
        ("POST", f"/internal/v1/predictions/{'f' * 32}/status", {"status": "completed"}),
        ("DELETE", "/internal/v1/keys/1_0000000000000000000", None),
        ("POST", "/internal/v1/accounts/999999/keys", {"name": "k"}),
        ("POST", "/internal/v1/accounts/999999/recharges", {"amount": 1, "reference": "r"}),
        ("POST", "/internal/v1/accounts/999999/adjustments", {"amount": 1, "reason": "x", "reference": "r"}),
        ("POST", "/internal/v1/charges", {"prediction_uuid": "a" * 32, "access_key_id": "9_1", "model_uuid": "m", "price": 1}),
    ],
)
async def test_unknown_things_are_404(client: httpx.AsyncClient, method: str, path: str, body: object) -> None:
    assert_error(await client.request(method, path, json=body, headers=ADMIN), 404)


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    assert_error(await client.get(SEARCH, headers=who["headers"]), 405, "method not allowed")
    assert_error(await client.post("/api/v3/balance", headers=who["headers"]), 405)


async def test_reused_idempotency_key_with_another_payload_is_409(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    key = who["key"]["access_key_id"]
    uuid = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, key, "0.04", prediction_uuid=uuid)
    body = {"prediction_uuid": uuid, "access_key_id": key, "model_uuid": "bytedance/seedream-v4.5", "price": "0.05"}
    assert_error(await client.post("/internal/v1/charges", json=body, headers=ADMIN), 409, "price")
    account = who["account"]["id"]
    url = f"/internal/v1/accounts/{account}/recharges"
    assert (await client.post(url, json={"amount": 5, "reference": "pay-1"}, headers=ADMIN)).status_code == 200
    assert_error(await client.post(url, json={"amount": 6, "reference": "pay-1"}, headers=ADMIN), 409, "pay-1")


@pytest.mark.parametrize(
    ("path_status", "then", "ok"),
    [
        ("completed", "failed", False),
        ("failed", "completed", False),
        ("processing", "created", False),
        ("timeout", "cancelled", False),
        ("processing", "completed", True),
        ("created", "cancelled", True),
    ],
)
async def test_status_transitions(client: httpx.AsyncClient, path_status: str, then: str, ok: bool) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    uuid = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], prediction_uuid=uuid)
    url = f"/internal/v1/predictions/{uuid}/status"
    if path_status != "created":
        assert (await client.post(url, json={"status": path_status}, headers=ADMIN)).status_code == 200
    response = await client.post(url, json={"status": then}, headers=ADMIN)
    if ok:
        assert response.status_code == 200
    else:
        assert_error(response, 409, "cannot go from")


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/internal/v1/accounts", {"balance": 1}, ["name is required"]),
        ("/internal/v1/accounts", {"name": "x", "balance": -1}, ["balance must not be negative"]),
        ("/internal/v1/accounts", {"name": "x", "balance": "0.0000001"}, ["balance must have at most 6 decimal places"]),
        ("/internal/v1/accounts", {"name": "x", "balance": True}, ["balance must be a number"]),
        ("/internal/v1/accounts", {"name": "  "}, ["name must be 1 to 200 characters"]),
        ("/internal/v1/charges", {"prediction_uuid": "NOT-HEX", "access_key_id": "1_1", "model_uuid": "m", "price": 1},
         ["prediction_uuid must be 32 lower-case hex"]),
        ("/internal/v1/charges", {"prediction_uuid": "a" * 32, "access_key_id": "1_1", "model_uuid": "m", "price": -1},
         ["price must not be negative"]),
        ("/internal/v1/charges", {"prediction_uuid": "a" * 32, "access_key_id": "1_1", "model_uuid": "m", "origin_price": 1},
         ["origin_price may only be sent with price"]),
        ("/internal/v1/charges", {"prediction_uuid": "a" * 32, "access_key_id": "1_1", "model_uuid": "m", "inputs": [1]},
         ["inputs"]),
        ("/internal/v1/charges/batch", {"charges": []}, ["charges"]),
        ("/internal/v1/charges/batch", {"charges": [{}] * 1001}, ["charges"]),
        (f"/internal/v1/predictions/{'a' * 32}/status", {"status": "exploded"}, ["status must be"]),
    ],
)
async def test_bad_internal_bodies_are_400(client: httpx.AsyncClient, path: str, body: dict, words: list) -> None:
    assert_error(await client.post(path, json=body, headers=ADMIN), 400, *words)


async def test_unexpected_failure_is_500_without_internals(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from billbook.ledger import accounts

    async def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("secret connection string postgresql://user:pw@db")

    # As a real server does, keep serving after the error instead of re-raising it into the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test") as client:
        who = await acustomer(client, ADMIN_TOKEN)
        monkeypatch.setattr(accounts, "get_balance", broken)
        response = await client.get("/api/v3/balance", headers=who["headers"])
    assert_error(response, 500, "internal server error")
    assert "postgresql" not in response.text


async def test_missing_or_non_utf8_body_is_400(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    response = await client.post("/api/v3/user/usage_stats", headers=who["headers"])
    assert_error(response, 400, "request body is required")
    bad = await client.post(SEARCH, content=b'{"sort": "\xff"}', headers=who["headers"])
    assert_error(bad, 400, "not valid JSON")


async def test_balances_stay_within_exact_range(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="1000000000")
    url = f"/internal/v1/accounts/{who['account']['id']}/recharges"
    for i in range(8):
        assert (await client.post(url, json={"amount": "1000000000", "reference": f"r{i}"}, headers=ADMIN)).status_code == 200
    response = await client.post(url, json={"amount": "1000000000", "reference": "r9"}, headers=ADMIN)
    assert_error(response, 400, "amount would take the balance beyond")
    assert_error(await client.post(url, json={"amount": "1e13", "reference": "x"}, headers=ADMIN), 400, "amount must be a number")
    too_large = b'{"amount": 1e13, "reference": "x"}'
    assert_error(await client.post(url, content=too_large, headers=ADMIN), 400, "amount is too large")
