"""POST /api/v3/user/usage_stats: per model, per UTC day, summary; net of refunds; 31 days at most."""

from __future__ import annotations

import random

import httpx
import pytest

from billbook.ledger.usage import cells_from_deducts, summarise, usage_cells
from billbook.store import usage as usage_store
from billbook.times import MS_PER_DAY, ms_to_iso
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acreate_key, acustomer, aset_status, new_uuid

URL = "/api/v3/user/usage_stats"
T0 = 1_767_225_600_000  # 2026-01-01


async def stats(client: httpx.AsyncClient, who: dict, **body: object) -> dict:
    response = await client.post(URL, json=body, headers=who["headers"])
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_shape_and_net_of_refunds(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    key = who["key"]["access_key_id"]
    a, b, c = new_uuid(), new_uuid(), new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, key, "0.04", "bytedance/seedream-v4.5", a, T0 + 1000, model_type="text-to-image")
    await acreate_charge(client, ADMIN_TOKEN, key, "0.04", "bytedance/seedream-v4.5", b, T0 + MS_PER_DAY + 5)
    await acreate_charge(client, ADMIN_TOKEN, key, "1.2", "google/veo3-fast", c, T0 + MS_PER_DAY + 9, model_type="text-to-video")
    await aset_status(client, ADMIN_TOKEN, a, "completed")
    await aset_status(client, ADMIN_TOKEN, b, "failed", at=T0 + 10 * MS_PER_DAY)  # refund counts on b's day
    data = await stats(client, who, start_time="2026-01-01T00:00:00Z", end_time="2026-01-31T23:59:59.999Z")
    assert data["summary"] == {"total_cost": 1.24, "total_requests": 3, "success_requests": 1}
    assert data["per_model_usage"] == [
        {"model_uuid": "google/veo3-fast", "model_type": "text-to-video", "unit_price": 1.2, "total_cost": 1.2,
         "total_count": 1, "last_used_date": ms_to_iso(T0 + MS_PER_DAY + 9)},
        {"model_uuid": "bytedance/seedream-v4.5", "model_type": "text-to-image", "unit_price": 0.04,
         "total_cost": 0.04, "total_count": 1, "last_used_date": ms_to_iso(T0 + MS_PER_DAY + 5)},
    ]
    assert data["daily_usage"] == [
        {"date": "2026-01-01", "amount": 0.04, "count": 1,
         "models": [{"model_uuid": "bytedance/seedream-v4.5", "amount": 0.04, "count": 1}]},
        {"date": "2026-01-02", "amount": 1.2, "count": 1,
         "models": [{"model_uuid": "bytedance/seedream-v4.5", "amount": 0, "count": 0},
                    {"model_uuid": "google/veo3-fast", "amount": 1.2, "count": 1}]},
    ]
    only = await stats(client, who, start_time="2026-01-01T00:00:00Z", end_time="2026-01-31T00:00:00Z", model_uuid="google/veo3-fast")
    assert [m["model_uuid"] for m in only["per_model_usage"]] == ["google/veo3-fast"]


async def test_by_key(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    other = await acreate_key(client, ADMIN_TOKEN, who["account"]["id"], "other")
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.5", created_at=T0)
    await acreate_charge(client, ADMIN_TOKEN, other["access_key_id"], "0.25", created_at=T0)
    data = await stats(client, who, start_time=ms_to_iso(T0), end_time=ms_to_iso(T0 + 1), access_key_uuid=other["access_key_id"])
    assert data["summary"]["total_cost"] == 0.25


async def test_unit_price_on_a_tie_is_the_higher_price_whichever_key_charged(client: httpx.AsyncClient) -> None:
    """Two keys charge one model in the same millisecond: the unit price is the higher of the two,
    not whichever key's cell happens to be read first."""
    who = await acustomer(client, ADMIN_TOKEN)
    other = await acreate_key(client, ADMIN_TOKEN, who["account"]["id"], "other")
    for first, second in ((who["key"], other), (other, who["key"])):
        day = T0 + (MS_PER_DAY if first is other else 0)
        await acreate_charge(client, ADMIN_TOKEN, first["access_key_id"], "0.765", "m/tie", new_uuid(), day + 7)
        await acreate_charge(client, ADMIN_TOKEN, second["access_key_id"], "0.3825", "m/tie", new_uuid(), day + 7)
        data = await stats(client, who, start_time=ms_to_iso(day), end_time=ms_to_iso(day + 10))
        assert [(m["unit_price"], m["total_count"]) for m in data["per_model_usage"]] == [(0.765, 2)]


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [
        ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", 200),  # exactly 31 days
        ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00.001Z", 400),
        ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", 400),
        ("tomorrow", "2026-01-01T00:00:00Z", 400),
    ],
)
async def test_range_rules(client: httpx.AsyncClient, start: str, end: str, status: int) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    response = await client.post(URL, json={"start_time": start, "end_time": end}, headers=who["headers"])
    assert response.status_code == status and response.json()["code"] == status
    if status == 400:
        assert "start_time" in response.json()["message"] or "range" in response.json()["message"]


async def test_missing_times_are_400(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    response = await client.post(URL, json={"end_time": "2026-01-01T00:00:00Z"}, headers=who["headers"])
    assert response.status_code == 400 and response.json()["message"] == "start_time is required"


async def test_rollup_ranges_equal_recomputation_at_any_edges(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    who = await acustomer(client, ADMIN_TOKEN, balance="1000")
    rng = random.Random(3)
    for _ in range(60):
        uuid = new_uuid()
        await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], rng.choice(["0.04", "0.3"]),
                             rng.choice(["m1", "m2"]), uuid, T0 + rng.randrange(4 * MS_PER_DAY))
        if rng.random() < 0.3:
            await aset_status(client, ADMIN_TOKEN, uuid, rng.choice(["failed", "completed"]))
    account_id = who["account"]["id"]
    async with app.state.db.transaction(write=False) as conn:
        for _ in range(25):
            start = T0 + rng.randrange(-MS_PER_DAY, 3 * MS_PER_DAY)
            end = start + rng.randrange(0, 3 * MS_PER_DAY)
            got = summarise(await usage_cells(conn, account_id, start, end))
            want = summarise(cells_from_deducts(await usage_store.deduct_rows(conn, account_id, start_ms=start, end_ms=end)))
            assert got == want, (start, end)
