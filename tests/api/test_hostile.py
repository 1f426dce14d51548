"""Request validation under hostile input, on every route and in every field.

Hypothesis puts SQL fragments, huge numbers, NaN, awkward unicode and nested JSON into one field
of an otherwise valid request (or replaces the body, a path parameter or the credentials). The
answer must always be one the contract lists (200, 400, 401, 402, 404, 409), never a 500, in the
envelope; and a refused request must change nothing in the database.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billbook.store.db import Database
from billbook.store.tables import accounts, metadata
from tests.api.hostile import encode, header_text, hostile
from tests.checks import assert_verified
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, new_uuid

EXAMPLES = int(os.environ.get("BILLBOOK_FUZZ_EXAMPLES", "40"))
ALLOWED = {200, 400, 401, 402, 404, 409}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def routes(who: dict) -> dict[str, tuple[str, str, dict, str | None]]:
    """name -> (method, path with ``{}`` for the path parameter, valid body, valid path parameter)."""
    key = who["key"]["access_key_id"]
    charge = {"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "m/x", "price": "0.01",
              "origin_price": "0.02", "model_type": "text-to-image", "created_at": 1_767_225_600_000}
    window = {"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-02T00:00:00Z"}
    return {
        "search": ("POST", "/api/v3/billings/search", {
            "billing_type": "deduct", "prediction_uuids": [who["uuid"]], "sort": "created_at ASC",
            "start_time": "1700000000000", "end_time": 1900000000000, "page": 1, "page_size": 5,
            "model_uuid": "m/x", "access_key_uuid": [key],
        }, None),
        "usage_stats": ("POST", "/api/v3/user/usage_stats", window | {"model_uuid": "m/x", "access_key_uuid": key}, None),
        "balance": ("GET", "/api/v3/balance", {}, None),
        "accounts": ("POST", "/internal/v1/accounts", {"name": "n", "balance": "1"}, None),
        "keys": ("POST", "/internal/v1/accounts/{}/keys", {"name": "k"}, str(who["account"]["id"])),
        "revoke": ("DELETE", "/internal/v1/keys/{}", {}, "999999_1"),
        "recharges": ("POST", "/internal/v1/accounts/{}/recharges", {"amount": "1", "reference": new_uuid()},
                      str(who["account"]["id"])),
        "adjustments": ("POST", "/internal/v1/accounts/{}/adjustments",
                        {"amount": "-0.5", "reason": "r", "reference": new_uuid()}, str(who["account"]["id"])),
        "charges": ("POST", "/internal/v1/charges", charge, None),
        "batch": ("POST", "/internal/v1/charges/batch", {"charges": [charge, dict(charge)]}, None),
        "status": ("POST", "/internal/v1/predictions/{}/status", {"status": "processing", "at": 1_767_225_600_000},
                   who["uuid"]),
    }


async def fingerprint(db: Database) -> tuple:
    """Row counts of every table and the sum of balances: what any write would change. The audit
    log is left out: a refused write is audited, with its status, by design."""
    tables = [t for t in metadata.sorted_tables if t.name != "audit_log"]
    columns = [select(func.count()).select_from(t).scalar_subquery() for t in tables]
    columns.append(select(func.coalesce(func.sum(accounts.c.balance), 0)).scalar_subquery())
    async with db.transaction(write=False) as conn:
        return tuple((await conn.execute(select(*columns))).one())


@pytest.fixture
async def who(client: httpx.AsyncClient) -> dict:
    customer = await acustomer(client, ADMIN_TOKEN, balance="50")
    customer["uuid"] = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, customer["key"]["access_key_id"], prediction_uuid=customer["uuid"])
    return customer


def _mutate(draw: st.DrawFn, body: dict, param: str | None, headers: dict) -> tuple[Any, str | None, dict]:
    mode = draw(st.sampled_from(("field", "field", "field", "drop", "extra", "body", "item", "param", "auth")))
    body = dict(body)
    if mode == "field" and body:
        body[draw(st.sampled_from(sorted(body)))] = draw(hostile)
    elif mode == "drop" and body:
        del body[draw(st.sampled_from(sorted(body)))]
    elif mode == "extra":
        body[draw(st.text(max_size=10))] = draw(hostile)
    elif mode == "body":
        return draw(hostile), param, headers
    elif mode == "item" and "charges" in body:
        item = dict(body["charges"][0])
        item[draw(st.sampled_from(sorted(item)))] = draw(hostile)
        body["charges"] = [item, *body["charges"][1:]]
    elif mode == "param" and param is not None:
        param = str(draw(hostile))
    elif mode == "auth":
        headers = {"Authorization": draw(header_text)}
    return body, param, headers


@pytest.mark.parametrize("route", ["search", "usage_stats", "balance", "accounts", "keys", "revoke", "recharges",
                                   "adjustments", "charges", "batch", "status"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
async def test_hostile_input_never_breaks_a_route(
    client: httpx.AsyncClient, app, who: dict, route: str, data: st.DataObject  # noqa: ANN001
) -> None:
    method, path, body, param = routes(who)[route]
    headers = who["headers"] if path.startswith("/api/") else ADMIN
    body, param, headers = data.draw(st.composite(lambda draw: _mutate(draw, body, param, headers))())
    url = path.format(quote(param, safe="")) if param is not None else path
    before = await fingerprint(app.state.db)
    content = encode(body) if method != "GET" else None
    response = await client.request(method, url, content=content, headers=headers | {"Content-Type": "application/json"})
    assert response.status_code in ALLOWED | {405}, (response.status_code, response.text)
    payload = response.json()
    assert payload["code"] == response.status_code and isinstance(payload["message"], str)
    if response.status_code != 200:
        assert payload["data"] is None
        assert await fingerprint(app.state.db) == before, f"a refused request ({response.status_code}) changed the database"


async def test_the_ledger_is_whole_after_hostile_input(client: httpx.AsyncClient, app, who: dict) -> None:  # noqa: ANN001
    """A sample of hostile charges and status changes, then ``verify``."""
    for value in ("\x00", "' OR 1=1 --", 10**30, float("nan"), {"a": [1]}, "\ud800"):
        body = {"prediction_uuid": new_uuid(), "access_key_id": who["key"]["access_key_id"], "model_uuid": value,
                "price": "0.01"}
        response = await client.post("/internal/v1/charges", content=encode(body), headers=ADMIN)
        assert response.status_code in (200, 400), response.text
    await assert_verified(app.state.db)
