"""Field types shared by the request schemas: exact money, times, bounded integers, text.

Each raises ``ValueError`` with the words that follow the field's name in the error message, so
``page_size`` + ``must be between 1 and 100`` reads as the contract's example. No message ever
shows an internal (a Python limit, a type name): every input is bounded before it is converted.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, PlainValidator, StrictInt, StrictStr, WithJsonSchema

from billbook.money import MoneyError, usd_to_micros
from billbook.times import MS_PER_DAY, datetime_to_ms, parse_iso

MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
#: 2000-01-01T00:00:00Z. Anything earlier is almost always seconds sent where milliseconds belong.
MIN_MS = 946_684_800_000
#: Longest text a time field is read from: a few more than an RFC 3339 time with nanoseconds.
_MAX_TIME_TEXT = 40
#: Money sent as a JSON string: ASCII digits with one optional decimal point (and a leading minus,
#: refused later where the field cannot be negative), nothing else: no plus, exponent, spaces or
#: other scripts' digits, all of which ``Decimal()`` would accept.
_MONEY_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
#: Longer money text cannot be an amount billbook keeps (at most 1e9 USD with 6 decimals).
_MAX_MONEY_TEXT = 30
#: A page number past this cannot have records (10^9 pages of 100 is far beyond any ledger), and
#: bounding it keeps the offset inside every integer type down to the database.
MAX_PAGE = 1_000_000_000
#: C0 and C1 control characters (tab, newline and the rest): never part of a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _money(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError("must be a number of USD")
    if isinstance(value, str) and len(value) > _MAX_MONEY_TEXT:
        raise ValueError("is too large")
    if isinstance(value, str) and not _MONEY_TEXT.fullmatch(value):
        raise ValueError("must be a number of USD, or a string of digits with an optional '.'")
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

_TIME_FORMS = "must be milliseconds since the epoch or an RFC 3339 time"


def parse_time(value: Any, *, end_of_day: bool = False) -> int:
    """Milliseconds since the epoch from an integer, a string of digits or an RFC 3339 time.

    A date alone (``2026-03-31``) is that day's first millisecond, or its last with
    ``end_of_day`` (an inclusive upper bound covers the whole day, as the CLI's ``--until`` does).
    """
    if isinstance(value, bool):
        raise ValueError(_TIME_FORMS)
    if isinstance(value, int):
        ms = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_TIME_TEXT:
            raise ValueError(f"{_TIME_FORMS}; the value is too long")
        if text.isdigit() and text.isascii():
            ms = int(text)
        else:
            ms = _parse_iso_ms(text, end_of_day=end_of_day)
    elif isinstance(value, datetime):
        ms = datetime_to_ms(value)
    else:
        raise ValueError(_TIME_FORMS)
    if ms > MAX_MS:
        raise ValueError("is out of range: the latest time accepted is 9999-12-31T23:59:59.999Z")
    if ms < MIN_MS:
        raise ValueError(
            "is before 2000-01-01: times are milliseconds since the epoch (a value in seconds "
            "has 10 digits; multiply it by 1000)"
        )
    return ms


def _parse_iso_ms(text: str, *, end_of_day: bool) -> int:
    try:
        ms = datetime_to_ms(parse_iso(text))
    except (ValueError, OverflowError) as exc:
        raise ValueError(_TIME_FORMS) from exc
    date_only = len(text) == 10 and text[4] == "-" and text[7] == "-"
    return ms + MS_PER_DAY - 1 if end_of_day and date_only else ms


def _blank_is_none(value: Any) -> Any:
    """An empty string where a filter goes means no filter."""
    return None if isinstance(value, str) and not value.strip() else value


def _time_schema(description: str, *, optional: bool = False) -> WithJsonSchema:
    forms: list[dict[str, Any]] = [
        {"type": "string", "description": description},
        {"type": "integer", "minimum": MIN_MS, "maximum": MAX_MS},
    ]
    return WithJsonSchema(
        {
            "anyOf": [*forms, {"type": "null"}] if optional else forms,
            "examples": ["1759317210051", "2026-01-01T00:00:00Z"],
        }
    )


#: A time in milliseconds; a date alone is its first millisecond.
TimeMs = Annotated[
    int, PlainValidator(parse_time), _time_schema("milliseconds since the epoch, or RFC 3339")
]
#: An inclusive upper bound: a date alone covers the whole day.
EndTimeMs = Annotated[
    int,
    PlainValidator(lambda v: parse_time(v, end_of_day=True)),
    _time_schema("milliseconds since the epoch, or RFC 3339; a date alone covers the whole UTC day"),
]
#: Optional bounds of a filter: ``""`` is the same as leaving the field out.
StartBound = Annotated[
    int | None,
    PlainValidator(lambda v: None if _blank_is_none(v) is None else parse_time(v)),
    _time_schema("milliseconds since the epoch, or RFC 3339; empty: no bound", optional=True),
]
EndBound = Annotated[
    int | None,
    PlainValidator(lambda v: None if _blank_is_none(v) is None else parse_time(v, end_of_day=True)),
    _time_schema(
        "milliseconds since the epoch, or RFC 3339; a date alone covers the whole UTC day; empty: no bound",
        optional=True,
    ),
]


def bounded(low: int, high: int) -> PlainValidator:
    def check(value: Any) -> int:
        if isinstance(value, Decimal) and value.is_finite() and value.as_tuple().exponent == 0:
            raise ValueError(f"must be between {low} and {high}")  # an integer too long to be one
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return PlainValidator(check)


Page = Annotated[
    StrictInt, bounded(1, MAX_PAGE), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1})
]
PageSize = Annotated[
    StrictInt, bounded(1, 100), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 100, "default": 10})
]


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (newlines, tabs and the like)")
    return value


#: A name shown to people (an account's, a key's): no control characters.
NameText = Annotated[StrictStr, AfterValidator(_no_control_characters)]
