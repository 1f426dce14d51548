"""POST /api/v3/billings/search: filters, sorts, pages, totals and isolation, on both databases."""

from __future__ import annotations

import itertools

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acreate_key, acustomer, arecharge, aset_status, new_uuid

SEARCH = "/api/v3/billings/search"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


async def search(client: httpx.AsyncClient, headers: dict, **body: object) -> dict:
    response = await client.post(SEARCH, json=body, headers=headers)
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["code"] == 200 and envelope["message"] == "success"
    return envelope["data"]


async def seeded(client: httpx.AsyncClient) -> dict:
    """An account with a known history: 6 deducts over 2 models and 2 keys, 1 refund, recharges."""
    who = await acustomer(client, ADMIN_TOKEN, balance="50")
    other_key = await acreate_key(client, ADMIN_TOKEN, who["account"]["id"], name="staging")
    preds = []
    for i in range(6):
        key = who["key"] if i % 2 == 0 else other_key
        model = "bytedance/seedream-v4.5" if i < 4 else "google/veo3-fast"
        uuid = new_uuid()
        await acreate_charge(client, ADMIN_TOKEN, key["access_key_id"], "0.5", model, uuid, T0 + i * 1000)
        preds.append(uuid)
    await aset_status(client, ADMIN_TOKEN, preds[1], "failed", at=T0 + 10_000)
    await arecharge(client, ADMIN_TOKEN, who["account"]["id"], "5")
    return who | {"other_key": other_key, "predictions": preds}


async def test_upstream_shape_of_an_item(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    uuid = new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.04", prediction_uuid=uuid, created_at=T0)
    data = await search(client, who["headers"], page=1, page_size=10, billing_type="deduct")
    assert data["page"] == 1 and data["total"] == 1 and data["has_more"] is False
    (item,) = data["items"]
    assert set(item) == {
        "uuid", "access_key_id", "access_key_name", "billing_type", "price", "amount", "balance_after",
        "created_at", "updated_at", "order", "prediction",
    }
    assert item["access_key_id"] == who["key"]["access_key_id"]
    assert item["access_key_name"] == "default"
    assert item["price"] == 0.04 and item["created_at"] == "2026-01-01T00:00:00.000Z"
    assert item["order"]["state"] == "pre" and item["order"]["status"] == "" and item["order"]["price"] == 0.04
    assert item["order"]["origin_price"] == 0.04 and item["order"]["ak_id"] == who["key"]["ak_id"]
    assert item["prediction"] == {"uuid": uuid, "model_uuid": "bytedance/seedream-v4.5", "status": "created"}
    assert len(item["uuid"]) == 32 and len(item["order"]["uuid"]) == 32


async def test_recharge_has_null_order_and_prediction(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="12.5")
    (item,) = (await search(client, who["headers"]))["items"]
    assert item["billing_type"] == "recharge" and item["price"] == 12.5
    assert item["order"] is None and item["prediction"] is None


async def test_each_filter_alone(client: httpx.AsyncClient) -> None:
    s = await seeded(client)
    h = s["headers"]
    assert (await search(client, h))["total"] == 9  # opening recharge + 6 deducts + refund + recharge
    assert (await search(client, h, billing_type="deduct"))["total"] == 6
    assert (await search(client, h, billing_type="refund"))["total"] == 1
    assert (await search(client, h, billing_type="recharge"))["total"] == 2
    assert (await search(client, h, billing_type="adjust"))["total"] == 0
    by_prediction = await search(client, h, prediction_uuids=[s["predictions"][1]])
    assert {i["billing_type"] for i in by_prediction["items"]} == {"deduct", "refund"}
    assert (await search(client, h, prediction_uuids=[]))["total"] == 9
    assert (await search(client, h, model_uuid="google/veo3-fast"))["total"] == 2
    assert (await search(client, h, model_uuid=["google/veo3-fast", "bytedance/seedream-v4.5"]))["total"] == 7
    assert (await search(client, h, access_key_uuid=s["other_key"]["access_key_id"]))["total"] == 4
    assert (await search(client, h, start_time=str(T0 + 2000), end_time=str(T0 + 4000)))["total"] == 3
    assert (await search(client, h, start_time=T0 + 5000))["total"] == 4  # deduct 5, refund, recharges... by time
    assert (await search(client, h, end_time=T0 + 999))["total"] == 1


async def test_filters_combined(client: httpx.AsyncClient) -> None:
    s = await seeded(client)
    data = await search(
        client,
        s["headers"],
        billing_type="deduct",
        model_uuid="bytedance/seedream-v4.5",
        access_key_uuid=[s["key"]["access_key_id"]],
        start_time="2026-01-01T00:00:01Z",
        end_time="2026-01-01T00:00:02.000Z",
    )
    assert data["total"] == 1
    assert data["items"][0]["prediction"]["uuid"] == s["predictions"][2]
    none = await search(client, s["headers"], billing_type="refund", prediction_uuids=[s["predictions"][0]])
    assert none == {"page": 1, "total": 0, "has_more": False, "items": []}


async def test_time_bounds_are_inclusive_in_every_form(client: httpx.AsyncClient) -> None:
    s = await seeded(client)
    for start, end in [(T0 + 1000, T0 + 3000), (str(T0 + 1000), str(T0 + 3000)),
                       ("2026-01-01T00:00:01Z", "2026-01-01T01:00:03+01:00")]:
        data = await search(client, s["headers"], billing_type="deduct", start_time=start, end_time=end)
        assert data["total"] == 3, (start, end)


async def test_sorts(client: httpx.AsyncClient) -> None:
    s = await seeded(client)
    desc = await search(client, s["headers"], billing_type="deduct", page_size=100)
    asc = await search(client, s["headers"], billing_type="deduct", page_size=100, sort="created_at asc")
    default_desc = await search(client, s["headers"], billing_type="deduct", page_size=100, sort="CREATED_AT DESC")
    times = [i["created_at"] for i in desc["items"]]
    assert times == sorted(times, reverse=True)
    assert [i["uuid"] for i in asc["items"]] == [i["uuid"] for i in reversed(desc["items"])]
    assert default_desc["items"] == desc["items"]


async def test_paging_is_stable_with_many_records_in_one_millisecond(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="100")
    key = who["key"]["access_key_id"]
    for i in range(23):
        await acreate_charge(client, ADMIN_TOKEN, key, "0.01", created_at=T0 + (i // 10))  # 10 share each ms
    seen: dict[str, list[str]] = {}
    for sort in ("created_at DESC", "created_at ASC"):
        uuids, page = [], 1
        while True:
            data = await search(client, who["headers"], billing_type="deduct", page=page, page_size=4, sort=sort)
            assert data["total"] == 23
            uuids += [i["uuid"] for i in data["items"]]
            assert data["has_more"] == (page * 4 < 23)
            if not data["has_more"]:
                break
            page += 1
        assert page == 6 and len(uuids) == 23 and len(set(uuids)) == 23
        seen[sort] = uuids
    assert seen["created_at ASC"] == list(reversed(seen["created_at DESC"]))
    # The same page asked twice is the same page.
    again = await search(client, who["headers"], billing_type="deduct", page=3, page_size=4)
    assert [i["uuid"] for i in again["items"]] == seen["created_at DESC"][8:12]


async def test_page_past_the_end(client: httpx.AsyncClient) -> None:
    s = await seeded(client)
    data = await search(client, s["headers"], page=50, page_size=100)
    assert data == {"page": 50, "total": 9, "has_more": False, "items": []}
    last = await search(client, s["headers"], page=3, page_size=4)
    assert len(last["items"]) == 1 and last["has_more"] is False


async def test_defaults_without_a_body(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    for _ in range(12):
        await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], "0.01")
    response = await client.post(SEARCH, headers=who["headers"])
    data = response.json()["data"]
    assert data["page"] == 1 and len(data["items"]) == 10 and data["total"] == 13 and data["has_more"]


async def test_no_account_sees_another_accounts_records(client: httpx.AsyncClient) -> None:
    a = await seeded(client)
    b = await acustomer(client, ADMIN_TOKEN, name="other")
    await acreate_charge(client, ADMIN_TOKEN, b["key"]["access_key_id"], "1")
    probes: list[dict] = [
        {},
        {"prediction_uuids": a["predictions"]},
        {"access_key_uuid": [a["key"]["access_key_id"], a["other_key"]["access_key_id"]]},
        {"model_uuid": "bytedance/seedream-v4.5", "page_size": 100},
        {"billing_type": "refund"},
        {"start_time": 946684800000, "end_time": "99999999999999"},
    ]
    for body in probes:
        data = await search(client, b["headers"], **body)
        for item in data["items"]:
            assert item["access_key_id"] in ("", b["key"]["access_key_id"])
            assert item["prediction"] is None or item["prediction"]["uuid"] not in a["predictions"]
    assert (await search(client, b["headers"], prediction_uuids=a["predictions"]))["total"] == 0
    balance_b = (await client.get("/api/v3/balance", headers=b["headers"])).json()["data"]["balance"]
    assert balance_b == 99


async def test_refund_updates_the_order_and_prediction_shown_on_the_deduct(client: httpx.AsyncClient) -> None:
    s = await seeded(client)
    data = await search(client, s["headers"], prediction_uuids=[s["predictions"][1]], sort="created_at asc")
    deduct, refund = data["items"]
    assert deduct["billing_type"] == "deduct" and refund["billing_type"] == "refund"
    for item in (deduct, refund):
        assert item["order"]["state"] == "refunded" and item["prediction"]["status"] == "failed"
    assert refund["order"]["uuid"] == deduct["order"]["uuid"] and refund["price"] == deduct["price"]


async def test_totals_match_every_combination(client: httpx.AsyncClient) -> None:
    s = await seeded(client)
    everything = (await search(client, s["headers"], page_size=100))["items"]
    types = [None, "deduct", "refund", "recharge"]
    models = [None, "google/veo3-fast"]
    for billing_type, model in itertools.product(types, models):
        body: dict = {"page_size": 100}
        if billing_type:
            body["billing_type"] = billing_type
        if model:
            body["model_uuid"] = model
        expected = [
            i for i in everything
            if (billing_type is None or i["billing_type"] == billing_type)
            and (model is None or (i["prediction"] and i["prediction"]["model_uuid"] == model))
        ]
        data = await search(client, s["headers"], **body)
        assert data["total"] == len(expected) and data["items"] == expected
