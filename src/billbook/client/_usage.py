"""Usage over any range: split into the server's 31-day maximum, merge the answers back.

Chunks are consecutive and disjoint to the millisecond (both bounds are inclusive on the server), so
no prediction is counted twice or missed at a seam. When the range starts at a UTC midnight every
seam falls on a midnight and each day comes from exactly one chunk; otherwise the day at a seam
comes back in two parts, which are added up here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from billbook.client._convert import iso_ms
from billbook.client.types import (
    DailyModelUsage,
    DailyUsage,
    ModelUsage,
    UsageStats,
    UsageSummary,
)
from billbook.times import MS_PER_DAY, ms_to_datetime

U = TypeVar("U")
K = TypeVar("K", bound=Hashable)

#: The server accepts ranges up to and including 31 days.
MAX_SPAN_MS = 31 * MS_PER_DAY


def split_range(start_ms: int, end_ms: int, max_span_ms: int = MAX_SPAN_MS) -> list[tuple[int, int]]:
    """Inclusive ``[start, end]`` as inclusive chunks the server accepts, in order."""
    if start_ms > end_ms:
        raise ValueError("start is after end")
    if end_ms - start_ms <= max_span_ms:
        return [(start_ms, end_ms)]
    chunks = []
    lo = start_ms
    while lo <= end_ms:
        hi = min(lo + max_span_ms - 1, end_ms)
        chunks.append((lo, hi))
        lo = hi + 1
    return chunks


def usage_body(
    start_ms: int, end_ms: int, model_uuid: str | None, access_key_uuid: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "start_time": iso_ms(ms_to_datetime(start_ms)),
        "end_time": iso_ms(ms_to_datetime(end_ms)),
    }
    if model_uuid:
        body["model_uuid"] = model_uuid
    if access_key_uuid:
        body["access_key_uuid"] = access_key_uuid
    return body


def merge(parts: Sequence[UsageStats], start: datetime, end: datetime) -> UsageStats:
    """One result for consecutive chunks: days concatenated (a day split at a seam is summed),
    per-model figures summed, ``last_used_date`` the latest, the summary summed."""
    if len(parts) == 1:
        return replace(parts[0], start=start, end=end)
    return UsageStats(
        start=start,
        end=end,
        per_model_usage=_merge_models([m for p in parts for m in p.per_model_usage]),
        daily_usage=_merge_days([d for p in parts for d in p.daily_usage]),
        summary=_merge_summaries([p.summary for p in parts]),
    )


def _merge_summaries(summaries: Sequence[UsageSummary]) -> UsageSummary:
    return UsageSummary(
        total_cost=sum((s.total_cost for s in summaries), Decimal(0)),
        total_requests=sum(s.total_requests for s in summaries),
        success_requests=sum(s.success_requests for s in summaries),
    )


def _merge_models(models: Sequence[ModelUsage]) -> tuple[ModelUsage, ...]:
    merged = _combine(models, lambda m: m.model_uuid, _add_model).values()
    return tuple(sorted(merged, key=lambda m: (-m.total_cost, m.model_uuid)))


def _add_model(a: ModelUsage, b: ModelUsage) -> ModelUsage:
    # The unit price is the one in force most recently: take it from the later-used side.
    newer = b if _later(b.last_used_date, a.last_used_date) else a
    return ModelUsage(
        model_uuid=a.model_uuid,
        model_type=a.model_type or b.model_type,
        unit_price=newer.unit_price,
        total_cost=a.total_cost + b.total_cost,
        total_count=a.total_count + b.total_count,
        last_used_date=newer.last_used_date or a.last_used_date or b.last_used_date,
    )


def _later(x: datetime | None, y: datetime | None) -> bool:
    return x is not None and (y is None or x > y)


def _merge_days(days: Sequence[DailyUsage]) -> tuple[DailyUsage, ...]:
    merged = _combine(days, lambda d: d.date, _add_day)
    return tuple(merged[k] for k in sorted(merged))


def _add_day(a: DailyUsage, b: DailyUsage) -> DailyUsage:
    models = _combine([*a.models, *b.models], lambda m: m.model_uuid, _add_day_model)
    merged = tuple(models[k] for k in sorted(models))
    return DailyUsage(a.date, a.amount + b.amount, a.count + b.count, merged)


def _add_day_model(a: DailyModelUsage, b: DailyModelUsage) -> DailyModelUsage:
    return DailyModelUsage(a.model_uuid, a.amount + b.amount, a.count + b.count)


def _combine(items: Iterable[U], key: Callable[[U], K], add: Callable[[U, U], U]) -> dict[K, U]:
    """``items`` with equal keys added together, keyed, in the order first seen."""
    merged: dict[K, U] = {}
    for item in items:
        k = key(item)
        seen = merged.get(k)
        merged[k] = item if seen is None else add(seen, item)
    return merged
