"""The OpenAPI document describes the real routes, and real responses match its models."""

from __future__ import annotations

import httpx

from billbook.api.responses import BalanceData, ChargeOut, Envelope, SearchData, StatusOut, UsageStatsData
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, aset_status, new_uuid


async def test_document_lists_every_route(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    for path, method in [
        ("/api/v3/billings/search", "post"),
        ("/api/v3/balance", "get"),
        ("/api/v3/account/balance", "get"),
        ("/api/v3/user/usage_stats", "post"),
        ("/internal/v1/accounts", "post"),
        ("/internal/v1/accounts/{account_id}/keys", "post"),
        ("/internal/v1/keys/{access_key_id}", "delete"),
        ("/internal/v1/accounts/{account_id}/recharges", "post"),
        ("/internal/v1/accounts/{account_id}/adjustments", "post"),
        ("/internal/v1/charges", "post"),
        ("/internal/v1/charges/batch", "post"),
        ("/internal/v1/predictions/{uuid}/status", "post"),
        ("/healthz", "get"),
    ]:
        assert method in paths[path], (path, method)
    search = paths["/api/v3/billings/search"]["post"]
    assert "requestBody" in search
    body_schema = doc["components"]["schemas"]["SearchRequest"]["properties"]
    assert {"billing_type", "prediction_uuids", "sort", "start_time", "end_time", "page", "page_size"} <= set(body_schema)
    assert "422" not in search["responses"] and "400" in search["responses"]
    ok = search["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert "SearchData" in ok


async def test_responses_match_their_documented_models(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    uuid = new_uuid()
    charged = await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], prediction_uuid=uuid, model_type="text-to-image")
    Envelope[ChargeOut].model_validate({"data": charged})
    Envelope[StatusOut].model_validate({"data": await aset_status(client, ADMIN_TOKEN, uuid, "failed")})
    h = who["headers"]
    Envelope[SearchData].model_validate((await client.post("/api/v3/billings/search", json={}, headers=h)).json())
    Envelope[BalanceData].model_validate((await client.get("/api/v3/balance", headers=h)).json())
    body = {"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-31T00:00:00Z"}
    Envelope[UsageStatsData].model_validate((await client.post("/api/v3/user/usage_stats", json=body, headers=h)).json())


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"code": 200, "message": "success", "data": {"status": "ok"}}
