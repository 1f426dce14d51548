"""Exact money: integer micro-dollars inside, USD numbers on the wire.

Binary floats never carry money into the ledger. JSON numbers are parsed as ``Decimal`` and
converted here; rendering goes the other way only at the edge.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000
#: Largest amount accepted anywhere: 1e9 USD. Balances are kept within ``MAX_BALANCE_MICROS``.
MAX_MICROS = 10**15
#: 2**53: every balance below it renders exactly as a JSON number and sums far from int64 overflow.
MAX_BALANCE_MICROS = 2**53


class MoneyError(ValueError):
    """A value that is not an exact, finite amount of USD with at most 6 decimal places."""


def usd_to_micros(value: Decimal | int | str) -> int:
    """Convert a USD amount to micro-dollars, refusing anything that would lose a digit."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError("must be an exact decimal number, not a binary float or boolean")
    try:
        amount = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError, ArithmeticError) as exc:
        raise MoneyError("must be a number") from exc
    if not amount.is_finite():
        raise MoneyError("must be a finite number")
    if amount and amount.adjusted() > 12:  # checked before any arithmetic on a huge exponent
        raise MoneyError("is too large")
    micros = amount * MICROS_PER_USD
    if micros != micros.to_integral_value():
        raise MoneyError("must have at most 6 decimal places")
    result = int(micros)
    if abs(result) > MAX_MICROS:
        raise MoneyError("is too large")
    return result


def micros_to_decimal(micros: int) -> Decimal:
    """Exact USD value of a micro-dollar amount."""
    return Decimal(micros).scaleb(-6).normalize() if micros else Decimal(0)


def usd_text(micros: int) -> str:
    """Exact decimal text of a micro-dollar amount, for JSON numbers and CSV cells alike:
    ``40000`` -> ``0.04``, ``-5000000`` -> ``-5``, ``8999999999999999`` -> ``8999999999.999999``.
    Integer arithmetic only, so it is exact for every integer (no float, no exponent form); the six
    decimals come from ``str`` of ``frac + 10**6``, cheaper than a format specification."""
    whole, frac = divmod(-micros if micros < 0 else micros, MICROS_PER_USD)
    text = str(whole) if not frac else f"{whole}.{str(frac + MICROS_PER_USD)[1:].rstrip('0')}"
    return "-" + text if micros < 0 else text


def format_usd(micros: int) -> str:
    """Plain decimal text for messages and tables: ``1000000000`` -> ``1000``, ``40000`` -> ``0.04``."""
    return format(micros_to_decimal(micros), "f")


def document_usd(micros: int) -> str:
    """Money for printed documents: at least two decimals, and every digit down to the micro-dollar
    where the amount is not whole cents: ``12000000`` -> ``12.00``, ``42500`` -> ``0.0425``,
    ``-1234567`` -> ``-1.234567``. Thousands are grouped with commas."""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    sign = "-" if micros < 0 else ""
    digits = f"{frac:06d}".rstrip("0")
    return f"{sign}{whole:,}.{digits.ljust(2, '0')}"
