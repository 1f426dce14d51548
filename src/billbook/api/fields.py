"""Field types shared by the request schemas: exact money, times, bounded integers.

Each raises ``ValueError`` with the words that follow the field's name in the error message, so
``page_size`` + ``must be between 1 and 100`` reads as the contract's example.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainValidator, StrictInt, WithJsonSchema

from billbook.money import MoneyError, usd_to_micros
from billbook.times import datetime_to_ms, parse_iso

MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _money(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError("must be a number of USD")
    try:
        return usd_to_micros(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


#: USD in, micro-dollars out.
Usd = Annotated[
    int,
    PlainValidator(_money),
    WithJsonSchema({"type": "number", "description": "USD, at most 6 decimal places", "examples": [0.04]}),
]


def parse_time(value: Any) -> int:
    """Milliseconds since the epoch from an integer, a string of digits or an RFC 3339 time."""
    if isinstance(value, bool):
        raise ValueError("must be milliseconds since the epoch or an RFC 3339 time")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        ms = int(value.strip())
    elif isinstance(value, str):
        try:
            ms = datetime_to_ms(parse_iso(value))
        except (ValueError, OverflowError) as exc:
            raise ValueError("must be milliseconds since the epoch or an RFC 3339 time") from exc
    elif isinstance(value, datetime):
        ms = datetime_to_ms(value)
    else:
        raise ValueError("must be milliseconds since the epoch or an RFC 3339 time")
    if not 0 <= ms <= MAX_MS:
        raise ValueError("is out of range")
    return ms


TimeMs = Annotated[
    int,
    PlainValidator(parse_time),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "description": "milliseconds since the epoch, or RFC 3339"},
                {"type": "integer", "minimum": 0},
            ],
            "examples": ["1759317210051", "2026-01-01T00:00:00Z"],
        }
    ),
]


def bounded(low: int, high: int) -> PlainValidator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return PlainValidator(check)


def at_least(low: int) -> PlainValidator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if value < low:
            raise ValueError(f"must be {low} or more")
        return value

    return PlainValidator(check)


Page = Annotated[StrictInt, at_least(1), WithJsonSchema({"type": "integer", "minimum": 1, "default": 1})]
PageSize = Annotated[
    StrictInt, bounded(1, 100), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 100, "default": 10})
]
