"""The routes the edge calls without FastAPI's router answer exactly as the router's way would."""

from __future__ import annotations

import httpx
import pytest

from billbook.api.direct import DirectRoutes, _table
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, new_uuid

SEARCH = "/api/v3/billings/search"


def test_the_hot_routes_and_only_fixed_customer_routes_are_direct(app) -> None:  # noqa: ANN001
    table = _table(app.routes)
    assert {("POST", SEARCH), ("GET", "/api/v3/balance"), ("GET", "/api/v3/account/balance"),
            ("POST", "/api/v3/user/usage_stats"), ("GET", "/healthz")} <= set(table)
    for method, path in table:
        assert "{" not in path, path  # a path with parameters goes through the router
        assert not path.startswith("/internal/"), path  # operator routes authenticate otherwise
    assert ("GET", "/") not in table and ("GET", "/metrics") not in table


async def _answers(client: httpx.AsyncClient, who: dict) -> list[tuple[int, object]]:
    headers = who["headers"]
    json_headers = headers | {"Content-Type": "application/json"}
    requests = [
        client.post(SEARCH, json={"page": 1, "page_size": 5}, headers=headers),
        client.post(SEARCH, headers=headers),  # no body: the defaults
        client.post(SEARCH, json={"page_size": 0}, headers=headers),
        client.post(SEARCH, json=[1], headers=headers),
        client.post(SEARCH, content=b"{nope", headers=json_headers),
        client.post(SEARCH, content=b'{"page": NaN}', headers=json_headers),
        client.post(SEARCH, content=b"[" * 100_000, headers=json_headers),
        client.post(SEARCH, json={}, headers={"Authorization": "Bearer bb_0000000000000000_nope"}),
        client.post(SEARCH, json={}),
        client.get("/api/v3/balance", headers=headers),
        client.head("/api/v3/balance", headers=headers),
        client.post("/api/v3/user/usage_stats", headers=headers),  # the body is required
        client.post("/api/v3/user/usage_stats", json={"start_time": "2026-01-01", "end_time": "2026-01-31"}, headers=headers),
        client.get("/healthz"),
        client.put(SEARCH, json={}, headers=headers),  # not the route's method: 405 from the router
    ]
    answers = []
    for pending in requests:
        response = await pending
        body = response.json() if response.content else None
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body["data"].pop("request_id", None)
        answers.append((response.status_code, body))
    return answers


async def test_direct_answers_equal_the_routers(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    for _ in range(3):
        await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], prediction_uuid=new_uuid())
    direct = await _answers(client, who)
    monkeypatch.setattr(DirectRoutes, "find", lambda self, method, path: None)
    routed = await _answers(client, who)
    assert direct == routed
    statuses = [status for status, _ in direct]
    assert statuses == [200, 200, 400, 400, 400, 400, 400, 401, 401, 200, 200, 400, 200, 200, 405]
