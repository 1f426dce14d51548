"""Search filters as the wire wants them, built once from the SDK's keyword arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from billbook.client._convert import TimeInput, to_ms

BILLING_TYPES = ("deduct", "refund", "recharge", "adjust")
MAX_PAGE_SIZE = 100


def sort_value(sort: str) -> str:
    """``asc``/``desc`` (or the wire's own ``created_at ASC``) as the wire's ``created_at ASC``."""
    word = sort.strip().lower().removeprefix("created_at").strip()
    if word not in ("asc", "desc"):
        raise ValueError(f"sort must be 'asc' or 'desc', got {sort!r}")
    return f"created_at {word.upper()}"


def _strings(value: str | Sequence[str] | None, field: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    items = list(value)
    if not all(isinstance(v, str) for v in items):
        raise ValueError(f"{field} must be strings")
    return items


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Everything that selects records, independent of paging and order."""

    billing_type: str | None = None
    prediction_uuids: tuple[str, ...] = ()
    model_uuid: tuple[str, ...] = ()
    access_key_uuid: tuple[str, ...] = ()
    start_ms: int | None = None
    end_ms: int | None = None

    @classmethod
    def build(
        cls,
        *,
        billing_type: str | None = None,
        prediction_uuids: Sequence[str] | None = None,
        model_uuid: str | Sequence[str] | None = None,
        access_key_uuid: str | Sequence[str] | None = None,
        start_time: TimeInput | None = None,
        end_time: TimeInput | None = None,
    ) -> SearchFilters:
        if billing_type is not None and billing_type not in BILLING_TYPES:
            raise ValueError(f"billing_type must be one of {', '.join(BILLING_TYPES)}")
        start = None if start_time is None else to_ms(start_time, "start_time")
        end = None if end_time is None else to_ms(end_time, "end_time", end_of_day=True)
        if start is not None and end is not None and start > end:
            raise ValueError("start_time is after end_time")
        return cls(
            billing_type=billing_type,
            prediction_uuids=tuple(_strings(prediction_uuids, "prediction_uuids") or ()),
            model_uuid=tuple(_strings(model_uuid, "model_uuid") or ()),
            access_key_uuid=tuple(_strings(access_key_uuid, "access_key_uuid") or ()),
            start_ms=start,
            end_ms=end,
        )

    def between(self, start_ms: int | None, end_ms: int | None) -> SearchFilters:
        return replace(self, start_ms=start_ms, end_ms=end_ms)

    def body(self, *, sort: str, page: int, page_size: int) -> dict[str, Any]:
        """The request body. Times go as digit strings, the upstream's own form."""
        if page < 1:
            raise ValueError("page must be 1 or more")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        body: dict[str, Any] = {"page": page, "page_size": page_size, "sort": sort_value(sort)}
        if self.billing_type:
            body["billing_type"] = self.billing_type
        if self.prediction_uuids:
            body["prediction_uuids"] = list(self.prediction_uuids)
        if self.model_uuid:
            body["model_uuid"] = _one_or_many(self.model_uuid)
        if self.access_key_uuid:
            body["access_key_uuid"] = _one_or_many(self.access_key_uuid)
        if self.start_ms is not None:
            body["start_time"] = str(self.start_ms)
        if self.end_ms is not None:
            body["end_time"] = str(self.end_ms)
        return body


def _one_or_many(values: tuple[str, ...]) -> str | list[str]:
    # A single value goes as a plain string, which the upstream service also understands.
    return values[0] if len(values) == 1 else list(values)
