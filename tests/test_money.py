"""Exact money at the edges: parsing refuses anything that would lose a digit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billbook.money import MoneyError, format_usd, usd_text, usd_to_micros


@pytest.mark.parametrize(
    ("value", "micros"),
    [(Decimal("0.04"), 40_000), (1, 1_000_000), ("156.78", 156_780_000), (Decimal("0.000001"), 1), (Decimal("-2.5"), -2_500_000)],
)
def test_usd_to_micros(value: object, micros: int) -> None:
    assert usd_to_micros(value) == micros  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [0.1, True, Decimal("0.0000001"), Decimal("NaN"), Decimal("Infinity"), "abc", Decimal("1e40"),
     Decimal("1e999999"), "1e999000", Decimal("1000000000.000001")],
)
def test_usd_to_micros_refuses(value: object) -> None:
    with pytest.raises(MoneyError):
        usd_to_micros(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "micros", [1, 40_000, 156_780_000, 999_999_999_999_999, 123_456_789_012_345, 10**15, 8_999_999_999_999_999, -5_000_000]
)
def test_json_number_round_trips_exactly(micros: int) -> None:
    assert Decimal(usd_text(micros)) * 1_000_000 == micros
    if abs(micros) <= 10**15:
        assert usd_to_micros(Decimal(usd_text(micros))) == micros


def test_format_usd() -> None:
    assert format_usd(1_000_000_000) == "1000" and format_usd(40_000) == "0.04" and format_usd(0) == "0"
