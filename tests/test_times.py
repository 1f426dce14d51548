from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from billbook.times import datetime_to_ms, day_of, day_to_date, ms_to_datetime, ms_to_iso, parse_iso


def test_iso_rendering_has_milliseconds_and_z() -> None:
    assert ms_to_iso(1_776_947_010_933) == "2026-04-23T12:23:30.933Z"
    assert ms_to_iso(0) == "1970-01-01T00:00:00.000Z"


def test_parse_iso_forms() -> None:
    assert datetime_to_ms(parse_iso("2026-01-01T00:00:00Z")) == 1_767_225_600_000
    assert datetime_to_ms(parse_iso("2026-01-01T01:00:00.5+01:00")) == 1_767_225_600_500
    assert datetime_to_ms(parse_iso("2026-01-01")) == 1_767_225_600_000


def test_round_trip_and_days() -> None:
    dt = datetime(2026, 4, 23, 12, 23, 30, 933_000, tzinfo=UTC)
    assert ms_to_datetime(datetime_to_ms(dt)) == dt
    assert datetime_to_ms(dt.astimezone(timezone(timedelta(hours=-7)))) == datetime_to_ms(dt)
    assert day_to_date(day_of(1_776_947_010_933)) == "2026-04-23"


def test_iso_rendering_agrees_with_datetime_everywhere() -> None:
    import random

    rng = random.Random(5)
    for ms in [0, 1, 999, 86_399_999, 951_782_400_000, 253_402_300_799_999] + [rng.randrange(0, 4_102_444_800_000) for _ in range(2000)]:
        expected = ms_to_datetime(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
        assert ms_to_iso(ms) == expected
