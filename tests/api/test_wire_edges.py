"""Edges of the wire found by probing from outside: exact money both ways, credentials before
bodies, one credential per request, bounded numbers, times in milliseconds, empty filters, HEAD."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from billbook.api.envelope import usd
from billbook.money import MAX_BALANCE_MICROS, usd_text
from tests.api.test_limits import serving
from tests.conftest import ADMIN_TOKEN, free_port
from tests.factories import acreate_charge, acustomer, aset_status

SEARCH = "/api/v3/billings/search"
USAGE = "/api/v3/user/usage_stats"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and body["data"] is None
    for word in words:
        assert word in body["message"], (word, body["message"])
    return body["message"]


# --- exact money out --------------------------------------------------------------------------


@given(st.integers(min_value=-MAX_BALANCE_MICROS, max_value=MAX_BALANCE_MICROS))
def test_every_storable_amount_renders_as_its_exact_decimal(micros: int) -> None:
    text = orjson.dumps({"m": usd(micros)}).decode()
    rendered = text[len('{"m":') : -1]
    assert Decimal(rendered) == Decimal(micros) / 1_000_000
    assert re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?", rendered), rendered
    assert usd_text(micros) == rendered


async def test_a_balance_beyond_a_double_s_precision_renders_exactly(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="999999999.999999")
    url = f"/internal/v1/accounts/{who['account']['id']}/recharges"
    for i in range(8):
        response = await client.post(url, json={"amount": "1000000000", "reference": f"big{i}"}, headers=ADMIN)
        assert response.status_code == 200, response.text
    assert b'"balance":8999999999.999999' in response.content
    balance = await client.get("/api/v3/balance", headers=who["headers"])
    assert b'"balance":8999999999.999999,' in balance.content
    records = await client.post(SEARCH, json={"billing_type": "recharge", "sort": "created_at ASC"}, headers=who["headers"])
    assert b'"price":999999999.999999' in records.content


# --- exact money in ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["\u0661", " 0.04 ", "1E+2", "0e+1000000", "+1", "1.", ".5", "0x10", "1_000", "NaN", ""])
async def test_money_text_is_ascii_digits_and_one_point(client: httpx.AsyncClient, text: str) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    before = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    body = {"prediction_uuid": "ab" * 16, "access_key_id": who["key"]["access_key_id"], "model_uuid": "m", "price": text}
    assert_error(await client.post("/internal/v1/charges", json=body, headers=ADMIN), 400, "price")
    url = f"/internal/v1/accounts/{who['account']['id']}/recharges"
    assert_error(await client.post(url, json={"amount": text, "reference": "r"}, headers=ADMIN), 400, "amount")
    after = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
    assert after == before


async def test_money_as_a_plain_string_or_number_is_accepted(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="0")
    url = f"/internal/v1/accounts/{who['account']['id']}/recharges"
    assert (await client.post(url, json={"amount": "1.25", "reference": "a"}, headers=ADMIN)).status_code == 200
    assert (await client.post(url, content=b'{"amount": 2.5, "reference": "b"}', headers=ADMIN)).status_code == 200
    adjust = f"/internal/v1/accounts/{who['account']['id']}/adjustments"
    body = {"amount": "-0.75", "reason": "goodwill reversed", "reference": "c"}
    assert (await client.post(adjust, json=body, headers=ADMIN)).status_code == 200
    assert (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"] == 3


# --- credentials ------------------------------------------------------------------------------


async def test_two_authorization_headers_are_refused(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    key = who["headers"]["Authorization"]
    headers = [("Authorization", key), ("Authorization", "Bearer bb_0123456789abcdef_fake")]
    assert_error(await client.post(SEARCH, json={}, headers=headers), 400, "one Authorization header")
    assert_error(await client.get("/api/v3/balance", headers=headers), 400, "one Authorization header")


async def test_the_rate_limit_counts_the_authenticated_key_whatever_else_is_sent(database_url: str) -> None:
    async with serving(database_url, rate_limit="3/minute") as http:
        who = await acustomer(http, ADMIN_TOKEN)
        key = who["headers"]["Authorization"]
        statuses = []
        for i in range(6):
            fake = f"Bearer bb_{i:016x}_fake"
            statuses.append((await http.get("/api/v3/balance", headers=[("Authorization", key), ("Authorization", fake)])).status_code)
            statuses.append((await http.get("/api/v3/balance", headers={"Authorization": key})).status_code)
        assert set(statuses[0::2]) == {400}
        assert statuses[1::2][:3] == [200, 200, 200] and set(statuses[1::2][3:]) == {429}


@pytest.mark.parametrize("auth", [None, "Bearer bb_0123456789abcdef_wrongsecret", "Bearer nope", "Token x"])
async def test_the_credential_is_checked_before_the_body(client: httpx.AsyncClient, auth: str | None) -> None:
    malformed = b'{"page": ' + b"[" * 500_000
    headers = {"Authorization": auth} if auth else {}
    for path in (SEARCH, USAGE):
        assert_error(await client.post(path, content=malformed, headers=headers), 401)
    assert_error(await client.post("/internal/v1/charges", content=malformed, headers=headers), 401)


async def test_internal_routes_check_the_admin_token_before_the_body(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    response = await client.post("/internal/v1/accounts", content=b"{not json", headers=who["headers"])
    assert_error(response, 401, "invalid admin token")
    assert_error(await client.post("/internal/v1/accounts", content=b"{", headers={"Authorization": "x"}), 401,
                 "Authorization must be 'Bearer <admin token>'")


async def test_metrics_can_need_a_token(database_url: str) -> None:
    async with serving(database_url, metrics_token="m" * 24) as http:
        assert_error(await http.get("/metrics"), 401, "metrics token")
        assert_error(await http.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)
        response = await http.get("/metrics", headers={"Authorization": "Bearer " + "m" * 24})
        assert response.status_code == 200 and b"billbook_" in response.content
    async with serving(database_url) as http:
        assert (await http.get("/metrics")).status_code == 200


# --- numbers and times ------------------------------------------------------------------------


@pytest.mark.parametrize("page", [2**64, 2**63, 10**30, 1_000_000_001])
async def test_page_numbers_are_bounded(client: httpx.AsyncClient, page: int) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    content = b'{"page": %d}' % page
    assert_error(await client.post(SEARCH, content=content, headers=who["headers"]), 400, "page must be between 1 and")


async def test_the_last_page_allowed_answers(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    data = (await client.post(SEARCH, json={"page": 1_000_000_000, "page_size": 100}, headers=who["headers"])).json()["data"]
    assert data["items"] == [] and data["total"] == 1 and not data["has_more"]


@pytest.mark.parametrize("field", ["start_time", "end_time"])
async def test_huge_numbers_never_show_internals(client: httpx.AsyncClient, field: str) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    for content in (orjson.dumps({field: "9" * 5000}), b'{"%s": %s}' % (field.encode(), b"9" * 5000)):
        message = assert_error(await client.post(SEARCH, content=content, headers=who["headers"]), 400, field)
        assert "sys." not in message and "int_max_str_digits" not in message and "Decimal" not in message


async def test_times_in_seconds_are_refused_with_a_hint(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    message = assert_error(await client.post(SEARCH, json={"start_time": "1767225600"}, headers=who["headers"]), 400, "start_time")
    assert "milliseconds" in message
    body = {"start_time": 1767225600, "end_time": 1769817600}
    assert "milliseconds" in assert_error(await client.post(USAGE, json=body, headers=who["headers"]), 400, "start_time")
    charge = {"prediction_uuid": "cd" * 16, "access_key_id": who["key"]["access_key_id"], "model_uuid": "m",
              "price": "0.01", "created_at": 1767225600}
    assert "milliseconds" in assert_error(await client.post("/internal/v1/charges", json=charge, headers=ADMIN), 400, "created_at")


# --- empty filters ----------------------------------------------------------------------------


async def test_empty_strings_and_arrays_mean_no_filter(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    for i in range(3):
        await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.01", model_uuid=f"m/{i}")
    h = who["headers"]
    everything = (await client.post(SEARCH, json={}, headers=h)).json()["data"]["total"]
    assert everything == 4
    for body in (
        {"model_uuid": ""}, {"model_uuid": []}, {"model_uuid": ["", " "]}, {"billing_type": ""},
        {"prediction_uuids": []}, {"prediction_uuids": [""]}, {"access_key_uuid": ""}, {"access_key_uuid": []},
        {"sort": ""}, {"start_time": "", "end_time": ""},
    ):
        response = await client.post(SEARCH, json=body, headers=h)
        assert response.status_code == 200, (body, response.text)
        assert response.json()["data"]["total"] == everything, body


async def test_usage_stats_takes_several_models_and_a_whole_end_day(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    key = who["key"]["access_key_id"]
    late = T0 + 30 * DAY_MS + DAY_MS - 1  # 2026-01-31T23:59:59.999Z
    for model, at in (("m/a", T0 + 1000), ("m/b", late), ("m/c", T0 + 2000)):
        await acreate_charge(client, ADMIN_TOKEN, key, "0.5", model_uuid=model, created_at=at)
    body = {"start_time": "2026-01-01", "end_time": "2026-01-31", "model_uuid": ["m/a", "m/b"]}
    data = (await client.post(USAGE, json=body, headers=who["headers"])).json()["data"]
    assert sorted(m["model_uuid"] for m in data["per_model_usage"]) == ["m/a", "m/b"]
    assert data["summary"]["total_requests"] == 2
    one = {"start_time": "2026-01-01", "end_time": "2026-01-31", "model_uuid": "m/c"}
    assert (await client.post(USAGE, json=one, headers=who["headers"])).json()["data"]["summary"]["total_cost"] == 0.5
    none = {"start_time": "2026-01-01", "end_time": "2026-01-31", "model_uuid": ""}
    assert (await client.post(USAGE, json=none, headers=who["headers"])).json()["data"]["summary"]["total_requests"] == 3


async def test_a_date_alone_as_the_search_s_end_covers_the_day(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.01", created_at=T0 + DAY_MS - 1)
    body = {"start_time": "2026-01-01", "end_time": "2026-01-01", "billing_type": "deduct"}
    assert (await client.post(SEARCH, json=body, headers=who["headers"])).json()["data"]["total"] == 1


# --- names and HEAD ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["line\nbreak", "tab\there", "bell\x07", "esc\x1b[31m", "c1\x85"])
async def test_control_characters_in_names_are_refused(client: httpx.AsyncClient, name: str) -> None:
    assert_error(await client.post("/internal/v1/accounts", json={"name": name}, headers=ADMIN), 400, "name")
    who = await acustomer(client, ADMIN_TOKEN)
    url = f"/internal/v1/accounts/{who['account']['id']}/keys"
    assert_error(await client.post(url, json={"name": name}, headers=ADMIN), 400, "name")


async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    for path, headers in (("/healthz", {}), ("/api/v3/balance", who["headers"]), ("/openapi.json", {}), ("/", {})):
        get = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b""
        assert head.headers.get("content-length") == get.headers.get("content-length"), path
    assert (await client.head("/api/v3/balance")).status_code == 401
    assert (await client.head(SEARCH, headers=who["headers"])).status_code == 405


async def test_refunds_render_exact_money_on_the_status_route(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="5")
    charged = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.000001")
    refund = (await aset_status(client, ADMIN_TOKEN, charged["record"]["prediction"]["uuid"], "failed"))["refund"]
    assert refund["price"] == 0.000001


async def test_metrics_can_move_to_a_port_of_their_own(database_url: str) -> None:
    port = free_port()
    token = "t" * 20
    async with serving(database_url, metrics_port=port, metrics_token=token) as http:
        assert (await http.get("/metrics")).status_code == 404
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as side:
            assert (await side.get("/metrics")).status_code == 401
            response = await side.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200 and b"billbook_" in response.content
            assert (await side.get("/other", headers={"Authorization": f"Bearer {token}"})).status_code == 404


@pytest.mark.parametrize("body", [b"0.0", b"2.0146382584489998e-54", b"1.5"])
async def test_a_number_is_not_a_search_body(client: httpx.AsyncClient, body: bytes) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    assert_error(await client.post(SEARCH, content=body, headers=who["headers"]), 400, "request body must be a JSON object")
