"""Price formulas: JSONata expressions, compiled and evaluated by jlens, with hard bounds.

A formula is written by an operator and evaluated over inputs that customers and the platform send,
inside the server's event loop. So nothing about it may be open-ended: its text is at most
``MAX_FORMULA_CHARS``, the inputs at most ``MAX_INPUTS_BYTES`` of JSON nested at most
``MAX_INPUTS_DEPTH`` deep, and every evaluation runs under jlens's own limits (a deadline, a step
budget, a recursion depth, and caps on strings, arrays and the result). The one construct that can
allocate before those limits are checked, the range operator ``..``, is refused when the formula
is added: a price has no use for it. See docs/decisions/0014-price-formulas.md.

JSONata computes in binary floating point, as every implementation does. The result is taken as
its shortest decimal text (``0.05600000000000001`` stays that, ``0.056`` stays ``0.056``) and
rounded half up to the micro-dollar: one deterministic step from the formula to exact money, after
which all arithmetic is on integers.
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import jlens

from billbook.money import MAX_MICROS, MICROS_PER_USD

MAX_FORMULA_CHARS = 2_000
MAX_INPUTS_BYTES = 16_384
MAX_INPUTS_DEPTH = 8
#: jlens's bounds on one evaluation.
LIMITS: dict[str, Any] = {
    "timeout": 0.05,
    "max_depth": 100,
    "max_steps": 100_000,
    "max_string_length": 65_536,
    "max_array_length": 10_000,
    "max_result_size": 65_536,
    # A price never depends on the clock or on chance: both are fixed.
    "now": 0,
    "seed": 0,
}
_MICRO = Decimal(1).scaleb(-6)


class FormulaError(ValueError):
    """The formula's text is not a formula billbook accepts (the message says why)."""


class UnpriceableInputs(ValueError):
    """The formula gives no price for these inputs (the message says why)."""


def _range_operator_at(text: str) -> int | None:
    """Position of a ``..`` outside string literals, quoted names and comments, or None."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'`":
            i += 1
            while i < n and text[i] != ch:
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif text.startswith("..", i):
            return i
        else:
            i += 1
    return None


@lru_cache(maxsize=1024)
def compile_formula(text: str) -> jlens.Expression:
    """The compiled formula (cached: a catalog has few formulas and each is evaluated often)."""
    if not text.strip():
        raise FormulaError("must not be empty (send null for a flat price)")
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(f"must be at most {MAX_FORMULA_CHARS} characters")
    at = _range_operator_at(text)
    if at is not None:
        raise FormulaError(f"must not use the range operator '..' (at character {at})")
    try:
        return jlens.Expression(text)
    except jlens.JlensError as exc:
        raise FormulaError(f"is not a valid JSONata expression: {_first_line(exc)}") from None


def check_formula(text: str) -> None:
    """Raise :class:`FormulaError` unless ``text`` compiles; done when a version is added."""
    compile_formula(text)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or ["error"])[0][:200]


def _plain(value: Any, depth: int = 0) -> Any:
    """Inputs as JSONata sees them: JSON values, numbers as doubles (``Decimal`` from the wire
    included). Refuses what JSON cannot carry and nesting deeper than ``MAX_INPUTS_DEPTH``."""
    if depth > MAX_INPUTS_DEPTH:
        raise UnpriceableInputs(f"must be nested at most {MAX_INPUTS_DEPTH} levels deep")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float | Decimal):
        number = float(value)
        if not math.isfinite(number):
            raise UnpriceableInputs("must contain only finite numbers")
        return int(value) if isinstance(value, int) and abs(value) < 2**53 else number
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    raise UnpriceableInputs("must be a JSON object")


def normalize_inputs(inputs: Any) -> dict[str, Any]:
    """The inputs as a bounded JSON object of plain values (what both a quote and a charge use)."""
    return normalize_inputs_json(inputs)[0]


def normalize_inputs_json(inputs: Any) -> tuple[dict[str, Any], str]:
    """The normalised inputs and their compact JSON text (measured against the bound, and what an
    order keeps), computed once."""
    if inputs is None:
        return {}, "{}"
    if not isinstance(inputs, dict):
        raise UnpriceableInputs("must be a JSON object")
    plain = _plain(inputs)
    text = json.dumps(plain, separators=(",", ":"))
    if len(text) > MAX_INPUTS_BYTES:
        raise UnpriceableInputs(f"must be at most {MAX_INPUTS_BYTES} bytes of JSON")
    return plain, text


def usd_float(micros: int) -> float:
    """A catalog amount as JSONata's number: the double nearest the exact USD value."""
    return float(Decimal(micros).scaleb(-6))


def result_to_micros(result: Any) -> int:
    """A formula's result (a number, or ``{"total_price": n}``) as micro-dollars, rounded half up,
    never negative."""
    if isinstance(result, dict) and "total_price" in result:
        result = result["total_price"]
    if isinstance(result, bool) or not isinstance(result, int | float):
        shown = "nothing" if result is None else f"a {type(result).__name__}"
        raise UnpriceableInputs(f"give no price (the formula's result is {shown}, not a number)")
    if isinstance(result, float) and not math.isfinite(result):
        raise UnpriceableInputs("give no finite price")
    try:
        usd = Decimal(repr(result)) if isinstance(result, float) else Decimal(result)
        micros = int((usd * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        raise UnpriceableInputs("give a price too large to charge") from None
    if micros > MAX_MICROS:
        raise UnpriceableInputs("give a price too large to charge")
    return max(micros, 0)


def evaluate(formula: str, base_price: int, inputs: dict[str, Any]) -> int:
    """The list price in micro-dollars of ``inputs`` (already normalised) under ``formula``.

    The document the formula reads is the inputs with ``base_price`` (USD) beside them, so
    ``base_price * duration / 5`` reads both; ``$base_price`` and ``$inputs`` are bound as well,
    for formulas that want to be explicit.
    """
    expression = compile_formula(formula)
    base = usd_float(base_price)
    document = {**inputs, "base_price": base}
    try:
        result = expression.evaluate(document, {"base_price": base, "inputs": inputs}, **LIMITS)
    except jlens.JlensError as exc:
        raise UnpriceableInputs(f"cannot be priced by the formula: {_first_line(exc)}") from None
    return result_to_micros(result)
