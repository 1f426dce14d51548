"""Times: integer milliseconds since the Unix epoch (UTC) inside, ISO 8601 with ``Z`` outside."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

MS_PER_DAY = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


#: ``"00"`` .. ``"99"`` and ``"000"`` .. ``"999"``: rendering picks these instead of formatting numbers,
#: which on CPython costs several times a list lookup and a concatenation.
_TWO = tuple(f"{i:02d}" for i in range(100))
_THREE = tuple(f"{i:03d}" for i in range(1000))


@lru_cache(maxsize=4096)
def _date_prefix(day: int) -> str:
    """``"2026-04-23T"`` for a day number (days since the epoch); a page's records share a few."""
    t = time.gmtime(day * 86_400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"


def ms_to_iso(ms: int) -> str:
    """``1776947010933`` -> ``2026-04-23T12:23:30.933Z`` (always milliseconds, always ``Z``).

    Every rendered record calls this twice, so it is a day's prefix (cached) and table lookups for
    the time of day: formatting through ``datetime.strftime`` was a quarter of a search's CPU.
    """
    day, in_day = divmod(ms, MS_PER_DAY)
    seconds, millis = divmod(in_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return "".join((_date_prefix(day), _TWO[hour], ":", _TWO[minute], ":", _TWO[second], ".", _THREE[millis], "Z"))


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


def datetime_to_ms(dt: datetime) -> int:
    """Aware datetimes convert exactly; naive ones are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_iso(text: str) -> datetime:
    """Parse RFC 3339 / ISO 8601 (``Z`` or an offset; a date alone is midnight UTC)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def day_of(ms: int) -> int:
    """UTC day number (days since the epoch) of a millisecond timestamp."""
    return ms // MS_PER_DAY


def day_to_date(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def month_key(ms: int) -> int:
    """The UTC month of a millisecond timestamp as ``YYYYMM`` (``202610``): the statements' rollup
    key, readable in SQL and ordered like the months themselves."""
    t = time.gmtime(ms // 1000)
    return t.tm_year * 100 + t.tm_mon


def month_start_ms(key: int) -> int:
    """First millisecond of the UTC month ``key`` (``YYYYMM``)."""
    return datetime_to_ms(datetime(key // 100, key % 100, 1, tzinfo=UTC))


def next_month(key: int) -> int:
    """The month after ``key``: ``202612`` -> ``202701``."""
    year, month = divmod(key, 100)
    return (year + 1) * 100 + 1 if month == 12 else key + 1


def month_text(key: int) -> str:
    """``202610`` -> ``2026-10``."""
    return f"{key // 100:04d}-{key % 100:02d}"
