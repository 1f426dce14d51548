"""Search filters, declared once: what a caller may pass, and how each value goes on the wire.

``SearchParams`` is the single list. Each member names a filter, the types a caller may pass, and
(in ``Annotated``) the function that checks a value and turns it into the wire's form, or None to
leave it out. Every search method takes ``**filters: Unpack[SearchParams]``, so adding a filter here
adds the keyword, type-checked, to ``search``, ``iter`` and ``export`` on both clients.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict, Unpack, get_type_hints

from billbook.client._convert import TimeInput, to_ms
from billbook.client.types import BillingType

BILLING_TYPES = ("deduct", "refund", "recharge", "adjust")
MAX_PAGE_SIZE = 100


def _billing_type(value: str | None, name: str) -> str | None:
    if value is not None and value not in BILLING_TYPES:
        raise ValueError(f"{name} must be one of {', '.join(BILLING_TYPES)}")
    return value


def _strings(value: str | Sequence[str] | None, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    items = list(value)
    if not all(isinstance(v, str) for v in items):
        raise ValueError(f"{name} must be strings")
    return items


def _many(value: Sequence[str] | None, name: str) -> list[str] | None:
    return _strings(value, name) or None


def _one_or_many(value: str | Sequence[str] | None, name: str) -> str | list[str] | None:
    # A single value goes as a plain string, which the upstream service also understands.
    items = _strings(value, name)
    return items[0] if len(items) == 1 else items or None


def _since(value: TimeInput | None, name: str) -> str | None:
    # Times go as digit strings of epoch milliseconds, the upstream's own form.
    return None if value is None else str(to_ms(value, name))


def _until(value: TimeInput | None, name: str) -> str | None:
    # Upper bounds are inclusive, so a date covers that whole day.
    return None if value is None else str(to_ms(value, name, end_of_day=True))


class SearchParams(TypedDict, total=False):
    """The filters every search method takes as keywords; all optional, all combined with AND."""

    billing_type: Annotated[BillingType | None, _billing_type]
    prediction_uuids: Annotated[Sequence[str] | None, _many]
    model_uuid: Annotated[str | Sequence[str] | None, _one_or_many]
    access_key_uuid: Annotated[str | Sequence[str] | None, _one_or_many]
    start_time: Annotated[TimeInput | None, _since]
    end_time: Annotated[TimeInput | None, _until]


WireForm = Callable[[Any, str], Any]
#: Each filter's wire form, read from ``SearchParams`` so that the list exists once.
WIRE_FORMS: Mapping[str, WireForm] = {
    name: hint.__metadata__[0]
    for name, hint in get_type_hints(SearchParams, include_extras=True).items()
}


def sort_value(sort: str) -> str:
    """``asc``/``desc`` (or the wire's own ``created_at ASC``) as the wire's ``created_at ASC``."""
    word = sort.strip().lower().removeprefix("created_at").strip()
    if word not in ("asc", "desc"):
        raise ValueError(f"sort must be 'asc' or 'desc', got {sort!r}")
    return f"created_at {word.upper()}"


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Everything that selects records, independent of paging and order, in the wire's form."""

    wire: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, **filters: Unpack[SearchParams]) -> SearchFilters:
        """Checked now, so that a bad filter fails before any request (or mid-iteration)."""
        unknown = filters.keys() - WIRE_FORMS.keys()
        if unknown:
            raise TypeError(f"unknown search filter: {', '.join(sorted(unknown))}")
        given: dict[str, Any] = dict(filters)
        wire = {name: form(given.get(name), name) for name, form in WIRE_FORMS.items()}
        built = cls({name: value for name, value in wire.items() if value is not None})
        if built.start_ms is not None and built.end_ms is not None and built.start_ms > built.end_ms:
            raise ValueError("start_time is after end_time")
        return built

    @property
    def start_ms(self) -> int | None:
        return _ms(self.wire.get("start_time"))

    @property
    def end_ms(self) -> int | None:
        return _ms(self.wire.get("end_time"))

    def between(self, start_ms: int | None, end_ms: int | None) -> SearchFilters:
        """The same filters over another time window."""
        wire = {k: v for k, v in self.wire.items() if k not in ("start_time", "end_time")}
        bounds = {"start_time": start_ms, "end_time": end_ms}
        return SearchFilters(wire | {k: str(v) for k, v in bounds.items() if v is not None})

    def body(self, *, sort: str, page: int, page_size: int) -> dict[str, Any]:
        """The request body."""
        if page < 1:
            raise ValueError("page must be 1 or more")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        return {"page": page, "page_size": page_size, "sort": sort_value(sort)} | dict(self.wire)


def _ms(value: str | None) -> int | None:
    return None if value is None else int(value)
