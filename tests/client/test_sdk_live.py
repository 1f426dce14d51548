"""Every SDK call against a live billbook server (real HTTP, real database)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from billbook.client import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    BillingRecord,
    Client,
    InvalidRequestError,
    NotFoundError,
)
from billbook.client._export import CSV_COLUMNS
from billbook.times import MS_PER_DAY, datetime_to_ms, now_ms
from tests.client.conftest import Customer
from tests.factories import acreate_account, acreate_charge, acreate_key, set_status

SEEDREAM = "bytedance/seedream-v4.5"
WAN = "alibaba/wan-2.5"


def sdk(customer: Customer, **kwargs: Any) -> Client:
    return Client(api_key=customer.api_key, base_url=customer.base_url, **kwargs)


def uuids(records: Any) -> list[str]:
    return [r.uuid for r in records]


# --- balance ---------------------------------------------------------------------------------------


def test_balance_is_an_exact_decimal(customer: Customer) -> None:
    with sdk(customer) as client:
        assert client.balance().balance == Decimal("100")
        customer.charge(price="0.04")
        customer.charge(price="0.1")
        customer.charge(price="0.2")
        result = client.balance()
    assert result.balance == Decimal("99.66") and isinstance(result.balance, Decimal)
    assert result.currency == "USD"


# --- search ----------------------------------------------------------------------------------------


def test_search_returns_typed_records(customer: Customer) -> None:
    charge = customer.charge(price="0.04", model_uuid=SEEDREAM)["record"]
    with sdk(customer) as client:
        page = client.billings.search()
    assert (page.page, page.total, page.has_more, len(page)) == (1, 2, False, 2)
    newest, opening = page.items
    assert isinstance(newest, BillingRecord) and newest.uuid == charge["uuid"]
    assert newest.billing_type == "deduct" and newest.price == Decimal("0.04")
    assert newest.created_at.tzinfo is not None and newest.created_at.utcoffset() == timedelta(0)
    assert newest.access_key_id == customer.access_key_id and newest.access_key_name == "primary"
    assert newest.order is not None and newest.order.state == "pre" and newest.order.price == Decimal("0.04")
    assert newest.prediction is not None and newest.prediction.model_uuid == SEEDREAM
    assert newest.model_uuid == SEEDREAM
    assert dict(newest.raw) == json.loads(json.dumps(charge), parse_float=Decimal)
    assert opening.billing_type == "recharge" and opening.price == Decimal("100")
    assert opening.order is None and opening.prediction is None


def test_search_filters(customer: Customer) -> None:
    other_key = customer.new_key("batch")
    t0 = now_ms() - 10 * MS_PER_DAY
    a = customer.charge(model_uuid=SEEDREAM, created_at=t0)["record"]
    b = customer.charge(model_uuid=WAN, created_at=t0 + MS_PER_DAY)["record"]
    c = customer.charge(model_uuid=WAN, created_at=t0 + 2 * MS_PER_DAY, access_key_id=other_key["access_key_id"])["record"]
    set_status(customer.admin, customer.admin_token, c["prediction"]["uuid"], "failed")
    with sdk(customer) as client:
        search = client.billings.search
        assert uuids(search(billing_type="deduct", sort="asc")) == [a["uuid"], b["uuid"], c["uuid"]]
        assert len(search(billing_type="refund")) == 1
        assert search(billing_type="recharge").items[0].price == Decimal("100")
        assert {r.uuid for r in search(model_uuid=WAN, billing_type="deduct")} == {b["uuid"], c["uuid"]}
        assert len(search(model_uuid=[WAN, SEEDREAM], billing_type="deduct")) == 3
        by_key = search(access_key_uuid=other_key["access_key_id"])
        assert {r.billing_type for r in by_key} == {"deduct", "refund"}
        predictions = [a["prediction"]["uuid"], c["prediction"]["uuid"]]
        assert len(search(prediction_uuids=predictions)) == 3  # a's deduct, c's deduct and refund
        # Time bounds are inclusive, in any accepted form.
        assert uuids(search(start_time=t0, end_time=t0, billing_type="deduct")) == [a["uuid"]]
        start = datetime.fromtimestamp((t0 + MS_PER_DAY) / 1000, tz=UTC)
        assert uuids(search(start_time=start, end_time=t0 + MS_PER_DAY)) == [b["uuid"]]
        day = datetime.fromtimestamp(t0 / 1000, tz=UTC).date()
        assert a["uuid"] in uuids(search(start_time=day, end_time=day))


def test_sort_orders_are_mirror_images(customer: Customer) -> None:
    t0 = now_ms() - 60_000
    for i in range(5):
        customer.charge(created_at=t0 + i // 2)  # pairs in the same millisecond
    with sdk(customer) as client:
        asc = uuids(client.billings.search(sort="asc", page_size=100))
        desc = uuids(client.billings.search(sort="desc", page_size=100))
    assert asc == desc[::-1] and len(asc) == 6


# --- pagination edges ------------------------------------------------------------------------------


def test_pages_when_the_total_is_an_exact_multiple(customer: Customer) -> None:
    for _ in range(9):
        customer.charge()  # 9 charges + the opening recharge = 10 records
    with sdk(customer) as client:
        first = client.billings.search(page=1, page_size=5)
        second = client.billings.search(page=2, page_size=5)
        past = client.billings.search(page=3, page_size=5)
    assert (first.total, len(first), first.has_more) == (10, 5, True)
    assert (second.total, len(second), second.has_more) == (10, 5, False)
    assert (past.page, past.total, len(past), past.has_more) == (3, 10, 0, False)
    assert len(set(uuids(first)) | set(uuids(second))) == 10


def test_an_empty_result(customer: Customer) -> None:
    with sdk(customer) as client:
        page = client.billings.search(billing_type="refund")
        records = client.billings.iter(billing_type="refund", sort="asc")
        assert records.get_total() == 0
        assert list(records) == []
    assert (page.total, len(page), page.has_more, list(page)) == (0, 0, False, [])


def test_page_size_one_and_the_maximum(customer: Customer) -> None:
    customer.charge()
    with sdk(customer) as client:
        assert len(client.billings.search(page_size=1)) == 1
        assert len(client.billings.search(page_size=100)) == 2


def test_iter_reads_everything_in_order_and_knows_the_total(customer: Customer) -> None:
    t0 = now_ms() - 60_000
    for i in range(9):
        customer.charge(created_at=t0 + i // 3)
    with sdk(customer) as client:
        expected = uuids(client.billings.search(sort="asc", page_size=100))
        for page_size in (1, 2, 5, 10, 100):
            records = client.billings.iter(sort="asc", page_size=page_size)
            assert records.total is None
            assert records.get_total() == 10
            assert uuids(records) == expected
            assert uuids(client.billings.iter(sort="desc", page_size=page_size)) == expected[::-1]


def test_iter_within_filters(customer: Customer) -> None:
    t0 = now_ms() - 5 * MS_PER_DAY
    wanted = [customer.charge(model_uuid=WAN, created_at=t0 + i)["record"]["uuid"] for i in range(4)]
    customer.charge(model_uuid=SEEDREAM, created_at=t0 + 1)
    with sdk(customer) as client:
        records = client.billings.iter(model_uuid=WAN, start_time=t0, end_time=t0 + 3, sort="asc", page_size=3)
        assert uuids(records) == wanted
        assert records.window == (t0, t0 + 3)


# --- export ----------------------------------------------------------------------------------------


def test_export_csv_and_jsonl(customer: Customer, tmp_path: Path) -> None:
    for price in ("0.04", "0.123456", "12.5"):
        customer.charge(price=price)
    progress: list[tuple[int, int]] = []
    with sdk(customer) as client:
        expected = list(client.billings.iter(sort="asc"))
        jsonl = client.billings.export(tmp_path / "all.jsonl", on_progress=lambda d, t: progress.append((d, t)))
        csv_result = client.billings.export(tmp_path / "deducts.csv", billing_type="deduct")
    assert (jsonl.written, jsonl.total_at_start, jsonl.format) == (4, 4, "jsonl")
    assert progress[0] == (0, 4) and progress[-1] == (4, 4)
    lines = (tmp_path / "all.jsonl").read_text().splitlines()
    assert [json.loads(line, parse_float=Decimal) for line in lines] == [dict(r.raw) for r in expected]
    assert '"price":0.123456' in lines[2]
    assert csv_result.written == 3 and csv_result.format == "csv"
    with (tmp_path / "deducts.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys()) == list(CSV_COLUMNS)
    assert [r["price"] for r in rows] == ["0.04", "0.123456", "12.5"]
    assert rows[0]["model_uuid"] == SEEDREAM and rows[0]["order_state"] == "pre"
    assert rows[0]["created_at"].endswith("Z")


def test_export_leaves_no_file_behind_when_it_fails(customer: Customer, tmp_path: Path) -> None:
    with Client(api_key="not-a-key", base_url=customer.base_url) as client:
        with pytest.raises(AuthenticationError):
            client.billings.export(tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def test_export_needs_a_known_extension(customer: Customer, tmp_path: Path) -> None:
    with sdk(customer) as client, pytest.raises(ValueError, match=r"\.csv or \.jsonl"):
        client.billings.export(tmp_path / "out.xlsx")


# --- usage -----------------------------------------------------------------------------------------

JAN1 = datetime(2025, 1, 1, tzinfo=UTC)


def _at(day: int, hour: int = 12) -> int:
    return datetime_to_ms(JAN1 + timedelta(days=day, hours=hour))


def _usage_history(customer: Customer) -> list[dict[str, Any]]:
    """Charges over 75 days, some refunded, some completed: (day, model, price, final status)."""
    plan = [
        (0, SEEDREAM, "0.04", "completed"),
        (0, WAN, "0.25", "completed"),
        (10, SEEDREAM, "0.04", "failed"),
        (30, SEEDREAM, "0.04", "completed"),
        (31, WAN, "0.25", None),
        (45, SEEDREAM, "0.05", "completed"),
        (61, WAN, "0.25", "timeout"),
        (62, WAN, "0.30", "completed"),
        (74, SEEDREAM, "0.05", "completed"),
    ]
    made = []
    for day, model, price, status in plan:
        at = _at(day)
        record = customer.charge(model_uuid=model, price=price, created_at=at)["record"]
        if status:
            set_status(customer.admin, customer.admin_token, record["prediction"]["uuid"], status, at=at + 1000)
        made.append({"day": day, "model": model, "price": Decimal(price), "status": status, "at": at})
    return made


@contextmanager
def _counting_client(customer: Customer, calls: list[dict[str, Any]]) -> Iterator[Client]:
    def count(request: httpx.Request) -> None:
        if request.url.path.endswith("/usage_stats"):
            calls.append(json.loads(request.content))

    with httpx.Client(event_hooks={"request": [count]}) as http:
        yield Client(api_key=customer.api_key, base_url=customer.base_url, http_client=http)


def test_usage_over_75_days_is_three_calls_merged(customer: Customer) -> None:
    made = _usage_history(customer)
    calls: list[dict[str, Any]] = []
    with _counting_client(customer, calls) as client:
        stats = client.usage_stats(JAN1, JAN1 + timedelta(days=75))
    assert len(calls) == 3
    assert [c["start_time"] for c in calls] == ["2025-01-01T00:00:00.000Z", "2025-02-01T00:00:00.000Z", "2025-03-04T00:00:00.000Z"]
    assert calls[0]["end_time"] == "2025-01-31T23:59:59.999Z"

    kept = [m for m in made if m["status"] not in ("failed", "timeout")]
    assert stats.summary.total_cost == sum((m["price"] for m in kept), Decimal(0)) == Decimal("0.98")
    assert stats.summary.total_requests == len(made) == 9
    assert stats.summary.success_requests == sum(m["status"] == "completed" for m in made) == 6

    days = {d.date: d for d in stats.daily_usage}
    assert sorted(days) == sorted({(JAN1 + timedelta(days=m["day"])).date() for m in made})
    refunded_only = days[date(2025, 1, 11)]
    assert (refunded_only.amount, refunded_only.count) == (Decimal(0), 0)
    assert days[date(2025, 1, 1)].amount == Decimal("0.29") and days[date(2025, 1, 1)].count == 2
    assert [m.model_uuid for m in days[date(2025, 1, 1)].models] == [WAN, SEEDREAM]
    assert [d.date for d in stats.daily_usage] == sorted(days)

    models = {m.model_uuid: m for m in stats.per_model_usage}
    seed = [m for m in kept if m["model"] == SEEDREAM]
    assert models[SEEDREAM].total_cost == Decimal("0.18") and models[SEEDREAM].total_count == len(seed) == 4
    assert models[WAN].total_cost == Decimal("0.80") and models[WAN].total_count == 3
    assert models[SEEDREAM].last_used_date == JAN1 + timedelta(days=74, hours=12)
    assert models[SEEDREAM].unit_price == Decimal("0.05")
    assert models[WAN].last_used_date == JAN1 + timedelta(days=62, hours=12)
    assert [m.model_uuid for m in stats.per_model_usage] == [WAN, SEEDREAM]  # by cost, as the server sorts


def test_usage_merged_equals_the_sum_of_single_calls(customer: Customer) -> None:
    _usage_history(customer)
    with sdk(customer) as client:
        whole = client.usage_stats(JAN1, JAN1 + timedelta(days=75))
        parts = [
            client.usage_stats(JAN1 + timedelta(days=lo), JAN1 + timedelta(days=hi) - timedelta(milliseconds=1))
            for lo, hi in ((0, 25), (25, 50), (50, 75))
        ]
    assert whole.summary.total_cost == sum((p.summary.total_cost for p in parts), Decimal(0))
    assert whole.daily_usage == tuple(d for p in parts for d in p.daily_usage)


def test_usage_of_31_days_is_one_call_and_filters_work(customer: Customer) -> None:
    _usage_history(customer)
    calls: list[dict[str, Any]] = []
    with _counting_client(customer, calls) as client:
        stats = client.usage_stats(JAN1, JAN1 + timedelta(days=31), model_uuid=WAN)
        by_key = client.usage_stats(JAN1, JAN1 + timedelta(days=31), access_key_uuid=customer.access_key_id)
    assert len(calls) == 2 and calls[0]["model_uuid"] == WAN
    assert [m.model_uuid for m in stats.per_model_usage] == [WAN]
    assert stats.summary.total_cost == Decimal("0.25")  # day 31's noon is past the range's end
    assert by_key.summary.total_requests == 4


def test_usage_takes_dates_with_an_inclusive_end(customer: Customer) -> None:
    _usage_history(customer)
    with sdk(customer) as client:
        stats = client.usage_stats(date(2025, 3, 16), date(2025, 3, 16))
    assert stats.summary.total_cost == Decimal("0.05")


# --- errors ----------------------------------------------------------------------------------------


def test_a_wrong_or_revoked_key_is_an_authentication_error(customer: Customer) -> None:
    with Client(api_key="bb_wrong", base_url=customer.base_url) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.balance()
    assert caught.value.code == 401 and caught.value.message
    response = customer.admin.delete(
        f"/internal/v1/keys/{customer.access_key_id}", headers={"Authorization": f"Bearer {customer.admin_token}"}
    )
    assert response.status_code == 200
    with sdk(customer) as client, pytest.raises(AuthenticationError):
        client.billings.search()


def test_the_server_s_validation_message_reaches_the_caller(customer: Customer) -> None:
    with sdk(customer) as client, pytest.raises(InvalidRequestError) as caught:
        client.billings.search(prediction_uuids=[f"{i:032x}" for i in range(101)])
    assert caught.value.code == 400 and "prediction_uuids" in caught.value.message


def test_a_wrong_base_path_is_not_found(customer: Customer) -> None:
    with Client(api_key=customer.api_key, base_url=customer.base_url + "/nope") as client:
        with pytest.raises(NotFoundError):
            client.balance()


def test_nothing_listening_is_a_connection_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(api_key="k", base_url=f"http://127.0.0.1:{port}", max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            client.balance()


# --- async -----------------------------------------------------------------------------------------


async def test_async_client_does_everything_the_sync_one_does(live_server: Any, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url) as admin:
        account = await acreate_account(admin, live_server.admin_token, name="async", balance="10")
        key = await acreate_key(admin, live_server.admin_token, account["id"])
        t0 = datetime_to_ms(JAN1)
        for i in range(5):
            await acreate_charge(admin, live_server.admin_token, key["access_key_id"], price="0.5", created_at=t0 + i * MS_PER_DAY * 20)
    async with AsyncClient(api_key=key["api_key"], base_url=live_server.base_url) as client:
        assert (await client.balance()).balance == Decimal("7.5")
        page = await client.billings.search(billing_type="deduct", page_size=2)
        assert (page.total, len(page), page.has_more) == (5, 2, True)
        records = client.billings.iter(sort="asc", page_size=2)
        assert await records.get_total() == 6
        assert len([r async for r in records]) == 6
        stats = await client.usage_stats(JAN1, JAN1 + timedelta(days=90))
        assert stats.summary.total_cost == Decimal("2.5") and len(stats.daily_usage) == 5
        result = await client.billings.export(tmp_path / "a.csv")
        assert result.written == 6
