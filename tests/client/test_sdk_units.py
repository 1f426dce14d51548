"""The SDK's pure parts: conversions, request bodies, range splitting and merging."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from billbook.client import BillingPage, UsageStats
from billbook.client._convert import dumps, iso_ms, parse_json, to_ms
from billbook.client._query import SearchFilters, sort_value
from billbook.client._usage import MAX_SPAN_MS, merge, split_range
from billbook.client.types import (
    DailyModelUsage,
    DailyUsage,
    ModelUsage,
    UsageSummary,
)
from billbook.times import MS_PER_DAY, datetime_to_ms
from tests.client.conftest import wire_record

JAN1 = datetime(2026, 1, 1, tzinfo=UTC)
JAN1_MS = datetime_to_ms(JAN1)


# --- money and time ---------------------------------------------------------------------------------


def test_json_numbers_become_exact_decimals() -> None:
    data = parse_json(b'{"a": 0.1, "b": 123456789.123456, "c": 100, "d": 1e-6}')
    assert data == {"a": Decimal("0.1"), "b": Decimal("123456789.123456"), "c": 100, "d": Decimal("0.000001")}
    assert sum([data["a"]] * 3) == Decimal("0.3")


def test_dumps_writes_decimals_digit_for_digit() -> None:
    value = {"price": Decimal("0.1"), "big": Decimal("123456789.123456"), "tiny": Decimal("1E-6"), "name": "é"}
    text = dumps(value)
    assert text == '{"price":0.1,"big":123456789.123456,"tiny":0.000001,"name":"é"}'
    assert json.loads(text, parse_float=Decimal) == value


def test_to_ms_accepts_every_documented_form() -> None:
    assert to_ms(JAN1, "t") == JAN1_MS
    assert to_ms(JAN1.astimezone(timezone(timedelta(hours=9))), "t") == JAN1_MS
    assert to_ms(JAN1_MS, "t") == JAN1_MS
    assert to_ms(str(JAN1_MS), "t") == JAN1_MS
    assert to_ms("2026-01-01T00:00:00Z", "t") == JAN1_MS
    assert to_ms("2026-01-01T09:00:00+09:00", "t") == JAN1_MS
    assert to_ms(date(2026, 1, 1), "t") == JAN1_MS
    assert to_ms("2026-01-01", "t") == JAN1_MS


def test_a_date_as_an_upper_bound_covers_the_whole_day() -> None:
    assert to_ms(date(2026, 1, 1), "t", end_of_day=True) == JAN1_MS + MS_PER_DAY - 1
    assert to_ms("2026-01-01", "t", end_of_day=True) == JAN1_MS + MS_PER_DAY - 1


@pytest.mark.parametrize("bad", [datetime(2026, 1, 1), True, "yesterday", 1.5])
def test_ambiguous_or_invalid_times_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        to_ms(bad, "start_time")  # type: ignore[arg-type]


def test_iso_ms_is_the_wire_form() -> None:
    assert iso_ms(datetime(2026, 4, 23, 12, 23, 30, 933000, tzinfo=UTC)) == "2026-04-23T12:23:30.933Z"


# --- search bodies and pages -------------------------------------------------------------------------


def test_search_body_uses_the_upstream_forms() -> None:
    filters = SearchFilters.build(
        billing_type="deduct",
        prediction_uuids=["p1", "p2"],
        model_uuid="m",
        access_key_uuid=["k1", "k2"],
        start_time=JAN1,
        end_time=date(2026, 1, 1),
    )
    assert filters.body(sort="asc", page=2, page_size=50) == {
        "page": 2,
        "page_size": 50,
        "sort": "created_at ASC",
        "billing_type": "deduct",
        "prediction_uuids": ["p1", "p2"],
        "model_uuid": "m",
        "access_key_uuid": ["k1", "k2"],
        "start_time": str(JAN1_MS),
        "end_time": str(JAN1_MS + MS_PER_DAY - 1),
    }
    assert SearchFilters().body(sort="desc", page=1, page_size=10) == {
        "page": 1,
        "page_size": 10,
        "sort": "created_at DESC",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"billing_type": "charge"}, "billing_type"),
        ({"start_time": JAN1_MS + 1, "end_time": JAN1_MS}, "after"),
    ],
)
def test_invalid_filters_fail_before_any_request(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchFilters.build(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0), (1, 101)])
def test_invalid_paging_fails_before_any_request(page: int, size: int) -> None:
    with pytest.raises(ValueError):
        SearchFilters().body(sort="desc", page=page, page_size=size)


def test_sort_accepts_short_and_wire_forms() -> None:
    assert sort_value("ASC") == sort_value("created_at asc") == "created_at ASC"
    with pytest.raises(ValueError):
        sort_value("price desc")


def test_page_from_the_upstream_shape_without_has_more() -> None:
    items = parse_json(json.dumps([wire_record("a" * 32, JAN1_MS)]).encode())
    page = BillingPage.from_wire({"page": 1, "total": 11, "items": items}, page_size=10)
    assert page.has_more is True
    assert list(page)[0].price == Decimal("0.04")
    last = BillingPage.from_wire({"page": 2, "total": 11, "items": items}, page_size=10)
    assert last.has_more is False


# --- usage splitting and merging ---------------------------------------------------------------------


def test_ranges_up_to_31_days_take_one_call() -> None:
    assert split_range(JAN1_MS, JAN1_MS + MAX_SPAN_MS) == [(JAN1_MS, JAN1_MS + MAX_SPAN_MS)]


def test_75_days_split_into_three_disjoint_chunks_at_midnights() -> None:
    end = JAN1_MS + 75 * MS_PER_DAY
    chunks = split_range(JAN1_MS, end)
    assert len(chunks) == 3
    assert chunks[0][0] == JAN1_MS and chunks[-1][1] == end
    for (_, hi), (lo, _) in zip(chunks, chunks[1:], strict=False):
        assert lo == hi + 1 and lo % MS_PER_DAY == 0
    assert all(hi - lo <= MAX_SPAN_MS for lo, hi in chunks)


def _model(uuid: str, cost: str, count: int, last: datetime, price: str = "0.04") -> ModelUsage:
    return ModelUsage(uuid, "image", Decimal(price), Decimal(cost), count, last)


def _day(day: date, *models: tuple[str, str, int]) -> DailyUsage:
    parts = tuple(DailyModelUsage(m, Decimal(a), c) for m, a, c in models)
    return DailyUsage(day, sum((p.amount for p in parts), Decimal(0)), sum(p.count for p in parts), parts)


def _stats(models: list[ModelUsage], days: list[DailyUsage], summary: tuple[str, int, int]) -> UsageStats:
    return UsageStats(JAN1, JAN1, tuple(models), tuple(days), UsageSummary(Decimal(summary[0]), *summary[1:]))


def test_merge_sums_models_keeps_latest_use_and_concatenates_days() -> None:
    t1, t2 = JAN1 + timedelta(days=3), JAN1 + timedelta(days=40)
    first = _stats(
        [_model("a", "1.00", 25, t1, "0.04"), _model("b", "0.10", 1, t1)],
        [_day(date(2026, 1, 4), ("a", "1.00", 25), ("b", "0.10", 1))],
        ("1.10", 27, 26),
    )
    second = _stats(
        [_model("a", "0.50", 10, t2, "0.05")],
        [_day(date(2026, 2, 10), ("a", "0.50", 10))],
        ("0.50", 10, 10),
    )
    merged = merge([first, second], JAN1, JAN1 + timedelta(days=75))
    a, b = merged.per_model_usage
    assert (a.model_uuid, a.total_cost, a.total_count, a.last_used_date, a.unit_price) == (
        "a", Decimal("1.50"), 35, t2, Decimal("0.05"),
    )
    assert (b.model_uuid, b.total_cost) == ("b", Decimal("0.10"))
    assert [d.date for d in merged.daily_usage] == [date(2026, 1, 4), date(2026, 2, 10)]
    assert merged.summary == UsageSummary(Decimal("1.60"), 37, 36)
    assert merged.end == JAN1 + timedelta(days=75)


def test_merge_adds_up_a_day_split_across_two_chunks() -> None:
    day = date(2026, 1, 5)
    first = _stats([], [_day(day, ("a", "0.04", 1))], ("0.04", 1, 1))
    second = _stats([], [_day(day, ("b", "0.08", 1), ("a", "0.04", 1))], ("0.12", 2, 2))
    (merged,) = merge([first, second], JAN1, JAN1).daily_usage
    assert merged.amount == Decimal("0.16") and merged.count == 3
    assert [(m.model_uuid, m.amount, m.count) for m in merged.models] == [
        ("a", Decimal("0.08"), 2),
        ("b", Decimal("0.08"), 1),
    ]
