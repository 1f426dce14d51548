"""Hostile values for request fields: SQL fragments, huge and special numbers, awkward unicode,
NaN and infinities, and nested JSON. Used by ``test_hostile.py``."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

SQL = (
    "' OR '1'='1",
    "'; DROP TABLE accounts; --",
    "1; DELETE FROM billing_records",
    "\" OR \"\"=\"",
    "%",
    "_%_",
    "\\",
    "$1",
    "NULL",
    "created_at DESC; --",
    "1) OR (1=1",
    "' UNION SELECT api_key FROM access_keys --",
)
NUMBERS = (
    0, -1, 2**31, 2**31 - 1, -(2**31) - 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**40, -(10**40),
    1e308, -1e308, 5e-324, 0.1, 1e-7, 123456789.1234567,
)
SPECIAL_TEXT = (
    "", " ", "\x00", "a\x00b", "\u202e", "\ufeff", "\U0001f4b8", "\ud800", "\udfff", "e\u0301", "\u0000" * 3,
    "1e400", "-0", "NaN", "Infinity", "0x10", "1_000", "٣", "１２３", "9" * 400, "x" * 5000,
    "2026-02-30T00:00:00Z", "9999-12-31T23:59:59.999Z", "0000-01-01T00:00:00Z", "1970-01-01T00:00:00+25:00",
)

leaves = st.one_of(
    st.sampled_from(SQL),
    st.sampled_from(NUMBERS),
    st.sampled_from(SPECIAL_TEXT),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=30),
    st.booleans(),
    st.none(),
)
hostile = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)


def encode(body: Any) -> bytes:
    """JSON as a careless client sends it: ``NaN`` and ``Infinity`` tokens, lone surrogates escaped."""
    return json.dumps(body, allow_nan=True).encode()


header_text = st.one_of(
    st.sampled_from(SQL),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80),
    st.sampled_from(("Bearer", "Bearer ", "Basic abc", "bb_", "bb_0123456789abcdef_", "bearer bb_x_y")),
)
