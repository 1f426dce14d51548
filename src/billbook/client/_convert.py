"""Conversions at the SDK's edge: wire values in, exact Python values out, and back.

Money never passes through a binary float: response bodies are parsed with ``parse_float=Decimal``,
and the JSON written by exports and the CLI is rendered from those ``Decimal`` values digit for digit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from billbook.times import datetime_to_ms, parse_iso

#: Anything the SDK accepts as a point in time.
TimeInput = datetime | date | int | str


def parse_json(content: bytes) -> Any:
    """JSON with every non-integer number as ``Decimal`` (``httpx.Response.json`` would use floats)."""
    return json.loads(content, parse_float=Decimal)


def to_decimal(value: Any, field: str) -> Decimal:
    """A money value from the wire; refuses anything that is not an exact number."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{field} is not a number: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        return Decimal(value)
    raise ValueError(f"{field} is not an exact number: {value!r}")


def to_datetime(value: Any, field: str) -> datetime:
    """An aware UTC datetime from the wire's ISO 8601 text."""
    if not isinstance(value, str):
        raise ValueError(f"{field} is not a time: {value!r}")
    return parse_iso(value).astimezone(UTC)


def iso_ms(dt: datetime) -> str:
    """``2026-04-23T12:23:30.933Z``: the wire's own form, so exported times match the server's."""
    utc = dt.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def to_ms(value: TimeInput, field: str, *, end_of_day: bool = False) -> int:
    """Milliseconds since the epoch for a user-supplied time.

    A ``date`` means the start of that UTC day, or its last millisecond when ``end_of_day`` (upper
    bounds are inclusive, so ``until=date(2026, 4, 30)`` covers all of April 30). Naive datetimes are
    refused: guessing a time zone for a billing range silently moves money between periods.
    """
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a time, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{field} is a naive datetime; give it a time zone (e.g. tzinfo=UTC)")
        return datetime_to_ms(value)
    if isinstance(value, date):
        return _date_ms(value, end_of_day)
    if isinstance(value, str):
        return _text_ms(value, field, end_of_day)
    raise ValueError(f"{field} must be a datetime, date, milliseconds or ISO 8601 text")


def _date_ms(day: date, end_of_day: bool) -> int:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    if end_of_day:
        return datetime_to_ms(start + timedelta(days=1)) - 1
    return datetime_to_ms(start)


def _text_ms(text: str, field: str, end_of_day: bool) -> int:
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        if len(value) == 10:
            return _date_ms(date.fromisoformat(value), end_of_day)
        return datetime_to_ms(parse_iso(value))
    except ValueError:
        raise ValueError(f"{field} is not a time: {text!r} (use 2026-04-01 or ISO 8601)") from None


def dumps(value: Any) -> str:
    """Compact JSON that writes ``Decimal`` as the exact number it holds (the stdlib cannot)."""
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, Mapping):
        members = (f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, datetime):
        return json.dumps(iso_ms(value))
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot write {value} as JSON")
    return format(value, "f")
